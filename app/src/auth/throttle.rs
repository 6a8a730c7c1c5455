//! Brute-force defence for sign-in (ASVS 6.1.1, 6.3.1). Failures are counted per account (the
//! email, whether or not it exists, so the answers never reveal which accounts exist) and per
//! client address, in Redis so every app instance sees the same counts:
//!
//! - from the 3rd failure of an account, the next attempt must wait 1, 2, 4 … up to 60 seconds;
//! - the 10th failure within 15 minutes locks the account's sign-in for 15 minutes;
//! - an address gets the same growing delay from its 20th failure and a 15-minute block at 100.
//!
//! Locks expire by themselves and a successful sign-in clears the account's count. A lock only
//! blocks password sign-in, and only for 15 minutes, which bounds what an attacker who locks a
//! victim out on purpose can achieve.

use tower_sessions_redis_store::fred::interfaces::KeysInterface;
use tower_sessions_redis_store::fred::types::Expiration;

use crate::error::{AppError, AppResult};
use crate::state::RedisPool;
use crate::tenancy::model::TenantId;

const WINDOW_SECONDS: i64 = 15 * 60;
const LOCK_SECONDS: i64 = 15 * 60;
const MAX_DELAY_SECONDS: i64 = 60;

struct Limits {
    delay_from: i64,
    lock_at: i64,
}

const ACCOUNT: Limits = Limits { delay_from: 3, lock_at: 10 };
const ADDRESS: Limits = Limits { delay_from: 20, lock_at: 100 };

/// Whether an attempt may go ahead.
#[derive(Debug, PartialEq, Eq)]
pub enum Gate {
    Open,
    Wait { seconds: i64 },
    Locked { seconds: i64 },
}

impl Gate {
    pub fn refusal(&self) -> Option<AppError> {
        match self {
            Gate::Open => None,
            Gate::Wait { seconds } => {
                Some(AppError::RateLimited(format!("Too many failed sign-ins. Try again in {seconds} seconds.")))
            }
            Gate::Locked { seconds } => Some(AppError::RateLimited(format!(
                "Too many failed sign-ins: signing in is locked for {} minutes.",
                (seconds + 59) / 60
            ))),
        }
    }
}

/// What a failure led to.
#[derive(Debug)]
pub struct Failure {
    pub account_failures: i64,
    pub account_locked: bool,
    pub address_locked: bool,
}

fn subjects(tenant: TenantId, email: &str, ip: Option<&str>) -> [(String, &'static Limits); 2] {
    [(format!("acct:{}:{email}", tenant.0), &ACCOUNT), (format!("ip:{}", ip.unwrap_or("unknown")), &ADDRESS)]
}

async fn ttl(redis: &RedisPool, key: String) -> AppResult<i64> {
    redis.ttl(key).await.map_err(AppError::internal)
}

pub async fn gate(redis: &RedisPool, tenant: TenantId, email: &str, ip: Option<&str>) -> AppResult<Gate> {
    let mut wait = 0;
    for (subject, _) in subjects(tenant, email, ip) {
        let locked = ttl(redis, format!("login:lock:{subject}")).await?;
        if locked > 0 {
            return Ok(Gate::Locked { seconds: locked });
        }
        wait = wait.max(ttl(redis, format!("login:wait:{subject}")).await?);
    }
    Ok(if wait > 0 { Gate::Wait { seconds: wait } } else { Gate::Open })
}

pub async fn record_failure(redis: &RedisPool, tenant: TenantId, email: &str, ip: Option<&str>) -> AppResult<Failure> {
    let mut counts = Vec::with_capacity(2);
    for (subject, limits) in subjects(tenant, email, ip) {
        let failures_key = format!("login:fail:{subject}");
        let failures: i64 = redis.incr(&failures_key).await.map_err(AppError::internal)?;
        let () = redis.expire(&failures_key, WINDOW_SECONDS, None).await.map_err(AppError::internal)?;
        let locked = failures >= limits.lock_at;
        if locked {
            set(redis, format!("login:lock:{subject}"), LOCK_SECONDS).await?;
            let () = redis.del(&failures_key).await.map_err(AppError::internal)?;
        } else if failures >= limits.delay_from {
            let delay = 1_i64 << (failures - limits.delay_from).min(6);
            set(redis, format!("login:wait:{subject}"), delay.min(MAX_DELAY_SECONDS)).await?;
        }
        counts.push((failures, locked));
    }
    Ok(Failure { account_failures: counts[0].0, account_locked: counts[0].1, address_locked: counts[1].1 })
}

pub async fn record_success(redis: &RedisPool, tenant: TenantId, email: &str) -> AppResult<()> {
    let subject = format!("acct:{}:{email}", tenant.0);
    let () = redis
        .del(vec![format!("login:fail:{subject}"), format!("login:wait:{subject}")])
        .await
        .map_err(AppError::internal)?;
    Ok(())
}

async fn set(redis: &RedisPool, key: String, seconds: i64) -> AppResult<()> {
    let () = redis.set(key, 1, Some(Expiration::EX(seconds)), None, false).await.map_err(AppError::internal)?;
    Ok(())
}
