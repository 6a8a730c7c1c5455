//! Sending deliveries: every server claims due deliveries of a tenant (`SKIP LOCKED` and a
//! lease, so each goes out from one server at a time), posts a few at once with no database
//! connection held while receivers answer, and records each attempt. A 2xx answer confirms a
//! delivery; anything else, or no answer within 10 s, is retried after 30 s, 1, 2, 4 …
//! minutes (at most an hour apart) for a day, then given up. A webhook failing for a day is
//! turned off and the admins are told (an audited `webhook.disabled`).

use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use futures_util::StreamExt;
use serde_json::{json, Value};

use super::repo::{self, AttemptRow, Claimed};
use super::signature;
use crate::audit::model::AuditAction;
use crate::audit::service::{record, AuditEvent, AuditSource};
use crate::db::Database;
use crate::error::{AppError, AppResult};
use crate::events::due::{backoff, DueTenants, GIVE_UP_AFTER, MAX_ERROR};
use crate::fetch::{self, FetchPolicy};
use crate::keyring::{Keyring, Purpose, Sealed};
use crate::tenancy::model::Tenant;

/// Deliveries one round claims for a tenant.
const BATCH: i64 = 20;
/// Posts in flight at once within a round.
const IN_FLIGHT: usize = 4;
/// How long a claimed delivery is this server's: far longer than one post can take.
const LEASE: chrono::Duration = chrono::Duration::seconds(120);
/// How long a delivery is retried (a redelivery starts another such period).
pub const RETRY_FOR: chrono::Duration = GIVE_UP_AFTER;
/// How long a webhook may fail without a success before it is turned off.
pub const DISABLE_AFTER: chrono::Duration = chrono::Duration::hours(24);
/// How often every tenant is looked at, for retries and deliveries a stopped server claimed.
const SWEEP_EVERY: Duration = Duration::from_secs(30);
/// How much of a receiver's answer the log keeps.
const RESPONSE_CAP: usize = 2048;
const USER_AGENT: &str = "Beacon-Webhooks/1";

/// The body of a delivery, the same at every attempt: Standard Webhooks' `type`, `timestamp`
/// (when the event happened) and `data` (the event's payload).
pub fn body(kind: &str, occurred_at: DateTime<Utc>, payload: &Value) -> String {
    json!({
        "type": kind,
        "timestamp": occurred_at.to_rfc3339_opts(SecondsFormat::Millis, true),
        "data": payload,
    })
    .to_string()
}

fn secret_context(id: uuid::Uuid) -> Vec<u8> {
    [b"webhook:".as_slice(), id.as_bytes()].concat()
}

/// Seals a new webhook's secret for storage: (key id, sealed bytes).
pub fn seal_secret(keyring: &Keyring, id: uuid::Uuid, secret: &str) -> AppResult<Sealed> {
    keyring.seal(Purpose::WebhookSecret, secret.as_bytes(), &secret_context(id))
}

#[derive(Clone)]
pub struct WebhookSender {
    pub db: Database,
    pub keyring: Keyring,
    pub policy: FetchPolicy,
    /// Rung by the listener (`beacon_webhooks`) and by admins' redeliveries.
    pub due: DueTenants,
}

impl WebhookSender {
    /// Sends deliveries as they are announced and sweeps every tenant; runs for ever.
    pub async fn run(self) {
        let due = self.due.clone();
        let round = |tenant: Tenant| {
            let sender = self.clone();
            async move { Ok(sender.deliver_due(&tenant, Utc::now()).await? as i64 == BATCH) }
        };
        due.serve(self.db.clone(), SWEEP_EVERY, "webhook sender", round).await
    }

    /// One round for one tenant: claims up to `BATCH` deliveries due at `now` and tries each
    /// once; returns how many it tried.
    pub async fn deliver_due(&self, tenant: &Tenant, now: DateTime<Utc>) -> AppResult<usize> {
        let claimed = self
            .db
            .with_tenant(tenant, move |conn| {
                Box::pin(async move { repo::claim(conn, now, now + LEASE, BATCH).await.map_err(AppError::from) })
            })
            .await?;
        let tried = claimed.len();
        let attempts = futures_util::stream::iter(claimed)
            .map(|claimed| async move {
                let attempt = self.attempt(&claimed).await;
                (claimed, attempt)
            })
            .buffer_unordered(IN_FLIGHT)
            .collect::<Vec<_>>()
            .await;
        for (claimed, attempt) in attempts {
            self.record(tenant, claimed, attempt, now).await?;
        }
        Ok(tried)
    }

