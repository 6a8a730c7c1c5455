//! Registered Locations: URLs the catalog reads entities from and re-reads on refresh, as
//! Backstage's location service does. Registering creates a `Location` entity
//! (`generated-<sha1>`) that is the parent of everything its target emits; entities a refresh
//! no longer emits are kept and flagged as orphans; unregistering deletes what it provided.

use crate::audit::model::AuditAction;
use std::collections::HashSet;

use serde_json::{json, Value};
use sha1::{Digest, Sha1};
use uuid::Uuid;

use super::document::EntityJson;
use super::location_repo::{self as repo, LocationRow};
use super::model::{DocumentOutcome, ImportReport, LocationView};
use super::reader::{read_tree, LocatedDocument, UrlSource};
use super::refs::EntityRef;
use super::service::{import, with_relations, Incoming, Origin};
use super::validate::{validate, ValidEntity};
use crate::audit::service::{record, AuditEvent, AuditSource};
use crate::db::Database;
use crate::error::{AppError, AppResult};
use crate::fetch::{self, FetchPolicy, HostAllowlist};
use crate::tenancy::model::Tenant;

pub const MANAGED_BY: &str = "backstage.io/managed-by-location";
pub const MANAGED_BY_ORIGIN: &str = "backstage.io/managed-by-origin-location";
pub const ORPHAN: &str = "backstage.io/orphan";

/// What registering (or a dry run) produced.
pub struct Registered {
    pub location: LocationRow,
    pub entities: Vec<Value>,
    pub report: ImportReport,
    /// The target was registered already.
    pub exists: bool,
}

/// How to register: only look (`dry_run`), and what to do when the target is registered
/// already (`refresh_existing`: refresh it; otherwise a conflict).
#[derive(Clone, Copy, Debug, Default)]
pub struct RegisterOptions {
    pub dry_run: bool,
    pub refresh_existing: bool,
}

/// Registers `target` and imports what it emits. Fetch failures are refused with the reason
/// (and audited); nothing is stored for a location that cannot be read.
pub async fn register(
    db: &Database,
    tenant: &Tenant,
    source: &AuditSource,
    policy: &FetchPolicy,
    target: &str,
    options: RegisterOptions,
) -> AppResult<Registered> {
    let dry_run = options.dry_run;
    let target = fetch::parse(target).map_err(AppError::Invalid)?.to_string();
    let lookup = target.clone();
    if let Some(existing) = db
        .with_tenant(tenant, move |conn| {
            Box::pin(async move { Ok::<_, AppError>(repo::find_by_target(conn, &lookup).await?) })
        })
        .await?
    {
        if dry_run {
            return Ok(Registered {
                location: existing,
                entities: Vec::new(),
                report: ImportReport::default(),
                exists: true,
            });
        }
        if !options.refresh_existing {
            return Err(AppError::conflict(format!("Location url:{} already exists", existing.target)));
        }
        let report = refresh(db, tenant, source, policy, existing.id).await?;
        let entities = provided_entities(db, tenant, existing.id).await?;
        return Ok(Registered { location: find(db, tenant, existing.id).await?, entities, report, exists: true });
    }
    let id = Uuid::new_v4();
    let documents = match read(db, tenant, policy, &target).await {
        Ok(documents) => documents,
        Err(reason) => {
            audit_failure(db, tenant, source, AuditAction::CatalogLocationRefused, &target, &reason).await?;
            return Err(AppError::Invalid(reason));
        }
    };
    let location = LocationRow {
        id,
        location_type: "url".into(),
        target: target.clone(),
        refreshed_at: None,
        refresh_error: None,
    };
    if dry_run {
        let entities = documents
            .into_iter()
            .filter_map(|d| d.document.ok())
            .filter_map(|d| validate(d).ok())
            .map(|v| v.body)
            .collect();
        return Ok(Registered { location, entities, report: ImportReport::default(), exists: false });
    }
    let (actor, event_source, row_target) = (source.actor.clone(), source.clone(), target.clone());
    db.with_tenant(tenant, move |conn| {
        Box::pin(async move {
            repo::insert(conn, id, &row_target, &actor).await?;
            record(
                conn,
                &event_source,
                AuditEvent::success(AuditAction::CatalogLocationRegistered, format!("url:{row_target}")),
            )
            .await
        })
    })
    .await?;
    let report = apply(db, tenant, source, id, &target, documents).await?;
    let entities = provided_entities(db, tenant, id).await?;
    let location = find(db, tenant, id).await?;
    Ok(Registered { location, entities, report, exists: false })
}

