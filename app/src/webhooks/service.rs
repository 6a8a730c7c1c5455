//! Managing webhooks (admins): add, remove, turn on and off, send a delivery again, send a
//! test event, and the overview Settings → Webhooks shows. Each change is audited.

use std::collections::HashMap;

use chrono::{SubsecRound, Utc};
use serde_json::json;
use uuid::Uuid;

use super::model::{AttemptView, DeliveryView, NewSecret, WebhookView, KINDS, PING};
use super::repo::{self, WebhookRow};
use super::sender::{body, seal_secret};
use super::signature;
use crate::audit::model::AuditAction;
use crate::audit::service::{record, AuditEvent, AuditSource};
use crate::db::Database;
use crate::error::{AppError, AppResult};
use crate::fetch::{self, FetchPolicy};
use crate::keyring::{Keyring, Sealed};
use crate::tenancy::model::Tenant;

/// Deliveries shown per webhook.
const RECENT_DELIVERIES: i64 = 10;
/// How long finished deliveries stay in the log.
const LOG_DAYS: i64 = 30;
const MAX_WEBHOOKS: i64 = 50;

/// A webhook as an admin asks for it.
pub struct NewWebhook<'a> {
    pub name: &'a str,
    pub url: &'a str,
    pub kinds: &'a [String],
}

/// Adds a webhook; its signing secret is returned once.
pub async fn add(
    db: &Database,
    keyring: &Keyring,
    policy: &FetchPolicy,
    tenant: &Tenant,
    source: AuditSource,
    NewWebhook { name, url, kinds }: NewWebhook<'_>,
) -> AppResult<NewSecret> {
    let name = name.trim().to_owned();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(AppError::invalid("Give the webhook a name of at most 100 characters."));
    }
    let url = fetch::outbound_url(policy, url).map_err(AppError::invalid)?;
    let mut kinds: Vec<String> = kinds.iter().map(|k| k.trim().to_owned()).collect();
    kinds.sort();
    kinds.dedup();
    if kinds.is_empty() {
        return Err(AppError::invalid("Choose at least one kind of event to send."));
    }
    if let Some(unknown) = kinds.iter().find(|k| !KINDS.iter().any(|(known, _)| known == k)) {
        return Err(AppError::invalid(format!("`{unknown}` is not a kind of event a webhook can receive.")));
    }
    let id = Uuid::new_v4();
    let secret = signature::new_secret();
    let Sealed { key_id, bytes } = seal_secret(keyring, id, &secret)?;
    let row = WebhookRow {
        id,
        name: name.clone(),
        url: url.to_string(),
        kinds,
        secret: bytes,
        secret_key_id: key_id,
        enabled: true,
        disabled_reason: None,
        failing_since: None,
        created_at: Utc::now().trunc_subsecs(6),
        created_by: source.actor.clone(),
    };
    db.with_tenant(tenant, move |conn| {
        Box::pin(async move {
            if repo::count(conn).await? >= MAX_WEBHOOKS {
                return Err(AppError::invalid(format!("A tenant has at most {MAX_WEBHOOKS} webhooks.")));
            }
            repo::insert(conn, &row).await?;
            let event = AuditEvent::success(AuditAction::WebhookAdded, row.name.clone())
                .details(json!({ "id": row.id, "url": row.url, "kinds": row.kinds }));
            record(conn, &source, event).await
        })
    })
    .await?;
    Ok(NewSecret { name, secret })
}

pub async fn remove(db: &Database, tenant: &Tenant, source: AuditSource, id: Uuid) -> AppResult<()> {
    db.with_tenant(tenant, move |conn| {
        Box::pin(async move {
            let name =
                repo::delete(conn, id).await?.ok_or_else(|| AppError::not_found("No such webhook in this tenant."))?;
            record(conn, &source, AuditEvent::success(AuditAction::WebhookRemoved, name).details(json!({ "id": id })))
                .await
        })
    })
    .await
}

/// Turns a webhook on or off. Turned on again, it sends what waited and starts a new streak.
pub async fn set_enabled(
    db: &Database,
    tenant: &Tenant,
    source: AuditSource,
    id: Uuid,
    enabled: bool,
) -> AppResult<()> {
    db.with_tenant(tenant, move |conn| {
        Box::pin(async move {
            let name = repo::set_enabled(conn, id, enabled)
                .await?
                .ok_or_else(|| AppError::not_found("No such webhook in this tenant."))?;
            let event =
                AuditEvent::success(AuditAction::WebhookChanged, name).details(json!({ "id": id, "enabled": enabled }));
            record(conn, &source, event).await
        })
    })
    .await
}

