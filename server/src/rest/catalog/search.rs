//! `GET /search`: Beacon's own search over the catalog, for tools that want matches rather
//! than Backstage's filters.

use axum::extract::{RawQuery, State};
use axum::{Extension, Json};
use serde_json::{json, Value};

use super::{reader, Params};
use crate::rest::{invalid, ApiResult};
use app::catalog::refs::EntityRef;
use app::catalog::semantic::{self, SemanticResults};
use app::catalog::service;
use app::catalog::view::CatalogView;
use app::error::AppError;
use app::state::{AppState, RequestContext};

/// `GET /api/catalog/search?q=…&page=…`: ranked-by-name matches with highlighted snippets.
pub(super) async fn search(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<Value>> {
    reader(&ctx)?;
    let params = Params::parse(raw)?;
    let q = params.one("q").map(str::trim).filter(|q| !q.is_empty()).ok_or_else(|| invalid("q is required".into()))?;
    let view = CatalogView {
        q: Some(q.to_owned()),
        kind: params.one("kind").map(str::to_owned),
        page: params.number("page")?.unwrap_or(1).max(1),
        ..Default::default()
    };
    let page = service::list_page(&state.db, &state.catalog_cache, &ctx.tenant, &view).await?;
    Ok(Json(json!({
        "total": page.total,
        "totalCapped": page.total_capped,
        "results": page.items.iter().map(|e| json!({
            "entityRef": EntityRef::new(&e.kind, &e.namespace, &e.name).to_string(),
            "uid": e.uid,
            "title": e.title,
            "description": e.description,
            "snippet": e.snippet,
        })).collect::<Vec<_>>(),
    })))
}

/// Results a semantic search returns at most.
const MAX_SEMANTIC_RESULTS: usize = 100;

/// `GET /api/catalog/search/semantic?q=…&kind=…&limit=…` (seed 000): entities closest in
/// meaning to `q`, with their similarity and how much of the catalog is embedded so far.
pub(super) async fn semantic(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<SemanticResults>> {
    reader(&ctx)?;
    let params = Params::parse(raw)?;
    let q = params.one("q").map(str::trim).filter(|q| !q.is_empty()).ok_or_else(|| invalid("q is required".into()))?;
    if q.chars().count() > semantic::MAX_QUERY_CHARS {
        return Err(invalid(format!("q is longer than {} characters", semantic::MAX_QUERY_CHARS)));
    }
    let limit = params.number("limit")?.unwrap_or(20);
    if !(1..=MAX_SEMANTIC_RESULTS as i64).contains(&limit) {
        return Err(invalid(format!("limit is 1 to {MAX_SEMANTIC_RESULTS}")));
    }
    let embedder = state.embedder.as_ref().ok_or_else(|| {
        AppError::unavailable("Semantic search is not configured on this server (BEACON_EMBEDDING_MODEL).")
    })?;
    let found =
        semantic::search(&state.db, &state.semantic, embedder, &ctx.tenant, q, params.one("kind"), limit as usize)
            .await?;
    Ok(Json(found))
}
