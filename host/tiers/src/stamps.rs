//! Change stamps: a counter per key and per listing prefix, moved on every change, so whoever remembers
//! what it read (the decision cache of the HTTP side) can tell with a few atomic loads whether any of it
//! changed since, with no subscription and no index of who read what.
//!
//! Counters live in fixed tables indexed by a hash of the key (or prefix): unrelated keys may share a slot,
//! which only makes a reader see a change that did not happen, never miss one. A change of `a/b/c.ts`
//! moves the slot of that key and the listing slot of every prefix of it (`""`, `a`, `a/`, ... the key
//! itself), so a listing of any prefix that could include the key sees it.
//!
//! Order: a reader takes the stamp *before* reading; a writer moves it *after* its change is visible. A
//! reader that saw the old content therefore sees a moved stamp later.

use std::sync::atomic::{AtomicU64, Ordering};

/// Slots per table: 16 Ki counters (128 KiB) keep chance collisions rare at thousands of writes a second.
const SLOTS: usize = 1 << 14;

/// The stamp tables of one storage.
#[derive(Debug)]
pub struct ChangeStamps {
    keys: Box<[AtomicU64]>,
    listings: Box<[AtomicU64]>,
}

/// What a reader saw of one slot before reading: compare it later with [`ChangeStamps::unchanged`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Stamp {
    listing: bool,
    slot: u32,
    value: u64,
}

impl Default for ChangeStamps {
    fn default() -> Self {
        let table = || (0..SLOTS).map(|_| AtomicU64::new(0)).collect();
        ChangeStamps {
            keys: table(),
            listings: table(),
        }
    }
}

impl ChangeStamps {
    /// The stamp of `key` now; take it before reading the key.
    pub fn key(&self, key: &str) -> Stamp {
        let slot = slot(fnv1a(FNV_OFFSET, key.as_bytes()));
        Stamp {
            listing: false,
            slot,
            value: self.keys[slot as usize].load(Ordering::SeqCst),
        }
    }

    /// The stamp of listings of `prefix` now; take it before listing.
    pub fn listing(&self, prefix: &str) -> Stamp {
        let slot = slot(fnv1a(FNV_OFFSET, prefix.as_bytes()));
        Stamp {
            listing: true,
            slot,
            value: self.listings[slot as usize].load(Ordering::SeqCst),
        }
    }

    /// Records that `key` changed (created, overwritten, removed, expired, began uploading); call once the
    /// change is visible to readers.
    pub fn mark(&self, key: &str) {
        let mut hash = FNV_OFFSET;
        self.listings[slot(hash) as usize].fetch_add(1, Ordering::SeqCst);
        for byte in key.as_bytes() {
            hash = fnv1a(hash, std::slice::from_ref(byte));
            self.listings[slot(hash) as usize].fetch_add(1, Ordering::SeqCst);
        }
        self.keys[slot(hash) as usize].fetch_add(1, Ordering::SeqCst);
    }

    /// Whether nothing `stamp` covers has changed since it was taken.
    pub fn unchanged(&self, stamp: &Stamp) -> bool {
        let table = if stamp.listing {
            &self.listings
        } else {
            &self.keys
        };
        table[stamp.slot as usize].load(Ordering::SeqCst) == stamp.value
    }
}

/// What one decision read through a storage, as stamps to compare later: the keys it looked up or read, the
/// prefixes it listed, and what makes it unfit to remember.
#[derive(Debug, Default, Clone)]
pub struct ReadSet {
    stamps: Vec<Stamp>,
    expires_at: Option<u64>,
    unrepeatable: bool,
}

impl ReadSet {
    /// Adds the stamp taken before a read.
    /// The same stamp twice in a row (a head then a read of one key) is kept once; [`ReadSet::compact`]
    /// removes the other repeats, so a guest reading thousands of keys costs no quadratic time.
    pub fn add(&mut self, stamp: Stamp) {
        if self.stamps.last() != Some(&stamp) {
            self.stamps.push(stamp);
        }
    }

    /// Keeps each stamp once, in as little memory as they need: for a cache about to keep the set.
    pub fn compact(&mut self) {
        self.stamps.sort_unstable();
        self.stamps.dedup();
        self.stamps.shrink_to_fit();
    }

