//! Read access to stored objects, as each platform provides it (the Strata host's tiers, Spin's key-value store,
//! an in-memory map in tests).

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

/// The storage a decision may consult: metadata and small objects, never segment bytes.
pub trait Store {
    /// Metadata of the object under `key`, if any.
    fn head(&self, key: &str) -> Option<ObjectMeta>;
    /// The whole object under `key`, if it is at most `max_bytes` long.
    fn read(&self, key: &str, max_bytes: u64) -> Result<Vec<u8>, ReadError>;
    /// Up to `limit` keys starting with `prefix`, in lexical order.
    fn list(&self, prefix: &str, limit: u32) -> Vec<String>;
}
