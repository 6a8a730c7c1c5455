//! The permission-change report: who gained or lost which role, scope, allowlist entry or
//! single sign-on role mapping in a period, read from the audit log (which records each such
//! change in the transaction that made it), so the report is exactly as complete as the log.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::view::parse_time;
use crate::error::AppError;

#[cfg(feature = "ssr")]
use super::model::{AuditAction, AuditDetail};

/// The most changes one report lists; a longer period says it was cut.
pub const MAX_CHANGES: usize = 5_000;

/// What kind of permission changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Grant {
    /// A member's or an OAuth client's role (a member's whole access, when deactivated).
    Role,
    /// An API key's or an OAuth client's scope.
    Scope,
    /// An entry of the tenant's IP allowlist.
    Allowlist,
    /// A single sign-on provider's group-to-role mapping, or its default role.
    SsoMapping,
}

impl Grant {
    pub fn as_str(self) -> &'static str {
        match self {
            Grant::Role => "role",
            Grant::Scope => "scope",
            Grant::Allowlist => "allowlist",
            Grant::SsoMapping => "sso_mapping",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Change {
    Gained,
    Lost,
}

impl Change {
    pub fn as_str(self) -> &'static str {
        match self {
            Change::Gained => "gained",
            Change::Lost => "lost",
        }
    }
}

/// One permission gained or lost.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PermissionChange {
    /// The audit event that recorded it.
    pub event_id: i64,
    pub at: DateTime<Utc>,
    /// Who made the change.
    pub actor: String,
    /// Whose permissions changed: a member's email, `key bcn_…`, `client …`, `IP allowlist`,
    /// `provider …`.
    pub subject: String,
    pub grant: Grant,
    pub change: Change,
    /// The role, scope, network or mapping itself.
    pub value: String,
}

/// The report for a period, newest change first.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PermissionReport {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub changes: Vec<PermissionChange>,
    /// The period held more than [`MAX_CHANGES`] changes; narrow it to see the rest.
    pub truncated: bool,
}

/// How far back a report reaches when no `from` is given.
pub const DEFAULT_DAYS: i64 = 30;

/// The period a report covers: `to` defaults to now and `from` to [`DEFAULT_DAYS`] before it.
/// A date alone as `to` includes that whole day, as people mean "up to the 3rd".
pub fn period(
    from: Option<&str>,
    to: Option<&str>,
    now: DateTime<Utc>,
) -> Result<(DateTime<Utc>, DateTime<Utc>), AppError> {
    fn blank(raw: Option<&str>) -> Option<&str> {
        raw.map(str::trim).filter(|raw| !raw.is_empty())
    }
    let to = match blank(to) {
        None => now,
        Some(raw) if chrono::NaiveDate::parse_from_str(raw, "%Y-%m-%d").is_ok() => {
            parse_time("to", raw)? + chrono::Duration::days(1)
        }
        Some(raw) => parse_time("to", raw)?,
    };
    let from = match blank(from) {
        None => to - chrono::Duration::days(DEFAULT_DAYS),
        Some(raw) => parse_time("from", raw)?,
    };
    if from >= to {
        return Err(AppError::invalid("`from` must be before `to`."));
    }
    Ok((from, to))
}

/// The actions whose successful events change a permission.
#[cfg(feature = "ssr")]
pub const ACTIONS: [AuditAction; 13] = [
    AuditAction::UserInvited,
    AuditAction::SsoProvisioned,
    AuditAction::UserRoleChanged,
    AuditAction::UserDeactivated,
    AuditAction::ApiKeyCreated,
    AuditAction::ApiKeyRevoked,
    AuditAction::OauthClientCreated,
    AuditAction::OauthClientRevoked,
    AuditAction::AllowlistAdded,
    AuditAction::AllowlistRemoved,
    AuditAction::AllowlistCleared,
    AuditAction::SsoProviderAdded,
    AuditAction::SsoProviderRemoved,
];

/// The scopes (and, for clients, the role) a revoked credential had: revocation events do not
/// repeat them, the credential's row does.
#[cfg(feature = "ssr")]
#[derive(Clone, Debug, Default)]
pub struct RevokedGrants {
    pub role: Option<String>,
    pub scopes: Vec<String>,
}

