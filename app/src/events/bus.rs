//! Publishing: the one function any service calls, inside its transaction, to tell the
//! tenant's live pages and sockets that something happened.

use serde_json::{json, Value};
use uuid::Uuid;

use super::repo;
use crate::auth::model::Principal;
use crate::auth::permission::{decide, Action, Scope};
use crate::db::{Connection, Database};
use crate::error::AppResult;
use crate::tenancy::model::Tenant;

/// Who may see an event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Audience {
    /// Members whose role, and for keys whose scopes, allow this action.
    Permitted(Action),
    /// One person, signed in (never their keys: what concerns a person is for people).
    Person(Uuid),
}

impl Audience {
    /// As stored: (`visible_to`, `user_id`), exactly one of them set.
    pub fn columns(&self) -> (Option<&'static str>, Option<Uuid>) {
        match self {
            Audience::Permitted(action) => (Some(action.as_str()), None),
            Audience::Person(id) => (None, Some(*id)),
        }
    }

    /// Read back from the columns; `None` for a shape no publisher writes.
    pub fn from_columns(visible_to: Option<&str>, user_id: Option<Uuid>) -> Option<Self> {
        match (visible_to, user_id) {
            (Some(action), None) => Action::parse(action).ok().map(Audience::Permitted),
            (None, Some(id)) => Some(Audience::Person(id)),
            _ => None,
        }
    }

    pub fn admits(&self, principal: &Principal, scopes: Option<&[Scope]>) -> bool {
        match self {
            Audience::Permitted(action) => decide(principal.role, scopes, *action).allowed(),
            Audience::Person(id) => {
                *id == principal.user_id && decide(principal.role, scopes, Action::ManageOwnAccount).allowed()
            }
        }
    }
}

