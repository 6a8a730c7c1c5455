//! Counts and facets of catalog views, cached per tenant and catalog version. Every write
//! bumps the version in the database, so an entry is never served after a change, on any
//! server instance. Views the in-memory facet index answers (`facet_index`) are counted there
//! instead, which a write does not throw away; served documents are kept by etag
//! (`kept_documents`). One cache per app (it lives in `AppState`): two
//! apps in one process, as in the tests, never share entries.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use super::facet_index::FacetIndexes;
use super::kept_documents::KeptDocuments;
use crate::tenancy::model::TenantId;

/// Entries kept before the cache starts over (a view's entry is a few kilobytes).
const CAPACITY: usize = 2_000;

#[derive(Clone)]
pub enum Cached {
    Count(i64),
    /// The value counts of one path (`GET|POST /entity-facets`).
    FacetValues(Vec<(String, i64)>),
    Facets(Vec<(String, i64)>, Vec<(&'static str, Vec<(String, i64)>)>),
}

type Key = (TenantId, i64, String);

#[derive(Clone, Default)]
pub struct CatalogCache {
    entries: Arc<Mutex<HashMap<Key, Cached>>>,
    pub index: FacetIndexes,
    pub documents: KeptDocuments,
}

impl CatalogCache {
    fn lock(&self) -> MutexGuard<'_, HashMap<Key, Cached>> {
        self.entries.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn get(&self, tenant: TenantId, version: i64, key: &str) -> Option<Cached> {
        self.lock().get(&(tenant, version, key.to_owned())).cloned()
    }

    pub fn put(&self, tenant: TenantId, version: i64, key: String, value: Cached) {
        let mut entries = self.lock();
        if entries.len() >= CAPACITY {
            // Old versions are dead weight; dropping everything is simple and rare.
            entries.clear();
        }
        entries.insert((tenant, version, key), value);
    }
}