/// The changes one audit event made. `revoked` looks up what a revoked key (`bcn_…`) or
/// client (its client id) held.
#[cfg(feature = "ssr")]
pub fn changes_of(event: &AuditDetail, revoked: impl Fn(&str) -> Option<RevokedGrants>) -> Vec<PermissionChange> {
    let record = &event.record;
    let details = &event.details;
    let text = |key: &str| details.get(key).and_then(|v| v.as_str()).map(str::to_owned);
    let list = |key: &str| -> Vec<String> {
        details
            .get(key)
            .and_then(|v| v.as_array())
            .map(|values| values.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect())
            .unwrap_or_default()
    };
    let change = |subject: &str, grant: Grant, change: Change, value: String| PermissionChange {
        event_id: record.id,
        at: record.occurred_at,
        actor: record.actor.clone(),
        subject: subject.to_owned(),
        grant,
        change,
        value,
    };
    let target = record.target.as_str();
    let Some(action) = AuditAction::parse(&record.action) else { return Vec::new() };
    match action {
        AuditAction::UserInvited | AuditAction::SsoProvisioned => {
            text("role").map(|role| change(target, Grant::Role, Change::Gained, role)).into_iter().collect()
        }
        AuditAction::UserRoleChanged => {
            let mut changes = Vec::new();
            if let Some(from) = text("from") {
                changes.push(change(target, Grant::Role, Change::Lost, from));
            }
            if let Some(to) = text("to") {
                changes.push(change(target, Grant::Role, Change::Gained, to));
            }
            changes
        }
        AuditAction::UserDeactivated => {
            vec![change(target, Grant::Role, Change::Lost, "every role (deactivated)".into())]
        }
        AuditAction::ApiKeyCreated => {
            let subject = credential_subject("key", target, text("name"));
            list("scopes").into_iter().map(|scope| change(&subject, Grant::Scope, Change::Gained, scope)).collect()
        }
        AuditAction::OauthClientCreated => {
            let subject = credential_subject("client", target, text("name"));
            text("role")
                .map(|role| change(&subject, Grant::Role, Change::Gained, role))
                .into_iter()
                .chain(list("scopes").into_iter().map(|scope| change(&subject, Grant::Scope, Change::Gained, scope)))
                .collect()
        }
        AuditAction::ApiKeyRevoked | AuditAction::OauthClientRevoked => {
            let noun = if action == AuditAction::ApiKeyRevoked { "key" } else { "client" };
            let subject = credential_subject(noun, target, text("name"));
            let held = revoked(target).unwrap_or_default();
            let mut changes: Vec<PermissionChange> = held
                .role
                .into_iter()
                .map(|role| change(&subject, Grant::Role, Change::Lost, role))
                .chain(held.scopes.into_iter().map(|scope| change(&subject, Grant::Scope, Change::Lost, scope)))
                .collect();
            if changes.is_empty() {
                changes.push(change(&subject, Grant::Scope, Change::Lost, "every scope (revoked)".into()));
            }
            changes
        }
        AuditAction::AllowlistAdded | AuditAction::AllowlistRemoved => {
            let direction = if action == AuditAction::AllowlistAdded { Change::Gained } else { Change::Lost };
            let value = match text("applies_to") {
                Some(scope) => format!("{target} ({scope})"),
                None => target.to_owned(),
            };
            vec![change("IP allowlist", Grant::Allowlist, direction, value)]
        }
        AuditAction::AllowlistCleared => {
            let removed = details.get("removed").and_then(|v| v.as_u64()).unwrap_or(0);
            vec![change("IP allowlist", Grant::Allowlist, Change::Lost, format!("every entry ({removed})"))]
        }
        AuditAction::SsoProviderAdded => {
            let subject = format!("provider {target}");
            let default = text("default_role").map(|role| format!("anyone signing in → {role}"));
            let mapped = details
                .get("role_mapping")
                .and_then(|v| v.as_array())
                .into_iter()
                .flatten()
                .filter_map(|m| Some(format!("{} → {}", m.get("value")?.as_str()?, m.get("role")?.as_str()?)));
            default
                .into_iter()
                .chain(mapped)
                .map(|value| change(&subject, Grant::SsoMapping, Change::Gained, value))
                .collect()
        }
        AuditAction::SsoProviderRemoved => vec![change(
            &format!("provider {target}"),
            Grant::SsoMapping,
            Change::Lost,
            "every mapping of the provider (removed)".into(),
        )],
        _ => Vec::new(),
    }
}

#[cfg(feature = "ssr")]
fn credential_subject(noun: &str, id: &str, name: Option<String>) -> String {
    match name {
        Some(name) => format!("{noun} {id} ({name})"),
        None => format!("{noun} {id}"),
    }
}

#[cfg(all(test, feature = "ssr"))]
mod tests {
    use super::*;
    use crate::audit::model::AuditRecord;
    use serde_json::json;

