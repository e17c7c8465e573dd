//! Storage tiers, owned by the host: a memory tier under a byte budget in front of a durable disk tier,
//! with placement and lifetime chosen per key by rules (`placement.rs`).
//!
//! Durable and disk objects are on disk (synced and renamed into place) before `ObjectWriter::commit`
//! returns; durable ones are also kept hot, disk ones enter memory when read. Memory-only objects never
//! touch the disk and are lost when evicted. Uploads in progress are readable (`upload.rs`). Concurrent
//! reads of one cold object share one disk read. This module knows nothing of wasmtime.

mod byte_lru;
mod counters;
mod disk;
mod error;
mod index;
mod memory;
mod memory_only;
mod meta;
mod placement;
mod signals;
mod upload;
mod upload_memory;

use std::collections::HashMap;
use std::io;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::{Bytes, BytesMut};
use tokio::sync::OnceCell;

pub use counters::TierStats;
pub use error::TierError;
pub use memory::MemoryPolicy;
pub use meta::{NewObject, ObjectMeta};
pub use placement::{Placement, Policy, RuleConfig, RuleError, Rules, StorageConfig};
pub use upload::Upload;

use counters::Counters;
use disk::{DiskTier, DiskWrite};
use index::Index;
use memory::{Evicted, HotObject, MemoryTier};
use signals::Signals;
use upload_memory::{Held, UploadMemory};

/// The outcome of one shared disk read: the bytes, or the error's kind and text (io::Error is not Clone).
type SharedRead = Arc<OnceCell<Result<Bytes, (io::ErrorKind, String)>>>;

/// Locks `mutex`, ignoring poisoning: every update under these locks is a single map call, so a panic
/// cannot leave the data half-updated.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Seconds since the Unix epoch.
fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// How the tiers are sized and which rules place objects.
#[derive(Debug, Clone)]
pub struct TierSettings {
    /// Byte budget of the memory tier.
    pub memory_bytes: u64,
    /// Bytes uploads in progress may hold in memory (`upload_memory.rs`).
    pub upload_memory_bytes: u64,
    /// Byte budget of the disk tier; the filesystem's free space if `None`.
    pub disk_bytes: Option<u64>,
    /// Placement and lifetime rules.
    pub rules: Rules,
    /// Which objects the memory tier keeps when full.
    pub memory_policy: MemoryPolicy,
}

impl Default for TierSettings {
    fn default() -> Self {
        TierSettings {
            memory_bytes: 0,
            upload_memory_bytes: 512 << 20,
            disk_bytes: None,
            rules: Rules::default(),
            memory_policy: MemoryPolicy::default(),
        }
    }
}

/// The memory and disk tiers behind one interface.
#[derive(Debug)]
pub struct Tiers {
    index: Mutex<Index>,
    uploads: Mutex<HashMap<String, Arc<Upload>>>,
    reads: Mutex<HashMap<u64, SharedRead>>,
    memory: MemoryTier,
    disk: DiskTier,
    rules: Rules,
    disk_budget: Option<u64>,
    disk_used: AtomicU64,
    counters: Counters,
    last_seq: AtomicU64,
    signals: Signals,
    upload_memory: Arc<UploadMemory>,
}

/// The bytes of an opened object version.
#[derive(Debug)]
pub enum ObjectBody {
    /// Held in memory.
    Memory(Bytes),
    /// An open file whose first `size` bytes are the body.
    Disk(tokio::fs::File),
    /// An upload still arriving: read it with `Upload::reader`.
    Growing(Arc<Upload>),
}

/// One version of an object, opened for reading: it stays readable even if replaced meanwhile.
#[derive(Debug)]
pub struct OpenedObject {
    /// The version's metadata.
    pub meta: Arc<ObjectMeta>,
    /// Its bytes.
    pub body: ObjectBody,
}

/// Why a small-object read failed.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// No object under the key.
    #[error("no object")]
    NotFound,
    /// Larger than the caller accepts; carries the size.
    #[error("object is {0} bytes")]
    TooLarge(u64),
    /// The disk failed.
    #[error(transparent)]
    Tier(#[from] TierError),
}

impl Tiers {
    /// Opens the tiers under `data_dir`, recovering the disk index and dropping expired objects.
    pub fn open(data_dir: &Path, settings: TierSettings) -> Result<Self, TierError> {
        let started = Instant::now();
        let (disk, recovered) = DiskTier::open(data_dir)?;
        let last_seq = recovered.iter().map(|r| r.meta.seq).max().unwrap_or(0);
        let now = now_secs();
        let counters = Counters::default();
        let mut index = Index::default();
        let mut disk_used = 0;
        for found in recovered {
            if found.meta.expired(now) {
                let _ = std::fs::remove_file(&found.path);
                Counters::bump(&counters.expirations);
                continue;
            }
            disk_used += found.meta.size;
            index.insert(Arc::new(found.meta));
        }
        tracing::info!(
            objects = index.len(),
            elapsed_ms = started.elapsed().as_millis() as u64,
            "disk index recovered"
        );
        Ok(Tiers {
            index: Mutex::new(index),
            uploads: Mutex::default(),
            reads: Mutex::default(),
            memory: MemoryTier::new(settings.memory_bytes, settings.memory_policy),
            disk,
            rules: settings.rules,
            disk_budget: settings.disk_bytes,
            disk_used: AtomicU64::new(disk_used),
            counters,
            last_seq: AtomicU64::new(last_seq),
            signals: Signals::default(),
            upload_memory: UploadMemory::new(settings.upload_memory_bytes),
        })
    }

