//! Opening objects for reading: from memory when they are there, else from disk (small ones read whole
//! into memory once, by one reader for all concurrent ones; large ones streamed from their file), or as
//! an upload still arriving; and the two reads built on it, `read_small` for guests and `prefetch` for
//! CMCD `nor` hints.

use std::io;

use bytes::Bytes;

use super::counters::Counters;
use super::memory::{Evicted, HotObject};
use super::{ObjectBody, ObjectMeta, OpenedObject, ReadError, TierError, Tiers};

impl Tiers {
    /// Opens the current version of `key` for reading, or `None` if there is none.
    ///
    /// # Errors
    /// When the disk cannot open or read the object's file.
    pub async fn open_object(&self, key: &str) -> Result<Option<OpenedObject>, TierError> {
        // A writer may replace the file between the index lookup and the open; the old file is then gone
        // and the index already names the new one, so look again.
        for _ in 0..8 {
            let Some(meta) = self.head(key) else {
                return Ok(None);
            };
            if !meta.complete {
                match self.uploads.current(key) {
                    Some(upload) if upload.seq() == meta.seq => {
                        return Ok(Some(OpenedObject {
                            meta,
                            body: ObjectBody::Growing(upload),
                            from_disk: false,
                        }));
                    }
                    _ => continue,
                }
            }
            if let Some(bytes) = self.memory.get(key, &meta.etag) {
                self.counters.memory_hits.add(1);
                return Ok(Some(OpenedObject {
                    meta,
                    body: ObjectBody::Memory(bytes),
                    from_disk: false,
                }));
            }
            Counters::bump(&self.counters.memory_misses);
            if !meta.placement.on_disk() {
                // Evicted between the lookup and now: it is gone.
                self.forget(key, meta.seq);
                continue;
            }
            if self.memory.admits(meta.size) {
                match self.read_into_memory(key, &meta).await? {
                    Some(bytes) => {
                        return Ok(Some(OpenedObject {
                            meta,
                            body: ObjectBody::Memory(bytes),
                            from_disk: true,
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
                        from_disk: true,
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

    /// The current version of `key` if it is complete, has entity tag `etag` and is held in memory, without
    /// waiting: the one case a read can be answered in without awaiting anything. `None` otherwise (not
    /// there, another version, on disk only, still arriving), when [`Tiers::open_object`] says which.
    pub fn open_in_memory(&self, key: &str, etag: &str) -> Option<OpenedObject> {
        let meta = self
            .head(key)
            .filter(|meta| meta.complete && meta.etag == etag)?;
        let bytes = self.memory.get(key, &meta.etag)?;
        self.counters.memory_hits.add(1);
        Some(OpenedObject {
            meta,
            body: ObjectBody::Memory(bytes),
            from_disk: false,
        })
    }

    /// Counts a memory hit answered from a copy of an object [`Tiers::open_in_memory`] handed over.
    pub fn count_memory_hit(&self) {
        self.counters.memory_hits.add(1);
    }

    /// Reads a whole small object from disk into memory, sharing one read among concurrent callers.
    /// `None` if its file is gone (replaced meanwhile).
    async fn read_into_memory(
        &self,
        key: &str,
        meta: &ObjectMeta,
    ) -> Result<Option<Bytes>, TierError> {
        let path = self.disk.path_for(key, meta.seq);
        let (result, led) = self
            .reads
            .read(meta.seq, || async {
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
            .await;
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

    /// The whole body of `key` if it is complete and at most `max_bytes` long: for guests reading playlists.
    /// A larger object is refused from its metadata, before any of it is read.
    ///
    /// # Errors
    /// `NotFound`, `TooLarge`, or the disk's failure.
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
        if let Err(e) = self.read_into_memory(key, &meta).await {
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
    pub(crate) fn settle(&self, evicted: Vec<Evicted>) {
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
}

/// The memory tier's entry for a version.
pub(crate) fn hot_object(meta: &ObjectMeta, body: Bytes) -> HotObject {
    HotObject {
        etag: meta.etag.as_str().into(),
        body,
        placement: meta.placement,
        seq: meta.seq,
    }
}
