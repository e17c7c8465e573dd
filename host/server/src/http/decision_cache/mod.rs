//! Remembered guest decisions (`docs/decisions/0051`): a decision the guest marks reusable is carried out
//! again for later requests with the same key ([`key`]) while nothing it read through the tiers has changed
//! (the change stamps of `strata_tiers::stamps`), its lifetime lasts, and its guest set is live (the key
//! holds `Handler::generation`, so a swap or rollback retires every decision of the set before).
//!
//! Memory is bounded by a byte budget (quick_cache, weighted by what each item holds), which specs and
//! decisions share; an entry found stale is dropped when found. Most playlist and segment GETs then never
//! enter Wasm: a hit costs two hash lookups and a few atomic loads.

mod entry;
mod front;
mod key;

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use http::Response;
use quick_cache::sync::Cache;
use quick_cache::{DefaultHashBuilder, Lifecycle, Weighter};
use strata_runtime::Decided;
use strata_tiers::sharded::Sharded;
use strata_tiers::{ChangeStamps, Storage, StorageRead};

use super::body::ResponseBody;
use super::outcome;

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
    /// What each connection thread's front may hold (`front.rs`).
    fronts: front::Fronts,
}

/// What the cache holds under a [`Key`].
#[derive(Debug, Clone)]
enum Held {
    Spec(Arc<Spec>),
    Decision(Arc<Entry>),
}

impl Held {
    /// Marks it as gone from the cache, for the fronts that keep it.
    fn retire(&self) {
        match self {
            Held::Spec(spec) => spec.retired.set(),
            Held::Decision(entry) => entry.retired.set(),
        }
    }
}