    fn index(&self) -> MutexGuard<'_, Index> {
        lock(&self.index)
    }

    fn uploads(&self) -> MutexGuard<'_, HashMap<String, Arc<Upload>>> {
        lock(&self.uploads)
    }

    /// Metadata of the current version of `key`: the last committed one, else an upload in progress
    /// (with `complete` false). An expired object is removed here and reads as absent.
    pub fn head(&self, key: &str) -> Option<Arc<ObjectMeta>> {
        let committed = self.index().get(key).cloned();
        if let Some(meta) = committed {
            if !meta.expired(now_secs()) {
                return Some(meta);
            }
            self.expire(&meta);
        }
        self.uploads()
            .get(key)
            .map(|upload| Arc::new(upload.meta()))
    }

    /// Up to `limit` keys starting with `prefix`, in lexical order.
    pub fn list(&self, prefix: &str, limit: usize) -> Vec<String> {
        self.index().list(prefix, limit)
    }

    /// Up to `limit` keys starting with `prefix` and ending with one of `suffixes` (ASCII case-insensitive),
    /// in lexical order, looking at no more than `scan` keys under `prefix` so a huge folder cannot hold
    /// the index for long; playlists are found from a side set without looking at segments (`index.rs`).
    pub fn list_ending(
        &self,
        prefix: &str,
        suffixes: &[String],
        limit: usize,
        scan: usize,
    ) -> Vec<String> {
        self.index().list_ending(prefix, suffixes, limit, scan)
    }

    /// Contents and running totals, for metrics.
    pub fn stats(&self) -> TierStats {
        let (objects, disk_objects) = {
            let index = self.index();
            let on_disk = index.values().filter(|m| m.placement.on_disk()).count();
            (index.len(), on_disk)
        };
        let mut stats = TierStats {
            objects,
            memory_objects: self.memory.objects(),
            memory_bytes: self.memory.bytes(),
            disk_objects,
            disk_bytes: self.disk_used.load(Ordering::Relaxed),
            upload_memory_bytes: self.upload_memory.used(),
            upload_memory_budget_bytes: self.upload_memory.budget(),
            uploads_refused: self.upload_memory.refused(),
            ..TierStats::default()
        };
        self.counters.fill(&mut stats);
        stats
    }

    /// Opens the current version of `key` for reading, or `None` if there is none.
    pub async fn open_object(&self, key: &str) -> Result<Option<OpenedObject>, TierError> {
        // A writer may replace the file between the index lookup and the open; the old file is then gone
        // and the index already names the new one, so look again.
        for _ in 0..8 {
            let Some(meta) = self.head(key) else {
                return Ok(None);
            };
            if !meta.complete {
                let upload = self.uploads().get(key).cloned();
                match upload {
                    Some(upload) if upload.seq() == meta.seq => {
                        return Ok(Some(OpenedObject {
                            meta,
                            body: ObjectBody::Growing(upload),
                        }));
                    }
                    _ => continue,
                }
            }
            if let Some(bytes) = self.memory.get(key, &meta.etag) {
                Counters::bump(&self.counters.memory_hits);
                return Ok(Some(OpenedObject {
                    meta,
                    body: ObjectBody::Memory(bytes),
                }));
            }
            Counters::bump(&self.counters.memory_misses);
            if !meta.placement.on_disk() {
                // Evicted between the lookup and now: it is gone.
                self.forget(key, meta.seq);
                continue;
            }
            if self.memory.admits(meta.size) {
                match self.read_shared(key, &meta).await? {
                    Some(bytes) => {
                        return Ok(Some(OpenedObject {
                            meta,
                            body: ObjectBody::Memory(bytes),
                        }));
                    }
                    None => {
                        Counters::bump(&self.counters.disk_misses);
                        continue;
                    }
                }
            }
            let path = self.disk.path_for(key, meta.seq);
            Counters::bump(&self.counters.disk_reads);
            match tokio::fs::File::open(&path).await {
                Ok(file) => {
                    Counters::bump(&self.counters.disk_hits);
                    return Ok(Some(OpenedObject {
                        meta,
                        body: ObjectBody::Disk(file),
                    }));
                }
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    Counters::bump(&self.counters.disk_misses);
                    continue;
                }
                Err(e) => return Err(TierError::io("open", path, e)),
            }
        }
        Ok(None)
    }

    /// Reads a whole small object from disk into memory, sharing one read among concurrent callers.
    /// `None` if its file is gone (replaced meanwhile).
    async fn read_shared(&self, key: &str, meta: &ObjectMeta) -> Result<Option<Bytes>, TierError> {
        let shared = Arc::clone(lock(&self.reads).entry(meta.seq).or_default());
        let path = self.disk.path_for(key, meta.seq);
        let mut led = false;
        let result = shared
            .get_or_init(|| async {
                led = true;
                // The previous leader promotes before it leaves the table, so a latecomer finds the bytes
                // here rather than reading the disk again.
                if let Some(bytes) = self.memory.get(key, &meta.etag) {
                    return Ok(bytes);
                }
                Counters::bump(&self.counters.disk_reads);
                match tokio::fs::read(&path).await {
                    Ok(mut bytes) => {
                        bytes.truncate(meta.size as usize);
                        let bytes = Bytes::from(bytes);
                        self.promote(key, meta, bytes.clone());
                        Ok(bytes)
                    }
                    Err(e) => Err((e.kind(), e.to_string())),
                }
            })
            .await
            .clone();
        {
            let mut reads = lock(&self.reads);
            if reads
                .get(&meta.seq)
                .is_some_and(|current| Arc::ptr_eq(current, &shared))
            {
                reads.remove(&meta.seq);
            }
        }
        if led {
            Counters::bump(&self.counters.disk_hits);
        } else {
            Counters::bump(&self.counters.coalesced_reads);
        }
        match result {
            Ok(bytes) => Ok(Some(bytes)),
            Err((io::ErrorKind::NotFound, _)) => Ok(None),
            Err((kind, reason)) => Err(TierError::io("read", path, io::Error::new(kind, reason))),
        }
    }

    /// Reads `key` from disk into memory ahead of its request (a player's CMCD `nor`), if it is complete,
    /// on disk, not in memory yet and small enough for the memory tier; otherwise does nothing. A failed
    /// read is only logged: a hint never fails anything.
    pub async fn prefetch(&self, key: &str) {
        let Some(meta) = self.head(key) else {
            return;
        };
        if !meta.complete
            || !meta.placement.on_disk()
            || !self.memory.admits(meta.size)
            || self.memory.get(key, &meta.etag).is_some()
        {
            return;
        }
        if let Err(e) = self.read_shared(key, &meta).await {
            tracing::warn!(%key, error = %e, "prefetch failed");
        }
    }

    /// Copies an object read from disk into memory, where the cache's policy decides whether it stays.
    fn promote(&self, key: &str, meta: &ObjectMeta, body: Bytes) {
        Counters::bump(&self.counters.promotions);
        let evicted = self.memory.insert(key, hot_object(meta, body));
        self.settle(evicted);
    }

    /// Accounts for objects pushed out of memory: memory-only ones are lost, others remain on disk.
    fn settle(&self, evicted: Vec<Evicted>) {
        for (key, object) in evicted {
            Counters::bump(&self.counters.evictions);
            if object.placement.on_disk() {
                Counters::bump(&self.counters.demotions);
            } else {
                Counters::bump(&self.counters.dropped);
                self.forget(&key, object.seq);
            }
        }
    }

    /// Removes version `seq` of a memory-only `key` from the index, if it is still the current one.
    fn forget(&self, key: &str, seq: u64) {
        let removed = {
            let mut index = self.index();
            let current = index.get(key).is_some_and(|meta| meta.seq == seq);
            current && index.remove(key).is_some()
        };
        if removed {
            self.announce_change(key);
        }
    }

    /// Removes an expired version from both tiers, if it is still the current one.
    fn expire(&self, meta: &ObjectMeta) {
        let removed = {
            let mut index = self.index();
            let current = index.get(&meta.key).is_some_and(|m| m.seq == meta.seq);
            current && index.remove(&meta.key).is_some()
        };
        if !removed {
            return;
        }
        self.memory.remove(&meta.key);
        if meta.placement.on_disk() {
            // Not synced: if the unlink is lost in a crash, recovery sees the expiry and removes it again.
            let _ = std::fs::remove_file(self.disk.path_for(&meta.key, meta.seq));
            self.disk_used.fetch_sub(meta.size, Ordering::Relaxed);
        }
        Counters::bump(&self.counters.expirations);
        self.announce_change(&meta.key);
    }

    /// Removes every object whose TTL has passed.
    pub fn expire_due(&self) {
        let now = now_secs();
        let due: Vec<Arc<ObjectMeta>> = self
            .index()
            .values()
            .filter(|meta| meta.expired(now))
            .cloned()
            .collect();
        for meta in due {
            self.expire(&meta);
        }
    }

    /// Runs `expire_due` every `period` while the tiers live, so expired objects leave memory and disk
    /// even if nobody asks for them.
    pub fn spawn_expiry(self: &Arc<Self>, period: Duration) {
        let tiers: Weak<Self> = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(period);
            loop {
                ticks.tick().await;
                let Some(tiers) = tiers.upgrade() else {
                    break;
                };
                tiers.expire_due();
            }
        });
    }

    /// The whole body of `key` if it is complete and at most `max_bytes` long: for guests reading playlists.
    /// A larger object is refused from its metadata, before any of it is read.
    pub async fn read_small(&self, key: &str, max_bytes: u64) -> Result<Bytes, ReadError> {
        if let Some(meta) = self.head(key)
            && meta.complete
            && meta.size > max_bytes
        {
            return Err(ReadError::TooLarge(meta.size));
        }
        let opened = self.open_object(key).await?.ok_or(ReadError::NotFound)?;
        if opened.meta.size > max_bytes {
            return Err(ReadError::TooLarge(opened.meta.size));
        }
        match opened.body {
            ObjectBody::Memory(bytes) => Ok(bytes),
            ObjectBody::Growing(_) => Err(ReadError::NotFound),
            ObjectBody::Disk(file) => {
                use tokio::io::AsyncReadExt;
                let mut bytes = Vec::with_capacity(opened.meta.size as usize);
                let path = self.disk.path_for(key, opened.meta.seq);
                file.take(opened.meta.size)
                    .read_to_end(&mut bytes)
                    .await
                    .map_err(|e| TierError::io("read", path, e))?;
                Ok(Bytes::from(bytes))
            }
        }
    }

    /// Starts a new version of `key`, placed by its rule; readable while it arrives if the rule allows,
    /// and current at `ObjectWriter::commit`.
    pub async fn writer(
        self: &Arc<Self>,
        key: &str,
        spec: NewObject,
        max_bytes: u64,
    ) -> Result<ObjectWriter, TierError> {
        self.upload_memory.admit()?;
        let policy = self.rules.policy(key);
        let seq = self.next_seq();
        let disk = match policy.placement.on_disk() {
            true => Some(self.disk.begin(seq).await?),
            false => None,
        };
        let hot = match policy.placement {
            Placement::Memory => Some(BytesMut::new()),
            Placement::Durable => self.memory.admits(0).then(BytesMut::new),
            Placement::Disk => None,
        };
        let ttl_seconds = spec.ttl_seconds.or(policy.ttl_seconds);
        let upload = policy.streaming_reads.then(|| {
            let upload = Upload::new(
                ObjectMeta {
                    key: key.to_owned(),
                    size: 0,
                    content_type: spec.content_type.clone(),
                    etag: format!("\"upload-{seq:016x}\""),
                    last_modified: now_secs(),
                    cache_control: spec.cache_control.clone(),
                    metadata: spec.metadata.clone(),
                    seq,
                    placement: policy.placement,
                    expires_at: None,
                    complete: false,
                },
                self.upload_memory.hold(),
            );
            self.uploads().insert(key.to_owned(), Arc::clone(&upload));
            self.announce_change(key);
            upload
        });
        Ok(ObjectWriter {
            tiers: Arc::clone(self),
            key: key.to_owned(),
            spec,
            seq,
            placement: policy.placement,
            ttl_seconds,
            max_bytes,
            size: 0,
            reserved: 0,
            hasher: blake3::Hasher::new(),
            hot,
            hot_held: self.upload_memory.hold(),
            disk,
            upload,
            committed: false,
        })
    }

    /// Removes `key` from both tiers; `false` if there was nothing to remove.
    pub async fn delete(&self, key: &str) -> Result<bool, TierError> {
        let removed = {
            let mut index = self.index();
            match index.remove(key) {
                Some(meta) if meta.placement.on_disk() => {
                    let path = self.disk.path_for(key, meta.seq);
                    match std::fs::remove_file(&path) {
                        Ok(()) => {}
                        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                        Err(e) => {
                            index.insert(meta);
                            return Err(TierError::io("remove", path, e));
                        }
                    }
                    self.disk_used.fetch_sub(meta.size, Ordering::Relaxed);
                    Some(Some(path))
                }
                Some(_) => Some(None),
                None => None,
            }
        };
        self.memory.remove(key);
        let Some(path) = removed else {
            return Ok(false);
        };
        if let Some(path) = path {
            disk::sync_parent(&path).await?;
        }
        self.announce_change(key);
        Ok(true)
    }

    /// Waits until `key` exists with an entity tag other than `unless_etag` (any, if `None`), or `timeout`.
    /// An upload that starts counts as existing. Only changes of `key` wake the waiter (`signals.rs`).
    /// Returns how long it waited.
    pub async fn wait_for_change(
        &self,
        key: &str,
        unless_etag: Option<&str>,
        timeout: Duration,
    ) -> Duration {
        let started = Instant::now();
        let deadline = tokio::time::Instant::now() + timeout;
        let mut changes = self.signals.subscribe(key);
        loop {
            let changed = match (self.head(key), unless_etag) {
                (Some(meta), Some(etag)) => meta.etag != etag,
                (Some(_), None) => true,
                (None, _) => false,
            };
            if changed {
                break;
            }
            if tokio::time::timeout_at(deadline, changes.changed())
                .await
                .is_err()
            {
                break;
            }
        }
        started.elapsed()
    }

    fn next_seq(&self) -> u64 {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0);
        let mut last = self.last_seq.load(Ordering::Relaxed);
        loop {
            let next = now.max(last + 1);
            match self.last_seq.compare_exchange_weak(
                last,
                next,
                Ordering::AcqRel,
                Ordering::Relaxed,
            ) {
                Ok(_) => return next,
                Err(current) => last = current,
            }
        }
    }

    /// Wakes the requests parked on `key`.
    fn announce_change(&self, key: &str) {
        self.signals.announce(key);
    }

    /// Takes `size` more bytes of the disk budget, or refuses.
    fn reserve_disk(&self, size: u64) -> Result<(), TierError> {
        let used = self.disk_used.fetch_add(size, Ordering::Relaxed) + size;
        match self.disk_budget {
            Some(limit) if used > limit => {
                self.disk_used.fetch_sub(size, Ordering::Relaxed);
                Err(TierError::DiskBudget { limit })
            }
            _ => Ok(()),
        }
    }

    /// Ends an upload's visibility as an upload: readers were told how it ended.
    fn end_upload(&self, upload: &Upload, key: &str) {
        let mut uploads = self.uploads();
        if uploads.get(key).is_some_and(|u| u.seq() == upload.seq()) {
            uploads.remove(key);
        }
    }
}

