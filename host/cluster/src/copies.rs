//! Reading through to the store: a version this node lacks is copied into the local tiers once, however
//! many requests want it at the same time; readers follow the copy while it arrives (objects up to
//! [`STREAMED_COPY_BYTES`]) or wait for it (larger ones, which are not held in memory). The local disk is
//! a cache under `[storage] disk_bytes`: the least recently used copies make room for new ones.

use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;
use strata_tiers::{
    Naming, NewObject, ObjectBody, ObjectMeta, OpenedObject, Placement, ReadError, TierError,
};
use tokio::io::AsyncReadExt;

use crate::catalog::Source;
use crate::{Cluster, lock};

/// Largest copy readers follow while it arrives; a larger one is read once it is on the local disk.
const STREAMED_COPY_BYTES: u64 = 16 << 20;

/// The local disk is kept below this share of its budget, in percent, by dropping copies.
const DISK_HIGH_WATER_PERCENT: u64 = 90;

impl Cluster {
    /// Opens the current version of `key`: from the local tiers, or copied in from the store.
    pub(crate) async fn open_current(&self, key: &str) -> Result<Option<OpenedObject>, TierError> {
        // Each pass either answers or learns something newer (a changed or vanished version).
        for _ in 0..4 {
            let Some(meta) = self.current(key).await else {
                return Ok(None);
            };
            if !meta.complete {
                return self.local.open_object(key).await;
            }
            if let Some(opened) = self.open_local(&meta).await? {
                return Ok(Some(opened));
            }
            if meta.placement == Placement::Memory {
                // Never in the store, and the only copy here is gone.
                self.catalog().forget(key, meta.seq);
                continue;
            }
            if let Some(opened) = self.copy_in(&meta).await? {
                return Ok(Some(opened));
            }
        }
        Ok(None)
    }

    /// The whole of `key` if it is complete and at most `max_bytes` long.
    pub(crate) async fn read_whole(&self, key: &str, max_bytes: u64) -> Result<Bytes, ReadError> {
        let meta = self.current(key).await.ok_or(ReadError::NotFound)?;
        if !meta.complete {
            return Err(ReadError::NotFound);
        }
        if meta.size > max_bytes {
            return Err(ReadError::TooLarge(meta.size));
        }
        let opened = self.open_current(key).await?.ok_or(ReadError::NotFound)?;
        if opened.meta.size > max_bytes {
            return Err(ReadError::TooLarge(opened.meta.size));
        }
        let size = usize::try_from(opened.meta.size).unwrap_or(usize::MAX);
        match opened.body {
            ObjectBody::Memory(bytes) => Ok(bytes),
            ObjectBody::Disk(file) => {
                let mut body = Vec::with_capacity(size);
                file.take(opened.meta.size)
                    .read_to_end(&mut body)
                    .await
                    .map_err(|e| TierError::io("read", key, e))?;
                Ok(Bytes::from(body))
            }
            ObjectBody::Growing(upload) => {
                let mut body = BytesMut::with_capacity(size);
                let mut chunks = std::pin::pin!(upload.reader(0, None));
                while let Some(chunk) = chunks.next().await {
                    body.extend_from_slice(&chunk.map_err(|e| TierError::io("copy", key, e))?);
                }
                Ok(body.freeze())
            }
        }
    }

    /// `meta`'s version from the local tiers, if they hold it or are copying it in.
    async fn open_local(&self, meta: &Arc<ObjectMeta>) -> Result<Option<OpenedObject>, TierError> {
        let held = self
            .local
            .head(&meta.key)
            .is_some_and(|local| local.complete && local.seq == meta.seq);
        if held
            && let Some(opened) = self.local.open_object(&meta.key).await?
            && opened.meta.seq == meta.seq
        {
            self.touch(&meta.key, meta.size);
            return Ok(Some(OpenedObject {
                meta: Arc::clone(meta),
                body: opened.body,
                from_disk: opened.from_disk,
            }));
        }
        Ok(self
            .local
            .upload(&meta.key)
            .filter(|upload| upload.seq() == meta.seq)
            .map(|upload| OpenedObject {
                meta: Arc::clone(meta),
                body: ObjectBody::Growing(upload),
                from_disk: false,
            }))
    }

    /// Copies `meta`'s version in from the store (once for all concurrent readers) and opens it; `None`
    /// when the store holds another version or none (the catalog then knows, and the caller looks again).
    async fn copy_in(&self, meta: &Arc<ObjectMeta>) -> Result<Option<OpenedObject>, TierError> {
        let gate = Arc::clone(lock(&self.copying).entry(meta.key.clone()).or_default());
        let opened = {
            let _turn = gate.lock().await;
            self.copy_in_turn(meta).await
        };
        let mut copying = lock(&self.copying);
        if copying
            .get(&meta.key)
            .is_some_and(|g| Arc::ptr_eq(g, &gate) && Arc::strong_count(g) == 2)
        {
            copying.remove(&meta.key);
        }
        opened
    }