/// Points a location at another target and re-reads it; what the old target provided and the
/// new one does not is flagged as orphaned.
pub async fn retarget(
    db: &Database,
    tenant: &Tenant,
    source: &AuditSource,
    policy: &FetchPolicy,
    id: Uuid,
    target: &str,
) -> AppResult<LocationRow> {
    let target = fetch::parse(target).map_err(AppError::Invalid)?.to_string();
    let (event_source, new_target) = (source.clone(), target.clone());
    db.with_tenant(tenant, move |conn| {
        Box::pin(async move {
            let current = repo::find(conn, id)
                .await?
                .ok_or_else(|| AppError::not_found(format!("Found no location with ID {id}")))?;
            if let Some(other) = repo::find_by_target(conn, &new_target).await?.filter(|o| o.id != id) {
                return Err(AppError::conflict(format!("Location url:{} already exists", other.target)));
            }
            repo::set_target(conn, id, &new_target).await?;
            let event = AuditEvent::success(AuditAction::CatalogLocationUpdated, format!("url:{new_target}"))
                .details(json!({ "previous": current.target }));
            record(conn, &event_source, event).await
        })
    })
    .await?;
    refresh(db, tenant, source, policy, id).await?;
    find(db, tenant, id).await
}

/// Whether a location (`{id, type, target}`) matches a Backstage filter predicate: fields
/// equal to a value (ignoring case), `{$in: […]}`, `{$exists: bool}`, `{$hasPrefix: "…"}`,
/// combined with `$all`, `$any` and `$not`.
pub fn matches(predicate: &Value, location: &Value) -> Result<bool, String> {
    let object = predicate.as_object().ok_or("a predicate must be an object")?;
    let mut all = true;
    for (key, operand) in object {
        let result = match key.as_str() {
            "$all" => operand
                .as_array()
                .ok_or("$all takes an array")?
                .iter()
                .try_fold(true, |acc, p| Ok::<_, String>(acc && matches(p, location)?))?,
            "$any" => operand
                .as_array()
                .ok_or("$any takes an array")?
                .iter()
                .try_fold(false, |acc, p| Ok::<_, String>(acc || matches(p, location)?))?,
            "$not" => !matches(operand, location)?,
            field => {
                let value = location.get(field).and_then(Value::as_str);
                let same = |v: &Value| v.as_str().zip(value).is_some_and(|(a, b)| a.eq_ignore_ascii_case(b));
                match operand {
                    Value::Object(op) if op.len() == 1 => match op.iter().next().expect("one entry") {
                        (k, Value::Array(options)) if k == "$in" => options.iter().any(same),
                        (k, Value::Bool(wanted)) if k == "$exists" => value.is_some() == *wanted,
                        (k, Value::String(prefix)) if k == "$hasPrefix" => {
                            value.is_some_and(|v| v.to_lowercase().starts_with(&prefix.to_lowercase()))
                        }
                        (k, _) => return Err(format!("unsupported operator `{k}` on `{field}`")),
                    },
                    other => same(other),
                }
            }
        };
        all &= result;
    }
    Ok(all)
}

/// Re-reads a location: updates what changed, flags orphans, records the outcome.
pub async fn refresh(
    db: &Database,
    tenant: &Tenant,
    source: &AuditSource,
    policy: &FetchPolicy,
    id: Uuid,
) -> AppResult<ImportReport> {
    let location = find(db, tenant, id).await?;
    match read(db, tenant, policy, &location.target).await {
        Ok(documents) => apply(db, tenant, source, id, &location.target, documents).await,
        Err(reason) => {
            let stored = reason.clone();
            db.with_tenant(tenant, move |conn| {
                Box::pin(async move { Ok::<_, AppError>(repo::set_refreshed(conn, id, Some(&stored)).await?) })
            })
            .await?;
            audit_failure(db, tenant, source, AuditAction::CatalogLocationRefreshFailed, &location.target, &reason)
                .await?;
            Err(AppError::Invalid(reason))
        }
    }
}

