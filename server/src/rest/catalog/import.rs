//! Entities coming in as documents: `POST /validate-entity` checks one without saving it,
//! `POST /import` saves many (YAML or an archive) and reports on each.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde::Deserialize;
use serde_json::{json, Value};

use super::reader;
use crate::rest::{invalid, json_body, ApiResult};
use app::auth::permission::Action;
use app::catalog::service;
use app::catalog::validate::validate;
use app::error::AppError;
use app::state::{AppState, RequestContext};

/// Imports larger than this are refused with 413 before they are read.
pub const MAX_IMPORT_BYTES: usize = service::MAX_UPLOAD_BYTES;

#[derive(Deserialize)]
struct ValidateRequest {
    entity: Value,
    location: Option<String>,
}

/// `POST /validate-entity` `{entity, location?}`: 200, or 400 `{errors}` naming each problem.
pub(super) async fn validate_entity(Extension(ctx): Extension<RequestContext>, body: Bytes) -> ApiResult<Response> {
    reader(&ctx)?;
    let request: ValidateRequest = json_body(&body)?;
    if request.location.as_deref().is_some_and(|l| !l.starts_with("url:")) {
        return Err(invalid("location must be of type url, e.g. url:https://example.com/catalog-info.yaml".into()));
    }
    Ok(match validate(request.entity) {
        Ok(_) => StatusCode::OK.into_response(),
        Err(errors) => (
            StatusCode::BAD_REQUEST,
            Json(json!({
                "errors": errors.into_iter().map(|message| json!({ "name": "InputError", "message": message })).collect::<Vec<_>>()
            })),
        )
            .into_response(),
    })
}

/// `POST /api/catalog/import`: one or many YAML documents, or a .zip / .tar.gz of a repository
/// (its Locations and `$text` placeholders followed inside the archive); a report per document.
pub(super) async fn import(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    ctx.authorize(Action::CatalogWrite)?;
    let documents = service::documents_of_upload(&body).await?;
    let origin = service::Origin::named("upload");
    let report = service::import(&state.db, &ctx.tenant, &ctx.audit_source(), &origin, documents).await?;
    Ok(Json(serde_json::to_value(report).map_err(AppError::internal)?))
}
