//! Settings: embedded defaults, overridden by a TOML file, overridden by command-line flags. Each section is
//! the type of the crate that reads it (`[storage]` strata-tiers, `[guest]`, `[live]` and `[plugins]` strata-runtime,
//! `[http]`, `[tls]`, `[admin]`, `[auth]`, `[[filters]]`, `[[limits]]`, `[log]` and `[metrics]` strata-server, `[cluster]` strata-cluster); this file assembles them, checks
//! what spans them, and hands each crate its part.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use bytesize::ByteSize;
use serde::Deserialize;
use strata_cluster::config::ClusterConfig;
use strata_runtime::{GuestConfig, LiveConfig, PluginConfig};
use strata_server::access_log::LogConfig;
use strata_server::config::{
    AdminConfig, AuthConfig, FilterChain, HttpConfig, ServerConfig, TlsConfig, validate_filters,
};
use strata_server::http::{LimitRule, validate_limits};
use strata_server::metrics::streams::MetricsConfig;
use strata_tiers::{InvalidSetting, Rules, StorageConfig, TierSettings};

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
    /// The handler guest, its limits and its settings.
    pub guest: GuestConfig,
    /// Live channels: redundant encoders (`[[live.redundant]]`).
    pub live: LiveConfig,
    /// The admin API under `/_strata/`.
    pub admin: AdminConfig,
    /// Credentials for ingest (and optionally reads), per key pattern.
    pub auth: AuthConfig,
    /// Manifest plugin chains, each applied to playlist responses whose key matches its pattern.
    pub filters: Vec<FilterChain>,
    /// Request and byte rates per client, per key pattern (`[[limits]]`, first match wins).
    pub limits: Vec<LimitRule>,
    /// Limits of each manifest plugin, by plugin name; unnamed plugins get the defaults.
    pub plugins: BTreeMap<String, PluginConfig>,
    /// Tier placement and lifecycle rules, disk budget.
    pub storage: StorageConfig,
    /// TLS termination on the listener (`[tls]`); without it the listener speaks plain HTTP.
    pub tls: Option<TlsConfig>,
    /// The cluster this node joins (`[cluster]`); without it Strata is one node.
    pub cluster: Option<ClusterConfig>,
    /// The access log (`[log]`).
    pub log: LogConfig,
    /// What the metrics track beyond their fixed families (`[metrics]`).
    pub metrics: MetricsConfig,
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
            live: LiveConfig::default(),
            admin: AdminConfig::default(),
            auth: AuthConfig::default(),
            filters: Vec::new(),
            limits: Vec::new(),
            plugins: BTreeMap::new(),
            storage: StorageConfig::default(),
            tls: None,
            cluster: None,
            log: LogConfig::default(),
            metrics: MetricsConfig::default(),
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
    /// A value parses but cannot work.
    #[error(transparent)]
    Invalid(#[from] InvalidSetting),
}

impl Config {
    /// Reads a TOML file over the defaults.
    ///
    /// # Errors
    /// `Read` or `Parse`, naming the file.
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
    ///
    /// # Errors
    /// The parser's one-line description.
    pub fn from_toml(text: &str) -> Result<Self, String> {
        toml::from_str(text).map_err(|e| e.to_string().trim().replace('\n', " "))
    }

    /// Checks values that parse but cannot work, naming the key at fault: each crate's section, then what
    /// spans them.
    ///
    /// # Errors
    /// `Invalid` naming the first key at fault.
    pub fn validate(&self) -> Result<(), ConfigError> {
        match self.problems().into_iter().next() {
            Some(problem) => Err(problem.into()),
            None => Ok(()),
        }
    }

    /// Every check of [`Config::validate`] that fails, in its order: the first key at fault in each
    /// section (a section's own check stops at its first), then what spans them.
    pub fn problems(&self) -> Vec<InvalidSetting> {
        let mut checks = vec![
            self.check_sizes(),
            self.check_data_dir(),
            self.http.validate(),
            self.guest.validate(),
            self.live.redundant_routes().map(drop),
            self.admin.validate(),
            self.auth.validate(),
            validate_filters(&self.filters),
            validate_limits(&self.limits),
            self.log.validate(),
            self.metrics.validate(),
        ];
        checks.extend(self.cluster.as_ref().map(ClusterConfig::validate));
        checks.extend(
            self.plugins
                .iter()
                .map(|(name, plugin)| plugin.validate(name)),
        );
        checks.push(
            Rules::compile(&self.storage)
                .map(drop)
                .map_err(|e| InvalidSetting::new("storage.rules", &e.to_string())),
        );
        checks.push(self.check_public_listener());
        checks.into_iter().filter_map(Result::err).collect()
    }

