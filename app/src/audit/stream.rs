//! Streaming the audit log to a tenant's SIEM: each destination is sent the tenant's events in
//! hash-chain (commit) order as they happen, in signed JSON batches, at least once.
//!
//! - A batch is `POST`ed as `{"tenant", "delivery", "events": [...]}`, each event as
//!   `GET /api/audit` shows it, with its `id` (what receivers de-duplicate by) and `chain_seq`.
//! - `Beacon-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`; the
//!   secret is shown once when the destination is added and kept sealed by the keyring.
//! - A 2xx answer confirms the batch; anything else (or no answer within 10 s) is retried
//!   after 2, 4, 8 … seconds, at most 10 minutes apart, and the destination's backlog waits
//!   for it: nothing is skipped, and a receiver that was down gets everything it missed.
//! - Each attempt is in the delivery log (30 days). One server at a time sends to a
//!   destination (a lease on its row), holding no database connection while it waits on the
//!   receiver.

use std::time::Duration;

use chrono::{DateTime, SubsecRound, Utc};
use hmac::{Hmac, KeyInit, Mac};
use serde_json::json;
use sha2::Sha256;
use uuid::Uuid;

use super::model::AuditAction;
use super::repo;
use super::service::{record, AuditEvent, AuditSource};
use super::stream_model::{DestinationView, NewSecret};
use super::stream_repo::{self as destinations, DestinationRow, NewDelivery};
use crate::db::Database;
use crate::error::{AppError, AppResult};
use crate::fetch::{self, FetchPolicy};
use crate::keyring::{Keyring, Purpose, Sealed};
use crate::tenancy::model::Tenant;
use crate::tenancy::service as tenancy;

/// Events per batch.
pub const BATCH: i64 = 100;
/// Batches sent to one destination per round before the others get their turn.
const BATCHES_PER_ROUND: usize = 10;
/// How long a sender holds a destination: longer than a request to the receiver can take.
const LEASE: Duration = Duration::from_secs(60);
/// The longest wait between two attempts.
const MAX_BACKOFF_SECONDS: i64 = 600;
/// How long attempts stay in the delivery log.
const LOG_DAYS: i64 = 30;
const MAX_ERROR: usize = 500;
/// How often the worker looks for due destinations, and for tenants that have any.
const ROUND_EVERY: Duration = Duration::from_secs(2);
const TENANTS_EVERY: Duration = Duration::from_secs(30);
/// Destinations shown per tenant, and attempts per destination.
const RECENT_DELIVERIES: i64 = 10;

/// The wait before attempt number `failures + 1`.
fn backoff(failures: i32) -> chrono::Duration {
    chrono::Duration::seconds(2i64.saturating_pow(failures.clamp(1, 30) as u32).min(MAX_BACKOFF_SECONDS))
}

/// The `Beacon-Signature` header of `body` sent at `at`.
pub fn signature(secret: &[u8], at: DateTime<Utc>, body: &[u8]) -> String {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret).expect("HMAC takes any key length");
    let t = at.timestamp();
    mac.update(t.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("t={t},v1={}", super::chain::hex(&mac.finalize().into_bytes()))
}

fn secret_context(id: Uuid) -> Vec<u8> {
    [b"audit-destination:".as_slice(), id.as_bytes()].concat()
}

/// A destination as an admin asks for it.
pub struct NewDestination<'a> {
    pub name: &'a str,
    pub url: &'a str,
    /// Send the whole existing log first; otherwise the events committed from now on.
    pub from_start: bool,
}

/// Adds a destination; its signing secret is returned once.
pub async fn add(
    db: &Database,
    keyring: &Keyring,
    policy: &FetchPolicy,
    tenant: &Tenant,
    source: AuditSource,
    NewDestination { name, url, from_start }: NewDestination<'_>,
) -> AppResult<NewSecret> {
    let name = name.trim().to_owned();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(AppError::invalid("Give the destination a name of at most 100 characters."));
    }
    let url = fetch::outbound_url(policy, url).map_err(AppError::invalid)?;
    let id = Uuid::new_v4();
    let secret = crate::keyring::new_secret("bss_");
    let Sealed { key_id, bytes } = keyring.seal(Purpose::AuditStreamSecret, secret.as_bytes(), &secret_context(id))?;
    let now = Utc::now().trunc_subsecs(6);
    let row = DestinationRow {
        id,
        name: name.clone(),
        url: url.to_string(),
        secret: bytes,
        secret_key_id: key_id,
        created_at: now,
        created_by: source.actor.clone(),
        delivered_seq: 0,
        failures: 0,
        next_attempt_at: now,
        leased_until: None,
        last_success_at: None,
        last_error: None,
    };
    db.with_tenant(tenant, move |conn| {
        Box::pin(async move {
            let mut row = row;
            row.delivered_seq = if from_start { 0 } else { repo::head(conn).await?.0 };
            destinations::insert(conn, &row).await?;
            let event = AuditEvent::success(AuditAction::AuditStreamAdded, row.name.clone())
                .details(json!({ "url": row.url, "from_start": from_start, "from_seq": row.delivered_seq }));
            record(conn, &source, event).await
        })
    })
    .await?;
    Ok(NewSecret { name, secret })
}

