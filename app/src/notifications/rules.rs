//! Which audited actions tell whom: the security notifications, as one table. An action not
//! listed here tells nobody; every action of critical severity that succeeds tells the
//! tenant's other admins.

use serde_json::Value;

use super::model::NotificationKind;
use crate::audit::model::{AuditAction, Outcome, Severity};
use crate::audit::service::AuditSource;

/// Who an audited action concerns.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Recipient {
    /// The member who acted (confirmations: "your password was changed").
    Actor,
    /// The member the action was done to, named by the event's target (their email), unless
    /// they did it themselves.
    Target,
    /// Every active admin but the one who acted.
    Admins,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Told {
    pub recipient: Recipient,
    pub kind: NotificationKind,
    pub title: String,
    pub body: String,
    pub link: String,
    /// Only when the sign-in came from a browser the member has not signed in with recently.
    pub only_from_a_new_browser: bool,
}

/// What the audited event described by these facts tells, and whom; `event_id` for links.
pub fn told(
    action: AuditAction,
    outcome: Outcome,
    source: &AuditSource,
    target: &str,
    details: &Value,
    event_id: i64,
) -> Option<Told> {
    use AuditAction::*;
    use Recipient::*;
    let by = &source.actor;
    let from = source.ip.as_deref().unwrap_or("an unknown address");
    let account = |recipient, title: &str, body: String| Told {
        recipient,
        kind: NotificationKind::AccountSecurity,
        title: title.to_owned(),
        body,
        link: "/account/sessions".into(),
        only_from_a_new_browser: false,
    };
    let not_you = "If this wasn't you, change your password and end the sessions you do not recognise.";
    let told = match (action, outcome) {
        (AuthLogin | SsoLogin, Outcome::Success) => Told {
            only_from_a_new_browser: true,
            ..account(Actor, "New sign-in from another browser", format!("{} from {from}. {not_you}", browser(source)))
        },
        (AuthPasswordChange, Outcome::Success) => {
            account(Actor, "Your password was changed", format!("From {from}. {not_you}"))
        }
        (MfaDisabled, Outcome::Success) => {
            account(Actor, "Two-factor authentication was turned off", format!("From {from}. {not_you}"))
        }
        (MfaRecoveryCodeUsed, Outcome::Success) => {
            account(Actor, "A recovery code was used to sign in", format!("From {from}. {not_you}"))
        }
        (MfaRecoveryCodesReplaced, Outcome::Success) => {
            account(Actor, "Your recovery codes were replaced", format!("From {from}. The old codes no longer work."))
        }
        (UserPasswordReset, Outcome::Success) => {
            account(Target, "An admin reset your password", format!("By {by}. You will choose a new one at your next sign-in."))
        }
        (MfaReset, Outcome::Success) => {
            account(Target, "An admin reset your second factor", format!("By {by}. Set up two-factor authentication again."))
        }
        // Sessions ended with a role change, a reset or a deactivation are told with that.
        (SessionRevokedAll, Outcome::Success) if details.get("reason").and_then(Value::as_str) == Some("ended by an admin") => {
            account(Target, "An admin ended all your sessions", format!("By {by}. Sign in again to continue."))
        }
        (UserRoleChanged, Outcome::Success) => {
            let to = details.get("to").and_then(Value::as_str).unwrap_or("another role");
            account(Target, "Your role changed", format!("You are now {to}, by {by}."))
        }
        (AuthLocked, _) if details.get("locked").and_then(Value::as_str) == Some("account") => account(
            Target,
            "Your account was locked after failed sign-ins",
            format!("For 15 minutes, after failures from {from}. If this wasn't you, someone may be guessing your password."),
        ),
        (FinopsCostsImported, Outcome::Failure) => Told {
            recipient: Actor,
            kind: NotificationKind::ImportFailed,
            title: "Your cost import failed".into(),
            body: details.get("error").and_then(Value::as_str).unwrap_or("The file was refused.").to_owned(),
            link: format!("/finops/imports/{}", target.trim_start_matches("cost-import:")),
            only_from_a_new_browser: false,
        },
        (WebhookDisabled, _) => Told {
            recipient: Admins,
            kind: NotificationKind::WebhookDisabled,
            title: format!("The webhook {target} was turned off"),
            body: details
                .get("reason")
                .and_then(Value::as_str)
                .unwrap_or("Its receiver failed for a day.")
                .to_owned(),
            link: "/settings/webhooks".into(),
            only_from_a_new_browser: false,
        },
        // Made by the operator with its first admin, who has nothing to be told.
        (TenantProvisioned, _) => return None,
        (action, Outcome::Success) if action.severity() == Severity::Critical => Told {
            recipient: Admins,
            kind: NotificationKind::TenantSecurity,
            title: action.meaning().trim_end_matches('.').to_owned(),
            body: format!("By {by}: {target}"),
            link: format!("/audit/{event_id}"),
            only_from_a_new_browser: false,
        },
        _ => return None,
    };
    Some(told)
}