    /// `max_object_bytes` and `upload_memory_bytes`.
    fn check_sizes(&self) -> Result<(), InvalidSetting> {
        if self.max_object_bytes.as_u64() == 0 {
            return Err(InvalidSetting::new("max_object_bytes", "must be above 0"));
        }
        if self.upload_memory_bytes.as_u64() < self.max_object_bytes.as_u64().saturating_mul(2) {
            return Err(InvalidSetting::new(
                "upload_memory_bytes",
                "must be at least twice max_object_bytes, so one upload alone always fits (its hot \
                 copy and the chunks kept for its readers)",
            ));
        }
        Ok(())
    }

    /// `data_dir` names a folder.
    fn check_data_dir(&self) -> Result<(), InvalidSetting> {
        if self.data_dir.as_os_str().is_empty() {
            return Err(InvalidSetting::new("data_dir", "must name a folder"));
        }
        Ok(())
    }

    /// A listener other clients can reach needs ingest credentials.
    fn check_public_listener(&self) -> Result<(), InvalidSetting> {
        if !self.listen.ip().is_loopback() && self.auth.ingest.is_empty() {
            return Err(InvalidSetting::new(
                "auth.ingest",
                &format!(
                    "listening on {}, which is not a loopback address, needs ingest credentials: add an \
                     [[auth.ingest]] rule (pattern = \"**\", bearer = [\"...\"]) to the config",
                    self.listen
                ),
            ));
        }
        Ok(())
    }

    /// The tiers' sizes and placement rules.
    ///
    /// # Errors
    /// A rule whose pattern or values cannot be used.
    pub fn tier_settings(&self) -> Result<TierSettings, strata_tiers::RuleError> {
        Ok(TierSettings {
            memory_bytes: self.memory_bytes.as_u64(),
            upload_memory_bytes: self.upload_memory_bytes.as_u64(),
            disk_bytes: self.storage.disk_bytes.map(|b| b.as_u64()),
            rules: Rules::compile(&self.storage)?,
            memory_policy: self.storage.memory_policy,
        })
    }

