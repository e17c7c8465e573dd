//! Storage tiers, owned by the host: a memory tier under a byte budget in front of a durable disk tier.
//!
//! Every acknowledged write is on disk (synced and renamed into place) before `ObjectWriter::commit`
//! returns, and kept in memory when small enough. Reads come from memory when the version there is current,
//! else from disk, and small objects read from disk are promoted. This module knows nothing of wasmtime.

mod disk;
mod error;
mod memory;
mod meta;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::{Bytes, BytesMut};
use tokio::sync::watch;

pub use error::TierError;
pub use meta::{NewObject, ObjectMeta};

use disk::{DiskTier, DiskWrite};
use memory::MemoryTier;

/// Map from key to the metadata of its current version; ordered for prefix listing.
type Index = BTreeMap<String, Arc<ObjectMeta>>;

/// The memory and disk tiers behind one interface.
#[derive(Debug)]
pub struct Tiers {
    index: Mutex<Index>,
    memory: MemoryTier,
    disk: DiskTier,
    last_seq: AtomicU64,
    changes: watch::Sender<u64>,
}

/// The bytes of an opened object version.
#[derive(Debug)]
pub enum ObjectBody {
    /// Held in memory.
    Memory(Bytes),
    /// An open file whose first `size` bytes are the body.
    Disk(tokio::fs::File),
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
    /// Opens the tiers under `data_dir` with a memory budget of `memory_bytes`, recovering the disk index.
    pub fn open(data_dir: &Path, memory_bytes: u64) -> Result<Self, TierError> {
        let started = Instant::now();
        let (disk, recovered) = DiskTier::open(data_dir)?;
        let last_seq = recovered.iter().map(|r| r.meta.seq).max().unwrap_or(0);
        let index: Index = recovered
            .into_iter()
            .map(|r| (r.meta.key.clone(), Arc::new(r.meta)))
            .collect();
        tracing::info!(
            objects = index.len(),
            elapsed_ms = started.elapsed().as_millis() as u64,
            "disk index recovered"
        );
        Ok(Tiers {
            index: Mutex::new(index),
            memory: MemoryTier::new(memory_bytes),
            disk,
            last_seq: AtomicU64::new(last_seq),
            changes: watch::channel(0).0,
        })
    }

    fn index(&self) -> MutexGuard<'_, Index> {
        // A panic while holding the lock cannot leave the map half-updated (each update is one call),
        // so a poisoned lock is still safe to use.
        self.index
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Metadata of the current version of `key`.
    pub fn head(&self, key: &str) -> Option<Arc<ObjectMeta>> {
        self.index().get(key).cloned()
    }

    /// Up to `limit` keys starting with `prefix`, in lexical order.
    pub fn list(&self, prefix: &str, limit: usize) -> Vec<String> {
        self.index()
            .range(prefix.to_owned()..)
            .take_while(|(key, _)| key.starts_with(prefix))
            .take(limit)
            .map(|(key, _)| key.clone())
            .collect()
    }

    /// Objects in the index and bytes held in memory, for metrics.
    pub fn stats(&self) -> TierStats {
        TierStats {
            objects: self.index().len(),
            memory_objects: self.memory.objects(),
            memory_bytes: self.memory.bytes(),
        }
    }

