//! `/api/audit`: the tenant's audit log for SIEMs and scripts (admins, or keys with
//! `audit:read`): cursor pages with the audit page's filters, streamed exports, verification.

use axum::body::{Body, Bytes};
use axum::extract::{RawQuery, State};
use axum::http::{header, Method};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde_json::{json, Value};

use super::{invalid, ApiResult, Endpoint, Params};
use app::audit::model::{AuditAction, AuditDetail};
use app::audit::service::{self, AuditEvent};
use app::audit::view::{AuditView, Cursor, Direction, MAX_PAGE_SIZE};
use app::auth::permission::Action;
use app::db::deadline;
use app::state::{AppState, RequestContext};

pub fn endpoints() -> Vec<Endpoint> {
    vec![
        Endpoint::new(Method::GET, "/api/audit", list),
        Endpoint::new(Method::GET, "/api/audit/export", export),
        Endpoint::new(Method::POST, "/api/audit/verify", verify),
    ]
}

/// The request's query string as the audit view it describes, and the other parameters.
fn parse(raw: Option<String>) -> ApiResult<(AuditView, Params)> {
    let params = Params::parse(raw)?;
    let mut view = AuditView::from_query(|key| params.one(key).map(str::to_owned));
    // The API's one cursor parameter reads towards older events, like the page's `before`.
    if let Some(cursor) = params.one("cursor") {
        view.before = Some(cursor.to_owned());
    }
    Ok((view, params))
}

const DEFAULT_PAGE: i64 = 100;

/// `GET /api/audit?actor=…&action=…&…&cursor=…&limit=…`: newest first, with everything stored
/// about each event; `nextCursor` reads on to older ones.
async fn list(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<Value>> {
    ctx.authorize(Action::AuditRead)?;
    let (view, params) = parse(raw)?;
    let limit = match params.one("limit") {
        None => DEFAULT_PAGE,
        Some(raw) => raw
            .parse::<i64>()
            .ok()
            .filter(|n| (1..=MAX_PAGE_SIZE).contains(n))
            .ok_or_else(|| invalid(format!("limit must be an integer from 1 to {MAX_PAGE_SIZE}")))?,
    };
    let filter = view.filter()?;
    let direction = view.direction()?;
    let (items, next) = service::detail_page(&state.db, &ctx.tenant, &filter, direction, limit).await?;
    Ok(Json(json!({ "items": items, "nextCursor": next.map(Cursor::encode) })))
}

/// Events per page while exporting: each page is one short query under the request's budget.
const EXPORT_PAGE: i64 = 1_000;

#[derive(Clone, Copy)]
enum Format {
    Csv,
    Ndjson,
}

/// `GET /api/audit/export?format=csv|ndjson&<filters>`: every matching event, newest first,
/// streamed page by page so a log of any size leaves the server's memory flat.
async fn export(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Response> {
    ctx.authorize(Action::AuditRead)?;
    let (view, params) = parse(raw)?;
    let format = match params.one("format") {
        None | Some("ndjson") => Format::Ndjson,
        Some("csv") => Format::Csv,
        Some(other) => return Err(invalid(format!("format `{other}` is not csv or ndjson"))),
    };
    // Checked before the status line is sent: a bad filter is a 400, not a truncated download.
    let filter = view.filter()?;
    let start = view.direction()?;
    let event = AuditEvent::success(AuditAction::AuditExported, "audit log").details(json!({
        "format": match format { Format::Csv => "csv", Format::Ndjson => "ndjson" },
        "filter": view.filter_params().into_iter().collect::<std::collections::BTreeMap<_, _>>(),
    }));
    service::record_alone(&state.db, &ctx.tenant, ctx.audit_source(), event).await?;

    let tenant = ctx.tenant.clone();
    // The body streams after this handler has returned, outside the request's deadline: each
    // page gets the time the request had left here.
    let page_budget = deadline::remaining().unwrap_or(app::db::STATEMENT_TIMEOUT);
    let header_row = matches!(format, Format::Csv).then(|| Bytes::from(csv_header()));
    let pages = futures_util::stream::unfold(Some(start), move |position| {
        let (db, tenant, filter) = (state.db.clone(), tenant.clone(), filter.clone());
        async move {
            let direction = position?;
            let page_deadline = tokio::time::Instant::now() + page_budget;
            let read = service::detail_page(&db, &tenant, &filter, direction, EXPORT_PAGE);
            let (items, next) = match deadline::within(page_deadline, read).await {
                Ok(page) => page,
                // The status line is gone: end the body so the client sees a truncated download.
                Err(e) => return Some((Err(std::io::Error::other(e.to_string())), None)),
            };
            let mut chunk = String::new();
            for item in &items {
                match format {
                    Format::Ndjson => {
                        chunk.push_str(&serde_json::to_string(item).unwrap_or_default());
                        chunk.push('\n');
                    }
                    Format::Csv => chunk.push_str(&csv_row(item)),
                }
            }
            // `None` after the last page ends the stream; `Some(None)` would restart it.
            Some((Ok(Bytes::from(chunk)), next.map(|c| Some(Direction::Older(c)))))
        }
    });
    let body =
        futures_util::StreamExt::chain(futures_util::stream::iter(header_row.map(Ok::<_, std::io::Error>)), pages);
    let (content_type, file) = match format {
        Format::Csv => ("text/csv; charset=utf-8", "attachment; filename=\"audit.csv\""),
        Format::Ndjson => ("application/x-ndjson", "attachment; filename=\"audit.ndjson\""),
    };
    Ok(([(header::CONTENT_TYPE, content_type), (header::CONTENT_DISPOSITION, file)], Body::from_stream(body))
        .into_response())
}

const CSV_COLUMNS: [&str; 13] = [
    "id",
    "occurred_at",
    "actor",
    "actor_user_id",
    "action",
    "target",
    "outcome",
    "severity",
    "ip",
    "user_agent",
    "request_id",
    "chain_seq",
    "details",
];

fn csv_header() -> String {
    format!("{}\r\n", CSV_COLUMNS.join(","))
}

fn csv_row(item: &AuditDetail) -> String {
    let r = &item.record;
    let cells = [
        r.id.to_string(),
        r.occurred_at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
        r.actor.clone(),
        item.actor_user_id.map(|id| id.to_string()).unwrap_or_default(),
        r.action.clone(),
        r.target.clone(),
        r.outcome.clone(),
        r.severity.map(|s| s.as_str().to_owned()).unwrap_or_default(),
        r.ip.clone().unwrap_or_default(),
        r.user_agent.clone().unwrap_or_default(),
        r.request_id.clone().unwrap_or_default(),
        item.chain_seq.map(|s| s.to_string()).unwrap_or_default(),
        item.details.to_string(),
    ];
    let row: Vec<String> = cells.iter().map(|c| app::escape::csv_cell(c)).collect();
    format!("{}\r\n", row.join(","))
}

/// `POST /api/audit/verify`: checks the whole log; the report, recorded as an `audit.verified` event.
async fn verify(State(state): State<AppState>, Extension(ctx): Extension<RequestContext>) -> ApiResult<Json<Value>> {
    ctx.authorize(Action::AuditRead)?;
    let (report, event_id) =
        service::verify_and_record(&state.db, &ctx.tenant, &state.keyring, ctx.audit_source()).await?;
    Ok(Json(json!({
        "intact": report.intact(),
        "summary": report.summary(),
        "report": report,
        "recordedAs": event_id,
    })))
}
