//! Diesel queries on the tenant's `audit_events`.

use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use super::model::AuditRecord;
use crate::db::schema::audit_events;
use crate::db::Connection;

#[derive(Insertable)]
#[diesel(table_name = audit_events)]
pub struct NewAuditEvent<'a> {
    pub actor_user_id: Option<uuid::Uuid>,
    pub actor: &'a str,
    pub action: &'a str,
    pub target: &'a str,
    pub outcome: &'a str,
    pub severity: &'a str,
    pub ip: Option<&'a str>,
    pub user_agent: Option<&'a str>,
    pub request_id: Option<&'a str>,
    pub details: &'a serde_json::Value,
}

pub async fn insert(conn: &mut Connection, event: NewAuditEvent<'_>) -> QueryResult<()> {
    diesel::insert_into(audit_events::table).values(event).execute(conn).await?;
    Ok(())
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = audit_events, check_for_backend(diesel::pg::Pg))]
struct RecordRow {
    id: i64,
    occurred_at: chrono::DateTime<chrono::Utc>,
    actor: String,
    action: String,
    target: String,
    outcome: String,
    severity: String,
    ip: Option<String>,
    user_agent: Option<String>,
}

impl From<RecordRow> for AuditRecord {
    fn from(r: RecordRow) -> Self {
        AuditRecord {
            id: r.id,
            occurred_at: r.occurred_at,
            actor: r.actor,
            action: r.action,
            target: r.target,
            outcome: r.outcome,
            severity: r.severity,
            ip: r.ip,
            user_agent: r.user_agent,
        }
    }
}

pub async fn recent(conn: &mut Connection, limit: i64) -> QueryResult<Vec<AuditRecord>> {
    audit_events::table
        .order((audit_events::occurred_at.desc(), audit_events::id.desc()))
        .limit(limit)
        .select(RecordRow::as_select())
        .load(conn)
        .await
        .map(|rows| rows.into_iter().map(AuditRecord::from).collect())
}

/// Events whose target is `target`, or that list it among the entities they wrote.
pub async fn about(conn: &mut Connection, target: &str, limit: i64) -> QueryResult<Vec<AuditRecord>> {
    let listed = serde_json::json!({ "entities": [target] });
    audit_events::table
        .filter(audit_events::target.eq(target).or(audit_events::details.contains(listed)))
        .order((audit_events::occurred_at.desc(), audit_events::id.desc()))
        .limit(limit)
        .select(RecordRow::as_select())
        .load(conn)
        .await
        .map(|rows| rows.into_iter().map(AuditRecord::from).collect())
}