/// Running totals, for the metrics.
#[derive(Debug, Default)]
struct Counters {
    /// Counted on every remembered answer, by every connection thread.
    hits: Sharded,
    misses: AtomicU64,
    invalidated: AtomicU64,
    stored: AtomicU64,
    evicted: AtomicU64,
    /// Decisions held now: stored, less those evicted, replaced or dropped.
    held: AtomicI64,
    /// Bytes the connection threads' fronts hold now.
    front_bytes: AtomicI64,
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
    /// Bytes the connection threads' fronts hold now (copies of answers; at most an eighth of the budget).
    pub front_bytes: u64,
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
            fronts: front::Fronts::new(budget),
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
        let Some((_, held)) = self.items.remove(&key) else {
            return false;
        };
        held.retire();
        self.counters.held.fetch_sub(1, Ordering::Relaxed);
        true
    }

    /// Whether decisions are remembered at all.
    pub fn enabled(&self) -> bool {
        self.budget > 0
    }

    /// The remembered decision for `asked`, if one holds now, counted as a hit or a miss; a stale one is
    /// dropped.
    pub fn replay(&self, asked: &Asked<'_>, storage: &dyn StorageRead) -> Option<Arc<Entry>> {
        let found = storage.stamps().and_then(|stamps| {
            self.find(asked, stamps, now_ms(), storage.unstamped_change_bound())
                .map(|(_, entry)| entry)
        });
        if found.is_some() {
            self.counters.hits.add(1);
        } else {
            bump(&self.counters.misses);
        }
        found
    }

    /// The spec and the decision remembered for `asked`, if it holds at `now_ms`; a stale one is dropped.
    fn find(
        &self,
        asked: &Asked<'_>,
        stamps: &ChangeStamps,
        now_ms: u64,
        unstamped: Option<std::time::Duration>,
    ) -> Option<(Arc<Spec>, Arc<Entry>)> {
        let primary = PrimaryRef::of(asked);
        let spec = self.spec(primary)?;
        let parts = spec.parts(asked);
        let key = KeyRef::Decision(parts.key(primary));
        let Some(Held::Decision(entry)) = self.items.get(&key) else {
            return None;
        };
        if entry.holds(stamps, now_ms, unstamped) {
            return Some((spec, entry));
        }
        self.drop_decision(key);
        bump(&self.counters.invalidated);
        None
    }

    /// The answer to `asked` from a remembered decision, when it can be given whole without awaiting: the
    /// guest's response, or an object the storage holds in memory. This thread's front answers when it
    /// keeps a copy that still holds; otherwise the cache does, and the front keeps a copy. Counts nothing
    /// (the caller counts a hit with [`DecisionCache::count_hit`]) but the memory tier's hit.
    pub fn answer_at_once(
        &self,
        asked: &Asked<'_>,
        storage: &dyn Storage,
        is_head: bool,
    ) -> Option<Response<ResponseBody>> {
        let stamps = storage.stamps()?;
        let now_ms = now_ms();
        let unstamped = storage.unstamped_change_bound();
        if let Some((response, from_memory)) = self.fronts.answer(asked, stamps, now_ms, unstamped)
        {
            if from_memory {
                storage.count_memory_hit();
            }
            return Some(response);
        }
        let (spec, entry) = self.find(asked, stamps, now_ms, unstamped)?;
        let (whole, object) = match &entry.replay {
            Replay::Respond(prepared) => (prepared.whole(is_head), None),
            Replay::Serve { serving } => {
                // Taken before the object is read: a change after it moves the stamp.
                let stamp = stamps.key(serving.key());
                let (whole, expires_at) = outcome::whole_from_memory(storage, serving, is_head)?;
                (whole, Some(front::Object::new(stamp, expires_at)))
            }
            Replay::Wait(_) => return None,
        };
        let response = whole.response();
        self.fronts
            .keep(asked, spec, entry, whole.copied(), object, &self.counters);
        Some(response)
    }

    /// Counts a request answered by [`DecisionCache::answer_at_once`] (which a caller may instead hand on to
    /// [`DecisionCache::replay`], which counts its own).
    pub fn count_hit(&self) {
        self.counters.hits.add(1);
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
            hits: self.counters.hits.get(),
            misses: get(&self.counters.misses),
            invalidated: get(&self.counters.invalidated),
            stored: get(&self.counters.stored),
            evicted: get(&self.counters.evicted),
            entries: u64::try_from(self.counters.held.load(Ordering::Relaxed)).unwrap_or(0),
            bytes: self.items.weight(),
            front_bytes: u64::try_from(self.counters.front_bytes.load(Ordering::Relaxed))
                .unwrap_or(0),
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
        held.retire();
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

    /// The body of `response`, whole.
    async fn body_of(response: Response<ResponseBody>) -> Vec<u8> {
        use http_body_util::BodyExt;
        let collected = response.into_body().collect().await.expect("body");
        collected.to_bytes().to_vec()
    }

    /// `decided` answering with `body` instead.
    fn answering(mut decided: Decided, body: &str) -> Decided {
        if let abi::Outcome::Respond(response) = &mut decided.decision.outcome {
            response.body = body.as_bytes().to_vec();
        }
        decided
    }

    #[tokio::test]
    async fn a_front_answers_again_only_while_its_decision_is_the_caches() {
        let dir = tempfile::tempdir().expect("temp dir");
        let tiers = Tiers::open(dir.path(), TierSettings::default()).expect("tiers");
        let cache = DecisionCache::new(8 << 20);
        let headers = HeaderMap::new();
        let request = asked("live/a.m3u8", &headers);
        let first = answering(not_found("live/a.m3u8", &tiers), "first");
        cache.remember(&request, &first, now_ms(), &tiers);
        let answered = cache.answer_at_once(&request, &tiers, false);
        assert_eq!(body_of(answered.expect("from the cache")).await, b"first");
        assert!(cache.stats().front_bytes > 0, "no copy kept");
        let again = cache.answer_at_once(&request, &tiers, false);
        assert_eq!(body_of(again.expect("from the front")).await, b"first");
        // A newer decision for the same request replaces the one the front copied.
        let newer = answering(not_found("live/a.m3u8", &tiers), "newer");
        cache.remember(&request, &newer, now_ms(), &tiers);
        let replaced = cache.answer_at_once(&request, &tiers, false);
        assert_eq!(body_of(replaced.expect("the newer one")).await, b"newer");
        let kept = cache.answer_at_once(&request, &tiers, false);
        assert_eq!(body_of(kept.expect("the newer one")).await, b"newer");
        // A change of what it read ends both the decision and its copy.
        tiers.announce_change("live/a.m3u8");
        assert!(cache.answer_at_once(&request, &tiers, false).is_none());
        // Dropped from the cache: a copy of a decision the cache no longer holds is not used.
        let decided = answering(not_found("live/a.m3u8", &tiers), "first");
        cache.remember(&request, &decided, now_ms(), &tiers);
        assert!(cache.answer_at_once(&request, &tiers, false).is_some());
        let primary = PrimaryRef::of(&request);
        let spec = cache.spec(primary).expect("spec");
        assert!(cache.drop_decision(KeyRef::Decision(spec.parts(&request).key(primary))));
        assert!(cache.answer_at_once(&request, &tiers, false).is_none());
    }

    #[tokio::test]
    async fn a_front_copy_of_an_object_holds_only_while_the_object_is_unchanged() {
        let dir = tempfile::tempdir().expect("temp dir");
        let settings = TierSettings {
            memory_bytes: 8 << 20,
            ..TierSettings::default()
        };
        let tiers = Arc::new(Tiers::open(dir.path(), settings).expect("tiers"));
        let put = |body: &'static [u8]| {
            let tiers = Arc::clone(&tiers);
            async move {
                let mut writer = tiers
                    .writer("vod/a.ts", strata_tiers::NewObject::default(), 1 << 20)
                    .await
                    .expect("writer");
                writer
                    .write(bytes::Bytes::from_static(body))
                    .await
                    .expect("write");
                writer.commit().await.expect("commit")
            }
        };
        let stored = put(b"first").await;
        let cache = DecisionCache::new(8 << 20);
        let headers = HeaderMap::new();
        let request = asked("vod/a.ts", &headers);
        // A guest that serves the object without reading it: only the object's own version guards it.
        let serve = Decided {
            decision: abi::Decision {
                outcome: abi::Outcome::Serve(abi::ServePlan {
                    key: "vod/a.ts".into(),
                    status: 200,
                    range: None,
                    etag: stored.etag.clone(),
                    headers: vec![("content-type".into(), "video/mp2t".into())],
                    prefetch: Vec::new(),
                }),
                reuse: not_found("vod/a.ts", &tiers).decision.reuse,
            },
            reads: ReadSet::default(),
        };
        cache.remember(&request, &serve, now_ms(), tiers.as_ref());
        let hits = tiers.stats().memory_hits;
        for _ in 0..2 {
            let answered = cache.answer_at_once(&request, tiers.as_ref(), false);
            assert_eq!(body_of(answered.expect("from memory")).await, b"first");
        }
        assert_eq!(
            tiers.stats().memory_hits,
            hits + 2,
            "each answer is a memory hit"
        );
        assert!(cache.stats().front_bytes > 0, "no copy kept");
        put(b"second").await;
        assert!(
            cache
                .answer_at_once(&request, tiers.as_ref(), false)
                .is_none(),
            "answered with the version the decision named after it was overwritten"
        );
    }
}
