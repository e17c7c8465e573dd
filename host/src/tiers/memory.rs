//! The memory tier: whole objects as `Bytes` under a byte budget, served without copying.
//!
//! quick_cache does the bookkeeping: its CLOCK-Pro style policy keeps objects read more than once ahead of
//! one-pass scans, and weighting entries by their length keeps the sum under the budget. Its `Lifecycle`
//! hook reports each eviction, because evicting a memory-only object loses it and the index must forget it.
//! Plain LRU (`byte_lru.rs`) can be chosen instead, as the reference the default is measured against.

use bytes::Bytes;
use quick_cache::sync::Cache;
use quick_cache::{DefaultHashBuilder, Lifecycle, Weighter};
use serde::Deserialize;

use super::byte_lru::ByteLru;
use super::placement::Placement;

/// Fixed cost counted per entry on top of its bytes, so many tiny objects still respect the budget.
const ENTRY_OVERHEAD: u64 = 128;

/// One object version held in memory.
#[derive(Debug, Clone)]
pub struct HotObject {
    /// The entity tag of the version held, to tell it from a newer one on disk.
    pub etag: String,
    /// The whole body.
    pub body: Bytes,
    /// Its placement: evicting a memory-only object drops it, others are only demoted to disk.
    pub placement: Placement,
    /// Its commit sequence, to tell the evicted version from a newer one in the index.
    pub seq: u64,
}

/// An object pushed out of memory by an insert.
pub type Evicted = (String, HotObject);

/// Collects what one insert evicts, for the caller to settle outside the cache's lock.
#[derive(Debug, Clone, Copy)]
struct ReportEvictions;

impl Lifecycle<String, HotObject> for ReportEvictions {
    type RequestState = Vec<Evicted>;

    fn begin_request(&self) -> Self::RequestState {
        Vec::new()
    }

    fn on_evict(&self, evicted: &mut Self::RequestState, key: String, value: HotObject) {
        evicted.push((key, value));
    }
}

/// The bytes an entry counts against the budget.
pub(super) fn weight(key: &str, value: &HotObject) -> u64 {
    value.body.len() as u64 + key.len() as u64 + ENTRY_OVERHEAD
}

#[derive(Debug, Clone, Copy)]
struct ByLength;

impl Weighter<String, HotObject> for ByLength {
    fn weight(&self, key: &String, value: &HotObject) -> u64 {
        weight(key, value)
    }
}

/// Which objects the memory tier keeps when it is full (`[storage] memory_policy`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum MemoryPolicy {
    /// quick_cache's CLOCK-Pro: objects read again stay ahead of one-pass scans.
    #[default]
    ClockPro,
    /// Least recently used first: the plain reference, flushed by any scan larger than the budget.
    Lru,
}

type ClockPro = Cache<String, HotObject, ByLength, DefaultHashBuilder, ReportEvictions>;

/// The cache behind the tier, by policy.
enum Store {
    ClockPro(ClockPro),
    Lru(ByteLru),
}

/// Hot objects under a byte budget.
pub struct MemoryTier {
    store: Store,
    budget: u64,
}

impl std::fmt::Debug for MemoryTier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryTier")
            .field("budget", &self.budget)
            .field("bytes", &self.bytes())
            .finish()
    }
}

impl MemoryTier {
    /// A tier that never holds more than `budget` bytes, keeping what `policy` prefers.
    pub fn new(budget: u64, policy: MemoryPolicy) -> Self {
        let store = match policy {
            MemoryPolicy::ClockPro => {
                let estimated_items = usize::try_from(budget / (64 * 1024))
                    .unwrap_or(usize::MAX)
                    .max(64);
                Store::ClockPro(Cache::with(
                    estimated_items,
                    budget.max(1),
                    ByLength,
                    DefaultHashBuilder::default(),
                    ReportEvictions,
                ))
            }
            MemoryPolicy::Lru => Store::Lru(ByteLru::new(budget)),
        };
        MemoryTier { store, budget }
    }

    /// Whether an object of `size` bytes is worth keeping in memory: larger ones would flush too much.
    pub fn admits(&self, size: u64) -> bool {
        size.saturating_mul(8) <= self.budget
    }

    /// The body of `key` if the version held has entity tag `etag`.
    pub fn get(&self, key: &str, etag: &str) -> Option<Bytes> {
        let hot = match &self.store {
            Store::ClockPro(cache) => cache.get(key),
            Store::Lru(cache) => cache.get(key),
        };
        hot.filter(|hot| hot.etag == etag).map(|hot| hot.body)
    }

    /// Keeps `object` in memory under `key`, replacing any older version; returns what it pushed out
    /// (possibly itself, if the cache refused it).
    #[must_use = "evicted memory-only objects must be dropped from the index"]
    pub fn insert(&self, key: &str, object: HotObject) -> Vec<Evicted> {
        if !self.admits(object.body.len() as u64) {
            self.remove(key);
            return vec![(key.to_owned(), object)];
        }
        match &self.store {
            Store::ClockPro(cache) => cache.insert_with_lifecycle(key.to_owned(), object),
            Store::Lru(cache) => cache.insert(key.to_owned(), object),
        }
    }

