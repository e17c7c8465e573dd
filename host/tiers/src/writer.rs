//! A new object version streamed in: placed by its rule, hashed as it arrives, written to disk (durable and
//! disk placements) and kept hot (durable and memory ones) under the upload memory budget, readable while it
//! arrives when its rule allows, and current only at [`ObjectWriter::commit`]. Dropped without a commit, it
//! aborts: readers of the upload get an error, and its disk space and memory are given back.

use std::sync::Arc;

use bytes::{Bytes, BytesMut};

use super::disk::DiskWrite;
use super::index::Index;
use super::open::hot_object;
use super::upload_memory::Held;
use super::{Naming, NewObject, ObjectMeta, Placement, TierError, Tiers, Upload, files, now_secs};

impl Tiers {
    /// Starts a new version of `key`, placed by its rule; readable while it arrives if the rule allows,
    /// and current at [`ObjectWriter::commit`].
    ///
    /// # Errors
    /// `UploadMemoryFull` when uploads in progress hold their whole budget; the disk's failure.
    pub async fn writer(
        self: &Arc<Self>,
        key: &str,
        spec: NewObject,
        max_bytes: u64,
    ) -> Result<ObjectWriter, TierError> {
        self.upload_memory.admit()?;
        let mut policy = self.rules.policy(key);
        let seq = match &spec.naming {
            Naming::Local => self.next_seq(),
            Naming::Given { seq, .. } => self.observe_seq(*seq),
            Naming::Copy {
                of,
                placement,
                streamed,
            } => {
                policy.placement = *placement;
                policy.streaming_reads = *streamed;
                self.observe_seq(of.seq)
            }
        };
        let disk = match policy.placement.on_disk() {
            true => Some(self.disk.begin(seq).await?),
            false => None,
        };
        let hot = match policy.placement {
            Placement::Memory => Some(BytesMut::new()),
            Placement::Durable => self.memory.admits(0).then(BytesMut::new),
            Placement::Disk => None,
        };
        let mut spec = spec;
        if let Naming::Copy { of, .. } = &spec.naming {
            spec.content_type = of.content_type.clone();
            spec.cache_control = of.cache_control.clone();
            spec.metadata = of.metadata.clone();
        }
        let ttl_seconds = match spec.naming {
            Naming::Local => spec.ttl_seconds.or(policy.ttl_seconds),
            _ => None,
        };
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
            self.uploads.start(key, Arc::clone(&upload));
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
}

/// A new object version being streamed in (see the module's documentation).
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
    /// room; `MemoryFull` when a memory-only object outgrows the memory tier; `UploadMemoryFull` when the
    /// chunk cannot be kept within the upload memory budget; other I/O errors.
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
            self.tiers.disk_budget.reserve(len)?;
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

    /// The key being written.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The sequence this version commits under.
    pub fn seq(&self) -> u64 {
        self.seq
    }

    /// Makes the object current: for disk placements synced, renamed into place and indexed before this
    /// returns; kept hot for durable and memory placements.
    ///
    /// # Errors
    /// `MemoryFull` when a memory-only object no longer fits; `IncompleteCopy` when a copy's body is not
    /// the size its metadata gives; the disk's failure. Nothing is stored then.
    pub async fn commit(mut self) -> Result<Arc<ObjectMeta>, TierError> {
        let meta = Arc::new(self.final_meta());
        if let Naming::Copy { of: copied, .. } = &self.spec.naming
            && copied.size != self.size
        {
            return Err(TierError::IncompleteCopy {
                key: self.key.clone(),
                expected: copied.size,
                got: self.size,
            });
        }
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
                let (replaced, published) = {
                    let mut index = tiers.index();
                    if newer_exists(&index, &meta) {
                        // A later upload of the same key committed first: this one is already superseded,
                        // and its bytes were never published.
                        drop(synced);
                        tiers.disk_budget.release(meta.size);
                        (None, false)
                    } else {
                        synced.publish(&path)?;
                        (index.insert(Arc::clone(&meta)), true)
                    }
                };
                // The index (or, when superseded, the release above) owns the bytes now.
                self.reserved = 0;
                if published {
                    files::sync_parent(&path).await?;
                }
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
            // A second commit of the same version (two read-through copies of one stored object) published
            // its file at the path of the first: the file stays, only the first's budget goes.
            if old.seq != meta.seq || !meta.placement.on_disk() {
                let _ = std::fs::remove_file(tiers.disk.path_for(&old.key, old.seq));
            }
            tiers.disk_budget.release(old.size);
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
            tiers.uploads.end(&meta.key, &upload);
        }
        tiers.announce_change(&meta.key);
        Ok(meta)
    }

    /// The metadata of the version as written: its size, name and lifetime.
    fn final_meta(&mut self) -> ObjectMeta {
        let now = now_secs();
        let (etag, last_modified, expires_at) = match &self.spec.naming {
            Naming::Local => {
                let hash = self.hasher.finalize().to_hex();
                let expires_at = self.ttl_seconds.map(|ttl| now.saturating_add(ttl));
                (format!("\"{}\"", &hash[..32]), now, expires_at)
            }
            Naming::Given {
                etag,
                last_modified,
                expires_at,
                ..
            } => (etag.clone(), *last_modified, *expires_at),
            Naming::Copy { of, .. } => (of.etag.clone(), of.last_modified, of.expires_at),
        };
        ObjectMeta {
            key: self.key.clone(),
            size: self.size,
            content_type: std::mem::take(&mut self.spec.content_type),
            etag,
            last_modified,
            cache_control: self.spec.cache_control.take(),
            metadata: std::mem::take(&mut self.spec.metadata),
            seq: self.seq,
            placement: self.placement,
            expires_at,
            complete: true,
        }
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
            self.tiers.disk_budget.release(self.reserved);
        }
        if !self.committed
            && let Some(upload) = self.upload.take()
        {
            upload.abort();
            self.tiers.uploads.end(&self.key, &upload);
            self.tiers.announce_change(&self.key);
        }
    }
}
