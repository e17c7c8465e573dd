//! Strata's storage tiers: a memory tier under a byte budget in front of a durable disk tier, with placement
//! and lifetime chosen per key by rules. Knows nothing of wasmtime or HTTP (a test in
//! `tests/boundaries.rs` keeps it so); the rest of the host sees it through the [`Storage`] trait.
//!
//! Durable and disk objects are on disk (synced and renamed into place) before a writer's commit returns;
//! durable ones are also kept hot, disk ones enter memory when read. Memory-only objects never touch the
//! disk and are lost when evicted. Uploads in progress are readable.
//!
//! How the crate is organised, one job a module:
//! - [`storage`]: the trait the host sees, and its implementation over the tiers.
//! - `index`: key → current version, with playlists indexed apart; `open`: opening, reading and
//!   prefetching objects; `reads`: one disk read shared by concurrent readers; `writer`: a new version
//!   streamed in and committed; `expiry`: TTLs; `disk_budget`; `uploads`: the registry of uploads in
//!   progress; [`upload`]: one upload readable while it arrives; `upload_memory`: the memory uploads hold.
//! - `memory`: the memory tier (policies, memory-only share); `disk`: the crash-safe file format.
//! - [`placement`]: rules by [`pattern::KeyPattern`]; `signals`: per-key change signals; [`stamps`]: change
//!   stamps a cache of decisions checks; [`files`]:
//!   durable file writes the rest of the host shares.

mod config_error;
mod counters;
mod disk;
mod disk_budget;
mod error;
mod expiry;
pub mod files;
pub mod index;
mod memory;
mod meta;
mod open;
pub mod pattern;
pub mod placement;
mod reads;
pub mod sharded;
mod signals;
pub mod stamps;
pub mod storage;
pub mod upload;
mod upload_memory;
mod uploads;
mod writer;

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;

pub use config_error::InvalidSetting;
pub use counters::TierStats;
pub use error::TierError;
pub use index::Index;
pub use memory::MemoryPolicy;
pub use meta::{Naming, NewObject, ObjectMeta};
pub use pattern::KeyPattern;
pub use placement::{Placement, Policy, RuleConfig, RuleError, Rules, StorageConfig};
pub use signals::Subscription;
pub use stamps::ChangeStamps;
pub use storage::{ServiceHealth, Storage, StorageRead, Writer, ends_watch};
pub use upload::Upload;
pub use upload_memory::{Held, UploadMemory};
pub use writer::ObjectWriter;

use counters::Counters;
use disk::DiskTier;
use disk_budget::DiskBudget;
use memory::MemoryTier;
use reads::CoalescedReads;
use signals::Signals;
use uploads::Uploads;

