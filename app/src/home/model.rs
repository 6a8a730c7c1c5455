//! What the home page shows.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::notifications::model::NotificationView;

/// A team (a catalog Group) the member is in.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Team {
    pub entity_ref: String,
    /// Its title or name; none when the catalog has no such Group (a dangling `memberOf`).
    pub name: Option<String>,
}

impl Team {
    pub fn label(&self) -> &str {
        self.name.as_deref().unwrap_or(&self.entity_ref)
    }
}

/// An entity one of the member's teams owns.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OwnedEntity {
    pub entity_ref: String,
    pub kind: String,
    pub namespace: String,
    pub name: String,
    pub title: Option<String>,
    pub spec_type: Option<String>,
    pub lifecycle: Option<String>,
    pub owner_ref: Option<String>,
    pub updated_at: DateTime<Utc>,
    /// A deployment of it failed in the last 24 hours (listed first).
    pub deploy_failed: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HomeView {
    pub display_name: String,
    /// The catalog User whose `spec.profile.email` is the member's, if there is one: how the
    /// portal knows their teams.
    pub catalog_user: Option<String>,
    pub teams: Vec<Team>,
    /// What the teams own, most recently changed first (at most `OWNED_SHOWN`).
    pub owned: Vec<OwnedEntity>,
    pub owned_total: i64,
    pub unread: i64,
    /// The newest unread notifications (at most five).
    pub notifications: Vec<NotificationView>,
}

/// Owned entities the home page lists; the catalog shows the rest.
pub const OWNED_SHOWN: i64 = 20;
