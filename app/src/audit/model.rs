use serde::{Deserialize, Serialize};

/// Declares the closed set of audit actions: each variant with its stored name, its severity
/// and what it records, in one place.
macro_rules! audit_actions {
    ($($variant:ident => $name:literal, $severity:ident, $meaning:literal;)*) => {
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

            /// How much the action matters, by Backstage's auditor rule (see [`Severity`]). A
            /// property of the action, so rows of every age filter alike.
            pub fn severity(self) -> Severity {
                match self {
                    $(AuditAction::$variant => Severity::$severity,)*
                }
            }

            /// What the action records, for people reading the log.
            pub fn meaning(self) -> &'static str {
                match self {
                    $(AuditAction::$variant => $meaning,)*
                }
            }

            /// The action a stored name records, including the names rows written before the
            /// registry still carry (the log is append-only: old rows are never rewritten).
            pub fn parse(name: &str) -> Option<Self> {
                let legacy = LEGACY_NAMES.iter().find(|(old, _)| *old == name).map(|(_, action)| *action);
                legacy.or_else(|| Self::ALL.iter().copied().find(|a| a.as_str() == name))
            }

            /// Every name rows of this action carry: the current one and any older ones. What an
            /// action or severity filter matches.
            pub fn stored_names(self) -> impl Iterator<Item = &'static str> {
                let older = LEGACY_NAMES.iter().filter(move |(_, action)| *action == self).map(|(old, _)| *old);
                std::iter::once(self.as_str()).chain(older)
            }
        }
    };
}

/// Names rows written before the registry carry, with the action they record.
const LEGACY_NAMES: &[(&str, AuditAction)] = &[
    ("auth.password_changed", AuditAction::AuthPasswordChange),
    ("mfa.enrolled", AuditAction::MfaEnrol),
    ("oauth.token_issued", AuditAction::OauthToken),
    ("oauth.token_refused", AuditAction::OauthToken),
];

