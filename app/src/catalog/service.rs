//! Catalog use cases: import, read, query, facet, delete. Imports run in batches, each batch
//! one transaction with its audit event; a bad document is reported, never written.

use crate::audit::model::AuditAction;
use crate::notifications::service::{self as notifications, WrittenEntity};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use futures_util::{StreamExt, TryStreamExt};
use serde_json::{json, Value};
use uuid::Uuid;

use super::cache::{Cached, CatalogCache};
use super::document::{self, EntityArray, EntityJson};
use super::facet_index::{FacetIndex, IfMissing};
use super::index::{is_counted, search_text, SearchEntries};
use super::kept_documents::KeptDocuments;
use super::model::{
    DocumentOutcome, DocumentResult, EntityDetail, EntitySummary, FacetCount, ImportReport, RelationView,
};
use super::query::{prefix_tsquery, EntityQuery, Filter};
use super::refs::EntityRef;
use super::repo::{self, EntityRow, EntityWrite, RelationRow, SourcedRelation, FACET_VALUES};
use super::validate::{validate, ValidEntity};
use super::view::{CatalogPage, CatalogView, FACETS, PAGE_SIZE};
use crate::audit::service::{record, AuditEvent, AuditSource};
use crate::db::{deadline, durability, Connection, Database};
use crate::error::{AppError, AppResult};
use crate::tenancy::model::{SchemaName, Tenant, TenantId};

/// The most an upload (all files together) may hold.
pub const MAX_UPLOAD_BYTES: usize = 20 * 1024 * 1024;
/// Documents written per transaction.
const BATCH: usize = 500;
/// Batches of one import written at the same time.
const WRITERS: usize = 3;
/// Imports writing at least this many entities refresh the planner statistics, then vacuum
/// the catalog in the background.
const ANALYZE_AFTER: usize = 5_000;

