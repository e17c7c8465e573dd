//! What the tiers count, kept as plain atomics so the tiers need no metrics registry (and tests can read
//! them); `crate::metrics` publishes them in Prometheus text.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::sharded::Sharded;

/// Running totals since start.
#[derive(Debug, Default)]
pub struct Counters {
    /// Counted on every read from memory, by every connection thread.
    pub(super) memory_hits: Sharded,
    pub(super) memory_misses: AtomicU64,
    pub(super) disk_hits: AtomicU64,
    pub(super) disk_misses: AtomicU64,
    pub(super) disk_reads: AtomicU64,
    pub(super) coalesced_reads: AtomicU64,
    pub(super) evictions: AtomicU64,
    pub(super) promotions: AtomicU64,
    pub(super) demotions: AtomicU64,
    pub(super) dropped: AtomicU64,
    pub(super) expirations: AtomicU64,
}

/// A snapshot of the counters and the tiers' current contents.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TierStats {
    /// Objects stored (both tiers, completed uploads only).
    pub objects: usize,
    /// Objects held in memory.
    pub memory_objects: usize,
    /// Bytes held in memory, entry overhead included.
    pub memory_bytes: u64,
    /// Objects on disk.
    pub disk_objects: usize,
    /// Body bytes on disk, uploads in progress included.
    pub disk_bytes: u64,
    /// The budget of `disk_bytes` (`storage.disk_bytes`); `None`: the filesystem's free space.
    pub disk_budget_bytes: Option<u64>,
    /// Bytes uploads in progress hold in memory (hot copies and chunks kept for readers).
    pub upload_memory_bytes: u64,
    /// The budget of `upload_memory_bytes`.
    pub upload_memory_budget_bytes: u64,
    /// Uploads refused because uploads in progress held the whole budget.
    pub uploads_refused: u64,
    /// Reads served from memory.
    pub memory_hits: u64,
    /// Reads memory could not serve.
    pub memory_misses: u64,
    /// Reads served from disk.
    pub disk_hits: u64,
    /// Reads of an object whose file was gone.
    pub disk_misses: u64,
    /// Whole-object reads and file opens on disk.
    pub disk_reads: u64,
    /// Reads that joined another reader's disk read instead of making their own.
    pub coalesced_reads: u64,
    /// Objects pushed out of memory.
    pub evictions: u64,
    /// Objects copied from disk into memory.
    pub promotions: u64,
    /// Evictions of objects that stay on disk.
    pub demotions: u64,
    /// Evictions of memory-only objects, which are lost.
    pub dropped: u64,
    /// Objects removed because their TTL passed.
    pub expirations: u64,
}

impl Counters {
    /// Adds one to `counter`.
    pub(super) fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// Copies the totals into `stats`.
    pub(super) fn fill(&self, stats: &mut TierStats) {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        stats.memory_hits = self.memory_hits.get();
        stats.memory_misses = get(&self.memory_misses);
        stats.disk_hits = get(&self.disk_hits);
        stats.disk_misses = get(&self.disk_misses);
        stats.disk_reads = get(&self.disk_reads);
        stats.coalesced_reads = get(&self.coalesced_reads);
        stats.evictions = get(&self.evictions);
        stats.promotions = get(&self.promotions);
        stats.demotions = get(&self.demotions);
        stats.dropped = get(&self.dropped);
        stats.expirations = get(&self.expirations);
    }
}
