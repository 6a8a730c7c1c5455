//! Rate limits by tier (anonymous, authenticated, enterprise; admins counted, never limited),
//! in fixed one-minute windows whose counters live in Redis, so every app instance shares them
//! (each instance counts between syncs on its own: `Counters`).
//! Every response says where the caller stands (`RateLimit-*`, IETF draft); a caller over the
//! limit gets 429 with `Retry-After`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use tower_sessions_redis_store::fred::error::Error as FredError;
use tower_sessions_redis_store::fred::interfaces::KeysInterface;

use crate::config::RateLimits;
use crate::rest::{carrying, error_page, refusal};
use app::auth::model::Role;
use app::error::AppError;
use app::state::{Credential, RedisPool, RequestContext};
use app::tenancy::model::Plan;

const WINDOW_SECONDS: u64 = 60;

/// Where a caller stands in the current window.
pub struct Quota {
    /// `None`: unlimited (admins), still counted.
    limit: Option<u64>,
    used: u64,
    reset_in: u64,
}

impl Quota {
    pub fn exceeded(&self) -> bool {
        self.limit.is_some_and(|limit| self.used > limit)
    }

    pub fn write_headers(&self, headers: &mut HeaderMap) {
        let Some(limit) = self.limit else { return };
        let number = |n: u64| HeaderValue::from(n);
        headers.insert("ratelimit-limit", number(limit));
        headers.insert("ratelimit-remaining", number(limit.saturating_sub(self.used)));
        headers.insert("ratelimit-reset", number(self.reset_in));
        headers
            .insert("ratelimit-policy", HeaderValue::from_str(&format!("{limit};w={WINDOW_SECONDS}")).expect("ascii"));
    }

    /// The 429; a browser navigating (a link, or a form posted without JavaScript) gets it as
    /// a page it can show, every other caller as JSON.
    pub fn refusal(&self, as_page: bool) -> Response {
        let message = format!("Too many requests. Try again in {} seconds.", self.reset_in);
        let mut response = match as_page {
            true => carrying(
                error_page(StatusCode::TOO_MANY_REQUESTS, "Too many requests", message.clone(), None),
                AppError::RateLimited(message),
            ),
            false => refusal(StatusCode::TOO_MANY_REQUESTS, AppError::RateLimited(message)),
        };
        self.write_headers(response.headers_mut());
        response.headers_mut().insert("retry-after", HeaderValue::from(self.reset_in));
        response
    }
}

/// Whether the caller is a browser navigating (it asks for HTML), not a script or an API client.
pub fn wants_page(headers: &HeaderMap) -> bool {
    headers.get(axum::http::header::ACCEPT).and_then(|v| v.to_str().ok()).is_some_and(|v| v.contains("text/html"))
}

/// Anonymous callers are counted per address, across tenants.
pub fn anonymous_key(ip: Option<&str>) -> String {
    format!("rl:ip:{}", ip.unwrap_or("unknown"))
}

/// The limit and the counter key of this caller.
fn tier(limits: &RateLimits, ctx: &RequestContext) -> (Option<u64>, String) {
    let tenant = ctx.tenant.id.0;
    let Some(principal) = &ctx.principal else {
        return (Some(limits.anonymous_per_minute), anonymous_key(ctx.ip.as_deref()));
    };
    let limit = if principal.role == Role::Admin && ctx.credential == Credential::Session {
        None
    } else if ctx.tenant.plan == Plan::Enterprise {
        Some(limits.enterprise_per_minute)
    } else {
        Some(limits.authenticated_per_minute)
    };
    (limit, format!("rl:{tenant}:{}", ctx.caller()))
}

/// Counts this request. If Redis is unreachable the request is let through (and logged): a
/// counter outage must not take the portal down.
pub async fn count(redis: &RedisPool, counters: &Counters, limits: &RateLimits, ctx: &RequestContext) -> Quota {
    let (limit, caller) = tier(limits, ctx);
    count_key(redis, counters, limit, &caller).await
}

/// How long this instance counts a caller's requests on its own before Redis hears of them.
const SYNC_EVERY: Duration = Duration::from_millis(100);

/// This instance's counters: for each caller and window, the count Redis last answered and
/// the requests counted here since.
///
/// A caller's first request in a window asks Redis, so it starts from what every instance has
/// counted; its later requests are counted here and sent to Redis together, `SYNC_EVERY`
/// later. A request then costs no round trip (Redis was a third of a point lookup's time at
/// the edge). With one instance the counts are exact; with several, each instance sees the
/// others' requests at most `SYNC_EVERY` late, so a caller spreading a burst over instances
/// may pass its limit by what the others admitted in that time.
#[derive(Clone, Default)]
pub struct Counters(Arc<Mutex<Counting>>);