audit_actions! {
    AccountExported => "account.exported", Low, "A member downloaded everything the portal holds about them in this tenant.";
    AllowlistAdded => "allowlist.added", Critical, "An IP allowlist entry was added.";
    AllowlistRemoved => "allowlist.removed", Critical, "An IP allowlist entry was removed.";
    AllowlistCleared => "allowlist.cleared", Critical, "An operator emptied the IP allowlist from the command line.";
    AllowlistRefused => "allowlist.refused", Medium, "A request from an address outside the allowlist was refused (once a minute per address).";
    ApiKeyCreated => "apikey.created", High, "An API key was made.";
    ApiKeyFirstUsed => "apikey.first_used", Low, "An API key was used for the first time.";
    ApiKeyRejected => "apikey.rejected", Medium, "A presented API key was unknown, revoked or expired.";
    ApiKeyRevoked => "apikey.revoked", High, "An API key was revoked.";
    AuditArchiveErased => "audit.archive_erased", High, "An archived month of the audit log was written again with erased people replaced by their pseudonyms.";
    AuditExported => "audit.exported", Low, "Audit events were downloaded (the filter is in the details).";
    AuditMonthArchived => "audit.month_archived", Medium, "A month of the audit log was archived to object storage and removed from the database.";
    AuditMonthRestored => "audit.month_restored", Medium, "An archived month of the audit log was restored for searching.";
    AuditMonthReturned => "audit.month_returned", Medium, "A restored month of the audit log was removed from the database again (its archive stays).";
    AuditRetentionChanged => "audit.retention_changed", Critical, "How long audit events stay in the database before archiving was changed.";
    AuditStreamAdded => "audit.stream_added", Critical, "A destination the audit log is streamed to was added.";
    AuditStreamRemoved => "audit.stream_removed", Critical, "A destination the audit log is streamed to was removed.";
    AuditVerified => "audit.verified", Low, "The audit log's integrity was checked (the result is in the details).";
    AuthLocked => "auth.locked", High, "Too many failures locked an account or an address for 15 minutes.";
    AuthLogin => "auth.login", Low, "A password sign-in.";
    AuthLogout => "auth.logout", Low, "A sign-out.";
    AuthPasswordChange => "auth.password_change", High, "A member changed their own password.";
    CatalogEntitiesImported => "catalog.entities_imported", Medium, "Entities were created or updated (a batch of an import, a refresh or the editor).";
    CatalogEntityDeleted => "catalog.entity_deleted", Medium, "An entity was deleted.";
    CatalogFetchHostAllowed => "catalog.fetch_host_allowed", Critical, "A host was added to the Locations fetch allowlist.";
    CatalogFetchHostRemoved => "catalog.fetch_host_removed", Critical, "A host was removed from the Locations fetch allowlist.";
    CatalogLocationDeleted => "catalog.location_deleted", Medium, "A Location was unregistered with its entities.";
    CatalogLocationRefreshFailed => "catalog.location_refresh_failed", Low, "A Location could not be read at a refresh.";
    CatalogLocationRefused => "catalog.location_refused", Medium, "A Location URL was refused (scheme, host allowlist or address).";
    CatalogLocationRegistered => "catalog.location_registered", Medium, "A Location was registered.";
    CatalogLocationUpdated => "catalog.location_updated", Medium, "A Location was changed.";
    BriefExported => "brief.exported", Low, "A competitive brief's PDF was downloaded.";
    BriefGenerated => "brief.generated", Medium, "A competitive brief was generated, or failed (the target, threat score, timing or error are in the details).";
    BriefRequested => "brief.requested", Low, "A competitive brief was asked for (it is generated in the background).";
    BriefViewed => "brief.viewed", Low, "A competitive brief was opened.";
    CicdSecretSet => "cicd.secret_set", Critical, "A CI/CD provider's webhook secret was created or replaced: the old one stops working.";
    CompaniesImported => "company.imported", Medium, "Company data was imported (counts of created, updated and refused records are in the details).";
    CompanyChanged => "company.changed", Medium, "A company was created, edited or removed (the fields changed are named; sensitive values never are).";
    CompanySecretsRotated => "company.secrets_rotated", High, "Sensitive company fields were sealed again under the current key (counts in the details).";
    CsrfRefused => "csrf.refused", Medium, "A state-changing request from another site was refused.";
    DeploymentRecorded => "deployment.recorded", Medium, "A CI/CD provider reported a build or deployment (provider, project, status and matched entities in the details).";
    FinopsAllocationRulesChanged => "finops.allocation_rules_changed", Medium, "The cost allocation rules changed: a rule added or removed, or an earlier revision restored (both lists are in the details).";
    FinopsAnomalyAcknowledged => "finops.anomaly_acknowledged", Low, "A cost anomaly was acknowledged.";
    FinopsAnomalyDetected => "finops.anomaly_detected", Medium, "A day's cost of a service of an allocation target was far from its baseline (expected, range and actual in the details).";
    FinopsAnomalyFloorsChanged => "finops.anomaly_floors_changed", Medium, "The floors below which a cost deviation is not an anomaly changed.";
    FinopsCurrencyRatesChanged => "finops.currency_rates_changed", Medium, "The reporting currency or the rates of the converted cost view changed.";
    FinopsEngineerCostChanged => "finops.engineer_cost_changed", Low, "What an engineer costs a month, for reading cost as engineers, changed.";
    FinopsBudgetChanged => "finops.budget_changed", Medium, "A cost budget was added or removed (its scope, period, amount and thresholds are in the details).";
    FinopsBudgetThresholdCrossed => "finops.budget_threshold_crossed", Medium, "A cost budget's threshold was crossed by the actual spend or the forecast (once per period).";
    FinopsCostsImported => "finops.costs_imported", Medium, "A cloud bill was imported, or refused whole (totals, replaced periods or the refused rows are in the details).";
    MfaChange => "mfa.change", High, "A code check to change two-factor settings (disable, new recovery codes).";
    MfaDisabled => "mfa.disabled", High, "A member turned two-factor authentication off.";
    MfaEnrol => "mfa.enrol", High, "A member confirmed (or failed to confirm) a new authenticator.";
    MfaRecoveryCodeUsed => "mfa.recovery_code_used", High, "A recovery code was used to sign in.";
    MfaRecoveryCodesReplaced => "mfa.recovery_codes_replaced", High, "A member replaced their recovery codes.";
    MfaReset => "mfa.reset", Critical, "An admin reset a member's second factor.";
    MfaVerify => "mfa.verify", Low, "A second-factor check at sign-in.";
    PluginHealthReported => "plugin.health_reported", Low, "A runtime reported plugins it runs that differ from its last report (loaded, failed, or gone); identical reports are heartbeats and are not recorded.";
    PluginChangeRequested => "plugin.change_requested", Medium, "A maintainer asked for a change of the plugin set (the operation and the reason are in the details); an admin approves or rejects it.";
    PluginChangeRequestDecided => "plugin.change_request_decided", Medium, "An admin approved (with the revision it made) or rejected a maintainer's request to change the plugin set.";
    PluginPrivateEntryChanged => "plugin.private_entry_changed", Medium, "A tenant's own directory entry was added (its packages, read from the registry) or removed.";
    PluginPolicyChanged => "plugin.policy_changed", Medium, "The tenant's restriction of the plugin directory changed (support levels, blocked plugins, active only; before and after in the details).";
    PluginPlatformChanged => "plugin.platform_changed", Medium, "The runtime or Backstage release the tenant's plugins are checked against changed.";
    PluginsChanged => "plugin.changed", Medium, "The plugin set changed (a new revision: install, update, uninstall, enable, disable, rollback), or a change was refused with its explanation.";
    NotificationPreferenceChanged => "notification.preference_changed", Low, "A member chose how they are told of one kind of notification.";
    NotificationsRead => "notification.read", Low, "A member marked notifications read (one, or all of them).";
    OauthClientCreated => "oauth_client.created", High, "An OAuth client was made.";
    OauthClientRevoked => "oauth_client.revoked", High, "An OAuth client was revoked.";
    OauthToken => "oauth.token", Low, "A client-credentials token request.";
    SessionRevoked => "session.revoked", Medium, "A session was ended.";
    SessionRevokedAll => "session.revoked_all", Medium, "Every session of a member was ended.";
    SsoLogin => "sso.login", Low, "A single sign-on through a provider.";
    SsoProviderAdded => "sso.provider_added", Critical, "A single sign-on provider was added.";
    SsoProviderRemoved => "sso.provider_removed", Critical, "A single sign-on provider was removed.";
    SsoProvisioned => "sso.provisioned", High, "A member was created at their first single sign-on.";
    SsoTestLogin => "sso.test_login", Low, "An admin's test sign-in through a provider.";
    TenantMfaPolicyChanged => "tenant.mfa_policy_changed", Critical, "The tenant's two-factor policy changed.";
    TenantPlanChanged => "tenant.plan_changed", High, "The tenant moved to another plan.";
    TenantProvisioned => "tenant.provisioned", Critical, "The tenant was created.";
    TenantResumed => "tenant.resumed", Critical, "A suspended tenant was resumed.";
    TenantSsoRequiredChanged => "tenant.sso_required_changed", Critical, "'Single sign-on required' was turned on or off.";
    TenantSuspended => "tenant.suspended", Critical, "The tenant was suspended.";
    UserDeactivated => "user.deactivated", High, "An admin deactivated a member.";
    UserErased => "user.erased", High, "An admin erased a member: their personal data removed or replaced by a pseudonym everywhere in the tenant.";
    UserInvited => "user.invited", High, "An admin invited a member.";
    UserPasswordReset => "user.password_reset", High, "An admin reset a member's password.";
    UserRoleChanged => "user.role_changed", High, "A member's role changed.";
    WebhookAdded => "webhook.added", Critical, "An outbound webhook was added: the events of its kinds are sent to its URL.";
    WebhookChanged => "webhook.changed", High, "An outbound webhook was turned on or off by an admin.";
    WebhookDisabled => "webhook.disabled", High, "The portal turned an outbound webhook off after its deliveries had failed for a day.";
    WebhookRedelivered => "webhook.redelivered", Low, "An admin asked for a webhook delivery to be sent again, or sent a test event.";
    WebhookRemoved => "webhook.removed", Critical, "An outbound webhook was removed with its delivery log.";
}

