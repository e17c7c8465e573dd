//! The `strata:origin/tiers` import: what a guest may read of the host's storage, confined to its
//! namespace when it has one (outside it, objects do not exist, reads are denied, listings are empty).

use super::GuestState;
use super::bindings::strata::origin::tiers::{Host, ReadError};
use super::bindings::strata::origin::types::{Host as TypesHost, ObjectMeta};
use crate::tiers;

/// Most keys one `list` call returns, whatever the guest asks.
const LIST_LIMIT: u32 = 1000;

/// Most keys a filtered listing looks at under its prefix, whatever it finds (listings of playlists look
/// only at playlists: `tiers/index.rs`).
const SCAN_LIMIT: usize = 10_000;

impl TypesHost for GuestState {}

impl Host for GuestState {
    async fn head(&mut self, key: String) -> Option<ObjectMeta> {
        if !self.may_reach(&key) {
            return None;
        }
        self.tiers.head(&key).map(|meta| to_abi(&meta))
    }

    async fn read(&mut self, key: String, max_bytes: u64) -> Result<Vec<u8>, ReadError> {
        if !self.may_reach(&key) {
            return Err(ReadError::Denied);
        }
        let max_bytes = max_bytes.min(self.max_read_bytes);
        match self.tiers.read_small(&key, max_bytes).await {
            Ok(bytes) => Ok(bytes.to_vec()),
            Err(tiers::ReadError::NotFound) => Err(ReadError::NotFound),
            Err(tiers::ReadError::TooLarge(size)) => Err(ReadError::TooLarge(size)),
            Err(tiers::ReadError::Tier(e)) => Err(ReadError::Io(e.client_reason())),
        }
    }

    async fn list_keys(&mut self, prefix: String, limit: u32) -> Vec<String> {
        let Some(prefix) = self.listable(prefix) else {
            return Vec::new();
        };
        self.tiers.list(&prefix, limit.min(LIST_LIMIT) as usize)
    }

    async fn list_keys_ending(
        &mut self,
        prefix: String,
        suffixes: Vec<String>,
        limit: u32,
    ) -> Vec<String> {
        let Some(prefix) = self.listable(prefix) else {
            return Vec::new();
        };
        self.tiers.list_ending(
            &prefix,
            &suffixes,
            limit.min(LIST_LIMIT) as usize,
            SCAN_LIMIT,
        )
    }
}

impl GuestState {
    /// The prefix a listing of `prefix` may cover: clamped to the namespace, `None` when wholly outside it.
    fn listable(&self, prefix: String) -> Option<String> {
        match self.namespace.as_deref() {
            Some(ns) if ns.starts_with(prefix.as_str()) => Some(ns.to_owned()),
            Some(ns) if !prefix.starts_with(ns) => None,
            _ => Some(prefix),
        }
    }

    /// Whether this guest may touch `key`: always without a namespace, else only under it.
    pub fn may_reach(&self, key: &str) -> bool {
        within(self.namespace.as_deref(), key)
    }
}

/// Whether `key` lies in `namespace` (everything lies in no namespace).
pub fn within(namespace: Option<&str>, key: &str) -> bool {
    namespace.is_none_or(|ns| key.starts_with(ns))
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

#[cfg(test)]
mod tests {
    use super::within;

    #[test]
    fn a_namespace_reaches_only_its_prefix() {
        assert!(within(None, "b/secret"));
        assert!(within(Some("a/"), "a/x.m3u8"));
        assert!(!within(Some("a/"), "b/secret"));
        assert!(!within(Some("a/"), "a"));
    }
}
