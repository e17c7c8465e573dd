//! Remembered guest decisions (`docs/decisions/0051`): a decision the guest marks reusable is carried out
//! again for later requests with the same key ([`key`]) while nothing it read through the tiers has changed
//! (the change stamps of `strata_tiers::stamps`), its lifetime lasts, and its guest set is live (the key
//! holds `Handler::generation`, so a swap or rollback retires every decision of the set before).
//!
//! Memory is bounded by a byte budget (quick_cache, weighted by what each entry holds); an entry found
//! stale is dropped when found. Most playlist and segment GETs then never enter Wasm: a hit costs two hash
//! lookups and a few atomic loads.

mod entry;
mod key;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use quick_cache::sync::Cache;
use quick_cache::{DefaultHashBuilder, Lifecycle, Weighter};
use strata_runtime::Decided;
use strata_tiers::StorageRead;

pub use entry::{Entry, Replay};
pub use key::Asked;
use key::{EntryKey, Primary, PrimaryRef, Spec};

/// Share of the budget kept for specs (which parts of a request matter, one per object).
const SPEC_SHARE: u64 = 16;

/// The cache of one origin.
pub struct DecisionCache {
    budget: u64,
    specs: Cache<Primary, Arc<Spec>, SpecWeight>,
    entries: Cache<EntryKey, Arc<Entry>, EntryWeight, DefaultHashBuilder, CountEvictions>,
    counters: Arc<Counters>,
}

/// Running totals, for the metrics.
#[derive(Debug, Default)]
struct Counters {
    hits: AtomicU64,
    misses: AtomicU64,
    invalidated: AtomicU64,
    stored: AtomicU64,
    evicted: AtomicU64,
}

/// What the cache holds and has done, for the metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CacheStats {
    /// Requests answered with a remembered decision.
    pub hits: u64,
    /// Requests (that could have been) looked up and not found, or found stale.
    pub misses: u64,
    /// Remembered decisions found stale (something they read changed, or their lifetime ended).
    pub invalidated: u64,
    /// Decisions remembered.
    pub stored: u64,
    /// Decisions dropped to stay within the budget.
    pub evicted: u64,
    /// Decisions held now.
    pub entries: u64,
    /// Bytes held now (entries and specs).
    pub bytes: u64,
    /// The budget.
    pub budget: u64,
}

impl DecisionCache {
    /// A cache of at most `budget` bytes; 0 turns it off (every request asks the guest).
    pub fn new(budget: u64) -> DecisionCache {
        let counters = Arc::new(Counters::default());
        let specs_budget = (budget / SPEC_SHARE).max(1);
        let entries_budget = budget.saturating_sub(specs_budget).max(1);
        let estimated = |share: u64, per_item: u64| {
            usize::try_from(share / per_item)
                .unwrap_or(usize::MAX)
                .clamp(16, 1 << 20)
        };
        DecisionCache {
            budget,
            specs: Cache::with_weighter(estimated(specs_budget, 256), specs_budget, SpecWeight),
            entries: Cache::with(
                estimated(entries_budget, 2048),
                entries_budget,
                EntryWeight,
                DefaultHashBuilder::default(),
                CountEvictions(Arc::clone(&counters)),
            ),
            counters,
        }
    }

    /// Whether decisions are remembered at all.
    pub fn enabled(&self) -> bool {
        self.budget > 0
    }

    /// The remembered decision for `asked`, if one holds now; a stale one is dropped.
    pub fn replay(&self, asked: &Asked<'_>, storage: &dyn StorageRead) -> Option<Arc<Entry>> {
        let stamps = storage.stamps()?;
        let primary = PrimaryRef::of(asked);
        let Some(spec) = self.specs.get(&primary) else {
            bump(&self.counters.misses);
            return None;
        };
        let parts = spec.parts(asked);
        let key = parts.key(primary);
        let Some(entry) = self.entries.get(&key) else {
            bump(&self.counters.misses);
            return None;
        };
        if entry.holds(stamps, now_ms(), storage.unstamped_change_bound()) {
            bump(&self.counters.hits);
            return Some(entry);
        }
        self.entries.remove(&key);
        bump(&self.counters.invalidated);
        bump(&self.counters.misses);
        None
    }

    /// Remembers `decided`, made for `asked` at `now_ms`, if its guest allowed it and it can be checked
    /// later; returns the entry to carry out (its head is checked once, for this request and later ones).
    pub fn remember(
        &self,
        asked: &Asked<'_>,
        decided: &Decided,
        now_ms: u64,
        storage: &dyn StorageRead,
    ) -> Option<Arc<Entry>> {
        if !self.enabled() || !decided.reads.repeatable() {
            return None;
        }
        let reuse = decided.decision.reuse.as_ref()?;
        let stamps = storage.stamps()?;
        if reuse.max_age_ms == 0 {
            return None;
        }
        let replay = Replay::of(&decided.decision.outcome)?;
        let entry = Arc::new(Entry::new(
            replay,
            decided.reads.clone(),
            now_ms,
            reuse.max_age_ms,
        ));
        if entry.reads_changed(stamps) {
            // Something it read changed while it was being decided: carry it out once, keep nothing.
            return Some(entry);
        }
        let primary = Primary::of(asked);
        let spec = Spec::new(reuse);
        let key = spec.key(asked);
        if self.specs.get(&primary).is_none_or(|known| *known != spec) {
            self.specs.insert(primary, Arc::new(spec));
        }
        self.entries.insert(key, Arc::clone(&entry));
        bump(&self.counters.stored);
        Some(entry)
    }

    /// Drops the decision remembered for `asked` (the object it served changed under it).
    pub fn forget(&self, asked: &Asked<'_>) {
        let primary = PrimaryRef::of(asked);
        if let Some(spec) = self.specs.get(&primary) {
            self.entries.remove(&spec.parts(asked).key(primary));
            bump(&self.counters.invalidated);
        }
    }

    /// What it holds and has done.
    pub fn stats(&self) -> CacheStats {
        let get = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        CacheStats {
            hits: get(&self.counters.hits),
            misses: get(&self.counters.misses),
            invalidated: get(&self.counters.invalidated),
            stored: get(&self.counters.stored),
            evicted: get(&self.counters.evicted),
            entries: self.entries.len() as u64,
            bytes: self.entries.weight() + self.specs.weight(),
            budget: self.budget,
        }
    }
}

fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

/// The wall clock, ms since the Unix epoch (the clock requests' `now-ms` is read from).
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

#[derive(Debug, Clone, Copy)]
struct SpecWeight;

impl Weighter<Primary, Arc<Spec>> for SpecWeight {
    fn weight(&self, key: &Primary, spec: &Arc<Spec>) -> u64 {
        (key.weight() + spec.weight()) as u64
    }
}

#[derive(Debug, Clone, Copy)]
struct EntryWeight;

impl Weighter<EntryKey, Arc<Entry>> for EntryWeight {
    fn weight(&self, key: &EntryKey, entry: &Arc<Entry>) -> u64 {
        (key.weight() + entry.weight()) as u64
    }
}

/// Counts the entries the budget pushes out.
#[derive(Debug, Clone)]
struct CountEvictions(Arc<Counters>);

impl Lifecycle<EntryKey, Arc<Entry>> for CountEvictions {
    type RequestState = ();

    fn begin_request(&self) -> Self::RequestState {}

    fn on_evict(&self, (): &mut Self::RequestState, _key: EntryKey, _entry: Arc<Entry>) {
        bump(&self.0.evicted);
    }
}