/// Sends a delivery again now (with the same `webhook-id`: receivers that processed it
/// already can tell), retried for another day if it fails.
pub async fn redeliver(db: &Database, tenant: &Tenant, source: AuditSource, delivery: Uuid) -> AppResult<()> {
    db.with_tenant(tenant, move |conn| {
        Box::pin(async move {
            let (kind, name) = repo::requeue(conn, delivery, Utc::now())
                .await?
                .ok_or_else(|| AppError::not_found("No such delivery in this tenant."))?;
            let event = AuditEvent::success(AuditAction::WebhookRedelivered, name)
                .details(json!({ "delivery": delivery, "kind": kind }));
            record(conn, &source, event).await
        })
    })
    .await
}

/// Queues a `webhook:ping` for one webhook, to try the receiver.
pub async fn ping(db: &Database, tenant: &Tenant, source: AuditSource, webhook: Uuid) -> AppResult<()> {
    db.with_tenant(tenant, move |conn| {
        Box::pin(async move {
            let row = repo::find(conn, webhook)
                .await?
                .ok_or_else(|| AppError::not_found("No such webhook in this tenant."))?;
            let payload = json!({ "webhook": row.name, "sent_by": source.actor });
            let delivery = repo::queue(conn, webhook, PING, payload, Utc::now()).await?;
            let event = AuditEvent::success(AuditAction::WebhookRedelivered, row.name)
                .details(json!({ "delivery": delivery, "kind": PING }));
            record(conn, &source, event).await
        })
    })
    .await
}

/// Every webhook with its newest deliveries and their attempts.
pub async fn overview(db: &Database, tenant: &Tenant) -> AppResult<Vec<WebhookView>> {
    db.with_tenant(tenant, |conn| {
        Box::pin(async move {
            let pending: HashMap<Uuid, i64> = repo::pending(conn).await?.into_iter().collect();
            let mut views = Vec::new();
            for row in repo::list(conn).await? {
                let deliveries = repo::recent_deliveries(conn, row.id, RECENT_DELIVERIES).await?;
                let ids: Vec<Uuid> = deliveries.iter().map(|d| d.id).collect();
                let mut attempts: HashMap<Uuid, Vec<AttemptView>> = HashMap::new();
                for a in repo::attempts_of(conn, &ids).await? {
                    let request_headers = serde_json::from_value(a.request_headers).unwrap_or_default();
                    attempts.entry(a.delivery_id).or_default().push(AttemptView {
                        attempted_at: a.attempted_at,
                        request_headers,
                        status: a.status,
                        response_body: a.response_body,
                        error: a.error,
                        duration_ms: a.duration_ms,
                    });
                }
                views.push(WebhookView {
                    pending: pending.get(&row.id).copied().unwrap_or(0),
                    deliveries: deliveries
                        .into_iter()
                        .map(|d| DeliveryView {
                            body: body(&d.kind, d.occurred_at, &d.payload),
                            log: attempts.remove(&d.id).unwrap_or_default(),
                            id: d.id,
                            kind: d.kind,
                            occurred_at: d.occurred_at,
                            attempts: d.attempts,
                            next_attempt_at: d.next_attempt_at,
                            delivered_at: d.delivered_at,
                            gave_up_at: d.gave_up_at,
                        })
                        .collect(),
                    id: row.id,
                    name: row.name,
                    url: row.url,
                    kinds: row.kinds,
                    enabled: row.enabled,
                    disabled_reason: row.disabled_reason,
                    failing_since: row.failing_since,
                    created_at: row.created_at,
                    created_by: row.created_by,
                })
            }
            Ok(views)
        })
    })
    .await
}

/// Deletes `tenant`'s finished deliveries older than the log keeps; returns how many.
pub async fn forget_old(db: &Database, tenant: &Tenant) -> AppResult<usize> {
    let before = Utc::now() - chrono::Duration::days(LOG_DAYS);
    db.with_tenant(tenant, move |conn| Box::pin(async move { repo::prune(conn, before).await.map_err(AppError::from) }))
        .await
}
