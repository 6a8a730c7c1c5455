//! Changes maintainers ask for and admins decide (the issue's "maintainers may request a
//! change that an admin approves"). A request is filed only when it could be applied as it
//! stands (its dry run is shown); approving it makes the change as the admin, on the set as it
//! is then, and marks the request approved with the revision in the same transaction, so a
//! request is applied once however many admins press Approve. Filing and deciding are audited
//! and told: admins of a new request, the maintainer of the decision.

use serde_json::json;
use uuid::Uuid;

use super::model::{ChangeOutcome, ChangeRequest, ConflictReport, Resolution};
use super::repo::{self, Decision, NewRequest};
use super::service::{self, Change, Operation, Plugins};
use crate::audit::model::AuditAction;
use crate::audit::service::{record, AuditEvent, AuditSource};
use crate::auth::model::{Principal, Role};
use crate::db::{Connection, Database};
use crate::error::{AppError, AppResult};
use crate::notifications::model::NotificationKind;
use crate::notifications::repo as notifications_repo;
use crate::notifications::service::{notify, Notice};
use crate::tenancy::model::Tenant;

/// The most requests a list shows.
const LISTED: i64 = 50;
/// The most of a requester's name a revision's reason repeats ("… (asked by …)"): with the
/// reason's own limit it stays within a revision reason's 500 characters.
const NAME_IN_REASON: usize = 100;
/// Reasons and rejection notes are sentences, not documents. A reason leaves room in the
/// revision's reason (at most 500 characters) for who asked.
const MAX_REASON: usize = 280;
const MAX_NOTE: usize = 1_000;

/// Which requests a member sees: admins every one, maintainers their own, others none (a
/// request's reason and configuration are not for every reader of the plugin set).
#[derive(Clone, Copy, Debug)]
pub enum Shown {
    All,
    Own(Uuid),
    None,
}

impl Shown {
    pub fn for_member(me: &Principal, may_manage: bool, may_request: bool) -> Self {
        match (may_manage, may_request) {
            (true, _) => Shown::All,
            (false, true) => Shown::Own(me.user_id),
            _ => Shown::None,
        }
    }
}

/// A request id from a route or a form; anything else is no such request.
pub fn parse_id(raw: &str) -> AppResult<Uuid> {
    Uuid::parse_str(raw.trim()).map_err(|_| AppError::not_found("No such request."))
}

/// Files a request for `operation`, after checking it could be made now. `Ok(Err(report))`:
/// it could not, and nothing was filed.
pub async fn file(
    db: &Database,
    plugins: &Plugins,
    tenant: &Tenant,
    source: AuditSource,
    me: &Principal,
    mut operation: Operation,
    reason: String,
) -> AppResult<Result<(Uuid, Resolution), ConflictReport>> {
    let reason = crate::error::typed(&reason, "A reason", MAX_REASON)?.to_owned();
    // Stored as it will be applied: configuration in its one shape, names checked.
    operation.check()?;
    if reason.is_empty() {
        return Err(AppError::invalid("Say why: the admin who decides reads it."));
    }
    if matches!(operation, Operation::Rollback { .. }) {
        return Err(AppError::invalid("Rollbacks are made by admins; ask one directly."));
    }
    let dry_run = Change { operation: operation.clone(), reason: reason.clone(), dry_run: true, request: None };
    let resolution = match service::change(db, plugins, tenant, source.clone(), me, dry_run).await? {
        ChangeOutcome::Applied { resolution, .. } => resolution,
        ChangeOutcome::Refused(report) => return Ok(Err(report)),
    };
    let id = Uuid::now_v7();
    let me = me.clone();
    db.with_tenant(tenant, move |conn| {
        Box::pin(async move {
            let summary = service::default_reason(&operation);
            let requester = me.name().to_owned();
            let stored = serde_json::to_value(&operation).map_err(AppError::internal)?;
            let new = NewRequest {
                id,
                requested_by: me.user_id,
                requester: &requester,
                operation: &stored,
                summary: &summary,
                reason: &reason,
            };
            repo::insert_request(conn, new).await?;
            let event = AuditEvent::success(AuditAction::PluginChangeRequested, summary.clone())
                .details(json!({ "request": id, "operation": operation.audited(), "reason": reason }));
            record(conn, &source, event).await?;
            let notice = Notice {
                kind: NotificationKind::PluginRequest,
                title: format!("{requester} asks: {summary}"),
                body: reason,
                link: Some("/settings/plugins#requests".to_owned()),
            };
            for admin in notifications_repo::members_with_role(conn, Role::Admin).await? {
                notify(conn, admin, notice.clone()).await?;
            }
            Ok(Ok((id, resolution)))
        })
    })
    .await
}

