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
    /// Bytes uploads in progress may hold in memory (their hot copies and the chunks kept for readers
    /// following them); past it, a new upload answers 503 with `Retry-After`.
    pub upload_memory_bytes: ByteSize,
    /// Deadlines and caps on what clients can hold open (`[http]`).
    pub http: HttpConfig,
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

/// Deadlines and caps on connections, so no client (silent, slow or stalled) holds the origin's resources
/// for long.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HttpConfig {
    /// Time a client has to send a request's head, from the connection's start or the end of the previous
    /// response (for HTTP/1.1 this is also how long a kept-alive connection may sit idle), in milliseconds.
    pub header_timeout_ms: u64,
    /// A connection with no request in flight and no bytes moving for this long is closed, in milliseconds.
    pub idle_timeout_ms: u64,
    /// Most client connections open at once; more wait in the listen backlog.
    pub max_connections: u32,
    /// An upload whose body sends no byte for this long is aborted and stores nothing, in milliseconds.
    pub body_idle_timeout_ms: u64,
    /// On SIGTERM or SIGINT, how long open requests may take to finish before the process exits, in
    /// milliseconds; parked requests are answered 503 with `Retry-After` at once.
    pub shutdown_grace_ms: u64,
}

impl HttpConfig {
    fn validate(&self) -> Result<(), ConfigError> {
        let at_least = |key: &str, value: u64, min: u64, unit: &str| {
            if value < min {
                Err(ConfigError::Invalid {
                    key: format!("http.{key}"),
                    reason: format!("must be at least {min} {unit}"),
                })
            } else {
                Ok(())
            }
        };
        at_least("header_timeout_ms", self.header_timeout_ms, 100, "ms")?;
        at_least("idle_timeout_ms", self.idle_timeout_ms, 100, "ms")?;
        at_least("body_idle_timeout_ms", self.body_idle_timeout_ms, 100, "ms")?;
        at_least("max_connections", u64::from(self.max_connections), 1, "")?;
        Ok(())
    }

    /// [`HttpConfig::header_timeout_ms`] as a duration.
    pub fn header_timeout(&self) -> Duration {
        Duration::from_millis(self.header_timeout_ms)
    }

    /// [`HttpConfig::idle_timeout_ms`] as a duration.
    pub fn idle_timeout(&self) -> Duration {
        Duration::from_millis(self.idle_timeout_ms)
    }

    /// [`HttpConfig::body_idle_timeout_ms`] as a duration.
    pub fn body_idle_timeout(&self) -> Duration {
        Duration::from_millis(self.body_idle_timeout_ms)
    }

    /// [`HttpConfig::shutdown_grace_ms`] as a duration.
    pub fn shutdown_grace(&self) -> Duration {
        Duration::from_millis(self.shutdown_grace_ms)
    }
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            header_timeout_ms: 10_000,
            idle_timeout_ms: 60_000,
            max_connections: 10_000,
            body_idle_timeout_ms: 30_000,
            shutdown_grace_ms: 10_000,
        }
    }
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
    /// Wall-clock deadline of one rewrite (CPU, waits and all), in milliseconds.
    pub wall_deadline_ms: u64,
}