/// The memory tier's entry for a version.
fn hot_object(meta: &ObjectMeta, body: Bytes) -> HotObject {
    HotObject {
        etag: meta.etag.clone(),
        body,
        placement: meta.placement,
        seq: meta.seq,
    }
}

/// A new object version being streamed in; current only at `commit`, readable meanwhile if its rule allows.
/// Dropped without `commit`, it aborts: readers of the upload get an error, and its disk space is released.
#[derive(Debug)]
pub struct ObjectWriter {
    tiers: Arc<Tiers>,
    key: String,
    spec: NewObject,
    seq: u64,
    placement: Placement,
    ttl_seconds: Option<u64>,
    max_bytes: u64,
    size: u64,
    /// Disk budget taken by this upload and not yet owned by an index entry.
    reserved: u64,
    hasher: blake3::Hasher,
    hot: Option<BytesMut>,
    /// The hot copy's bytes on the upload memory account, until commit hands them to the memory tier.
    hot_held: Held,
    disk: Option<DiskWrite>,
    upload: Option<Arc<Upload>>,
    committed: bool,
}

impl ObjectWriter {
    /// Appends a chunk of the body.
    ///
    /// # Errors
    /// `TooLarge` once the body passes the size limit; `DiskBudget` or `DiskFull` when the disk has no
    /// room; `MemoryFull` when a memory-only object outgrows the memory tier; other I/O errors.
    pub async fn write(&mut self, chunk: Bytes) -> Result<(), TierError> {
        let len = chunk.len() as u64;
        self.size += len;
        if self.size > self.max_bytes {
            return Err(TierError::TooLarge {
                limit: self.max_bytes,
            });
        }
        self.hasher.update(&chunk);
        let memory = &self.tiers.upload_memory;
        if let Some(hot) = &mut self.hot {
            // A durable object's hot copy is only a head start for the memory tier: it is given up when
            // the memory tier or the upload budget has no room. A memory-only object's is its only copy:
            // without room the upload fails.
            if self.tiers.memory.admits(self.size) && memory.has_room(len) {
                hot.extend_from_slice(&chunk);
                self.hot_held.add(len);
            } else if self.placement == Placement::Memory {
                return Err(match memory.has_room(len) {
                    true => TierError::MemoryFull,
                    false => memory.full(),
                });
            } else {
                self.hot = None;
                self.hot_held.release();
            }
        }
        if let Some(disk) = &mut self.disk {
            self.tiers.reserve_disk(len)?;
            self.reserved += len;
            disk.write(&chunk).await?;
        }
        if let Some(upload) = &self.upload {
            // Readers following the upload need every chunk kept; past the budget the upload fails rather
            // than hold memory outside it.
            if !memory.has_room(len) {
                return Err(memory.full());
            }
            upload.push(chunk);
        }
        Ok(())
    }

