//! `/api/finops`: cost imports for scripts and pipelines (keys with `finops:write` upload,
//! `finops:read` reads), and the seed's `GET /api/cost-analytics`, the overview as JSON.

use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde_json::json;

use super::{ApiResult, Endpoint, Params};
use app::auth::permission::Action;
use app::error::AppError;
use app::escape::csv_cell;
use app::finops::import::{self, ImportFile, ImportRequest, MAX_UPLOAD_BYTES};
use app::finops::model::{CostImport, CostOverview, CostView};
use app::finops::service;
use app::state::{AppState, RequestContext};

pub const IMPORTS_PATH: &str = "/api/finops/imports";
/// The paths that take a cost file: they get the import time budget.
pub const UPLOAD_PATHS: [&str; 2] = [IMPORTS_PATH, "/api/ui/finops/upload"];

pub fn endpoints() -> Vec<Endpoint> {
    vec![
        Endpoint::new(Method::POST, IMPORTS_PATH, upload)
            .body_limit(usize::try_from(MAX_UPLOAD_BYTES).unwrap_or(usize::MAX)),
        Endpoint::new(Method::GET, IMPORTS_PATH, list),
        Endpoint::new(Method::GET, "/api/finops/imports/{id}", show),
        Endpoint::new(Method::GET, "/api/cost-analytics", overview),
        Endpoint::new(Method::GET, "/api/cost-analytics/export.csv", export),
    ]
}

/// `POST /api/finops/imports?source=aws-payer[&currency=USD][&file=cur-2024-09.csv.gz]` with the
/// file as the body: 202 and the import, which runs on; follow it at its `Location`.
async fn upload(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    RawQuery(raw): RawQuery,
    body: Body,
) -> ApiResult<Response> {
    ctx.authorize(Action::FinopsWrite)?;
    let params = Params::parse(raw)?;
    let source =
        params.one("source").ok_or_else(|| AppError::invalid("Say which source the file is from: ?source=…"))?;
    let request =
        ImportRequest::parse(source, params.one("file").unwrap_or("upload"), params.one("currency").unwrap_or("USD"))?;
    let path = import::spool(body.into_data_stream()).await?;
    let file = ImportFile { path, remove_after: true };
    let id = import::start(&state.db, &ctx.tenant, ctx.audit_source(), request, file).await?;
    let created =
        import::load(&state.db, &ctx.tenant, id).await?.ok_or_else(|| AppError::internal("import vanished"))?;
    let location = format!("{IMPORTS_PATH}/{id}");
    Ok((StatusCode::ACCEPTED, [(header::LOCATION, location)], Json(created)).into_response())
}

/// `GET /api/finops/imports`: the newest 50 imports with their reports.
async fn list(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
) -> ApiResult<Json<serde_json::Value>> {
    ctx.authorize(Action::FinopsRead)?;
    let imports = import::recent(&state.db, &ctx.tenant).await?;
    Ok(Json(json!({ "items": imports })))
}

/// `GET /api/finops/imports/{id}`: progress while it runs, then its report.
async fn show(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    Path(id): Path<String>,
) -> ApiResult<Json<CostImport>> {
    ctx.authorize(Action::FinopsRead)?;
    let missing = || AppError::not_found("No such cost import.");
    let id = uuid::Uuid::parse_str(&id).map_err(|_| missing())?;
    Ok(Json(import::load(&state.db, &ctx.tenant, id).await?.ok_or_else(missing)?))
}

/// `GET /api/cost-analytics?view=amortized|invoice&currency=USD&month=2024-09`: a month's total,
/// its days, the last twelve months and the breakdowns, with the month before for each.
async fn overview(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<CostOverview>> {
    ctx.authorize(Action::FinopsRead)?;
    let (view, currency, month) = overview_params(raw)?;
    Ok(Json(service::overview(&state.db, &ctx.tenant, view, currency, month).await?))
}

/// `GET /api/cost-analytics/export.csv` with the overview's parameters: the view as a table,
/// one row per figure (the month's total, each day, the twelve months, every breakdown value),
/// amounts to the cent as the overview shows them (summed exactly before rounding).
async fn export(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Response> {
    ctx.authorize(Action::FinopsRead)?;
    let (view, currency, month) = overview_params(raw)?;
    let overview = service::overview(&state.db, &ctx.tenant, view, currency, month).await?;
    let (Some(currency), Some(month)) = (overview.currency.as_deref(), overview.month) else {
        return Err(AppError::not_found("No cost has been imported yet.").into());
    };
    let mut csv = String::from("section,name,amount,previous,currency,view\r\n");
    let mut row = |section: &str, name: &str, amount: &str, previous: &str| {
        let cells = [csv_cell(section), csv_cell(name), amount.to_owned(), previous.to_owned()];
        csv.push_str(&format!("{},{currency},{}\r\n", cells.join(","), overview.view.as_str()));
    };
    let label = month.format("%Y-%m").to_string();
    row("total", &label, &overview.total.amount, &overview.total.previous);
    for (day, amount) in &overview.daily {
        row("day", &day.to_string(), amount, "");
    }
    for (first, amount) in &overview.monthly {
        row("month", &first.format("%Y-%m").to_string(), amount, "");
    }
    for (dimension, values) in &overview.breakdowns {
        for value in values {
            row(dimension, &value.name, &value.amount, &value.previous);
        }
    }
    let file = format!("attachment; filename=\"cost-{}-{currency}-{label}.csv\"", overview.view.as_str());
    Ok(([(header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()), (header::CONTENT_DISPOSITION, file)], csv)
        .into_response())
}

/// `view`, `currency` and `month` (YYYY-MM) of the overview and its export.
fn overview_params(raw: Option<String>) -> ApiResult<(CostView, Option<String>, Option<chrono::NaiveDate>)> {
    let params = Params::parse(raw)?;
    let month = match params.one("month") {
        None => None,
        Some(raw) => Some(service::parse_month(raw).ok_or_else(|| AppError::invalid("month is YYYY-MM"))?),
    };
    let view = CostView::parse(params.one("view").unwrap_or_default());
    let currency = params.one("currency").map(|c| c.trim().to_ascii_uppercase());
    Ok((view, currency, month))
}
