//! Rate limits by tier (anonymous, authenticated, enterprise; admins counted, never limited),
//! in fixed one-minute windows whose counters live in Redis, so every app instance shares them.
//! Every response says where the caller stands (`RateLimit-*`, IETF draft); a caller over the
//! limit gets 429 with `Retry-After`.

use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
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
pub async fn count(redis: &RedisPool, limits: &RateLimits, ctx: &RequestContext) -> Quota {
    let (limit, caller) = tier(limits, ctx);
    count_key(redis, limit, &caller).await
}

pub async fn count_key(redis: &RedisPool, limit: Option<u64>, caller: &str) -> Quota {
    let now = chrono::Utc::now().timestamp().max(0) as u64;
    let window = now / WINDOW_SECONDS;
    let reset_in = WINDOW_SECONDS - now % WINDOW_SECONDS;
    let key = format!("{caller}:{window}");
    let pipeline = redis.next().pipeline();
    let counted: Result<(u64, i64), _> = async {
        let () = pipeline.incr(&key).await?;
        let () = pipeline.expire(&key, (WINDOW_SECONDS * 2) as i64, None).await?;
        pipeline.all().await
    }
    .await;
    match counted {
        Ok((used, _)) => Quota { limit, used, reset_in },
        Err(e) => {
            tracing::error!(error = %e, "rate-limit counter unavailable");
            Quota { limit, used: 0, reset_in }
        }
    }
}