/// Refreshes the location that provides an entity; entities without one have nothing to
/// re-read (Backstage answers those with success too).
pub async fn refresh_entity(
    db: &Database,
    tenant: &Tenant,
    source: &AuditSource,
    policy: &FetchPolicy,
    entity_ref: &EntityRef,
) -> AppResult<()> {
    let row = entity_row(db, tenant, entity_ref).await?;
    if let Some(location) = row.location_id {
        refresh(db, tenant, source, policy, location).await?;
    }
    Ok(())
}

async fn read(
    db: &Database,
    tenant: &Tenant,
    policy: &FetchPolicy,
    target: &str,
) -> Result<Vec<LocatedDocument>, String> {
    let allowlist = match allowlist(db, tenant).await {
        Ok(patterns) => HostAllowlist(patterns),
        Err(e) => return Err(e.to_string()),
    };
    let source = UrlSource { policy: policy.clone(), allowlist };
    read_tree(&source, vec![(target.to_owned(), Some(generated_key(target)))], false).await
}

/// The generated Location entity's name, as Backstage derives it.
fn generated_name(target: &str) -> String {
    let digest = Sha1::digest(format!("url:{target}").as_bytes());
    format!("generated-{}", digest.iter().map(|b| format!("{b:02x}")).collect::<String>())
}

fn generated_key(target: &str) -> String {
    format!("location:default/{}", generated_name(target))
}

/// Imports the generated Location entity and the documents (annotated with where they came
/// from), then flags entities this location provided before but no longer emits.
async fn apply(
    db: &Database,
    tenant: &Tenant,
    source: &AuditSource,
    id: Uuid,
    target: &str,
    documents: Vec<LocatedDocument>,
) -> AppResult<ImportReport> {
    let origin_annotation = format!("url:{target}");
    let generated = json!({
        "apiVersion": "backstage.io/v1alpha1",
        "kind": "Location",
        "metadata": {
            "name": generated_name(target),
            "namespace": "default",
            "annotations": { MANAGED_BY: origin_annotation, MANAGED_BY_ORIGIN: origin_annotation },
        },
        "spec": { "type": "url", "target": target },
    });
    let mut incoming: Vec<Incoming> = vec![Ok(generated).into()];
    for located in documents {
        let address = format!("url:{}", located.address);
        let document = located.document.map(|mut d| {
            annotate(&mut d, &[(MANAGED_BY, &address), (MANAGED_BY_ORIGIN, &origin_annotation)]);
            d
        });
        incoming.push(Incoming { document, parent: located.parent });
    }
    let origin = Origin { label: origin_annotation.clone(), location: Some(id), job: None };
    let mut report = import(db, tenant, source, &origin, incoming).await?;

    let emitted: HashSet<String> = report
        .results
        .iter()
        .filter(|r| !matches!(r.outcome, DocumentOutcome::Rejected(_)))
        .filter_map(|r| r.entity_ref.as_ref().map(|e| e.to_lowercase()))
        .collect();
    let provided = db
        .with_tenant(tenant, move |conn| {
            Box::pin(async move { Ok::<_, AppError>(super::repo::provided_by(conn, id).await?) })
        })
        .await?;
    let orphans: Vec<Incoming> = provided
        .into_iter()
        .filter(|row| !emitted.contains(&row.entity_ref))
        .map(|row| super::document::body(&row.document))
        .filter(|body| body["metadata"]["annotations"][ORPHAN] != "true")
        .map(|mut body| {
            annotate(&mut body, &[(ORPHAN, "true")]);
            Ok(body).into()
        })
        .collect();
    if !orphans.is_empty() {
        let flagged = import(db, tenant, source, &origin, orphans).await?;
        report.orphaned = flagged.results.iter().filter_map(|r| r.entity_ref.clone()).collect();
    }
    db.with_tenant(tenant, move |conn| {
        Box::pin(async move { Ok::<_, AppError>(repo::set_refreshed(conn, id, None).await?) })
    })
    .await?;
    Ok(report)
}

fn annotate(document: &mut Value, pairs: &[(&str, &str)]) {
    let Some(metadata) = document.get_mut("metadata").and_then(Value::as_object_mut) else { return };
    let annotations = metadata.entry("annotations").or_insert_with(|| json!({}));
    if let Some(map) = annotations.as_object_mut() {
        for (key, value) in pairs {
            map.insert((*key).to_owned(), Value::String((*value).to_owned()));
        }
    }
}

