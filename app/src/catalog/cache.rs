//! Counts and facets of catalog views, cached per tenant and catalog version. Every write
//! bumps the version in the database, so an entry is never served after a change, on any
//! server instance.

use std::collections::HashMap;
use std::sync::{LazyLock, Mutex};

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

static CACHE: LazyLock<Mutex<HashMap<Key, Cached>>> = LazyLock::new(Default::default);

pub fn get(tenant: TenantId, version: i64, key: &str) -> Option<Cached> {
    CACHE.lock().unwrap_or_else(|p| p.into_inner()).get(&(tenant, version, key.to_owned())).cloned()
}

pub fn put(tenant: TenantId, version: i64, key: String, value: Cached) {
    let mut cache = CACHE.lock().unwrap_or_else(|p| p.into_inner());
    if cache.len() >= CAPACITY {
        // Old versions are dead weight; dropping everything is simple and rare.
        cache.clear();
    }
    cache.insert((tenant, version, key), value);
}
