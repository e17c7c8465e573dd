//! What this node knows of the cluster's objects, and how long it may trust it.
//!
//! The store holds the truth; the feed tells every node of each change as it happens. While the feed is
//! up, what a node learned since it last connected is current (changes by tools that bypass Strata are
//! picked up within [`TRUST_WITH_FEED`]); while it is down, or for what was learned before a reconnect
//! (messages may have been missed), an answer older than [`STALE_BOUND`] is checked with the store again.
//! Versions only move forward: a version older than one already known, or than a removal, is ignored, so a
//! node never serves a version older than one it has served.

use std::collections::HashMap;
use std::num::NonZeroUsize;
use std::sync::Arc;
use std::time::{Duration, Instant};

use strata_tiers::{Index, ObjectMeta, Placement};

/// How long an answer is trusted when the feed cannot vouch for it: the staleness bound of a node that
/// lost its feed.
pub const STALE_BOUND: Duration = Duration::from_secs(1);

/// How long an answer is trusted while the feed is up (for changes made behind Strata's back).
pub const TRUST_WITH_FEED: Duration = Duration::from_secs(30);

/// How long a removal is remembered, so a late message or store answer cannot bring the key back.
const REMOVAL_MEMORY: Duration = Duration::from_secs(60);

/// Most keys remembered as absent from the store (answers to GETs of keys nobody wrote).
const NEGATIVE_CAPACITY: usize = 65_536;

/// Where a piece of knowledge came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// This node wrote it.
    Own,
    /// Another node said so through the feed.
    Peer,
    /// The store answered.
    Store,
}

/// The state of the feed, as the catalog needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FeedState {
    /// Counts the feed's connections: knowledge from an earlier connection may have missed messages.
    pub epoch: u64,
    /// Whether the feed is connected now.
    pub up: bool,
}

/// What the catalog says of a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Known {
    /// This version is current.
    Present(Arc<ObjectMeta>),
    /// There is no object.
    Absent,
    /// Ask the store.
    Unknown,
}

#[derive(Debug, Clone, Copy)]
struct Checked {
    at: Instant,
    epoch: u64,
    source: Source,
}

#[derive(Debug, Clone, Copy)]
struct Removal {
    seq: u64,
    checked: Checked,
}

/// Keys → what is known of them.
#[derive(Debug)]
pub struct Catalog {
    present: Index,
    checked: HashMap<String, Checked>,
    removed: HashMap<String, Removal>,
    not_in_store: lru::LruCache<String, Checked>,
    listed: HashMap<String, Checked>,
}

impl Default for Catalog {
    fn default() -> Self {
        Catalog {
            present: Index::default(),
            checked: HashMap::new(),
            removed: HashMap::new(),
            not_in_store: lru::LruCache::new(
                NonZeroUsize::new(NEGATIVE_CAPACITY).unwrap_or(NonZeroUsize::MIN),
            ),
            listed: HashMap::new(),
        }
    }
}

fn trusted(checked: Checked, feed: FeedState, now: Instant) -> bool {
    let age = now.saturating_duration_since(checked.at);
    if feed.up && checked.epoch == feed.epoch {
        age < TRUST_WITH_FEED
    } else {
        age < STALE_BOUND
    }
}

impl Catalog {
    /// What is known of `key` and may still be trusted.
    pub fn lookup(&mut self, key: &str, feed: FeedState, now: Instant, unix_now: u64) -> Known {
        if let Some(meta) = self.present.get(key).cloned() {
            let checked = self.checked[key];
            if meta.expired(unix_now) {
                return Known::Absent;
            }
            if meta.placement == Placement::Memory {
                // Not in the store: this node's own, or a peer's copy valid while no message was missed.
                return match checked.source == Source::Own || checked.epoch == feed.epoch {
                    true => Known::Present(meta),
                    false => {
                        self.forget(key, meta.seq);
                        Known::Absent
                    }
                };
            }
            return match trusted(checked, feed, now) {
                true => Known::Present(meta),
                false => Known::Unknown,
            };
        }
        if let Some(removal) = self.removed.get(key)
            && trusted(removal.checked, feed, now)
        {
            return Known::Absent;
        }
        match self.not_in_store.get(key) {
            Some(checked) if trusted(*checked, feed, now) => Known::Absent,
            _ => Known::Unknown,
        }
    }

