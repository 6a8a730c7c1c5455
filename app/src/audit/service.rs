//! The one way to write an audit event, and the reads of the audit views. `record` takes the
//! caller's connection so the event commits or rolls back together with the change it describes.

use std::collections::HashMap;

use chrono::{DateTime, SubsecRound, Utc};

use super::chain::{self, Facts, Personal};
use super::model::{AuditAction, AuditDetail, Outcome};
use super::permissions::{self, PermissionReport};
use super::repo::{self, Checkpoint, NewAuditEvent};
use super::view::{AuditFilter, AuditPage, AuditView, Cursor, Direction};
use crate::access::repo as access;
use crate::db::{Connection, Database};
use crate::error::{AppError, AppResult};
use crate::events::bus::{self, Event};
use crate::keyring::{Keyring, Purpose};
use crate::notifications::service as notifications;
use crate::tenancy::model::Tenant;

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

    /// Events caused by the server's own background work (the archiver).
    pub fn system() -> Self {
        Self { actor: "system".into(), ..Self::default() }
    }
}

#[derive(Clone, Debug)]
pub struct AuditEvent {
    pub action: AuditAction,
    pub target: String,
    pub outcome: Outcome,
    pub details: serde_json::Value,
}

impl AuditEvent {
    pub fn success(action: AuditAction, target: impl Into<String>) -> Self {
        Self {
            action,
            target: target.into(),
            outcome: Outcome::Success,
            details: serde_json::Value::Object(Default::default()),
        }
    }

    pub fn failure(action: AuditAction, target: impl Into<String>) -> Self {
        Self { outcome: Outcome::Failure, ..Self::success(action, target) }
    }

    pub fn details(mut self, details: serde_json::Value) -> Self {
        self.details = details;
        self
    }
}

/// Records an event that has no change of its own to commit with (refusals at the edge,
/// sign-outs), in its own tenant-scoped transaction.
pub async fn record_alone(db: &Database, tenant: &Tenant, source: AuditSource, event: AuditEvent) -> AppResult<()> {
    db.with_tenant(tenant, move |conn| Box::pin(async move { record(conn, &source, event).await })).await
}

/// Must run inside `Database::with_tenant` for the tenant the event belongs to. Writes the
/// event with its hashes (see `chain`); the database links it into the chain at commit.
pub async fn record(conn: &mut Connection, source: &AuditSource, event: AuditEvent) -> AppResult<()> {
    write(conn, source, event).await.map(|_| ())
}

/// [`record`], returning the new event's id. The audit log's live readers hear of it, and the
/// members it concerns are told (`notifications::rules`), when the change it describes commits.
async fn write(conn: &mut Connection, source: &AuditSource, event: AuditEvent) -> AppResult<i64> {
    let AuditEvent { action, outcome, target, details } = event.clone();
    let id = record_at(conn, source, event, Utc::now()).await?;
    notifications::on_audited(conn, source, action, outcome, &target, &details, id).await?;
    let recorded =
        Event::AuditRecorded { id, action: action.as_str().into(), outcome: outcome.as_str().into(), target };
    bus::publish(conn, recorded).await?;
    Ok(id)
}

/// [`record`] with the time given: for history that happened elsewhere (synthetic history in
/// benchmarks and tests of the archive). The event is hashed and chained like any other.
pub async fn record_at(
    conn: &mut Connection,
    source: &AuditSource,
    event: AuditEvent,
    at: DateTime<Utc>,
) -> AppResult<i64> {
    // Stored with microsecond precision: hash what will be read back.
    let occurred_at = at.trunc_subsecs(6);
    let severity = event.action.severity().as_str();
    let mut salt = [0u8; 16];
    rand::Rng::fill(&mut rand::rng(), &mut salt);
    let personal = Personal {
        actor_user_id: source.actor_user_id,
        actor: &source.actor,
        target: &event.target,
        ip: source.ip.as_deref(),
        user_agent: source.user_agent.as_deref(),
        details: &event.details,
    };
    let personal_digest = chain::personal_digest(&salt, &personal);
    let facts = Facts {
        occurred_at,
        action: event.action.as_str(),
        outcome: event.outcome.as_str(),
        severity,
        request_id: source.request_id.as_deref(),
    };
    let content_hash = chain::content_hash(&facts, &personal_digest);
    repo::insert(
        conn,
        NewAuditEvent {
            occurred_at,
            actor_user_id: source.actor_user_id,
            actor: &source.actor,
            action: event.action.as_str(),
            target: &event.target,
            outcome: event.outcome.as_str(),
            severity,
            ip: source.ip.as_deref(),
            user_agent: source.user_agent.as_deref(),
            request_id: source.request_id.as_deref(),
            details: &event.details,
            personal_salt: &salt,
            personal_digest: &personal_digest,
            content_hash: &content_hash,
        },
    )
    .await
    .map_err(AppError::from)
}

