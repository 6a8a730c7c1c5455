//! What the notifications page and the bell show.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::AppError;

/// Where the unsubscribe links of notification mail point (`GET` asks, `POST` does it): they
/// work without signing in, authenticated by their token.
pub const UNSUBSCRIBE_PATH: &str = "/api/notifications/unsubscribe";

/// What a notification is about; a member chooses per kind how they are told.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum NotificationKind {
    /// Your own account: a sign-in from a new browser, your password or second factor changed
    /// or reset, your sessions ended or your role changed by an admin.
    AccountSecurity,
    /// For admins: a change another admin made to the tenant's security (single sign-on, the
    /// two-factor policy, the IP allowlist, audit streams and retention, fetch hosts).
    TenantSecurity,
    /// An import you started could not be completed.
    ImportFailed,
    /// A catalog entity was given to one of your teams (its `spec.owner` now names it).
    OwnershipAssigned,
    /// Someone else changed or deleted an entity one of your teams owns.
    EntityChanged,
    /// For admins: an outbound webhook the portal turned off after failing for a day.
    WebhookDisabled,
    /// A deployment of an entity one of your teams owns failed.
    DeploymentFailed,
    /// A cost budget of your team (or, for FinOps maintainers, the organisation's) crossed a
    /// threshold.
    BudgetThreshold,
    /// A day's cost of something your team owns was far from its usual.
    CostAnomaly,
    /// For admins: newer versions of installed plugins fit the tenant's Backstage release.
    PluginUpdate,
    /// For admins: a maintainer asked for a change of the plugin set; for that maintainer: an
    /// admin approved or rejected it.
    PluginRequest,
}