    /// The version current for `key`, if any, trusted or not.
    pub fn current(&self, key: &str) -> Option<&Arc<ObjectMeta>> {
        self.present.get(key)
    }

    /// Records that `meta` is current, unless a newer version or removal is known; returns whether it
    /// became (or stayed) current. Learning the current version again renews the trust in it.
    pub fn learn(
        &mut self,
        meta: Arc<ObjectMeta>,
        source: Source,
        feed: FeedState,
        now: Instant,
    ) -> bool {
        let checked = Checked {
            at: now,
            epoch: feed.epoch,
            source,
        };
        if self
            .removed
            .get(&meta.key)
            .is_some_and(|r| r.seq >= meta.seq)
        {
            return false;
        }
        match self.present.get(&meta.key) {
            Some(current) if current.seq > meta.seq => return false,
            Some(current) if current.seq == meta.seq => {
                let entry = self.checked.entry(meta.key.clone()).or_insert(checked);
                entry.at = now;
                entry.epoch = feed.epoch;
                return true;
            }
            _ => {}
        }
        self.removed.remove(&meta.key);
        self.not_in_store.pop(&meta.key);
        self.checked.insert(meta.key.clone(), checked);
        self.present.insert(meta);
        true
    }

    /// Records that `meta` is current whatever this node knew of `key`: the store holds it as its last
    /// write. Returns the version it replaced, if any.
    pub fn adopt(
        &mut self,
        meta: Arc<ObjectMeta>,
        source: Source,
        feed: FeedState,
        now: Instant,
    ) -> Option<Arc<ObjectMeta>> {
        let key = meta.key.clone();
        self.removed.remove(&key);
        self.checked.remove(&key);
        let replaced = self.present.remove(&key).filter(|old| old.seq != meta.seq);
        self.learn(meta, source, feed, now);
        replaced
    }

    /// Records that `key` was removed at `seq`; returns the version it removed, if any.
    pub fn remove(
        &mut self,
        key: &str,
        seq: u64,
        source: Source,
        feed: FeedState,
        now: Instant,
    ) -> Option<Arc<ObjectMeta>> {
        if self
            .present
            .get(key)
            .is_some_and(|current| current.seq > seq)
        {
            return None;
        }
        let checked = Checked {
            at: now,
            epoch: feed.epoch,
            source,
        };
        self.removed
            .insert(key.to_owned(), Removal { seq, checked });
        self.checked.remove(key);
        self.present.remove(key)
    }

    /// Records the store's answer to a question asked at `asked_at`: `found`, or no object. Ignored when
    /// something newer was learned meanwhile (a message, this node's own write). Returns the version the
    /// answer replaced or removed here, if any (its local copy is stale).
    pub fn learn_from_store(
        &mut self,
        key: &str,
        found: Option<Arc<ObjectMeta>>,
        asked_at: Instant,
        feed: FeedState,
        now: Instant,
    ) -> Option<Arc<ObjectMeta>> {
        let newer = self
            .checked
            .get(key)
            .map(|c| c.at)
            .into_iter()
            .chain(self.removed.get(key).map(|r| r.checked.at));
        if newer.into_iter().any(|at| at > asked_at) {
            return None;
        }
        match found {
            // The store's answer is its last write: it wins over what this node knew before asking, unless
            // that is a memory-only version (never in the store) newer than the stored one.
            Some(meta) => match self.present.get(key) {
                Some(current)
                    if current.placement == Placement::Memory && current.seq > meta.seq =>
                {
                    None
                }
                _ => self.adopt(meta, Source::Store, feed, now),
            },
            None => {
                let checked = Checked {
                    at: now,
                    epoch: feed.epoch,
                    source: Source::Store,
                };
                self.not_in_store.put(key.to_owned(), checked);
                match self.present.get(key) {
                    // Memory-only versions are never in the store.
                    Some(current) if current.placement == Placement::Memory => None,
                    Some(_) => {
                        self.checked.remove(key);
                        self.present.remove(key)
                    }
                    None => None,
                }
            }
        }
    }