    /// Signs and posts one delivery; what was sent and answered.
    async fn attempt(&self, claimed: &Claimed) -> AttemptRow {
        let started = std::time::Instant::now();
        let message_id = format!("msg_{}", claimed.id.simple());
        let attempted_at = Utc::now();
        let timestamp = attempted_at.timestamp();
        let body = body(&claimed.kind, claimed.occurred_at, &claimed.payload);
        let sealed = Sealed { key_id: claimed.secret_key_id.clone(), bytes: claimed.secret.clone() };
        let signed = self
            .keyring
            .open(Purpose::WebhookSecret, &sealed, &secret_context(claimed.webhook_id))
            .map_err(|e| e.to_string())
            .and_then(|secret| signature::key(&String::from_utf8_lossy(&secret)))
            .map(|key| signature::sign(&key, &message_id, timestamp, body.as_bytes()));
        let mut headers = vec![
            ("content-type", "application/json".to_owned()),
            ("user-agent", USER_AGENT.to_owned()),
            ("webhook-id", message_id),
            ("webhook-timestamp", timestamp.to_string()),
        ];
        let answer = match signed {
            Ok(signature) => {
                headers.push(("webhook-signature", signature));
                post(&self.policy, &claimed.url, &headers, body).await
            }
            Err(e) => Err(e),
        };
        let (status, response_body, error) = match answer {
            Ok((status, text)) if (200..300).contains(&status) => (Some(status as i16), Some(text), None),
            Ok((status, text)) => (Some(status as i16), Some(text), Some(format!("the receiver answered {status}"))),
            Err(e) => (None, None, Some(crate::escape::cut(&e, MAX_ERROR).to_owned())),
        };
        AttemptRow {
            delivery_id: claimed.id,
            attempted_at,
            request_headers: Value::Array(headers.into_iter().map(|(name, value)| json!([name, value])).collect()),
            status,
            response_body,
            error,
            duration_ms: started.elapsed().as_millis().min(i32::MAX as u128) as i32,
        }
    }

    /// Logs an attempt and moves its delivery on: done, due again later, or given up; turns
    /// the webhook off when it has failed for a day.
    async fn record(
        &self,
        tenant: &Tenant,
        claimed: Claimed,
        attempt: AttemptRow,
        now: DateTime<Utc>,
    ) -> AppResult<()> {
        self.db
            .with_tenant(tenant, move |conn| {
                Box::pin(async move {
                    repo::log_attempt(conn, &attempt).await?;
                    let Some(error) = &attempt.error else {
                        return repo::delivered(conn, &claimed, attempt.status.unwrap_or_default(), now)
                            .await
                            .map_err(AppError::from);
                    };
                    let retry_at = now + backoff(claimed.attempts + 1);
                    let (failing_since, enabled) =
                        repo::failed(conn, &claimed, attempt.status, error, retry_at, now).await?;
                    if !enabled || now - failing_since < DISABLE_AFTER {
                        return Ok(());
                    }
                    let reason = format!(
                        "Every delivery since {} failed; the last: {error}. Turn it on again when the receiver works.",
                        failing_since.format("%Y-%m-%d %H:%M UTC")
                    );
                    repo::disable(conn, claimed.webhook_id, &reason).await?;
                    let event = AuditEvent::failure(AuditAction::WebhookDisabled, claimed.name.clone())
                        .details(json!({ "url": claimed.url, "failing_since": failing_since, "reason": reason }));
                    record(conn, &AuditSource::system(), event).await
                })
            })
            .await
    }
}

/// Posts `body` to `url` through the SSRF-guarded client: the status and the start of the
/// answer, or why there was none.
async fn post(
    policy: &FetchPolicy,
    url: &str,
    headers: &[(&str, String)],
    body: String,
) -> Result<(u16, String), String> {
    let url = fetch::parse(url)?;
    let client = fetch::pinned_client(policy, &url, USER_AGENT).await?;
    let mut request = client.post(url.clone()).body(body);
    for (name, value) in headers {
        request = request.header(*name, value);
    }
    let mut response = request.send().await.map_err(|e| format!("{url}: {e}"))?;
    let status = response.status().as_u16();
    let mut answer = Vec::new();
    while answer.len() < RESPONSE_CAP {
        match response.chunk().await {
            Ok(Some(chunk)) => answer.extend_from_slice(&chunk),
            Ok(None) | Err(_) => break,
        }
    }
    answer.truncate(RESPONSE_CAP);
    Ok((status, String::from_utf8_lossy(&answer).into_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_body_is_the_same_at_every_attempt() {
        let at = DateTime::parse_from_rfc3339("2026-12-05T10:00:00.5Z").unwrap().to_utc();
        let payload = json!({ "id": 7, "action": "user.invited" });
        let body = body("audit:recorded", at, &payload);
        assert_eq!(
            body,
            r#"{"data":{"action":"user.invited","id":7},"timestamp":"2026-12-05T10:00:00.500Z","type":"audit:recorded"}"#
        );
    }
}
