//! A write in a cluster: the body goes to the local tiers and to the store as it arrives; the version is
//! acknowledged once the store has it (memory-only objects excepted: they stay on this node), then becomes
//! current here and is announced to the other nodes, with its bytes when small.

use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use futures_util::future::BoxFuture;
use strata_tiers::{
    Held, Naming, NewObject, ObjectMeta, ObjectWriter, Placement, TierError, Writer,
};

use crate::Cluster;
use crate::catalog::Source;
use crate::change::{Change, Message};
use crate::shared_store::{Upload, unix_now};

/// A new version being written through a cluster node.
pub struct ClusterWriter {
    cluster: Arc<Cluster>,
    local: ObjectWriter,
    /// The store's upload; none for memory-only objects.
    shared: Pending,
    /// The body while it may still travel in its change message.
    inline: Option<Vec<Bytes>>,
    size: u64,
    /// The bytes buffered for the store, on the upload memory account.
    held: Held,
}

/// The store's side of a write until it completes; dropped before, it leaves nothing in the store (parts
/// already sent are aborted).
struct Pending(Option<Upload>);

impl Drop for Pending {
    fn drop(&mut self) {
        if let Some(Upload::Parts(parts)) = self.0.take()
            && let Ok(runtime) = tokio::runtime::Handle::try_current()
        {
            runtime.spawn(async move {
                if let Err(e) = parts.abort().await {
                    tracing::warn!(error = %e, "cannot abort a multipart upload; a bucket lifecycle rule removes it");
                }
            });
        }
    }
}

fn shared_failure(e: impl std::fmt::Display) -> TierError {
    TierError::Shared {
        action: "store",
        reason: e.to_string(),
    }
}

impl ClusterWriter {
    /// Starts a version of `key`, named here so the store records the identity every node will give it.
    ///
    /// # Errors
    /// As the local tiers' writer.
    pub async fn start(
        cluster: Arc<Cluster>,
        key: &str,
        mut spec: NewObject,
        max_bytes: u64,
    ) -> Result<ClusterWriter, TierError> {
        let policy = cluster.local.policy(key);
        let seq = cluster.local.next_seq();
        let last_modified = unix_now();
        let expires_at = spec
            .ttl_seconds
            .or(policy.ttl_seconds)
            .map(|ttl| last_modified.saturating_add(ttl));
        let etag = format!("\"{seq:016x}\"");
        let shared = (policy.placement != Placement::Memory).then(|| {
            cluster.store.begin(&ObjectMeta {
                key: key.to_owned(),
                size: 0,
                content_type: spec.content_type.clone(),
                etag: etag.clone(),
                last_modified,
                cache_control: spec.cache_control.clone(),
                metadata: spec.metadata.clone(),
                seq,
                placement: policy.placement,
                expires_at,
                complete: true,
            })
        });
        spec.naming = Naming::Given {
            seq,
            etag,
            last_modified,
            expires_at,
        };
        let local = cluster.local.writer(key, spec, max_bytes).await?;
        let held = cluster.local.upload_memory().hold();
        Ok(ClusterWriter {
            cluster,
            local,
            shared: Pending(shared),
            inline: Some(Vec::new()),
            size: 0,
            held,
        })
    }

    async fn write_chunk(&mut self, chunk: Bytes) -> Result<(), TierError> {
        self.local.write(chunk.clone()).await?;
        self.size += chunk.len() as u64;
        if self.size > self.cluster.inline_bytes {
            self.inline = None;
        } else if let Some(inline) = &mut self.inline {
            inline.push(chunk.clone());
        }
        if let Some(upload) = &mut self.shared.0 {
            let memory = self.cluster.local.upload_memory();
            if !memory.has_room(chunk.len() as u64) {
                return Err(memory.full());
            }
            self.held.add(chunk.len() as u64);
            self.cluster
                .store
                .write(upload, chunk)
                .await
                .map_err(shared_failure)?;
            if matches!(upload, Upload::Parts(_)) {
                // What was buffered has been handed to the part uploads, which the client bounds.
                self.held.release();
            }
        }
        Ok(())
    }

    async fn commit_version(self) -> Result<Arc<ObjectMeta>, TierError> {
        let ClusterWriter {
            cluster,
            local,
            mut shared,
            inline,
            mut held,
            ..
        } = self;
        let stored = match shared.0.take() {
            Some(upload) => {
                cluster
                    .store
                    .finish_upload(upload)
                    .await
                    .map_err(shared_failure)?;
                Some(
                    cluster
                        .store
                        .head(local.key())
                        .await
                        .map_err(shared_failure)?,
                )
            }
            None => None,
        };
        held.release();
        let meta = local.commit().await?;
        // Concurrent writes of one key finish in the store in their own order, whatever their sequences:
        // the store's last write is the version every node must serve, so it is read back. A version another
        // write replaced already was stored and overwritten; that write announces its own.
        let won = match &stored {
            Some(found) => found.as_ref().is_some_and(|f| f.seq == meta.seq),
            None => true,
        };
        if !won {
            cluster.catalog().forget(&meta.key, meta.seq);
            cluster.local.announce_change(&meta.key);
            return Ok(meta);
        }
        {
            let mut catalog = cluster.catalog();
            let (feed, now) = (cluster.feed.state(), Instant::now());
            match stored.is_some() {
                true => drop(catalog.adopt(Arc::clone(&meta), Source::Own, feed, now)),
                false => drop(catalog.learn(Arc::clone(&meta), Source::Own, feed, now)),
            }
        }
        if meta.placement.on_disk() {
            cluster.touch(&meta.key, meta.size);
        }
        let body = inline.map(|chunks| Bytes::from(chunks.concat()));
        if meta.placement.on_disk() || body.is_some() {
            let message = Message {
                node: cluster.node.clone(),
                instance: cluster.instance,
                change: Change::Put {
                    meta: (*meta).clone(),
                    stored: stored.is_some(),
                },
                body,
            };
            cluster.feed.publish(message.encode()).await;
        }
        Ok(meta)
    }
}

impl Writer for ClusterWriter {
    fn write(&mut self, chunk: Bytes) -> BoxFuture<'_, Result<(), TierError>> {
        Box::pin(self.write_chunk(chunk))
    }

    fn commit(self: Box<Self>) -> BoxFuture<'static, Result<Arc<ObjectMeta>, TierError>> {
        Box::pin(self.commit_version())
    }
}
