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
    /// The admin API under `/_strata/`.
    pub admin: AdminConfig,
    /// Credentials for ingest (and optionally reads), per path prefix.
    pub auth: AuthConfig,
    /// Manifest plugin chains, each applied to playlist responses whose path matches its pattern.
    pub filters: Vec<FilterChain>,
    /// Limits of each manifest plugin, by plugin name; unnamed plugins get the defaults.
    pub plugins: std::collections::BTreeMap<String, PluginConfig>,
    /// Tier placement and lifecycle rules, disk budget.
    pub storage: crate::tiers::StorageConfig,
    /// TLS termination on the listener (`[tls]`); without it the listener speaks plain HTTP.
    pub tls: Option<TlsConfig>,
}

/// The certificate and key of the listener; once set, it speaks TLS only, offering HTTP/2 through ALPN.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// PEM file of the certificate chain, leaf first.
    pub cert: PathBuf,
    /// PEM file of the leaf's private key (PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
}

/// Who may use the admin API.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AdminConfig {
    /// Bearer token the admin API requires; without one it answers loopback clients only.
    pub token: Option<String>,
}

/// Access control of the data plane.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthConfig {
    /// Credential rules; once any exists, every PUT, POST and DELETE needs credentials.
    pub ingest: Vec<IngestRule>,
}

/// Credentials accepted under one path prefix (the longest matching prefix applies).
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct IngestRule {
    /// Path prefix, e.g. `/live/`.
    pub prefix: String,
    /// Accepted `Authorization: Bearer` tokens.
    pub bearer: Vec<String>,
    /// Accepted `Authorization: Basic` credentials, each `user:password`.
    pub basic: Vec<String>,
    /// Whether GET and HEAD under the prefix need the same credentials.
    pub protect_reads: bool,
}

/// One chain of manifest plugins.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FilterChain {
    /// Request paths it applies to; `*` matches any run of characters, e.g. `/live/*.m3u8`.
    pub pattern: String,
    /// Plugin (guest) names, run in order, each on the previous one's output.
    pub plugins: Vec<String>,
    /// What a failing plugin does to the response.
    #[serde(default)]
    pub on_error: OnError,
}

/// What a failing manifest plugin does to its response.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OnError {
    /// Answer 502 with the plugin's reason (fail closed).
    #[default]
    Fail,
    /// Send the playlist as it was before this plugin.
    Skip,
}

/// The sandbox of one manifest plugin.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PluginConfig {
    /// Linear memory cap.
    pub memory_bytes: ByteSize,
    /// CPU deadline of one rewrite, in milliseconds.
    pub deadline_ms: u64,
}

impl Default for PluginConfig {
    fn default() -> Self {
        PluginConfig {
            memory_bytes: ByteSize::mib(16),
            deadline_ms: 50,
        }
    }
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
    /// Most guest instances alive at once (the pooling allocator's size); more requests wait.
    pub max_instances: u32,
    /// A folder watched for `<name>.wasm` files, each deployed as guest `<name>` when it changes.
    pub guests_dir: Option<PathBuf>,
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
            admin: AdminConfig::default(),
            auth: AuthConfig::default(),
            filters: Vec::new(),
            plugins: std::collections::BTreeMap::new(),
            storage: crate::tiers::StorageConfig::default(),
            tls: None,
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
            max_instances: 128,
            guests_dir: None,
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
        if self.guest.max_instances == 0 {
            return invalid("guest.max_instances", "must be at least 1");
        }
        for rule in &self.auth.ingest {
            if !rule.prefix.starts_with('/') {
                return invalid("auth.ingest.prefix", "must start with '/'");
            }
            if rule.bearer.is_empty() && rule.basic.is_empty() {
                return invalid(
                    "auth.ingest",
                    "each rule needs at least one bearer token or basic user",
                );
            }
            if rule.basic.iter().any(|b| !b.contains(':')) {
                return invalid("auth.ingest.basic", "each entry must be user:password");
            }
        }
        if !self.listen.ip().is_loopback() && self.auth.ingest.is_empty() {
            return Err(ConfigError::Invalid {
                key: "auth.ingest",
                reason: format!(
                    "listening on {}, which is not a loopback address, needs ingest credentials: add an \
                     [[auth.ingest]] rule (prefix = \"/\", bearer = [\"...\"]) to the config",
                    self.listen
                ),
            });
        }
        for chain in &self.filters {
            if chain.plugins.is_empty() {
                return invalid("filters.plugins", "a chain needs at least one plugin");
            }
        }
        for (name, plugin) in &self.plugins {
            if plugin.deadline_ms < 1 || plugin.memory_bytes.as_u64() < ByteSize::mib(1).as_u64() {
                return Err(ConfigError::Invalid {
                    key: "plugins",
                    reason: format!(
                        "plugin {name:?} needs deadline_ms >= 1 and memory_bytes >= 1 MiB"
                    ),
                });
            }
        }
        if let Err(e) = crate::tiers::Rules::compile(&self.storage) {
            return invalid("storage.rules", &e.to_string());
        }
        Ok(())
    }

    /// The tiers' sizes and placement rules.
    ///
    /// # Errors
    /// A rule whose pattern or values cannot be used.
    pub fn tier_settings(&self) -> Result<crate::tiers::TierSettings, crate::tiers::RuleError> {
        Ok(crate::tiers::TierSettings {
            memory_bytes: self.memory_bytes.as_u64(),
            disk_bytes: self.storage.disk_bytes.map(|b| b.as_u64()),
            rules: crate::tiers::Rules::compile(&self.storage)?,
            memory_policy: self.storage.memory_policy,
        })
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
    fn a_public_listener_needs_ingest_credentials() {
        let public = Config::from_toml("listen = \"0.0.0.0:8080\"").unwrap();
        let error = public.validate().unwrap_err().to_string();
        assert!(error.contains("not a loopback address"), "{error}");
        let guarded = Config::from_toml(
            "listen = \"0.0.0.0:8080\"\n[[auth.ingest]]\nprefix = \"/\"\nbearer = [\"t\"]",
        )
        .unwrap();
        assert!(guarded.validate().is_ok());
    }

    #[test]
    fn filter_chains_parse() {
        let config = Config::from_toml(
            "[[filters]]\npattern = \"/live/*.m3u8\"\nplugins = [\"cap\"]\non_error = \"skip\"\n[plugins.cap]\ndeadline_ms = 20",
        )
        .unwrap();
        assert_eq!(config.filters[0].on_error, OnError::Skip);
        assert_eq!(config.plugins["cap"].deadline_ms, 20);
    }

    #[test]
    fn tls_needs_both_files() {
        let config = Config::from_toml("[tls]\ncert = \"c.pem\"\nkey = \"k.pem\"").unwrap();
        assert_eq!(
            config.tls,
            Some(TlsConfig {
                cert: PathBuf::from("c.pem"),
                key: PathBuf::from("k.pem"),
            })
        );
        let error = Config::from_toml("[tls]\ncert = \"c.pem\"").unwrap_err();
        assert!(error.contains("key"), "{error}");
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
