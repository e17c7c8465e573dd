//! What every request handler shares.

use std::sync::Arc;

use metrics_exporter_prometheus::PrometheusHandle;

use crate::auth::IngestAuth;
use crate::config::Config;
use crate::http::{Drain, Herds};
use crate::runtime::{Guests, Runtime};
use crate::tiers::Tiers;

/// The running origin: its settings, storage and guest runtime.
pub struct AppState {
    /// Resolved settings.
    pub config: Config,
    /// The memory and disk tiers.
    pub tiers: Arc<Tiers>,
    /// The wasmtime engine and the instance pool.
    pub runtime: Arc<Runtime>,
    /// The deployed guests (handlers and manifest plugins) and their versions.
    pub guests: Arc<Guests>,
    /// Credentials the data plane requires.
    pub ingest_auth: IngestAuth,
    /// Renders the metrics registry.
    pub metrics: PrometheusHandle,
    /// Decisions shared by identical requests woken by the same change.
    pub herds: Herds,
    /// Data-plane requests in flight, reported to guests as load.
    pub load: crate::http::Load,
    /// Whether the process is shutting down.
    pub drain: Drain,
}
