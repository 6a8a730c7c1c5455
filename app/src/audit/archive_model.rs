//! What the retention and archive page shows.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArchiveOverview {
    /// Days events stay in the database before their month is archived.
    pub hot_days: i32,
    /// Where archives are kept (a directory or an `s3://` location).
    pub store: String,
    /// Months in the database, oldest first (`YYYY-MM`), restored ones included.
    pub hot_months: Vec<String>,
    /// Archived months, newest first.
    pub archives: Vec<ArchivedMonth>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArchivedMonth {
    pub month: String,
    /// `writing` (in progress or interrupted), `archived`, or `restored` (searchable again).
    pub state: String,
    pub events: i64,
    pub bytes: i64,
    pub object: String,
    pub archived_at: Option<DateTime<Utc>>,
    pub restored_at: Option<DateTime<Utc>>,
    /// GDPR erasures this month's archive has yet to be written again for.
    pub erasures_waiting: usize,
    /// Why the last attempt to write it again failed (it is retried every pass).
    pub erasure_error: Option<String>,
}

/// The retention an admin may choose, in days.
pub const HOT_DAYS: std::ops::RangeInclusive<i32> = 1..=3650;