    /// Forgets `key`'s version `seq` (its only copy is gone).
    pub fn forget(&mut self, key: &str, seq: u64) {
        if self.present.get(key).is_some_and(|m| m.seq == seq) {
            self.present.remove(key);
            self.checked.remove(key);
        }
    }

    /// Up to `limit` current keys under `prefix` ending with one of `suffixes` (any ending if none).
    pub fn list(
        &self,
        prefix: &str,
        suffixes: &[String],
        limit: usize,
        scan: usize,
    ) -> Vec<String> {
        match suffixes.is_empty() {
            true => self.present.list(prefix, limit),
            false => self.present.list_ending(prefix, suffixes, limit, scan),
        }
    }

    /// Whether `prefix` must be listed from the store before a listing of it is complete.
    pub fn needs_listing(&self, prefix: &str, feed: FeedState, now: Instant) -> bool {
        !self
            .listed
            .get(prefix)
            .is_some_and(|checked| trusted(*checked, feed, now))
    }

    /// Records that `prefix` was listed from the store, starting at `asked_at`.
    pub fn listed(&mut self, prefix: &str, asked_at: Instant, feed: FeedState) {
        self.listed.insert(
            prefix.to_owned(),
            Checked {
                at: asked_at,
                epoch: feed.epoch,
                source: Source::Store,
            },
        );
    }

    /// Drops removals old enough to forget, listings too old to trust, and expired versions.
    pub fn sweep(&mut self, now: Instant, unix_now: u64) {
        self.removed
            .retain(|_, r| now.saturating_duration_since(r.checked.at) < REMOVAL_MEMORY);
        self.listed
            .retain(|_, c| now.saturating_duration_since(c.at) < TRUST_WITH_FEED);
        let expired: Vec<Arc<ObjectMeta>> = self
            .present
            .values()
            .filter(|m| m.expired(unix_now))
            .cloned()
            .collect();
        for meta in expired {
            self.forget(&meta.key, meta.seq);
        }
    }

    /// How many versions are known current.
    pub fn len(&self) -> usize {
        self.present.len()
    }

