//! Catalog types shared by pages and server.

use serde::{Deserialize, Serialize};

/// A row of the catalog list.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EntitySummary {
    pub uid: String,
    pub kind: String,
    pub namespace: String,
    pub name: String,
    pub title: Option<String>,
    pub description: Option<String>,
    pub owner: Option<String>,
    pub spec_type: Option<String>,
    pub lifecycle: Option<String>,
    pub tags: Vec<String>,
    /// For a search: the best matching passage, HTML-escaped, matches wrapped in `<mark>`.
    pub snippet: Option<String>,
}

/// What happened to one document of an import.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum DocumentOutcome {
    Created,
    Updated,
    Unchanged,
    Rejected(Vec<String>),
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DocumentResult {
    /// 1-based position of the document in the upload.
    pub document: usize,
    pub entity_ref: Option<String>,
    pub outcome: DocumentOutcome,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportReport {
    pub results: Vec<DocumentResult>,
    /// Entities a Location refresh no longer emitted, now flagged `backstage.io/orphan`.
    #[serde(default)]
    pub orphaned: Vec<String>,
}

impl ImportReport {
    pub fn count(&self, wanted: fn(&DocumentOutcome) -> bool) -> usize {
        self.results.iter().filter(|r| wanted(&r.outcome)).count()
    }
}

/// One relation of an entity, with whether its target exists in the catalog.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RelationView {
    pub relation: String,
    pub target_ref: String,
    pub target_path: Option<String>,
}

/// Everything the entity page shows.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EntityDetail {
    pub summary: EntitySummary,
    pub entity_ref: String,
    /// The entity as it was written, which the editor saves back as it is: the server-managed
    /// `metadata.uid` is not in it (the summary carries it).
    pub yaml: String,
    pub labels: Vec<(String, String)>,
    pub annotations: Vec<(String, String)>,
    pub links: Vec<(String, String)>,
    pub relations: Vec<RelationView>,
    /// The latest audit events that wrote or deleted this entity.
    pub history: Vec<crate::audit::model::AuditRecord>,
}

/// A facet value and how many entities have it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FacetCount {
    pub value: String,
    pub count: i64,
}

/// Where a background import stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum JobStatus {
    Running,
    Done,
    Failed,
    /// The server stopped while the job ran; what was written before stays written.
    Interrupted,
}

/// An import running (or run) in the background, for the progress page.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportJob {
    pub id: String,
    pub source: String,
    pub status: JobStatus,
    pub total: i32,
    pub processed: i32,
    pub report: Option<ImportReport>,
    pub error: Option<String>,
}

/// A registered Location, as Backstage's `GET /locations/:id` shows it, plus its last refresh.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LocationView {
    pub id: String,
    pub target: String,
    pub refreshed_at: Option<String>,
    pub refresh_error: Option<String>,
    pub entities: i64,
}
