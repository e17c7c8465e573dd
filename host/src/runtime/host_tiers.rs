//! The `strata:origin/tiers` import: what a guest may read of the host's storage.

use super::GuestState;
use super::bindings::strata::origin::tiers::{Host, ReadError};
use super::bindings::strata::origin::types::{Host as TypesHost, ObjectMeta};
use crate::tiers;

/// Most keys one `list` call returns, whatever the guest asks.
const LIST_LIMIT: u32 = 1000;

impl TypesHost for GuestState {}

impl Host for GuestState {
    async fn head(&mut self, key: String) -> Option<ObjectMeta> {
        self.tiers.head(&key).map(|meta| to_abi(&meta))
    }

    async fn read(&mut self, key: String, max_bytes: u64) -> Result<Vec<u8>, ReadError> {
        let max_bytes = max_bytes.min(self.max_read_bytes);
        match self.tiers.read_small(&key, max_bytes).await {
            Ok(bytes) => Ok(bytes.to_vec()),
            Err(tiers::ReadError::NotFound) => Err(ReadError::NotFound),
            Err(tiers::ReadError::TooLarge(size)) => Err(ReadError::TooLarge(size)),
            Err(tiers::ReadError::Tier(e)) => Err(ReadError::Io(e.to_string())),
        }
    }

    async fn list_keys(&mut self, prefix: String, limit: u32) -> Vec<String> {
        self.tiers.list(&prefix, limit.min(LIST_LIMIT) as usize)
    }
}

/// The guest's view of an object's metadata.
pub fn to_abi(meta: &tiers::ObjectMeta) -> ObjectMeta {
    ObjectMeta {
        key: meta.key.clone(),
        size: meta.size,
        content_type: meta.content_type.clone(),
        etag: meta.etag.clone(),
        last_modified: meta.last_modified,
        cache_control: meta.cache_control.clone(),
        metadata: meta.metadata.clone(),
        complete: meta.complete,
    }
}
