//! Values a server keeps in memory per tenant (discovery indexes, semantic search indexes) for
//! the `TENANTS_KEPT` tenants that used one last: they can be large, and tenants are many.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

/// Tenants whose value a server keeps.
const TENANTS_KEPT: usize = 8;

/// Per tenant schema: the value and when it was last used.
type Kept<T> = HashMap<String, (Arc<T>, Instant)>;

/// Values kept per tenant; cheap to clone.
pub struct KeptPerTenant<T>(Arc<Mutex<Kept<T>>>);

impl<T> Clone for KeptPerTenant<T> {
    fn clone(&self) -> Self {
        Self(self.0.clone())
    }
}

impl<T> Default for KeptPerTenant<T> {
    fn default() -> Self {
        Self(Arc::default())
    }
}

impl<T> KeptPerTenant<T> {
    /// The value kept for `schema` if `usable` accepts it, marked as used now.
    pub fn usable(&self, schema: &str, usable: impl FnOnce(&T) -> bool) -> Option<Arc<T>> {
        let mut kept = self.lock();
        let (value, used) = kept.get_mut(schema).filter(|(value, _)| usable(value))?;
        *used = Instant::now();
        Some(value.clone())
    }

    /// The value kept for `schema`, current or not (a rebuild may start from it).
    pub fn kept(&self, schema: &str) -> Option<Arc<T>> {
        self.lock().get(schema).map(|(value, _)| value.clone())
    }

    /// Keeps `value` for `schema` unless the value kept there is one `replaces` refuses (a
    /// newer one built meanwhile), then forgets the tenants used longest ago.
    pub fn keep(&self, schema: &str, value: Arc<T>, replaces: impl FnOnce(&T) -> bool) {
        let mut kept = self.lock();
        if kept.get(schema).is_none_or(|(old, _)| replaces(old)) {
            kept.insert(schema.to_owned(), (value, Instant::now()));
        }
        while kept.len() > TENANTS_KEPT {
            let oldest = kept.iter().min_by_key(|(_, (_, used))| *used).map(|(schema, _)| schema.clone());
            kept.remove(&oldest.expect("the map is not empty"));
        }
    }

    fn lock(&self) -> MutexGuard<'_, Kept<T>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}
