use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::AppError;
use crate::tenancy::model::TenantSummary;

/// A member's role in a tenant, ordered by privilege.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(diesel::deserialize::FromSqlRow))]
pub enum Role {
    Viewer,
    Developer,
    Maintainer,
    Admin,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Admin, Role::Maintainer, Role::Developer, Role::Viewer];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Maintainer => "maintainer",
            Role::Developer => "developer",
            Role::Viewer => "viewer",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Role::Admin => "Admin",
            Role::Maintainer => "Maintainer",
            Role::Developer => "Developer",
            Role::Viewer => "Viewer",
        }
    }

    pub fn parse(raw: &str) -> Result<Self, AppError> {
        Role::ALL.into_iter().find(|r| r.as_str() == raw.trim().to_ascii_lowercase()).ok_or_else(|| {
            AppError::invalid(format!("`{raw}` is not a role; use admin, maintainer, developer or viewer"))
        })
    }

    /// Whether this role may do what `required` may do.
    pub fn grants(self, required: Role) -> bool {
        self >= required
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum MemberStatus {
    Active,
    Deactivated,
}

impl MemberStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            MemberStatus::Active => "active",
            MemberStatus::Deactivated => "deactivated",
        }
    }

    pub fn parse(raw: &str) -> Result<Self, AppError> {
        match raw {
            "active" => Ok(MemberStatus::Active),
            "deactivated" => Ok(MemberStatus::Deactivated),
            other => Err(AppError::invalid(format!("unknown member status `{other}`"))),
        }
    }
}

/// The signed-in user, as the portal shows them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Principal {
    pub user_id: Uuid,
    pub email: String,
    pub display_name: String,
    pub role: Role,
    /// Set by an admin's password reset: until the member picks a new password, the portal
    /// shows nothing but the change-password page.
    pub must_change_password: bool,
    /// Signs in with a TOTP code after the password.
    pub mfa_enabled: bool,
}

impl Principal {
    /// How the member is named to others: their display name, or their email without one.
    pub fn name(&self) -> &str {
        if self.display_name.is_empty() {
            &self.email
        } else {
            &self.display_name
        }
    }
}

/// A row of Settings → Users.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    pub user_id: Uuid,
    pub email: String,
    pub display_name: String,
    pub role: Role,
    pub status: MemberStatus,
    pub joined_at: chrono::DateTime<chrono::Utc>,
    /// Signs in with a second factor.
    pub mfa_enabled: bool,
}

/// The result of adding someone to a tenant.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Invitation {
    pub email: String,
    /// Set only when a new account was created: shown once, never stored in clear.
    pub one_time_password: Option<String>,
}

/// What the portal shell needs on every page.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortalContext {
    pub tenant: TenantSummary,
    pub user: Option<Principal>,
    /// The signed-in member's unread notifications, for the bell.
    pub unread_notifications: i64,
    /// The latest event id when the page was rendered: its socket asks for what came after.
    pub live_after: i64,
}

/// A row of Account → Sessions.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActiveSession {
    /// Names the session in a revoke request; useless without the member's own session.
    pub handle: String,
    pub device: String,
    pub user_agent: Option<String>,
    pub ip: Option<String>,
    pub signed_in_at: chrono::DateTime<chrono::Utc>,
    pub last_seen_at: chrono::DateTime<chrono::Utc>,
    /// The session this page is viewed in.
    pub current: bool,
}

/// Account → Two-factor authentication.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MfaOverview {
    pub enabled_since: Option<chrono::DateTime<chrono::Utc>>,
    pub recovery_codes_left: i64,
    /// The tenant's policy requires a second factor of this member.
    pub required: bool,
    /// An enrolment started in this session and not yet confirmed.
    pub enrolment: Option<MfaEnrolment>,
    /// Recovery codes created by the previous request: shown once.
    pub new_recovery_codes: Option<Vec<String>>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MfaEnrolment {
    /// The `otpauth://` URI as a QR code, rendered on the server.
    pub qr_svg: String,
    /// The same secret in base32, for typing into an app by hand.
    pub secret: String,
}

/// Trims and lower-cases an email address and checks its shape.
pub fn normalize_email(raw: &str) -> Result<String, AppError> {
    let email = raw.trim().to_ascii_lowercase();
    let valid = email.len() <= 254
        && !email.chars().any(char::is_whitespace)
        && email.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty() && domain.contains('.') && !domain.starts_with('.') && !domain.ends_with('.')
        });
    if valid {
        Ok(email)
    } else {
        Err(AppError::invalid(format!("`{}` is not an email address", raw.trim())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_grant_everything_below_them() {
        assert!(Role::Admin.grants(Role::Viewer));
        assert!(Role::Maintainer.grants(Role::Developer));
        assert!(!Role::Developer.grants(Role::Maintainer));
        assert!(!Role::Viewer.grants(Role::Admin));
    }

    #[test]
    fn roles_parse_from_their_names_only() {
        assert_eq!(Role::parse(" Admin ").unwrap(), Role::Admin);
        assert!(Role::parse("root").is_err());
    }

    #[test]
    fn emails_are_normalised_and_checked() {
        assert_eq!(normalize_email("  Ada@Example.COM ").unwrap(), "ada@example.com");
        for bad in ["ada", "ada@", "@example.com", "a b@example.com", "ada@example", "ada@.com"] {
            assert!(normalize_email(bad).is_err(), "{bad}");
        }
    }
}
