//! The stored documents of entities a server served lately, by etag, so that a page of large
//! entities is read from PostgreSQL as ids and etags only.
//!
//! A page of 100 APIs is 1.76 MB of documents: PostgreSQL decompressing and sending them, and
//! the server receiving and checking them, was most of that page's time. An entity's etag is
//! new with every write of its document (`service::save`), so a document found by its etag is
//! the current one: nothing is ever invalidated, old etags just stop being asked for.
//!
//! Memory is bounded by bytes in two generations: documents go into the young one, and when it
//! holds half the budget the old one is dropped and the young one becomes old. A document
//! found in the old generation moves back to the young one, so what is read often stays.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use crate::tenancy::model::TenantId;

/// What the documents of one server may take: 64 MiB holds ~3,800 documents as large as the
/// bench's APIs (17 KB), or ~40,000 of a typical component's 1.6 KB.
const BUDGET_BYTES: usize = 64 << 20;

type Key = (TenantId, String);

#[derive(Default)]
struct Generations {
    young: HashMap<Key, Arc<str>>,
    young_bytes: usize,
    old: HashMap<Key, Arc<str>>,
}

/// Documents by (tenant, etag); cheap to clone.
#[derive(Clone)]
pub struct KeptDocuments {
    kept: Arc<Mutex<Generations>>,
    budget: usize,
}

impl Default for KeptDocuments {
    fn default() -> Self {
        Self::with_budget(BUDGET_BYTES)
    }
}

impl KeptDocuments {
    fn with_budget(budget: usize) -> Self {
        Self { kept: Arc::default(), budget }
    }

    fn lock(&self) -> MutexGuard<'_, Generations> {
        self.kept.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The kept document of each etag, `None` where this server has none.
    pub fn get_all<'a>(&self, tenant: TenantId, etags: impl Iterator<Item = &'a str>) -> Vec<Option<Arc<str>>> {
        let mut kept = self.lock();
        etags
            .map(|etag| {
                let key = (tenant, etag.to_owned());
                if let Some(document) = kept.young.get(&key) {
                    return Some(document.clone());
                }
                let document = kept.old.remove(&key)?;
                kept.insert(key, document.clone(), self.budget);
                Some(document)
            })
            .collect()
    }

    pub fn put(&self, tenant: TenantId, etag: String, document: Arc<str>) {
        self.lock().insert((tenant, etag), document, self.budget);
    }

    /// Bytes of documents kept (both generations).
    #[cfg(test)]
    fn bytes(&self) -> usize {
        let kept = self.lock();
        kept.young_bytes + kept.old.values().map(|d| d.len()).sum::<usize>()
    }
}

impl Generations {
    fn insert(&mut self, key: Key, document: Arc<str>, budget: usize) {
        // A document larger than a generation would only push out everything else.
        if document.len() > budget / 2 {
            return;
        }
        if self.young_bytes + document.len() > budget / 2 {
            self.old = std::mem::take(&mut self.young);
            self.young_bytes = 0;
        }
        self.young_bytes += document.len();
        if let Some(replaced) = self.young.insert(key, document) {
            self.young_bytes -= replaced.len();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_are_kept_by_tenant_and_etag_within_the_budget() {
        let (a, b) = (TenantId(1), TenantId(2));
        let kept = KeptDocuments::with_budget(1_000);
        let doc = |n: usize| -> Arc<str> { "x".repeat(n).into() };
        kept.put(a, "e1".into(), doc(100));
        assert_eq!(kept.get_all(a, ["e1", "e2"].into_iter()), vec![Some(doc(100)), None]);
        // Another tenant's etag never finds it.
        assert_eq!(kept.get_all(b, ["e1"].into_iter()), vec![None]);

        // Filling the young generation makes it the old one, where a document is still found
        // (and moved back); the next fill drops whatever was not asked for meanwhile.
        kept.put(a, "e2".into(), doc(300));
        kept.put(a, "e3".into(), doc(300));
        assert_eq!(kept.get_all(a, ["e1"].into_iter()), vec![Some(doc(100))]);
        kept.put(a, "e4".into(), doc(200));
        let found = kept.get_all(a, ["e1", "e2", "e3", "e4"].into_iter());
        assert_eq!(found.iter().map(Option::is_some).collect::<Vec<_>>(), [true, false, true, true]);
        assert_eq!(kept.bytes(), 600);

        // A document over half the budget is not kept at all.
        kept.put(a, "huge".into(), doc(501));
        assert_eq!(kept.get_all(a, ["huge"].into_iter()), vec![None]);
    }
}