pub async fn list(db: &Database, tenant: &Tenant, shown: Shown) -> AppResult<Vec<ChangeRequest>> {
    db.with_tenant(tenant, move |conn| Box::pin(async move { shown_in(conn, shown).await })).await
}

/// The requests `shown` lets a member see, pending first.
pub(super) async fn shown_in(conn: &mut Connection, shown: Shown) -> AppResult<Vec<ChangeRequest>> {
    Ok(match shown {
        Shown::All => repo::requests(conn, LISTED, None).await?,
        Shown::Own(user) => repo::requests(conn, LISTED, Some(user)).await?,
        Shown::None => Vec::new(),
    })
}

/// Approves a pending request: its change, made by `me` on today's set. A refusal leaves the
/// request pending (the admin sees why; the set may change so that it fits later).
pub async fn approve(
    db: &Database,
    plugins: &Plugins,
    tenant: &Tenant,
    source: AuditSource,
    me: &Principal,
    id: Uuid,
) -> AppResult<ChangeOutcome> {
    let stored =
        db.with_tenant(tenant, move |conn| Box::pin(async move { pending(conn, id).await.map(|r| r.request) })).await?;
    let operation: Operation = serde_json::from_value(stored.operation).map_err(AppError::internal)?;
    let asker: String = stored.requester.chars().take(NAME_IN_REASON).collect();
    let reason = format!("{} (asked by {asker})", stored.reason);
    service::change(db, plugins, tenant, source, me, Change { operation, reason, dry_run: false, request: Some(id) })
        .await
}

/// Rejects a pending request with a note for the maintainer.
pub async fn reject(
    db: &Database,
    tenant: &Tenant,
    source: AuditSource,
    me: &Principal,
    id: Uuid,
    note: String,
) -> AppResult<()> {
    let note = crate::error::typed(&note, "A note", MAX_NOTE)?.to_owned();
    let me = me.clone();
    db.with_tenant(tenant, move |conn| {
        Box::pin(async move {
            let stored = pending(conn, id).await?;
            let decider = me.name().to_owned();
            let note = (!note.is_empty()).then_some(note);
            let decision = Decision {
                id,
                state: "rejected",
                decided_by: me.user_id,
                decider: &decider,
                note: note.as_deref(),
                revision: None,
            };
            repo::decide_request(conn, decision).await?;
            let event = AuditEvent::success(AuditAction::PluginChangeRequestDecided, stored.request.summary.clone())
                .details(json!({ "request": id, "decision": "rejected", "note": note }));
            record(conn, &source, event).await?;
            let body = note.unwrap_or_else(|| "No note was given.".to_owned());
            tell(conn, stored.requested_by, format!("Rejected by {decider}: {}", stored.request.summary), body).await
        })
    })
    .await
}

/// The request, locked, if it is still pending; otherwise why not.
async fn pending(conn: &mut Connection, id: Uuid) -> AppResult<repo::StoredRequest> {
    let stored = repo::lock_request(conn, id).await?.ok_or_else(|| AppError::not_found("No such request."))?;
    if stored.request.state != "pending" {
        let by = stored.request.decider.clone().unwrap_or_default();
        return Err(AppError::Conflict(format!("This request was already {} by {by}.", stored.request.state)));
    }
    Ok(stored)
}

/// Within an approval's change, before it is solved: the request must still be pending.
pub(super) async fn still_pending(conn: &mut Connection, id: Uuid) -> AppResult<()> {
    pending(conn, id).await.map(drop)
}

/// Within an approval's change, after its revision is written: the request is approved with it.
pub(super) async fn approved(
    conn: &mut Connection,
    source: &AuditSource,
    me: &Principal,
    id: Uuid,
    revision: i32,
) -> AppResult<()> {
    let stored = pending(conn, id).await?;
    let decider = me.name().to_owned();
    let decision = Decision {
        id,
        state: "approved",
        decided_by: me.user_id,
        decider: &decider,
        note: None,
        revision: Some(revision),
    };
    repo::decide_request(conn, decision).await?;
    let event = AuditEvent::success(AuditAction::PluginChangeRequestDecided, stored.request.summary.clone())
        .details(json!({ "request": id, "decision": "approved", "revision": revision }));
    record(conn, source, event).await?;
    let title = format!("Approved by {decider}: {}", stored.request.summary);
    tell(conn, stored.requested_by, title, format!("Revision {revision} made the change.")).await
}

async fn tell(conn: &mut Connection, user: Uuid, title: String, body: String) -> AppResult<()> {
    let notice =
        Notice { kind: NotificationKind::PluginRequest, title, body, link: Some("/settings/plugins#requests".into()) };
    notify(conn, user, notice).await
}
