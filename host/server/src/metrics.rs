//! Prometheus metrics: every name the origin exports is a constant in [`names`], and every recording goes
//! through a function here, so the rest of the host never spells a metric. The storage and the runtime keep
//! plain counters (they know nothing of a registry); [`render`] publishes them with the registry's own.

use std::sync::OnceLock;
use std::time::Duration;

use http::{Method, StatusCode};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use strata_runtime::GuestError;

use crate::state::AppState;

/// Every metric name, in one place.
pub mod names {
    /// Requests answered, by method and status.
    pub const REQUESTS: &str = "strata_requests_total";
    /// Time to the response head, by method.
    pub const REQUEST_DURATION: &str = "strata_request_duration_seconds";
    /// Guest decisions and rewrites that failed, by kind.
    pub const GUEST_FAILURES: &str = "strata_guest_failures_total";
    /// Requests answered with their herd's decision.
    pub const COLLAPSED_DECISIONS: &str = "strata_collapsed_decisions_total";
    /// Requests parked by `wait` outcomes now.
    pub const PARKED_REQUESTS: &str = "strata_parked_requests";
    /// Data-plane requests being decided or uploading now (the load guests see).
    pub const IN_FLIGHT_REQUESTS: &str = "strata_in_flight_requests";
    /// Manifest-plugin rewrites that failed, by plugin.
    pub const FILTER_FAILURES: &str = "strata_filter_failures_total";
    /// Accepts that failed (file descriptors or buffers exhausted).
    pub const ACCEPT_FAILURES: &str = "strata_accept_failures_total";
    /// Uploads aborted because their body stalled.
    pub const UPLOADS_STALLED: &str = "strata_uploads_stalled_total";
    /// Guest versions refused at deploy or rollback.
    pub const DEPLOYS_REFUSED: &str = "strata_guest_deploys_refused_total";
    /// Guest versions activated.
    pub const GUEST_SWAPS: &str = "strata_guest_swaps_total";
    /// Objects stored.
    pub const OBJECTS: &str = "strata_objects";
    /// Objects in the memory tier.
    pub const MEMORY_TIER_OBJECTS: &str = "strata_memory_tier_objects";
    /// Bytes in the memory tier.
    pub const MEMORY_TIER_BYTES: &str = "strata_memory_tier_bytes";
    /// The memory tier's budget.
    pub const MEMORY_TIER_BUDGET_BYTES: &str = "strata_memory_tier_budget_bytes";
    /// The largest linear memory any guest instance reached.
    pub const GUEST_MEMORY_PEAK_BYTES: &str = "strata_guest_memory_peak_bytes";
    /// Components compiled since start.
    pub const GUEST_COMPILES: &str = "strata_guest_compiles";
    /// Components loaded from the artifact cache since start.
    pub const GUEST_CACHE_HITS: &str = "strata_guest_cache_hits";
    /// Objects per tier.
    pub const TIER_OBJECTS: &str = "strata_tier_objects";
    /// Bytes per tier (memory, disk, uploads in progress).
    pub const TIER_BYTES: &str = "strata_tier_bytes";
    /// Budgets per tier.
    pub const TIER_BUDGET_BYTES: &str = "strata_tier_budget_bytes";
    /// Reads served, per tier.
    pub const TIER_HITS: &str = "strata_tier_hits_total";
    /// Reads a tier could not serve.
    pub const TIER_MISSES: &str = "strata_tier_misses_total";
    /// Disk reads.
    pub const TIER_READS: &str = "strata_tier_reads_total";
    /// Reads that joined another's disk read.
    pub const TIER_COALESCED_READS: &str = "strata_tier_coalesced_reads_total";
    /// Objects pushed out of memory.
    pub const TIER_EVICTIONS: &str = "strata_tier_evictions_total";
    /// Objects copied from disk into memory.
    pub const TIER_PROMOTIONS: &str = "strata_tier_promotions_total";
    /// Evictions of objects that stay on disk.
    pub const TIER_DEMOTIONS: &str = "strata_tier_demotions_total";
    /// Evictions of memory-only objects, which are lost.
    pub const TIER_DROPPED: &str = "strata_tier_dropped_total";
    /// Objects removed at their TTL.
    pub const TIER_EXPIRATIONS: &str = "strata_tier_expirations_total";
    /// Uploads refused or failed for want of upload memory.
    pub const UPLOADS_REFUSED: &str = "strata_uploads_refused_total";
    /// Whether a cluster service (`store`, `feed`) is reachable: 1 or 0.
    pub const CLUSTER_SERVICE_UP: &str = "strata_cluster_service_up";
    /// Requests made to a cluster service.
    pub const CLUSTER_REQUESTS: &str = "strata_cluster_requests_total";
    /// Requests to a cluster service that failed.
    pub const CLUSTER_ERRORS: &str = "strata_cluster_errors_total";
    /// Time spent in requests to a cluster service (divide by the requests for the mean latency).
    pub const CLUSTER_REQUEST_SECONDS: &str = "strata_cluster_request_seconds_total";
    /// Live playlists refused because their encoder stopped updating them (stale manifests).
    pub const STALE_MANIFESTS: &str = "strata_stale_manifests_total";
    /// Requests answered with a remembered guest decision, without entering Wasm.
    pub const DECISION_CACHE_HITS: &str = "strata_decision_cache_hits_total";
    /// Requests that could have been answered from the decision cache and were not.
    pub const DECISION_CACHE_MISSES: &str = "strata_decision_cache_misses_total";
    /// Remembered decisions dropped because something they read changed or their lifetime ended.
    pub const DECISION_CACHE_INVALIDATIONS: &str = "strata_decision_cache_invalidations_total";
    /// Decisions remembered.
    pub const DECISION_CACHE_STORED: &str = "strata_decision_cache_stored_total";
    /// Remembered decisions that left the cache: pushed out by the budget, replaced, or too large to keep.
    pub const DECISION_CACHE_EVICTIONS: &str = "strata_decision_cache_evictions_total";
    /// Remembered decisions held now.
    pub const DECISION_CACHE_ENTRIES: &str = "strata_decision_cache_entries";
    /// Bytes the decision cache holds now.
    pub const DECISION_CACHE_BYTES: &str = "strata_decision_cache_bytes";
    /// The decision cache's budget.
    pub const DECISION_CACHE_BUDGET_BYTES: &str = "strata_decision_cache_budget_bytes";
}

