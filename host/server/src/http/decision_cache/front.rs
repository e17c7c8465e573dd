//! Each connection thread's front of the decision cache (decision 0061): copies of the answers it gave
//! lately from remembered decisions, in a cache of its own, so a repeated read touches no memory another
//! thread writes. The shared cache and the memory tier take a lock and move a reference count on every
//! lookup, and with both threads reading the same playlist those counts bounce between the CPUs on every
//! request; a front's lookup is a plain hash lookup, and its copies' counts stay on one CPU.
//!
//! A front decides nothing: it keeps a copy only of an answer the shared cache gave, with the decision it
//! came from, and answers with it only while that decision is still the cache's (an item that leaves the
//! cache, by invalidation, replacement, eviction or the budget, is marked [`Retired`]) and still holds by
//! the same rules (`Entry::holds`). A copy of an object's answer also holds only while the object's key
//! is unchanged (its change stamp, taken before the object was read) and unexpired. Together the fronts
//! hold at most an eighth of the cache's budget, counted in the metrics.

use std::cell::RefCell;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use http::Response;
use quick_cache::unsync::Cache;
use quick_cache::{DefaultHashBuilder, Weighter};
use strata_tiers::ChangeStamps;
use strata_tiers::stamps::Stamp;

use super::super::body::ResponseBody;
use super::super::outcome::Whole;
use super::key::{Key, KeyRef, Primary, PrimaryRef, Spec};
use super::{Asked, Counters, Entry};

/// Set once an item has left the shared cache, so the fronts that keep it stop answering with it.
#[derive(Debug, Default)]
pub struct Retired(AtomicBool);

impl Retired {
    /// Marks the item as gone from the shared cache.
    pub fn set(&self) {
        self.0.store(true, Ordering::Release);
    }

    fn is_set(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }
}

/// Whether an item is retired says nothing about what it is: equal specs stay equal.
impl PartialEq for Retired {
    fn eq(&self, _other: &Self) -> bool {
        true
    }
}

impl Eq for Retired {}

/// The object a kept answer was read from: it holds while the object's key has not changed since `stamp`
/// and the object has not expired.
#[derive(Debug)]
pub struct Object {
    stamp: Stamp,
    /// When the object expires, ms since the Unix epoch.
    expires_at_ms: Option<u64>,
}

impl Object {
    /// An object whose key had `stamp` before it was read, expiring at `expires_at` (seconds since the
    /// Unix epoch).
    pub fn new(stamp: Stamp, expires_at: Option<u64>) -> Object {
        Object {
            stamp,
            expires_at_ms: expires_at.map(|at| at.saturating_mul(1000)),
        }
    }

    fn holds(&self, stamps: &ChangeStamps, now_ms: u64) -> bool {
        self.expires_at_ms.is_none_or(|at| now_ms < at) && stamps.unchanged(&self.stamp)
    }
}

/// The fronts of one decision cache: which cache they belong to and what each may hold.
#[derive(Debug)]
pub struct Fronts {
    /// Tells this cache's fronts from another's on the same thread (tests run several origins).
    owner: u64,
    /// Bytes each thread's front may hold.
    budget: u64,
}

/// Owners handed out so far.
static OWNERS: AtomicU64 = AtomicU64::new(0);

thread_local! {
    static FRONT: RefCell<Option<Front>> = const { RefCell::new(None) };
}