    /// Makes the object current: for disk placements synced, renamed into place and indexed before this
    /// returns; kept hot for durable and memory placements.
    pub async fn commit(mut self) -> Result<Arc<ObjectMeta>, TierError> {
        let hash = self.hasher.finalize().to_hex();
        let now = now_secs();
        let meta = Arc::new(ObjectMeta {
            key: self.key.clone(),
            size: self.size,
            content_type: std::mem::take(&mut self.spec.content_type),
            etag: format!("\"{}\"", &hash[..32]),
            last_modified: now,
            cache_control: self.spec.cache_control.take(),
            metadata: std::mem::take(&mut self.spec.metadata),
            seq: self.seq,
            placement: self.placement,
            expires_at: self.ttl_seconds.map(|ttl| now.saturating_add(ttl)),
            complete: true,
        });
        let tiers = Arc::clone(&self.tiers);
        let hot = self.hot.take().map(BytesMut::freeze);
        self.hot_held.release();
        let mut evicted = Vec::new();
        if self.placement == Placement::Memory {
            let body = hot.clone().ok_or(TierError::MemoryFull)?;
            evicted = tiers.memory.insert(&meta.key, hot_object(&meta, body));
            if let Some(at) = evicted
                .iter()
                .position(|(key, object)| *key == meta.key && object.seq == meta.seq)
            {
                evicted.swap_remove(at);
                tiers.settle(evicted);
                return Err(TierError::MemoryFull);
            }
        }
        let replaced = match self.disk.take() {
            Some(disk) => {
                let synced = disk.finish(&meta).await?;
                let path = tiers.disk.path_for(&meta.key, meta.seq);
                let replaced = {
                    let mut index = tiers.index();
                    if newer_exists(&index, &meta) {
                        // A later upload of the same key committed first: this one is already superseded.
                        drop(synced);
                        Some(Arc::clone(&meta))
                    } else {
                        synced.publish(&path)?;
                        index.insert(Arc::clone(&meta))
                    }
                };
                self.reserved = 0;
                disk::sync_parent(&path).await?;
                replaced
            }
            None => {
                let mut index = tiers.index();
                match newer_exists(&index, &meta) {
                    true => None,
                    false => index.insert(Arc::clone(&meta)),
                }
            }
        };
        if let Some(old) = replaced.filter(|old| old.placement.on_disk()) {
            let _ = std::fs::remove_file(tiers.disk.path_for(&old.key, old.seq));
            tiers.disk_used.fetch_sub(old.size, Ordering::Relaxed);
        }
        match (self.placement, hot) {
            (Placement::Durable, Some(body)) => {
                evicted.extend(tiers.memory.insert(&meta.key, hot_object(&meta, body)));
            }
            (Placement::Disk, _) => tiers.memory.remove(&meta.key),
            _ => {}
        }
        tiers.settle(evicted);
        self.committed = true;
        if let Some(upload) = self.upload.take() {
            upload.complete();
            tiers.end_upload(&upload, &meta.key);
        }
        tiers.announce_change(&meta.key);
        Ok(meta)
    }
}