/// Splits multi-document YAML and parses each document on its own, so a syntax error in one
/// document cannot take the others down. Empty documents are skipped.
pub fn parse_documents(text: &str) -> Vec<Result<Value, String>> {
    let mut documents = Vec::new();
    let mut current = String::new();
    for line in text.lines() {
        if line.starts_with("---") && line[3..].trim().is_empty() {
            documents.push(std::mem::take(&mut current));
        } else {
            current.push_str(line);
            current.push('\n');
        }
    }
    documents.push(current);
    documents
        .into_iter()
        .filter(|d| d.lines().any(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#')))
        .map(|d| serde_norway::from_str::<Value>(&d).map_err(|e| format!("YAML: {e}")))
        .collect()
}

/// Where imported documents come from.
#[derive(Clone, Debug, Default)]
pub struct Origin {
    /// Shown in the audit log and kept with each entity (`paste`, `editor`, `url:…`).
    pub label: String,
    /// The registered Location whose refresh this is: its entities belong to it.
    pub location: Option<Uuid>,
    /// The import job whose progress advances with each batch.
    pub job: Option<Uuid>,
}

impl Origin {
    pub fn named(label: impl Into<String>) -> Self {
        Self { label: label.into(), ..Self::default() }
    }
}

/// One document to import and the Location entity that emitted it, if any.
pub struct Incoming {
    pub document: Result<Value, String>,
    pub parent: Option<String>,
}

impl From<Result<Value, String>> for Incoming {
    fn from(document: Result<Value, String>) -> Self {
        Self { document, parent: None }
    }
}

impl From<super::reader::LocatedDocument> for Incoming {
    fn from(located: super::reader::LocatedDocument) -> Self {
        Self { document: located.document, parent: located.parent }
    }
}

/// The documents of an upload: multi-document YAML, or a .zip / .tar.gz of a repository whose
/// YAML files are read as a tree (Locations and `$text` followed inside the archive).
pub async fn documents_of_upload(bytes: &[u8]) -> AppResult<Vec<Incoming>> {
    let documents: Vec<Incoming> = if super::archive::is_archive(bytes) {
        let bytes = bytes.to_vec();
        let source = crate::cpu::run(move || super::archive::unpack(&bytes)).await?.map_err(AppError::Invalid)?;
        let entries = source.entries();
        super::reader::read_tree(&source, entries, true)
            .await
            .map_err(AppError::Invalid)?
            .into_iter()
            .map(Into::into)
            .collect()
    } else {
        let text = String::from_utf8(bytes.to_vec())
            .map_err(|_| AppError::invalid("upload YAML (UTF-8) or a .zip / .tar.gz archive"))?;
        crate::cpu::run(move || parse_documents(&text)).await?.into_iter().map(Into::into).collect()
    };
    if documents.is_empty() {
        return Err(AppError::invalid("the upload holds no entity documents"));
    }
    Ok(documents)
}

pub async fn import(
    db: &Database,
    tenant: &Tenant,
    source: &AuditSource,
    origin: &Origin,
    documents: Vec<Incoming>,
) -> AppResult<ImportReport> {
    let mut report = ImportReport::default();
    let mut seen = HashMap::new();
    let mut numbered = documents.into_iter().enumerate().map(|(i, d)| (i + 1, d)).peekable();
    let batches = std::iter::from_fn(move || {
        numbered.peek()?;
        Some(numbered.by_ref().take(BATCH).collect::<Vec<_>>())
    });
    // WRITERS batches in flight, each its own transaction on its own connection: while one
    // waits for its turn at the facet counts (see write_batch), the next one's entity and
    // relation rows are written, so PostgreSQL works on both cores; the batch after them is
    // validated meanwhile. Each batch is a task of its own: on this one, the rows one batch
    // builds would hold up the statements of the others, the one holding the catalog lock
    // among them, and PostgreSQL would wait.
    let writes = futures_util::stream::iter(batches)
        .map(|batch| {
            let processed = batch.len();
            let mut results = Vec::new();
            let mut valid = Vec::new();
            for (number, incoming) in batch {
                match incoming.document.map_err(|e| vec![e]).and_then(validate) {
                    Ok(entity) => {
                        let key = entity.entity_ref.key();
                        if let Some(first) = seen.insert(key.clone(), number) {
                            results.push(rejected(number, Some(key), vec![format!(
                                "metadata.name: duplicates document {first} (names are unique per kind and namespace, ignoring case)"
                            )]));
                        } else {
                            valid.push((number, entity, incoming.parent));
                        }
                    }
                    Err(errors) => results.push(rejected(number, None, errors)),
                }
            }
            let (db, tenant, source, origin) = (db.clone(), tenant.clone(), source.clone(), origin.clone());
            deadline::spawn(async move {
                db.with_tenant(&tenant, move |conn| {
                    Box::pin(async move {
                        // The batch's commit holds the tenant's catalog lock (see write_batch):
                        // waiting there for the disk would hold up the other writers too.
                        durability::commit_without_waiting(conn).await?;
                        results.extend(write_batch(conn, &source, &origin, valid).await?);
                        if let Some(job) = origin.job {
                            super::jobs::advance(conn, job, processed).await?;
                        }
                        Ok::<_, AppError>(results)
                    })
                })
                .await
            })
        })
        // Unordered: a batch that finishes before the one ahead of it frees its place at once
        // (in order it kept it until that one finished); the results are sorted below.
        .buffer_unordered(WRITERS)
        .map(|written| written.and_then(|results| results));
    let mut writes = std::pin::pin!(writes);
    while let Some(results) = writes.try_next().await? {
        report.results.extend(results);
    }
    report.results.sort_by_key(|r| r.document);
    let written = report.count(|o| matches!(o, DocumentOutcome::Created | DocumentOutcome::Updated));
    // The import reports once every batch is on disk. The relations' statistics are taken on
    // a connection of their own, beside the entities' (ANALYZE uses one core).
    let relations = async {
        if written >= ANALYZE_AFTER {
            db.with_tenant(tenant, |conn| {
                Box::pin(async move { repo::analyze_relations(conn).await.map_err(AppError::from) })
            })
            .await?;
        }
        Ok::<_, AppError>(())
    };
    let entities = db.with_tenant(tenant, |conn| {
        Box::pin(async move {
            if written >= ANALYZE_AFTER {
                repo::analyze_entities(conn).await?;
            }
            durability::commit_durably(conn).await.map_err(AppError::from)
        })
    });
    futures_util::try_join!(relations, entities)?;
    if written >= ANALYZE_AFTER {
        // Then, on one core and after the report, what autovacuum would do a minute or so later:
        // the new pages marked all-visible, so that the reads an index answers alone (a page's
        // relations) stop visiting the table from now on. A failure leaves it to autovacuum.
        let (db, tenant) = (db.clone(), tenant.clone());
        tokio::spawn(async move {
            for table in ["entity_relations", "entities"] {
                if let Err(e) = db.vacuum(&tenant, table).await {
                    tracing::warn!(table, error = %e, "vacuum after an import failed; autovacuum will do it");
                }
            }
        });
    }
    Ok(report)
}

fn rejected(document: usize, entity_ref: Option<String>, reasons: Vec<String>) -> DocumentResult {
    DocumentResult { document, entity_ref, outcome: DocumentOutcome::Rejected(reasons) }
}

async fn write_batch(
    conn: &mut Connection,
    source: &AuditSource,
    origin: &Origin,
    valid: Vec<(usize, ValidEntity, Option<String>)>,
) -> AppResult<Vec<DocumentResult>> {
    let keys: Vec<String> = valid.iter().map(|(_, e, _)| e.entity_ref.key()).collect();
    let hashes: Vec<Vec<u8>> = valid.iter().map(|(_, e, _)| content_hash(&e.body)).collect();
    let existing: HashMap<String, repo::ExistingEntity> =
        repo::find_existing(conn, &keys).await?.into_iter().map(|e| (e.entity_ref.clone(), e)).collect();
    let unhashed: Vec<Uuid> = existing.values().filter(|e| e.content_hash.is_none()).map(|e| e.id).collect();
    let old_bodies: HashMap<Uuid, Value> = match unhashed.is_empty() {
        true => HashMap::new(),
        false => {
            repo::documents(conn, &unhashed).await?.into_iter().map(|(id, _, d)| (id, document::body(&d))).collect()
        }
    };
    let unchanged = |e: &repo::ExistingEntity, entity: &ValidEntity, hash: &[u8], parent: &Option<String>| {
        let same = match &e.content_hash {
            Some(stored) => stored.as_slice() == hash,
            None => old_bodies.get(&e.id) == Some(&entity.body),
        };
        same && e.parent_ref == *parent
    };

    let mut results = Vec::new();
    let mut changed = Vec::new();
    for (((number, entity, parent), key), hash) in valid.iter().zip(&keys).zip(&hashes) {
        let (id, outcome) = match existing.get(key) {
            // An entity a Location provides changes only through that Location's refresh.
            Some(e) if e.location_id.is_some() && e.location_id != origin.location => (
                None,
                DocumentOutcome::Rejected(vec![format!(
                    "{} is provided by a registered location; change it at its source or unregister the location",
                    entity.entity_ref
                )]),
            ),
            Some(e) if unchanged(e, entity, hash, parent) => (None, DocumentOutcome::Unchanged),
            Some(e) => (Some(e.id), DocumentOutcome::Updated),
            // Time-ordered ids: the indexes keyed by entity id (entities, search and relation
            // rows) grow at their right edge instead of being written all over.
            None => (Some(Uuid::now_v7()), DocumentOutcome::Created),
        };
        if let Some(id) = id {
            changed.push((id, entity, key, parent.as_deref(), outcome == DocumentOutcome::Created, hash));
        }
        results.push(DocumentResult { document: *number, entity_ref: Some(entity.entity_ref.to_string()), outcome });
    }

    if changed.is_empty() {
        return Ok(results);
    }

    // The owned values the rows below borrow: key, etag, search text, stored document and
    // search entries of each changed entity, and the relation rows.
    let mut relation_rows = Vec::new();
    let owned: Vec<(String, String, String, String, SearchEntries)> = changed
        .iter()
        .map(|(id, e, key, _, _, _)| {
            let text = search_text(&[
                Some(e.entity_ref.name.as_str()),
                Some(e.entity_ref.kind.as_str()),
                e.title.as_deref(),
                e.description.as_deref(),
                e.owner.as_deref(),
                e.spec_type.as_deref(),
                Some(&e.tags.join(" ")),
            ]);
            let etag = Uuid::new_v4().simple().to_string();
            let stored = document::stored(*id, &etag, &e.body);
            let key = key.to_string();
            let mut entries = SearchEntries::of(&e.body, &id.to_string());
            for r in &e.relations {
                let target = r.target.key();
                entries.add_relation(&format!("relations.{}", r.relation.to_lowercase()), &target);
                relation_rows.push(RelationRow {
                    originating_entity_id: *id,
                    source_ref: key.clone(),
                    relation: r.relation.into(),
                    target_ref: target.clone(),
                });
                relation_rows.push(RelationRow {
                    originating_entity_id: *id,
                    source_ref: target,
                    relation: r.reverse.into(),
                    target_ref: key.clone(),
                });
            }
            (key, etag, text, stored, entries)
        })
        .collect();
    let updated: Vec<Uuid> = changed.iter().filter(|(_, _, _, _, created, _)| !created).map(|(id, ..)| *id).collect();
    repo::replace_relations(conn, &updated, &relation_rows).await?;

    let (mut inserts, mut updates) = (Vec::new(), Vec::new());
    for ((id, e, _, parent, created, hash), (key, etag, text, stored, entries)) in changed.iter().zip(&owned) {
        let write = EntityWrite {
            id: *id,
            entity_ref: key,
            kind: &e.entity_ref.kind,
            namespace: &e.entity_ref.namespace,
            name: &e.entity_ref.name,
            etag,
            document: stored,
            title: e.title.as_deref(),
            description: e.description.as_deref(),
            owner_ref: e.owner.as_deref(),
            spec_type: e.spec_type.as_deref(),
            lifecycle: e.lifecycle.as_deref(),
            tags: &e.tags,
            search_text: text,
            source: &origin.label,
            location_id: origin.location,
            parent_ref: *parent,
            content_hash: Some(hash),
            filters: &entries.filters,
            counted_values: &entries.counted_values,
            facet_values: &entries.facet_values,
        };
        if *created {
            inserts.push(write);
        } else {
            updates.push(write);
        }
    }
    // Last before the version and the audit event: the entities' facet-count trigger takes the
    // tenant's catalog lock, which is then held to commit.
    repo::insert(conn, &inserts).await?;
    for write in &updates {
        if !repo::update(conn, write).await? {
            // Deleted since find_existing read it: its relation rows would be left orphaned.
            return Err(AppError::conflict(format!(
                "{} was deleted while it was being imported; import again",
                write.entity_ref
            )));
        }
    }
    repo::bump_version(conn).await?;

    let count = |o: DocumentOutcome| results.iter().filter(|r| r.outcome == o).count();
    let event = AuditEvent::success(AuditAction::CatalogEntitiesImported, &origin.label).details(json!({
        "created": count(DocumentOutcome::Created),
        "updated": count(DocumentOutcome::Updated),
        "unchanged": count(DocumentOutcome::Unchanged),
        // Every written entity (a batch holds at most BATCH), for the entity's history.
        "entities": owned.iter().map(|(key, ..)| key).collect::<Vec<_>>(),
    }));
    record(conn, source, event).await?;
    Ok(results)
}

/// What an import compares to know an entity is unchanged: SHA-256 of the body's JSON text
/// (the stored document without its uid and etag).
fn content_hash(body: &Value) -> Vec<u8> {
    use sha2::Digest;
    sha2::Sha256::digest(body.to_string().as_bytes()).to_vec()
}

/// Which entity a save may write.
#[derive(Clone, Debug)]
pub enum SaveTarget {
    /// A new entity: refused when one with its kind, namespace and name exists.
    New,
    /// The entity with this ref (the editor's): the document must keep its kind, namespace
    /// and name (changing them would make another entity).
    Ref(String),
    /// The entity with this uid (`PUT /entities/{uid}`), under the same rule.
    Uid(Uuid),
}

/// Saves one entity typed into the editor or sent to the API, and returns it as served.
/// The checks and the write are one transaction that holds the entity's lock, so of two
/// concurrent creates of one entity exactly one succeeds and the other is a conflict.
pub async fn save_one(
    db: &Database,
    tenant: &Tenant,
    source: &AuditSource,
    target: SaveTarget,
    yaml: &str,
) -> AppResult<(EntityRef, EntityJson)> {
    let mut documents = parse_documents(yaml);
    if documents.len() != 1 {
        return Err(AppError::invalid("Enter exactly one entity (no --- separators)."));
    }
    let document = documents.pop().expect("one document").map_err(AppError::Invalid)?;
    let valid = validate(document).map_err(|errors| AppError::Invalid(errors.join("\n")))?;
    let entity_ref = valid.entity_ref.clone();
    let key = entity_ref.key();
    let renamed = |original: &str| {
        AppError::invalid(format!(
            "kind, metadata.namespace and metadata.name identify {original} and cannot change; create a new entity instead"
        ))
    };
    if let SaveTarget::Ref(original) = &target {
        if !original.eq_ignore_ascii_case(&key) {
            return Err(renamed(original));
        }
    }
    let source = source.clone();
    let saved = db
        .with_tenant(tenant, move |conn| {
            Box::pin(async move {
                repo::lock_entity(conn, &key).await?;
                match target {
                    SaveTarget::New if repo::find_by_ref(conn, &key).await?.is_some() => {
                        return Err(AppError::conflict(format!("{entity_ref} already exists; edit it instead")))
                    }
                    SaveTarget::Uid(uid) => {
                        let current = repo::find_by_uid(conn, uid)
                            .await?
                            .ok_or_else(|| AppError::not_found(format!("No entity with uid {uid}")))?;
                        if current.entity_ref != key {
                            return Err(renamed(&current.entity_ref));
                        }
                    }
                    _ => {}
                }
                let owner_before = repo::find_by_ref(conn, &key).await?.and_then(|row| row.owner_ref);
                let results = write_batch(conn, &source, &Origin::named("editor"), vec![(1, valid, None)]).await?;
                let outcome = results.into_iter().next().map(|r| r.outcome);
                if let Some(DocumentOutcome::Rejected(reasons)) = outcome {
                    return Err(AppError::Invalid(reasons.join("\n")));
                }
                let row =
                    repo::find_by_ref(conn, &key).await?.ok_or_else(|| AppError::internal("saved entity is gone"))?;
                let write = WrittenEntity {
                    entity: &entity_ref,
                    owner_before: owner_before.as_deref(),
                    owner_after: row.owner_ref.as_deref(),
                    changed: outcome != Some(DocumentOutcome::Unchanged),
                };
                notifications::on_entity_written(conn, &source, write).await?;
                let entity = with_relations(conn, &[row]).await?.pop().expect("one row, one entity");
                Ok((entity_ref, entity))
            })
        })
        .await?;
    Ok(saved)
}

/// Full entities (with relations) for rows loaded by a query.
pub async fn with_relations(conn: &Connection, rows: &[EntityRow]) -> AppResult<Vec<EntityJson>> {
    let refs: Vec<String> = rows.iter().map(|r| r.entity_ref.clone()).collect();
    let relations = repo::relations_from(conn, &refs).await?;
    Ok(entities_of(rows, &refs, &relations))
}

/// Full entities of a page's rows, their documents from those the server keeps where it can:
/// the missing ones and the relations are read together.
async fn with_documents(
    conn: &Connection,
    kept: &KeptDocuments,
    tenant: TenantId,
    heads: &[repo::EntityHead],
) -> AppResult<EntityArray> {
    let mut documents = kept.get_all(tenant, heads.iter().map(|h| h.etag.as_str()));
    let missing: Vec<Uuid> = heads.iter().zip(&documents).filter(|(_, d)| d.is_none()).map(|(h, _)| h.id).collect();
    let refs: Vec<String> = heads.iter().map(|h| h.entity_ref.clone()).collect();
    let read = async {
        match missing.is_empty() {
            true => Ok(Vec::new()),
            false => repo::documents(conn, &missing).await,
        }
    };
    let (read, relations) = futures_util::try_join!(read, repo::relations_from(conn, &refs))?;
    // Each statement sees the latest commit: a document read after a write has that write's
    // etag, which is the one it is kept under. An entity deleted in between is left out.
    let mut read: HashMap<Uuid, (String, String)> = read.into_iter().map(|(id, etag, d)| (id, (etag, d))).collect();
    for (head, document) in heads.iter().zip(&mut documents) {
        if let (None, Some((etag, text))) = (&document, read.remove(&head.id)) {
            let text: Arc<str> = text.into();
            kept.put(tenant, etag, text.clone());
            *document = Some(text);
        }
    }
    let served = documents.iter().enumerate().filter_map(|(at, document)| Some((at, document.as_deref()?)));
    Ok(served_entities(served, &relations))
}

/// Full entities of rows, given (at least) the relations of `refs`, which name every row.
fn entities_of(rows: &[EntityRow], refs: &[String], relations: &[SourcedRelation]) -> Vec<EntityJson> {
    let place: HashMap<&str, usize> = refs.iter().enumerate().map(|(at, r)| (r.as_str(), at)).collect();
    // A row's ref is one of `refs`: rows are found by them. Were it not, it would have no relations.
    let documents = rows
        .iter()
        .map(|row| (place.get(row.entity_ref.as_str()).copied().unwrap_or(usize::MAX), row.document.as_str()));
    served_entities(documents, relations).into_entities()
}

/// Each stored document as served, with the relations whose source is its place (see
/// `repo::relations_from`).
fn served_entities<'a>(
    documents: impl Iterator<Item = (usize, &'a str)> + Clone,
    relations: &[SourcedRelation],
) -> EntityArray {
    // Sized once: each relation is about 160 bytes as served.
    let bytes = documents.clone().map(|(_, document)| document.len()).sum::<usize>() + relations.len() * 160;
    let mut served = EntityArray::with_capacity(bytes);
    for (at, document) in documents {
        let at = at as i64;
        let own =
            &relations[relations.partition_point(|r| r.source < at)..relations.partition_point(|r| r.source <= at)];
        served.push_served(document, own.iter().map(|r| (r.relation.as_str(), r.target_ref.as_str())));
    }
    served
}

pub async fn get_by_ref(db: &Database, tenant: &Tenant, entity_ref: &EntityRef) -> AppResult<Option<EntityJson>> {
    let key = entity_ref.key();
    db.read_tenant(tenant, move |conn| {
        Box::pin(async move {
            let keys = [key];
            let (rows, relations) = repo::find_by_refs_with_relations(conn, &keys, &Filter::default()).await?;
            Ok(entities_of(&rows, &keys, &relations).pop())
        })
    })
    .await
}

pub async fn get_by_uid(db: &Database, tenant: &Tenant, uid: Uuid) -> AppResult<Option<EntityJson>> {
    db.read_tenant(tenant, move |conn| {
        Box::pin(async move {
            match repo::find_by_uid(conn, uid).await? {
                Some(row) => Ok(with_relations(conn, &[row]).await?.pop()),
                None => Ok(None),
            }
        })
    })
    .await
}

/// Entities for each requested ref, in request order, `None` where there is none.
pub async fn get_by_refs(
    db: &Database,
    tenant: &Tenant,
    refs: Vec<EntityRef>,
    filter: Filter,
) -> AppResult<Vec<Option<EntityJson>>> {
    let keys: Vec<String> = refs.iter().map(EntityRef::key).collect();
    db.read_tenant(tenant, move |conn| {
        Box::pin(async move {
            let (rows, relations) = repo::find_by_refs_with_relations(conn, &keys, &filter).await?;
            let entities = entities_of(&rows, &keys, &relations);
            let by_key: HashMap<&str, &EntityJson> =
                rows.iter().map(|r| r.entity_ref.as_str()).zip(&entities).collect();
            Ok(keys.iter().map(|k| by_key.get(k.as_str()).map(|v| (*v).clone())).collect())
        })
    })
    .await
}

pub struct QueryPage {
    pub entities: EntityArray,
    pub total: Option<i64>,
    /// One more row than asked for existed.
    pub has_more: bool,
}

pub async fn query(
    db: &Database,
    cache: &CatalogCache,
    tenant: &Tenant,
    q: EntityQuery,
    with_total: bool,
) -> AppResult<QueryPage> {
    let q = q.checked()?;
    let (tenant_id, schema) = (tenant.id, tenant.schema.clone());
    let cache = cache.clone();
    db.read_tenant(tenant, move |conn| {
        Box::pin(async move {
            let limit = q.limit;
            let page = EntityQuery { limit: limit + 1, ..q.clone() };
            // The page and its total are independent: both go to PostgreSQL at once.
            let rows = async { Ok::<_, AppError>(repo::query_heads(conn, &page).await?) };
            let total = async {
                match with_total {
                    true => Ok(Some(count_matching(conn, &cache, tenant_id, &schema, &q, None).await?)),
                    false => Ok(None),
                }
            };
            let (mut rows, total) = futures_util::try_join!(rows, total)?;
            let has_more = rows.len() as i64 > limit;
            rows.truncate(limit as usize);
            Ok(QueryPage { entities: with_documents(conn, &cache.documents, tenant_id, &rows).await?, total, has_more })
        })
    })
    .await
}

/// The number of entities a query matches: kept by the writes for a query by kind alone,
/// otherwise counted once per catalog version, in memory when the server keeps the tenant's
/// facet index and it can test the filter.
///
/// With `at_most`, SQL counts no further than that many (see `SEARCH_COUNT_LIMIT`).
async fn count_matching(
    conn: &Connection,
    cache: &CatalogCache,
    tenant: TenantId,
    schema: &SchemaName,
    q: &EntityQuery,
    at_most: Option<i64>,
) -> AppResult<i64> {
    if let Some(scope) = q.kind_scope() {
        return Ok(repo::counted_entities(conn, &scope).await?);
    }
    let count_sql = || async {
        match at_most {
            Some(limit) => repo::count_up_to(conn, q, limit).await,
            None => repo::count(conn, q).await,
        }
    };
    if q.filter.is_volatile() {
        return Ok(count_sql().await?);
    }
    let version = repo::version(conn).await?;
    let key = format!("count:{at_most:?}:{:?}:{:?}:{:?}", q.filter, q.predicate, q.full_text);
    if let Some(Cached::Count(n)) = cache.get(tenant, version, &key) {
        return Ok(n);
    }
    let in_memory = match q.predicate.is_none() && q.full_text.is_none() && FacetIndex::supports(&q.filter) {
        true => {
            let read = cache.index.read(conn, schema.as_str(), version, IfMissing::Skip, |index| {
                index.compile(&q.filter).map(|filter| index.count(&filter))
            });
            read.await?
        }
        false => None,
    };
    let n = match in_memory {
        Some(n) => n,
        None => count_sql().await?,
    };
    cache.put(tenant, version, key, Cached::Count(n));
    Ok(n)
}

pub fn summary(row: &EntityRow) -> EntitySummary {
    EntitySummary {
        uid: row.id.to_string(),
        kind: row.kind.clone(),
        namespace: row.namespace.clone(),
        name: row.name.clone(),
        title: row.title.clone(),
        description: row.description.clone(),
        owner: row.owner_ref.clone(),
        spec_type: row.spec_type.clone(),
        lifecycle: row.lifecycle.clone(),
        tags: row.tags.clone(),
        snippet: None,
    }
}

/// Marks what matched the search in each entity's description (or name and title).
fn with_snippets(mut items: Vec<EntitySummary>, snippets: Vec<(Uuid, String)>) -> Vec<EntitySummary> {
    let by_id: HashMap<String, String> = snippets.into_iter().map(|(id, text)| (id.to_string(), text)).collect();
    for item in &mut items {
        item.snippet = by_id.get(&item.uid).filter(|s| s.contains(repo::MATCH_START)).map(|s| marked_html(s));
    }
    items
}

/// Escapes a headline and turns PostgreSQL's match markers into `<mark>` elements.
fn marked_html(headline: &str) -> String {
    crate::escape::html(headline).replace(repo::MATCH_START, "<mark>").replace(repo::MATCH_END, "</mark>")
}

/// Facet counts for `keys` over the entities the filter and predicate select, from the cache
/// while the catalog has not changed.
pub async fn facets(
    db: &Database,
    cache: &CatalogCache,
    tenant: &Tenant,
    keys: Vec<String>,
    filter: Filter,
    predicate: Option<super::query::Predicate>,
) -> AppResult<Vec<(String, Vec<(String, i64)>)>> {
    super::query::check_facets(&keys)?;
    let query = EntityQuery { filter, predicate, ..EntityQuery::default() }.checked()?;
    let tenant_id = tenant.id;
    let cache = cache.clone();
    db.read_tenant(tenant, move |conn| {
        Box::pin(async move {
            let version = repo::version(conn).await?;
            let scope = query.kind_scope();
            let mut out = Vec::new();
            for key in keys {
                let cache_key = format!("facet:{key}:{:?}:{:?}", query.filter, query.predicate);
                let counts = match cache.get(tenant_id, version, &cache_key) {
                    Some(Cached::FacetValues(counts)) => counts,
                    _ => {
                        let lowered = key.to_lowercase();
                        let counted = is_counted(&lowered);
                        let counts = match (counted, scope.as_ref(), lowered.strip_prefix("relations.")) {
                            // A few rows of kept counts, whatever the catalog's size.
                            (true, Some(scope), _) => repo::counted_facet(conn, &key, scope, i64::MAX).await?,
                            (false, _, Some(relation)) => repo::relation_facet(conn, relation, &query).await?,
                            _ => repo::facet(conn, &key, &query).await?,
                        };
                        cache.put(tenant_id, version, cache_key, Cached::FacetValues(counts.clone()));
                        counts
                    }
                };
                out.push((key, counts));
            }
            Ok(out)
        })
    })
    .await
}

/// Deletes the entity with `uid`. An entity that is not there is already deleted: nothing
/// changes and nothing is recorded (Backstage answers such a delete 204 too, and its client
/// relies on it).
pub async fn delete_by_uid(db: &Database, tenant: &Tenant, source: AuditSource, uid: Uuid) -> AppResult<()> {
    db.with_tenant(tenant, move |conn| {
        Box::pin(async move {
            let owner = repo::find_by_uid(conn, uid).await?.and_then(|row| row.owner_ref);
            let Some(entity_ref) = repo::delete(conn, uid).await? else { return Ok(()) };
            if let Ok(entity) = EntityRef::parse(&entity_ref, None, "default") {
                let write =
                    WrittenEntity { entity: &entity, owner_before: owner.as_deref(), owner_after: None, changed: true };
                notifications::on_entity_written(conn, &source, write).await?;
            }
            // Like every write: cached counts and facets expire, open pages hear of it.
            repo::bump_version(conn).await?;
            record(conn, &source, AuditEvent::success(AuditAction::CatalogEntityDeleted, entity_ref)).await
        })
    })
    .await
}

/// The entity page: summary, metadata lists, relations marked present or missing, YAML.
pub async fn detail(db: &Database, tenant: &Tenant, entity_ref: EntityRef) -> AppResult<EntityDetail> {
    let key = entity_ref.key();
    db.with_tenant(tenant, move |conn| {
        Box::pin(async move {
            let row = repo::find_by_ref(conn, &key)
                .await?
                .ok_or_else(|| AppError::not_found(format!("No entity {entity_ref}")))?;
            let relations = repo::relations_from(conn, std::slice::from_ref(&row.entity_ref)).await?;
            let targets: Vec<String> = relations.iter().map(|r| r.target_ref.clone()).collect();
            let present: HashSet<String> = repo::existing_refs(conn, &targets).await?.into_iter().collect();
            let body = document::body(&row.document);
            let metadata = &body["metadata"];
            let pairs = |field: &str| -> Vec<(String, String)> {
                metadata[field]
                    .as_object()
                    .map(|m| m.iter().map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned())).collect())
                    .unwrap_or_default()
            };
            let links = metadata["links"]
                .as_array()
                .map(|links| {
                    links
                        .iter()
                        .filter_map(|l| {
                            let url = l["url"].as_str()?;
                            Some((l["title"].as_str().unwrap_or(url).to_owned(), url.to_owned()))
                        })
                        .collect()
                })
                .unwrap_or_default();
            let history = crate::audit::repo::about(conn, &row.entity_ref, 20).await?;
            Ok(EntityDetail {
                summary: summary(&row),
                entity_ref: EntityRef::new(&row.kind, &row.namespace, &row.name).to_string(),
                yaml: serde_norway::to_string(&body).map_err(AppError::internal)?,
                labels: pairs("labels"),
                annotations: pairs("annotations"),
                links,
                history,
                relations: relations
                    .into_iter()
                    .map(|r| RelationView {
                        target_path: present
                            .contains(&r.target_ref)
                            .then(|| EntityRef::parse(&r.target_ref, None, "default").ok().map(|r| r.page_path()))
                            .flatten(),
                        relation: r.relation,
                        target_ref: r.target_ref,
                    })
                    .collect(),
            })
        })
    })
    .await
}

