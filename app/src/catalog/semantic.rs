//! Semantic search of the catalog (`GET /api/catalog/search/semantic`, seed 000): entities
//! ranked by how close their title and description are in meaning to the query, with the same
//! sentence embeddings competitor discovery uses (`crate::embedding`). Entities are embedded
//! in the background; the answer says how many of them are so far.
//!
//! Each server keeps, per tenant, the entities with their vectors in memory (bytes per value:
//! 39 MB per 100,000 entities), rebuilt when the catalog changes, or the stored vectors did
//! and the index is older than `FRESH_ENOUGH`; a rebuild reads again only the vectors it did
//! not have.

use std::collections::HashMap;
use std::sync::Arc;

use super::refs::EntityRef;
use super::repo::{self, EntityText};
use crate::db::Database;
use crate::embedding::vectors::VectorSet;
use crate::embedding::{self, entity_text, text_hash, Embedder};
use crate::error::{AppError, AppResult};
use crate::kept::KeptPerTenant;
use crate::tenancy::model::Tenant;

/// The longest query embedded: a question, not a document.
pub const MAX_QUERY_CHARS: usize = 1_000;

/// While texts are being embedded the stored vectors change every second or so: an index
/// whose catalog is current is kept this long before it reads the new vectors, so searches
/// meanwhile do not each rebuild it.
const FRESH_ENOUGH: std::time::Duration = std::time::Duration::from_secs(5);

/// One tenant's entities and their vectors, at a catalog and embedding version.
struct SemanticIndex {
    versions: (i64, i64),
    built: std::time::Instant,
    entities: Vec<EntityText>,
    hashes: HashMap<Vec<u8>, usize>,
    vectors: VectorSet,
}

/// The per-tenant indexes of this server; cheap to clone.
#[derive(Clone, Default)]
pub struct SemanticIndexes(KeptPerTenant<SemanticIndex>);

/// An entity found, with its cosine similarity to the query.
#[derive(Clone, Debug, serde::Serialize)]
pub struct SemanticHit {
    #[serde(rename = "entityRef")]
    pub entity_ref: String,
    pub uid: uuid::Uuid,
    pub title: Option<String>,
    pub description: Option<String>,
    pub similarity: f32,
}

#[derive(Clone, Debug, serde::Serialize)]
pub struct SemanticResults {
    pub results: Vec<SemanticHit>,
    /// Entities with an embedding, of `total`: the rest are still waiting for theirs.
    pub embedded: usize,
    pub total: usize,
    pub model: &'static str,
}

/// The `limit` entities closest in meaning to `query` (of kind `kind`, when given).
pub async fn search(
    db: &Database,
    indexes: &SemanticIndexes,
    embedder: &Embedder,
    tenant: &Tenant,
    query: &str,
    kind: Option<&str>,
    limit: usize,
) -> AppResult<SemanticResults> {
    let index = indexes.get(db, tenant).await?;
    let (model, text) = (embedder.clone(), query.to_owned());
    let kind = kind.map(str::to_lowercase);
    crate::cpu::run(move || {
        let vector = model.embed(&text)?;
        let keep = |at: usize| kind.as_ref().is_none_or(|k| index.entities[at].kind.eq_ignore_ascii_case(k));
        let results = index
            .vectors
            .nearest(&vector, limit, keep)
            .into_iter()
            .map(|(at, similarity)| {
                let e = &index.entities[at];
                SemanticHit {
                    entity_ref: EntityRef::new(&e.kind, &e.namespace, &e.name).to_string(),
                    uid: e.id,
                    title: e.title.clone(),
                    description: e.description.clone(),
                    similarity,
                }
            })
            .collect();
        Ok(SemanticResults {
            results,
            embedded: index.vectors.embedded(),
            total: index.entities.len(),
            model: embedding::MODEL,
        })
    })
    .await?
}

impl SemanticIndexes {
    async fn get(&self, db: &Database, tenant: &Tenant) -> AppResult<Arc<SemanticIndex>> {
        let versions = db
            .with_tenant(tenant, |conn| {
                Box::pin(async move {
                    Ok::<_, AppError>((repo::version(conn).await?, embedding::repo::version(conn).await?))
                })
            })
            .await?;
        let schema = tenant.schema.as_str();
        let usable = |index: &SemanticIndex| {
            index.versions == versions || (index.versions.0 == versions.0 && index.built.elapsed() < FRESH_ENOUGH)
        };
        if let Some(index) = self.0.usable(schema, usable) {
            return Ok(index);
        }
        let index = Arc::new(build(db, tenant, versions, self.0.kept(schema)).await?);
        self.0.keep(schema, index.clone(), |kept| kept.versions <= versions);
        Ok(index)
    }
}

/// Reads the entities and the vectors `previous` lacks.
async fn build(
    db: &Database,
    tenant: &Tenant,
    versions: (i64, i64),
    previous: Option<Arc<SemanticIndex>>,
) -> AppResult<SemanticIndex> {
    let entities = db
        .with_tenant(tenant, |conn| Box::pin(async move { repo::entity_texts(conn).await.map_err(AppError::from) }))
        .await?;
    let (entities, hashes) = crate::cpu::run(move || {
        let hashes: Vec<Option<Vec<u8>>> = entities
            .iter()
            .map(|e| entity_text(&e.name, e.title.as_deref(), e.description.as_deref()).map(|t| text_hash(&t)))
            .collect();
        (entities, hashes)
    })
    .await?;
    let known =
        move |hash: &Vec<u8>| previous.as_ref().and_then(|p| p.hashes.get(hash).and_then(|&at| p.vectors.get(at)));
    let missing: Vec<Vec<u8>> = hashes.iter().flatten().filter(|h| known(h).is_none()).cloned().collect();
    let fetched: HashMap<Vec<u8>, Vec<f32>> = if missing.is_empty() {
        HashMap::new()
    } else {
        db.with_tenant(tenant, move |conn| {
            Box::pin(async move { embedding::repo::vectors(conn, &missing).await.map_err(AppError::from) })
        })
        .await?
        .into_iter()
        .collect()
    };
    crate::cpu::run(move || {
        let mut vectors = VectorSet::with_capacity(entities.len());
        let mut positions = HashMap::with_capacity(entities.len());
        for (at, hash) in hashes.into_iter().enumerate() {
            let vector = hash.as_ref().and_then(|h| fetched.get(h).cloned().or_else(|| known(h)));
            vectors.push(vector.as_deref());
            if let (Some(hash), Some(_)) = (hash, vector) {
                positions.insert(hash, at);
            }
        }
        SemanticIndex { versions, built: std::time::Instant::now(), entities, hashes: positions, vectors }
    })
    .await
}
