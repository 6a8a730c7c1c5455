//! Entities one by one or as a plain list: `GET /entities` (paged by `Link`), lookups by uid,
//! name and refs, and the writes that create, replace or delete one entity.

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use serde::Deserialize;
use uuid::Uuid;

use super::{decode_cursor, encode_cursor, json_text, reader, EntityCursor, Params};
use crate::rest::{invalid, json_body, ApiError, ApiResult};
use app::auth::permission::Action;
use app::catalog::document::{self, EntityJson};
use app::catalog::query::{check_fields, EntityQuery, Filter, Sort, SortField, MAX_LIMIT, MAX_REFS};
use app::catalog::refs::EntityRef;
use app::catalog::service::{self, SaveTarget};
use app::error::AppError;
use app::state::{AppState, RequestContext};

/// `GET /entities[?filter=…&order=…&fields=…&after=…]`: a JSON array, the next page in `Link`.
pub(super) async fn list(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Response> {
    reader(&ctx)?;
    let params = Params::parse(raw)?;
    // Past MAX_LIMIT is refused by the query's own check, not clipped.
    let limit = params.number("limit")?.unwrap_or(MAX_LIMIT);
    let query = match params.one("after") {
        // As on by-query, the cursor stands for the query; limit and fields come with each request.
        Some(after) => {
            let cursor: EntityCursor = decode_cursor(after)?;
            EntityQuery { limit, ..cursor.query }
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
            EntityQuery {
                filter: Filter::parse(params.all("filter"))?,
                predicate: None,
                full_text: None,
                sort,
                offset: params.number("offset")?.unwrap_or(0),
                limit,
            }
        }
    };
    let fields = params.fields();
    check_fields(&fields)?;
    let page = service::query(&state.db, &state.catalog_cache, &ctx.tenant, query.clone(), false).await?;
    let mut response = json_text(page.entities.into_json(&fields));
    if page.has_more {
        let next = EntityCursor { query: EntityQuery { offset: query.offset + query.limit, ..query } };
        // The next page asks for the same limit and fields as this one.
        let mut next_params = vec![("after", encode_cursor(&next))];
        next_params.extend(params.one("limit").map(|limit| ("limit", limit.to_owned())));
        next_params.extend((!fields.is_empty()).then(|| ("fields", fields.join(","))));
        let next_query = serde_urlencoded::to_string(next_params).expect("strings encode");
        let link = format!("</api/catalog/entities?{next_query}>; rel=\"next\"");
        if let Ok(value) = HeaderValue::from_str(&link) {
            response.headers_mut().insert(header::LINK, value);
        }
    }
    Ok(response)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ByRefs {
    entity_refs: Vec<String>,
    #[serde(default)]
    fields: Vec<String>,
}

/// `POST /entities/by-refs` `{entityRefs, fields?}`: `{items}` in the order asked, `null` for
/// refs that name nothing.
pub(super) async fn by_refs(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    RawQuery(raw): RawQuery,
    body: Bytes,
) -> ApiResult<Response> {
    reader(&ctx)?;
    let params = Params::parse(raw)?;
    let request: ByRefs = json_body(&body)?;
    if request.entity_refs.len() > MAX_REFS {
        return Err(invalid(format!("at most {MAX_REFS} entityRefs per request")));
    }
    check_fields(&request.fields)?;
    let refs = request
        .entity_refs
        .iter()
        .map(|r| EntityRef::parse(r, None, "default").map_err(invalid))
        .collect::<ApiResult<Vec<_>>>()?;
    let filter = Filter::parse(params.all("filter"))?;
    let items = service::get_by_refs(&state.db, &ctx.tenant, refs, filter).await?;
    let items: Vec<Option<EntityJson>> = items.into_iter().map(|e| e.map(|e| e.project(&request.fields))).collect();
    Ok(json_text(format!("{{\"items\":{}}}", document::array(items.iter().map(Option::as_ref)))))
}

pub(super) async fn by_name(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    Path((kind, namespace, name)): Path<(String, String, String)>,
) -> ApiResult<Response> {
    reader(&ctx)?;
    let entity_ref = EntityRef::new(&kind, &namespace, &name);
    service::get_by_ref(&state.db, &ctx.tenant, &entity_ref).await?.map(served).ok_or_else(|| {
        ApiError(AppError::not_found(format!(
            "No entity named '{name}' found, with kind '{kind}' in namespace '{namespace}'"
        )))
    })
}

pub(super) async fn by_uid(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    Path(uid): Path<String>,
) -> ApiResult<Response> {
    reader(&ctx)?;
    let id = entity_uid(&uid)?;
    service::get_by_uid(&state.db, &ctx.tenant, id).await?.map(served).ok_or_else(|| no_entity(&uid))
}

/// The uid in a path; a malformed one names no entity (404, as Backstage answers).
fn entity_uid(uid: &str) -> ApiResult<Uuid> {
    Uuid::parse_str(uid).map_err(|_| no_entity(uid))
}

fn no_entity(uid: &str) -> ApiError {
    ApiError(AppError::not_found(format!("No entity with uid {uid}")))
}

pub(super) async fn delete_by_uid(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    Path(uid): Path<String>,
) -> ApiResult<StatusCode> {
    ctx.authorize(Action::CatalogWrite)?;
    // No entity has a uid that is not a UUID: deleting it, like deleting any absent entity, is a
    // no-op that answers 204, as in Backstage.
    if let Ok(id) = Uuid::parse_str(&uid) {
        service::delete_by_uid(&state.db, &ctx.tenant, ctx.audit_source(), id).await?;
    }
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/catalog/entities`: create one entity (JSON or YAML body); 201 with the entity.
pub(super) async fn create(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    body: Bytes,
) -> ApiResult<Response> {
    ctx.authorize(Action::CatalogWrite)?;
    let text = document(&body)?;
    let (_, entity) = service::save_one(&state.db, &ctx.tenant, &ctx.audit_source(), SaveTarget::New, text).await?;
    Ok((StatusCode::CREATED, served(entity)).into_response())
}

/// `PUT /api/catalog/entities/{uid}`: replace an entity; its kind, namespace and name stay.
pub(super) async fn replace(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    Path(uid): Path<String>,
    body: Bytes,
) -> ApiResult<Response> {
    ctx.authorize(Action::CatalogWrite)?;
    let id = entity_uid(&uid)?;
    let text = document(&body)?;
    let (_, entity) = service::save_one(&state.db, &ctx.tenant, &ctx.audit_source(), SaveTarget::Uid(id), text).await?;
    Ok(served(entity))
}

fn served(entity: EntityJson) -> Response {
    json_text(entity.into_string())
}

/// The one entity a create or replace sends, as text for the service to parse.
fn document(body: &[u8]) -> ApiResult<&str> {
    std::str::from_utf8(body).map_err(|_| invalid("the body must be UTF-8 JSON or YAML".into()))
}
