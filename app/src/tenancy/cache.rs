//! The tenant rows the edge reads on every request, kept in memory per server so a request
//! costs no transaction to find its tenant. A change to a row (suspend, resume, plan,
//! allowlist, policies) is forgotten here at once by the service that made it, and on every
//! other instance when PostgreSQL announces it (a trigger on `control.tenants` notifies
//! `beacon_catalog`, which `catalog::events` listens to). Entries also expire after
//! [`LIFETIME`], in case an announcement was missed while a listener reconnected.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use super::model::{Tenant, TenantId};

pub const LIFETIME: Duration = Duration::from_secs(30);

#[derive(Clone, Default)]
pub struct TenantCache {
    inner: Arc<Mutex<Inner>>,
}

#[derive(Default)]
struct Inner {
    by_slug: HashMap<String, (Tenant, Instant)>,
    /// Bumped by every forget: a row read before a change is not stored after it.
    generation: u64,
}

impl TenantCache {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn get(&self, slug: &str) -> Option<Tenant> {
        let inner = self.lock();
        inner.by_slug.get(slug).filter(|(_, at)| at.elapsed() < LIFETIME).map(|(tenant, _)| tenant.clone())
    }

    /// Taken before reading a row from the database, handed back to [`Self::put`].
    pub fn generation(&self) -> u64 {
        self.lock().generation
    }

    /// Keeps a row read at `generation`, unless a change was announced since.
    pub fn put(&self, generation: u64, tenant: Tenant) {
        let mut inner = self.lock();
        if inner.generation == generation {
            inner.by_slug.insert(tenant.slug.to_string(), (tenant, Instant::now()));
        }
    }

    pub fn forget(&self, id: TenantId) {
        let mut inner = self.lock();
        inner.generation += 1;
        inner.by_slug.retain(|_, (tenant, _)| tenant.id != id);
    }

    /// After announcements may have been missed (the listener reconnected).
    pub fn clear(&self) {
        let mut inner = self.lock();
        inner.generation += 1;
        inner.by_slug.clear();
    }
}
