//! Plain least-recently-used eviction under a byte budget: the memory tier's reference policy
//! (`memory_policy = "lru"`), kept so the default policy's benefit can be measured on the same code path.
//!
//! The `lru` crate orders entries but counts them, not bytes; this wrapper sums their weights and pops the
//! least recently used until the sum fits the budget again.

use std::sync::Mutex;

use lru::LruCache;

use super::hot::{Evicted, HotObject, weight};
use crate::lock;

/// Objects under a byte budget, the least recently read evicted first.
#[derive(Debug)]
pub struct ByteLru {
    inner: Mutex<Inner>,
}

#[derive(Debug)]
struct Inner {
    entries: LruCache<String, HotObject>,
    bytes: u64,
    budget: u64,
}

impl Inner {
    /// Pops the least recently used entries until the sum fits the budget; returns them.
    fn fit(&mut self) -> Vec<Evicted> {
        let mut evicted = Vec::new();
        while self.bytes > self.budget {
            let Some((key, object)) = self.entries.pop_lru() else {
                break;
            };
            self.bytes -= weight(&key, &object);
            evicted.push((key, object));
        }
        evicted
    }
}

impl ByteLru {
    /// An empty cache that never holds more than `budget` bytes.
    pub fn new(budget: u64) -> Self {
        ByteLru {
            inner: Mutex::new(Inner {
                entries: LruCache::unbounded(),
                bytes: 0,
                budget,
            }),
        }
    }

    /// The object under `key`, marked most recently used.
    pub fn get(&self, key: &str) -> Option<HotObject> {
        lock(&self.inner).entries.get(key).cloned()
    }

    /// Keeps `object` under `key` as the most recently used, replacing any older version; returns the
    /// objects evicted to stay within the budget (possibly `object` itself if it alone exceeds it).
    pub fn insert(&self, key: String, object: HotObject) -> Vec<Evicted> {
        let mut inner = lock(&self.inner);
        inner.bytes += weight(&key, &object);
        if let Some((old_key, old)) = inner.entries.push(key, object) {
            inner.bytes -= weight(&old_key, &old);
        }
        inner.fit()
    }

    /// Changes the budget; returns what no longer fits, least recently used first.
    pub fn set_budget(&self, budget: u64) -> Vec<Evicted> {
        let mut inner = lock(&self.inner);
        inner.budget = budget;
        inner.fit()
    }

    /// Forgets `key`.
    pub fn remove(&self, key: &str) {
        let mut inner = lock(&self.inner);
        if let Some(object) = inner.entries.pop(key) {
            inner.bytes -= weight(key, &object);
        }
    }

    /// Bytes held, entry overhead included.
    pub fn bytes(&self) -> u64 {
        lock(&self.inner).bytes
    }

    /// Objects held.
    pub fn objects(&self) -> usize {
        lock(&self.inner).entries.len()
    }
}
