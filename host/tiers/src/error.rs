//! Typed failures of the storage tiers.

use std::io;
use std::path::PathBuf;

/// Why a tier operation failed.
#[derive(Debug, thiserror::Error)]
pub enum TierError {
    /// The upload grew past the configured object size limit.
    #[error("object larger than the {limit}-byte limit")]
    TooLarge {
        /// The limit in bytes.
        limit: u64,
    },
    /// The filesystem refused an operation.
    #[error("{action} {path}: {source}")]
    Io {
        /// What was being done, e.g. "write".
        action: &'static str,
        /// The file concerned.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// The configured disk budget has no room left for the object.
    #[error("disk budget of {limit} bytes is full")]
    DiskBudget {
        /// The budget in bytes.
        limit: u64,
    },
    /// Uploads in progress already hold the memory they may use; a new one must wait.
    #[error("uploads in progress hold the whole {limit}-byte upload memory budget; retry shortly")]
    UploadMemoryFull {
        /// The budget in bytes.
        limit: u64,
    },
    /// A memory-only object does not fit in the memory tier.
    #[error("memory-only object does not fit in the memory tier")]
    MemoryFull,
    /// The shared store behind these tiers (a cluster's object store) failed; nothing was stored.
    #[error("the shared store could not {action} the object: {reason}")]
    Shared {
        /// What was being done, e.g. "store".
        action: &'static str,
        /// The store's one-line reason.
        reason: String,
    },
    /// A copy of a version stored elsewhere ended at another length than its metadata says.
    #[error("copy of {key} is {got} bytes, {expected} expected")]
    IncompleteCopy {
        /// The object's key.
        key: String,
        /// The size its metadata gives.
        expected: u64,
        /// The bytes that arrived.
        got: u64,
    },
    /// The disk has no room left for the object.
    #[error("disk full while writing {path}")]
    DiskFull {
        /// The file being written.
        path: PathBuf,
    },
}

impl TierError {
    /// The one-line reason a client may read: the `Display` without file paths, which tell an outsider how
    /// the host is laid out (the log keeps the full error).
    pub fn client_reason(&self) -> String {
        match self {
            TierError::Io { action, source, .. } => {
                format!("storage failed to {action} the object: {}", source.kind())
            }
            TierError::DiskFull { .. } => "the disk is full".into(),
            // The store's own message names its URL, bucket and folder: that stays in the log.
            TierError::Shared { action, .. } => {
                format!("the cluster's object store could not {action} the object; retry")
            }
            other => other.to_string(),
        }
    }

    /// Wraps an I/O error with what was being done and to which file; a full disk gets its own kind.
    pub fn io(action: &'static str, path: impl Into<PathBuf>, source: io::Error) -> Self {
        let path = path.into();
        if source.kind() == io::ErrorKind::StorageFull {
            TierError::DiskFull { path }
        } else {
            TierError::Io {
                action,
                path,
                source,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_reasons_name_no_file() {
        let path = "/var/lib/strata/objects/ab/cd.obj";
        for error in [
            TierError::io(
                "open",
                path,
                io::Error::from(io::ErrorKind::PermissionDenied),
            ),
            TierError::io("write", path, io::Error::from(io::ErrorKind::StorageFull)),
        ] {
            assert!(error.to_string().contains(path));
            let reason = error.client_reason();
            assert!(!reason.contains('/'), "{reason}");
        }
        let shared = TierError::Shared {
            action: "store",
            reason: "Error performing PUT http://10.0.0.5:8333/bucket/live/x.ts".into(),
        };
        assert_eq!(
            shared.client_reason(),
            "the cluster's object store could not store the object; retry"
        );
    }
}
