//! The one way to write an audit event. It takes the caller's connection so the event commits
//! or rolls back together with the change it describes.

use super::model::{AuditAction, Outcome, Severity};
use super::repo::{self, NewAuditEvent};
use crate::db::Connection;
use crate::error::AppError;

/// Who caused an event and where the request came from.
#[derive(Clone, Debug, Default)]
pub struct AuditSource {
    pub actor_user_id: Option<uuid::Uuid>,
    pub actor: String,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub request_id: Option<String>,
}

impl AuditSource {
    /// Events caused by an operator on the command line.
    pub fn command_line() -> Self {
        Self { actor: "cli".into(), ..Self::default() }
    }
}

#[derive(Clone, Debug)]
pub struct AuditEvent {
    pub action: AuditAction,
    pub target: String,
    pub outcome: Outcome,
    pub severity: Severity,
    pub details: serde_json::Value,
}

impl AuditEvent {
    pub fn success(action: AuditAction, target: impl Into<String>) -> Self {
        Self {
            action,
            target: target.into(),
            outcome: Outcome::Success,
            severity: Severity::Info,
            details: serde_json::Value::Object(Default::default()),
        }
    }

    pub fn failure(action: AuditAction, target: impl Into<String>) -> Self {
        Self { outcome: Outcome::Failure, severity: Severity::Warning, ..Self::success(action, target) }
    }

    pub fn severity(mut self, severity: Severity) -> Self {
        self.severity = severity;
        self
    }

    pub fn details(mut self, details: serde_json::Value) -> Self {
        self.details = details;
        self
    }
}

/// Records an event that has no change of its own to commit with (refusals at the edge,
/// sign-outs), in its own tenant-scoped transaction.
pub async fn record_alone(
    db: &crate::db::Database,
    tenant: &crate::tenancy::model::Tenant,
    source: AuditSource,
    event: AuditEvent,
) -> Result<(), AppError> {
    db.with_tenant(tenant, move |conn| Box::pin(async move { record(conn, &source, event).await })).await
}

/// Must run inside `Database::with_tenant` for the tenant the event belongs to.
pub async fn record(conn: &mut Connection, source: &AuditSource, event: AuditEvent) -> Result<(), AppError> {
    repo::insert(
        conn,
        NewAuditEvent {
            actor_user_id: source.actor_user_id,
            actor: &source.actor,
            action: event.action.as_str(),
            target: &event.target,
            outcome: event.outcome.as_str(),
            severity: event.severity.as_str(),
            ip: source.ip.as_deref(),
            user_agent: source.user_agent.as_deref(),
            request_id: source.request_id.as_deref(),
            details: &event.details,
        },
    )
    .await?;
    Ok(())
}