impl Fronts {
    /// Fronts for a cache of `budget` bytes: an eighth of it, shared out among the connection threads.
    pub fn new(budget: u64) -> Fronts {
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get()) as u64;
        Fronts {
            owner: OWNERS.fetch_add(1, Ordering::Relaxed),
            budget: budget / 8 / threads,
        }
    }

    /// The answer this thread's front keeps for `asked`, if it still holds at `now_ms`, and whether it came
    /// from the memory tier; a copy that no longer holds is dropped.
    pub fn answer(
        &self,
        asked: &Asked<'_>,
        stamps: &ChangeStamps,
        now_ms: u64,
        unstamped: Option<Duration>,
    ) -> Option<(Response<ResponseBody>, bool)> {
        FRONT.with_borrow_mut(|front| {
            let front = front.as_mut().filter(|front| front.owner == self.owner)?;
            let primary = PrimaryRef::of(asked);
            let looked = match front.items.get(&KeyRef::Spec(primary)) {
                Some(Kept::Spec(spec)) if !spec.retired.is_set() => Ok(spec.parts(asked)),
                found => Err(found.is_some()),
            };
            let parts = match looked {
                Ok(parts) => parts,
                Err(stale) => {
                    if stale {
                        front.drop_item(&KeyRef::Spec(primary));
                    }
                    return None;
                }
            };
            let key = KeyRef::Decision(parts.key(primary));
            let Some(Kept::Answer(copy)) = front.items.get(&key) else {
                return None;
            };
            if copy.holds(stamps, now_ms, unstamped) {
                return Some((copy.whole.response(), copy.whole.came_from_memory()));
            }
            front.drop_item(&key);
            None
        })
    }

    /// Keeps `whole`, this thread's own copy of the answer `entry` (found under `spec`) gave to `asked`,
    /// in this thread's front; `object` is what it was read from, if an object.
    pub(super) fn keep(
        &self,
        asked: &Asked<'_>,
        spec: Arc<Spec>,
        entry: Arc<Entry>,
        whole: Whole,
        object: Option<Object>,
        counters: &Arc<Counters>,
    ) {
        if self.budget == 0 {
            return;
        }
        FRONT.with_borrow_mut(|slot| {
            if slot.as_ref().is_none_or(|front| front.owner != self.owner) {
                *slot = Some(Front::new(self, counters));
            }
            let Some(front) = slot.as_mut() else {
                return;
            };
            let before = front.items.weight();
            let primary = Primary::of(asked);
            let known = matches!(
                front.items.get(&KeyRef::Spec(PrimaryRef::of(asked))),
                Some(Kept::Spec(held)) if Arc::ptr_eq(held, &spec)
            );
            let key = Key::Decision(spec.key(asked));
            if !known {
                front.items.insert(Key::Spec(primary), Kept::Spec(spec));
            }
            let copy = KeptAnswer {
                entry,
                whole,
                object,
            };
            front.items.insert(key, Kept::Answer(Box::new(copy)));
            front.counted(before);
        });
    }
}

/// One thread's front.
struct Front {
    owner: u64,
    items: Cache<Key, Kept, Weight, DefaultHashBuilder>,
    /// The owner's counters, where the front's bytes are counted.
    counters: Arc<Counters>,
}

impl Front {
    fn new(fronts: &Fronts, counters: &Arc<Counters>) -> Front {
        let estimated = usize::try_from(fronts.budget / 4096)
            .unwrap_or(usize::MAX)
            .clamp(16, 1 << 16);
        Front {
            owner: fronts.owner,
            items: Cache::with(
                estimated,
                fronts.budget,
                Weight,
                DefaultHashBuilder::default(),
                Default::default(),
            ),
            counters: Arc::clone(counters),
        }
    }

    fn drop_item(&mut self, key: &KeyRef<'_>) {
        let before = self.items.weight();
        self.items.remove(key);
        self.counted(before);
    }

    /// Counts the change of its bytes since they were `before`.
    fn counted(&self, before: u64) {
        let now = i64::try_from(self.items.weight()).unwrap_or(i64::MAX);
        let before = i64::try_from(before).unwrap_or(i64::MAX);
        self.counters
            .front_bytes
            .fetch_add(now - before, Ordering::Relaxed);
    }
}

impl Drop for Front {
    fn drop(&mut self) {
        let held = i64::try_from(self.items.weight()).unwrap_or(i64::MAX);
        self.counters.front_bytes.fetch_sub(held, Ordering::Relaxed);
    }
}

/// What a front keeps under a [`Key`].
enum Kept {
    Spec(Arc<Spec>),
    Answer(Box<KeptAnswer>),
}

/// A kept answer and what it holds by.
struct KeptAnswer {
    entry: Arc<Entry>,
    whole: Whole,
    object: Option<Object>,
}

impl KeptAnswer {
    fn holds(&self, stamps: &ChangeStamps, now_ms: u64, unstamped: Option<Duration>) -> bool {
        !self.entry.retired.is_set()
            && self.entry.holds(stamps, now_ms, unstamped)
            && self
                .object
                .as_ref()
                .is_none_or(|object| object.holds(stamps, now_ms))
    }
}

/// Weighs what a front keeps: the key, and the spec, or the decision (kept alive by the copy) and the
/// copy's own bytes.
#[derive(Debug, Clone, Copy)]
struct Weight;

impl Weighter<Key, Kept> for Weight {
    fn weight(&self, key: &Key, kept: &Kept) -> u64 {
        let value = match kept {
            Kept::Spec(spec) => 16 + spec.weight(),
            Kept::Answer(copy) => {
                std::mem::size_of::<KeptAnswer>() + copy.entry.weight() + copy.whole.weight()
            }
        };
        (key.weight() + value) as u64
    }
}
