//! What every request handler shares.

use std::sync::Arc;

use metrics_exporter_prometheus::PrometheusHandle;

use crate::config::Config;
use crate::runtime::Runtime;
use crate::tiers::Tiers;

/// The running origin: its settings, storage and guest runtime.
pub struct AppState {
    /// Resolved settings.
    pub config: Config,
    /// The memory and disk tiers.
    pub tiers: Arc<Tiers>,
    /// The handler guest.
    pub runtime: Runtime,
    /// Renders the metrics registry.
    pub metrics: PrometheusHandle,
}
