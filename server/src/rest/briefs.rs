//! `/api/briefs` (seed 004's API): request a brief (202, generated in the background; follow
//! its `Location`), list the briefs the caller may see, read one, download its PDF. Keys need
//! `briefs:write` to request and `briefs:read` to read and download; an analyst's key sees its
//! owner's briefs only, as the pages do.

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde::Deserialize;
use serde_json::json;

use super::{json_body, ApiResult, Endpoint, Params};
use app::auth::permission::Action;
use app::briefs::model::{Brief, BriefList};
use app::briefs::service;
use app::error::AppError;
use app::state::{AppState, RequestContext};

/// The portal's company upload: a large file gets the import time budget.
pub const UPLOAD_PATHS: [&str; 1] = ["/api/ui/briefs/companies/upload"];

pub fn endpoints() -> Vec<Endpoint> {
    vec![
        Endpoint::new(Method::POST, "/api/briefs", create),
        Endpoint::new(Method::GET, "/api/briefs", list),
        Endpoint::new(Method::GET, "/api/briefs/{id}", show),
        Endpoint::new(Method::GET, "/api/briefs/{id}/pdf", pdf),
    ]
}

#[derive(Deserialize)]
struct BriefRequest {
    /// The company's name (or id).
    company: String,
}

fn brief_id(raw: &str) -> ApiResult<uuid::Uuid> {
    uuid::Uuid::parse_str(raw).map_err(|_| AppError::not_found("No such brief.").into())
}

/// `POST /api/briefs {"company": "Infracost"}`: 202 with the brief's id; it is ready when
/// `GET /api/briefs/{id}` says `ready`.
async fn create(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    body: Bytes,
) -> ApiResult<Response> {
    let me = ctx.authorize(Action::BriefsGenerate)?.clone();
    let request: BriefRequest = json_body(&body)?;
    let id = service::request_brief(&state.db, &ctx.tenant, ctx.audit_source(), &me, &request.company).await?;
    let location = format!("/api/briefs/{id}");
    let body = json!({ "id": id, "status": "queued", "links": { "self": location, "pdf": format!("{location}/pdf") } });
    Ok((StatusCode::ACCEPTED, [(header::LOCATION, location)], Json(body)).into_response())
}

/// `GET /api/briefs[?q=name]`: the newest 100 briefs the caller may see.
async fn list(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<BriefList>> {
    let me = ctx.authorize(Action::BriefsRead)?;
    let params = Params::parse(raw)?;
    let search = params.one("q").unwrap_or_default();
    Ok(Json(service::list_briefs(&state.db, &ctx.tenant, me, ctx.credential.scopes(), search).await?))
}

/// `GET /api/briefs/{id}`: where it stands, and when ready its competitors (each with its
/// contributions), threat terms and narrative.
async fn show(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    Path(id): Path<String>,
) -> ApiResult<Json<Brief>> {
    let me = ctx.authorize(Action::BriefsRead)?;
    let id = brief_id(&id)?;
    let scopes = ctx.credential.scopes();
    Ok(Json(service::brief(&state.db, Some(&state.redis), &ctx.tenant, ctx.audit_source(), me, scopes, id).await?))
}

/// `GET /api/briefs/{id}/pdf`: the PDF, as an attachment (409 until it is ready).
async fn pdf(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let me = ctx.authorize(Action::BriefsExport)?;
    let id = brief_id(&id)?;
    let (file, bytes) = service::brief_pdf(&state.db, &ctx.tenant, ctx.audit_source(), me, id).await?;
    let disposition = format!("attachment; filename=\"{file}\"");
    Ok(([(header::CONTENT_TYPE, "application/pdf".to_owned()), (header::CONTENT_DISPOSITION, disposition)], bytes)
        .into_response())
}