    /// Forgets `key`.
    pub fn remove(&self, key: &str) {
        match &self.store {
            Store::ClockPro(cache) => {
                cache.remove(key);
            }
            Store::Lru(cache) => cache.remove(key),
        }
    }

    /// Bytes currently held, entry overhead included.
    pub fn bytes(&self) -> u64 {
        match &self.store {
            Store::ClockPro(cache) => cache.weight(),
            Store::Lru(cache) => cache.bytes(),
        }
    }

    /// Objects currently held.
    pub fn objects(&self) -> usize {
        match &self.store {
            Store::ClockPro(cache) => cache.len(),
            Store::Lru(cache) => cache.objects(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hot(etag: &str, body: impl Into<Bytes>) -> HotObject {
        HotObject {
            etag: etag.into(),
            body: body.into(),
            placement: Placement::Durable,
            seq: 1,
        }
    }

    const POLICIES: [MemoryPolicy; 2] = [MemoryPolicy::ClockPro, MemoryPolicy::Lru];

    #[test]
    fn never_exceeds_its_budget_and_reports_what_it_evicts() {
        for policy in POLICIES {
            let tier = MemoryTier::new(1 << 20, policy);
            let mut evicted = 0;
            for i in 0..1000 {
                evicted += tier
                    .insert(&format!("seg{i}.ts"), hot("\"e\"", vec![0u8; 10_000]))
                    .len();
                assert!(tier.bytes() <= 1 << 20, "{policy:?}");
            }
            assert_eq!(evicted + tier.objects(), 1000, "{policy:?}");
            tier.remove("seg999.ts");
            assert_eq!(evicted + tier.objects(), 999, "{policy:?}");
        }
    }

    #[test]
    fn serves_only_the_version_asked_for() {
        for policy in POLICIES {
            let tier = MemoryTier::new(1 << 20, policy);
            let _ = tier.insert("a.m3u8", hot("\"1\"", &b"#EXTM3U"[..]));
            let _ = tier.insert("a.m3u8", hot("\"2\"", &b"#EXTM3U\n"[..]));
            assert!(tier.get("a.m3u8", "\"2\"").is_some(), "{policy:?}");
            assert!(tier.get("a.m3u8", "\"1\"").is_none(), "{policy:?}");
            assert_eq!(tier.objects(), 1, "{policy:?}");
        }
    }

    #[test]
    fn refuses_objects_too_large_for_the_budget() {
        for policy in POLICIES {
            let tier = MemoryTier::new(1 << 20, policy);
            let refused = tier.insert("big.mp4", hot("\"1\"", vec![0u8; 1 << 19]));
            assert_eq!(refused.len(), 1, "{policy:?}");
            assert!(tier.get("big.mp4", "\"1\"").is_none(), "{policy:?}");
        }
    }

    #[test]
    fn lru_evicts_the_least_recently_read_first() {
        let tier = MemoryTier::new(8 * 1024, MemoryPolicy::Lru);
        for key in ["a", "b", "c"] {
            let _ = tier.insert(key, hot("\"e\"", vec![0u8; 1000]));
        }
        assert!(tier.get("a", "\"e\"").is_some());
        let mut evicted = Vec::new();
        for i in 0..7 {
            let pushed = tier.insert(&format!("d{i}"), hot("\"e\"", vec![0u8; 1000]));
            evicted.extend(pushed.into_iter().map(|(key, _)| key));
        }
        assert_eq!(evicted, ["b", "c", "a"]);
    }

    #[test]
    fn a_one_pass_scan_does_not_flush_the_hot_set() {
        let budget = 8 << 20;
        let tier = MemoryTier::new(budget, MemoryPolicy::ClockPro);
        let size = 64 * 1024;
        let hot_keys: Vec<String> = (0..40).map(|i| format!("live/{i}.ts")).collect();
        for _ in 0..3 {
            for key in &hot_keys {
                if tier.get(key, "\"e\"").is_none() {
                    let _ = tier.insert(key, hot("\"e\"", vec![0u8; size]));
                }
            }
        }
        let (mut hits, mut lookups) = (0, 0);
        let scan = 10 * budget as usize / size;
        for i in 0..scan {
            let key = format!("vod/{i}.ts");
            if tier.get(&key, "\"e\"").is_none() {
                let _ = tier.insert(&key, hot("\"e\"", vec![0u8; size]));
            }
            let hot_key = &hot_keys[i % hot_keys.len()];
            lookups += 1;
            if tier.get(hot_key, "\"e\"").is_some() {
                hits += 1;
            } else {
                let _ = tier.insert(hot_key, hot("\"e\"", vec![0u8; size]));
            }
        }
        let ratio = f64::from(hits) / f64::from(lookups);
        assert!(ratio > 0.9, "hot set hit ratio during the scan: {ratio}");
    }
}
