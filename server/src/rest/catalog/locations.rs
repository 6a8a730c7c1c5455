//! `/locations` and the routes that read through them: registering, retargeting, listing and
//! deleting locations, refreshing an entity from its location, analysing a location before
//! registering it, and an entity's ancestry (the locations that led to it).

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use uuid::Uuid;

use super::{decode_cursor, encode_cursor, reader, Params};
use crate::rest::{invalid, json_body, ApiError, ApiResult};
use app::auth::permission::Action;
use app::catalog::location_repo::LocationRow;
use app::catalog::locations;
use app::catalog::model::DocumentOutcome;
use app::catalog::query::MAX_PAGE;
use app::catalog::refs::EntityRef;
use app::error::AppError;
use app::state::{AppState, RequestContext};

/// A location as Backstage's API shows it, everywhere it shows one (alone, listed, in a
/// registration's answer, matched by a query): `{id, type, target}`, the type as stored.
fn location_json(location: &LocationRow) -> Value {
    json!({ "id": location.id, "type": location.location_type, "target": location.target })
}

fn location_id(raw: &str) -> ApiResult<Uuid> {
    Uuid::parse_str(raw).map_err(|_| ApiError(AppError::not_found(format!("Found no location with ID {raw}"))))
}

/// `{type, target}` in a request body.
#[derive(Deserialize)]
struct LocationSpec {
    #[serde(rename = "type")]
    location_type: String,
    target: String,
}

impl LocationSpec {
    /// The target of a `url` location, the only type read here (`file` would expose our disk).
    fn url(&self) -> ApiResult<&str> {
        match self.location_type.as_str() {
            "url" => Ok(&self.target),
            other => Err(invalid(format!("location type `{other}` is not supported; use url"))),
        }
    }
}

/// `GET /locations`: `[{data: {id, type, target}}]`.
pub(super) async fn list(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
) -> ApiResult<Json<Value>> {
    reader(&ctx)?;
    let locations = locations::registered(&state.db, &ctx.tenant).await?;
    Ok(Json(locations.iter().map(|(l, _)| json!({ "data": location_json(l) })).collect()))
}

pub(super) async fn get(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    reader(&ctx)?;
    Ok(Json(location_json(&locations::find(&state.db, &ctx.tenant, location_id(&id)?).await?)))
}

