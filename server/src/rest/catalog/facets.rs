//! `/entity-facets`: how many entities carry each value of the asked fields, under a
//! query-string filter (GET) or a filter predicate (POST).

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::{Extension, Json};
use serde::Deserialize;
use serde_json::{json, Value};

use super::{reader, Params};
use crate::rest::{json_body, ApiResult};
use app::catalog::query::{Filter, Predicate};
use app::catalog::service;
use app::state::{AppState, RequestContext};

/// `GET /entity-facets?facet=…[&filter=…]`.
pub(super) async fn by_query_string(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<Value>> {
    reader(&ctx)?;
    let params = Params::parse(raw)?;
    let keys: Vec<String> = params.all("facet").map(str::to_owned).collect();
    let filter = Filter::parse(params.all("filter"))?;
    Ok(facets_json(service::facets(&state.db, &state.catalog_cache, &ctx.tenant, keys, filter, None).await?))
}

/// `POST /entity-facets` `{facets, query?}`: facet counts over the entities a predicate selects.
pub(super) async fn by_predicate(
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
    let predicate = body.query.as_ref().map(Predicate::parse).transpose()?;
    Ok(facets_json(
        service::facets(&state.db, &state.catalog_cache, &ctx.tenant, body.facets, Filter::default(), predicate)
            .await?,
    ))
}

/// `{facets: {key: [{value, count}]}}`, Backstage's shape.
fn facets_json(facets: Vec<(String, Vec<(String, i64)>)>) -> Json<Value> {
    let facets: serde_json::Map<String, Value> = facets
        .into_iter()
        .map(|(key, counts)| {
            let values = counts.into_iter().map(|(value, count)| json!({ "value": value, "count": count })).collect();
            (key, Value::Array(values))
        })
        .collect();
    Json(json!({ "facets": facets }))
}