    /// Opens the current version of `key` for reading, or `None` if there is none.
    pub async fn open_object(&self, key: &str) -> Result<Option<OpenedObject>, TierError> {
        // A writer may replace the file between the index lookup and the open; the old file is then gone
        // and the index already names the new one, so look again.
        for _ in 0..8 {
            let Some(meta) = self.head(key) else {
                return Ok(None);
            };
            if let Some(bytes) = self.memory.get(key, &meta.etag) {
                return Ok(Some(OpenedObject {
                    meta,
                    body: ObjectBody::Memory(bytes),
                }));
            }
            let path = self.disk.path_for(key, meta.seq);
            if self.memory.admits(meta.size) {
                match tokio::fs::read(&path).await {
                    Ok(mut bytes) => {
                        bytes.truncate(meta.size as usize);
                        let bytes = Bytes::from(bytes);
                        self.memory.insert(key, &meta.etag, bytes.clone());
                        return Ok(Some(OpenedObject {
                            meta,
                            body: ObjectBody::Memory(bytes),
                        }));
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                    Err(e) => return Err(TierError::io("read", path, e)),
                }
            }
            match tokio::fs::File::open(&path).await {
                Ok(file) => {
                    return Ok(Some(OpenedObject {
                        meta,
                        body: ObjectBody::Disk(file),
                    }));
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(TierError::io("open", path, e)),
            }
        }
        Ok(None)
    }

    /// The whole body of `key` if it is at most `max_bytes` long: for guests reading playlists.
    pub async fn read_small(&self, key: &str, max_bytes: u64) -> Result<Bytes, ReadError> {
        let opened = self.open_object(key).await?.ok_or(ReadError::NotFound)?;
        if opened.meta.size > max_bytes {
            return Err(ReadError::TooLarge(opened.meta.size));
        }
        match opened.body {
            ObjectBody::Memory(bytes) => Ok(bytes),
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

    /// Starts a new version of `key`; it becomes visible, durably, at `ObjectWriter::commit`.
    pub async fn writer(
        self: &Arc<Self>,
        key: &str,
        spec: NewObject,
        max_bytes: u64,
    ) -> Result<ObjectWriter, TierError> {
        let seq = self.next_seq();
        let disk = self.disk.begin(seq).await?;
        Ok(ObjectWriter {
            tiers: Arc::clone(self),
            key: key.to_owned(),
            spec,
            seq,
            max_bytes,
            size: 0,
            hasher: blake3::Hasher::new(),
            hot: self.memory.admits(0).then(BytesMut::new),
            disk,
        })
    }

    /// Removes `key` from both tiers; `false` if there was nothing to remove.
    pub async fn delete(&self, key: &str) -> Result<bool, TierError> {
        let removed = {
            let mut index = self.index();
            match index.remove(key) {
                Some(meta) => {
                    let path = self.disk.path_for(key, meta.seq);
                    match std::fs::remove_file(&path) {
                        Ok(()) => Some(path),
                        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Some(path),
                        Err(e) => {
                            index.insert(key.to_owned(), meta);
                            return Err(TierError::io("remove", path, e));
                        }
                    }
                }
                None => None,
            }
        };
        self.memory.remove(key);
        let Some(path) = removed else {
            return Ok(false);
        };
        disk::sync_parent(&path).await?;
        self.announce_change();
        Ok(true)
    }

    /// Waits until `key` exists with an entity tag other than `unless_etag` (any, if `None`), or `timeout`.
    /// Returns how long it waited.
    pub async fn wait_for_change(
        &self,
        key: &str,
        unless_etag: Option<&str>,
        timeout: Duration,
    ) -> Duration {
        let started = Instant::now();
        let deadline = tokio::time::Instant::now() + timeout;
        let mut changes = self.changes.subscribe();
        loop {
            let changed = match (self.head(key), unless_etag) {
                (Some(meta), Some(etag)) => meta.etag != etag,
                (Some(_), None) => true,
                (None, _) => false,
            };
            if changed {
                break;
            }
            match tokio::time::timeout_at(deadline, changes.changed()).await {
                Ok(Ok(())) => continue,
                Ok(Err(_)) | Err(_) => break,
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

    fn announce_change(&self) {
        self.changes.send_modify(|generation| *generation += 1);
    }

    fn path_of(&self, key: &str, seq: u64) -> PathBuf {
        self.disk.path_for(key, seq)
    }
}

/// Counts for metrics.
#[derive(Debug, Clone, Copy)]
pub struct TierStats {
    /// Objects stored.
    pub objects: usize,
    /// Objects held in memory.
    pub memory_objects: usize,
    /// Bytes held in memory.
    pub memory_bytes: u64,
}

/// A new object version being streamed in; nothing of it is visible until `commit`.
#[derive(Debug)]
pub struct ObjectWriter {
    tiers: Arc<Tiers>,
    key: String,
    spec: NewObject,
    seq: u64,
    max_bytes: u64,
    size: u64,
    hasher: blake3::Hasher,
    hot: Option<BytesMut>,
    disk: DiskWrite,
}

impl ObjectWriter {
    /// Appends a chunk of the body.
    ///
    /// # Errors
    /// `TooLarge` once the body passes the size limit; I/O errors from the disk.
    pub async fn write(&mut self, chunk: &[u8]) -> Result<(), TierError> {
        self.size += chunk.len() as u64;
        if self.size > self.max_bytes {
            return Err(TierError::TooLarge {
                limit: self.max_bytes,
            });
        }
        self.hasher.update(chunk);
        if let Some(hot) = &mut self.hot {
            if self.tiers.memory.admits(self.size) {
                hot.extend_from_slice(chunk);
            } else {
                self.hot = None;
            }
        }
        self.disk.write(chunk).await
    }

    /// Makes the object durable and visible: synced to disk, renamed into place, indexed, kept hot.
    pub async fn commit(self) -> Result<Arc<ObjectMeta>, TierError> {
        let hash = self.hasher.finalize().to_hex();
        let meta = ObjectMeta {
            key: self.key,
            size: self.size,
            content_type: self.spec.content_type,
            etag: format!("\"{}\"", &hash[..32]),
            last_modified: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0),
            cache_control: self.spec.cache_control,
            metadata: self.spec.metadata,
            seq: self.seq,
        };
        let synced = self.disk.finish(&meta).await?;
        let tiers = self.tiers;
        let path = tiers.path_of(&meta.key, meta.seq);
        let meta = Arc::new(meta);
        let replaced = {
            let mut index = tiers.index();
            let newer_exists = index
                .get(&meta.key)
                .is_some_and(|current| current.seq > meta.seq);
            if newer_exists {
                // A later upload of the same key committed first: this one is already superseded.
                drop(synced);
                None
            } else {
                synced.publish(&path)?;
                index.insert(meta.key.clone(), Arc::clone(&meta))
            }
        };
        if let Some(old) = replaced {
            let _ = std::fs::remove_file(tiers.path_of(&old.key, old.seq));
        }
        disk::sync_parent(&path).await?;
        if let Some(hot) = self.hot {
            tiers.memory.insert(&meta.key, &meta.etag, hot.freeze());
        }
        tiers.announce_change();
        Ok(meta)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn put(tiers: &Arc<Tiers>, key: &str, body: &[u8]) -> Arc<ObjectMeta> {
        let mut writer = tiers
            .writer(key, NewObject::default(), 1 << 30)
            .await
            .unwrap();
        for chunk in body.chunks(1000) {
            writer.write(chunk).await.unwrap();
        }
        writer.commit().await.unwrap()
    }

    async fn read_all(tiers: &Tiers, key: &str) -> Vec<u8> {
        tiers.read_small(key, u64::MAX).await.unwrap().to_vec()
    }

    #[tokio::test]
    async fn objects_survive_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let tiers = Arc::new(Tiers::open(dir.path(), 1 << 20).unwrap());
        let body: Vec<u8> = (0..5000u32).map(|i| i as u8).collect();
        let first = put(&tiers, "live/a.ts", &body).await;
        put(&tiers, "live/b.ts", b"bee").await;
        assert!(tiers.delete("live/b.ts").await.unwrap());
        drop(tiers);

        let tiers = Tiers::open(dir.path(), 1 << 20).unwrap();
        assert_eq!(tiers.head("live/a.ts").unwrap().etag, first.etag);
        assert_eq!(read_all(&tiers, "live/a.ts").await, body);
        assert!(tiers.head("live/b.ts").is_none());
    }

    #[tokio::test]
    async fn overwrite_serves_the_new_version_and_changes_the_etag() {
        let dir = tempfile::tempdir().unwrap();
        let tiers = Arc::new(Tiers::open(dir.path(), 1 << 20).unwrap());
        let one = put(&tiers, "p.m3u8", b"one").await;
        let two = put(&tiers, "p.m3u8", b"two!").await;
        assert_ne!(one.etag, two.etag);
        assert_eq!(read_all(&tiers, "p.m3u8").await, b"two!");
    }

    #[tokio::test]
    async fn large_objects_are_read_from_disk() {
        let dir = tempfile::tempdir().unwrap();
        let tiers = Arc::new(Tiers::open(dir.path(), 64 * 1024).unwrap());
        let body = vec![7u8; 100_000];
        put(&tiers, "vod/big.mp4", &body).await;
        let opened = tiers.open_object("vod/big.mp4").await.unwrap().unwrap();
        assert!(matches!(opened.body, ObjectBody::Disk(_)));
        assert_eq!(read_all(&tiers, "vod/big.mp4").await, body);
    }

    #[tokio::test]
    async fn the_size_limit_stops_an_upload_and_stores_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let tiers = Arc::new(Tiers::open(dir.path(), 1 << 20).unwrap());
        let mut writer = tiers
            .writer("x.ts", NewObject::default(), 10)
            .await
            .unwrap();
        assert!(matches!(
            writer.write(&[0; 11]).await,
            Err(TierError::TooLarge { limit: 10 })
        ));
        drop(writer);
        assert!(tiers.head("x.ts").is_none());
    }

    #[tokio::test]
    async fn listing_is_by_prefix_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let tiers = Arc::new(Tiers::open(dir.path(), 1 << 20).unwrap());
        for key in ["live/2.ts", "live/1.ts", "vod/1.ts", "live.m3u8"] {
            put(&tiers, key, b"x").await;
        }
        assert_eq!(tiers.list("live/", 10), ["live/1.ts", "live/2.ts"]);
        assert_eq!(tiers.list("live/", 1), ["live/1.ts"]);
    }

    #[tokio::test]
    async fn a_waiter_wakes_when_the_object_lands() {
        let dir = tempfile::tempdir().unwrap();
        let tiers = Arc::new(Tiers::open(dir.path(), 1 << 20).unwrap());
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
}