/// Installs the process-wide recorder and returns the handle that renders it.
///
/// # Errors
/// When a recorder is already installed.
pub fn install() -> anyhow::Result<PrometheusHandle> {
    let handle = PrometheusBuilder::new()
        .set_buckets(&[
            0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
            2.5, 5.0, 10.0,
        ])?
        .install_recorder()?;
    Ok(handle)
}

/// The methods counted by name; others are `other`.
const METHODS: [&str; 7] = ["GET", "HEAD", "PUT", "POST", "DELETE", "OPTIONS", "other"];

/// The statuses whose series are registered once and kept: what a busy origin answers most.
const COMMON_STATUSES: [u16; 12] = [200, 201, 204, 206, 304, 400, 403, 404, 416, 429, 500, 503];

/// Handles of the per-request series, each registered on its first use (so the metrics list only series
/// that happened): looking a labelled series up in the registry on every request costs more than the rest
/// of a remembered decision's answer.
struct RequestSeries {
    /// By method, then by index in [`COMMON_STATUSES`].
    requests: [[OnceLock<metrics::Counter>; COMMON_STATUSES.len()]; METHODS.len()],
    /// By method.
    durations: [OnceLock<metrics::Histogram>; METHODS.len()],
}

static REQUEST_SERIES: RequestSeries = RequestSeries {
    requests: [const { [const { OnceLock::new() }; COMMON_STATUSES.len()] }; METHODS.len()],
    durations: [const { OnceLock::new() }; METHODS.len()],
};

/// Counts one answered request by method and status, and its latency.
pub fn record_request(method: &Method, status: StatusCode, elapsed: Duration) {
    let index = match *method {
        Method::GET => 0,
        Method::HEAD => 1,
        Method::PUT => 2,
        Method::POST => 3,
        Method::DELETE => 4,
        Method::OPTIONS => 5,
        _ => 6,
    };
    let method = METHODS[index];
    let series = &REQUEST_SERIES;
    match COMMON_STATUSES.iter().position(|s| *s == status.as_u16()) {
        Some(at) => series.requests[index][at]
            .get_or_init(|| {
                metrics::counter!(names::REQUESTS, "method" => method, "status" => status.as_str().to_owned())
            })
            .increment(1),
        None => metrics::counter!(names::REQUESTS, "method" => method, "status" => status.as_str().to_owned())
            .increment(1),
    }
    series.durations[index]
        .get_or_init(|| metrics::histogram!(names::REQUEST_DURATION, "method" => method))
        .record(elapsed.as_secs_f64());
}

/// Counts a refusal of a stale live playlist.
pub fn record_stale_manifest() {
    metrics::counter!(names::STALE_MANIFESTS).increment(1);
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
    metrics::counter!(names::GUEST_FAILURES, "kind" => kind).increment(1);
}

/// Counts a request answered with the decision made for its herd (see `http::collapse`) instead of its own.
pub fn record_collapsed_decision() {
    metrics::counter!(names::COLLAPSED_DECISIONS).increment(1);
}

/// Counts a manifest plugin's failed rewrite.
pub fn record_filter_failure(plugin: &str) {
    metrics::counter!(names::FILTER_FAILURES, "plugin" => plugin.to_owned()).increment(1);
}

/// Counts `failures` accepts that failed.
pub fn record_accept_failures(failures: u64) {
    metrics::counter!(names::ACCEPT_FAILURES).increment(failures);
}

/// Counts an upload aborted because its body stalled.
pub fn record_stalled_upload() {
    metrics::counter!(names::UPLOADS_STALLED).increment(1);
}

/// Counts a guest version refused at deploy or rollback.
pub fn record_refused_deploy() {
    metrics::counter!(names::DEPLOYS_REFUSED).increment(1);
}

