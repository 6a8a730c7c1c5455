//! Telling members: `notify` (inside the caller's transaction, so a notification exists only
//! if what it reports committed), the security rules applied to every audit event, and the
//! member's own reads and choices.

use serde_json::Value;
use uuid::Uuid;

use super::model::{Channel, NotificationKind, NotificationsPage, Preference};
use super::repo::{self, NewNotification};
use super::rules::{self, Recipient};
use crate::audit::model::{AuditAction, Outcome};
use crate::audit::repo as audit_repo;
use crate::audit::service::{record, AuditEvent, AuditSource};
use crate::auth::model::{Principal, Role};
use crate::catalog::refs::EntityRef;
use crate::catalog::teams;
use crate::db::{Connection, Database};
use crate::error::AppResult;
use crate::events::bus::{self, Event};
use crate::events::repo as events_repo;
use crate::tenancy::model::Tenant;

/// Notifications one page shows.
const PAGE: i64 = 50;

/// What a notification says.
#[derive(Clone, Debug)]
pub struct Notice {
    pub kind: NotificationKind,
    pub title: String,
    pub body: String,
    pub link: Option<String>,
}

/// Tells `user_id` of `notice` the way they chose for its kind: in the app (the bell updates
/// live), also by mail (queued here, sent after commit by `mail::Mailer`), or not at all.
/// Must run inside `Database::with_tenant`.
pub async fn notify(conn: &mut Connection, user_id: Uuid, notice: Notice) -> AppResult<()> {
    let channel = channel(conn, user_id, notice.kind).await?;
    if channel == Channel::Off {
        return Ok(());
    }
    let new = NewNotification {
        user_id,
        kind: notice.kind,
        title: &notice.title,
        body: &notice.body,
        link: notice.link.as_deref(),
    };
    let notification_id = repo::insert(conn, new).await?;
    if channel == Channel::Email {
        repo::enqueue_mail(conn, notification_id).await?;
    }
    let unread = repo::unread(conn, user_id).await?;
    let event = Event::NotificationNew { user_id, notification_id, title: notice.title, link: notice.link, unread };
    bus::publish(conn, event).await
}

async fn channel(conn: &mut Connection, user_id: Uuid, kind: NotificationKind) -> AppResult<Channel> {
    Ok(chosen(&repo::channels(conn, user_id).await?, kind))
}

/// How a member is told of `kind`, from their stored choices: "in the app" without one, and
/// in the app whatever a row says for a kind that cannot be silenced.
fn chosen(choices: &[(NotificationKind, Channel)], kind: NotificationKind) -> Channel {
    match choices.iter().find(|(k, _)| *k == kind).map_or(Channel::App, |(_, channel)| *channel) {
        Channel::Off if !kind.may_be_silenced() => Channel::App,
        channel => channel,
    }
}

/// Only `members`, but never whoever acted.
fn others(members: Vec<Uuid>, source: &AuditSource) -> Vec<Uuid> {
    members.into_iter().filter(|member| Some(*member) != source.actor_user_id).collect()
}

/// Applies the security rules (`rules`) to an audit event just written in this transaction.
pub async fn on_audited(
    conn: &mut Connection,
    source: &AuditSource,
    action: AuditAction,
    outcome: Outcome,
    target: &str,
    details: &Value,
    event_id: i64,
) -> AppResult<()> {
    let Some(told) = rules::told(action, outcome, source, target, details, event_id) else { return Ok(()) };
    let recipients = match told.recipient {
        Recipient::Actor => source.actor_user_id.into_iter().collect(),
        Recipient::Target => others(repo::members_by_emails(conn, &[target.to_owned()]).await?, source),
        Recipient::Admins => others(repo::members_with_role(conn, Role::Admin).await?, source),
    };
    for user_id in recipients {
        if told.only_from_a_new_browser {
            let agent = source.user_agent.as_deref();
            let (signed_in_before, with_this_browser) =
                audit_repo::earlier_sign_ins(conn, user_id, agent, event_id).await?;
            if !signed_in_before || with_this_browser {
                continue;
            }
        }
        let notice = Notice {
            kind: told.kind,
            title: told.title.clone(),
            body: told.body.clone(),
            link: Some(told.link.clone()),
        };
        notify(conn, user_id, notice).await?;
    }
    Ok(())
}

/// A catalog entity written one at a time (the editor, the REST API), as its owners are told.
pub struct WrittenEntity<'a> {
    pub entity: &'a EntityRef,
    /// Its owner (a stored ref) before the write, and after it (`None`: deleted).
    pub owner_before: Option<&'a str>,
    pub owner_after: Option<&'a str>,
    /// Whether the document changed (an unchanged save tells nobody).
    pub changed: bool,
}

/// Tells the members of the entity's owning team, in the write's transaction: that it is now
/// theirs when its owner became their team, or that someone else changed or deleted it. The
/// member who wrote is never told of their own write.
pub async fn on_entity_written(conn: &mut Connection, source: &AuditSource, write: WrittenEntity<'_>) -> AppResult<()> {
    let by = &source.actor;
    let name = write.entity.to_string();
    let page = Some(write.entity.page_path());
    let (team, notice) = match (write.owner_before, write.owner_after) {
        (Some(before), None) => (
            before,
            Notice {
                kind: NotificationKind::EntityChanged,
                title: format!("{name} was deleted"),
                body: format!("By {by}."),
                link: None,
            },
        ),
        (before, Some(after)) if before != Some(after) => (
            after,
            Notice {
                kind: NotificationKind::OwnershipAssigned,
                title: format!("{name} is now owned by {after}"),
                body: format!(
                    "By {by}; before, {}.",
                    before.map_or("it had no owner".to_owned(), |b| format!("{b} owned it"))
                ),
                link: page,
            },
        ),
        (_, Some(owner)) if write.changed => (
            owner,
            Notice {
                kind: NotificationKind::EntityChanged,
                title: format!("{name} was changed"),
                body: format!("By {by}."),
                link: page,
            },
        ),
        _ => return Ok(()),
    };
    tell_team(conn, team, source, notice).await
}

