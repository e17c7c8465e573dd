//! One object version held in memory, and what it weighs against the budget: shared by the cache of disk
//! objects' copies (either policy) and the memory-only share.

use std::sync::Arc;

use bytes::Bytes;

use crate::placement::Placement;

/// Fixed cost counted per entry on top of its bytes, so many tiny objects still respect the budget.
const ENTRY_OVERHEAD: u64 = 128;

/// One object version held in memory.
#[derive(Debug, Clone)]
pub struct HotObject {
    /// The entity tag of the version held, to tell it from a newer one on disk; shared, so the copy every
    /// lookup takes allocates nothing.
    pub etag: Arc<str>,
    /// The whole body.
    pub body: Bytes,
    /// Its placement: evicting a memory-only object drops it, others are only demoted to disk.
    pub placement: Placement,
    /// Its commit sequence, to tell the evicted version from a newer one in the index.
    pub seq: u64,
}

/// An object pushed out of memory by an insert.
pub type Evicted = (String, HotObject);

/// The bytes an entry counts against the budget.
pub fn weight(key: &str, value: &HotObject) -> u64 {
    value.body.len() as u64 + key.len() as u64 + ENTRY_OVERHEAD
}