/// Whether the index already holds a version of `meta`'s key newer than `meta`.
fn newer_exists(index: &Index, meta: &ObjectMeta) -> bool {
    index
        .get(&meta.key)
        .is_some_and(|current| current.seq > meta.seq)
}

impl Drop for ObjectWriter {
    fn drop(&mut self) {
        if self.reserved > 0 {
            self.tiers
                .disk_used
                .fetch_sub(self.reserved, Ordering::Relaxed);
        }
        if !self.committed
            && let Some(upload) = self.upload.take()
        {
            upload.abort();
            self.tiers.end_upload(&upload, &self.key);
            self.tiers.announce_change(&self.key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(memory_bytes: u64) -> TierSettings {
        TierSettings {
            memory_bytes,
            ..TierSettings::default()
        }
    }

    async fn put(tiers: &Arc<Tiers>, key: &str, body: &[u8]) -> Arc<ObjectMeta> {
        let mut writer = tiers
            .writer(key, NewObject::default(), 1 << 30)
            .await
            .unwrap();
        for chunk in body.chunks(1000) {
            writer.write(Bytes::copy_from_slice(chunk)).await.unwrap();
        }
        writer.commit().await.unwrap()
    }

    async fn read_all(tiers: &Tiers, key: &str) -> Vec<u8> {
        tiers.read_small(key, u64::MAX).await.unwrap().to_vec()
    }

    #[tokio::test]
    async fn objects_survive_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let tiers = Arc::new(Tiers::open(dir.path(), settings(1 << 20)).unwrap());
        let body: Vec<u8> = (0..5000u32).map(|i| i as u8).collect();
        let first = put(&tiers, "live/a.ts", &body).await;
        put(&tiers, "live/b.ts", b"bee").await;
        assert!(tiers.delete("live/b.ts").await.unwrap());
        drop(tiers);

        let tiers = Tiers::open(dir.path(), settings(1 << 20)).unwrap();
        assert_eq!(tiers.head("live/a.ts").unwrap().etag, first.etag);
        assert_eq!(read_all(&tiers, "live/a.ts").await, body);
        assert!(tiers.head("live/b.ts").is_none());
    }

    #[tokio::test]
    async fn overwrite_serves_the_new_version_and_changes_the_etag() {
        let dir = tempfile::tempdir().unwrap();
        let tiers = Arc::new(Tiers::open(dir.path(), settings(1 << 20)).unwrap());
        let one = put(&tiers, "p.m3u8", b"one").await;
        let two = put(&tiers, "p.m3u8", b"two!").await;
        assert_ne!(one.etag, two.etag);
        assert_eq!(read_all(&tiers, "p.m3u8").await, b"two!");
    }

    #[tokio::test]
    async fn large_objects_are_read_from_disk() {
        let dir = tempfile::tempdir().unwrap();
        let tiers = Arc::new(Tiers::open(dir.path(), settings(64 * 1024)).unwrap());
        let body = vec![7u8; 100_000];
        put(&tiers, "vod/big.mp4", &body).await;
        let opened = tiers.open_object("vod/big.mp4").await.unwrap().unwrap();
        assert!(matches!(opened.body, ObjectBody::Disk(_)));
        assert_eq!(read_all(&tiers, "vod/big.mp4").await, body);
    }

    #[tokio::test]
    async fn the_size_limit_stops_an_upload_and_stores_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let tiers = Arc::new(Tiers::open(dir.path(), settings(1 << 20)).unwrap());
        let mut writer = tiers
            .writer("x.ts", NewObject::default(), 10)
            .await
            .unwrap();
        assert!(matches!(
            writer.write(Bytes::from_static(&[0; 11])).await,
            Err(TierError::TooLarge { limit: 10 })
        ));
        drop(writer);
        assert!(tiers.head("x.ts").is_none());
    }

    #[tokio::test]
    async fn listing_is_by_prefix_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let tiers = Arc::new(Tiers::open(dir.path(), settings(1 << 20)).unwrap());
        for key in ["live/2.ts", "live/1.ts", "vod/1.ts", "live.m3u8"] {
            put(&tiers, key, b"x").await;
        }
        assert_eq!(tiers.list("live/", 10), ["live/1.ts", "live/2.ts"]);
        assert_eq!(tiers.list("live/", 1), ["live/1.ts"]);
    }

