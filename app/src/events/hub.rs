//! This server's side of the bus: one bounded channel per tenant with open sockets, so a
//! tenant that publishes a flood fills only its own channel (its slow sockets are dropped, see
//! `rest::events`), never another tenant's; and the count of open sockets, capped per caller
//! and per tenant.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use serde_json::Value;
use tokio::sync::broadcast;
use uuid::Uuid;

use super::bus::Audience;
use super::model::LiveMessage;
use crate::tenancy::model::SchemaName;

/// Events a tenant's channel holds for its slowest socket; a socket further behind is dropped.
const TENANT_CHANNEL: usize = 1024;
/// Open sockets one caller (a member, a key) may have: enough for many tabs.
pub const SOCKETS_PER_CALLER: usize = 32;
/// Open sockets one tenant may have on this server.
pub const SOCKETS_PER_TENANT: usize = 5000;

/// An event as heard from PostgreSQL (or a catalog version notice), ready for the sockets.
#[derive(Debug)]
pub struct Announced {
    pub id: Option<i64>,
    pub kind: String,
    pub audience: Audience,
    pub payload: Value,
}

impl Announced {
    pub fn message(&self) -> LiveMessage {
        LiveMessage { id: self.id, kind: self.kind.clone(), payload: self.payload.clone() }
    }
}

#[derive(Clone)]
pub struct EventHub(Arc<Inner>);

struct Inner {
    tenants: Mutex<HashMap<String, broadcast::Sender<Arc<Announced>>>>,
    /// Ids of users and API keys that changed (deactivated, revoked, role changed): their
    /// sockets close, and the reconnect is authorized afresh.
    revoked: broadcast::Sender<Uuid>,
    open: Mutex<HashMap<String, usize>>,
    active: AtomicUsize,
}

impl Default for EventHub {
    fn default() -> Self {
        Self(Arc::new(Inner {
            tenants: Mutex::default(),
            revoked: broadcast::channel(256).0,
            open: Mutex::default(),
            active: AtomicUsize::new(0),
        }))
    }
}

impl EventHub {
    /// Everything announced for `schema` from now on.
    pub fn subscribe(&self, schema: &SchemaName) -> broadcast::Receiver<Arc<Announced>> {
        let mut tenants = self.0.tenants.lock().unwrap_or_else(|p| p.into_inner());
        tenants.entry(schema.as_str().to_owned()).or_insert_with(|| broadcast::channel(TENANT_CHANNEL).0).subscribe()
    }

    /// Hands `event` to the sockets of `schema` on this server, if any are open.
    pub fn deliver(&self, schema: &str, event: Announced) {
        let mut tenants = self.0.tenants.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(sender) = tenants.get(schema) {
            if sender.send(Arc::new(event)).is_err() {
                // Nobody listens any more: forget the channel until someone subscribes again.
                tenants.remove(schema);
            }
        }
    }

    pub fn revoke(&self, user_or_key: Uuid) {
        let _ = self.0.revoked.send(user_or_key);
    }

    pub fn revocations(&self) -> broadcast::Receiver<Uuid> {
        self.0.revoked.subscribe()
    }

    /// A place for one more socket of `caller` in `tenant`, or `None` past either cap.
    pub fn admit(&self, tenant: &SchemaName, caller: &str) -> Option<SocketPermit> {
        let keys = [tenant.as_str().to_owned(), format!("{}/{caller}", tenant.as_str())];
        let mut open = self.0.open.lock().unwrap_or_else(|p| p.into_inner());
        let (in_tenant, of_caller) = (open.get(&keys[0]).copied(), open.get(&keys[1]).copied());
        if in_tenant.unwrap_or(0) >= SOCKETS_PER_TENANT || of_caller.unwrap_or(0) >= SOCKETS_PER_CALLER {
            return None;
        }
        for key in &keys {
            *open.entry(key.clone()).or_default() += 1;
        }
        self.0.active.fetch_add(1, Ordering::Relaxed);
        Some(SocketPermit { hub: self.clone(), keys })
    }

    /// Open sockets on this server, for `websocket_connections_active`.
    pub fn active_sockets(&self) -> usize {
        self.0.active.load(Ordering::Relaxed)
    }
}

/// Holds a socket's place; given back when the socket ends.
pub struct SocketPermit {
    hub: EventHub,
    keys: [String; 2],
}

impl Drop for SocketPermit {
    fn drop(&mut self) {
        let mut open = self.hub.0.open.lock().unwrap_or_else(|p| p.into_inner());
        for key in &self.keys {
            if let Some(count) = open.get_mut(key) {
                *count -= 1;
                if *count == 0 {
                    open.remove(key);
                }
            }
        }
        self.hub.0.active.fetch_sub(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::permission::Action;

    fn notice(version: i64) -> Announced {
        Announced {
            id: None,
            kind: "catalog:updated".into(),
            audience: Audience::Permitted(Action::CatalogRead),
            payload: serde_json::json!({ "version": version }),
        }
    }

    #[test]
    fn a_tenant_hears_only_its_own_events() {
        let hub = EventHub::default();
        let (a, b) = (SchemaName::parse("tenant_1").unwrap(), SchemaName::parse("tenant_2").unwrap());
        let (mut on_a, mut on_b) = (hub.subscribe(&a), hub.subscribe(&b));
        hub.deliver("tenant_1", notice(7));
        assert_eq!(on_a.try_recv().unwrap().payload["version"], 7);
        assert!(on_b.try_recv().is_err());
    }

    #[test]
    fn a_flood_in_one_tenant_lags_only_its_own_sockets() {
        let hub = EventHub::default();
        let (a, b) = (SchemaName::parse("tenant_1").unwrap(), SchemaName::parse("tenant_2").unwrap());
        let (mut on_a, mut on_b) = (hub.subscribe(&a), hub.subscribe(&b));
        for version in 0..(TENANT_CHANNEL as i64 + 10) {
            hub.deliver("tenant_1", notice(version));
        }
        hub.deliver("tenant_2", notice(1));
        assert!(matches!(on_a.try_recv(), Err(broadcast::error::TryRecvError::Lagged(_))));
        assert_eq!(on_b.try_recv().unwrap().payload["version"], 1);
    }

    #[test]
    fn sockets_are_capped_per_caller_and_counted_until_they_close() {
        let hub = EventHub::default();
        let tenant = SchemaName::parse("tenant_1").unwrap();
        let permits: Vec<_> = (0..SOCKETS_PER_CALLER).map(|_| hub.admit(&tenant, "user:a").unwrap()).collect();
        assert!(hub.admit(&tenant, "user:a").is_none(), "one caller cannot hold more");
        let other = hub.admit(&tenant, "user:b").expect("another caller still can");
        assert_eq!(hub.active_sockets(), SOCKETS_PER_CALLER + 1);
        drop(permits);
        drop(other);
        assert_eq!(hub.active_sockets(), 0);
        assert!(hub.admit(&tenant, "user:a").is_some());
    }
}
