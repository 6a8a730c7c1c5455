//! `GET /openapi.json`: the OpenAPI document of this API, kept next to the handlers (YAML,
//! served as JSON). Integration tests hold it to the endpoint table both ways: every
//! operation it describes is routed, every route is described.

use axum::Json;
use serde_json::Value;

use crate::rest::{ApiError, ApiResult};
use app::error::AppError;

const OPENAPI: &str = include_str!("openapi.yaml");

pub(super) async fn document() -> ApiResult<Json<Value>> {
    serde_norway::from_str(OPENAPI).map(Json).map_err(|e| ApiError(AppError::internal(e)))
}