/// How far the list page counts a search's matches; past it the page says "1000+".
///
/// A search matches words or a name similar to the term, and its count visits every match's
/// row (PostgreSQL 15 no longer counts from a bitmap alone). A common word at a million
/// entities matches 56,000: counting all took 2.7 s on a first view after an import, counting
/// 10,000 took 136 ms, and 1,000 leave only the index scan (35 ms). Nobody pages to the
/// forty-first page of a search.
pub const SEARCH_COUNT_LIMIT: i64 = 1_000;

/// The catalog list page: a page of summaries, kind tabs and facet counts for a URL view.
pub async fn list_page(
    db: &Database,
    cache: &CatalogCache,
    tenant: &Tenant,
    view: &CatalogView,
) -> AppResult<CatalogPage> {
    use super::query::{Condition, Sort, SortField, RECENTLY_FAILED_DEPLOYMENT};

    let mut facet_filter = Filter::default();
    for (param, path, _) in FACETS {
        if let Some(value) = view.facet(param) {
            facet_filter = facet_filter.and(Condition { key: path.into(), value: Some(value.to_lowercase()) });
        }
    }
    if view.failed_deploys {
        facet_filter = facet_filter.and(Condition { key: RECENTLY_FAILED_DEPLOYMENT.into(), value: None });
    }
    let filter = match &view.kind {
        Some(kind) => facet_filter.clone().and(Condition { key: "kind".into(), value: Some(kind.to_lowercase()) }),
        None => facet_filter.clone(),
    };
    let sort = match view.sort.as_deref() {
        Some("name") => vec![Sort { field: SortField::Name, descending: view.desc }],
        Some("kind") => vec![Sort { field: SortField::Kind, descending: view.desc }],
        Some("type") => vec![Sort { field: SortField::Type, descending: view.desc }],
        Some("owner") => vec![Sort { field: SortField::Owner, descending: view.desc }],
        Some("lifecycle") => vec![Sort { field: SortField::Lifecycle, descending: view.desc }],
        _ => vec![Sort { field: SortField::Name, descending: false }],
    };
    let query = EntityQuery {
        predicate: None,
        filter: filter.clone(),
        full_text: view.q.clone(),
        sort,
        offset: (view.page - 1).saturating_mul(PAGE_SIZE),
        limit: PAGE_SIZE,
    }
    .checked()?;
    let (tenant_id, schema) = (tenant.id, tenant.schema.clone());
    // A search's total is its costliest statement: the term's index scan, 35 ms for a common
    // word at a million entities. It runs on a connection of its own, beside the rest of the
    // page instead of before it; the totals of other views are cheap and go with the page.
    let search = query.full_text.is_some().then(|| (cache.clone(), schema.clone(), query.clone()));
    let search_total = async move {
        let Some((cache, schema, query)) = search else { return Ok(None) };
        let total = db.read_tenant(tenant, move |conn| {
            Box::pin(async move {
                count_matching(conn, &cache, tenant_id, &schema, &query, Some(SEARCH_COUNT_LIMIT + 1)).await
            })
        });
        Ok::<_, AppError>(Some(total.await?))
    };
    let cache = cache.clone();
    let page = db.read_tenant(tenant, move |conn| {
        Box::pin(async move {
            // Independent statements go to PostgreSQL together (see `Database::read_tenant`).
            let page = async { Ok::<_, AppError>(repo::query(conn, &query).await?) };
            let version = async { Ok::<_, AppError>(repo::version(conn).await?) };
            let total = async {
                match query.full_text {
                    Some(_) => Ok(None),
                    None => Ok(Some(count_matching(conn, &cache, tenant_id, &schema, &query, None).await?)),
                }
            };
            let (rows, total, version) = futures_util::try_join!(page, total, version)?;
            let snippets = async {
                match query.full_text.as_deref().and_then(prefix_tsquery) {
                    Some(tsquery) => {
                        let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
                        Ok::<_, AppError>(repo::headlines(conn, &ids, &tsquery).await?)
                    }
                    None => Ok(Vec::new()),
                }
            };
            let key = format!("facets:{facet_filter:?}:{filter:?}");
            let cached = match filter.is_volatile() {
                true => None,
                false => cache.get(tenant_id, version, &key),
            };
            let counted = async {
                if let Some(Cached::Facets(kinds, facets)) = cached {
                    return Ok::<_, AppError>((kinds, facets));
                }
                let (kinds, facets) = match (facet_filter.kind_scope(), filter.kind_scope()) {
                    // No facet chosen: both from the kept counts.
                    (Some(every), Some(kinds)) => {
                        let facets = FACETS.iter().map(|(_, path, _)| {
                            let kinds = &kinds;
                            async move {
                                Ok::<_, AppError>((*path, repo::counted_facet(conn, path, kinds, FACET_VALUES).await?))
                            }
                        });
                        let (facets, every) =
                            futures_util::try_join!(futures_util::future::try_join_all(facets), async {
                                Ok(repo::counted_facet(conn, "kind", &every, i64::MAX).await?)
                            })?;
                        (every, facets)
                    }
                    // A facet chosen: counted in memory when the index can test the filters
                    // (see `facet_index`), so a write costs the next view its changed rows only.
                    _ => {
                        let in_memory = match FacetIndex::supports(&filter) && FacetIndex::supports(&facet_filter) {
                            true => {
                                let read = cache.index.read(conn, schema.as_str(), version, IfMissing::Read, |index| {
                                    let (kinds, facets) = (index.compile(&facet_filter)?, index.compile(&filter)?);
                                    Some(index.view_counts(&kinds, &facets))
                                });
                                read.await?
                            }
                            false => None,
                        };
                        match in_memory {
                            Some(counted) => counted,
                            None => futures_util::try_join!(
                                async { Ok::<_, AppError>(repo::kind_counts(conn, &facet_filter).await?) },
                                async { Ok(repo::column_facets(conn, &filter).await?) }
                            )?,
                        }
                    }
                };
                cache.put(tenant_id, version, key, Cached::Facets(kinds.clone(), facets.clone()));
                Ok((kinds, facets))
            };
            let (snippets, (kinds, facets)) = futures_util::try_join!(snippets, counted)?;
            Ok::<_, AppError>((rows, snippets, total, kinds, facets))
        })
    });
    let ((rows, snippets, total, kinds, facet_counts), search_total) = futures_util::try_join!(page, search_total)?;
    let total = search_total.or(total).unwrap_or_default();
    let items = with_snippets(rows.iter().map(summary).collect(), snippets);
    let counts =
        |pairs: Vec<(String, i64)>| pairs.into_iter().map(|(value, count)| FacetCount { value, count }).collect();
    let mut facet_counts: HashMap<&str, Vec<(String, i64)>> = facet_counts.into_iter().collect();
    Ok(CatalogPage {
        items,
        total: total.min(SEARCH_COUNT_LIMIT),
        total_capped: total > SEARCH_COUNT_LIMIT,
        kinds: counts(kinds),
        facets: FACETS
            .iter()
            .map(|(param, path, label)| {
                ((*param).to_owned(), (*label).to_owned(), counts(facet_counts.remove(path).unwrap_or_default()))
            })
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_document_is_parsed_on_its_own() {
        let docs = parse_documents(
            "apiVersion: v1\nkind: A\n---\n# only a comment\n---\nkey: [unclosed\n---\nkind: B\nmetadata: {name: x}\n",
        );
        assert_eq!(docs.len(), 3);
        assert!(docs[0].is_ok());
        assert!(docs[1].as_ref().unwrap_err().starts_with("YAML"));
        assert_eq!(docs[2].as_ref().unwrap()["kind"], "B");
    }

    #[test]
    fn the_content_hash_is_the_hash_of_the_bodys_json_text() {
        use sha2::Digest;
        // Hashes stored by earlier versions were taken of the text itself: an unchanged
        // document must still hash the same.
        let body = json!({ "kind": "API", "metadata": { "name": "é\"x" }, "spec": { "n": [1, 2.5, null, true] } });
        assert_eq!(content_hash(&body), sha2::Sha256::digest(body.to_string().as_bytes()).to_vec());
    }

    #[test]
    fn headlines_are_escaped_before_matches_are_marked() {
        let raw = format!("a <b>{}pet{} store", repo::MATCH_START, repo::MATCH_END);
        assert_eq!(marked_html(&raw), "a &lt;b&gt;<mark>pet</mark> store");
    }
}
