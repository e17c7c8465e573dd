//! The `strata:origin/tiers` import of every ABI version: what a guest may read of storage, confined to its
//! namespace when it has one (outside it, objects do not exist, reads are denied, listings are empty).
//! Both versions' interfaces are the same shape; one macro implements them over [`GuestState`].

use strata_tiers::ReadError as TierReadError;

use super::GuestState;
use crate::state::StateError;

/// Most keys one listing returns, whatever the guest asks.
const LIST_LIMIT: u32 = 1000;

macro_rules! tiers_import {
    ($version:ident $($more:item)*) => {
        impl crate::bindings::$version::strata::origin::types::Host for GuestState {}

        impl crate::bindings::$version::strata::origin::tiers::Host for GuestState {
            async fn head(
                &mut self,
                key: String,
            ) -> Option<crate::bindings::$version::strata::origin::types::ObjectMeta> {
                if !self.may_reach(&key) {
                    return None;
                }
                self.note_key(&key);
                let meta = self.storage.head(&key).await?;
                self.reads.saw(&meta);
                Some(crate::convert::$version::object_meta(&meta))
            }

            async fn read(
                &mut self,
                key: String,
                max_bytes: u64,
            ) -> Result<Vec<u8>, crate::bindings::$version::strata::origin::tiers::ReadError> {
                use crate::bindings::$version::strata::origin::tiers::ReadError;
                if !self.may_reach(&key) {
                    return Err(ReadError::Denied);
                }
                let max_bytes = max_bytes.min(self.max_read_bytes);
                self.note_key(&key);
                if let Some(meta) = self.storage.head(&key).await {
                    self.reads.saw(&meta);
                }
                match self.storage.read_small(&key, max_bytes).await {
                    Ok(bytes) => Ok(bytes.to_vec()),
                    Err(TierReadError::NotFound) => Err(ReadError::NotFound),
                    Err(TierReadError::TooLarge(size)) => Err(ReadError::TooLarge(size)),
                    Err(TierReadError::Tier(e)) => Err(ReadError::Io(e.client_reason())),
                }
            }

            async fn list_keys(&mut self, prefix: String, limit: u32) -> Vec<String> {
                let Some(prefix) = self.listable(prefix) else {
                    return Vec::new();
                };
                self.note_listing(&prefix);
                self.storage
                    .list(&prefix, &[], limit.min(LIST_LIMIT) as usize)
                    .await
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
                self.note_listing(&prefix);
                self.storage
                    .list(&prefix, &suffixes, limit.min(LIST_LIMIT) as usize)
                    .await
            }

            $($more)*
        }
    };
}

tiers_import!(v0_1);
tiers_import!(v0_2
    async fn write_state(
        &mut self,
        key: String,
        expected: Option<String>,
        body: Vec<u8>,
    ) -> Result<String, crate::bindings::v0_2::strata::origin::tiers::WriteError> {
        use crate::bindings::v0_2::strata::origin::tiers::WriteError;
        if !self.keeps_state(&key) {
            return Err(WriteError::Denied);
        }
        let Some(state) = self.state.clone() else {
            return Err(WriteError::Io("this host keeps no guest state".into()));
        };
        state
            .replace(&key, expected.as_deref(), body)
            .await
            .map_err(|e| match e {
                StateError::Conflict => WriteError::Conflict,
                StateError::TooLarge(limit) => WriteError::TooLarge(limit),
                StateError::Io(reason) => WriteError::Io(reason),
            })
    }
);

impl GuestState {
    /// The prefix a listing of `prefix` may cover: clamped to the namespace, `None` when wholly outside it.
    fn listable(&self, prefix: String) -> Option<String> {
        match self.namespace.as_deref() {
            Some(ns) if ns.starts_with(prefix.as_str()) => Some(ns.to_owned()),
            Some(ns) if !prefix.starts_with(ns) => None,
            _ => Some(prefix),
        }
    }

    /// Records, before reading `key`, its change stamp, so the host can tell later whether the decision
    /// still holds (`strata_tiers::stamps`).
    fn note_key(&mut self, key: &str) {
        match self.storage.stamps() {
            Some(stamps) => self.reads.add(stamps.key(key)),
            None => self.reads.untracked(),
        }
    }

    /// Records, before listing `prefix`, the change stamp of its listings.
    fn note_listing(&mut self, prefix: &str) {
        match self.storage.stamps() {
            Some(stamps) => self.reads.add(stamps.listing(prefix)),
            None => self.reads.untracked(),
        }
    }

    /// Whether this guest may touch `key`: always without a namespace, else only under it, and the state of
    /// its own redundant routes.
    pub fn may_reach(&self, key: &str) -> bool {
        within(self.namespace.as_deref(), key) || self.keeps_state(key)
    }

    /// Whether `key` is state of a redundant route this decision's settings name (`state.rs`).
    fn keeps_state(&self, key: &str) -> bool {
        self.state_prefixes
            .iter()
            .any(|prefix| key.len() > prefix.len() && key.starts_with(prefix.as_str()))
    }
}

/// Whether `key` lies in `namespace` (everything lies in no namespace).
pub fn within(namespace: Option<&str>, key: &str) -> bool {
    namespace.is_none_or(|ns| key.starts_with(ns))
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
