//! Every request's time budget. Past it the request is answered 503 with `Retry-After` and its
//! future is dropped, which cancels its work: the database work under it was already bounded by
//! the same deadline (`app::db::deadline`), and a transaction cut short closes its connection.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use tokio::time::Instant;

use crate::rest;
use crate::router::Edge;
use app::db::deadline;
use app::error::AppError;

/// Seconds a client is asked to wait before retrying a request that ran out of time.
const RETRY_AFTER_SECONDS: u64 = 5;

pub async fn enforce(State(edge): State<Arc<Edge>>, request: Request, next: Next) -> Response {
    let budget = edge.budget_for(request.uri().path());
    let deadline = Instant::now() + budget;
    let (method, uri) = (request.method().clone(), request.uri().clone());
    match tokio::time::timeout_at(deadline, deadline::within(deadline, next.run(request))).await {
        Ok(response) => response,
        Err(_) => {
            tracing::warn!(path = uri.path(), budget_ms = budget.as_millis() as u64, "request ran out of time");
            let error = AppError::unavailable(format!(
                "The request did not finish within its {} s budget and was stopped. Try again, or narrow it.",
                budget.as_secs_f32()
            ));
            let refusal = retry_later(rest::refusal(StatusCode::SERVICE_UNAVAILABLE, error));
            match rest::catalog::serves(uri.path()) {
                true => rest::in_envelope(&method, &uri, refusal),
                false => refusal,
            }
        }
    }
}

/// `response` with the `Retry-After` every 503 of ours carries.
pub fn retry_later(mut response: Response) -> Response {
    response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECONDS));
    response
}
