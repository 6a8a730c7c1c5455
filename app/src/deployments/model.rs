//! What the deployment views show, and the providers Beacon takes CI/CD events from.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::AppError;

/// Where providers post: `/api/webhooks/<provider>` on the tenant's host.
pub const INBOUND_PREFIX: &str = "/api/webhooks/";

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Provider {
    GitHub,
    Jenkins,
    ArgoCd,
}

impl Provider {
    pub const ALL: [Provider; 3] = [Provider::GitHub, Provider::Jenkins, Provider::ArgoCd];

    pub fn as_str(self) -> &'static str {
        match self {
            Provider::GitHub => "github",
            Provider::Jenkins => "jenkins",
            Provider::ArgoCd => "argocd",
        }
    }

    pub fn parse(raw: &str) -> Result<Self, AppError> {
        Self::ALL
            .into_iter()
            .find(|p| p.as_str() == raw)
            .ok_or_else(|| AppError::not_found(format!("`{raw}` is not a CI/CD provider (github, jenkins, argocd)")))
    }

    pub fn label(self) -> &'static str {
        match self {
            Provider::GitHub => "GitHub",
            Provider::Jenkins => "Jenkins",
            Provider::ArgoCd => "Argo CD",
        }
    }

    /// The catalog annotation whose value names what this provider's events are about.
    pub fn annotation(self) -> &'static str {
        match self {
            Provider::GitHub => "github.com/project-slug",
            Provider::Jenkins => "jenkins.io/job-full-name",
            Provider::ArgoCd => "argocd/app-name",
        }
    }
}

/// Where a build or deployment stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Status {
    Queued,
    InProgress,
    Success,
    Failure,
    Cancelled,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Queued => "queued",
            Status::InProgress => "in_progress",
            Status::Success => "success",
            Status::Failure => "failure",
            Status::Cancelled => "cancelled",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        [Status::Queued, Status::InProgress, Status::Success, Status::Failure, Status::Cancelled]
            .into_iter()
            .find(|s| s.as_str() == raw)
    }

    pub fn finished(self) -> bool {
        matches!(self, Status::Success | Status::Failure | Status::Cancelled)
    }

    pub fn label(self) -> &'static str {
        match self {
            Status::Queued => "Queued",
            Status::InProgress => "In progress",
            Status::Success => "Succeeded",
            Status::Failure => "Failed",
            Status::Cancelled => "Cancelled",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeploymentView {
    pub provider: Provider,
    /// `build` or `deployment`.
    pub kind: String,
    pub name: Option<String>,
    pub entity_refs: Vec<String>,
    pub environment: Option<String>,
    pub version: Option<String>,
    pub commit_sha: Option<String>,
    pub status: Status,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub url: Option<String>,
    pub updated_at: DateTime<Utc>,
}

/// The four DORA keys over a window of days, for production deployments.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Dora {
    pub window_days: i64,
    /// Successful production deployments in the window, and per week.
    pub deployments: u32,
    pub per_week: f64,
    /// Median hours from commit to its production deployment; none without commit times.
    pub lead_time_hours: Option<f64>,
    /// Failed production deployments over all finished ones (success or failure).
    pub change_failure_rate: Option<f64>,
    /// Median hours from a failed production deployment to the next successful one.
    pub time_to_restore_hours: Option<f64>,
    /// Per week of the window, oldest first: (week's Monday, successes, failures).
    pub weekly: Vec<(chrono::NaiveDate, u32, u32)>,
}

/// The deployments panel of an entity page.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EntityDeployments {
    /// What the figures cover: "this entity", "the 4 parts of this system", ….
    pub scope: String,
    pub recent: Vec<DeploymentView>,
    pub dora: Dora,
    /// For an entity with no events: the annotations that would match them.
    pub annotations: Vec<String>,
}

/// One provider as Settings → CI/CD shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IntegrationView {
    pub provider: Provider,
    /// Where the provider posts.
    pub endpoint: String,
    pub configured: bool,
    pub created_by: Option<String>,
    pub received: i64,
    pub refused: i64,
    pub last_received_at: Option<DateTime<Utc>>,
    pub last_refused_at: Option<DateTime<Utc>>,
}

/// Events that matched no entity, with the annotation that would match them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnmatchedView {
    pub provider: Provider,
    pub annotation: String,
    pub project: String,
    pub events: i64,
    pub last_at: DateTime<Utc>,
}

/// A new secret, shown once.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewCicdSecret {
    pub provider: Provider,
    pub secret: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CicdOverview {
    pub integrations: Vec<IntegrationView>,
    pub unmatched: Vec<UnmatchedView>,
    pub revealed: Option<NewCicdSecret>,
}