async fn audit_failure(
    db: &Database,
    tenant: &Tenant,
    source: &AuditSource,
    action: AuditAction,
    target: &str,
    reason: &str,
) -> AppResult<()> {
    let (source, event) =
        (source.clone(), AuditEvent::failure(action, format!("url:{target}")).details(json!({ "reason": reason })));
    db.with_tenant(tenant, move |conn| Box::pin(async move { record(conn, &source, event).await })).await
}

pub async fn find(db: &Database, tenant: &Tenant, id: Uuid) -> AppResult<LocationRow> {
    db.with_tenant(tenant, move |conn| Box::pin(async move { Ok::<_, AppError>(repo::find(conn, id).await?) }))
        .await?
        .ok_or_else(|| AppError::not_found(format!("Found no location with ID {id}")))
}

/// Every registered location, ordered by target, with the number of entities it provides.
pub async fn registered(db: &Database, tenant: &Tenant) -> AppResult<Vec<(LocationRow, i64)>> {
    db.with_tenant(tenant, |conn| Box::pin(async move { Ok::<_, AppError>(repo::list(conn).await?) })).await
}

pub async fn list(db: &Database, tenant: &Tenant) -> AppResult<Vec<LocationView>> {
    Ok(registered(db, tenant)
        .await?
        .into_iter()
        .map(|(row, entities)| LocationView {
            id: row.id.to_string(),
            target: row.target,
            refreshed_at: row.refreshed_at.map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string()),
            refresh_error: row.refresh_error,
            entities,
        })
        .collect())
}

/// Unregisters a location and deletes the entities it provided, in one transaction.
pub async fn delete(db: &Database, tenant: &Tenant, source: &AuditSource, id: Uuid) -> AppResult<()> {
    let source = source.clone();
    db.with_tenant(tenant, move |conn| {
        Box::pin(async move {
            let location = repo::find(conn, id)
                .await?
                .ok_or_else(|| AppError::not_found(format!("Found no location with ID {id}")))?;
            let removed = repo::delete(conn, id).await?;
            super::repo::bump_version(conn).await?;
            let event = AuditEvent::success(AuditAction::CatalogLocationDeleted, format!("url:{}", location.target))
                .details(json!({ "entities": removed }));
            record(conn, &source, event).await
        })
    })
    .await
}

async fn entity_row(db: &Database, tenant: &Tenant, entity_ref: &EntityRef) -> AppResult<super::repo::EntityRow> {
    let key = entity_ref.key();
    let display = entity_ref.to_string();
    db.with_tenant(tenant, move |conn| {
        Box::pin(async move { Ok::<_, AppError>(super::repo::find_by_ref(conn, &key).await?) })
    })
    .await?
    .ok_or_else(|| AppError::not_found(format!("No entity {display}")))
}

/// The location that provides an entity.
pub async fn by_entity(db: &Database, tenant: &Tenant, entity_ref: &EntityRef) -> AppResult<LocationRow> {
    let row = entity_row(db, tenant, entity_ref).await?;
    let id = row
        .location_id
        .ok_or_else(|| AppError::not_found(format!("{entity_ref} is not provided by a registered location")))?;
    find(db, tenant, id).await
}

async fn provided_entities(db: &Database, tenant: &Tenant, id: Uuid) -> AppResult<Vec<Value>> {
    db.with_tenant(tenant, move |conn| {
        Box::pin(async move {
            let rows = super::repo::provided_by(conn, id).await?;
            Ok(with_relations(conn, &rows).await?.iter().map(EntityJson::to_value).collect())
        })
    })
    .await
}

/// The entity and the Location entities above it, nearest first (Backstage's ancestry).
pub async fn ancestry(db: &Database, tenant: &Tenant, entity_ref: &EntityRef) -> AppResult<Value> {
    let root = entity_ref.key();
    let display = entity_ref.to_string();
    db.with_tenant(tenant, move |conn| {
        Box::pin(async move {
            let mut items = Vec::new();
            let mut seen = HashSet::new();
            let mut next = Some(root.clone());
            while let Some(key) = next.take() {
                if !seen.insert(key.clone()) {
                    break;
                }
                let Some(row) = super::repo::find_by_ref(conn, &key).await? else {
                    if items.is_empty() {
                        return Err(AppError::not_found(format!("No entity {display}")));
                    }
                    break;
                };
                next = row.parent_ref.clone();
                let entity = with_relations(conn, std::slice::from_ref(&row)).await?.pop().map(|e| e.to_value());
                let parents: Vec<String> = row.parent_ref.iter().cloned().collect();
                items.push(json!({ "entity": entity, "parentEntityRefs": parents }));
            }
            Ok(json!({ "rootEntityRef": root, "items": items }))
        })
    })
    .await
}

