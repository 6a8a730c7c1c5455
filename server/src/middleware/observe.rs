//! A tracing span and Prometheus metrics for every request, tagged with a request id; and the
//! API access log entry of every request made with a key or an access token.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument;

use crate::router::Edge;
use app::access::usage::{ApiCall, ApiCaller};
use app::state::AppState;

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

/// Where the tenant middleware leaves the machine caller it resolved. A slot shared with the
/// request rather than a response extension, so a request the budget cut short (whose
/// response the inner layers never produced) is logged too.
#[derive(Clone, Default)]
pub struct ApiCallerSlot(Arc<Mutex<Option<ApiCaller>>>);

impl ApiCallerSlot {
    pub fn fill(&self, caller: ApiCaller) {
        *self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(caller);
    }

    /// The caller, moved out: the log takes it without another copy of the tenant.
    fn take(&self) -> Option<ApiCaller> {
        self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).take()
    }
}

pub async fn observe(State((state, edge)): State<(AppState, Arc<Edge>)>, mut request: Request, next: Next) -> Response {
    let started = Instant::now();
    let at = chrono::Utc::now();
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
    let caller = ApiCallerSlot::default();
    request.extensions_mut().insert(caller.clone());
    let path = request.uri().path().to_owned();

    let mut response = next.run(request).instrument(span.clone()).await;

    let elapsed = started.elapsed();
    let route = response.extensions().get::<RouteLabel>().map_or("unmatched", |r| r.0.as_str()).to_owned();
    let status = response.status().as_u16();
    span.record("route", route.as_str());
    span.record("status", status);
    span.record("latency_ms", elapsed.as_secs_f64() * 1000.0);
    span.in_scope(|| tracing::info!("request completed"));
    edge.metrics.observe(method.as_str(), &route, status, elapsed);
    if let Some(by) = caller.take() {
        state.access_log.record(ApiCall {
            by,
            at,
            method: method.as_str().to_owned(),
            route,
            path,
            status,
            latency: elapsed,
        });
    }
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert("x-request-id", value);
    }
    response
}