pub async fn remove(db: &Database, tenant: &Tenant, source: AuditSource, id: Uuid) -> AppResult<()> {
    db.with_tenant(tenant, move |conn| {
        Box::pin(async move {
            let name = destinations::delete(conn, id)
                .await?
                .ok_or_else(|| AppError::not_found("No such destination in this tenant."))?;
            record(conn, &source, AuditEvent::success(AuditAction::AuditStreamRemoved, name)).await
        })
    })
    .await
}

pub async fn overview(db: &Database, tenant: &Tenant) -> AppResult<Vec<DestinationView>> {
    db.with_tenant(tenant, |conn| {
        Box::pin(async move {
            let (head, _) = repo::head(conn).await?;
            let mut views = Vec::new();
            for row in destinations::list(conn).await? {
                views.push(DestinationView {
                    deliveries: destinations::recent_deliveries(conn, row.id, RECENT_DELIVERIES).await?,
                    backlog: (head - row.delivered_seq).max(0),
                    id: row.id,
                    name: row.name,
                    url: row.url,
                    created_at: row.created_at,
                    created_by: row.created_by,
                    delivered_seq: row.delivered_seq,
                    failures: row.failures,
                    next_attempt_at: row.next_attempt_at,
                    last_success_at: row.last_success_at,
                    last_error: row.last_error,
                })
            }
            Ok(views)
        })
    })
    .await
}

/// What a sender needs besides the tenant.
#[derive(Clone)]
pub struct Sender {
    pub db: Database,
    pub keyring: Keyring,
    pub policy: FetchPolicy,
    /// Rung when a destination is added here: its tenant is streamed from the next round
    /// instead of the next lookup of tenants (other servers find it at theirs).
    pub wake: StreamWake,
}

/// Wakes this server's sender; cheap to clone.
#[derive(Clone, Default)]
pub struct StreamWake(std::sync::Arc<tokio::sync::Notify>);

impl StreamWake {
    pub fn ring(&self) {
        self.0.notify_one();
    }
}

impl Sender {
    /// Sends every destination of `tenant` that is due at `now` what it has not confirmed yet
    /// (up to ten batches each); returns how many events receivers confirmed.
    pub async fn deliver_due(&self, tenant: &Tenant, now: DateTime<Utc>) -> AppResult<usize> {
        let due = self
            .db
            .with_tenant(tenant, move |conn| {
                Box::pin(async move { destinations::due(conn, now).await.map_err(AppError::from) })
            })
            .await?;
        let mut confirmed = 0;
        for id in due {
            for _ in 0..BATCHES_PER_ROUND {
                match self.send_batch(tenant, id, now).await? {
                    Batch::Confirmed { events, full } => {
                        confirmed += events;
                        if !full {
                            break;
                        }
                    }
                    Batch::Nothing | Batch::Failed | Batch::Taken => break,
                }
            }
        }
        Ok(confirmed)
    }

    async fn send_batch(&self, tenant: &Tenant, id: Uuid, now: DateTime<Utc>) -> AppResult<Batch> {
        let until = now + chrono::Duration::from_std(LEASE).expect("a short lease");
        let leased = self
            .db
            .with_tenant(tenant, move |conn| {
                Box::pin(async move {
                    let Some(row) = destinations::lease(conn, id, now, until).await? else { return Ok(None) };
                    let events = repo::chained_details(conn, row.delivered_seq, BATCH).await?;
                    if events.is_empty() {
                        destinations::release(conn, id).await?;
                    }
                    Ok::<_, AppError>(Some((row, events)))
                })
            })
            .await?;
        let Some((row, events)) = leased else { return Ok(Batch::Taken) };
        if events.is_empty() {
            return Ok(Batch::Nothing);
        }
        let first_seq = events.first().and_then(|e| e.chain_seq).unwrap_or(row.delivered_seq + 1);
        let last_seq = events.last().and_then(|e| e.chain_seq).unwrap_or(first_seq);
        let delivery_id = Uuid::new_v4();
        let body = serde_json::to_vec(&json!({
            "tenant": tenant.slug.to_string(),
            "delivery": delivery_id,
            "events": events,
        }))
        .map_err(AppError::internal)?;
        let sealed = Sealed { key_id: row.secret_key_id.clone(), bytes: row.secret.clone() };
        let secret = self.keyring.open(Purpose::AuditStreamSecret, &sealed, &secret_context(id))?;
        let started = std::time::Instant::now();
        let answer = self.post(&row.url, &secret, delivery_id, body).await;
        let duration_ms = started.elapsed().as_millis().min(i32::MAX as u128) as i32;
        let (status, error) = match answer {
            Ok(status) if (200..300).contains(&status) => (Some(status as i16), None),
            Ok(status) => (Some(status as i16), Some(format!("the receiver answered {status}"))),
            Err(e) => (None, Some(crate::escape::cut(&e, MAX_ERROR).to_owned())),
        };
        let count = events.len();
        let failures = row.failures + 1;
        let delivery = NewDelivery {
            destination_id: id,
            delivery_id,
            attempted_at: Utc::now(),
            first_seq,
            last_seq,
            events: count as i32,
            status,
            error: error.clone(),
            duration_ms,
        };
        let keep_after = Utc::now() - chrono::Duration::days(LOG_DAYS);
        let retry_at = now + backoff(failures);
        let failed = error.is_some();
        self.db
            .with_tenant(tenant, move |conn| {
                Box::pin(async move {
                    destinations::log_delivery(conn, delivery, keep_after).await?;
                    match &error {
                        None => destinations::confirm(conn, id, last_seq, now).await,
                        Some(error) => destinations::fail(conn, id, failures, retry_at, error).await,
                    }
                    .map_err(AppError::from)
                })
            })
            .await?;
        Ok(match failed {
            false => Batch::Confirmed { events: count, full: count as i64 == BATCH },
            true => Batch::Failed,
        })
    }