    /// Notes the metadata a read returned: an object still uploading changes without a stamp moving (its
    /// size grows), so what read it cannot be repeated; an object with a lifetime bounds how long what read
    /// it holds (expiry is checked lazily and moves the stamp only when someone looks).
    pub fn saw(&mut self, meta: &crate::ObjectMeta) {
        if !meta.complete {
            self.unrepeatable = true;
        }
        if let Some(at) = meta.expires_at {
            self.expires_at = Some(self.expires_at.map_or(at, |earlier| earlier.min(at)));
        }
    }

    /// Marks the reads as impossible to check later (a storage without stamps).
    pub fn untracked(&mut self) {
        self.unrepeatable = true;
    }

    /// Whether the reads can be checked later with [`ChangeStamps::unchanged_all`].
    pub fn repeatable(&self) -> bool {
        !self.unrepeatable
    }

    /// The earliest expiry among the objects read, seconds since the Unix epoch.
    pub fn expires_at(&self) -> Option<u64> {
        self.expires_at
    }

    /// How many stamps it holds.
    pub fn len(&self) -> usize {
        self.stamps.len()
    }

    /// Bytes its stamps take, for a cache that keeps it.
    pub fn weight(&self) -> usize {
        self.stamps.capacity() * std::mem::size_of::<Stamp>()
    }

    /// Whether it holds no stamp (the decision read nothing).
    pub fn is_empty(&self) -> bool {
        self.stamps.is_empty()
    }
}

impl ChangeStamps {
    /// Whether nothing `reads` covers has changed since its stamps were taken.
    pub fn unchanged_all(&self, reads: &ReadSet) -> bool {
        reads.stamps.iter().all(|stamp| self.unchanged(stamp))
    }
}

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

/// FNV-1a, continued from `hash` over `bytes`. Written here because a change must hash every prefix of its
/// key in one pass, which needs a hash whose state after `n` bytes is the hash of those `n` bytes; std's
/// `Hasher`s do not promise that.
fn fnv1a(mut hash: u64, bytes: &[u8]) -> u64 {
    for byte in bytes {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(FNV_PRIME);
    }
    hash
}

fn slot(hash: u64) -> u32 {
    // The high bits mix best in FNV; SLOTS is a power of two below 2^32.
    ((hash >> 32) as u32) & (SLOTS as u32 - 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_change_moves_its_key_and_every_listing_that_could_hold_it() {
        let stamps = ChangeStamps::default();
        let key = stamps.key("live/a/index.m3u8");
        let other = stamps.key("live/b/index.m3u8");
        let listings: Vec<Stamp> = ["", "live/", "live/a", "live/a/", "live/a/index.m3u8"]
            .iter()
            .map(|p| stamps.listing(p))
            .collect();
        let elsewhere = stamps.listing("live/b/");
        stamps.mark("live/a/index.m3u8");
        assert!(!stamps.unchanged(&key));
        for listing in &listings {
            assert!(!stamps.unchanged(listing), "{listing:?}");
        }
        assert!(stamps.unchanged(&other));
        assert!(stamps.unchanged(&elsewhere));
    }

    #[test]
    fn a_key_stamp_is_not_a_listing_stamp() {
        let stamps = ChangeStamps::default();
        let listing = stamps.listing("live/x.ts");
        let key = stamps.key("live/x.ts");
        stamps.mark("live/x.tsv");
        // The listing of the prefix `live/x.ts` holds `live/x.tsv`; the key `live/x.ts` did not change.
        assert!(!stamps.unchanged(&listing));
        assert!(stamps.unchanged(&key));
    }

    #[test]
    fn a_read_set_keeps_each_stamp_once() {
        let stamps = ChangeStamps::default();
        let mut reads = ReadSet::default();
        for key in ["a", "a", "b", "a", "c", "b"] {
            reads.add(stamps.key(key));
        }
        reads.add(stamps.listing("a"));
        reads.compact();
        assert_eq!(reads.len(), 4);
        stamps.mark("c");
        assert!(!stamps.unchanged_all(&reads));
    }

    #[test]
    fn the_running_hash_is_the_hash_of_the_prefix() {
        let whole = fnv1a(FNV_OFFSET, b"live/a.ts");
        let stepwise = b"live/a.ts"
            .iter()
            .fold(FNV_OFFSET, |h, b| fnv1a(h, std::slice::from_ref(b)));
        assert_eq!(whole, stepwise);
    }
}
