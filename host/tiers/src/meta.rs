//! What the tiers record about each object besides its bytes.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::placement::Placement;

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
    /// The tier placement its rule chose at store time.
    #[serde(default)]
    pub placement: Placement,
    /// When it expires, seconds since the Unix epoch; never if `None`.
    #[serde(default)]
    pub expires_at: Option<u64>,
    /// False while its upload is still arriving (readers then follow the upload); never stored.
    #[serde(skip, default = "committed")]
    pub complete: bool,
}

fn committed() -> bool {
    true
}

impl ObjectMeta {
    /// Whether it has expired at `now` (seconds since the Unix epoch).
    pub fn expired(&self, now: u64) -> bool {
        self.expires_at.is_some_and(|at| at <= now)
    }
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
    /// Lifetime the uploader asked for, overriding its rule's.
    pub ttl_seconds: Option<u64>,
    /// Who names the version.
    pub naming: Naming,
}

/// Who names a new version. In a cluster every node must give one version the same sequence and entity
/// tag, and the shared store must record them before the body is complete, so the cluster names its
/// versions itself and copies keep the name they were given.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Naming {
    /// These tiers: the next local sequence, an entity tag from the body's hash, committed now.
    #[default]
    Local,
    /// Named ahead of the body, with its time and lifetime, exactly as the shared store records it.
    Given {
        /// The version's sequence (see [`ObjectMeta::seq`]).
        seq: u64,
        /// Its entity tag, quoted.
        etag: String,
        /// Its modification time, seconds since the Unix epoch.
        last_modified: u64,
        /// When it expires, seconds since the Unix epoch.
        expires_at: Option<u64>,
    },
    /// A copy of a version stored elsewhere, kept exactly as described (its size is checked at commit),
    /// in the tier the copier chooses.
    Copy {
        /// The version copied.
        of: Arc<ObjectMeta>,
        /// Where the copy is kept here.
        placement: Placement,
        /// Whether readers may follow the copy while it arrives (its chunks are then held in memory
        /// until it completes, on the upload memory budget).
        streamed: bool,
    },
}
