//! One LISTEN connection per server, hearing what PostgreSQL announces when a transaction
//! commits, on these channels:
//! - `beacon_events`: the tenant's published events (`bus::publish`), whole, for the sockets;
//! - `beacon_mail` and `beacon_webhooks`: a tenant's schema, which has notification mail or
//!   webhook deliveries to send (`notifications::mail`, `webhooks::sender`);
//! - `beacon_catalog`, from triggers: a tenant's new catalog version (`tenant_<id>:<version>`,
//!   which becomes a `catalog:updated` notice), and changed tenant rows (`tenant:<id>`), API keys
//!   (`key:<id>`) and user accounts or memberships (`user:<id>`), which this server drops from
//!   its tenant cache and verified keys, and whose open sockets it closes.
//!
//! Several server instances all hear every announcement.

use std::time::Duration;

use diesel_async::{AsyncConnection, AsyncPgConnection, SimpleAsyncConnection};
use futures_util::StreamExt;
use serde::Deserialize;
use serde_json::json;

use super::bus::Audience;
use super::due::DueTenants;
use super::hub::{Announced, EventHub};
use super::repo::EventRow;
use crate::access::verified::VerifiedKeys;
use crate::auth::permission::Action;
use crate::tenancy::cache::TenantCache;
use crate::tenancy::model::TenantId;

pub const CATALOG_CHANNEL: &str = "beacon_catalog";
pub const EVENTS_CHANNEL: &str = "beacon_events";
pub const MAIL_CHANNEL: &str = "beacon_mail";
pub const WEBHOOKS_CHANNEL: &str = "beacon_webhooks";
/// A brief was queued in the tenant whose schema is the payload (`briefs::generator`).
pub const BRIEFS_CHANNEL: &str = "beacon_briefs";

/// The workers rung when a tenant has outgoing work.
#[derive(Clone)]
pub struct Outboxes {
    pub mail: DueTenants,
    pub webhooks: DueTenants,
    pub briefs: DueTenants,
}

/// Starts listening (and keeps reconnecting) in the background.
pub fn listen(database_url: String, hub: EventHub, outboxes: Outboxes, tenants: TenantCache, keys: VerifiedKeys) {
    tokio::spawn(async move {
        loop {
            if let Err(e) = forward(&database_url, &hub, &outboxes, &tenants, &keys).await {
                tracing::warn!(error = %e, "event listener lost its connection; reconnecting");
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    });
}

/// What the `events` table's trigger announces: the row and its tenant's schema.
#[derive(Deserialize)]
struct Published {
    schema: String,
    #[serde(flatten)]
    row: EventRow,
}

async fn forward(
    database_url: &str,
    hub: &EventHub,
    outboxes: &Outboxes,
    tenants: &TenantCache,
    keys: &VerifiedKeys,
) -> Result<(), String> {
    let mut conn = AsyncPgConnection::establish(database_url).await.map_err(|e| e.to_string())?;
    let listen =
        format!("LISTEN {CATALOG_CHANNEL}; LISTEN {EVENTS_CHANNEL}; LISTEN {MAIL_CHANNEL}; LISTEN {WEBHOOKS_CHANNEL}; LISTEN {BRIEFS_CHANNEL}");
    conn.batch_execute(&listen).await.map_err(|e| e.to_string())?;
    // Changes made while no one was listening were not heard: start the cache afresh.
    tenants.clear();
    keys.clear();
    let mut notifications = std::pin::pin!(conn.notifications_stream());
    while let Some(notification) = notifications.next().await {
        let notification = notification.map_err(|e| e.to_string())?;
        if notification.channel == MAIL_CHANNEL {
            outboxes.mail.ring(&notification.payload);
            continue;
        }
        if notification.channel == WEBHOOKS_CHANNEL {
            outboxes.webhooks.ring(&notification.payload);
            continue;
        }
        if notification.channel == BRIEFS_CHANNEL {
            outboxes.briefs.ring(&notification.payload);
            continue;
        }
        if notification.channel == EVENTS_CHANNEL {
            match serde_json::from_str::<Published>(&notification.payload) {
                Ok(published) => deliver(hub, published),
                Err(e) => tracing::warn!(error = %e, "an announced event that does not parse"),
            }
            continue;
        }
        let Some((subject, value)) = notification.payload.rsplit_once(':') else { continue };
        match subject {
            "tenant" => value.parse().into_iter().for_each(|id| tenants.forget(TenantId(id))),
            "key" | "user" => {
                let Ok(id) = uuid::Uuid::parse_str(value) else { continue };
                match subject {
                    "key" => keys.forget_key(id),
                    _ => keys.forget_user(id),
                }
                hub.revoke(id);
            }
            schema => {
                if let Ok(version) = value.parse::<i64>() {
                    let notice = Announced {
                        id: None,
                        kind: "catalog:updated".into(),
                        audience: Audience::Permitted(Action::CatalogRead),
                        payload: json!({ "version": version }),
                    };
                    hub.deliver(schema, notice);
                }
            }
        }
    }
    Err("notification stream ended".into())
}

fn deliver(hub: &EventHub, Published { schema, row }: Published) {
    let kind = row.kind.clone();
    match row.announced() {
        Some(event) => hub.deliver(&schema, event),
        None => tracing::warn!(kind, "an announced event with no audience; not delivered"),
    }
}
