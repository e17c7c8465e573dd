//! The memory tier: whole objects as `Bytes` under a byte budget, served without copying.
//!
//! Two shares of one budget. Memory-only objects (`memory_only.rs`) are the only copy, so they never
//! compete with copies of disk objects: they leave oldest first, only for another memory-only object (or
//! on delete and expiry). Copies of disk objects fill what that share leaves, in a cache whose capacity
//! is shrunk before the memory-only share grows, so the sum never passes the budget.
//!
//! The cache is quick_cache: its CLOCK-Pro style policy keeps objects read more than once ahead of
//! one-pass scans, and weighting entries by their length keeps the sum under its capacity. Its `Lifecycle`
//! hook reports each eviction, for the tiers' counters. Plain LRU (`lru.rs`) can be chosen instead,
//! as the reference the default is measured against.

use std::sync::{Arc, Mutex};

use bytes::Bytes;
use quick_cache::sync::Cache;
use quick_cache::{DefaultHashBuilder, Lifecycle, Weighter};
use serde::Deserialize;

mod hot;
mod lru;
mod memory_only;

pub use hot::{Evicted, HotObject};

use crate::lock;
use hot::weight;
use lru::ByteLru;
use memory_only::MemoryOnly;

/// The memory-only share is reserved in steps of this fraction of the budget, with one step of headroom,
/// so the cache is resized only when that share moves by a step: each quick_cache resize rescales (and
/// rounds down) its count of remembered evicted keys, which it needs to recognise objects read again.
const SHARE_STEPS: u64 = 64;

/// Collects what one insert evicts, for the caller to settle outside the cache's lock. A resize ends its
/// request inside quick_cache, so what it evicts is kept in `resized` for the tier to collect.
#[derive(Debug, Clone, Default)]
struct ReportEvictions {
    resized: Arc<Mutex<Vec<Evicted>>>,
}

impl Lifecycle<String, HotObject> for ReportEvictions {
    type RequestState = Vec<Evicted>;

    fn begin_request(&self) -> Self::RequestState {
        Vec::new()
    }

    fn on_evict(&self, evicted: &mut Self::RequestState, key: String, value: HotObject) {
        evicted.push((key, value));
    }

    fn end_request(&self, evicted: Self::RequestState) {
        if !evicted.is_empty() {
            lock(&self.resized).extend(evicted);
        }
    }
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

/// The cache of disk objects' copies, by policy.
enum Copies {
    /// quick_cache, and where its resizes leave what they evicted.
    ClockPro(ClockPro, Arc<Mutex<Vec<Evicted>>>),
    Lru(ByteLru),
}

/// The memory-only share: its objects, and the bytes of the budget withheld from the cache for them.
struct Shares {
    memory_only: MemoryOnly,
    reserved: u64,
}

/// Hot objects under a byte budget.
pub struct MemoryTier {
    copies: Copies,
    shares: Mutex<Shares>,
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
        let copies = match policy {
            MemoryPolicy::ClockPro => {
                let estimated_items = usize::try_from(budget / (64 * 1024))
                    .unwrap_or(usize::MAX)
                    .max(64);
                let report = ReportEvictions::default();
                let resized = Arc::clone(&report.resized);
                let cache = Cache::with(
                    estimated_items,
                    budget.max(1),
                    ByLength,
                    DefaultHashBuilder::default(),
                    report,
                );
                Copies::ClockPro(cache, resized)
            }
            MemoryPolicy::Lru => Copies::Lru(ByteLru::new(budget)),
        };
        let tier = MemoryTier {
            copies,
            shares: Mutex::new(Shares {
                memory_only: MemoryOnly::new(),
                reserved: 0,
            }),
            budget,
        };
        // quick_cache rounds each shard's capacity up; round the total down so the budget holds.
        let _empty = tier.set_cache_capacity(budget);
        tier
    }

    /// Whether an object of `size` bytes is worth keeping in memory: larger ones would flush too much.
    pub fn admits(&self, size: u64) -> bool {
        size.saturating_mul(8) <= self.budget
    }

    /// The body of `key` if the version held has entity tag `etag`.
    pub fn get(&self, key: &str, etag: &str) -> Option<Bytes> {
        let memory_only = lock(&self.shares).memory_only.get(key);
        let hot = memory_only.or_else(|| match &self.copies {
            Copies::ClockPro(cache, _) => cache.get(key),
            Copies::Lru(cache) => cache.get(key),
        });
        hot.filter(|hot| &*hot.etag == etag).map(|hot| hot.body)
    }

    /// Keeps `object` in memory under `key`, replacing any older version; returns what it pushed out
    /// (possibly itself, if the cache refused it). A memory-only object pushes out only copies of disk
    /// objects and, if those are not enough, the oldest memory-only objects.
    #[must_use = "evicted memory-only objects must be dropped from the index"]
    pub fn insert(&self, key: &str, object: HotObject) -> Vec<Evicted> {
        if !self.admits(object.body.len() as u64) {
            self.remove(key);
            return vec![(key.to_owned(), object)];
        }
        if object.placement.on_disk() {
            return match &self.copies {
                Copies::ClockPro(cache, _) => cache.insert_with_lifecycle(key.to_owned(), object),
                Copies::Lru(cache) => cache.insert(key.to_owned(), object),
            };
        }
        let mut shares = lock(&self.shares);
        shares.memory_only.remove(key);
        let needed = weight(key, &object);
        let mut evicted = Vec::new();
        while shares.memory_only.bytes() + needed > self.budget {
            match shares.memory_only.pop_oldest() {
                Some(oldest) => evicted.push(oldest),
                None => break,
            }
        }
        let bytes = shares.memory_only.bytes() + needed;
        evicted.extend(self.reserve(&mut shares, bytes));
        shares.memory_only.push(key.to_owned(), object);
        self.remove_copy(key);
        evicted
    }