/// A short name for the browser of a user agent ("Firefox on Linux"), or the raw agent.
pub fn browser(source: &AuditSource) -> String {
    let agent = source.user_agent.as_deref().unwrap_or_default();
    let name = ["Edg/", "OPR/", "Firefox/", "Chrome/", "Safari/"].into_iter().find(|token| agent.contains(token)).map(
        |token| match token {
            "Edg/" => "Edge",
            "OPR/" => "Opera",
            "Firefox/" => "Firefox",
            "Chrome/" => "Chrome",
            _ => "Safari",
        },
    );
    let system = ["Windows", "Mac OS X", "Android", "iPhone", "Linux"].into_iter().find(|os| agent.contains(os));
    match (name, system) {
        (Some(name), Some(os)) => format!("{name} on {}", os.replace("Mac OS X", "macOS")),
        (Some(name), None) => name.to_owned(),
        _ if agent.is_empty() => "An unknown client".to_owned(),
        _ => agent.chars().take(80).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn source(actor: &str) -> AuditSource {
        AuditSource {
            actor: actor.into(),
            ip: Some("203.0.113.7".into()),
            user_agent: Some("Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0".into()),
            ..AuditSource::default()
        }
    }

    #[test]
    fn account_changes_tell_the_member_they_concern() {
        let reset = told(AuditAction::MfaReset, Outcome::Success, &source("admin@x"), "dev@x", &json!({}), 1).unwrap();
        assert_eq!((reset.recipient, reset.kind), (Recipient::Target, NotificationKind::AccountSecurity));
        let role =
            told(AuditAction::UserRoleChanged, Outcome::Success, &source("a@x"), "d@x", &json!({"to": "admin"}), 1);
        assert_eq!(role.unwrap().body, "You are now admin, by a@x.");
        let login = told(AuditAction::AuthLogin, Outcome::Success, &source("d@x"), "d@x", &json!({}), 1).unwrap();
        assert!(login.only_from_a_new_browser);
        assert!(login.body.starts_with("Firefox on Linux from 203.0.113.7."), "{}", login.body);
        assert!(told(AuditAction::AuthLogin, Outcome::Failure, &source("d@x"), "d@x", &json!({}), 1).is_none());
    }

    #[test]
    fn critical_changes_tell_the_admins_and_routine_ones_nobody() {
        let sso =
            told(AuditAction::SsoProviderAdded, Outcome::Success, &source("a@x"), "Okta", &json!({}), 42).unwrap();
        assert_eq!((sso.recipient, sso.kind), (Recipient::Admins, NotificationKind::TenantSecurity));
        assert_eq!(sso.link, "/audit/42");
        assert!(
            told(AuditAction::CatalogEntitiesImported, Outcome::Success, &source("a@x"), "x", &json!({}), 1).is_none()
        );
        assert!(told(AuditAction::SsoProviderAdded, Outcome::Failure, &source("a@x"), "x", &json!({}), 1).is_none());
    }

    #[test]
    fn a_refused_cost_import_tells_who_started_it_and_links_to_it() {
        let details = json!({ "error": "line 3: BilledCost is not a number" });
        let import = "cost-import:5d1c0a52-0000-4000-8000-000000000000";
        let told =
            told(AuditAction::FinopsCostsImported, Outcome::Failure, &source("f@x"), import, &details, 1).unwrap();
        assert_eq!((told.recipient, told.kind), (Recipient::Actor, NotificationKind::ImportFailed));
        assert_eq!(told.body, "line 3: BilledCost is not a number");
        assert_eq!(told.link, "/finops/imports/5d1c0a52-0000-4000-8000-000000000000");
    }

    #[test]
    fn browsers_are_named_briefly() {
        let chrome = AuditSource {
            user_agent: Some("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36".into()),
            ..AuditSource::default()
        };
        assert_eq!(browser(&chrome), "Chrome on Windows");
        assert_eq!(browser(&AuditSource::default()), "An unknown client");
    }
}
