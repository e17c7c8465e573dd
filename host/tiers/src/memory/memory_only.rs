//! Memory-only objects (placement `memory`) held apart from the cache of disk objects' copies: each is the
//! only copy, so a stream of copies read in from disk must never push one out. They leave, oldest first,
//! only to make room for another memory-only object, or when deleted or expired.

use lru::LruCache;

use super::hot::{Evicted, HotObject, weight};

/// Memory-only objects in the order they were written, with their total weight.
#[derive(Debug)]
pub struct MemoryOnly {
    entries: LruCache<String, HotObject>,
    bytes: u64,
}

impl MemoryOnly {
    /// An empty set.
    pub fn new() -> Self {
        MemoryOnly {
            entries: LruCache::unbounded(),
            bytes: 0,
        }
    }

    /// The object under `key`; reading it does not change its age.
    pub fn get(&self, key: &str) -> Option<HotObject> {
        self.entries.peek(key).cloned()
    }

    /// Adds `object` as the newest, replacing any older version of `key`.
    pub fn push(&mut self, key: String, object: HotObject) {
        self.bytes += weight(&key, &object);
        if let Some((old_key, old)) = self.entries.push(key, object) {
            self.bytes -= weight(&old_key, &old);
        }
    }

    /// Removes and returns the oldest object.
    pub fn pop_oldest(&mut self) -> Option<Evicted> {
        let (key, object) = self.entries.pop_lru()?;
        self.bytes -= weight(&key, &object);
        Some((key, object))
    }

    /// Forgets `key`; `false` if it was not here.
    pub fn remove(&mut self, key: &str) -> bool {
        match self.entries.pop(key) {
            Some(object) => {
                self.bytes -= weight(key, &object);
                true
            }
            None => false,
        }
    }

    /// Weight held, entry overhead included.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Objects held.
    pub fn len(&self) -> usize {
        self.entries.len()
    }
}
