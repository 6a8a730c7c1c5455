//! `/api/account`: what a signed-in person may ask about themselves. The GDPR export is one
//! JSON document, streamed: the summary first, then the person's API requests and their audit
//! events page by page, so a long history never sits in the server's memory.

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{header, Method};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use futures_util::stream::{self, StreamExt};
use serde::Serialize;

use super::{ApiResult, Endpoint};
use app::auth::model::Principal;
use app::auth::permission::Action;
use app::db::deadline;
use app::error::AppError;
use app::privacy::service;
use app::state::{AppState, RequestContext};
use app::tenancy::model::Tenant;

pub fn endpoints() -> Vec<Endpoint> {
    vec![Endpoint::new(Method::GET, "/api/account/export", export)]
}

/// Rows per page of each streamed list.
const PAGE: i64 = 1_000;

/// Where the export is, between two chunks of the body.
enum Position {
    /// Requests of `keys[key]`, from a (time, id) position.
    Requests {
        key: usize,
        before: Option<(chrono::DateTime<chrono::Utc>, i64)>,
    },
    /// Audit events below an id.
    Events {
        before: Option<i64>,
    },
    Done,
}

/// The position and whether the open list already has a member (the next needs a comma).
struct Progress {
    position: Position,
    listed: bool,
}

const BETWEEN_LISTS: &str = r#"],"audit_events":["#;

/// `GET /api/account/export`: everything the portal holds about the caller in this tenant
/// (people only: a key cannot read its owner's history).
async fn export(State(state): State<AppState>, Extension(ctx): Extension<RequestContext>) -> ApiResult<Response> {
    let me = ctx.authorize(Action::ManageOwnAccount)?.clone();
    let summary = service::export_summary(&state, &ctx.tenant, ctx.audit_source(), &me).await?;
    // The summary without its closing brace; the streamed lists are its last two members.
    let mut head = serde_json::to_string(&summary.document).map_err(AppError::internal)?;
    head.pop();
    head.push_str(r#","api_requests":["#);

    let keys = summary.key_ids;
    let position = match keys.is_empty() {
        true => {
            head.push_str(BETWEEN_LISTS);
            Position::Events { before: None }
        }
        false => Position::Requests { key: 0, before: None },
    };
    let tenant = ctx.tenant.clone();
    // The body streams after this handler returned, outside the request's deadline: each page
    // gets the time the request had left here.
    let page_budget = deadline::remaining().unwrap_or(app::db::STATEMENT_TIMEOUT);
    let pages = stream::unfold(Progress { position, listed: false }, move |progress| {
        let (state, tenant, keys, me) = (state.clone(), tenant.clone(), keys.clone(), me.clone());
        async move {
            if matches!(progress.position, Position::Done) {
                return None;
            }
            let page_deadline = tokio::time::Instant::now() + page_budget;
            match deadline::within(page_deadline, next_chunk(&state, &tenant, &me, &keys, progress)).await {
                Ok((chunk, next)) => Some((Ok(Bytes::from(chunk)), next)),
                // The status line is gone: end the body so the client sees a truncated download.
                Err(e) => Some((
                    Err(std::io::Error::other(e.to_string())),
                    Progress { position: Position::Done, listed: false },
                )),
            }
        }
    });
    let body = stream::iter([Ok::<_, std::io::Error>(Bytes::from(head))]).chain(pages);
    let headers = [
        (header::CONTENT_TYPE, "application/json"),
        (header::CONTENT_DISPOSITION, "attachment; filename=\"beacon-account-export.json\""),
        (header::CACHE_CONTROL, "no-store"),
    ];
    Ok((headers, Body::from_stream(body)).into_response())
}

/// The next piece of the body, and where the export goes on from.
async fn next_chunk(
    state: &AppState,
    tenant: &Tenant,
    me: &Principal,
    keys: &[uuid::Uuid],
    Progress { position, listed }: Progress,
) -> Result<(String, Progress), AppError> {
    match position {
        Position::Requests { key, before } => {
            let (rows, next) = service::export_requests(&state.db, tenant, keys[key], before, PAGE).await?;
            let mut chunk = join(&rows, listed)?;
            let listed = listed || !rows.is_empty();
            let position = match next {
                Some(before) => Position::Requests { key, before: Some(before) },
                None if key + 1 < keys.len() => Position::Requests { key: key + 1, before: None },
                None => {
                    chunk.push_str(BETWEEN_LISTS);
                    return Ok((chunk, Progress { position: Position::Events { before: None }, listed: false }));
                }
            };
            Ok((chunk, Progress { position, listed }))
        }
        Position::Events { before } => {
            let (events, next) = service::export_events(&state.db, tenant, me, before, PAGE).await?;
            let mut chunk = join(&events, listed)?;
            let listed = listed || !events.is_empty();
            let position = match next {
                Some(before) => Position::Events { before: Some(before) },
                None => {
                    chunk.push_str("]}");
                    Position::Done
                }
            };
            Ok((chunk, Progress { position, listed }))
        }
        Position::Done => Ok((String::new(), Progress { position, listed })),
    }
}

/// `items` as JSON array members, after a comma when the list already has members.
fn join<T: Serialize>(items: &[T], listed: bool) -> Result<String, AppError> {
    let mut out = String::new();
    for (i, item) in items.iter().enumerate() {
        if i > 0 || listed {
            out.push(',');
        }
        out.push_str(&serde_json::to_string(item).map_err(AppError::internal)?);
    }
    Ok(out)
}