impl Default for PluginConfig {
    fn default() -> Self {
        PluginConfig {
            memory_bytes: ByteSize::mib(16),
            deadline_ms: 50,
            wall_deadline_ms: 200,
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
    /// Wall-clock deadline per decision (CPU, host calls and any sleep through WASI clocks), in
    /// milliseconds; past it the decision is dropped, its instance slot freed, and the request answers 503.
    pub wall_deadline_ms: u64,
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
            upload_memory_bytes: ByteSize::mib(512),
            http: HttpConfig::default(),
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
            wall_deadline_ms: 1_000,
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
        key: String,
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

    /// Checks values that parse but cannot work, naming the key at fault.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |key: &str, reason: &str| {
            Err(ConfigError::Invalid {
                key: key.to_owned(),
                reason: reason.to_owned(),
            })
        };
        if self.max_object_bytes.as_u64() == 0 {
            return invalid("max_object_bytes", "must be above 0");
        }
        if self.upload_memory_bytes.as_u64() < self.max_object_bytes.as_u64().saturating_mul(2) {
            return invalid(
                "upload_memory_bytes",
                "must be at least twice max_object_bytes, so one upload alone always fits (its hot \
                 copy and the chunks kept for its readers)",
            );
        }
        if self.guest.memory_bytes.as_u64() < ByteSize::mib(1).as_u64() {
            return invalid("guest.memory_bytes", "must be at least 1 MiB");
        }
        if self.guest.deadline_ms < 10 {
            return invalid("guest.deadline_ms", "must be at least 10 ms");
        }
        if self.guest.wall_deadline_ms < self.guest.deadline_ms {
            return invalid(
                "guest.wall_deadline_ms",
                "must be at least guest.deadline_ms (the CPU deadline)",
            );
        }
        if self.data_dir.as_os_str().is_empty() {
            return invalid("data_dir", "must name a folder");
        }
        if self.guest.max_instances == 0 {
            return invalid("guest.max_instances", "must be at least 1");
        }
        self.http.validate()?;
        self.validate_secrets()?;
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
        }
        if !self.listen.ip().is_loopback() && self.auth.ingest.is_empty() {
            return invalid(
                "auth.ingest",
                &format!(
                    "listening on {}, which is not a loopback address, needs ingest credentials: add an \
                     [[auth.ingest]] rule (prefix = \"/\", bearer = [\"...\"]) to the config",
                    self.listen
                ),
            );
        }
        for chain in &self.filters {
            if chain.plugins.is_empty() {
                return invalid("filters.plugins", "a chain needs at least one plugin");
            }
        }
        for (name, plugin) in &self.plugins {
            if plugin.deadline_ms < 1
                || plugin.memory_bytes.as_u64() < ByteSize::mib(1).as_u64()
                || plugin.wall_deadline_ms < plugin.deadline_ms
            {
                return invalid(
                    &format!("plugins.{name}"),
                    "needs deadline_ms >= 1, wall_deadline_ms >= deadline_ms and memory_bytes >= 1 MiB",
                );
            }
        }
        if let Err(e) = crate::tiers::Rules::compile(&self.storage) {
            return invalid("storage.rules", &e.to_string());
        }
        Ok(())
    }

    /// Refuses secrets that are empty (and so match a request that sends an empty one, or nothing).
    fn validate_secrets(&self) -> Result<(), ConfigError> {
        let empty = |key: String, what: &str| {
            Err(ConfigError::Invalid {
                key,
                reason: format!("{what} is empty; give a secret or remove the key"),
            })
        };
        if self
            .admin
            .token
            .as_deref()
            .is_some_and(|t| t.trim().is_empty())
        {
            return empty("admin.token".into(), "the admin token");
        }
        for rule in &self.auth.ingest {
            if rule.bearer.iter().any(|t| t.trim().is_empty()) {
                return empty(
                    format!("auth.ingest.bearer (prefix {:?})", rule.prefix),
                    "a bearer token",
                );
            }
            for basic in &rule.basic {
                match basic.split_once(':') {
                    Some((user, password))
                        if !user.trim().is_empty() && !password.trim().is_empty() => {}
                    _ => {
                        return Err(ConfigError::Invalid {
                            key: format!("auth.ingest.basic (prefix {:?})", rule.prefix),
                            reason: "each entry must be user:password, neither empty".into(),
                        });
                    }
                }
            }
        }
        for (name, value) in &self.guest.settings {
            if name.starts_with("sign:") && value.trim().is_empty() {
                return empty(format!("guest.settings.\"{name}\""), "the signing key");
            }
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
            upload_memory_bytes: self.upload_memory_bytes.as_u64(),
            disk_bytes: self.storage.disk_bytes.map(|b| b.as_u64()),
            rules: crate::tiers::Rules::compile(&self.storage)?,
            memory_policy: self.storage.memory_policy,
        })
    }

    /// The CPU deadline per guest decision.
    pub fn guest_deadline(&self) -> Duration {
        Duration::from_millis(self.guest.deadline_ms)
    }

    /// The wall-clock deadline per guest decision.
    pub fn guest_wall_deadline(&self) -> Duration {
        Duration::from_millis(self.guest.wall_deadline_ms)
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
    fn empty_secrets_are_refused_naming_the_key() {
        for (text, key) in [
            ("[admin]\ntoken = \"\"", "admin.token"),
            (
                "[[auth.ingest]]\nprefix = \"/live/\"\nbearer = [\"\"]",
                "auth.ingest.bearer",
            ),
            (
                "[[auth.ingest]]\nprefix = \"/live/\"\nbasic = [\"enc:\"]",
                "auth.ingest.basic",
            ),
            (
                "[guest.settings]\n\"sign:premium/\" = \"\"",
                "guest.settings.\"sign:premium/\"",
            ),
        ] {
            let error = Config::from_toml(text)
                .unwrap()
                .validate()
                .unwrap_err()
                .to_string();
            assert!(error.contains(key), "{text}: {error}");
        }
    }

    #[test]
    fn impossible_values_are_refused() {
        let mut config = Config::default();
        config.guest.deadline_ms = 1;
        assert!(matches!(
            config.validate(),
            Err(ConfigError::Invalid { key, .. }) if key == "guest.deadline_ms"
        ));
    }
}
