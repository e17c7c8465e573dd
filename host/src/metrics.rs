//! Prometheus metrics: names in one place, recorded through the `metrics` facade.

use std::time::Duration;

use http::{Method, StatusCode};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

use crate::runtime::GuestError;
use crate::state::AppState;

/// Installs the process-wide recorder and returns the handle that renders it.
pub fn install() -> anyhow::Result<PrometheusHandle> {
    let handle = PrometheusBuilder::new()
        .set_buckets(&[
            0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
            2.5, 5.0, 10.0,
        ])?
        .install_recorder()?;
    Ok(handle)
}

/// Counts one answered request by method and status, and its latency.
pub fn record_request(method: &Method, status: StatusCode, elapsed: Duration) {
    let method = match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::PUT => "PUT",
        Method::POST => "POST",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    };
    metrics::counter!("strata_requests_total", "method" => method, "status" => status.as_str().to_owned())
        .increment(1);
    metrics::histogram!("strata_request_duration_seconds", "method" => method)
        .record(elapsed.as_secs_f64());
}

/// Counts a guest that trapped or timed out.
pub fn record_guest_failure(error: &GuestError) {
    let kind = match error {
        GuestError::Timeout(_) => "timeout",
        GuestError::WallClock(_) => "wall_clock",
        GuestError::Trap(_) => "trap",
        GuestError::Invalid(_) => "invalid",
        GuestError::OutOfMemory(_) => "memory",
        GuestError::Busy(_) => "busy",
    };
    metrics::counter!("strata_guest_failures_total", "kind" => kind).increment(1);
}

/// Counts a request answered with the decision made for its herd (see `http::collapse`) instead of its own.
pub fn record_collapsed_decision() {
    metrics::counter!("strata_collapsed_decisions_total").increment(1);
}

/// The registry as Prometheus text, with gauges read fresh from the tiers and the runtime.
pub fn render(state: &AppState) -> String {
    let stats = state.tiers.stats();
    metrics::gauge!("strata_objects").set(stats.objects as f64);
    metrics::gauge!("strata_memory_tier_objects").set(stats.memory_objects as f64);
    metrics::gauge!("strata_memory_tier_bytes").set(stats.memory_bytes as f64);
    metrics::gauge!("strata_memory_tier_budget_bytes")
        .set(state.config.memory_bytes.as_u64() as f64);
    metrics::gauge!("strata_guest_memory_peak_bytes").set(state.runtime.memory_peak() as f64);
    metrics::gauge!("strata_guest_compiles").set(state.runtime.compiles() as f64);
    metrics::gauge!("strata_guest_cache_hits").set(state.runtime.cache_hits() as f64);
    publish_tiers(&stats);
    state.metrics.render()
}

/// Per-tier contents and running totals, as Prometheus series labelled by `tier`.
fn publish_tiers(stats: &crate::tiers::TierStats) {
    let gauges = [
        ("strata_tier_objects", "memory", stats.memory_objects as u64),
        ("strata_tier_objects", "disk", stats.disk_objects as u64),
        ("strata_tier_bytes", "memory", stats.memory_bytes),
        ("strata_tier_bytes", "disk", stats.disk_bytes),
        ("strata_tier_bytes", "uploads", stats.upload_memory_bytes),
        (
            "strata_tier_budget_bytes",
            "uploads",
            stats.upload_memory_budget_bytes,
        ),
    ];
    for (name, tier, value) in gauges {
        metrics::gauge!(name, "tier" => tier).set(value as f64);
    }
    let counters = [
        ("strata_tier_hits_total", "memory", stats.memory_hits),
        ("strata_tier_hits_total", "disk", stats.disk_hits),
        ("strata_tier_misses_total", "memory", stats.memory_misses),
        ("strata_tier_misses_total", "disk", stats.disk_misses),
        ("strata_tier_reads_total", "disk", stats.disk_reads),
        (
            "strata_tier_coalesced_reads_total",
            "disk",
            stats.coalesced_reads,
        ),
        ("strata_tier_evictions_total", "memory", stats.evictions),
        ("strata_tier_promotions_total", "memory", stats.promotions),
        ("strata_tier_demotions_total", "memory", stats.demotions),
        ("strata_tier_dropped_total", "memory", stats.dropped),
        ("strata_tier_expirations_total", "all", stats.expirations),
        (
            "strata_uploads_refused_total",
            "uploads",
            stats.uploads_refused,
        ),
    ];
    for (name, tier, value) in counters {
        metrics::counter!(name, "tier" => tier).absolute(value);
    }
}

/// Counts one request parked by a `wait` outcome for as long as it lives, in `strata_parked_requests`;
/// dropping it (the wait ended or the client left) uncounts it.
pub struct Parked(());

impl Parked {
    /// Counts a newly parked request.
    pub fn enter() -> Self {
        metrics::gauge!("strata_parked_requests").increment(1.0);
        Parked(())
    }
}

impl Drop for Parked {
    fn drop(&mut self) {
        metrics::gauge!("strata_parked_requests").decrement(1.0);
    }
}
