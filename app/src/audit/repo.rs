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

type RecordRow =
    (i64, chrono::DateTime<chrono::Utc>, String, String, String, String, String, Option<String>, Option<String>);

const RECORD_COLUMNS: (
    audit_events::id,
    audit_events::occurred_at,
    audit_events::actor,
    audit_events::action,
    audit_events::target,
    audit_events::outcome,
    audit_events::severity,
    audit_events::ip,
    audit_events::user_agent,
) = (
    audit_events::id,
    audit_events::occurred_at,
    audit_events::actor,
    audit_events::action,
    audit_events::target,
    audit_events::outcome,
    audit_events::severity,
    audit_events::ip,
    audit_events::user_agent,
);

fn record((id, occurred_at, actor, action, target, outcome, severity, ip, user_agent): RecordRow) -> AuditRecord {
    AuditRecord { id, occurred_at, actor, action, target, outcome, severity, ip, user_agent }
}

pub async fn recent(conn: &mut Connection, limit: i64) -> QueryResult<Vec<AuditRecord>> {
    audit_events::table
        .order((audit_events::occurred_at.desc(), audit_events::id.desc()))
        .limit(limit)
        .select(RECORD_COLUMNS)
        .load::<RecordRow>(conn)
        .await
        .map(|rows| rows.into_iter().map(record).collect())
}

/// Events whose target is `target`, or that list it among the entities they wrote.
pub async fn about(conn: &mut Connection, target: &str, limit: i64) -> QueryResult<Vec<AuditRecord>> {
    let listed = serde_json::json!({ "entities": [target] });
    audit_events::table
        .filter(audit_events::target.eq(target).or(audit_events::details.contains(listed)))
        .order((audit_events::occurred_at.desc(), audit_events::id.desc()))
        .limit(limit)
        .select(RECORD_COLUMNS)
        .load::<RecordRow>(conn)
        .await
        .map(|rows| rows.into_iter().map(record).collect())
}