/// `POST /locations[?dryRun=true]` `{type: "url", target}`: 201 `{location, entities}`.
pub(super) async fn create(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    RawQuery(raw): RawQuery,
    body: Bytes,
) -> ApiResult<Response> {
    ctx.authorize(Action::CatalogWrite)?;
    let params = Params::parse(raw)?;
    let options = locations::RegisterOptions {
        dry_run: params.one("dryRun") == Some("true"),
        refresh_existing: params.one("onConflict") == Some("refresh"),
    };
    let spec: LocationSpec = json_body(&body)?;
    let registered =
        locations::register(&state.db, &ctx.tenant, &ctx.audit_source(), &state.fetch_policy, spec.url()?, options)
            .await?;
    let rejected: Vec<Value> = registered
        .report
        .results
        .iter()
        .filter_map(|r| match &r.outcome {
            DocumentOutcome::Rejected(reasons) => {
                Some(json!({ "document": r.document, "entityRef": r.entity_ref, "reasons": reasons }))
            }
            _ => None,
        })
        .collect();
    // Backstage answers 201 for dry runs too (catalog-client accepts nothing else).
    let body = json!({
        "location": location_json(&registered.location),
        "entities": registered.entities,
        "exists": registered.exists,
        "rejected": rejected,
    });
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

/// `PUT /locations/{id}` `{type, target}`: points the location elsewhere and re-reads it.
pub(super) async fn update(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    ctx.authorize(Action::CatalogWrite)?;
    let spec: LocationSpec = json_body(&body)?;
    let location = locations::retarget(
        &state.db,
        &ctx.tenant,
        &ctx.audit_source(),
        &state.fetch_policy,
        location_id(&id)?,
        spec.url()?,
    )
    .await?;
    Ok(Json(location_json(&location)))
}

/// `POST /locations/by-query` `{query?, limit?}` or `{cursor}`: `{items, totalItems, pageInfo}`.
pub(super) async fn by_query(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    reader(&ctx)?;
    #[derive(Deserialize, Serialize)]
    struct LocationQuery {
        query: Option<Value>,
        limit: Option<usize>,
        #[serde(default)]
        offset: usize,
    }
    #[derive(Deserialize)]
    struct Body {
        cursor: Option<String>,
        #[serde(flatten)]
        initial: LocationQuery,
    }
    let body: Body = json_body(&body)?;
    let request = match body.cursor {
        Some(cursor) => decode_cursor(&cursor)?,
        None => body.initial,
    };
    let all: Vec<Value> =
        locations::registered(&state.db, &ctx.tenant).await?.iter().map(|(l, _)| location_json(l)).collect();
    let mut matching = Vec::new();
    for location in all {
        if request.query.as_ref().map_or(Ok(true), |q| locations::matches(q, &location)).map_err(invalid)? {
            matching.push(location);
        }
    }
    let limit = request.limit.unwrap_or(20).min(MAX_PAGE as usize);
    let items: Vec<Value> = matching.iter().skip(request.offset).take(limit).cloned().collect();
    let mut page_info = serde_json::Map::new();
    if request.offset + limit < matching.len() {
        let next = LocationQuery { offset: request.offset + limit, ..request };
        page_info.insert("nextCursor".into(), Value::String(encode_cursor(&next)));
    }
    Ok(Json(json!({ "items": items, "totalItems": matching.len(), "pageInfo": page_info })))
}

pub(super) async fn delete(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    ctx.authorize(Action::CatalogWrite)?;
    locations::delete(&state.db, &ctx.tenant, &ctx.audit_source(), location_id(&id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /locations/by-entity/{kind}/{namespace}/{name}`: the location that provides the entity.
pub(super) async fn by_entity(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    Path((kind, namespace, name)): Path<(String, String, String)>,
) -> ApiResult<Json<Value>> {
    reader(&ctx)?;
    let entity_ref = EntityRef::new(&kind, &namespace, &name);
    Ok(Json(location_json(&locations::by_entity(&state.db, &ctx.tenant, &entity_ref).await?)))
}

/// `GET /entities/by-name/{kind}/{namespace}/{name}/ancestry`: the entity and the locations
/// that led to it.
pub(super) async fn ancestry(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    Path((kind, namespace, name)): Path<(String, String, String)>,
) -> ApiResult<Json<Value>> {
    reader(&ctx)?;
    let entity_ref = EntityRef::new(&kind, &namespace, &name);
    Ok(Json(locations::ancestry(&state.db, &ctx.tenant, &entity_ref).await?))
}

/// `POST /refresh` `{entityRef}`: re-reads the location that provides the entity.
pub(super) async fn refresh_entity(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    body: Bytes,
) -> ApiResult<StatusCode> {
    ctx.authorize(Action::CatalogWrite)?;
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct RefreshRequest {
        entity_ref: String,
    }
    let request: RefreshRequest = json_body(&body)?;
    let entity_ref = EntityRef::parse(&request.entity_ref, None, "default").map_err(invalid)?;
    locations::refresh_entity(&state.db, &ctx.tenant, &ctx.audit_source(), &state.fetch_policy, &entity_ref).await?;
    Ok(StatusCode::OK)
}

/// `POST /analyze-location` `{location: {type, target}}`: what registering it would add.
pub(super) async fn analyze(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    ctx.authorize(Action::CatalogWrite)?;
    #[derive(Deserialize)]
    struct AnalyzeRequest {
        location: LocationSpec,
    }
    let request: AnalyzeRequest = json_body(&body)?;
    let files = locations::analyze(&state.db, &ctx.tenant, &state.fetch_policy, request.location.url()?).await?;
    Ok(Json(json!({ "existingEntityFiles": files, "generateEntities": [] })))
}