/// Backstage's auditor severities: `low` for reads, `medium` for writes, `high` for changes to
/// who may do what (roles, keys, credentials), `critical` for the tenant's root and security
/// settings (allowlists, single sign-on, policies, the tenant itself).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Severity {
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    pub const ALL: [Severity; 4] = [Severity::Low, Severity::Medium, Severity::High, Severity::Critical];

    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == raw)
    }

    /// Every action of this severity: what a severity filter matches.
    pub fn actions(self) -> impl Iterator<Item = AuditAction> {
        AuditAction::ALL.iter().copied().filter(move |a| a.severity() == self)
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

    pub fn parse(raw: &str) -> Option<Self> {
        [Outcome::Success, Outcome::Failure].into_iter().find(|o| o.as_str() == raw)
    }
}

/// One stored audit event, as listed to auditors.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AuditRecord {
    pub id: i64,
    pub occurred_at: chrono::DateTime<chrono::Utc>,
    pub actor: String,
    pub action: String,
    pub target: String,
    pub outcome: String,
    /// From the action (see [`Severity`]); `None` for a name outside the registry.
    pub severity: Option<Severity>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub request_id: Option<String>,
}

/// An event with everything stored about it, for its detail panel and for exports.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AuditDetail {
    #[serde(flatten)]
    pub record: AuditRecord,
    pub actor_user_id: Option<uuid::Uuid>,
    /// What changed (before/after values, counts, reasons), as the writing service recorded it.
    pub details: serde_json::Value,
    /// The event's place in the tenant's hash chain; `None` for events older than the chain.
    pub chain_seq: Option<i64>,
}

