//! What the rest of the host sees of storage: a narrow trait, so another backend (a shared object store
//! behind the local tiers, a map in tests) slots in behind it. The guest runtime needs only [`StorageRead`]
//! (metadata, small objects, listings); the HTTP side needs all of [`Storage`]. Async methods return boxed
//! futures so both traits can be used as `dyn` objects.
//!
//! Optional abilities have defaults (like pingora's storage trait), so a backend implements only what it
//! has: `prefetch` does nothing, `stats` reports nothing.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::future::BoxFuture;

use super::{
    ChangeStamps, NewObject, ObjectMeta, ObjectWriter, OpenedObject, ReadError, TierError,
    TierStats, Tiers,
};

/// Most keys one filtered listing looks at under its prefix (listings of playlists look only at
/// playlists, `index.rs`).
pub const SCAN_LIMIT: usize = 10_000;

/// Reading metadata and small objects: all a guest may do.
pub trait StorageRead: Send + Sync {
    /// Metadata of the current version of `key`, an upload in progress included (`complete` false).
    /// Asynchronous because a shared backend may have to ask its store.
    fn head<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Option<Arc<ObjectMeta>>>;

    /// The whole of `key` if it is complete and at most `max_bytes` long.
    fn read_small<'a>(
        &'a self,
        key: &'a str,
        max_bytes: u64,
    ) -> BoxFuture<'a, Result<Bytes, ReadError>>;

    /// Up to `limit` keys starting with `prefix` and ending with one of `suffixes` (ASCII
    /// case-insensitive; none: any ending), in lexical order.
    /// Asynchronous because a shared backend may have to list its store.
    fn list<'a>(
        &'a self,
        prefix: &'a str,
        suffixes: &'a [String],
        limit: usize,
    ) -> BoxFuture<'a, Vec<String>>;

    /// The change stamps every change of this storage moves (`stamps.rs`), so a caller can tell later
    /// whether what it read has changed; `None` when this storage cannot promise that, and then nothing read
    /// through it is reused.
    fn stamps(&self) -> Option<&ChangeStamps> {
        None
    }

    /// Longest a change made elsewhere can stay unseen by [`StorageRead::stamps`] (a shared store changed
    /// behind this node's back); `None` when every change moves them at once.
    fn unstamped_change_bound(&self) -> Option<Duration> {
        None
    }
}

/// Whether `current`, the version of a watched key now, ends a [`Storage::watch`] that waits for an entity
/// tag other than `unless_etag` (or for any version, if `None`): the one rule every backend's watch uses.
pub fn ends_watch(current: Option<&ObjectMeta>, unless_etag: Option<&str>) -> bool {
    current.is_some_and(|meta| unless_etag != Some(meta.etag.as_str()))
}

/// Everything the HTTP side does with objects.
pub trait Storage: StorageRead {
    /// Opens the current version of `key` for reading (from memory, disk, or an upload in progress).
    fn open<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<OpenedObject>, TierError>>;

    /// The current version of `key` if it has entity tag `etag` and this storage holds it complete in
    /// memory and can hand it over without waiting (so a remembered decision is answered without
    /// awaiting); `None` says only "use [`Storage::open`]".
    fn open_in_memory(&self, _key: &str, _etag: &str) -> Option<OpenedObject> {
        None
    }

    /// Counts a read answered from a copy of what [`Storage::open_in_memory`] handed over earlier (a
    /// connection thread's own copy of a small object) as the memory hit it stands for.
    fn count_memory_hit(&self) {}

    /// Waits until `key` exists with an entity tag other than `unless_etag` (any, if `None`), or
    /// `timeout`; returns how long it waited.
    fn watch<'a>(
        &'a self,
        key: &'a str,
        unless_etag: Option<&'a str>,
        timeout: Duration,
    ) -> BoxFuture<'a, Duration>;

    /// Starts storing a new version of `key`, current once its writer commits.
    fn store(
        self: Arc<Self>,
        key: String,
        spec: NewObject,
        max_bytes: u64,
    ) -> BoxFuture<'static, Result<Box<dyn Writer>, TierError>>;

    /// Removes `key`; `false` if there was nothing to remove.
    fn delete<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<bool, TierError>>;

    /// Warms `key` into the fastest tier ahead of its request: a hint, never an error.
    fn prefetch<'a>(&'a self, key: &'a str) -> BoxFuture<'a, ()> {
        let _ = key;
        Box::pin(async {})
    }

    /// Contents and running totals, for metrics.
    fn stats(&self) -> TierStats {
        TierStats::default()
    }

    /// The services this storage depends on (a cluster's object store and change feed), for the health
    /// route and the metrics; none for local tiers.
    fn services(&self) -> Vec<ServiceHealth> {
        Vec::new()
    }
}

