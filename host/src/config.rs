//! Settings: embedded defaults, overridden by a TOML file, overridden by command-line flags.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use bytesize::ByteSize;
use serde::Deserialize;

/// Everything `strata serve` needs to run; every field has a default so an empty file is valid.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Address of the HTTP listener (data plane and `/_strata/` admin routes).
    pub listen: SocketAddr,
    /// Folder holding the disk tier.
    pub data_dir: PathBuf,
    /// Byte budget of the memory tier.
    pub memory_bytes: ByteSize,
    /// Largest object a PUT or POST may store.
    pub max_object_bytes: ByteSize,
    /// The handler guest and its limits.
    pub guest: GuestConfig,
}

/// Which handler decides requests and what each instance may use.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GuestConfig {
    /// A handler component to run instead of the built-in one.
    pub handler: Option<PathBuf>,
    /// Linear memory cap per instance.
    pub memory_bytes: ByteSize,
    /// CPU deadline per decision, in milliseconds.
    pub deadline_ms: u64,
    /// Largest object a guest may read whole (playlists, manifests).
    pub max_read_bytes: ByteSize,
    /// Settings passed to the guest with every request (`[guest.settings]`), e.g. `"sign:premium/" = "key"`.
    pub settings: std::collections::BTreeMap<String, String>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            data_dir: PathBuf::from("./strata-data"),
            memory_bytes: ByteSize::mib(512),
            max_object_bytes: ByteSize::mib(64),
            guest: GuestConfig::default(),
        }
    }
}

impl Default for GuestConfig {
    fn default() -> Self {
        GuestConfig {
            handler: None,
            memory_bytes: ByteSize::mib(64),
            deadline_ms: 500,
            max_read_bytes: ByteSize::mib(4),
            settings: std::collections::BTreeMap::new(),
        }
    }
}

/// Why a configuration cannot be used; each message names the file or key at fault.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not valid TOML for this schema.
    #[error("invalid config file {path}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// The parser's description, naming the key and line.
        message: String,
    },
    /// A value is out of range.
    #[error("invalid setting {key}: {reason}")]
    Invalid {
        /// The key, as written in the file.
        key: &'static str,
        /// What is wrong with it.
        reason: String,
    },
}

impl Config {
    /// Reads a TOML file over the defaults.
    pub fn from_file(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::from_toml(&text).map_err(|message| ConfigError::Parse {
            path: path.to_owned(),
            message,
        })
    }

    /// Parses TOML text over the defaults.
    pub fn from_toml(text: &str) -> Result<Self, String> {
        toml::from_str(text).map_err(|e| e.to_string().trim().replace('\n', " "))
    }

    /// Checks values that parse but cannot work.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |key, reason: &str| {
            Err(ConfigError::Invalid {
                key,
                reason: reason.to_owned(),
            })
        };
        if self.max_object_bytes.as_u64() == 0 {
            return invalid("max_object_bytes", "must be above 0");
        }
        if self.guest.memory_bytes.as_u64() < ByteSize::mib(1).as_u64() {
            return invalid("guest.memory_bytes", "must be at least 1 MiB");
        }
        if self.guest.deadline_ms < 10 {
            return invalid("guest.deadline_ms", "must be at least 10 ms");
        }
        if self.data_dir.as_os_str().is_empty() {
            return invalid("data_dir", "must name a folder");
        }
        Ok(())
    }

    /// The CPU deadline per guest decision.
    pub fn guest_deadline(&self) -> Duration {
        Duration::from_millis(self.guest.deadline_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_file_gives_the_embedded_defaults() {
        assert_eq!(Config::from_toml("").unwrap(), Config::default());
    }

    #[test]
    fn the_example_file_documents_the_defaults() {
        let example = include_str!("../../strata.example.toml");
        assert_eq!(Config::from_toml(example).unwrap(), Config::default());
    }

    #[test]
    fn sizes_accept_units() {
        let config =
            Config::from_toml("memory_bytes = \"1 GiB\"\nmax_object_bytes = 1024").unwrap();
        assert_eq!(config.memory_bytes, ByteSize::gib(1));
        assert_eq!(config.max_object_bytes, ByteSize::b(1024));
    }

    #[test]
    fn unknown_keys_are_named() {
        let error = Config::from_toml("listne = \"127.0.0.1:1\"").unwrap_err();
        assert!(error.contains("listne"), "{error}");
    }

    #[test]
    fn impossible_values_are_refused() {
        let mut config = Config::default();
        config.guest.deadline_ms = 1;
        assert!(matches!(
            config.validate(),
            Err(ConfigError::Invalid {
                key: "guest.deadline_ms",
                ..
            })
        ));
    }
}