    async fn copy_in_turn(
        &self,
        meta: &Arc<ObjectMeta>,
    ) -> Result<Option<OpenedObject>, TierError> {
        if let Some(opened) = self.open_local(meta).await? {
            return Ok(Some(opened));
        }
        let fetched = match self.store.get(&meta.key).await {
            Ok(Some(fetched)) => fetched,
            Ok(None) => {
                let asked_at = std::time::Instant::now();
                let gone = self.catalog().learn_from_store(
                    &meta.key,
                    None,
                    asked_at,
                    self.feed.state(),
                    asked_at,
                );
                if let Some(gone) = gone {
                    self.drop_local_copy(&gone).await;
                }
                return Ok(None);
            }
            Err(e) => {
                return Err(TierError::Shared {
                    action: "read",
                    reason: e.to_string(),
                });
            }
        };
        if fetched.meta.seq != meta.seq {
            self.catalog().learn(
                Arc::clone(&fetched.meta),
                Source::Store,
                self.feed.state(),
                std::time::Instant::now(),
            );
            return Ok(None);
        }
        self.make_room(meta.size).await;
        let streamed = meta.size <= STREAMED_COPY_BYTES;
        let placement = match self.local.policy(&meta.key).placement {
            Placement::Disk => Placement::Disk,
            _ => Placement::Durable,
        };
        let spec = NewObject {
            naming: Naming::Copy {
                of: Arc::clone(&fetched.meta),
                placement,
                streamed,
            },
            ..NewObject::default()
        };
        let mut writer = self.local.writer(&meta.key, spec, u64::MAX).await?;
        let key = meta.key.clone();
        let size = meta.size;
        let copy = async move {
            let mut body = fetched.body;
            while let Some(chunk) = body.next().await {
                let chunk = chunk.map_err(|e| TierError::Shared {
                    action: "read",
                    reason: e.to_string(),
                })?;
                writer.write(chunk).await?;
            }
            writer.commit().await.map(drop)
        };
        if streamed {
            let upload = self.local.upload(&meta.key).filter(|u| u.seq() == meta.seq);
            self.runtime.spawn(async move {
                if let Err(e) = copy.await {
                    tracing::warn!(%key, error = %e, "copy from the store failed");
                }
            });
            self.touch(&meta.key, size);
            return Ok(upload.map(|upload| OpenedObject {
                meta: Arc::clone(meta),
                body: ObjectBody::Growing(upload),
                from_disk: false,
            }));
        }
        copy.await?;
        self.open_local(meta).await
    }

    /// Removes this node's copy of `gone` (or an older one), which the cluster no longer holds.
    pub(crate) async fn drop_local_copy(&self, gone: &ObjectMeta) {
        lock(&self.recency).pop(&gone.key);
        if self
            .local
            .head(&gone.key)
            .is_some_and(|local| local.complete && local.seq <= gone.seq)
            && let Err(e) = self.local.delete(&gone.key).await
        {
            tracing::warn!(key = %gone.key, error = %e, "cannot drop a local copy");
        }
    }

    /// Drops this node's copy of `replaced` if it holds that very version (the store holds another one now).
    pub(crate) async fn drop_replaced_copy(&self, replaced: &ObjectMeta) {
        if self
            .local
            .head(&replaced.key)
            .is_some_and(|local| local.complete && local.seq == replaced.seq)
            && let Err(e) = self.local.delete(&replaced.key).await
        {
            tracing::warn!(key = %replaced.key, error = %e, "cannot drop a replaced local copy");
        }
    }

    /// Notes that `key`'s copy (`size` bytes) was used now.
    pub(crate) fn touch(&self, key: &str, size: u64) {
        lock(&self.recency).put(key.to_owned(), size);
    }

    /// Drops the least recently used copies until `incoming` more bytes fit under the disk's high water.
    pub(crate) async fn make_room(&self, incoming: u64) {
        let Some(budget) = self.disk_budget else {
            return;
        };
        let high_water = budget / 100 * DISK_HIGH_WATER_PERCENT;
        while self.local.stats().disk_bytes + incoming > high_water {
            let Some((key, _)) = lock(&self.recency).pop_lru() else {
                return;
            };
            let in_store = self
                .local
                .head(&key)
                .is_some_and(|local| local.complete && local.placement.on_disk());
            if in_store && let Err(e) = self.local.delete(&key).await {
                tracing::warn!(%key, error = %e, "cannot drop a local copy");
                return;
            }
        }
    }
}