/// The events services publish. Each names its kind (topic:verb), its audience and a small
/// payload of references and titles; pages fetch the rest through their usual, authorized reads.
#[derive(Clone, Debug)]
pub enum Event {
    /// A notification for one member; carries their new unread count for the bell.
    NotificationNew { user_id: Uuid, notification_id: i64, title: String, link: Option<String>, unread: i64 },
    /// A member read notifications (in any tab): every bell of theirs shows the new count.
    NotificationsRead { user_id: Uuid, unread: i64 },
    /// An audit event was written: the audit log's readers see it arrive.
    AuditRecorded { id: i64, action: String, outcome: String, target: String },
    /// A build or deployment of catalog entities changed status (`deployments`).
    DeploymentStatus {
        entities: Vec<String>,
        provider: &'static str,
        kind: &'static str,
        name: Option<String>,
        environment: Option<String>,
        version: Option<String>,
        status: &'static str,
        url: Option<String>,
    },
    /// A day's cost of an allocation target's service was far from its baseline
    /// (`finops::anomalies`).
    CostAnomaly {
        target: String,
        service: String,
        day: chrono::NaiveDate,
        actual: String,
        expected: String,
        currency: String,
    },
    /// A brief moved on (queued, running with its progress, ready or failed): its requester's
    /// open pages follow it (`briefs::generator`).
    BriefProgress { brief: Uuid, requested_by: Uuid, status: &'static str, progress: i16 },
    /// The tenant's plugin set changed: a new revision (`plugins::service::change`). `kind` is
    /// one of `PLUGIN_CHANGE_KINDS`, after the operation.
    PluginChanged { kind: &'static str, revision: i32, target: String, changes: usize, author: String },
    /// A runtime's report changed what it runs or what failed (`plugins::health`).
    PluginHealth { instance: String, loaded: usize, failed: Vec<String> },
    /// A cost budget crossed a threshold (`finops::budgets`).
    BudgetThreshold {
        budget: Uuid,
        name: String,
        scope: Option<String>,
        percent: f64,
        on: &'static str,
        actual: String,
        forecast: String,
        amount: String,
        currency: String,
    },
}

/// The most of a free-text field an event carries: the announcement has a size limit, and the
/// full text is one authorized read away.
const TEXT_CAP: usize = 200;
/// The most entity refs an event names (one CI project rarely maps to more).
const ENTITIES_CAP: usize = 10;
/// The most failed packages a health event names.
const FAILED_CAP: usize = 20;

/// The kinds of `Event::PluginChanged`, by the operation that made the revision.
pub const PLUGIN_CHANGE_KINDS: [&str; 5] =
    ["plugin:installed", "plugin:updated", "plugin:uninstalled", "plugin:toggled", "plugin:rolled_back"];

impl Event {
    pub fn kind(&self) -> &'static str {
        match self {
            Event::NotificationNew { .. } => "notification:new",
            Event::NotificationsRead { .. } => "notification:read",
            Event::AuditRecorded { .. } => "audit:recorded",
            Event::DeploymentStatus { .. } => "deployment:status",
            Event::BudgetThreshold { .. } => "finops:budget",
            Event::CostAnomaly { .. } => "finops:anomaly",
            Event::BriefProgress { .. } => "brief:progress",
            Event::PluginChanged { kind, .. } => kind,
            Event::PluginHealth { .. } => "plugin:health",
        }
    }

    pub fn audience(&self) -> Audience {
        match self {
            Event::NotificationNew { user_id, .. } | Event::NotificationsRead { user_id, .. } => {
                Audience::Person(*user_id)
            }
            Event::AuditRecorded { .. } => Audience::Permitted(Action::AuditRead),
            Event::BriefProgress { requested_by, .. } => Audience::Person(*requested_by),
            Event::DeploymentStatus { .. } => Audience::Permitted(Action::CatalogRead),
            Event::BudgetThreshold { .. } | Event::CostAnomaly { .. } => Audience::Permitted(Action::FinopsRead),
            Event::PluginChanged { .. } | Event::PluginHealth { .. } => Audience::Permitted(Action::PluginsRead),
        }
    }

    pub fn payload(&self) -> Value {
        match self {
            Event::NotificationNew { notification_id, title, link, unread, .. } => {
                json!({ "id": notification_id, "title": capped(title), "link": link, "unread": unread })
            }
            Event::NotificationsRead { unread, .. } => json!({ "unread": unread }),
            Event::AuditRecorded { id, action, outcome, target } => {
                json!({ "id": id, "action": action, "outcome": outcome, "target": capped(target) })
            }
            Event::DeploymentStatus { entities, provider, kind, name, environment, version, status, url } => json!({
                "entities": entities.iter().take(ENTITIES_CAP).collect::<Vec<_>>(),
                "provider": provider,
                "kind": kind,
                "name": name.as_deref().map(capped),
                "environment": environment.as_deref().map(capped),
                "version": version.as_deref().map(capped),
                "status": status,
                "url": url.as_deref().map(capped),
            }),
            Event::CostAnomaly { target, service, day, actual, expected, currency } => json!({
                "target": target,
                "service": capped(service),
                "day": day,
                "actual": actual,
                "expected": expected,
                "currency": currency,
            }),
            Event::BudgetThreshold { budget, name, scope, percent, on, actual, forecast, amount, currency } => json!({
                "budget": budget,
                "name": capped(name),
                "scope": scope,
                "threshold": { "percent": percent, "on": on },
                "actual": actual,
                "forecast": forecast,
                "amount": amount,
                "currency": currency,
            }),
            Event::PluginChanged { revision, target, changes, author, .. } => json!({
                "revision": revision,
                "target": capped(target),
                "changes": changes,
                "author": capped(author),
            }),
            Event::PluginHealth { instance, loaded, failed } => json!({
                "instance": capped(instance),
                "loaded": loaded,
                "failed": failed.iter().take(FAILED_CAP).map(|p| capped(p)).collect::<Vec<_>>(),
            }),
            Event::BriefProgress { brief, status, progress, .. } => {
                json!({ "brief": brief, "status": status, "progress": progress })
            }
        }
    }
}

fn capped(text: &str) -> &str {
    match text.char_indices().nth(TEXT_CAP) {
        Some((end, _)) => &text[..end],
        None => text,
    }
}

/// How long published events stay for replays: a browser reconnecting later refreshes
/// instead (see `repo::since`).
pub const REPLAY_WINDOW: chrono::Duration = chrono::Duration::hours(1);

/// Deletes `tenant`'s events older than the replay window; returns how many.
pub async fn forget_old(db: &Database, tenant: &Tenant) -> AppResult<usize> {
    let before = chrono::Utc::now() - REPLAY_WINDOW;
    db.with_tenant(tenant, move |conn| Box::pin(async move { repo::prune(conn, before).await })).await
}

/// Publishes `event` with the transaction `conn` is in (inside `Database::with_tenant`): it is
/// announced when that transaction commits, and never if it rolls back.
pub async fn publish(conn: &mut Connection, event: Event) -> AppResult<()> {
    repo::insert(conn, event.kind(), &event.audience(), event.payload()).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::model::Role;

    fn member(role: Role) -> Principal {
        Principal {
            user_id: Uuid::new_v4(),
            email: "m@example.com".into(),
            display_name: "M".into(),
            role,
            must_change_password: false,
            mfa_enabled: false,
        }
    }

    #[test]
    fn audiences_follow_the_permission_table() {
        let (viewer, admin) = (member(Role::Viewer), member(Role::Admin));
        let audit = Audience::Permitted(Action::AuditRead);
        assert!(!audit.admits(&viewer, None), "a viewer gets no admin events");
        assert!(audit.admits(&admin, None));
        assert!(audit.admits(&admin, Some(&[Scope::AuditRead])));
        assert!(!audit.admits(&admin, Some(&[Scope::CatalogRead])), "a key needs the scope");
        let personal = Audience::Person(viewer.user_id);
        assert!(personal.admits(&viewer, None));
        assert!(!personal.admits(&admin, None), "nobody else's");
        assert!(!personal.admits(&viewer, Some(&Scope::ALL)), "not through a key");
    }

    #[test]
    fn free_text_is_capped_on_a_character_boundary() {
        let long = "é".repeat(500);
        let event = Event::AuditRecorded { id: 1, action: "a".into(), outcome: "success".into(), target: long };
        assert_eq!(event.payload()["target"].as_str().unwrap().chars().count(), TEXT_CAP);
    }
}