/// How far ahead of this node's clock a sequence observed from elsewhere may be and still be followed
/// (nanoseconds: one day of clock skew).
pub const SEQ_HORIZON: u64 = 86_400 * 1_000_000_000;

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
    uploads: Uploads,
    reads: CoalescedReads,
    memory: MemoryTier,
    disk: DiskTier,
    rules: Rules,
    disk_budget: DiskBudget,
    counters: Counters,
    last_seq: AtomicU64,
    signals: Signals,
    stamps: ChangeStamps,
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
    /// Whether this open read the disk tier (a file, or bytes just read into memory), for the access log.
    pub from_disk: bool,
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
    ///
    /// # Errors
    /// When the data folder cannot be read or created.
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
            uploads: Uploads::default(),
            reads: CoalescedReads::default(),
            memory: MemoryTier::new(settings.memory_bytes, settings.memory_policy),
            disk,
            rules: settings.rules,
            disk_budget: DiskBudget::new(disk_used, settings.disk_bytes),
            counters,
            last_seq: AtomicU64::new(last_seq),
            signals: Signals::default(),
            stamps: ChangeStamps::default(),
            upload_memory: UploadMemory::new(settings.upload_memory_bytes),
        })
    }

    fn index(&self) -> MutexGuard<'_, Index> {
        lock(&self.index)
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
        self.uploads.meta(key).map(Arc::new)
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
            disk_bytes: self.disk_budget.used(),
            disk_budget_bytes: self.disk_budget.limit(),
            upload_memory_bytes: self.upload_memory.used(),
            upload_memory_budget_bytes: self.upload_memory.budget(),
            uploads_refused: self.upload_memory.refused(),
            ..TierStats::default()
        };
        self.counters.fill(&mut stats);
        stats
    }

    /// Removes `key` from both tiers; `false` if there was nothing to remove.
    ///
    /// # Errors
    /// When the object's file cannot be removed (it is then still stored).
    pub async fn delete(&self, key: &str) -> Result<bool, TierError> {
        let removed = {
            let mut index = self.index();
            match index.remove(key) {
                Some(meta) if meta.placement.on_disk() => {
                    let path = self.disk.path_for(key, meta.seq);
                    match std::fs::remove_file(&path) {
                        Ok(()) => {}
                        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                        Err(e) => {
                            index.insert(meta);
                            return Err(TierError::io("remove", path, e));
                        }
                    }
                    self.disk_budget.release(meta.size);
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
            files::sync_parent(&path).await?;
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
            if ends_watch(self.head(key).as_deref(), unless_etag) {
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

    /// A commit sequence above every one given or observed before (nanoseconds since the epoch when the
    /// clock allows), naming one version of one key.
    pub fn next_seq(&self) -> u64 {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0);
        let mut last = self.last_seq.load(Ordering::Relaxed);
        loop {
            let next = now.max(last.saturating_add(1));
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

    /// Records that a version `seq` exists elsewhere, so versions named here from now on are newer
    /// (a Lamport clock across the nodes of a cluster); returns `seq`.
    /// A sequence more than [`SEQ_HORIZON`] ahead of this clock is not followed: it comes from a bad clock
    /// or from metadata another tool wrote, and following it would exhaust the sequence space.
    pub fn observe_seq(&self, seq: u64) -> u64 {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0);
        if seq <= now.saturating_add(SEQ_HORIZON) {
            self.last_seq.fetch_max(seq, Ordering::AcqRel);
        }
        seq
    }

    /// Wakes the requests parked on `key`; a backend in front of these tiers calls it when it learns of a
    /// change the tiers did not make.
    pub fn announce_change(&self, key: &str) {
        self.stamps.mark(key);
        self.signals.announce(key);
    }

    /// The change stamps of these tiers: every announced change moves them.
    pub fn stamps(&self) -> &ChangeStamps {
        &self.stamps
    }

    /// The placement and lifetime rule of `key`.
    pub fn policy(&self, key: &str) -> Policy {
        self.rules.policy(key)
    }

    /// The upload of `key` in progress here, if any.
    pub fn upload(&self, key: &str) -> Option<Arc<Upload>> {
        self.uploads.current(key)
    }

    /// The memory budget uploads in progress share; a backend that buffers upload bytes holds them on it.
    pub fn upload_memory(&self) -> &Arc<UploadMemory> {
        &self.upload_memory
    }

    /// Subscribes to changes of `key` announced from now on (subscribe before checking the condition
    /// waited for).
    pub fn subscribe(&self, key: &str) -> Subscription<'_> {
        self.signals.subscribe(key)
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

    #[test]
    fn a_sequence_from_far_ahead_is_not_followed_and_the_clock_never_overflows() {
        let dir = tempfile::tempdir().unwrap();
        let tiers = Tiers::open(dir.path(), settings(1 << 20)).unwrap();
        let before = tiers.next_seq();
        assert_eq!(tiers.observe_seq(u64::MAX), u64::MAX);
        let after = tiers.next_seq();
        assert!(after > before && after < u64::MAX / 2, "{after}");
        let near = after + 1_000_000;
        tiers.observe_seq(near);
        assert!(tiers.next_seq() > near, "a near sequence is followed");
        tiers.last_seq.store(u64::MAX, Ordering::Relaxed);
        assert_eq!(
            tiers.next_seq(),
            u64::MAX,
            "saturates instead of overflowing"
        );
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
    async fn two_copies_of_one_version_leave_it_on_disk_and_counted_once() {
        let source = tempfile::tempdir().unwrap();
        let stored = Arc::new(Tiers::open(source.path(), settings(1 << 20)).unwrap());
        let body = vec![7u8; 6000];
        let of = put(&stored, "live/seg.ts", &body).await;
        let dir = tempfile::tempdir().unwrap();
        let tiers =
            Arc::new(Tiers::open(dir.path(), with_rules(1 << 20, "disk_bytes = 20000\n")).unwrap());
        let mut copies = Vec::new();
        for _ in 0..2 {
            let spec = NewObject {
                naming: Naming::Copy {
                    of: Arc::clone(&of),
                    placement: Placement::Disk,
                    streamed: false,
                },
                ..NewObject::default()
            };
            let mut writer = tiers.writer("live/seg.ts", spec, 1 << 20).await.unwrap();
            writer.write(Bytes::from(body.clone())).await.unwrap();
            copies.push(writer);
        }
        for copy in copies {
            assert_eq!(copy.commit().await.unwrap().seq, of.seq);
        }
        assert!(tiers.disk.path_for("live/seg.ts", of.seq).exists());
        assert_eq!(read_all(&tiers, "live/seg.ts").await, body);
        // Counted once: another 13000 bytes fit the 20000-byte budget beside it.
        put(&tiers, "live/next.ts", &[1u8; 13000]).await;
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
        assert_eq!(tiers.stats().disk_budget_bytes, Some(10000));
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
