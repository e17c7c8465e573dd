//! The one error a configuration value that parses but cannot work gives, whichever crate checks it: the
//! key as the file writes it, and why. The `strata` binary shows it as `invalid setting <key>: <reason>`.

use std::fmt;

/// A setting that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidSetting {
    /// The key, as written in the file (`guest.signing[0].key`, `http.header_timeout_ms`).
    pub key: String,
    /// What is wrong with its value.
    pub reason: String,
}

impl InvalidSetting {
    /// The setting `key` is wrong because of `reason`.
    pub fn new(key: &str, reason: &str) -> Self {
        InvalidSetting {
            key: key.to_owned(),
            reason: reason.to_owned(),
        }
    }
}

impl fmt::Display for InvalidSetting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid setting {}: {}", self.key, self.reason)
    }
}

impl std::error::Error for InvalidSetting {}
