//! Why a deploy or rollback was refused; the live version keeps serving in every case.

use std::path::PathBuf;

use crate::GuestError;

/// Why a deploy or rollback was refused; the live version keeps serving in every case.
#[derive(Debug, thiserror::Error)]
pub enum DeployError {
    /// The name cannot be a guest's name.
    #[error("invalid guest name {0:?}: use 1-64 characters of a-z, 0-9, '-' and '_'")]
    BadName(String),
    /// The component failed validation, compilation or linking.
    #[error("{0}")]
    Invalid(GuestError),
    /// The component is fine but does not fit where it is deployed.
    #[error("{0}")]
    Misplaced(String),
    /// The canary request failed.
    #[error("canary request failed: {0}")]
    Canary(String),
    /// No guest has that name.
    #[error("no guest named {0:?}")]
    NotFound(String),
    /// Rollback with no earlier version kept.
    #[error("guest {0:?} has no earlier version to roll back to")]
    NoPrevious(String),
    /// The data folder could not be read or written.
    #[error("guest store {path}: {source}")]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

impl DeployError {
    /// The reason an admin client reads: the `Display` without the data folder's paths (logged instead).
    pub fn client_reason(&self) -> String {
        match self {
            DeployError::Io { source, .. } => format!("cannot store the guest version: {source}"),
            other => other.to_string(),
        }
    }
}

/// Whether `name` can be a guest's name: 1-64 characters of a-z, 0-9, `-` and `_`.
///
/// # Errors
/// `BadName` otherwise.
pub fn check_name(name: &str) -> Result<(), DeployError> {
    let valid = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
    if valid {
        Ok(())
    } else {
        Err(DeployError::BadName(name.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guest_names_are_plain() {
        assert!(check_name("origin").is_ok());
        assert!(check_name("tenant-a_2").is_ok());
        for bad in ["", "../x", "A", "a/b", &"x".repeat(65)] {
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
    }
}
