//! Read access to stored objects, as each platform provides it (the Strata host's tiers through the
//! `tiers` import, Spin's key-value store, an in-memory map in tests).

use crate::types::ObjectMeta;

/// Why a read failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadError {
    /// Nothing is stored under the key.
    NotFound,
    /// The object is larger than asked for; carries its size.
    TooLarge(u64),
    /// The key is outside what this guest may read.
    Denied,
    /// The platform could not read it.
    Io(String),
}

/// Why a state write failed ([`Objects::write_state`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WriteError {
    /// Another decision changed the state first: read it again.
    Conflict,
    /// The key is outside the state this guest may keep.
    Denied,
    /// The body is larger than the platform keeps for state; carries the limit.
    TooLarge(u64),
    /// The platform could not write it, or keeps no state.
    Io(String),
}

/// The storage a decision may consult: metadata and small objects, never segment bytes.
pub trait Objects {
    /// Metadata of the object under `key`, if any.
    fn head(&self, key: &str) -> Option<ObjectMeta>;
    /// The whole object under `key`, if it is at most `max_bytes` long.
    fn read(&self, key: &str, max_bytes: u64) -> Result<Vec<u8>, ReadError>;
    /// Up to `limit` keys starting with `prefix` and ending with one of `suffixes` (ASCII
    /// case-insensitive), in lexical order: a folder's playlists without listing its segments.
    fn list_ending(&self, prefix: &str, suffixes: &[&str], limit: u32) -> Vec<String>;

    /// Replaces the small state object under `key` with `body` if its entity tag is still `expected`
    /// (`None`: if there is none), in one step; returns the new entity tag. The one write a decision may
    /// make (what a redundant route remembers); platforms that keep no state refuse it.
    fn write_state(
        &self,
        key: &str,
        expected: Option<&str>,
        body: &[u8],
    ) -> Result<String, WriteError> {
        let _ = (key, expected, body);
        Err(WriteError::Io("this platform keeps no state".into()))
    }

    /// Notes that the decision being made from these objects holds only `ms` more milliseconds by the
    /// clock (a live playlist about to go stale), so a platform that remembers decisions stops replaying
    /// it then; platforms that remember nothing ignore it.
    fn expires_in(&self, ms: u64) {
        let _ = ms;
    }
}

/// Whether `key` ends with one of `suffixes`, ASCII case-insensitively: the filter of
/// [`Objects::list_ending`] for platforms that filter a plain listing.
pub fn ends_with_any(key: &str, suffixes: &[&str]) -> bool {
    suffixes.iter().any(|suffix| {
        key.len() >= suffix.len()
            && key.as_bytes()[key.len() - suffix.len()..].eq_ignore_ascii_case(suffix.as_bytes())
    })
}
