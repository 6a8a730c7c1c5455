//! Outgoing work that waits in a tenant's tables (notification mail, webhook deliveries) and
//! the worker that sends it. A trigger announces the tenant's schema when such work commits;
//! the listener rings the worker's `DueTenants` with it, and the worker's next round looks at
//! those tenants only. A sweep of every tenant picks up retries that came due and work a
//! stopped server had claimed.

use std::collections::HashSet;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Notify;

use crate::db::Database;
use crate::error::AppResult;
use crate::tenancy::model::Tenant;
use crate::tenancy::service as tenancy;

/// The longest pause between two attempts.
const MAX_BACKOFF_SECONDS: i64 = 3600;
/// How long outgoing work is retried before it is given up.
pub const GIVE_UP_AFTER: chrono::Duration = chrono::Duration::hours(24);
/// How much of an error is kept with the work that failed.
pub const MAX_ERROR: usize = 500;

/// The pause before the attempt after `failures` failed ones: 30 s, 1, 2, 4 … min, ≤ 1 h.
pub fn backoff(failures: i32) -> chrono::Duration {
    let seconds = 30_i64.saturating_mul(1_i64 << failures.clamp(1, 20).saturating_sub(1));
    chrono::Duration::seconds(seconds.min(MAX_BACKOFF_SECONDS))
}

/// The schemas announced with work since the worker's last round; cheap to clone.
#[derive(Clone, Default)]
pub struct DueTenants(Arc<Inner>);

#[derive(Default)]
struct Inner {
    schemas: Mutex<HashSet<String>>,
    wake: Notify,
}

impl DueTenants {
    /// The tenant with schema `schema` has work to send.
    pub fn ring(&self, schema: &str) {
        self.0.schemas.lock().unwrap_or_else(|p| p.into_inner()).insert(schema.to_owned());
        self.0.wake.notify_one();
    }

    /// Waits for a ring (the schemas rung) or the sweep's tick (`None`: every tenant).
    async fn next(&self, sweep: &mut tokio::time::Interval) -> Option<HashSet<String>> {
        tokio::select! {
            _ = sweep.tick() => None,
            () = self.0.wake.notified() => {
                Some(std::mem::take(&mut *self.0.schemas.lock().unwrap_or_else(|p| p.into_inner())))
            }
        }
    }

    /// Runs for ever: `round` for each tenant that is due, again while it answers that a full
    /// batch went out (more may wait), and for every tenant each `sweep_every`.
    pub async fn serve<F, Fut>(self, db: Database, sweep_every: Duration, what: &'static str, round: F)
    where
        F: Fn(Tenant) -> Fut,
        Fut: Future<Output = AppResult<bool>>,
    {
        let mut sweep = tokio::time::interval(sweep_every);
        sweep.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let only = self.next(&mut sweep).await;
            let tenants = match tenancy::list(&db).await {
                Ok(tenants) => tenants,
                Err(e) => {
                    tracing::warn!(error = %e, what, "could not list tenants");
                    continue;
                }
            };
            for tenant in tenants.into_iter().filter(|t| only.as_ref().is_none_or(|o| o.contains(t.schema.as_str()))) {
                loop {
                    match round(tenant.clone()).await {
                        Ok(true) => continue,
                        Ok(false) => break,
                        Err(e) => {
                            tracing::warn!(tenant = %tenant.slug, error = %e, what, "round failed");
                            break;
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_back_off_to_an_hour() {
        assert_eq!(backoff(1).num_seconds(), 30);
        assert_eq!(backoff(2).num_seconds(), 60);
        assert_eq!(backoff(4).num_seconds(), 240);
        assert_eq!(backoff(12).num_seconds(), MAX_BACKOFF_SECONDS);
    }
}