impl NotificationKind {
    pub const ALL: [NotificationKind; 11] = [
        NotificationKind::AccountSecurity,
        NotificationKind::TenantSecurity,
        NotificationKind::ImportFailed,
        NotificationKind::OwnershipAssigned,
        NotificationKind::EntityChanged,
        NotificationKind::WebhookDisabled,
        NotificationKind::DeploymentFailed,
        NotificationKind::BudgetThreshold,
        NotificationKind::CostAnomaly,
        NotificationKind::PluginUpdate,
        NotificationKind::PluginRequest,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            NotificationKind::AccountSecurity => "account_security",
            NotificationKind::TenantSecurity => "tenant_security",
            NotificationKind::ImportFailed => "import_failed",
            NotificationKind::OwnershipAssigned => "ownership_assigned",
            NotificationKind::EntityChanged => "entity_changed",
            NotificationKind::WebhookDisabled => "webhook_disabled",
            NotificationKind::DeploymentFailed => "deployment_failed",
            NotificationKind::BudgetThreshold => "budget_threshold",
            NotificationKind::CostAnomaly => "cost_anomaly",
            NotificationKind::PluginUpdate => "plugin_update",
            NotificationKind::PluginRequest => "plugin_request",
        }
    }

    pub fn parse(raw: &str) -> Result<Self, AppError> {
        Self::ALL
            .into_iter()
            .find(|k| k.as_str() == raw)
            .ok_or_else(|| AppError::invalid(format!("`{raw}` is not a kind of notification")))
    }

    pub fn label(self) -> &'static str {
        match self {
            NotificationKind::AccountSecurity => "Your account's security",
            NotificationKind::TenantSecurity => "Security changes in the organisation",
            NotificationKind::ImportFailed => "Imports you started that failed",
            NotificationKind::OwnershipAssigned => "Entities given to your teams",
            NotificationKind::EntityChanged => "Changes by others to what your teams own",
            NotificationKind::WebhookDisabled => "Webhooks that stopped",
            NotificationKind::DeploymentFailed => "Failed deployments of what your teams own",
            NotificationKind::BudgetThreshold => "Budgets crossing a threshold",
            NotificationKind::CostAnomaly => "Cost anomalies of what your teams own",
            NotificationKind::PluginUpdate => "Plugin updates for your platform",
            NotificationKind::PluginRequest => "Plugin change requests",
        }
    }

    pub fn describe(self) -> &'static str {
        match self {
            NotificationKind::AccountSecurity => {
                "A sign-in from a new browser, your password or second factor changed, your sessions ended or your role changed."
            }
            NotificationKind::TenantSecurity => {
                "Admins only: single sign-on, two-factor policy, IP allowlist, audit streams and retention changed by another admin."
            }
            NotificationKind::ImportFailed => "A catalog or cost import you started could not be completed.",
            NotificationKind::OwnershipAssigned => {
                "A catalog entity's owner became one of your teams (in the editor or the API; bulk imports and refreshes are not told)."
            }
            NotificationKind::EntityChanged => {
                "Someone else edited or deleted an entity your team owns (in the editor or the API)."
            }
            NotificationKind::WebhookDisabled => {
                "Admins only: an outbound webhook was turned off because its receiver had failed for a day."
            }
            NotificationKind::DeploymentFailed => {
                "A deployment reported by GitHub, Jenkins or Argo CD of an entity your team owns failed."
            }
            NotificationKind::BudgetThreshold => {
                "A cost budget of your team, or the organisation's for FinOps maintainers, crossed a threshold."
            }
            NotificationKind::CostAnomaly => {
                "A day's cost of a service of what your team owns (or of unallocated cost, for FinOps maintainers) was far from its usual."
            }
            NotificationKind::PluginUpdate => {
                "Admins only: a registry refresh found newer versions of installed plugins that fit your Backstage release (told once per version)."
            }
            NotificationKind::PluginRequest => {
                "For admins, a maintainer asked for a change of the plugin set; for the maintainer who asked, an admin approved or rejected it."
            }
        }
    }

    /// Whether a member may turn the kind off. Not for their own account's security: being
    /// told of a change one did not make is the point (ASVS 5.0 6.3.7).
    pub fn may_be_silenced(self) -> bool {
        self != NotificationKind::AccountSecurity
    }

    /// Whether a member may get this kind as a daily digest: the kinds that can come many a
    /// day. Security is told at once.
    pub fn may_be_digested(self) -> bool {
        matches!(
            self,
            NotificationKind::OwnershipAssigned
                | NotificationKind::EntityChanged
                | NotificationKind::DeploymentFailed
                | NotificationKind::CostAnomaly
                | NotificationKind::PluginUpdate
        )
    }
}

/// How a member is told of one kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Channel {
    /// The bell and the notifications page.
    App,
    /// The bell, and a mail to the member's address (when the server has SMTP configured).
    Email,
    /// The bell, and one mail a day listing them (noisy kinds only).
    Digest,
    Off,
}

impl Channel {
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::App => "app",
            Channel::Email => "email",
            Channel::Digest => "digest",
            Channel::Off => "off",
        }
    }

    pub fn parse(raw: &str) -> Result<Self, AppError> {
        match raw {
            "app" => Ok(Channel::App),
            "email" => Ok(Channel::Email),
            "digest" => Ok(Channel::Digest),
            "off" => Ok(Channel::Off),
            other => Err(AppError::invalid(format!("`{other}` is not a channel; use app, email, digest or off"))),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotificationView {
    pub id: i64,
    pub kind: NotificationKind,
    pub title: String,
    pub body: String,
    /// A path inside the portal where the member can act on it.
    pub link: Option<String>,
    pub created_at: DateTime<Utc>,
    pub read: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Preference {
    pub kind: NotificationKind,
    pub channel: Channel,
}

/// The notifications page: newest first, a page at a time.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotificationsPage {
    pub items: Vec<NotificationView>,
    pub unread: i64,
    /// The `before` of the next (older) page, if there is one.
    pub older: Option<i64>,
    pub preferences: Vec<Preference>,
    /// Whether the server can send mail (SMTP configured): only then is "email" offered.
    pub email_available: bool,
}