/// Pages are read one event past `limit`: whether it came tells if another page follows in the
/// reading direction. Drops it (the newest when reading towards newer events, which come newest
/// first like every page) and says whether it was there.
fn beyond_limit<T>(items: &mut Vec<T>, limit: i64, direction: Option<Direction>) -> bool {
    let more = items.len() as i64 > limit;
    if more {
        match direction {
            Some(Direction::Newer(_)) => drop(items.remove(0)),
            _ => items.truncate(limit as usize),
        }
    }
    more
}

/// One page of the audit list for `view` (its filters and position).
pub async fn list(db: &Database, tenant: &Tenant, view: &AuditView, limit: i64) -> AppResult<AuditPage> {
    let filter = view.filter()?;
    let direction = view.direction()?;
    db.with_tenant(tenant, move |conn| {
        Box::pin(async move {
            let mut items = repo::page(conn, &filter, direction, limit + 1).await?;
            let more = beyond_limit(&mut items, limit, direction);
            let (first, last) = (items.first().map(Cursor::of), items.last().map(Cursor::of));
            let (older, newer) = match direction {
                None => (last.filter(|_| more), None),
                Some(Direction::Older(_)) => (last.filter(|_| more), first),
                Some(Direction::Newer(_)) => (last, first.filter(|_| more)),
            };
            Ok(AuditPage { items, older, newer })
        })
    })
    .await
}

/// Up to `limit` events with everything stored about them, for the API and exports, newest
/// first; the cursor of the next older page when there is one.
pub async fn detail_page(
    db: &Database,
    tenant: &Tenant,
    filter: &AuditFilter,
    direction: Option<Direction>,
    limit: i64,
) -> AppResult<(Vec<AuditDetail>, Option<Cursor>)> {
    let filter = filter.clone();
    db.with_tenant(tenant, move |conn| {
        Box::pin(async move {
            let mut items = repo::detail_page(conn, &filter, direction, limit + 1).await?;
            let more = beyond_limit(&mut items, limit, direction);
            let next = items.last().map(|d| Cursor::of(&d.record)).filter(|_| more);
            Ok((items, next))
        })
    })
    .await
}

/// Events read per query while building a permission report.
const REPORT_PAGE: i64 = 1_000;

