//! What the audit streaming settings show: destinations, their progress and their deliveries.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DestinationView {
    pub id: Uuid,
    pub name: String,
    pub url: String,
    pub created_at: DateTime<Utc>,
    pub created_by: String,
    /// The last chain position the receiver confirmed.
    pub delivered_seq: i64,
    /// Events committed since, waiting to be sent.
    pub backlog: i64,
    pub failures: i32,
    pub next_attempt_at: DateTime<Utc>,
    pub last_success_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    pub deliveries: Vec<DeliveryView>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryView {
    pub delivery_id: Uuid,
    pub attempted_at: DateTime<Utc>,
    pub first_seq: i64,
    pub last_seq: i64,
    pub events: i32,
    /// The receiver's HTTP status; none when it could not be reached.
    pub status: Option<i16>,
    pub error: Option<String>,
    pub duration_ms: i32,
}

impl DeliveryView {
    pub fn succeeded(&self) -> bool {
        self.status.is_some_and(|s| (200..300).contains(&s))
    }
}

/// A new destination's signing secret, shown once.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewSecret {
    pub name: String,
    pub secret: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StreamsOverview {
    pub destinations: Vec<DestinationView>,
    /// The secret of the destination just added by this admin, shown once.
    pub revealed: Option<NewSecret>,
}