    /// The receiver's status code, or why there was none.
    async fn post(&self, url: &str, secret: &[u8], delivery: Uuid, body: Vec<u8>) -> Result<u16, String> {
        let url = fetch::parse(url)?;
        let client = fetch::pinned_client(&self.policy, &url, "Beacon-Audit-Stream/1").await?;
        let response = client
            .post(url.clone())
            .header("content-type", "application/json")
            .header("beacon-delivery", delivery.to_string())
            .header("beacon-signature", signature(secret, Utc::now(), &body))
            .body(body)
            .send()
            .await
            .map_err(|e| format!("{url}: {e}"))?;
        Ok(response.status().as_u16())
    }

    /// Runs for the life of the server: every two seconds, the due destinations of every
    /// tenant that has any (tenants are looked up every 30 seconds, and when woken).
    pub async fn run(self) {
        let mut rounds = tokio::time::interval(ROUND_EVERY);
        rounds.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut streaming: Vec<Tenant> = Vec::new();
        let mut looked_up: Option<tokio::time::Instant> = None;
        loop {
            let woken = tokio::select! {
                _ = rounds.tick() => false,
                _ = self.wake.0.notified() => true,
            };
            if woken || looked_up.is_none_or(|at| at.elapsed() >= TENANTS_EVERY) {
                match self.streaming_tenants().await {
                    Ok(tenants) => streaming = tenants,
                    Err(e) => tracing::warn!(error = %e, "audit streams: could not list tenants"),
                }
                looked_up = Some(tokio::time::Instant::now());
            }
            for tenant in &streaming {
                if let Err(e) = self.deliver_due(tenant, Utc::now()).await {
                    tracing::warn!(tenant = %tenant.slug, error = %e, "audit streams: delivery round failed");
                }
            }
        }
    }

    async fn streaming_tenants(&self) -> AppResult<Vec<Tenant>> {
        let mut found = Vec::new();
        for tenant in tenancy::list(&self.db).await? {
            let has = self
                .db
                .with_tenant(&tenant, |conn| {
                    Box::pin(async move { destinations::any(conn).await.map_err(AppError::from) })
                })
                .await;
            if has.unwrap_or(false) {
                found.push(tenant);
            }
        }
        Ok(found)
    }
}

enum Batch {
    /// Nothing new since the last confirmed position.
    Nothing,
    /// Another sender holds the destination, or it is not due.
    Taken,
    Confirmed {
        events: usize,
        full: bool,
    },
    Failed,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_ten_minutes() {
        let seconds: Vec<i64> = [1, 2, 3, 9, 10, 40].into_iter().map(|f| backoff(f).num_seconds()).collect();
        assert_eq!(seconds, vec![2, 4, 8, 512, 600, 600]);
    }

    #[test]
    fn the_signature_covers_time_and_body() {
        let at = DateTime::from_timestamp(1_764_000_000, 0).unwrap();
        let sig = signature(b"secret", at, b"{}");
        assert!(sig.starts_with("t=1764000000,v1="), "{sig}");
        assert_eq!(sig.len(), "t=1764000000,v1=".len() + 64);
        assert_ne!(sig, signature(b"secret", at, b"{ }"));
        assert_ne!(sig, signature(b"other", at, b"{}"));
        assert_ne!(sig, signature(b"secret", at + chrono::Duration::seconds(1), b"{}"));
    }
}
