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
