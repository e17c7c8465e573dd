//! Changes from other nodes, applied in the order they were published: a small version's bytes are kept
//! here before anyone is woken, so a parked request finds them locally; a removal drops the local copy.

use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use strata_tiers::{Naming, NewObject, Placement};
use tokio::sync::mpsc;

use crate::Cluster;
use crate::catalog::Source;
use crate::change::{Change, Message};

/// Applies every message the feed delivers, for as long as it delivers.
pub async fn follow(cluster: Arc<Cluster>, mut messages: mpsc::Receiver<Bytes>) {
    while let Some(raw) = messages.recv().await {
        match Message::decode(&raw) {
            Ok(message) if message.instance != cluster.instance => cluster.apply(message).await,
            Ok(_) => {}
            Err(why) => tracing::warn!(%why, "unreadable change message ignored"),
        }
    }
}

impl Cluster {
    async fn apply(&self, message: Message) {
        let Message { change, body, .. } = message;
        self.local.observe_seq(change.seq());
        let key = change.key().to_owned();
        match change {
            Change::Put { meta, stored } => {
                let meta = Arc::new(meta);
                let current = self.catalog().current(&key).cloned();
                let wins = match &current {
                    Some(current) => current.seq != meta.seq && (stored || current.seq < meta.seq),
                    None => true,
                };
                if !wins {
                    return;
                }
                if let Some(body) = body.filter(|b| b.len() as u64 == meta.size) {
                    self.keep_copy(&meta, body).await;
                }
                let (feed, now) = (self.feed.state(), Instant::now());
                let replaced = match stored {
                    true => self.catalog().adopt(meta, Source::Peer, feed, now),
                    false => {
                        self.catalog().learn(meta, Source::Peer, feed, now);
                        None
                    }
                };
                if let Some(replaced) = replaced {
                    self.drop_replaced_copy(&replaced).await;
                }
            }
            Change::Delete { key, seq } => {
                let removed = self.catalog().remove(
                    &key,
                    seq,
                    Source::Peer,
                    self.feed.state(),
                    Instant::now(),
                );
                if let Some(removed) = removed {
                    self.drop_local_copy(&removed).await;
                }
            }
        }
        self.local.announce_change(&key);
    }

    /// Keeps `body`, a peer's new version, in this node's memory (a copy: the store or the peer holds it).
    async fn keep_copy(&self, meta: &Arc<strata_tiers::ObjectMeta>, body: Bytes) {
        let spec = NewObject {
            naming: Naming::Copy {
                of: Arc::clone(meta),
                placement: Placement::Memory,
                streamed: false,
            },
            ..NewObject::default()
        };
        let copied = async {
            let mut writer = self.local.writer(&meta.key, spec, u64::MAX).await?;
            writer.write(body).await?;
            writer.commit().await
        };
        if let Err(e) = copied.await {
            tracing::debug!(key = %meta.key, error = %e, "no room for a peer's copy; it will be read from the store");
        }
    }
}
