//! Bytes no input of ours can hold. PostgreSQL refuses NUL in text, so a NUL anywhere in a
//! URL or a form is an input error here, rather than a database error deep in a handler.
//! (JSON bodies are checked where they are parsed, `rest::json_body`; entities in `validate`.)
//! Form bodies are read here whole, so they are bounded here too.

use axum::body::Body;
use axum::extract::Request;
use axum::http::{header, StatusCode};
use axum::response::Response;

use crate::rest;
use app::error::AppError;

/// A form post's body (`application/x-www-form-urlencoded`): sign-in and settings forms are
/// tiny; the largest is YAML pasted into the import page.
pub const MAX_FORM_BYTES: usize = 8 * 1024 * 1024;

/// `request` as it came, or the refusal of its NUL bytes or oversized form.
pub async fn refuse(request: Request) -> Result<Request, Response> {
    let uri = request.uri();
    if uri.path().contains("%00") || uri.query().is_some_and(|q| q.contains("%00")) {
        return Err(bad("URLs may not contain NUL bytes (%00)."));
    }
    let is_form = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if !is_form {
        return Ok(request);
    }
    let (parts, body) = request.into_parts();
    let bytes = match axum::body::to_bytes(body, MAX_FORM_BYTES).await {
        Ok(bytes) => bytes,
        Err(_) => {
            let error = AppError::too_large(format!("Forms are limited to {} MiB.", MAX_FORM_BYTES / 1024 / 1024));
            return Err(rest::refusal(StatusCode::PAYLOAD_TOO_LARGE, error));
        }
    };
    if bytes.contains(&0) || bytes.windows(3).any(|w| w == b"%00") {
        return Err(bad("Form fields may not contain NUL bytes."));
    }
    Ok(Request::from_parts(parts, Body::from(bytes)))
}

fn bad(message: &str) -> Response {
    rest::refusal(StatusCode::BAD_REQUEST, AppError::invalid(message))
}
