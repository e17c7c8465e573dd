//! What every request handler shares.

use std::sync::Arc;

use metrics_exporter_prometheus::PrometheusHandle;
use strata_runtime::{Guests, Runtime};
use strata_tiers::Storage;

use crate::access_log::AccessLog;
use crate::auth::{CdnAuth, IngestAuth};
use crate::config::ServerConfig;
use crate::harvest::Harvests;
use crate::http::{DecisionCache, Drain, Herds, Load, Throttle};
use crate::metrics::streams::Streams;

/// The running origin: its settings, storage and guest runtime.
pub struct AppState {
    /// What the server reads at run time.
    pub config: ServerConfig,
    /// The objects, seen through the storage trait.
    pub storage: Arc<dyn Storage>,
    /// The wasmtime engine and the instance pool.
    pub runtime: Arc<Runtime>,
    /// The deployed guests (handlers and manifest plugins) and their versions.
    pub guests: Arc<Guests>,
    /// Credentials the data plane requires.
    pub ingest_auth: IngestAuth,
    /// Keys only the CDN may read.
    pub cdn_auth: CdnAuth,
    /// Request and byte rates per client (`[[limits]]`).
    pub throttle: Throttle,
    /// Renders the metrics registry.
    pub metrics: PrometheusHandle,
    /// Decisions shared by identical requests woken by the same change.
    pub herds: Herds,
    /// Remembered reusable decisions, replayed without the guest while what they read holds.
    pub decisions: DecisionCache,
    /// Data-plane requests in flight, reported to guests as load.
    pub load: Load,
    /// Whether the process is shutting down.
    pub drain: Drain,
    /// Live-to-VOD clip jobs (`/_strata/harvest`).
    pub harvests: Arc<Harvests>,
    /// Where each request's access log line goes (nowhere when off).
    pub access_log: AccessLog,
    /// The live streams whose ingest age the metrics report.
    pub streams: Streams,
}