    #[tokio::test]
    async fn a_filtered_listing_keeps_the_endings_asked_for_within_its_scan() {
        let dir = tempfile::tempdir().unwrap();
        let tiers = Arc::new(Tiers::open(dir.path(), settings(1 << 20)).unwrap());
        for key in [
            "live/0.m4s",
            "live/1.m4s",
            "live/a.M3U8",
            "live/b.mpd",
            "live/low/index.m3u8",
            "vod/index.m3u8",
        ] {
            put(&tiers, key, b"x").await;
        }
        let playlists = [".m3u8".to_string(), ".mpd".to_string()];
        assert_eq!(
            tiers.list_ending("live/", &playlists, 10, 100),
            ["live/a.M3U8", "live/b.mpd", "live/low/index.m3u8"]
        );
        assert_eq!(
            tiers.list_ending("live/", &playlists, 1, 100),
            ["live/a.M3U8"]
        );
        // A scan of other endings looks at no more keys than asked (the first is a segment, the second not)...
        assert_eq!(
            tiers.list_ending("live/", &[".M4S".to_string()], 10, 1),
            ["live/0.m4s"]
        );
        // ...while playlists come from their own set, past any number of segments.
        assert_eq!(
            tiers.list_ending("live/", &playlists, 2, 2),
            ["live/a.M3U8", "live/b.mpd"]
        );
    }