/// What registering `target` would add, without writing anything (Backstage's
/// analyze-location): each entity with whether it is already in the catalog.
pub async fn analyze(db: &Database, tenant: &Tenant, policy: &FetchPolicy, target: &str) -> AppResult<Vec<Value>> {
    let target = fetch::parse(target).map_err(AppError::Invalid)?.to_string();
    let documents = read(db, tenant, policy, &target).await.map_err(AppError::Invalid)?;
    let valid: Vec<(String, ValidEntity)> =
        documents.into_iter().filter_map(|d| Some((d.address, validate(d.document.ok()?).ok()?))).collect();
    let keys: Vec<String> = valid.iter().map(|(_, v)| v.entity_ref.key()).collect();
    let existing: HashSet<String> = db
        .with_tenant(tenant, move |conn| {
            Box::pin(async move { Ok::<_, AppError>(super::repo::existing_refs(conn, &keys).await?) })
        })
        .await?
        .into_iter()
        .collect();
    Ok(valid
        .into_iter()
        .map(|(address, entity)| {
            json!({
                "location": { "type": "url", "target": address },
                "isRegistered": existing.contains(&entity.entity_ref.key()),
                "entity": entity.body,
            })
        })
        .collect())
}

/// The tenant's host patterns.
pub async fn allowlist(db: &Database, tenant: &Tenant) -> AppResult<Vec<String>> {
    db.with_tenant(tenant, |conn| Box::pin(async move { Ok::<_, AppError>(repo::allowlist(conn).await?) })).await
}

/// Adds a host pattern (validated and normalised); audited.
pub async fn allow_host(db: &Database, tenant: &Tenant, source: &AuditSource, raw: &str) -> AppResult<String> {
    let pattern = fetch::normalize_pattern(raw).map_err(AppError::Invalid)?;
    let (source, stored) = (source.clone(), pattern.clone());
    db.with_tenant(tenant, move |conn| {
        Box::pin(async move {
            if repo::allow(conn, &stored, &source.actor).await? {
                record(conn, &source, AuditEvent::success(AuditAction::CatalogFetchHostAllowed, stored)).await?;
            }
            Ok::<_, AppError>(())
        })
    })
    .await?;
    Ok(pattern)
}

/// Removes a host pattern; audited.
pub async fn disallow_host(db: &Database, tenant: &Tenant, source: &AuditSource, pattern: &str) -> AppResult<()> {
    let (source, pattern) = (source.clone(), pattern.to_owned());
    db.with_tenant(tenant, move |conn| {
        Box::pin(async move {
            if !repo::disallow(conn, &pattern).await? {
                return Err(AppError::not_found(format!("`{pattern}` is not in the allowlist")));
            }
            record(conn, &source, AuditEvent::success(AuditAction::CatalogFetchHostRemoved, pattern)).await
        })
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn location_predicates_follow_backstage() {
        let location = json!({ "id": "1", "type": "url", "target": "https://github.com/acme/repo/catalog-info.yaml" });
        let yes = |p: Value| matches(&p, &location).unwrap();
        assert!(yes(json!({ "type": "URL" })));
        assert!(yes(json!({ "type": "url", "target": { "$hasPrefix": "https://github.com/acme" } })));
        assert!(!yes(json!({ "type": "url", "target": { "$hasPrefix": "https://gitlab.com" } })));
        assert!(yes(json!({ "$any": [{ "type": "file" }, { "id": { "$in": ["1", "2"] } }] })));
        assert!(yes(json!({ "$not": { "missing": { "$exists": true } } })));
        assert!(!yes(json!({ "$all": [{ "type": "url" }, { "type": "file" }] })));
        assert!(matches(&json!({ "type": { "$regex": "x" } }), &location).is_err());
    }

    #[test]
    fn generated_names_match_backstage() {
        // sha1("url:https://example.com/catalog-info.yaml")
        let name = generated_name("https://example.com/catalog-info.yaml");
        assert!(name.starts_with("generated-") && name.len() == "generated-".len() + 40, "{name}");
        assert_eq!(name, generated_name("https://example.com/catalog-info.yaml"));
    }
}
