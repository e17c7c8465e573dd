//! Objects leaving the index on their own: past their TTL (checked on every lookup and swept every
//! period, so expired objects leave memory and disk even if nobody asks for them), or memory-only ones
//! evicted from memory.

use std::sync::{Arc, Weak};
use std::time::Duration;

use super::counters::Counters;
use super::{ObjectMeta, Tiers, now_secs};

impl Tiers {
    /// Removes version `seq` of a memory-only `key` from the index, if it is still the current one.
    pub(crate) fn forget(&self, key: &str, seq: u64) {
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
    pub(crate) fn expire(&self, meta: &ObjectMeta) {
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
            self.disk_budget.release(meta.size);
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

    /// Runs `expire_due` every `period` while the tiers live.
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
}