    #[tokio::test]
    async fn a_waiter_wakes_when_the_object_lands() {
        let dir = tempfile::tempdir().unwrap();
        let tiers = Arc::new(Tiers::open(dir.path(), settings(1 << 20)).unwrap());
        let waiter = {
            let tiers = Arc::clone(&tiers);
            tokio::spawn(async move {
                tiers
                    .wait_for_change("seg.ts", None, Duration::from_secs(30))
                    .await
            })
        };
        put(&tiers, "seg.ts", b"x").await;
        let waited = tokio::time::timeout(Duration::from_secs(10), waiter)
            .await
            .unwrap()
            .unwrap();
        assert!(waited < Duration::from_secs(30));
    }

    fn with_rules(memory_bytes: u64, rules: &str) -> TierSettings {
        let config: StorageConfig = toml::from_str(rules).unwrap();
        TierSettings {
            memory_bytes,
            disk_bytes: config.disk_bytes.map(|b| b.as_u64()),
            rules: Rules::compile(&config).unwrap(),
            memory_policy: config.memory_policy,
            ..TierSettings::default()
        }
    }

    #[tokio::test]
    async fn memory_only_objects_skip_the_disk_and_are_dropped_when_evicted() {
        let dir = tempfile::tempdir().unwrap();
        let rules = "[[rules]]\npattern = \"live/**\"\nplacement = \"memory\"\n";
        let tiers = Arc::new(Tiers::open(dir.path(), with_rules(1 << 20, rules)).unwrap());
        for i in 0..200 {
            put(&tiers, &format!("live/{i}.ts"), &[1u8; 20_000]).await;
        }
        let stats = tiers.stats();
        assert_eq!(stats.disk_objects, 0);
        assert!(stats.dropped > 0);
        assert_eq!(stats.objects, stats.memory_objects);
        assert!(stats.memory_bytes <= 1 << 20);
        drop(tiers);
        let tiers = Tiers::open(dir.path(), with_rules(1 << 20, rules)).unwrap();
        assert_eq!(tiers.stats().objects, 0);
    }