/// Tells the members of `team` (a stored Group ref: the portal members whose catalog User is
/// `memberOf` it), except whoever caused it.
pub async fn tell_team(conn: &mut Connection, team: &str, source: &AuditSource, notice: Notice) -> AppResult<()> {
    let emails = teams::emails_in(conn, team).await?;
    for member in others(repo::members_by_emails(conn, &emails).await?, source) {
        notify(conn, member, notice.clone()).await?;
    }
    Ok(())
}

/// The member's notifications older than `before` (the newest without), with their choices.
pub async fn page(
    db: &Database,
    tenant: &Tenant,
    me: &Principal,
    before: Option<i64>,
    email_available: bool,
) -> AppResult<NotificationsPage> {
    let user_id = me.user_id;
    db.with_tenant(tenant, move |conn| {
        Box::pin(async move {
            let mut items = repo::page(conn, user_id, before, false, PAGE + 1).await?;
            let older = (items.len() as i64 > PAGE).then(|| {
                items.truncate(PAGE as usize);
                items.last().map(|n| n.id)
            });
            let unread = repo::unread(conn, user_id).await?;
            let choices = repo::channels(conn, user_id).await?;
            let preferences = NotificationKind::ALL
                .into_iter()
                .map(|kind| Preference { kind, channel: chosen(&choices, kind) })
                .collect();
            Ok(NotificationsPage { items, unread, older: older.flatten(), preferences, email_available })
        })
    })
    .await
}

/// What the portal shell needs on every page, in one transaction: the member's unread count
/// for the bell, and the latest event id, where the page's socket starts.
pub async fn bell(db: &Database, tenant: &Tenant, me: &Principal) -> AppResult<(i64, i64)> {
    let user_id = me.user_id;
    db.with_tenant(tenant, move |conn| {
        Box::pin(async move { Ok((repo::unread(conn, user_id).await?, events_repo::last_id(conn).await?)) })
    })
    .await
}

/// Marks one notification (`None`: every one) of the member read; their bells follow.
pub async fn mark_read(
    db: &Database,
    tenant: &Tenant,
    source: AuditSource,
    me: &Principal,
    id: Option<i64>,
) -> AppResult<()> {
    let user_id = me.user_id;
    db.with_tenant(tenant, move |conn| {
        Box::pin(async move {
            let changed = repo::mark_read(conn, user_id, id).await?;
            if changed == 0 {
                return Ok(());
            }
            let which = id.map_or_else(|| "all".to_owned(), |id| id.to_string());
            let event = AuditEvent::success(AuditAction::NotificationsRead, source.actor.clone())
                .details(serde_json::json!({ "notification": which, "marked": changed }));
            record(conn, &source, event).await?;
            let unread = repo::unread(conn, user_id).await?;
            bus::publish(conn, Event::NotificationsRead { user_id, unread }).await
        })
    })
    .await
}

/// An unsubscribe link was followed: the member's mail of `kind` stops (they still see it in
/// the app). Authenticated by the link's token, checked by the caller.
pub async fn unsubscribe(
    db: &Database,
    tenant: &Tenant,
    source: AuditSource,
    user_id: Uuid,
    kind: NotificationKind,
) -> AppResult<()> {
    db.with_tenant(tenant, move |conn| {
        Box::pin(async move {
            if !matches!(channel(conn, user_id, kind).await?, Channel::Email | Channel::Digest) {
                return Ok(());
            }
            repo::set_channel(conn, user_id, kind, Channel::App).await?;
            let source = AuditSource { actor_user_id: Some(user_id), actor: "unsubscribe link".into(), ..source };
            let event = AuditEvent::success(AuditAction::NotificationPreferenceChanged, user_id.to_string())
                .details(serde_json::json!({ "kind": kind.as_str(), "channel": Channel::App.as_str(), "via": "unsubscribe link" }));
            record(conn, &source, event).await
        })
    })
    .await
}

pub async fn set_preference(
    db: &Database,
    tenant: &Tenant,
    source: AuditSource,
    me: &Principal,
    kind: NotificationKind,
    channel: Channel,
    email_available: bool,
) -> AppResult<()> {
    if channel == Channel::Off && !kind.may_be_silenced() {
        return Err(crate::error::AppError::invalid(format!("“{}” cannot be turned off.", kind.label())));
    }
    if matches!(channel, Channel::Email | Channel::Digest) && !email_available {
        return Err(crate::error::AppError::invalid("This server sends no mail (no SMTP server is configured)."));
    }
    if channel == Channel::Digest && !kind.may_be_digested() {
        return Err(crate::error::AppError::invalid(format!("“{}” is told at once, never in a digest.", kind.label())));
    }
    let user_id = me.user_id;
    db.with_tenant(tenant, move |conn| {
        Box::pin(async move {
            repo::set_channel(conn, user_id, kind, channel).await?;
            if channel == Channel::Digest {
                repo::start_digest(conn, user_id).await?;
            }
            let event = AuditEvent::success(AuditAction::NotificationPreferenceChanged, source.actor.clone())
                .details(serde_json::json!({ "kind": kind.as_str(), "channel": channel.as_str() }));
            record(conn, &source, event).await
        })
    })
    .await
}
