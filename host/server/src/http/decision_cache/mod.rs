//! Remembered guest decisions (`docs/decisions/0051`): a decision the guest marks reusable is carried out
//! again for later requests with the same key ([`key`]) while nothing it read through the tiers has changed
//! (the change stamps of `strata_tiers::stamps`), its lifetime lasts, and its guest set is live (the key
//! holds `Handler::generation`, so a swap or rollback retires every decision of the set before).
//!
//! Memory is bounded by a byte budget (quick_cache, weighted by what each item holds), which specs and
//! decisions share; an entry found stale is dropped when found. Most playlist and segment GETs then never
//! enter Wasm: a hit costs two hash lookups and a few atomic loads.

mod entry;
mod key;

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use quick_cache::sync::Cache;
use quick_cache::{DefaultHashBuilder, Lifecycle, Weighter};
use strata_runtime::Decided;
use strata_tiers::StorageRead;

pub use entry::{Entry, Replay};
pub use key::Asked;
use key::{Key, KeyRef, Primary, PrimaryRef, Spec};

/// The cache of one origin.
pub struct DecisionCache {
    budget: u64,
    /// Specs (which parts of a request matter, one per object) and decisions, under one budget: a spec is
    /// read on every lookup for its object, so it stays while any of the object's decisions is in use.
    items: Cache<Key, Held, Weight, DefaultHashBuilder, Track>,
    counters: Arc<Counters>,
}

/// What the cache holds under a [`Key`].
#[derive(Debug, Clone)]
enum Held {
    Spec(Arc<Spec>),
    Decision(Arc<Entry>),
}

