use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// A row of Settings → API access. Never carries the secret.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiKeyView {
    pub id: Uuid,
    pub name: String,
    /// The public part (`bcn_<prefix>_…`), so people can tell keys apart.
    pub prefix: String,
    pub owner_email: String,
    pub scopes: Vec<String>,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub last_used_ip: Option<String>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub usage: Usage,
}

impl ApiKeyView {
    pub fn status(&self, now: DateTime<Utc>) -> &'static str {
        if self.revoked_at.is_some() {
            "revoked"
        } else if self.expires_at.is_some_and(|at| at <= now) {
            "expired"
        } else {
            "active"
        }
    }
}

/// A registered OAuth 2.0 client (client-credentials grant).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientView {
    pub id: Uuid,
    pub client_id: String,
    pub name: String,
    pub role: String,
    pub scopes: Vec<String>,
    pub created_at: DateTime<Utc>,
    pub last_token_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub usage: Usage,
}

/// How many days of traffic Settings → API access charts per key and client.
pub const USAGE_DAYS: u32 = 14;

/// A key's or a client's requests over the last [`USAGE_DAYS`] days, oldest day first, every
/// day present (a quiet day is a zero, not a gap in the chart).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    pub days: Vec<DayUsage>,
}

impl Usage {
    pub fn total(&self) -> u64 {
        self.days.iter().map(|d| d.requests).sum()
    }

    pub fn failed(&self) -> u64 {
        self.days.iter().map(|d| d.failed).sum()
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DayUsage {
    pub day: NaiveDate,
    pub requests: u64,
    /// Answered with a status of 400 or above.
    pub failed: u64,
}

/// A secret just created, shown once.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Revealed {
    /// What the secret is for (key name or client id).
    pub label: String,
    pub secret: String,
}

/// Everything Settings → API access shows.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessOverview {
    pub keys: Vec<ApiKeyView>,
    /// Present for admins only.
    pub clients: Option<Vec<ClientView>>,
    /// The secret created by the previous request of this session, shown once.
    pub revealed: Option<Revealed>,
    pub now: DateTime<Utc>,
}
