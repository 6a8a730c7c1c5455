//! `/api/catalog`: Backstage's catalog REST API (the routes `@backstage/catalog-client`
//! calls), answering in Backstage's shapes and error envelope. Handlers only translate HTTP;
//! the catalog service does the work. One module per group of routes; what they share (query
//! parameters, the cursor codec) lives here.

mod entities;
mod events;
mod export;
mod facets;
mod import;
mod locations;
mod openapi;
mod query;
mod search;

use axum::http::{header, Method};
use axum::response::{IntoResponse, Response};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::{invalid, ApiResult, Endpoint, Params};
use app::auth::permission::Action;
use app::catalog::query::EntityQuery;
use app::state::RequestContext;

/// Whether `path` is on the catalog API, where even refusals at the edge (sign-in, tenant,
/// network, rate limit) answer in Backstage's error envelope: its clients know no other shape.
pub fn serves(path: &str) -> bool {
    path.strip_prefix("/api/catalog").is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

/// Synchronous imports of a catalog file.
pub const IMPORT_PATH: &str = "/api/catalog/import";
/// Both ways in for a catalog file (the REST import and the portal's upload form): the only
/// routes with a longer time budget than other requests.
pub const IMPORT_PATHS: [&str; 2] = [IMPORT_PATH, "/api/ui/catalog/upload"];

/// Backstage's catalog API; served with its error envelope by `rest::tenant_routes`.
pub fn endpoints() -> Vec<Endpoint> {
    vec![
        Endpoint::new(Method::GET, "/api/catalog/entities", entities::list),
        Endpoint::new(Method::POST, "/api/catalog/entities", entities::create),
        Endpoint::new(Method::GET, "/api/catalog/entities/{uid}", entities::by_uid),
        Endpoint::new(Method::PUT, "/api/catalog/entities/{uid}", entities::replace),
        Endpoint::new(Method::DELETE, "/api/catalog/entities/{uid}", entities::delete_by_uid),
        Endpoint::new(Method::GET, "/api/catalog/search", search::search),
        Endpoint::new(Method::GET, "/api/catalog/search/semantic", search::semantic),
        Endpoint::new(Method::GET, "/api/catalog/openapi.json", openapi::document),
        Endpoint::new(Method::GET, "/api/catalog/entities/by-query", query::by_query_string),
        Endpoint::new(Method::POST, "/api/catalog/entities/by-query", query::by_predicate),
        Endpoint::new(Method::POST, "/api/catalog/entities/by-refs", entities::by_refs),
        Endpoint::new(Method::GET, "/api/catalog/entities/by-name/{kind}/{namespace}/{name}", entities::by_name),
        Endpoint::new(
            Method::GET,
            "/api/catalog/entities/by-name/{kind}/{namespace}/{name}/ancestry",
            locations::ancestry,
        ),
        Endpoint::new(Method::GET, "/api/catalog/locations", locations::list),
        Endpoint::new(Method::POST, "/api/catalog/locations", locations::create),
        Endpoint::new(Method::GET, "/api/catalog/locations/{id}", locations::get),
        Endpoint::new(Method::PUT, "/api/catalog/locations/{id}", locations::update),
        Endpoint::new(Method::DELETE, "/api/catalog/locations/{id}", locations::delete),
        Endpoint::new(Method::POST, "/api/catalog/locations/by-query", locations::by_query),
        Endpoint::new(Method::GET, "/api/catalog/locations/by-entity/{kind}/{namespace}/{name}", locations::by_entity),
        Endpoint::new(Method::POST, "/api/catalog/refresh", locations::refresh_entity),
        Endpoint::new(Method::POST, "/api/catalog/analyze-location", locations::analyze),
        Endpoint::new(Method::GET, "/api/catalog/entities/by-uid/{uid}", entities::by_uid),
        Endpoint::new(Method::DELETE, "/api/catalog/entities/by-uid/{uid}", entities::delete_by_uid),
        Endpoint::new(Method::GET, "/api/catalog/entity-facets", facets::by_query_string),
        Endpoint::new(Method::POST, "/api/catalog/entity-facets", facets::by_predicate),
        Endpoint::new(Method::GET, "/api/catalog/events", events::stream),
        Endpoint::new(Method::GET, "/api/catalog/export", export::export),
        Endpoint::new(Method::POST, "/api/catalog/validate-entity", import::validate_entity),
        Endpoint::new(Method::POST, IMPORT_PATH, import::import).body_limit(import::MAX_IMPORT_BYTES),
    ]
}

fn reader(ctx: &RequestContext) -> ApiResult<()> {
    ctx.authorize(Action::CatalogRead)?;
    Ok(())
}

/// What an entity cursor carries: the query (filter, predicate, full text, order, offset) but,
/// as in Backstage, not `fields` or `limit`, which every page request gives itself.
/// (Not named `query`: catalog-client reads a cursor with a `query` key as a predicate
/// cursor and switches to `POST /entities/by-query`.)
#[derive(Serialize, Deserialize)]
struct EntityCursor {
    #[serde(rename = "request")]
    query: EntityQuery,
}

/// The one cursor codec of this API: the state of the next request as URL-safe base64 of its
/// JSON, opaque to clients. Every paged route encodes and decodes its cursors here, so all of
/// them look alike and a malformed one is refused the same way everywhere.
/// A response of JSON text put together from served entities (see `app::catalog::document`).
fn json_text(text: String) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], text).into_response()
}

fn encode_cursor<T: Serialize>(state: &T) -> String {
    // Cursor states are plain structs with string keys: serialising them cannot fail.
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(state).expect("cursor state serialises"))
}

fn decode_cursor<T: DeserializeOwned>(raw: &str) -> ApiResult<T> {
    URL_SAFE_NO_PAD
        .decode(raw)
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .ok_or_else(|| invalid("malformed cursor".into()))
}
