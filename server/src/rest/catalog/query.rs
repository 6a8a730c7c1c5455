//! `/entities/by-query`: pages of `{items, totalItems, pageInfo}` selected by query-string
//! filters (GET) or by a filter predicate (POST), with cursors in both directions.

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::response::Response;
use axum::Extension;
use serde::Deserialize;
use serde_json::Value;

use super::{decode_cursor, encode_cursor, json_text, reader, EntityCursor, Params};
use crate::rest::{invalid, json_body, ApiResult};
use app::catalog::query::{check_fields, EntityQuery, Filter, Predicate, Sort, SortField, MAX_PAGE};
use app::catalog::service;
use app::error::AppError;
use app::state::{AppState, RequestContext};

/// `GET /entities/by-query[?filter=…&orderField=…&fullTextFilterTerm=…&cursor=…]`.
pub(super) async fn by_query_string(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Response> {
    reader(&ctx)?;
    let params = Params::parse(raw)?;
    let limit = page_size(params.number("limit")?)?;
    let query = match params.one("cursor") {
        // A cursor stands for the query: other parameters except limit and fields are ignored.
        Some(raw) => {
            let cursor: EntityCursor = decode_cursor(raw)?;
            EntityQuery { limit, ..cursor.query }
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
            EntityQuery {
                filter: Filter::parse(params.all("filter"))?,
                predicate: None,
                full_text: term.map(str::to_owned),
                sort,
                offset: params.number("offset")?.unwrap_or(0),
                limit,
            }
        }
    };
    page(&state, &ctx, query, params.fields()).await
}

/// `POST /entities/by-query`: the same pages, selected by a filter predicate.
pub(super) async fn by_predicate(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    body: Bytes,
) -> ApiResult<Response> {
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
    let limit = page_size(body.limit)?;
    let query = match body.cursor {
        Some(raw) => {
            let cursor: EntityCursor = decode_cursor(&raw)?;
            EntityQuery { limit, ..cursor.query }
        }
        None => {
            let sort = body
                .order_by
                .iter()
                .map(|o| {
                    Ok(Sort { field: SortField::parse(&o.field)?, descending: o.order.eq_ignore_ascii_case("desc") })
                })
                .collect::<Result<Vec<_>, AppError>>()?;
            EntityQuery {
                filter: Filter::default(),
                predicate: body.query.as_ref().map(Predicate::parse).transpose()?,
                full_text: body
                    .full_text_filter
                    .and_then(|f| f.term)
                    .map(|t| t.trim().to_owned())
                    .filter(|t| !t.is_empty()),
                sort,
                offset: body.offset.unwrap_or(0),
                limit,
            }
        }
    };
    page(&state, &ctx, query, body.fields).await
}

/// The page size a request asks for: 20 unless it says, at most `MAX_PAGE` (more is a 400,
/// not silently fewer items).
fn page_size(asked: Option<i64>) -> ApiResult<i64> {
    match asked.unwrap_or(20) {
        limit @ 0..=MAX_PAGE => Ok(limit),
        _ => Err(invalid(format!("limit must be between 0 and {MAX_PAGE}"))),
    }
}

/// `{items, totalItems, pageInfo}` for one page of a query; cursors carry the query.
async fn page(state: &AppState, ctx: &RequestContext, query: EntityQuery, fields: Vec<String>) -> ApiResult<Response> {
    check_fields(&fields)?;
    let page = service::query(&state.db, &state.catalog_cache, &ctx.tenant, query.clone(), true).await?;
    let mut page_info = serde_json::Map::new();
    if page.has_more {
        let next = EntityCursor { query: EntityQuery { offset: query.offset + query.limit, ..query.clone() } };
        page_info.insert("nextCursor".into(), Value::String(encode_cursor(&next)));
    }
    if query.offset > 0 {
        let previous =
            EntityCursor { query: EntityQuery { offset: (query.offset - query.limit).max(0), ..query.clone() } };
        page_info.insert("prevCursor".into(), Value::String(encode_cursor(&previous)));
    }
    Ok(json_text(format!(
        "{{\"items\":{},\"totalItems\":{},\"pageInfo\":{}}}",
        page.entities.into_json(&fields),
        page.total.unwrap_or_default(),
        Value::Object(page_info),
    )))
}
