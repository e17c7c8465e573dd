//! The one write a handler may make: the small remembered state of a redundant route (which input is current
//! per rendition, the numbering at the switch), replaced only if it is still the version the guest read, so
//! two decisions racing to switch cannot both win (`docs/decisions/0054`).
//!
//! The state is an ordinary object of the tiers (under `_strata/redundant/`, a key space no client path
//! reaches), written through [`Storage::store`]: it survives restarts like any object, and its commit moves
//! the key's change stamp, so every remembered decision that read the old state is no longer replayed.

use std::sync::Arc;

use bytes::Bytes;
use strata_tiers::{NewObject, Storage};
use tokio::sync::Mutex;

/// Largest state object a guest may write: a rendition's state is a few segments' lines.
pub const MAX_STATE_BYTES: u64 = 64 * 1024;

/// Why a state write failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StateError {
    /// The object is no longer at the entity tag the guest expected.
    Conflict,
    /// The body is over [`MAX_STATE_BYTES`].
    TooLarge(u64),
    /// The storage could not write it; one line.
    Io(String),
}

/// Compare-and-set writes of state objects through the storage the data plane uses.
pub struct StateWrites {
    storage: Arc<dyn Storage>,
    /// One state write at a time on this node: the compare and the commit happen under it.
    lock: Mutex<()>,
}

impl StateWrites {
    /// State writes through `storage`.
    pub fn new(storage: Arc<dyn Storage>) -> Self {
        StateWrites {
            storage,
            lock: Mutex::new(()),
        }
    }

    /// Replaces `key` with `body` if its entity tag is `expected` (`None`: if there is no object); returns
    /// the new entity tag.
    ///
    /// # Errors
    /// [`StateError`]: another write came first, the body is too large, or the storage failed.
    pub async fn replace(
        &self,
        key: &str,
        expected: Option<&str>,
        body: Vec<u8>,
    ) -> Result<String, StateError> {
        if body.len() as u64 > MAX_STATE_BYTES {
            return Err(StateError::TooLarge(MAX_STATE_BYTES));
        }
        let _one_at_a_time = self.lock.lock().await;
        let current = self.storage.head(key).await;
        if current.as_ref().map(|meta| meta.etag.as_str()) != expected {
            return Err(StateError::Conflict);
        }
        let spec = NewObject {
            content_type: "text/plain; charset=utf-8".into(),
            ..NewObject::default()
        };
        let io = |e: strata_tiers::TierError| StateError::Io(e.client_reason());
        let mut writer = Arc::clone(&self.storage)
            .store(key.to_owned(), spec, MAX_STATE_BYTES)
            .await
            .map_err(io)?;
        writer.write(Bytes::from(body)).await.map_err(io)?;
        let meta = writer.commit().await.map_err(io)?;
        Ok(meta.etag.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use strata_tiers::{TierSettings, Tiers};

    #[tokio::test]
    async fn only_the_expected_version_is_replaced_and_the_stamp_moves() {
        let dir = tempfile::tempdir().unwrap();
        let tiers = Arc::new(
            Tiers::open(
                dir.path(),
                TierSettings {
                    memory_bytes: 1 << 20,
                    ..TierSettings::default()
                },
            )
            .unwrap(),
        );
        let writes = StateWrites::new(Arc::clone(&tiers) as Arc<dyn Storage>);
        let key = "_strata/redundant/ch/index.m3u8";
        let before = tiers.stamps().key(key);
        let first = writes.replace(key, None, b"one".to_vec()).await.unwrap();
        assert!(
            !tiers.stamps().unchanged(&before),
            "the write moves the stamp"
        );
        assert_eq!(
            writes.replace(key, None, b"two".to_vec()).await,
            Err(StateError::Conflict)
        );
        let second = writes
            .replace(key, Some(&first), b"two".to_vec())
            .await
            .unwrap();
        assert_ne!(first, second);
        assert_eq!(
            writes.replace(key, Some(&first), b"three".to_vec()).await,
            Err(StateError::Conflict)
        );
        assert_eq!(tiers.read_small(key, 100).await.unwrap().as_ref(), b"two");
        assert_eq!(
            writes
                .replace(key, Some(&second), vec![0; MAX_STATE_BYTES as usize + 1])
                .await,
            Err(StateError::TooLarge(MAX_STATE_BYTES))
        );
    }
}
