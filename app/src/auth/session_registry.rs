//! Every signed-in browser session of a member, per tenant, in Redis (ASVS 7.4.x, 7.5.2).
//!
//! tower-sessions keeps the session itself; this registry keeps one entry per sign-in under a
//! random handle that the session carries. The edge checks the entry on every request, so
//! deleting it ends that session at once — from the member's "Your sessions" page, from
//! "sign out everywhere", or when an admin changes their role or deactivates them. It also
//! enforces the absolute lifetime, which an idle timeout alone cannot give.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use rand::distr::{Alphanumeric, SampleString};
use serde::{Deserialize, Serialize};
use tower_sessions_redis_store::fred::interfaces::{HashesInterface, KeysInterface};
use uuid::Uuid;

use super::model::ActiveSession;
use super::session::SessionUser;
use crate::error::{AppError, AppResult};
use crate::state::RedisPool;
use crate::tenancy::model::TenantId;

/// How long sessions live; from configuration.
#[derive(Clone, Copy, Debug)]
pub struct SessionPolicy {
    /// Ends a session after this long without a request.
    pub idle: Duration,
    /// Ends a session this long after sign-in, however active it is.
    pub absolute: Duration,
}

/// Last-seen times are written at most this often, so a busy page costs one read per request.
const TOUCH_EVERY_SECONDS: i64 = 60;

#[derive(Clone, Debug, Serialize, Deserialize)]
struct Entry {
    user_agent: Option<String>,
    ip: Option<String>,
    signed_in_at: DateTime<Utc>,
    last_seen_at: DateTime<Utc>,
}

impl Entry {
    fn expired(&self, policy: &SessionPolicy, now: DateTime<Utc>) -> bool {
        now - self.signed_in_at > policy.absolute || now - self.last_seen_at > policy.idle
    }
}

fn key(tenant: TenantId, user: Uuid) -> String {
    format!("beacon:sessions:{}:{user}", tenant.0)
}

fn internal(e: impl std::fmt::Display) -> AppError {
    AppError::internal(format!("session registry: {e}"))
}

/// Registers a new sign-in and returns what the session must carry.
pub async fn open(
    redis: &RedisPool,
    policy: &SessionPolicy,
    tenant: TenantId,
    user: Uuid,
    ip: Option<String>,
    user_agent: Option<String>,
) -> AppResult<SessionUser> {
    let now = Utc::now();
    let handle = Alphanumeric.sample_string(&mut rand::rng(), 24);
    let entry = Entry { user_agent, ip, signed_in_at: now, last_seen_at: now };
    let key = key(tenant, user);
    let value = serde_json::to_string(&entry).map_err(internal)?;
    let () = redis.hset(&key, (handle.as_str(), value)).await.map_err(internal)?;
    // The whole hash outlives its newest entry by the absolute lifetime at most.
    let () = redis.expire(&key, policy.absolute.num_seconds(), None).await.map_err(internal)?;
    Ok(SessionUser { tenant_id: tenant, user_id: user, handle, signed_in_at: now })
}

/// Whether the session is still registered and within its lifetimes; refreshes its last-seen
/// time and address now and then.
pub async fn check(redis: &RedisPool, policy: &SessionPolicy, user: &SessionUser, ip: Option<&str>) -> AppResult<bool> {
    let now = Utc::now();
    let key = key(user.tenant_id, user.user_id);
    let stored: Option<String> = redis.hget(&key, user.handle.as_str()).await.map_err(internal)?;
    let Some(mut entry) = stored.and_then(|raw| serde_json::from_str::<Entry>(&raw).ok()) else {
        return Ok(false);
    };
    if entry.expired(policy, now) || now - user.signed_in_at > policy.absolute {
        let () = redis.hdel(&key, user.handle.as_str()).await.map_err(internal)?;
        return Ok(false);
    }
    if (now - entry.last_seen_at).num_seconds() >= TOUCH_EVERY_SECONDS || entry.ip.as_deref() != ip {
        entry.last_seen_at = now;
        entry.ip = ip.map(str::to_owned);
        let value = serde_json::to_string(&entry).map_err(internal)?;
        let () = redis.hset(&key, (user.handle.as_str(), value)).await.map_err(internal)?;
    }
    Ok(true)
}