/// What a verification of the tenant's log found.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Verification {
    /// Chained events walked, in chain order.
    pub events_checked: i64,
    /// The last event (by id) of the unbroken stretch from the start; `None` when the problem
    /// is at the very first event, or the chain is empty.
    pub intact_through: Option<i64>,
    /// Signed checkpoints checked, and the latest one's position and time.
    pub checkpoints: i64,
    pub latest_checkpoint: Option<(i64, chrono::DateTime<chrono::Utc>)>,
    /// Events written before the chain existed: kept, but not covered.
    pub before_chain: i64,
    /// Events whose personal data was erased: their place in the chain verifies, their
    /// personal fields no longer can.
    pub erased: i64,
    /// Chain positions whose events were archived: accounted for by a signed manifest (each
    /// archive verifies on its own, `server audit check-archive`).
    pub archived: i64,
    pub problem: Option<Tampering>,
}

impl Verification {
    pub fn intact(&self) -> bool {
        self.problem.is_none()
    }

    /// One line for people: what was proven, or what broke.
    pub fn summary(&self) -> String {
        match (&self.problem, self.intact_through) {
            (Some(problem), _) => problem.message.clone(),
            (None, Some(last)) => format!("Intact through event #{last} ({} events checked).", self.events_checked),
            (None, None) => "Intact: no events have been chained yet.".to_owned(),
        }
    }
}

/// The first sign of tampering the verifier met.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tampering {
    pub kind: TamperKind,
    /// The event concerned, where one can be named.
    pub event_id: Option<i64>,
    pub message: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum TamperKind {
    /// An event's stored fields no longer match its hashes.
    Changed,
    /// An event, or a stretch of the chain, is gone.
    Removed,
    /// An event is in the table but not in the chain.
    Inserted,
    /// The chain ends before a signed checkpoint's position.
    Truncated,
    /// The chain was rewritten up to a checkpoint, or a checkpoint's signature is wrong.
    Checkpoint,
}

impl TamperKind {
    pub fn as_str(self) -> &'static str {
        match self {
            TamperKind::Changed => "changed",
            TamperKind::Removed => "removed",
            TamperKind::Inserted => "inserted",
            TamperKind::Truncated => "truncated",
            TamperKind::Checkpoint => "checkpoint",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{AuditAction, Severity};

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
        for severity in Severity::ALL {
            assert_eq!(Severity::parse(severity.as_str()), Some(severity));
            assert!(severity.actions().next().is_some(), "{severity:?} has actions");
        }
    }
}