    /// Forgets `key`.
    pub fn remove(&self, key: &str) {
        self.remove_copy(key);
        let mut shares = lock(&self.shares);
        if shares.memory_only.remove(key) {
            let bytes = shares.memory_only.bytes();
            // The share only shrinks here, so the cache only grows: nothing is evicted.
            let _grown = self.reserve(&mut shares, bytes);
        }
    }

    /// Forgets the cached copy of `key`.
    fn remove_copy(&self, key: &str) {
        match &self.copies {
            Copies::ClockPro(cache, _) => {
                cache.remove(key);
            }
            Copies::Lru(cache) => cache.remove(key),
        }
    }

    /// Resizes the memory-only share to hold `bytes` (shrinking the cache first, so the sum never passes
    /// the budget) when they outgrow it or leave it more than a step too large; returns what the cache
    /// evicted.
    fn reserve(&self, shares: &mut Shares, bytes: u64) -> Vec<Evicted> {
        let step = (self.budget / SHARE_STEPS).max(1);
        let share = (bytes.div_ceil(step) + 1)
            .saturating_mul(step)
            .min(self.budget);
        if bytes <= shares.reserved && share + step >= shares.reserved {
            return Vec::new();
        }
        shares.reserved = share;
        self.set_cache_capacity(self.budget - share)
    }

    /// Sets the cache's capacity to at most `capacity`; returns what no longer fits.
    fn set_cache_capacity(&self, capacity: u64) -> Vec<Evicted> {
        match &self.copies {
            Copies::ClockPro(cache, resized) => {
                // Each shard gets an equal part, rounded up: round the total down to a multiple.
                let shards = cache.num_shards().max(1) as u64;
                cache.set_capacity(capacity / shards * shards);
                std::mem::take(&mut *lock(resized))
            }
            Copies::Lru(cache) => cache.set_budget(capacity),
        }
    }

    /// Bytes currently held, entry overhead included.
    pub fn bytes(&self) -> u64 {
        // Under the shares' lock the cache's capacity cannot change, so the sum is within the budget.
        let shares = lock(&self.shares);
        let cached = match &self.copies {
            Copies::ClockPro(cache, _) => cache.weight(),
            Copies::Lru(cache) => cache.bytes(),
        };
        shares.memory_only.bytes() + cached
    }

    /// Objects currently held.
    pub fn objects(&self) -> usize {
        let shares = lock(&self.shares);
        let cached = match &self.copies {
            Copies::ClockPro(cache, _) => cache.len(),
            Copies::Lru(cache) => cache.objects(),
        };
        shares.memory_only.len() + cached
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::placement::Placement;

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

    fn memory_only(etag: &str, body: impl Into<Bytes>) -> HotObject {
        HotObject {
            placement: Placement::Memory,
            ..hot(etag, body)
        }
    }

    #[test]
    fn copies_of_disk_objects_never_push_out_memory_only_objects_that_fit() {
        for policy in POLICIES {
            let budget = 8 << 20;
            let tier = MemoryTier::new(budget, policy);
            let size = 64 * 1024;
            let live: Vec<String> = (0..60).map(|i| format!("live/{i}.ts")).collect();
            for (i, key) in live.iter().enumerate() {
                let mut evicted = tier.insert(key, memory_only("\"e\"", vec![0u8; size]));
                for j in 0..20 {
                    let copy = format!("vod/{i}-{j}.ts");
                    evicted.extend(tier.insert(&copy, hot("\"e\"", vec![0u8; size])));
                    assert!(tier.bytes() <= budget, "{policy:?}");
                }
                let lost: Vec<_> = evicted
                    .iter()
                    .filter(|(_, object)| object.placement == Placement::Memory)
                    .map(|(key, _)| key.as_str())
                    .collect();
                assert!(lost.is_empty(), "{policy:?} lost {lost:?}");
            }
            for key in &live {
                assert!(tier.get(key, "\"e\"").is_some(), "{policy:?} lost {key}");
            }
        }
    }

    #[test]
    fn memory_only_objects_make_room_for_each_other_oldest_first() {
        for policy in POLICIES {
            let budget = 1 << 20;
            let tier = MemoryTier::new(budget, policy);
            let _ = tier.insert("vod/a.ts", hot("\"e\"", vec![0u8; 100_000]));
            let mut dropped = Vec::new();
            for i in 0..12 {
                let pushed = tier.insert(
                    &format!("live/{i}.ts"),
                    memory_only("\"e\"", vec![0u8; 100_000]),
                );
                dropped.extend(
                    pushed
                        .into_iter()
                        .filter(|(_, o)| o.placement == Placement::Memory)
                        .map(|(key, _)| key),
                );
                assert!(tier.bytes() <= budget, "{policy:?}");
            }
            assert!(tier.get("vod/a.ts", "\"e\"").is_none(), "{policy:?}");
            assert_eq!(dropped, ["live/0.ts", "live/1.ts"], "{policy:?}");
            tier.remove("live/11.ts");
            let _ = tier.insert("vod/b.ts", hot("\"e\"", vec![0u8; 10_000]));
            assert!(tier.get("vod/b.ts", "\"e\"").is_some(), "{policy:?}");
            assert!(tier.get("live/2.ts", "\"e\"").is_some(), "{policy:?}");
        }
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