/// The member's live sessions, newest first; expired entries are dropped on the way.
pub async fn list(
    redis: &RedisPool,
    policy: &SessionPolicy,
    tenant: TenantId,
    user: Uuid,
    current_handle: &str,
) -> AppResult<Vec<ActiveSession>> {
    let now = Utc::now();
    let key = key(tenant, user);
    let all: HashMap<String, String> = redis.hgetall(&key).await.map_err(internal)?;
    let mut live = Vec::new();
    let mut dead = Vec::new();
    for (handle, raw) in all {
        match serde_json::from_str::<Entry>(&raw) {
            Ok(entry) if !entry.expired(policy, now) => live.push(ActiveSession {
                current: handle == current_handle,
                device: describe_device(entry.user_agent.as_deref()),
                user_agent: entry.user_agent,
                ip: entry.ip,
                signed_in_at: entry.signed_in_at,
                last_seen_at: entry.last_seen_at,
                handle,
            }),
            _ => dead.push(handle),
        }
    }
    if !dead.is_empty() {
        let () = redis.hdel(&key, dead).await.map_err(internal)?;
    }
    live.sort_by_key(|s| std::cmp::Reverse(s.last_seen_at));
    Ok(live)
}

/// Ends one session; false when there was no such session.
pub async fn end(redis: &RedisPool, tenant: TenantId, user: Uuid, handle: &str) -> AppResult<bool> {
    let removed: i64 = redis.hdel(key(tenant, user), handle).await.map_err(internal)?;
    Ok(removed > 0)
}

/// Ends every session of the member in this tenant except `keep`; returns how many ended.
pub async fn end_all(redis: &RedisPool, tenant: TenantId, user: Uuid, keep: Option<&str>) -> AppResult<usize> {
    let key = key(tenant, user);
    let handles: Vec<String> = redis.hkeys(&key).await.map_err(internal)?;
    let doomed: Vec<String> = handles.into_iter().filter(|h| Some(h.as_str()) != keep).collect();
    if doomed.is_empty() {
        return Ok(0);
    }
    let () = redis.hdel(&key, doomed.clone()).await.map_err(internal)?;
    Ok(doomed.len())
}

/// "Firefox on Linux" from a User-Agent header; enough to recognise one's own devices.
pub fn describe_device(user_agent: Option<&str>) -> String {
    let Some(ua) = user_agent else { return "Unknown device".into() };
    let browser = [
        ("Edg/", "Edge"),
        ("OPR/", "Opera"),
        ("Firefox/", "Firefox"),
        ("HeadlessChrome/", "Headless Chrome"),
        ("Chrome/", "Chrome"),
        ("Safari/", "Safari"),
        ("curl/", "curl"),
    ]
    .into_iter()
    .find(|(marker, _)| ua.contains(marker))
    .map_or("Browser", |(_, name)| name);
    let system = [
        ("Windows", "Windows"),
        ("iPhone", "iOS"),
        ("iPad", "iPadOS"),
        ("Android", "Android"),
        ("Mac OS X", "macOS"),
        ("CrOS", "ChromeOS"),
        ("Linux", "Linux"),
    ]
    .into_iter()
    .find(|(marker, _)| ua.contains(marker))
    .map(|(_, name)| name);
    match system {
        Some(system) => format!("{browser} on {system}"),
        None => browser.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn devices_are_named_from_their_user_agent() {
        let firefox = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0";
        let edge = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36 Edg/120.0";
        let safari = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1";
        assert_eq!(describe_device(Some(firefox)), "Firefox on Linux");
        assert_eq!(describe_device(Some(edge)), "Edge on Windows");
        assert_eq!(describe_device(Some(safari)), "Safari on iOS");
        assert_eq!(describe_device(Some("curl/8.5.0")), "curl");
        assert_eq!(describe_device(None), "Unknown device");
    }

    #[test]
    fn entries_expire_when_idle_or_too_old() {
        let policy = SessionPolicy { idle: Duration::minutes(30), absolute: Duration::hours(12) };
        let now = Utc::now();
        let entry = |signed_in: Duration, seen: Duration| Entry {
            user_agent: None,
            ip: None,
            signed_in_at: now - signed_in,
            last_seen_at: now - seen,
        };
        assert!(!entry(Duration::hours(11), Duration::minutes(29)).expired(&policy, now));
        assert!(entry(Duration::hours(11), Duration::minutes(31)).expired(&policy, now));
        assert!(entry(Duration::hours(13), Duration::minutes(1)).expired(&policy, now));
    }
}