/// How a service a storage backend depends on is doing.
#[derive(Debug, Clone, PartialEq)]
pub struct ServiceHealth {
    /// Its role: `store` or `feed`.
    pub name: &'static str,
    /// Whether its last request succeeded (the feed: whether it is connected).
    pub reachable: bool,
    /// Requests made to it.
    pub requests: u64,
    /// Requests that failed.
    pub errors: u64,
    /// Time spent in its requests, in seconds.
    pub latency_seconds: f64,
    /// The last failure, in one line; empty if none.
    pub last_error: String,
}

/// A new version being written.
pub trait Writer: Send {
    /// Appends a chunk of the body.
    fn write(&mut self, chunk: Bytes) -> BoxFuture<'_, Result<(), TierError>>;

    /// Makes the version current once it is safely stored.
    fn commit(self: Box<Self>) -> BoxFuture<'static, Result<Arc<ObjectMeta>, TierError>>;
}

impl StorageRead for Tiers {
    fn head<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Option<Arc<ObjectMeta>>> {
        Box::pin(std::future::ready(Tiers::head(self, key)))
    }

    fn read_small<'a>(
        &'a self,
        key: &'a str,
        max_bytes: u64,
    ) -> BoxFuture<'a, Result<Bytes, ReadError>> {
        Box::pin(Tiers::read_small(self, key, max_bytes))
    }

    fn list<'a>(
        &'a self,
        prefix: &'a str,
        suffixes: &'a [String],
        limit: usize,
    ) -> BoxFuture<'a, Vec<String>> {
        let keys = if suffixes.is_empty() {
            Tiers::list(self, prefix, limit)
        } else {
            self.list_ending(prefix, suffixes, limit, SCAN_LIMIT)
        };
        Box::pin(std::future::ready(keys))
    }

    fn stamps(&self) -> Option<&ChangeStamps> {
        Some(Tiers::stamps(self))
    }
}

impl Storage for Tiers {
    fn open<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<OpenedObject>, TierError>> {
        Box::pin(self.open_object(key))
    }

    fn open_in_memory(&self, key: &str, etag: &str) -> Option<OpenedObject> {
        Tiers::open_in_memory(self, key, etag)
    }

    fn count_memory_hit(&self) {
        Tiers::count_memory_hit(self);
    }

    fn watch<'a>(
        &'a self,
        key: &'a str,
        unless_etag: Option<&'a str>,
        timeout: Duration,
    ) -> BoxFuture<'a, Duration> {
        Box::pin(self.wait_for_change(key, unless_etag, timeout))
    }

    fn store(
        self: Arc<Self>,
        key: String,
        spec: NewObject,
        max_bytes: u64,
    ) -> BoxFuture<'static, Result<Box<dyn Writer>, TierError>> {
        Box::pin(async move {
            let writer = self.writer(&key, spec, max_bytes).await?;
            Ok(Box::new(writer) as Box<dyn Writer>)
        })
    }

    fn delete<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<bool, TierError>> {
        Box::pin(Tiers::delete(self, key))
    }

    fn prefetch<'a>(&'a self, key: &'a str) -> BoxFuture<'a, ()> {
        Box::pin(Tiers::prefetch(self, key))
    }

    fn stats(&self) -> TierStats {
        Tiers::stats(self)
    }
}

impl Writer for ObjectWriter {
    fn write(&mut self, chunk: Bytes) -> BoxFuture<'_, Result<(), TierError>> {
        Box::pin(ObjectWriter::write(self, chunk))
    }

    fn commit(self: Box<Self>) -> BoxFuture<'static, Result<Arc<ObjectMeta>, TierError>> {
        Box::pin(ObjectWriter::commit(*self))
    }
}
