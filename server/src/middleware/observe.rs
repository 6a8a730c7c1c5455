//! A tracing span and Prometheus metrics for every request, tagged with a request id.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument;

use crate::router::Edge;

/// The request's id, for logs, audit rows and the `x-request-id` response header.
#[derive(Clone, Debug)]
pub struct RequestId(pub String);

/// The route template that matched, copied onto the response for the outer `observe` layer
/// (which runs before routing and so cannot see `MatchedPath` on the request).
#[derive(Clone)]
struct RouteLabel(String);

pub async fn remember_route(request: Request, next: Next) -> Response {
    let route = request.extensions().get::<MatchedPath>().map(|p| p.as_str().to_owned());
    let mut response = next.run(request).await;
    if let Some(route) = route {
        response.extensions_mut().insert(RouteLabel(route));
    }
    response
}

pub async fn observe(State(edge): State<Arc<Edge>>, mut request: Request, next: Next) -> Response {
    let started = Instant::now();
    let request_id = uuid::Uuid::new_v4().simple().to_string();
    let method = request.method().clone();
    let span = tracing::info_span!(
        "request",
        request_id = %request_id,
        method = %method,
        path = %request.uri().path(),
        route = tracing::field::Empty,
        tenant = tracing::field::Empty,
        user = tracing::field::Empty,
        status = tracing::field::Empty,
        latency_ms = tracing::field::Empty,
    );
    request.extensions_mut().insert(RequestId(request_id.clone()));

    let mut response = next.run(request).instrument(span.clone()).await;

    let elapsed = started.elapsed();
    let route = response.extensions().get::<RouteLabel>().map_or("unmatched", |r| r.0.as_str()).to_owned();
    let status = response.status().as_u16();
    span.record("route", route.as_str());
    span.record("status", status);
    span.record("latency_ms", elapsed.as_secs_f64() * 1000.0);
    span.in_scope(|| tracing::info!("request completed"));
    edge.metrics.observe(method.as_str(), &route, status, elapsed);
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert("x-request-id", value);
    }
    response
}
