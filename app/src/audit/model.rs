use serde::{Deserialize, Serialize};

/// Declares the closed set of audit actions: each variant with its stored name and what it
/// records, in one place.
macro_rules! audit_actions {
    ($($variant:ident => $name:literal, $meaning:literal;)*) => {
        /// Every action the audit log records. Names are `<area>.<action>` in lower snake case,
        /// one name per action: an attempt that can succeed or fail (a sign-in, a code check, a
        /// token request, an enrolment, a password change) keeps its name and the `outcome`
        /// column says which; an event that only records a change done is named for it in the
        /// past tense (`user.invited`). The audit views are to filter by these names (with
        /// [`AuditAction::parse`] for the names older rows carry).
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
        pub enum AuditAction {
            $(#[doc = $meaning] $variant,)*
        }

        impl AuditAction {
            pub const ALL: &'static [AuditAction] = &[$(AuditAction::$variant,)*];

            /// The name stored in `audit_events.action`.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(AuditAction::$variant => $name,)*
                }
            }

            /// The action a stored name records, including the names rows written before the
            /// registry still carry (the log is append-only: old rows are never rewritten).
            pub fn parse(name: &str) -> Option<Self> {
                let current = match name {
                    "auth.password_changed" => "auth.password_change",
                    "mfa.enrolled" => "mfa.enrol",
                    "oauth.token_issued" | "oauth.token_refused" => "oauth.token",
                    other => other,
                };
                Self::ALL.iter().copied().find(|a| a.as_str() == current)
            }
        }
    };
}

audit_actions! {
    AllowlistAdded => "allowlist.added", "An IP allowlist entry was added.";
    AllowlistRemoved => "allowlist.removed", "An IP allowlist entry was removed.";
    AllowlistCleared => "allowlist.cleared", "An operator emptied the IP allowlist from the command line.";
    AllowlistRefused => "allowlist.refused", "A request from an address outside the allowlist was refused (once a minute per address).";
    ApiKeyCreated => "apikey.created", "An API key was made.";
    ApiKeyFirstUsed => "apikey.first_used", "An API key was used for the first time.";
    ApiKeyRejected => "apikey.rejected", "A presented API key was unknown, revoked or expired.";
    ApiKeyRevoked => "apikey.revoked", "An API key was revoked.";
    AuthLocked => "auth.locked", "Too many failures locked an account or an address for 15 minutes.";
    AuthLogin => "auth.login", "A password sign-in.";
    AuthLogout => "auth.logout", "A sign-out.";
    AuthPasswordChange => "auth.password_change", "A member changed their own password.";
    CatalogEntitiesImported => "catalog.entities_imported", "Entities were created or updated (a batch of an import, a refresh or the editor).";
    CatalogEntityDeleted => "catalog.entity_deleted", "An entity was deleted.";
    CatalogFetchHostAllowed => "catalog.fetch_host_allowed", "A host was added to the Locations fetch allowlist.";
    CatalogFetchHostRemoved => "catalog.fetch_host_removed", "A host was removed from the Locations fetch allowlist.";
    CatalogLocationDeleted => "catalog.location_deleted", "A Location was unregistered with its entities.";
    CatalogLocationRefreshFailed => "catalog.location_refresh_failed", "A Location could not be read at a refresh.";
    CatalogLocationRefused => "catalog.location_refused", "A Location URL was refused (scheme, host allowlist or address).";
    CatalogLocationRegistered => "catalog.location_registered", "A Location was registered.";
    CatalogLocationUpdated => "catalog.location_updated", "A Location was changed.";
    CsrfRefused => "csrf.refused", "A state-changing request from another site was refused.";
    MfaChange => "mfa.change", "A code check to change two-factor settings (disable, new recovery codes).";
    MfaDisabled => "mfa.disabled", "A member turned two-factor authentication off.";
    MfaEnrol => "mfa.enrol", "A member confirmed (or failed to confirm) a new authenticator.";
    MfaRecoveryCodeUsed => "mfa.recovery_code_used", "A recovery code was used to sign in.";
    MfaRecoveryCodesReplaced => "mfa.recovery_codes_replaced", "A member replaced their recovery codes.";
    MfaReset => "mfa.reset", "An admin reset a member's second factor.";
    MfaVerify => "mfa.verify", "A second-factor check at sign-in.";
    OauthClientCreated => "oauth_client.created", "An OAuth client was made.";
    OauthClientRevoked => "oauth_client.revoked", "An OAuth client was revoked.";
    OauthToken => "oauth.token", "A client-credentials token request.";
    SessionRevoked => "session.revoked", "A session was ended.";
    SessionRevokedAll => "session.revoked_all", "Every session of a member was ended.";
    SsoLogin => "sso.login", "A single sign-on through a provider.";
    SsoProviderAdded => "sso.provider_added", "A single sign-on provider was added.";
    SsoProviderRemoved => "sso.provider_removed", "A single sign-on provider was removed.";
    SsoProvisioned => "sso.provisioned", "A member was created at their first single sign-on.";
    SsoTestLogin => "sso.test_login", "An admin's test sign-in through a provider.";
    TenantMfaPolicyChanged => "tenant.mfa_policy_changed", "The tenant's two-factor policy changed.";
    TenantPlanChanged => "tenant.plan_changed", "The tenant moved to another plan.";
    TenantProvisioned => "tenant.provisioned", "The tenant was created.";
    TenantResumed => "tenant.resumed", "A suspended tenant was resumed.";
    TenantSsoRequiredChanged => "tenant.sso_required_changed", "'Single sign-on required' was turned on or off.";
    TenantSuspended => "tenant.suspended", "The tenant was suspended.";
    UserDeactivated => "user.deactivated", "An admin deactivated a member.";
    UserInvited => "user.invited", "An admin invited a member.";
    UserPasswordReset => "user.password_reset", "An admin reset a member's password.";
    UserRoleChanged => "user.role_changed", "A member's role changed.";
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Severity {
    Info,
    Notice,
    Warning,
    Critical,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Notice => "notice",
            Severity::Warning => "warning",
            Severity::Critical => "critical",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Outcome {
    Success,
    Failure,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Failure => "failure",
        }
    }
}

/// One stored audit event, as listed to admins.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AuditRecord {
    pub id: i64,
    pub occurred_at: chrono::DateTime<chrono::Utc>,
    pub actor: String,
    pub action: String,
    pub target: String,
    pub outcome: String,
    pub severity: String,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::AuditAction;

    #[test]
    fn action_names_are_unique_and_follow_the_rule() {
        let mut names = std::collections::HashSet::new();
        for action in AuditAction::ALL {
            let name = action.as_str();
            assert!(names.insert(name), "{name} is named twice");
            let (area, verb) = name.split_once('.').expect("<area>.<action>");
            let snake = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_lowercase() || c == '_');
            assert!(snake(area) && snake(verb), "{name} is not lower snake case");
            assert_eq!(AuditAction::parse(name), Some(*action));
        }
        assert_eq!(AuditAction::parse("oauth.token_refused"), Some(AuditAction::OauthToken), "older rows");
        assert_eq!(AuditAction::parse("test.marker"), None);
    }
}
