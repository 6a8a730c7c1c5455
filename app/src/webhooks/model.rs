//! What Settings → Webhooks shows and accepts.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The event kinds a webhook may subscribe to, with what each means. Kinds for one person
/// (their notifications) are not offered: what concerns a person is for that person.
pub const KINDS: [(&str, &str); 10] = [
    ("audit:recorded", "Every audit event: security and data changes, as the audit log records them."),
    ("deployment:status", "A build or deployment of a catalog entity started, succeeded or failed (from CI/CD)."),
    ("finops:budget", "A cost budget crossed one of its thresholds (once per period)."),
    ("finops:anomaly", "A day's cost of a service was far from its usual (robust z-score over the same weekdays)."),
    ("plugin:installed", "A plugin was installed: a new revision of the plugin set."),
    ("plugin:updated", "Installed plugins moved to newer versions: a new revision of the plugin set."),
    ("plugin:uninstalled", "A plugin was removed: a new revision of the plugin set."),
    ("plugin:toggled", "A plugin was enabled or disabled: a new revision of the plugin set."),
    ("plugin:rolled_back", "The plugin set was restored to an earlier revision."),
    ("plugin:health", "A runtime's report changed what it runs: a plugin loaded, failed or went away."),
];

/// The kind of the event "Send a test event" sends, to this webhook only.
pub const PING: &str = "webhook:ping";

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookView {
    pub id: Uuid,
    pub name: String,
    pub url: String,
    pub kinds: Vec<String>,
    pub enabled: bool,
    /// Why the portal turned it off, when it did.
    pub disabled_reason: Option<String>,
    pub failing_since: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub created_by: String,
    /// Deliveries not yet confirmed or given up.
    pub pending: i64,
    pub deliveries: Vec<DeliveryView>,
}

/// One event for one webhook: its state and every attempt.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryView {
    /// The `webhook-id` of every attempt (`msg_` and this id).
    pub id: Uuid,
    pub kind: String,
    pub occurred_at: DateTime<Utc>,
    /// The JSON body every attempt sends.
    pub body: String,
    pub attempts: i32,
    pub next_attempt_at: DateTime<Utc>,
    pub delivered_at: Option<DateTime<Utc>>,
    pub gave_up_at: Option<DateTime<Utc>>,
    pub log: Vec<AttemptView>,
}

impl DeliveryView {
    pub fn state(&self) -> &'static str {
        match (self.delivered_at, self.gave_up_at, self.attempts) {
            (Some(_), _, _) => "delivered",
            (None, Some(_), _) => "gave up",
            (None, None, 0) => "queued",
            (None, None, _) => "retrying",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttemptView {
    pub attempted_at: DateTime<Utc>,
    /// The headers sent (name, value), the signature among them.
    pub request_headers: Vec<(String, String)>,
    /// The receiver's HTTP status; none when it could not be reached.
    pub status: Option<i16>,
    /// The start of what the receiver answered.
    pub response_body: Option<String>,
    pub error: Option<String>,
    pub duration_ms: i32,
}

impl AttemptView {
    pub fn succeeded(&self) -> bool {
        self.status.is_some_and(|s| (200..300).contains(&s))
    }
}

/// A new webhook's signing secret, shown once.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewSecret {
    pub name: String,
    pub secret: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhooksOverview {
    pub webhooks: Vec<WebhookView>,
    /// The secret of the webhook this admin just added, shown once.
    pub revealed: Option<NewSecret>,
}