/// Who gained or lost which permission between `from` (inclusive) and `to` (exclusive, see
/// `permissions::period`), newest first, from the successful events of the
/// permission-changing actions.
pub async fn permission_report(
    db: &Database,
    tenant: &Tenant,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> AppResult<PermissionReport> {
    let filter = AuditFilter {
        actions: Some(permissions::ACTIONS.into_iter().flat_map(AuditAction::stored_names).collect()),
        outcome: Some(Outcome::Success),
        from: Some(from),
        to: Some(to),
        ..AuditFilter::default()
    };
    db.with_tenant(tenant, move |conn| {
        Box::pin(async move {
            let mut events = Vec::new();
            let mut direction = None;
            // Events are read until the changes they make exceed the report's size: each
            // event makes at least one change.
            while events.len() <= permissions::MAX_CHANGES {
                let page = repo::detail_page(conn, &filter, direction, REPORT_PAGE).await?;
                let full = page.len() as i64 == REPORT_PAGE;
                direction = page.last().map(|d| Direction::Older(Cursor::of(&d.record)));
                events.extend(page);
                if !full {
                    break;
                }
            }
            let revoked = revoked_grants(conn, &events).await?;
            let mut changes: Vec<_> =
                events.iter().flat_map(|event| permissions::changes_of(event, |id| revoked.get(id).cloned())).collect();
            let truncated = changes.len() > permissions::MAX_CHANGES;
            changes.truncate(permissions::MAX_CHANGES);
            Ok(PermissionReport { from, to, changes, truncated })
        })
    })
    .await
}

/// What the keys and clients revoked by `events` held, by the event's target.
async fn revoked_grants(
    conn: &mut Connection,
    events: &[AuditDetail],
) -> AppResult<HashMap<String, permissions::RevokedGrants>> {
    let revoked = |action: AuditAction| {
        events
            .iter()
            .filter(move |e| AuditAction::parse(&e.record.action) == Some(action))
            .map(|e| e.record.target.clone())
    };
    let prefixes: Vec<String> =
        revoked(AuditAction::ApiKeyRevoked).filter_map(|t| t.strip_prefix("bcn_").map(str::to_owned)).collect();
    let client_ids: Vec<String> = revoked(AuditAction::OauthClientRevoked).collect();
    let mut grants = HashMap::new();
    for (prefix, scopes) in access::key_scopes(conn, prefixes).await? {
        grants.insert(format!("bcn_{prefix}"), permissions::RevokedGrants { role: None, scopes });
    }
    for client in access::find_clients(conn, client_ids).await? {
        let held = permissions::RevokedGrants { role: Some(client.role.as_str().to_owned()), scopes: client.scopes };
        grants.insert(client.client_id, held);
    }
    Ok(grants)
}

pub async fn find(db: &Database, tenant: &Tenant, id: i64) -> AppResult<AuditDetail> {
    db.with_tenant(tenant, move |conn| Box::pin(async move { repo::find(conn, id).await.map_err(AppError::from) }))
        .await?
        .ok_or_else(|| AppError::not_found(format!("No audit event #{id} in this tenant.")))
}

/// Signs the chain's current head, unless the latest checkpoint already covers it. Returns the
/// position signed, if any. The server runs it for every tenant every minute.
pub async fn checkpoint(db: &Database, tenant: &Tenant, keyring: &Keyring) -> AppResult<Option<i64>> {
    let (key_id, key) = keyring.current(Purpose::AuditCheckpoint);
    let key_id = key_id.to_owned();
    let tenant_id = tenant.id.0;
    db.with_tenant(tenant, move |conn| {
        Box::pin(async move {
            let (seq, hash) = repo::head(conn).await?;
            let latest = repo::latest_checkpoint_seq(conn).await?;
            if seq == 0 || latest.is_some_and(|latest| latest >= seq) {
                return Ok(None);
            }
            let chain_hash: chain::Hash =
                hash.as_slice().try_into().map_err(|_| AppError::internal("chain head is not 32 bytes"))?;
            let signed_at = Utc::now().trunc_subsecs(6);
            let signature = chain::checkpoint_signature(&key, tenant_id, seq, &chain_hash, signed_at);
            let checkpoint = Checkpoint { seq, chain_hash: hash, signed_at, key_id, signature: signature.to_vec() };
            repo::insert_checkpoint(conn, &checkpoint).await?;
            Ok(Some(seq))
        })
    })
    .await
}

/// Verifies the log (see `verify`) and records who checked it and what they found; returns the
/// report and the id of the event that records it.
pub async fn verify_and_record(
    db: &Database,
    tenant: &Tenant,
    keyring: &Keyring,
    source: AuditSource,
) -> AppResult<(super::model::Verification, i64)> {
    let report = super::verify::verify(db, tenant, keyring).await?;
    let event = match report.intact() {
        true => AuditEvent::success(AuditAction::AuditVerified, "audit log"),
        false => AuditEvent::failure(AuditAction::AuditVerified, "audit log"),
    };
    let details = serde_json::json!({
        "summary": report.summary(),
        "events_checked": report.events_checked,
        "problem": report.problem.as_ref().map(|p| p.kind.as_str()),
        "event_id": report.problem.as_ref().and_then(|p| p.event_id),
    });
    let event = event.details(details);
    let id = db.with_tenant(tenant, move |conn| Box::pin(async move { write(conn, &source, event).await })).await?;
    Ok((report, id))
}