/// Running totals, for the metrics.
#[derive(Debug, Default)]
struct Counters {
    hits: AtomicU64,
    misses: AtomicU64,
    invalidated: AtomicU64,
    stored: AtomicU64,
    evicted: AtomicU64,
    /// Decisions held now: stored, less those evicted, replaced or dropped.
    held: AtomicI64,
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
    /// Decisions pushed out by the budget (or replaced by a newer one for the same request).
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
        let estimated = usize::try_from(budget / 2048)
            .unwrap_or(usize::MAX)
            .clamp(16, 1 << 20);
        DecisionCache {
            budget,
            items: Cache::with(
                estimated,
                budget.max(1),
                Weight,
                DefaultHashBuilder::default(),
                Track(Arc::clone(&counters)),
            ),
            counters,
        }
    }

    fn spec(&self, primary: PrimaryRef<'_>) -> Option<Arc<Spec>> {
        match self.items.get(&KeyRef::Spec(primary))? {
            Held::Spec(spec) => Some(spec),
            Held::Decision(_) => None,
        }
    }

    /// Drops the decision under `key`; whether there was one.
    fn drop_decision(&self, key: KeyRef<'_>) -> bool {
        let dropped = self.items.remove(&key).is_some();
        if dropped {
            self.counters.held.fetch_sub(1, Ordering::Relaxed);
        }
        dropped
    }

    /// Whether decisions are remembered at all.
    pub fn enabled(&self) -> bool {
        self.budget > 0
    }

    /// The remembered decision for `asked`, if one holds now, counted as a hit or a miss; a stale one is
    /// dropped.
    pub fn replay(&self, asked: &Asked<'_>, storage: &dyn StorageRead) -> Option<Arc<Entry>> {
        let found = self.lookup(asked, storage);
        bump(if found.is_some() {
            &self.counters.hits
        } else {
            &self.counters.misses
        });
        found
    }

    /// [`DecisionCache::replay`] without counting the hit or miss, for a caller that may hand the request
    /// on to `replay` (`http::remembered`); it counts a hit it answers with [`DecisionCache::count_hit`].
    pub fn lookup(&self, asked: &Asked<'_>, storage: &dyn StorageRead) -> Option<Arc<Entry>> {
        let stamps = storage.stamps()?;
        let primary = PrimaryRef::of(asked);
        let spec = self.spec(primary)?;
        let parts = spec.parts(asked);
        let key = KeyRef::Decision(parts.key(primary));
        let Some(Held::Decision(entry)) = self.items.get(&key) else {
            return None;
        };
        if entry.holds(stamps, now_ms(), storage.unstamped_change_bound()) {
            return Some(entry);
        }
        self.drop_decision(key);
        bump(&self.counters.invalidated);
        None
    }

    /// Counts a request answered with a decision found by [`DecisionCache::lookup`].
    pub fn count_hit(&self) {
        bump(&self.counters.hits);
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
        if self
            .spec(PrimaryRef::of(asked))
            .is_none_or(|known| *known != spec)
        {
            self.items
                .insert(Key::Spec(primary), Held::Spec(Arc::new(spec)));
        }
        self.counters.held.fetch_add(1, Ordering::Relaxed);
        self.items
            .insert(Key::Decision(key), Held::Decision(Arc::clone(&entry)));
        bump(&self.counters.stored);
        Some(entry)
    }

    /// Drops the decision remembered for `asked` (the object it served changed under it).
    pub fn forget(&self, asked: &Asked<'_>) {
        let primary = PrimaryRef::of(asked);
        if let Some(spec) = self.spec(primary)
            && self.drop_decision(KeyRef::Decision(spec.parts(asked).key(primary)))
        {
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
            entries: u64::try_from(self.counters.held.load(Ordering::Relaxed)).unwrap_or(0),
            bytes: self.items.weight(),
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

/// What quick_cache holds per item besides its key and value (its state and its index), and the pointer to
/// the value.
const SLOT: usize = 32;

#[derive(Debug, Clone, Copy)]
struct Weight;

impl Weighter<Key, Held> for Weight {
    fn weight(&self, key: &Key, held: &Held) -> u64 {
        let value = match held {
            // The `Arc`'s two counters, then the spec.
            Held::Spec(spec) => 16 + spec.weight(),
            Held::Decision(entry) => entry.weight(),
        };
        (SLOT + key.weight() + value) as u64
    }
}

/// Counts the decisions that leave: pushed out by the budget, replaced by a newer one for the same key, or
/// refused for weighing more than the budget admits.
#[derive(Debug, Clone)]
struct Track(Arc<Counters>);

impl Lifecycle<Key, Held> for Track {
    type RequestState = ();

    fn begin_request(&self) -> Self::RequestState {}

    fn on_evict(&self, (): &mut Self::RequestState, _key: Key, held: Held) {
        if let Held::Decision(_) = held {
            bump(&self.0.evicted);
            self.0.held.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use http::{HeaderMap, Method};
    use strata_abi::types as abi;
    use strata_tiers::stamps::ReadSet;
    use strata_tiers::{TierSettings, Tiers};

    use super::*;

    fn asked<'a>(key: &'a str, headers: &'a HeaderMap) -> Asked<'a> {
        Asked {
            generation: 1,
            method: &Method::GET,
            key,
            query: "",
            headers,
            load_permille: 0,
        }
    }

    /// The built-in handler's 404 for `key`, reusable on its usual parts, having looked `key` up.
    fn not_found(key: &str, tiers: &Tiers) -> Decided {
        let mut reads = ReadSet::default();
        reads.add(tiers.stamps().key(key));
        Decided {
            decision: abi::Decision {
                outcome: abi::Outcome::Respond(abi::Response {
                    status: 404,
                    headers: vec![
                        ("content-type".into(), "text/plain; charset=utf-8".into()),
                        ("cache-control".into(), "no-store".into()),
                        ("access-control-allow-origin".into(), "*".into()),
                    ],
                    body: format!("no object at {key}\n").into_bytes(),
                }),
                reuse: Some(abi::Reuse {
                    query: abi::QueryParts::All,
                    headers: [
                        "if-none-match",
                        "if-modified-since",
                        "if-range",
                        "range",
                        "access-control-request-headers",
                    ]
                    .map(str::to_owned)
                    .to_vec(),
                    max_age_ms: 60_000,
                    load_threshold_permille: Some(800),
                }),
            },
            reads,
        }
    }

    #[test]
    fn every_decision_held_can_be_found_while_all_fit() {
        let dir = tempfile::tempdir().expect("temp dir");
        let tiers = Tiers::open(dir.path(), TierSettings::default()).expect("tiers");
        let cache = DecisionCache::new(8 << 20);
        let headers = HeaderMap::new();
        // One decision per object, as for the segments of a VOD library: each needs its object's spec.
        let keys: Vec<String> = (0..2000)
            .map(|i| format!("vod/title-{}/seg-{i}.ts", i / 100))
            .collect();
        for key in &keys {
            let remembered = cache.remember(
                &asked(key, &headers),
                &not_found(key, &tiers),
                now_ms(),
                &tiers,
            );
            assert!(remembered.is_some());
        }
        let stats = cache.stats();
        assert!(stats.bytes <= stats.budget, "{stats:?}");
        assert_eq!((stats.entries, stats.evicted), (2000, 0), "{stats:?}");
        let found = keys
            .iter()
            .filter(|key| cache.replay(&asked(key, &headers), &tiers).is_some())
            .count();
        assert_eq!(found, keys.len(), "{:?}", cache.stats());
    }

    #[test]
    fn entries_count_what_is_held() {
        let dir = tempfile::tempdir().expect("temp dir");
        let tiers = Tiers::open(dir.path(), TierSettings::default()).expect("tiers");
        let cache = DecisionCache::new(1 << 20);
        let headers = HeaderMap::new();
        let request = asked("live/a.ts", &headers);
        for _ in 0..3 {
            cache.remember(&request, &not_found("live/a.ts", &tiers), now_ms(), &tiers);
        }
        assert_eq!(
            cache.stats().entries,
            1,
            "a newer decision replaces the older"
        );
        tiers.announce_change("live/a.ts");
        assert!(cache.replay(&request, &tiers).is_none());
        let stats = cache.stats();
        assert_eq!((stats.entries, stats.invalidated), (0, 1), "{stats:?}");
        // The small budget holds whatever is stored, and counts what it pushes out.
        let small = DecisionCache::new(16 << 10);
        let keys: Vec<String> = (0..500).map(|i| format!("k/{i}.ts")).collect();
        for key in &keys {
            small.remember(
                &asked(key, &headers),
                &not_found(key, &tiers),
                now_ms(),
                &tiers,
            );
        }
        let stats = small.stats();
        assert!(stats.bytes <= stats.budget, "{stats:?}");
        assert_eq!(stats.entries + stats.evicted, stats.stored, "{stats:?}");
        assert!(stats.entries > 0, "{stats:?}");
    }
}