    /// What the server reads at run time.
    pub fn server(&self) -> ServerConfig {
        ServerConfig {
            http: self.http.clone(),
            admin: self.admin.clone(),
            auth: self.auth.clone(),
            filters: self.filters.clone(),
            plugins: self.plugins.clone(),
            max_object_bytes: self.max_object_bytes.as_u64(),
            max_playlist_bytes: self.guest.max_read_bytes.as_u64(),
            memory_budget_bytes: self.memory_bytes.as_u64(),
            decision_cache_bytes: self.guest.decision_cache_bytes.as_u64(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use strata_server::config::OnError;

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
    fn the_example_cluster_section_is_valid_once_uncommented() {
        let example = include_str!("../../strata.example.toml");
        let start = example.find("# [cluster]").unwrap();
        let section: String = example[start..]
            .lines()
            .map(|line| line.strip_prefix("# ").unwrap_or(line))
            .collect::<Vec<_>>()
            .join("\n");
        let config = Config::from_toml(&section).unwrap();
        config.validate().unwrap();
        let cluster = config.cluster.unwrap();
        assert_eq!(cluster.store, "s3://my-bucket/strata");
        assert_eq!(cluster.s3.region.as_deref(), Some("us-east-1"));
    }

    #[test]
    fn the_example_limits_are_valid_once_uncommented() {
        let example = include_str!("../../strata.example.toml");
        let start = example.find("# [[limits]]\n").unwrap();
        let end = start + example[start..].find("\n\n").unwrap();
        let section: String = example[start..end]
            .lines()
            .map(|line| line.strip_prefix("# ").unwrap_or(line))
            .collect::<Vec<_>>()
            .join("\n");
        let config = Config::from_toml(&section).unwrap();
        config.validate().unwrap();
        assert_eq!(config.limits.len(), 2);
        assert_eq!(config.limits[0].label(), "players");
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
            "listen = \"0.0.0.0:8080\"\n[[auth.ingest]]\npattern = \"**\"\nbearer = [\"t\"]",
        )
        .unwrap();
        assert!(guarded.validate().is_ok());
    }

    #[test]
    fn filter_chains_parse() {
        let config = Config::from_toml(
            "[[filters]]\npattern = \"live/**/*.m3u8\"\nplugins = [\"cap\"]\non_error = \"skip\"\n[plugins.cap]\ndeadline_ms = 20",
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
                "[[auth.ingest]]\npattern = \"live/**\"\nbearer = [\"\"]",
                "auth.ingest[0].bearer",
            ),
            (
                "[[auth.ingest]]\npattern = \"live/**\"\nbasic = [\"enc:\"]",
                "auth.ingest[0].basic",
            ),
            (
                "[[guest.signing]]\nprefix = \"premium/\"\nkey = \"\"",
                "guest.signing[0].key",
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
    fn old_forms_stop_the_start_saying_how_to_write_them_now() {
        let error = Config::from_toml("[[auth.ingest]]\nprefix = \"/live/\"\nbearer = [\"t\"]")
            .unwrap()
            .validate()
            .unwrap_err()
            .to_string();
        assert!(error.contains("pattern = \"live/**\""), "{error}");
        let error =
            Config::from_toml("[[filters]]\npattern = \"/live/*.m3u8\"\nplugins = [\"cap\"]")
                .unwrap_err();
        assert!(error.contains("no leading '/'"), "{error}");
        let error = Config::from_toml("[guest.settings]\n\"sign:premium/\" = \"k\"")
            .unwrap()
            .validate()
            .unwrap_err()
            .to_string();
        assert!(error.contains("[[guest.signing]]"), "{error}");
    }

    #[test]
    fn problems_name_every_section_at_fault_in_order() {
        let config = Config::from_toml(
            "listen = \"0.0.0.0:8080\"\nmax_object_bytes = 0\n[admin]\ntoken = \"\"",
        )
        .unwrap();
        let keys: Vec<String> = config.problems().into_iter().map(|p| p.key).collect();
        assert_eq!(keys, ["max_object_bytes", "admin.token", "auth.ingest"]);
        assert!(matches!(
            config.validate(),
            Err(ConfigError::Invalid(InvalidSetting { key, .. })) if key == "max_object_bytes"
        ));
        assert!(Config::default().problems().is_empty());
    }

    #[test]
    fn redundant_routes_are_checked_and_named() {
        let route = |body: &str| {
            Config::from_toml(&format!("[[live.redundant]]\n{body}"))
                .unwrap()
                .problems()
                .into_iter()
                .map(|p| p.to_string())
                .collect::<Vec<_>>()
        };
        assert!(route("serve = \"ch/\"\ninputs = [\"a/\", \"b/\"]").is_empty());
        for (body, named) in [
            ("serve = \"ch/\"\ninputs = [\"a/\"]", "at least two inputs"),
            ("serve = \"ch/\"\ninputs = []", "at least two inputs"),
            (
                "serve = \"ch/\"\ninputs = [\"ch/a/\", \"b/\"]",
                "overlaps serve",
            ),
            ("serve = \"ch\"\ninputs = [\"a/\", \"b/\"]", "folder"),
            ("serve = \"ch/\"\ninputs = [\"a\", \"b/\"]", "folder"),
            (
                "serve = \"ch/\"\ninputs = [\"a/\", \"b/\"]\nhealthy_within = 0.0",
                "healthy_within",
            ),
        ] {
            let problems = route(body);
            assert_eq!(problems.len(), 1, "{body}: {problems:?}");
            assert!(problems[0].contains("live.redundant[0]"), "{problems:?}");
            assert!(problems[0].contains(named), "{problems:?}");
        }
        let two = route(
            "serve = \"ch/\"\ninputs = [\"a/\", \"b/\"]\n[[live.redundant]]\nserve = \"ch2/\"\ninputs = [\"b/\", \"c/\"]",
        );
        assert!(two[0].contains("overlap"), "{two:?}");
    }

    #[test]
    fn impossible_values_are_refused() {
        let mut config = Config::default();
        config.guest.deadline_ms = 1;
        assert!(matches!(
            config.validate(),
            Err(ConfigError::Invalid(InvalidSetting { key, .. })) if key == "guest.deadline_ms"
        ));
    }
}
