use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

/// Days shown by the daily charts, and weeks by the weekly one.
pub const DAYS: usize = 30;
pub const WEEKS: usize = 12;

/// What a counter counts ([`crate::insights::counter`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Metric {
    /// A catalog entity page was shown to someone.
    EntityView,
    /// A catalog search in the portal found nothing.
    EmptySearch,
    /// A member (the subject is their account id) made a request, in the browser or with a key.
    ActiveMember,
}

impl Metric {
    pub fn as_str(self) -> &'static str {
        match self {
            Metric::EntityView => "entity_view",
            Metric::EmptySearch => "empty_search",
            Metric::ActiveMember => "active_member",
        }
    }
}

/// One series of a chart: a value per day (or week), oldest first.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Series {
    pub label: String,
    pub values: Vec<u64>,
}

impl Series {
    pub fn total(&self) -> u64 {
        self.values.iter().sum()
    }
}

/// A subject (an entity, a search, a key) and how often it came up.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ranked {
    pub name: String,
    /// Where it links to, when it has a page.
    pub href: Option<String>,
    pub count: u64,
    /// Of which failed (API calls answered 400 and up).
    pub failed: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsageInsights {
    /// The first day of the daily charts; they end today (UTC).
    pub first_day: NaiveDate,
    /// The Monday of the weekly chart's first week.
    pub first_week: NaiveDate,
    pub active_daily: Series,
    pub active_weekly: Series,
    /// Sign-ins per day: password, single sign-on; then API keys in use per day.
    pub sign_ins: Vec<Series>,
    pub most_viewed: Vec<Ranked>,
    pub empty_searches: Vec<Ranked>,
    pub api_callers: Vec<Ranked>,
}
