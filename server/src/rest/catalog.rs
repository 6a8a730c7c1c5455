//! `/api/catalog`: Backstage's catalog REST API (the routes `@backstage/catalog-client`
//! calls), answering in Backstage's shapes and error envelope. Handlers only translate HTTP;
//! the catalog service does the work.

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::Method;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use uuid::Uuid;

use super::{invalid, json_body, ApiError, ApiResult, Endpoint};
use app::auth::permission::Action;
use app::catalog::location_repo::LocationRow;
use app::catalog::locations;
use app::catalog::query::{EntityQuery, Filter, Sort, SortField, MAX_PAGE};
use app::catalog::refs::EntityRef;
use app::catalog::service::{self, SaveTarget};
use app::catalog::validate::validate;
use app::error::AppError;
use app::state::{AppState, RequestContext};

/// Imports larger than this are refused with 413 before they are read.
pub const MAX_IMPORT_BYTES: usize = service::MAX_UPLOAD_BYTES;
/// `GET /entities` without `limit` returns at most this many, with a `Link` to the rest.
const UNLIMITED_PAGE: i64 = 10_000;

/// Backstage's catalog API; served with its error envelope by `rest::tenant_routes`.
pub fn endpoints() -> Vec<Endpoint> {
    vec![
        Endpoint::new(Method::GET, "/api/catalog/entities", get_entities),
        Endpoint::new(Method::POST, "/api/catalog/entities", create_entity),
        Endpoint::new(Method::GET, "/api/catalog/entities/{uid}", get_entity_by_uid),
        Endpoint::new(Method::PUT, "/api/catalog/entities/{uid}", replace_entity),
        Endpoint::new(Method::DELETE, "/api/catalog/entities/{uid}", delete_entity_by_uid),
        Endpoint::new(Method::GET, "/api/catalog/search", search),
        Endpoint::new(Method::GET, "/api/catalog/openapi.json", openapi),
        Endpoint::new(Method::GET, "/api/catalog/entities/by-query", get_entities_by_query),
        Endpoint::new(Method::POST, "/api/catalog/entities/by-query", query_entities_by_predicate),
        Endpoint::new(Method::POST, "/api/catalog/entities/by-refs", get_entities_by_refs),
        Endpoint::new(Method::GET, "/api/catalog/entities/by-name/{kind}/{namespace}/{name}", get_entity_by_name),
        Endpoint::new(
            Method::GET,
            "/api/catalog/entities/by-name/{kind}/{namespace}/{name}/ancestry",
            get_entity_ancestry,
        ),
        Endpoint::new(Method::GET, "/api/catalog/locations", get_locations),
        Endpoint::new(Method::POST, "/api/catalog/locations", create_location),
        Endpoint::new(Method::GET, "/api/catalog/locations/{id}", get_location),
        Endpoint::new(Method::PUT, "/api/catalog/locations/{id}", update_location),
        Endpoint::new(Method::DELETE, "/api/catalog/locations/{id}", delete_location),
        Endpoint::new(Method::POST, "/api/catalog/locations/by-query", query_locations),
        Endpoint::new(
            Method::GET,
            "/api/catalog/locations/by-entity/{kind}/{namespace}/{name}",
            get_location_by_entity,
        ),
        Endpoint::new(Method::POST, "/api/catalog/refresh", refresh_entity),
        Endpoint::new(Method::POST, "/api/catalog/analyze-location", analyze_location),
        Endpoint::new(Method::GET, "/api/catalog/entities/by-uid/{uid}", get_entity_by_uid),
        Endpoint::new(Method::DELETE, "/api/catalog/entities/by-uid/{uid}", delete_entity_by_uid),
        Endpoint::new(Method::GET, "/api/catalog/entity-facets", get_entity_facets),
        Endpoint::new(Method::POST, "/api/catalog/entity-facets", query_entity_facets),
        Endpoint::new(Method::GET, "/api/catalog/events", catalog_events),
        Endpoint::new(Method::GET, "/api/catalog/export", export),
        Endpoint::new(Method::POST, "/api/catalog/validate-entity", validate_entity),
        Endpoint::new(Method::POST, "/api/catalog/import", import).body_limit(MAX_IMPORT_BYTES),
    ]
}

/// The query string as repeated `key=value` pairs (`filter` may appear many times).
struct Params(Vec<(String, String)>);