#[derive(Default)]
struct Counting {
    windows: HashMap<String, Counted>,
    sync_due: bool,
}

#[derive(Default)]
struct Counted {
    window: u64,
    /// The count in Redis when it last answered (every instance's requests).
    shared: u64,
    /// Counted here and sent, not yet answered.
    sending: u64,
    /// Counted here since.
    unsent: u64,
}

impl Counted {
    fn used(&self) -> u64 {
        self.shared + self.sending + self.unsent
    }
}

impl Counters {
    fn lock(&self) -> MutexGuard<'_, Counting> {
        self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Sends what was counted here since the last sync; the answers say what every instance
    /// counted. Windows that ended are forgotten (their Redis keys expire on their own).
    async fn sync(self, redis: RedisPool) {
        tokio::time::sleep(SYNC_EVERY).await;
        let window = current_window().0;
        let sending: Vec<(String, u64)> = {
            let mut counting = self.lock();
            counting.sync_due = false;
            counting.windows.retain(|_, counted| counted.window >= window);
            counting
                .windows
                .iter_mut()
                .filter(|(_, counted)| counted.unsent > 0)
                .map(|(key, counted)| {
                    let n = std::mem::take(&mut counted.unsent);
                    counted.sending += n;
                    (key.clone(), n)
                })
                .collect()
        };
        if sending.is_empty() {
            return;
        }
        let counts: Vec<(&str, u64)> = sending.iter().map(|(key, n)| (key.as_str(), *n)).collect();
        let answered = add_counts(&redis, &counts).await;
        let mut counting = self.lock();
        for (i, (key, n)) in sending.iter().enumerate() {
            let Some(counted) = counting.windows.get_mut(key) else { continue };
            counted.sending -= n;
            match &answered {
                Ok(totals) => counted.shared = counted.shared.max(totals.get(i).copied().unwrap_or(0)),
                // Kept to send with the next sync.
                Err(_) => counted.unsent += n,
            }
        }
        if let Err(e) = answered {
            tracing::error!(error = %e, "rate-limit counter unavailable");
        }
    }
}

/// Adds each count to its key in Redis, which forgets the key a window after its own ends;
/// answers the keys' totals after the additions, in order.
async fn add_counts(redis: &RedisPool, counts: &[(&str, u64)]) -> Result<Vec<u64>, FredError> {
    let pipeline = redis.next().pipeline();
    for (key, n) in counts {
        let () = pipeline.incr_by(*key, *n as i64).await?;
        let () = pipeline.expire(*key, (WINDOW_SECONDS * 2) as i64, None).await?;
    }
    let answers: Vec<u64> = pipeline.all().await?;
    // Answers alternate: the total after the addition, then the expiry's.
    Ok(answers.into_iter().step_by(2).collect())
}

/// The current window's number and the seconds until it ends.
fn current_window() -> (u64, u64) {
    let now = chrono::Utc::now().timestamp().max(0) as u64;
    (now / WINDOW_SECONDS, WINDOW_SECONDS - now % WINDOW_SECONDS)
}

pub async fn count_key(redis: &RedisPool, counters: &Counters, limit: Option<u64>, caller: &str) -> Quota {
    let (window, reset_in) = current_window();
    let key = format!("{caller}:{window}");
    {
        let mut counting = counters.lock();
        if let Some(counted) = counting.windows.get_mut(&key) {
            counted.unsent += 1;
            let used = counted.used();
            if !std::mem::replace(&mut counting.sync_due, true) {
                tokio::spawn(counters.clone().sync(redis.clone()));
            }
            return Quota { limit, used, reset_in };
        }
    }
    // The caller's first request in this window here: where it stands on every instance.
    match add_counts(redis, &[(&key, 1)]).await {
        Ok(totals) => {
            let shared = totals.first().copied().unwrap_or(0);
            let mut counting = counters.lock();
            let counted = counting.windows.entry(key).or_insert_with(|| Counted { window, ..Counted::default() });
            // Requests counted here while Redis answered are in `unsent` already.
            counted.shared = counted.shared.max(shared);
            Quota { limit, used: counted.used(), reset_in }
        }
        Err(e) => {
            tracing::error!(error = %e, "rate-limit counter unavailable");
            Quota { limit, used: 0, reset_in }
        }
    }
}