    /// Whether no version is known current.
    pub fn is_empty(&self) -> bool {
        self.present.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const UP: FeedState = FeedState { epoch: 1, up: true };
    const DOWN: FeedState = FeedState {
        epoch: 1,
        up: false,
    };
    const RECONNECTED: FeedState = FeedState { epoch: 2, up: true };

    fn meta(key: &str, seq: u64, placement: Placement) -> Arc<ObjectMeta> {
        Arc::new(ObjectMeta {
            key: key.into(),
            size: 1,
            content_type: String::new(),
            etag: format!("\"{seq}\""),
            last_modified: 0,
            cache_control: None,
            metadata: Vec::new(),
            seq,
            placement,
            expires_at: None,
            complete: true,
        })
    }

    #[test]
    fn versions_only_move_forward() {
        let mut c = Catalog::default();
        let now = Instant::now();
        assert!(c.learn(meta("k", 5, Placement::Durable), Source::Peer, UP, now));
        assert!(!c.learn(meta("k", 4, Placement::Durable), Source::Store, UP, now));
        assert_eq!(
            c.lookup("k", UP, now, 0),
            Known::Present(meta("k", 5, Placement::Durable))
        );
        assert!(c.remove("k", 6, Source::Peer, UP, now).is_some());
        assert!(!c.learn(meta("k", 5, Placement::Durable), Source::Store, UP, now));
        assert_eq!(c.lookup("k", UP, now, 0), Known::Absent);
        assert!(c.learn(meta("k", 7, Placement::Durable), Source::Peer, UP, now));
    }

    #[test]
    fn without_the_feed_answers_are_checked_again_after_the_bound() {
        let mut c = Catalog::default();
        let then = Instant::now();
        c.learn(meta("k", 5, Placement::Durable), Source::Peer, UP, then);
        let later = then + STALE_BOUND + Duration::from_millis(1);
        assert!(matches!(c.lookup("k", UP, later, 0), Known::Present(_)));
        assert_eq!(c.lookup("k", DOWN, later, 0), Known::Unknown);
        assert_eq!(c.lookup("k", RECONNECTED, later, 0), Known::Unknown);
        assert!(matches!(c.lookup("k", DOWN, then, 0), Known::Present(_)));
    }

    #[test]
    fn a_store_answer_older_than_what_was_learned_is_ignored() {
        let mut c = Catalog::default();
        let asked = Instant::now();
        let learned = asked + Duration::from_millis(5);
        c.learn(meta("k", 5, Placement::Durable), Source::Own, UP, learned);
        assert!(c.learn_from_store("k", None, asked, UP, learned).is_none());
        assert!(matches!(c.lookup("k", UP, learned, 0), Known::Present(_)));
        let asked_after = learned + Duration::from_millis(1);
        assert!(
            c.learn_from_store("k", None, asked_after, UP, asked_after)
                .is_some()
        );
        assert_eq!(c.lookup("k", UP, asked_after, 0), Known::Absent);
    }

    #[test]
    fn a_peer_memory_object_is_dropped_after_a_reconnect_and_an_own_one_is_not() {
        let mut c = Catalog::default();
        let now = Instant::now();
        c.learn(meta("peer", 5, Placement::Memory), Source::Peer, UP, now);
        c.learn(meta("own", 6, Placement::Memory), Source::Own, UP, now);
        let later = now + TRUST_WITH_FEED * 2;
        assert!(matches!(
            c.lookup("peer", DOWN, later, 0),
            Known::Present(_)
        ));
        assert_eq!(c.lookup("peer", RECONNECTED, later, 0), Known::Absent);
        assert!(matches!(
            c.lookup("own", RECONNECTED, later, 0),
            Known::Present(_)
        ));
        assert!(
            c.learn_from_store("own", None, later, RECONNECTED, later)
                .is_none()
        );
        assert!(matches!(
            c.lookup("own", RECONNECTED, later, 0),
            Known::Present(_)
        ));
    }

    #[test]
    fn expired_versions_read_as_absent_and_leave_the_catalog() {
        let mut c = Catalog::default();
        let now = Instant::now();
        let mut m = (*meta("k", 5, Placement::Durable)).clone();
        m.expires_at = Some(100);
        c.learn(Arc::new(m), Source::Own, UP, now);
        assert!(matches!(c.lookup("k", UP, now, 99), Known::Present(_)));
        assert_eq!(c.lookup("k", UP, now, 100), Known::Absent);
        c.sweep(now, 100);
        assert_eq!(c.len(), 0);
    }

    #[test]
    fn the_store_last_write_wins_over_a_higher_sequence() {
        let mut c = Catalog::default();
        let now = Instant::now();
        c.learn(meta("k", 11, Placement::Durable), Source::Own, UP, now);
        c.remove("j", 20, Source::Peer, UP, now);
        assert!(!c.learn(meta("k", 10, Placement::Durable), Source::Peer, UP, now));
        let replaced = c.adopt(meta("k", 10, Placement::Durable), Source::Peer, UP, now);
        assert_eq!(replaced.map(|m| m.seq), Some(11));
        assert_eq!(c.current("k").map(|m| m.seq), Some(10));
        c.adopt(meta("j", 15, Placement::Durable), Source::Peer, UP, now);
        assert_eq!(
            c.current("j").map(|m| m.seq),
            Some(15),
            "over a later removal"
        );
        let later = now + Duration::from_millis(1);
        c.learn_from_store(
            "k",
            Some(meta("k", 9, Placement::Durable)),
            later,
            UP,
            later,
        );
        assert_eq!(c.current("k").map(|m| m.seq), Some(9), "the store's answer");
    }

    #[test]
    fn keys_not_in_the_store_are_asked_for_again_after_the_bound() {
        let mut c = Catalog::default();
        let now = Instant::now();
        c.learn_from_store("k", None, now, UP, now);
        assert_eq!(c.lookup("k", UP, now, 0), Known::Absent);
        assert_eq!(c.lookup("k", UP, now + STALE_BOUND, 0), Known::Absent);
        assert_eq!(c.lookup("k", DOWN, now + STALE_BOUND, 0), Known::Unknown);
    }
}