impl Params {
    fn parse(raw: Option<String>) -> ApiResult<Self> {
        serde_urlencoded::from_str(raw.as_deref().unwrap_or(""))
            .map(Self)
            .map_err(|e| ApiError(AppError::Invalid(format!("malformed query string: {e}"))))
    }

    fn all<'a>(&'a self, key: &'a str) -> impl Iterator<Item = &'a str> {
        self.0.iter().filter(move |(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    fn one<'a>(&'a self, key: &'a str) -> Option<&'a str> {
        self.all(key).last()
    }

    fn number(&self, key: &str) -> ApiResult<Option<i64>> {
        self.one(key)
            .map(|v| {
                v.parse::<i64>()
                    .ok()
                    .filter(|n| *n >= 0)
                    .ok_or_else(|| invalid(format!("{key} must be a non-negative integer")))
            })
            .transpose()
    }

    fn fields(&self) -> Vec<String> {
        self.all("fields")
            .flat_map(|f| f.split(','))
            .map(str::trim)
            .filter(|f| !f.is_empty())
            .map(str::to_owned)
            .collect()
    }
}

fn reader(ctx: &RequestContext) -> ApiResult<()> {
    ctx.authorize(Action::CatalogRead)?;
    Ok(())
}

/// What a cursor carries: the whole query, so that a page request needs nothing else.
/// (Not named `query`: catalog-client reads a cursor with a `query` key as a predicate
/// cursor and switches to `POST /entities/by-query`.)
#[derive(Serialize, Deserialize)]
struct Cursor {
    #[serde(rename = "request")]
    query: EntityQuery,
    fields: Vec<String>,
}

impl Cursor {
    fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(self).expect("cursor serialises"))
    }

    fn decode(raw: &str) -> ApiResult<Self> {
        URL_SAFE_NO_PAD
            .decode(raw)
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .ok_or_else(|| invalid("malformed cursor".into()))
    }
}

async fn get_entities(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Response> {
    reader(&ctx)?;
    let params = Params::parse(raw)?;
    let (query, fields) = match params.one("after") {
        Some(after) => {
            let cursor = Cursor::decode(after)?;
            (cursor.query, cursor.fields)
        }
        None => {
            let mut sort = Vec::new();
            for order in params.all("order") {
                let (direction, field) = order.split_once(':').unwrap_or(("asc", order));
                let descending = match direction {
                    "asc" => false,
                    "desc" => true,
                    other => return Err(invalid(format!("order direction `{other}` must be asc or desc"))),
                };
                sort.push(Sort { field: SortField::parse(field)?, descending });
            }
            let query = EntityQuery {
                filter: Filter::parse(params.all("filter"))?,
                predicate: None,
                full_text: None,
                sort,
                offset: params.number("offset")?.unwrap_or(0),
                limit: params.number("limit")?.unwrap_or(UNLIMITED_PAGE).min(UNLIMITED_PAGE),
            };
            (query, params.fields())
        }
    };
    let page = service::query(&state.db, &ctx.tenant, query.clone(), false).await?;
    let items: Vec<Value> = page.entities.iter().map(|e| service::project(e, &fields)).collect();
    let mut response = Json(items).into_response();
    if page.has_more {
        let next = Cursor { query: EntityQuery { offset: query.offset + query.limit, ..query }, fields };
        let link = format!("</api/catalog/entities?after={}>; rel=\"next\"", next.encode());
        if let Ok(value) = HeaderValue::from_str(&link) {
            response.headers_mut().insert(header::LINK, value);
        }
    }
    Ok(response)
}

async fn get_entities_by_query(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<Value>> {
    reader(&ctx)?;
    let params = Params::parse(raw)?;
    let limit = params.number("limit")?.unwrap_or(20).min(MAX_PAGE);
    let (query, fields) = match params.one("cursor") {
        // A cursor stands for the whole query: other parameters (except limit) are ignored.
        Some(raw) => {
            let cursor = Cursor::decode(raw)?;
            (EntityQuery { limit, ..cursor.query }, cursor.fields)
        }
        None => {
            let mut sort = Vec::new();
            for order in params.all("orderField") {
                let (field, direction) = order.split_once(',').unwrap_or((order, "asc"));
                let descending = match direction.trim() {
                    "asc" => false,
                    "desc" => true,
                    other => return Err(invalid(format!("orderField direction `{other}` must be asc or desc"))),
                };
                sort.push(Sort { field: SortField::parse(field)?, descending });
            }
            let term = params.one("fullTextFilterTerm").map(str::trim).filter(|t| !t.is_empty());
            let query = EntityQuery {
                filter: Filter::parse(params.all("filter"))?,
                predicate: None,
                full_text: term.map(str::to_owned),
                sort,
                offset: params.number("offset")?.unwrap_or(0),
                limit,
            };
            (query, params.fields())
        }
    };
    by_query_page(&state, &ctx, query, fields).await
}

/// `POST /entities/by-query`: the same pages, selected by a filter predicate.
async fn query_entities_by_predicate(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    reader(&ctx)?;
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct OrderBy {
        field: String,
        order: String,
    }
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct FullText {
        term: Option<String>,
    }
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Body {
        query: Option<Value>,
        cursor: Option<String>,
        limit: Option<i64>,
        offset: Option<i64>,
        #[serde(default)]
        order_by: Vec<OrderBy>,
        full_text_filter: Option<FullText>,
        #[serde(default)]
        fields: Vec<String>,
    }
    let body: Body = json_body(&body)?;
    let limit = body.limit.unwrap_or(20).clamp(0, MAX_PAGE);
    let (query, fields) = match body.cursor {
        Some(raw) => {
            let cursor = Cursor::decode(&raw)?;
            (EntityQuery { limit, ..cursor.query }, cursor.fields)
        }
        None => {
            let sort = body
                .order_by
                .iter()
                .map(|o| {
                    Ok(Sort { field: SortField::parse(&o.field)?, descending: o.order.eq_ignore_ascii_case("desc") })
                })
                .collect::<Result<Vec<_>, AppError>>()?;
            let query = EntityQuery {
                filter: Filter::default(),
                predicate: body.query.as_ref().map(app::catalog::query::Predicate::parse).transpose()?,
                full_text: body
                    .full_text_filter
                    .and_then(|f| f.term)
                    .map(|t| t.trim().to_owned())
                    .filter(|t| !t.is_empty()),
                sort,
                offset: body.offset.unwrap_or(0),
                limit,
            };
            (query, body.fields)
        }
    };
    by_query_page(&state, &ctx, query, fields).await
}

/// `{items, totalItems, pageInfo}` for one page of a query; cursors carry the whole query.
async fn by_query_page(
    state: &AppState,
    ctx: &RequestContext,
    query: EntityQuery,
    fields: Vec<String>,
) -> ApiResult<Json<Value>> {
    let page = service::query(&state.db, &ctx.tenant, query.clone(), true).await?;
    let mut page_info = serde_json::Map::new();
    if page.has_more {
        let next = Cursor {
            query: EntityQuery { offset: query.offset + query.limit, ..query.clone() },
            fields: fields.clone(),
        };
        page_info.insert("nextCursor".into(), Value::String(next.encode()));
    }
    if query.offset > 0 {
        let previous = Cursor {
            query: EntityQuery { offset: (query.offset - query.limit).max(0), ..query.clone() },
            fields: fields.clone(),
        };
        page_info.insert("prevCursor".into(), Value::String(previous.encode()));
    }
    Ok(Json(json!({
        "items": page.entities.iter().map(|e| service::project(e, &fields)).collect::<Vec<_>>(),
        "totalItems": page.total.unwrap_or_default(),
        "pageInfo": page_info,
    })))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ByRefs {
    entity_refs: Vec<String>,
    #[serde(default)]
    fields: Vec<String>,
}

async fn get_entities_by_refs(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    RawQuery(raw): RawQuery,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    reader(&ctx)?;
    let params = Params::parse(raw)?;
    let request: ByRefs = json_body(&body)?;
    if request.entity_refs.len() > MAX_PAGE as usize {
        return Err(invalid(format!("at most {MAX_PAGE} entityRefs per request")));
    }
    let refs = request
        .entity_refs
        .iter()
        .map(|r| EntityRef::parse(r, None, "default").map_err(invalid))
        .collect::<ApiResult<Vec<_>>>()?;
    let filter = Filter::parse(params.all("filter"))?;
    let items = service::get_by_refs(&state.db, &ctx.tenant, refs, filter).await?;
    let items: Vec<Value> =
        items.into_iter().map(|e| e.map_or(Value::Null, |e| service::project(&e, &request.fields))).collect();
    Ok(Json(json!({ "items": items })))
}

async fn get_entity_by_name(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    Path((kind, namespace, name)): Path<(String, String, String)>,
) -> ApiResult<Json<Value>> {
    reader(&ctx)?;
    let entity_ref = EntityRef::new(&kind, &namespace, &name);
    service::get_by_ref(&state.db, &ctx.tenant, &entity_ref).await?.map(Json).ok_or_else(|| {
        ApiError(AppError::NotFound(format!(
            "No entity named '{name}' found, with kind '{kind}' in namespace '{namespace}'"
        )))
    })
}

async fn get_entity_by_uid(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    Path(uid): Path<String>,
) -> ApiResult<Json<Value>> {
    reader(&ctx)?;
    let id = entity_uid(&uid)?;
    service::get_by_uid(&state.db, &ctx.tenant, id).await?.map(Json).ok_or_else(|| no_entity(&uid))
}

/// The uid in a path; a malformed one names no entity (404, as Backstage answers).
fn entity_uid(uid: &str) -> ApiResult<Uuid> {
    Uuid::parse_str(uid).map_err(|_| no_entity(uid))
}

fn no_entity(uid: &str) -> ApiError {
    ApiError(AppError::NotFound(format!("No entity with uid {uid}")))
}

async fn delete_entity_by_uid(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    Path(uid): Path<String>,
) -> ApiResult<StatusCode> {
    ctx.authorize(Action::CatalogWrite)?;
    let id = entity_uid(&uid)?;
    service::delete_by_uid(&state.db, &ctx.tenant, ctx.audit_source(), id).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn get_entity_facets(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<Value>> {
    reader(&ctx)?;
    let params = Params::parse(raw)?;
    let keys: Vec<String> = params.all("facet").map(str::to_owned).collect();
    if keys.is_empty() {
        return Err(invalid("at least one facet is required".into()));
    }
    let filter = Filter::parse(params.all("filter"))?;
    facets_json(service::facets(&state.db, &ctx.tenant, keys, filter, None).await?)
}

/// `POST /entity-facets` `{facets, query?}`: facet counts over the entities a predicate selects.
async fn query_entity_facets(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    reader(&ctx)?;
    #[derive(Deserialize)]
    struct Body {
        facets: Vec<String>,
        query: Option<Value>,
    }
    let body: Body = json_body(&body)?;
    if body.facets.is_empty() {
        return Err(invalid("at least one facet is required".into()));
    }
    let predicate = body.query.as_ref().map(app::catalog::query::Predicate::parse).transpose()?;
    facets_json(service::facets(&state.db, &ctx.tenant, body.facets, Filter::default(), predicate).await?)
}

fn facets_json(facets: Vec<(String, Vec<(String, i64)>)>) -> ApiResult<Json<Value>> {
    let facets: serde_json::Map<String, Value> = facets
        .into_iter()
        .map(|(key, counts)| {
            let values = counts.into_iter().map(|(value, count)| json!({ "value": value, "count": count })).collect();
            (key, Value::Array(values))
        })
        .collect();
    Ok(Json(json!({ "facets": facets })))
}

#[derive(Deserialize)]
struct ValidateRequest {
    entity: Value,
    location: Option<String>,
}

async fn validate_entity(Extension(ctx): Extension<RequestContext>, body: Bytes) -> ApiResult<Response> {
    reader(&ctx)?;
    let request: ValidateRequest = json_body(&body)?;
    if request.location.as_deref().is_some_and(|l| !l.starts_with("url:")) {
        return Err(invalid("location must be of type url, e.g. url:https://example.com/catalog-info.yaml".into()));
    }
    Ok(match validate(request.entity) {
        Ok(_) => StatusCode::OK.into_response(),
        Err(errors) => (
            StatusCode::BAD_REQUEST,
            Json(json!({
                "errors": errors.into_iter().map(|message| json!({ "name": "InputError", "message": message })).collect::<Vec<_>>()
            })),
        )
            .into_response(),
    })
}

/// `POST /api/catalog/import`: one or many YAML documents, or a .zip / .tar.gz of a repository
/// (its Locations and `$text` placeholders followed inside the archive); a report per document.
async fn import(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    ctx.authorize(Action::CatalogWrite)?;
    let documents = service::documents_of_upload(&body).await?;
    let origin = service::Origin::named("upload");
    let report = service::import(&state.db, &ctx.tenant, &ctx.audit_source(), &origin, documents).await?;
    Ok(Json(serde_json::to_value(report).map_err(AppError::internal)?))
}

/// A location as Backstage's API shows it.
fn location_json(location: &LocationRow) -> Value {
    json!({ "id": location.id, "type": location.location_type, "target": location.target })
}

fn location_id(raw: &str) -> ApiResult<Uuid> {
    Uuid::parse_str(raw).map_err(|_| ApiError(AppError::NotFound(format!("Found no location with ID {raw}"))))
}

/// `GET /locations`: `[{data: {id, type, target}}]`.
async fn get_locations(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
) -> ApiResult<Json<Value>> {
    reader(&ctx)?;
    let locations = locations::list(&state.db, &ctx.tenant).await?;
    Ok(Json(Value::Array(
        locations.into_iter().map(|l| json!({ "data": { "id": l.id, "type": "url", "target": l.target } })).collect(),
    )))
}

async fn get_location(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    reader(&ctx)?;
    Ok(Json(location_json(&locations::find(&state.db, &ctx.tenant, location_id(&id)?).await?)))
}

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

/// `POST /locations[?dryRun=true]` `{type: "url", target}`: 201 `{location, entities}`.
async fn create_location(
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
            app::catalog::model::DocumentOutcome::Rejected(reasons) => {
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
async fn update_location(
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
async fn query_locations(
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
        Some(cursor) => URL_SAFE_NO_PAD
            .decode(cursor)
            .ok()
            .and_then(|bytes| serde_json::from_slice::<LocationQuery>(&bytes).ok())
            .ok_or_else(|| invalid("malformed cursor".into()))?,
        None => body.initial,
    };
    let all: Vec<Value> = locations::list(&state.db, &ctx.tenant)
        .await?
        .into_iter()
        .map(|l| json!({ "id": l.id, "type": "url", "target": l.target }))
        .collect();
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
        let encoded = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&next).map_err(AppError::internal)?);
        page_info.insert("nextCursor".into(), Value::String(encoded));
    }
    Ok(Json(json!({ "items": items, "totalItems": matching.len(), "pageInfo": page_info })))
}

async fn delete_location(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    ctx.authorize(Action::CatalogWrite)?;
    locations::delete(&state.db, &ctx.tenant, &ctx.audit_source(), location_id(&id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn get_location_by_entity(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    Path((kind, namespace, name)): Path<(String, String, String)>,
) -> ApiResult<Json<Value>> {
    reader(&ctx)?;
    let entity_ref = EntityRef::new(&kind, &namespace, &name);
    Ok(Json(location_json(&locations::by_entity(&state.db, &ctx.tenant, &entity_ref).await?)))
}

async fn get_entity_ancestry(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    Path((kind, namespace, name)): Path<(String, String, String)>,
) -> ApiResult<Json<Value>> {
    reader(&ctx)?;
    let entity_ref = EntityRef::new(&kind, &namespace, &name);
    Ok(Json(locations::ancestry(&state.db, &ctx.tenant, &entity_ref).await?))
}

/// `POST /refresh` `{entityRef}`: re-reads the location that provides the entity.
async fn refresh_entity(
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
async fn analyze_location(
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

/// `GET /api/catalog/events`: server-sent `catalog:updated` events for this tenant only.
async fn catalog_events(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
) -> ApiResult<Sse<impl futures_util::Stream<Item = Result<Event, std::convert::Infallible>>>> {
    reader(&ctx)?;
    let schema = ctx.tenant.schema.clone();
    let receiver = state.catalog_events.subscribe();
    let stream = futures_util::stream::unfold(receiver, move |mut receiver| {
        let schema = schema.clone();
        async move {
            loop {
                match receiver.recv().await {
                    Ok(change) if change.concerns(&schema) => {
                        let event = Event::default()
                            .event("catalog:updated")
                            .data(json!({ "version": change.version }).to_string());
                        return Some((Ok(event), receiver));
                    }
                    Ok(_) => continue,
                    // Fell behind: tell the page to refresh rather than replay what it missed.
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {
                        return Some((Ok(Event::default().event("catalog:updated").data("{}")), receiver));
                    }
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => return None,
                }
            }
        }
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}

/// Entities per page while exporting.
const EXPORT_PAGE: i64 = 500;

/// `GET /api/catalog/export[?filter=…]`: every (matching) entity as multi-document YAML,
/// streamed page by page, ready to import elsewhere.
async fn export(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Response> {
    reader(&ctx)?;
    let filter = Filter::parse(Params::parse(raw)?.all("filter"))?;
    let query = EntityQuery { filter, limit: EXPORT_PAGE, ..EntityQuery::default() };
    let tenant = ctx.tenant.clone();
    let pages = futures_util::stream::unfold(Some(query), move |next| {
        let (db, tenant) = (state.db.clone(), tenant.clone());
        async move {
            let query = next?;
            let page = match service::query(&db, &tenant, query.clone(), false).await {
                Ok(page) => page,
                // The status line is gone by now: end the body so the client sees a truncated
                // download rather than a silently complete one.
                Err(e) => return Some((Err(std::io::Error::other(e.to_string())), None)),
            };
            let mut chunk = String::new();
            for entity in &page.entities {
                let mut stored = entity.clone();
                if let Some(root) = stored.as_object_mut() {
                    root.remove("relations");
                }
                chunk.push_str("---\n");
                chunk.push_str(&serde_norway::to_string(&stored).unwrap_or_default());
            }
            let following = page.has_more.then(|| EntityQuery { offset: query.offset + EXPORT_PAGE, ..query });
            Some((Ok(Bytes::from(chunk)), following))
        }
    });
    Ok((
        [
            (header::CONTENT_TYPE, "application/yaml; charset=utf-8"),
            (header::CONTENT_DISPOSITION, "attachment; filename=\"catalog.yaml\""),
        ],
        axum::body::Body::from_stream(pages),
    )
        .into_response())
}

/// `POST /api/catalog/entities`: create one entity (JSON or YAML body); 201 with the entity.
async fn create_entity(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    body: Bytes,
) -> ApiResult<Response> {
    ctx.authorize(Action::CatalogWrite)?;
    let text = std::str::from_utf8(&body).map_err(|_| invalid("the body must be UTF-8 JSON or YAML".into()))?;
    let (_, entity) = service::save_one(&state.db, &ctx.tenant, &ctx.audit_source(), SaveTarget::New, text).await?;
    Ok((StatusCode::CREATED, Json(entity)).into_response())
}

/// `PUT /api/catalog/entities/{uid}`: replace an entity; its kind, namespace and name stay.
async fn replace_entity(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    Path(uid): Path<String>,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    ctx.authorize(Action::CatalogWrite)?;
    let id = entity_uid(&uid)?;
    let text = std::str::from_utf8(&body).map_err(|_| invalid("the body must be UTF-8 JSON or YAML".into()))?;
    let (_, entity) = service::save_one(&state.db, &ctx.tenant, &ctx.audit_source(), SaveTarget::Uid(id), text).await?;
    Ok(Json(entity))
}

/// `GET /api/catalog/search?q=…&page=…`: ranked-by-name matches with highlighted snippets.
async fn search(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<Value>> {
    reader(&ctx)?;
    let params = Params::parse(raw)?;
    let q = params.one("q").map(str::trim).filter(|q| !q.is_empty()).ok_or_else(|| invalid("q is required".into()))?;
    let view = app::catalog::view::CatalogView {
        q: Some(q.to_owned()),
        kind: params.one("kind").map(str::to_owned),
        page: params.number("page")?.unwrap_or(1).max(1),
        ..Default::default()
    };
    let page = service::list_page(&state.db, &ctx.tenant, &view).await?;
    Ok(Json(json!({
        "total": page.total,
        "results": page.items.iter().map(|e| json!({
            "entityRef": EntityRef::new(&e.kind, &e.namespace, &e.name).to_string(),
            "uid": e.uid,
            "title": e.title,
            "description": e.description,
            "snippet": e.snippet,
        })).collect::<Vec<_>>(),
    })))
}

/// The OpenAPI document of this API, kept next to the handlers (YAML, served as JSON).
const OPENAPI: &str = include_str!("catalog_openapi.yaml");

async fn openapi() -> ApiResult<Json<Value>> {
    serde_norway::from_str(OPENAPI).map(Json).map_err(|e| ApiError(AppError::internal(e)))
}
