//! What the tiers record about each object besides its bytes.

use serde::{Deserialize, Serialize};

/// Everything the host knows of a stored object except its bytes; kept in the disk footer and the index.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectMeta {
    /// The object's key: its path without the leading `/`.
    pub key: String,
    /// Length of the body in bytes.
    pub size: u64,
    /// Content-Type recorded at store time.
    pub content_type: String,
    /// Strong entity tag (quoted), derived from the body's BLAKE3 hash.
    pub etag: String,
    /// Commit time, seconds since the Unix epoch.
    pub last_modified: u64,
    /// Cache-Control given by the uploader.
    pub cache_control: Option<String>,
    /// Custom `x-strata-meta-*` fields.
    pub metadata: Vec<(String, String)>,
    /// Commit sequence: larger is newer; decides between two files of one key after a crash.
    pub seq: u64,
}

/// What a writer states about a new object before its body arrives.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NewObject {
    /// Content-Type to record.
    pub content_type: String,
    /// Cache-Control to record.
    pub cache_control: Option<String>,
    /// Custom metadata to record.
    pub metadata: Vec<(String, String)>,
}
