//! Live catalog updates: every committed catalog write is announced by PostgreSQL (NOTIFY in
//! the writing transaction), heard on one LISTEN connection per server, and fanned out to the
//! browsers of the tenant it belongs to. Several server instances all hear every write. The
//! same channel announces changed tenant rows (`tenant:<id>`), API keys (`key:<id>`) and user
//! accounts or memberships (`user:<id>`), all from triggers, which the listener drops from this
//! server's tenant cache and verified keys.

use std::time::Duration;

use diesel_async::{AsyncConnection, AsyncPgConnection, SimpleAsyncConnection};
use futures_util::StreamExt;
use tokio::sync::broadcast;

use crate::access::verified::VerifiedKeys;
use crate::tenancy::cache::TenantCache;
use crate::tenancy::model::{SchemaName, TenantId};

pub const CHANNEL: &str = "beacon_catalog";

/// A catalog change: which tenant schema, and its new catalog version.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CatalogChanged {
    pub schema: String,
    pub version: i64,
}

/// Subscribers get every change and keep those of their own tenant.
#[derive(Clone)]
pub struct CatalogEvents {
    sender: broadcast::Sender<CatalogChanged>,
}

impl CatalogEvents {
    /// Starts listening (and keeps reconnecting) in the background.
    pub fn listen(database_url: String, tenants: TenantCache, keys: VerifiedKeys) -> Self {
        let (sender, _) = broadcast::channel(256);
        let events = Self { sender: sender.clone() };
        tokio::spawn(async move {
            loop {
                if let Err(e) = forward(&database_url, &sender, &tenants, &keys).await {
                    tracing::warn!(error = %e, "catalog event listener lost its connection; reconnecting");
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        });
        events
    }

    pub fn subscribe(&self) -> broadcast::Receiver<CatalogChanged> {
        self.sender.subscribe()
    }
}

impl CatalogChanged {
    pub fn concerns(&self, schema: &SchemaName) -> bool {
        self.schema == schema.as_str()
    }
}

async fn forward(
    database_url: &str,
    sender: &broadcast::Sender<CatalogChanged>,
    tenants: &TenantCache,
    keys: &VerifiedKeys,
) -> Result<(), String> {
    let mut conn = AsyncPgConnection::establish(database_url).await.map_err(|e| e.to_string())?;
    conn.batch_execute(&format!("LISTEN {CHANNEL}")).await.map_err(|e| e.to_string())?;
    // Changes made while no one was listening were not heard: start the cache afresh.
    tenants.clear();
    keys.clear();
    let mut notifications = std::pin::pin!(conn.notifications_stream());
    while let Some(notification) = notifications.next().await {
        let notification = notification.map_err(|e| e.to_string())?;
        let Some((subject, value)) = notification.payload.rsplit_once(':') else { continue };
        match subject {
            "tenant" => value.parse().into_iter().for_each(|id| tenants.forget(TenantId(id))),
            "key" => uuid::Uuid::parse_str(value).into_iter().for_each(|id| keys.forget_key(id)),
            "user" => uuid::Uuid::parse_str(value).into_iter().for_each(|id| keys.forget_user(id)),
            schema => {
                if let Ok(version) = value.parse() {
                    // No receivers is fine: nobody is watching right now.
                    let _ = sender.send(CatalogChanged { schema: schema.to_owned(), version });
                }
            }
        }
    }
    Err("notification stream ended".into())
}