/// The registry as Prometheus text, with gauges read fresh from the storage and the runtime.
pub fn render(state: &AppState) -> String {
    let stats = state.storage.stats();
    metrics::gauge!(names::OBJECTS).set(stats.objects as f64);
    metrics::gauge!(names::MEMORY_TIER_OBJECTS).set(stats.memory_objects as f64);
    metrics::gauge!(names::MEMORY_TIER_BYTES).set(stats.memory_bytes as f64);
    metrics::gauge!(names::MEMORY_TIER_BUDGET_BYTES).set(state.config.memory_budget_bytes as f64);
    metrics::gauge!(names::IN_FLIGHT_REQUESTS).set(f64::from(state.load.in_flight()));
    metrics::gauge!(names::GUEST_MEMORY_PEAK_BYTES).set(state.runtime.memory_peak() as f64);
    metrics::gauge!(names::GUEST_COMPILES).set(state.runtime.compiles() as f64);
    metrics::gauge!(names::GUEST_CACHE_HITS).set(state.runtime.cache_hits() as f64);
    metrics::counter!(names::GUEST_SWAPS).absolute(state.guests.swaps());
    publish_tiers(&stats, state.config.memory_budget_bytes);
    publish_services(&state.storage.services());
    publish_decision_cache(&state.decisions.stats());
    state.metrics.render()
}

/// What the decision cache holds and has done.
fn publish_decision_cache(stats: &crate::http::CacheStats) {
    metrics::counter!(names::DECISION_CACHE_HITS).absolute(stats.hits);
    metrics::counter!(names::DECISION_CACHE_MISSES).absolute(stats.misses);
    metrics::counter!(names::DECISION_CACHE_INVALIDATIONS).absolute(stats.invalidated);
    metrics::counter!(names::DECISION_CACHE_STORED).absolute(stats.stored);
    metrics::counter!(names::DECISION_CACHE_EVICTIONS).absolute(stats.evicted);
    metrics::gauge!(names::DECISION_CACHE_ENTRIES).set(stats.entries as f64);
    metrics::gauge!(names::DECISION_CACHE_BYTES).set(stats.bytes as f64);
    metrics::gauge!(names::DECISION_CACHE_BUDGET_BYTES).set(stats.budget as f64);
}

/// The cluster's store and feed, as series labelled by `service` (none on a single node).
fn publish_services(services: &[strata_tiers::ServiceHealth]) {
    for service in services {
        let name = service.name;
        metrics::gauge!(names::CLUSTER_SERVICE_UP, "service" => name)
            .set(f64::from(u8::from(service.reachable)));
        metrics::counter!(names::CLUSTER_REQUESTS, "service" => name).absolute(service.requests);
        metrics::counter!(names::CLUSTER_ERRORS, "service" => name).absolute(service.errors);
        metrics::gauge!(names::CLUSTER_REQUEST_SECONDS, "service" => name)
            .set(service.latency_seconds);
    }
}

/// Per-tier contents, budgets and running totals, as Prometheus series labelled by `tier` (the disk's
/// budget only when `storage.disk_bytes` sets one).
fn publish_tiers(stats: &strata_tiers::TierStats, memory_budget_bytes: u64) {
    if let Some(budget) = stats.disk_budget_bytes {
        metrics::gauge!(names::TIER_BUDGET_BYTES, "tier" => "disk").set(budget as f64);
    }
    let gauges = [
        (names::TIER_OBJECTS, "memory", stats.memory_objects as u64),
        (names::TIER_OBJECTS, "disk", stats.disk_objects as u64),
        (names::TIER_BYTES, "memory", stats.memory_bytes),
        (names::TIER_BYTES, "disk", stats.disk_bytes),
        (names::TIER_BYTES, "uploads", stats.upload_memory_bytes),
        (
            names::TIER_BUDGET_BYTES,
            "uploads",
            stats.upload_memory_budget_bytes,
        ),
        (names::TIER_BUDGET_BYTES, "memory", memory_budget_bytes),
    ];
    for (name, tier, value) in gauges {
        metrics::gauge!(name, "tier" => tier).set(value as f64);
    }
    let counters = [
        (names::TIER_HITS, "memory", stats.memory_hits),
        (names::TIER_HITS, "disk", stats.disk_hits),
        (names::TIER_MISSES, "memory", stats.memory_misses),
        (names::TIER_MISSES, "disk", stats.disk_misses),
        (names::TIER_READS, "disk", stats.disk_reads),
        (names::TIER_COALESCED_READS, "disk", stats.coalesced_reads),
        (names::TIER_EVICTIONS, "memory", stats.evictions),
        (names::TIER_PROMOTIONS, "memory", stats.promotions),
        (names::TIER_DEMOTIONS, "memory", stats.demotions),
        (names::TIER_DROPPED, "memory", stats.dropped),
        (names::TIER_EXPIRATIONS, "all", stats.expirations),
        (names::UPLOADS_REFUSED, "uploads", stats.uploads_refused),
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
        metrics::gauge!(names::PARKED_REQUESTS).increment(1.0);
        Parked(())
    }
}

impl Drop for Parked {
    fn drop(&mut self) {
        metrics::gauge!(names::PARKED_REQUESTS).decrement(1.0);
    }
}
