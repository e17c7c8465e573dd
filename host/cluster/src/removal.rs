//! DELETE in a cluster: removed from the store first (a failure answers 503 and removes nothing), then
//! here, then announced, so every node drops its copy.

use std::time::Instant;

use strata_tiers::{Placement, TierError};

use crate::Cluster;
use crate::catalog::Source;
use crate::change::{Change, Message};

impl Cluster {
    /// Removes `key` everywhere; `false` if there was nothing to remove.
    pub(crate) async fn remove(&self, key: &str) -> Result<bool, TierError> {
        let current = self.current(key).await;
        let in_store = current
            .as_ref()
            .is_none_or(|meta| meta.placement != Placement::Memory);
        if in_store {
            self.store
                .delete(key)
                .await
                .map_err(|e| TierError::Shared {
                    action: "remove",
                    reason: e.to_string(),
                })?;
        }
        let seq = self.local.next_seq();
        let removed =
            self.catalog()
                .remove(key, seq, Source::Own, self.feed.state(), Instant::now());
        let local = self.local.delete(key).await?;
        let message = Message {
            node: self.node.clone(),
            instance: self.instance,
            change: Change::Delete {
                key: key.to_owned(),
                seq,
            },
            body: None,
        };
        self.feed.publish(message.encode()).await;
        Ok(current.is_some() || removed.is_some() || local)
    }
}
