//! API keys verified in the last few seconds, kept in memory per server so a busy client's
//! requests skip the key's lookup transaction. Revoking a key, changing its scopes or expiry,
//! and any change to its owner's account or membership are announced by PostgreSQL (triggers
//! notify `beacon_catalog`, which `catalog::events` listens to) and forgotten here at once, on
//! every instance; entries also expire after [`LIFETIME`], in case an announcement was missed
//! while a listener reconnected. Secrets are never kept: entries are found by the secret's hash.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::service::Authenticated;
use crate::tenancy::model::TenantId;

pub const LIFETIME: Duration = Duration::from_secs(10);
/// Entries kept before the cache starts over (far more keys than one server sees in seconds).
const CAPACITY: usize = 10_000;

/// A presented key: the tenant, its lookup prefix, the hash of its secret, and the caller's
/// address (a key used from a new address is looked up again, so its last address is recorded).
pub type Presented = (TenantId, String, [u8; 32], Option<String>);

struct Verified {
    authenticated: Authenticated,
    key_id: Uuid,
    expires_at: Option<DateTime<Utc>>,
    at: Instant,
}

#[derive(Clone, Default)]
pub struct VerifiedKeys {
    inner: Arc<Mutex<Inner>>,
}

#[derive(Default)]
struct Inner {
    entries: HashMap<Presented, Verified>,
    /// Bumped by every forget: a key verified before a change is not kept after it.
    generation: u64,
}

impl VerifiedKeys {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn get(&self, presented: &Presented) -> Option<Authenticated> {
        let inner = self.lock();
        let verified = inner.entries.get(presented)?;
        let fresh = verified.at.elapsed() < LIFETIME && verified.expires_at.is_none_or(|at| at > Utc::now());
        fresh.then(|| verified.authenticated.clone())
    }

    /// Taken before the key is read from the database, handed back to [`Self::put`].
    pub fn generation(&self) -> u64 {
        self.lock().generation
    }

    /// Keeps a key verified at `generation`, unless a change was announced since.
    pub fn put(
        &self,
        generation: u64,
        presented: Presented,
        authenticated: Authenticated,
        key_id: Uuid,
        expires_at: Option<DateTime<Utc>>,
    ) {
        let mut inner = self.lock();
        if inner.generation != generation {
            return;
        }
        if inner.entries.len() >= CAPACITY {
            inner.entries.clear();
        }
        inner.entries.insert(presented, Verified { authenticated, key_id, expires_at, at: Instant::now() });
    }

    pub fn forget_key(&self, id: Uuid) {
        let mut inner = self.lock();
        inner.generation += 1;
        inner.entries.retain(|_, v| v.key_id != id);
    }

    /// Every key of this user, in every tenant (their account or a membership changed).
    pub fn forget_user(&self, user: Uuid) {
        let mut inner = self.lock();
        inner.generation += 1;
        inner.entries.retain(|_, v| v.authenticated.principal.user_id != user);
    }

    /// After announcements may have been missed (the listener reconnected).
    pub fn clear(&self) {
        let mut inner = self.lock();
        inner.generation += 1;
        inner.entries.clear();
    }
}
