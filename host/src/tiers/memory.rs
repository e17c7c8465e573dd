//! The memory tier: whole objects as `Bytes` under a byte budget, served without copying.
//!
//! quick_cache does the bookkeeping: its CLOCK-Pro style policy keeps objects read more than once ahead of
//! one-pass scans, and weighting entries by their length keeps the sum under the budget.

use bytes::Bytes;
use quick_cache::Weighter;
use quick_cache::sync::Cache;

/// Fixed cost counted per entry on top of its bytes, so many tiny objects still respect the budget.
const ENTRY_OVERHEAD: u64 = 128;

/// One object version held in memory.
#[derive(Debug, Clone)]
pub struct HotObject {
    /// The entity tag of the version held, to tell it from a newer one on disk.
    pub etag: String,
    /// The whole body.
    pub body: Bytes,
}

#[derive(Debug, Clone, Copy)]
struct ByLength;

impl Weighter<String, HotObject> for ByLength {
    fn weight(&self, key: &String, value: &HotObject) -> u64 {
        value.body.len() as u64 + key.len() as u64 + ENTRY_OVERHEAD
    }
}

/// Hot objects under a byte budget.
pub struct MemoryTier {
    cache: Cache<String, HotObject, ByLength>,
    budget: u64,
}

impl std::fmt::Debug for MemoryTier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryTier")
            .field("budget", &self.budget)
            .field("bytes", &self.cache.weight())
            .finish()
    }
}

impl MemoryTier {
    /// A tier that never holds more than `budget` bytes.
    pub fn new(budget: u64) -> Self {
        let estimated_items = usize::try_from(budget / (64 * 1024))
            .unwrap_or(usize::MAX)
            .max(64);
        MemoryTier {
            cache: Cache::with_weighter(estimated_items, budget.max(1), ByLength),
            budget,
        }
    }

    /// Whether an object of `size` bytes is worth keeping in memory: larger ones would flush too much.
    pub fn admits(&self, size: u64) -> bool {
        size.saturating_mul(8) <= self.budget
    }

    /// The body of `key` if the version held has entity tag `etag`.
    pub fn get(&self, key: &str, etag: &str) -> Option<Bytes> {
        self.cache
            .get(key)
            .filter(|hot| hot.etag == etag)
            .map(|hot| hot.body)
    }

    /// Keeps a version of `key` in memory, replacing any older one.
    pub fn insert(&self, key: &str, etag: &str, body: Bytes) {
        if self.admits(body.len() as u64) {
            self.cache.insert(
                key.to_owned(),
                HotObject {
                    etag: etag.to_owned(),
                    body,
                },
            );
        } else {
            self.cache.remove(key);
        }
    }

    /// Forgets `key`.
    pub fn remove(&self, key: &str) {
        self.cache.remove(key);
    }

    /// Bytes currently held, entry overhead included.
    pub fn bytes(&self) -> u64 {
        self.cache.weight()
    }

    /// Objects currently held.
    pub fn objects(&self) -> usize {
        self.cache.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_exceeds_its_budget() {
        let tier = MemoryTier::new(1 << 20);
        for i in 0..1000 {
            tier.insert(
                &format!("seg{i}.ts"),
                "\"e\"",
                Bytes::from(vec![0u8; 10_000]),
            );
            assert!(tier.bytes() <= 1 << 20);
        }
    }

    #[test]
    fn serves_only_the_version_asked_for() {
        let tier = MemoryTier::new(1 << 20);
        tier.insert("a.m3u8", "\"1\"", Bytes::from_static(b"#EXTM3U"));
        assert!(tier.get("a.m3u8", "\"1\"").is_some());
        assert!(tier.get("a.m3u8", "\"2\"").is_none());
    }

    #[test]
    fn refuses_objects_too_large_for_the_budget() {
        let tier = MemoryTier::new(1 << 20);
        tier.insert("big.mp4", "\"1\"", Bytes::from(vec![0u8; 1 << 19]));
        assert!(tier.get("big.mp4", "\"1\"").is_none());
    }
}
