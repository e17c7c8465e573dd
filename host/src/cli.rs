//! The `strata` command line.

use std::net::SocketAddr;
use std::path::PathBuf;

use bytesize::ByteSize;
use clap::{Args, Parser, Subcommand};

use strata_cluster::config::{ClusterConfig, S3Config};
use strata_tiers::InvalidSetting;

use crate::config::{Config, ConfigError};

/// A WebAssembly-programmable origin for HLS and DASH.
#[derive(Debug, Parser)]
#[command(name = "strata", version = crate::version::line(), about)]
pub struct Cli {
    /// How log lines on stderr are written: `text` (colours only on a terminal) or `json` (one object a
    /// line, for log collectors).
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text, env = "STRATA_LOG_FORMAT")]
    pub log_format: LogFormat,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The shapes of log lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines; ANSI colours only when stderr is a terminal.
    Text,
    /// One JSON object a line.
    Json,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the origin.
    Serve(Box<ServeArgs>),
    /// Manage the guests of a running origin through its admin API.
    #[command(subcommand)]
    Guest(crate::guest_cli::GuestCommand),
    /// Cut a live-to-VOD clip on a running origin (its admin API copies the segments) and follow the job.
    Harvest(Box<crate::harvest_cli::HarvestArgs>),
    /// Check a config file as `serve --config FILE` would, without starting: exit 0 when valid, 1 with
    /// every problem on stderr.
    CheckConfig(CheckConfigArgs),
}

/// Arguments of `strata check-config`.
#[derive(Debug, Args)]
pub struct CheckConfigArgs {
    /// The TOML config file to check.
    pub file: PathBuf,
}

/// Flags of `strata serve`; each overrides the config file, which overrides the embedded defaults.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// TOML config file (see strata.example.toml).
    #[arg(long, env = "STRATA_CONFIG")]
    pub config: Option<PathBuf>,
    /// Listen address, e.g. 127.0.0.1:8080 (port 0 picks a free one).
    #[arg(long)]
    pub listen: Option<SocketAddr>,
    /// Data folder for the disk tier.
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Memory tier budget, e.g. 512MiB.
    #[arg(long)]
    pub memory_bytes: Option<ByteSize>,
    /// Largest object a PUT may store, e.g. 64MiB.
    #[arg(long)]
    pub max_object_bytes: Option<ByteSize>,
    /// Handler component (.wasm) to run instead of the built-in one.
    #[arg(long)]
    pub handler: Option<PathBuf>,
    /// Linear memory cap per guest instance, e.g. 64MiB.
    #[arg(long)]
    pub guest_memory_bytes: Option<ByteSize>,
    /// CPU deadline per guest decision, in milliseconds.
    #[arg(long)]
    pub guest_deadline_ms: Option<u64>,
    /// Most guest instances alive at once.
    #[arg(long)]
    pub guest_max_instances: Option<u32>,
    /// Memory for remembered guest decisions, e.g. 64MiB; 0 asks the guest on every request.
    #[arg(long)]
    pub decision_cache_bytes: Option<ByteSize>,
    /// Folder watched for <name>.wasm files that deploy themselves.
    #[arg(long)]
    pub guests_dir: Option<PathBuf>,
    /// Bearer token of the admin API.
    #[arg(long, env = "STRATA_ADMIN_TOKEN", hide_env_values = true)]
    pub admin_token: Option<String>,
    /// PEM certificate chain: serve HTTPS only, with HTTP/2 through ALPN (needs --tls-key).
    #[arg(long, requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key of --tls-cert.
    #[arg(long, requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Join a cluster whose shared store is this S3 bucket: s3://BUCKET[/PREFIX] (needs --cluster-feed
    /// or [cluster] in the config). Endpoint, region and credentials: [cluster.s3] or the AWS_*
    /// environment variables.
    #[arg(long)]
    pub cluster_store: Option<String>,
    /// The cluster's change feed: redis://HOST:PORT[/DB] (Redis or Valkey).
    #[arg(long)]
    pub cluster_feed: Option<String>,
    /// This node's name in the cluster (default: the host name).
    #[arg(long)]
    pub node_id: Option<String>,
}

impl ServeArgs {
    /// The configuration these flags describe: defaults, then the file, then the flags; validated.
    pub fn resolve(&self) -> Result<Config, ConfigError> {
        let mut config = match &self.config {
            Some(path) => Config::from_file(path)?,
            None => Config::default(),
        };
        if let Some(listen) = self.listen {
            config.listen = listen;
        }
        if let Some(data) = &self.data {
            config.data_dir = data.clone();
        }
        if let Some(bytes) = self.memory_bytes {
            config.memory_bytes = bytes;
        }
        if let Some(bytes) = self.max_object_bytes {
            config.max_object_bytes = bytes;
        }
        if let Some(handler) = &self.handler {
            config.guest.handler = Some(handler.clone());
        }
        if let Some(bytes) = self.guest_memory_bytes {
            config.guest.memory_bytes = bytes;
        }
        if let Some(ms) = self.guest_deadline_ms {
            config.guest.deadline_ms = ms;
        }
        if let Some(n) = self.guest_max_instances {
            config.guest.max_instances = n;
        }
        if let Some(bytes) = self.decision_cache_bytes {
            config.guest.decision_cache_bytes = bytes;
        }
        if let Some(dir) = &self.guests_dir {
            config.guest.guests_dir = Some(dir.clone());
        }
        if let Some(token) = &self.admin_token {
            config.admin.token = Some(token.clone());
        }
        if let (Some(cert), Some(key)) = (&self.tls_cert, &self.tls_key) {
            config.tls = Some(strata_server::config::TlsConfig {
                cert: cert.clone(),
                key: key.clone(),
            });
        }
        self.resolve_cluster(&mut config)?;
        config.validate()?;
        Ok(config)
    }

    /// Applies the cluster flags: both the store and the feed, or either over a `[cluster]` section.
    fn resolve_cluster(&self, config: &mut Config) -> Result<(), ConfigError> {
        let cluster = match (&mut config.cluster, &self.cluster_store, &self.cluster_feed) {
            (Some(cluster), _, _) => cluster,
            (None, Some(store), Some(feed)) => config.cluster.insert(ClusterConfig {
                store: store.clone(),
                feed: feed.clone(),
                node_id: None,
                inline_bytes: ClusterConfig::DEFAULT_INLINE_BYTES,
                s3: S3Config::default(),
            }),
            (None, None, None) => {
                if self.node_id.is_some() {
                    return Err(InvalidSetting::new(
                        "--node-id",
                        "names a node of a cluster: give --cluster-store and --cluster-feed too",
                    )
                    .into());
                }
                return Ok(());
            }
            (None, _, _) => {
                return Err(InvalidSetting::new(
                    "--cluster-store",
                    "a cluster needs both --cluster-store and --cluster-feed (or [cluster] in the config)",
                )
                .into());
            }
        };
        if let Some(store) = &self.cluster_store {
            cluster.store = store.clone();
        }
        if let Some(feed) = &self.cluster_feed {
            cluster.feed = feed.clone();
        }
        if let Some(node) = &self.node_id {
            cluster.node_id = Some(node.clone());
        }
        Ok(())
    }
}