    fn event(action: AuditAction, target: &str, details: serde_json::Value) -> AuditDetail {
        AuditDetail {
            record: AuditRecord {
                id: 7,
                occurred_at: Utc::now(),
                actor: "admin@acme.test".into(),
                action: action.as_str().into(),
                target: target.into(),
                outcome: "success".into(),
                severity: Some(action.severity()),
                ip: None,
                user_agent: None,
                request_id: None,
            },
            actor_user_id: None,
            details,
            chain_seq: None,
        }
    }

    fn summary(changes: &[PermissionChange]) -> Vec<(String, &'static str, &'static str, String)> {
        changes.iter().map(|c| (c.subject.clone(), c.grant.as_str(), c.change.as_str(), c.value.clone())).collect()
    }

    fn none(_: &str) -> Option<RevokedGrants> {
        None
    }

    #[test]
    fn a_role_change_is_a_role_lost_and_a_role_gained() {
        let changes = changes_of(
            &event(AuditAction::UserRoleChanged, "dev@acme.test", json!({ "from": "viewer", "to": "admin" })),
            none,
        );
        assert_eq!(
            summary(&changes),
            vec![
                ("dev@acme.test".into(), "role", "lost", "viewer".into()),
                ("dev@acme.test".into(), "role", "gained", "admin".into()),
            ]
        );
        assert_eq!(changes[0].actor, "admin@acme.test");
        assert_eq!(changes[0].event_id, 7);
    }

    #[test]
    fn credentials_gain_their_scopes_and_lose_them_when_revoked() {
        let created = event(
            AuditAction::OauthClientCreated,
            "c_deployer",
            json!({ "name": "deployer", "role": "developer", "scopes": ["catalog:read", "catalog:write"] }),
        );
        assert_eq!(
            summary(&changes_of(&created, none)),
            vec![
                ("client c_deployer (deployer)".into(), "role", "gained", "developer".into()),
                ("client c_deployer (deployer)".into(), "scope", "gained", "catalog:read".into()),
                ("client c_deployer (deployer)".into(), "scope", "gained", "catalog:write".into()),
            ]
        );
        let revoked = event(AuditAction::ApiKeyRevoked, "bcn_abc", json!({ "name": "ci" }));
        let held =
            |id: &str| (id == "bcn_abc").then(|| RevokedGrants { role: None, scopes: vec!["audit:read".into()] });
        assert_eq!(
            summary(&changes_of(&revoked, held)),
            vec![("key bcn_abc (ci)".into(), "scope", "lost", "audit:read".into())]
        );
        assert_eq!(summary(&changes_of(&revoked, none))[0].3, "every scope (revoked)");
    }

    #[test]
    fn allowlist_entries_and_sso_mappings_are_reported_with_their_values() {
        let added = event(AuditAction::AllowlistAdded, "10.0.0.0/8", json!({ "applies_to": "api" }));
        assert_eq!(
            summary(&changes_of(&added, none)),
            vec![("IP allowlist".into(), "allowlist", "gained", "10.0.0.0/8 (api)".into())]
        );
        let provider = event(
            AuditAction::SsoProviderAdded,
            "Okta",
            json!({ "default_role": "viewer", "role_mapping": [{ "value": "platform", "role": "admin" }] }),
        );
        assert_eq!(
            summary(&changes_of(&provider, none)),
            vec![
                ("provider Okta".into(), "sso_mapping", "gained", "anyone signing in → viewer".into()),
                ("provider Okta".into(), "sso_mapping", "gained", "platform → admin".into()),
            ]
        );
        assert!(changes_of(&event(AuditAction::AuthLogin, "x", json!({})), none).is_empty());
    }

    #[test]
    fn a_period_defaults_to_the_last_30_days_and_a_date_includes_its_day() {
        let now = DateTime::parse_from_rfc3339("2026-12-03T10:00:00Z").unwrap().with_timezone(&Utc);
        let (from, to) = period(None, None, now).unwrap();
        assert_eq!((to - from).num_days(), 30);
        assert_eq!(to, now);
        let (from, to) = period(Some("2026-11-01"), Some("2026-11-30"), now).unwrap();
        assert_eq!(from.to_rfc3339(), "2026-11-01T00:00:00+00:00");
        assert_eq!(to.to_rfc3339(), "2026-12-01T00:00:00+00:00");
        assert!(period(Some("2026-12-01"), Some("2026-11-01"), now).is_err());
        assert!(period(Some("yesterday"), None, now).is_err());
    }
}