    #[tokio::test]
    async fn expired_objects_are_gone_from_both_tiers() {
        let dir = tempfile::tempdir().unwrap();
        let tiers = Arc::new(Tiers::open(dir.path(), settings(1 << 20)).unwrap());
        let mut writer = tiers
            .writer(
                "live/a.ts",
                NewObject {
                    ttl_seconds: Some(1),
                    ..NewObject::default()
                },
                1 << 20,
            )
            .await
            .unwrap();
        writer.write(Bytes::from_static(b"abc")).await.unwrap();
        let meta = writer.commit().await.unwrap();
        assert!(tiers.head("live/a.ts").is_some());
        let path = tiers.disk.path_for("live/a.ts", meta.seq);
        assert!(path.exists());
        let deadline = Instant::now() + Duration::from_secs(10);
        while tiers.head("live/a.ts").is_some() {
            assert!(Instant::now() < deadline, "never expired");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(!path.exists());
        let stats = tiers.stats();
        assert_eq!((stats.expirations, stats.memory_objects), (1, 0));
    }

    #[tokio::test]
    async fn concurrent_reads_of_a_cold_object_share_one_disk_read() {
        let dir = tempfile::tempdir().unwrap();
        let body = vec![5u8; 50_000];
        {
            let tiers = Arc::new(Tiers::open(dir.path(), settings(1 << 20)).unwrap());
            put(&tiers, "vod/seg.ts", &body).await;
        }
        let tiers = Arc::new(Tiers::open(dir.path(), settings(1 << 20)).unwrap());
        let readers: Vec<_> = (0..100)
            .map(|_| {
                let tiers = Arc::clone(&tiers);
                tokio::spawn(async move { tiers.read_small("vod/seg.ts", u64::MAX).await })
            })
            .collect();
        for reader in readers {
            assert_eq!(reader.await.unwrap().unwrap().len(), body.len());
        }
        assert_eq!(tiers.stats().disk_reads, 1);
    }

    #[tokio::test]
    async fn the_disk_budget_refuses_writes_and_keeps_what_is_stored() {
        let dir = tempfile::tempdir().unwrap();
        let tiers =
            Arc::new(Tiers::open(dir.path(), with_rules(1 << 20, "disk_bytes = 10000\n")).unwrap());
        put(&tiers, "a.ts", &[1u8; 6000]).await;
        let mut writer = tiers
            .writer("b.ts", NewObject::default(), 1 << 20)
            .await
            .unwrap();
        assert!(matches!(
            writer.write(Bytes::from(vec![2u8; 6000])).await,
            Err(TierError::DiskBudget { limit: 10000 })
        ));
        drop(writer);
        assert_eq!(tiers.stats().disk_bytes, 6000);
        assert_eq!(read_all(&tiers, "a.ts").await, vec![1u8; 6000]);
        put(&tiers, "c.ts", &[3u8; 4000]).await;
    }

    #[tokio::test]
    async fn an_upload_is_visible_while_it_arrives_and_vanishes_if_aborted() {
        let dir = tempfile::tempdir().unwrap();
        let tiers = Arc::new(Tiers::open(dir.path(), settings(1 << 20)).unwrap());
        let mut writer = tiers
            .writer("live/p.m4s", NewObject::default(), 1 << 20)
            .await
            .unwrap();
        writer.write(Bytes::from_static(b"abc")).await.unwrap();
        let meta = tiers.head("live/p.m4s").unwrap();
        assert!(!meta.complete);
        assert_eq!(meta.size, 3);
        assert!(matches!(
            tiers.open_object("live/p.m4s").await.unwrap().unwrap().body,
            ObjectBody::Growing(_)
        ));
        assert!(matches!(
            tiers.read_small("live/p.m4s", 100).await,
            Err(ReadError::NotFound)
        ));
        drop(writer);
        assert!(tiers.head("live/p.m4s").is_none());
    }
}
