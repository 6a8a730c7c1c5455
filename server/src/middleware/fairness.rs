//! Fair shares of the expensive endpoints (export, full-text search, facets, imports). A tenant
//! runs at most `TENANT_SLOTS` of them at once and a caller at most `CALLER_SLOTS`; further
//! requests wait for a slot of their own tenant and caller, so heavy use queues behind itself,
//! never in front of other tenants. The wait is part of the request's time budget
//! (`middleware::budget`). Slots are counted per app instance.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use futures_util::StreamExt;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::router::Edge;
use app::state::RequestContext;

/// Expensive requests of one tenant running at once.
pub const TENANT_SLOTS: usize = 4;
/// Expensive requests of one caller (member, API key, OAuth client) running at once.
pub const CALLER_SLOTS: usize = 2;

/// The routes whose cost grows with the tenant's data or the request's size.
const EXPENSIVE: &[&str] = &[
    "/api/catalog/export",
    "/api/catalog/search",
    "/api/catalog/search/semantic",
    "/api/catalog/entity-facets",
    "/api/audit/export",
    "/api/audit/verify",
    "/api/ui/audit/verify",
    crate::rest::catalog::IMPORT_PATHS[0],
    crate::rest::catalog::IMPORT_PATHS[1],
    crate::rest::finops::UPLOAD_PATHS[0],
    crate::rest::finops::UPLOAD_PATHS[1],
];

/// Queues are made when first used and dropped when nobody holds or waits for them.
#[derive(Default)]
pub struct Fairness {
    queues: Mutex<HashMap<String, Arc<Semaphore>>>,
}

impl Fairness {
    fn queue(&self, key: String, slots: usize) -> Arc<Semaphore> {
        let mut queues = self.queues.lock().expect("fairness queues");
        if queues.len() > 1_000 {
            queues.retain(|_, queue| Arc::strong_count(queue) > 1);
        }
        queues.entry(key).or_insert_with(|| Arc::new(Semaphore::new(slots))).clone()
    }

    /// Waits for a slot of the tenant and one of the caller; held until the request is answered.
    async fn enter(&self, tenant: i64, caller: &str) -> [OwnedSemaphorePermit; 2] {
        let caller = self.queue(format!("{tenant}:{caller}"), CALLER_SLOTS);
        let tenant = self.queue(format!("tenant:{tenant}"), TENANT_SLOTS);
        // The caller's slot first: a caller's own backlog never holds tenant slots while waiting.
        let caller = caller.acquire_owned().await.expect("queues are never closed");
        let tenant = tenant.acquire_owned().await.expect("queues are never closed");
        [caller, tenant]
    }
}

pub async fn queue(State(edge): State<Arc<Edge>>, request: Request, next: Next) -> Response {
    let ctx = request.extensions().get::<RequestContext>().filter(|_| EXPENSIVE.contains(&request.uri().path()));
    let Some(ctx) = ctx else { return next.run(request).await };
    let slots = edge.fairness.enter(ctx.tenant.id.0, &ctx.caller()).await;
    // A streamed answer (an export) keeps its slots until its last byte is sent.
    next.run(request).await.map(|body| {
        Body::from_stream(body.into_data_stream().map(move |chunk| {
            let _held = &slots;
            chunk
        }))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;
    use tokio::time::timeout;

    const SOON: Duration = Duration::from_millis(50);

    #[tokio::test]
    async fn a_busy_caller_and_a_busy_tenant_wait_for_themselves_only() {
        let fairness = Fairness::default();
        let mut held = Vec::new();
        for _ in 0..CALLER_SLOTS {
            held.push(fairness.enter(1, "key:a").await);
        }
        assert!(timeout(SOON, fairness.enter(1, "key:a")).await.is_err(), "a caller past its slots waits");
        for caller in ["key:b", "user:c"] {
            held.push(timeout(SOON, fairness.enter(1, caller)).await.expect("another caller of the tenant goes on"));
        }
        assert_eq!(held.len(), TENANT_SLOTS);
        assert!(timeout(SOON, fairness.enter(1, "user:d")).await.is_err(), "a tenant past its slots waits");
        let _other = timeout(SOON, fairness.enter(2, "key:a")).await.expect("another tenant is never queued behind it");
        held.pop();
        let _next =
            timeout(SOON, fairness.enter(1, "user:d")).await.expect("a freed slot goes to the tenant's next request");
    }
}
