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
    /// A memory-only object does not fit in the memory tier.
    #[error("memory-only object does not fit in the memory tier")]
    MemoryFull,
    /// The disk has no room left for the object.
    #[error("disk full while writing {path}")]
    DiskFull {
        /// The file being written.
        path: PathBuf,
    },
}

impl TierError {
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
