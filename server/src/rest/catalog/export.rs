//! `GET /export`: the catalog as multi-document YAML, streamed, ready to import elsewhere.

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Extension;

use super::{reader, Params};
use crate::rest::ApiResult;
use app::catalog::query::{EntityQuery, Filter};
use app::catalog::service;
use app::db::deadline;
use app::state::{AppState, RequestContext};

/// Entities per page while exporting.
const EXPORT_PAGE: i64 = 500;

/// `GET /api/catalog/export[?filter=…]`: every (matching) entity as multi-document YAML,
/// streamed page by page.
pub(super) async fn export(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Response> {
    reader(&ctx)?;
    let filter = Filter::parse(Params::parse(raw)?.all("filter"))?;
    // Checked before the status line is sent: a bad filter is a 400, not a truncated download.
    let query = EntityQuery { filter, limit: EXPORT_PAGE, ..EntityQuery::default() }.checked()?;
    let tenant = ctx.tenant.clone();
    // The body streams after this handler has returned, outside the request's deadline: each
    // page gets the time the request had left here, so no page waits for a connection or runs
    // a statement longer than a request may.
    let page_budget = deadline::remaining().unwrap_or(app::db::STATEMENT_TIMEOUT);
    let pages = futures_util::stream::unfold(Some(query), move |next| {
        let (db, cache, tenant) = (state.db.clone(), state.catalog_cache.clone(), tenant.clone());
        async move {
            let query = next?;
            let page_deadline = tokio::time::Instant::now() + page_budget;
            let read = service::query(&db, &cache, &tenant, query.clone(), false);
            let page = match deadline::within(page_deadline, read).await {
                Ok(page) => page,
                // The status line is gone by now: end the body so the client sees a truncated
                // download rather than a silently complete one.
                Err(e) => return Some((Err(std::io::Error::other(e.to_string())), None)),
            };
            let mut chunk = String::new();
            for entity in page.entities.iter() {
                let mut stored: serde_json::Value = serde_json::from_str(entity).expect("served entities are JSON");
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
