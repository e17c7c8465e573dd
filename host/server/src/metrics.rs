//! Prometheus metrics: every family the origin exports is declared once, with its type and help, in
//! [`families`], and every recording goes through a function here, so the rest of the host never spells a
//! metric. The storage and the runtime keep plain counters (they know nothing of a registry); [`render`]
//! publishes them with the registry's own, writes the families whose series come and go (per-stream ingest
//! age, [`streams`]) or are fractional counters itself, and lists the families with no series yet.
//! Conventions (decision 0057): `# HELP` on every family, counters and only counters end in `_total`, units
//! in the name (`_seconds`, `_bytes`), labels with bounded values only.

mod durations;
pub mod families;
pub mod streams;

use std::fmt::Write as _;
use std::time::Duration;
use strata_tiers::sharded::Sharded;

use http::{Method, StatusCode};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use strata_runtime::GuestError;

use crate::state::AppState;
use families::{Family, Kind};

use families as names;

/// Bucket bounds of guest decisions, in seconds: a warm instance (tens of microseconds) to the wall-clock
/// deadline.
const DECISION_BUCKETS: &[f64] = &[
    0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
    2.5,
];

/// Installs the process-wide recorder, with every family's description, and returns the handle that
/// renders it.
///
/// # Errors
/// When a recorder is already installed.
pub fn install() -> anyhow::Result<PrometheusHandle> {
    let handle = PrometheusBuilder::new()
        .set_buckets_for_metric(
            Matcher::Full(names::GUEST_DECISION_DURATION.name.to_owned()),
            DECISION_BUCKETS,
        )?
        .install_recorder()?;
    for family in families::ALL {
        let help = family.help.trim();
        match family.kind {
            Kind::Counter => metrics::describe_counter!(family.name, help),
            Kind::Gauge => metrics::describe_gauge!(family.name, help),
            Kind::Histogram => metrics::describe_histogram!(family.name, help),
        }
    }
    Ok(handle)
}

/// What a request is for, as operators break latency and traffic down: by the key's extension (a part is
/// an LL-HLS partial segment, named `<segment>.<part>.<ext>` or with `part` in its name, as encoders name
/// them), by method for writes, by path for the admin API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// `GET`/`HEAD` of an HLS playlist or a DASH MPD.
    Playlist,
    /// `GET`/`HEAD` of an LL-HLS part.
    Part,
    /// `GET`/`HEAD` of a media segment (or init segment, subtitle, key).
    Segment,
    /// `PUT`, `POST` or `DELETE` on the data plane.
    Ingest,
    /// `/_strata/*`.
    Admin,
    /// Anything else (`OPTIONS`, unknown extensions).
    Other,
}

/// Extensions of media segments (the guest's table, `guest/core/src/media_type.rs`, by class).
const SEGMENT_EXTENSIONS: [&str; 11] = [
    "ts", "m4s", "mp4", "m4v", "cmfv", "init", "m4a", "cmfa", "aac", "vtt", "key",
];

impl Class {
    const ALL: [Class; 6] = [
        Class::Playlist,
        Class::Part,
        Class::Segment,
        Class::Ingest,
        Class::Admin,
        Class::Other,
    ];

    /// The class of `method` on the raw request path `path`.
    pub fn of(method: &Method, path: &str) -> Class {
        if crate::admin::owns(path) {
            return Class::Admin;
        }
        if matches!(*method, Method::PUT | Method::POST | Method::DELETE) {
            return Class::Ingest;
        }
        if !matches!(*method, Method::GET | Method::HEAD) {
            return Class::Other;
        }
        let name = path.rsplit('/').next().unwrap_or(path);
        let Some((stem, extension)) = name.rsplit_once('.') else {
            return Class::Other;
        };
        if streams::is_playlist(name) {
            return Class::Playlist;
        }
        if !SEGMENT_EXTENSIONS
            .iter()
            .any(|known| known.eq_ignore_ascii_case(extension))
        {
            return Class::Other;
        }
        let numbered_part = stem.rsplit_once('.').is_some_and(|(segment, part)| {
            let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
            digits(part)
                && segment
                    .rsplit(|c: char| !c.is_ascii_digit())
                    .next()
                    .is_some_and(digits)
        });
        if numbered_part || stem.to_ascii_lowercase().contains("part") {
            Class::Part
        } else {
            Class::Segment
        }
    }

    /// The `class` label.
    pub fn as_str(self) -> &'static str {
        match self {
            Class::Playlist => "playlist",
            Class::Part => "part",
            Class::Segment => "segment",
            Class::Ingest => "ingest",
            Class::Admin => "admin",
            Class::Other => "other",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// The methods counted by name; others are `other`.
const METHODS: [&str; 7] = ["GET", "HEAD", "PUT", "POST", "DELETE", "OPTIONS", "other"];

/// The statuses whose series are registered once and kept: what a busy origin answers most.
const COMMON_STATUSES: [u16; 12] = [200, 201, 204, 206, 304, 400, 403, 404, 416, 429, 500, 503];

/// The per-request series, counted per thread (`strata_tiers::sharded`) and handed to the registry when
/// the metrics are read, each once it has counted something (so the metrics list only series that
/// happened): looking a labelled series up in the registry on every request costs more than the rest of a
/// remembered decision's answer, and the registry's counters are one atomic both connection threads write.
struct RequestSeries {
    /// By method, then by index in [`COMMON_STATUSES`].
    requests: [[Sharded; COMMON_STATUSES.len()]; METHODS.len()],
    /// Request body bytes by class.
    received: [Sharded; Class::ALL.len()],
    /// Response body bytes by class.
    sent: [Sharded; Class::ALL.len()],
}

static REQUEST_SERIES: RequestSeries = RequestSeries {
    requests: [const { [const { Sharded::new() }; COMMON_STATUSES.len()] }; METHODS.len()],
    received: [const { Sharded::new() }; Class::ALL.len()],
    sent: [const { Sharded::new() }; Class::ALL.len()],
};

/// Hands the per-request series' totals to the registry.
fn publish_request_series() {
    let series = &REQUEST_SERIES;
    for (method, by_status) in METHODS.iter().zip(&series.requests) {
        for (status, counted) in COMMON_STATUSES.iter().zip(by_status) {
            let total = counted.get();
            if total > 0 {
                metrics::counter!(names::REQUESTS.name, "method" => *method, "status" => status.to_string())
                    .absolute(total);
            }
        }
    }
    for class in Class::ALL {
        let received = series.received[class.index()].get();
        if received > 0 {
            metrics::counter!(names::REQUEST_BODY_BYTES.name, "class" => class.as_str())
                .absolute(received);
        }
        let sent = series.sent[class.index()].get();
        if sent > 0 {
            metrics::counter!(names::RESPONSE_BODY_BYTES.name, "class" => class.as_str())
                .absolute(sent);
        }
    }
}

/// Counts one answered request by method and status, its time to the response head by class, and a
/// refusal by its reason.
pub fn record_request(method: &Method, class: Class, status: StatusCode, elapsed: Duration) {
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
        Some(at) => series.requests[index][at].add(1),
        None => metrics::counter!(names::REQUESTS.name, "method" => method, "status" => status.as_str().to_owned())
            .increment(1),
    }
    durations::record(class, elapsed);
    if let Some(reason) = refusal(status) {
        metrics::counter!(names::REFUSED.name, "reason" => reason).increment(1);
    }
}

/// The reason label of a refusal status.
fn refusal(status: StatusCode) -> Option<&'static str> {
    Some(match status {
        StatusCode::UNAUTHORIZED => "unauthorized",
        StatusCode::FORBIDDEN => "forbidden",
        StatusCode::PAYLOAD_TOO_LARGE => "too_large",
        StatusCode::TOO_MANY_REQUESTS => "throttled",
        StatusCode::SERVICE_UNAVAILABLE => "unavailable",
        StatusCode::INSUFFICIENT_STORAGE => "insufficient_storage",
        _ => return None,
    })
}

/// Counts a request's body bytes received and its response body bytes sent, once the response is done.
pub fn record_transfer(class: Class, received: u64, sent: u64) {
    let series = &REQUEST_SERIES;
    if received > 0 {
        series.received[class.index()].add(received);
    }
    if sent > 0 {
        series.sent[class.index()].add(sent);
    }
}

/// Records the time one decision of guest `guest` took.
pub fn record_decision(guest: &str, took: Duration) {
    metrics::histogram!(names::GUEST_DECISION_DURATION.name, "guest" => guest.to_owned())
        .record(took.as_secs_f64());
}

/// Counts a request answered 429 by the throttling rule named `rule` (the 429 itself is counted as a
/// refusal by [`record_request`]).
pub fn record_throttled(rule: &str) {
    metrics::counter!(names::THROTTLED.name, "rule" => rule.to_owned()).increment(1);
}

/// Counts an access log line dropped because its writer fell behind or failed.
pub fn record_dropped_log_line() {
    metrics::counter!(names::ACCESS_LOG_DROPPED.name).increment(1);
}

/// Counts a playlist whose ad breaks a `daterange` route could not date and kept as CUE tags.
pub fn record_ad_markers_kept() {
    metrics::counter!(names::AD_MARKERS_KEPT.name).increment(1);
}

/// Counts a harvest job accepted.
pub fn record_harvest_accepted() {
    metrics::counter!(names::HARVEST_JOBS_ACCEPTED.name).increment(1);
}

/// Counts a harvest job finished, done or failed.
pub fn record_harvest_finished(done: bool) {
    let result = if done { "done" } else { "failed" };
    metrics::counter!(names::HARVEST_JOBS_FINISHED.name, "result" => result).increment(1);
}

/// Counts a harvest request refused after its checks (`busy`, `conflict`).
pub fn record_harvest_refused(reason: &'static str) {
    metrics::counter!(names::HARVEST_JOBS_REFUSED.name, "reason" => reason).increment(1);
}

/// Counts one object a harvest copied, of `bytes` bytes.
pub fn record_harvest_copy(bytes: u64) {
    metrics::counter!(names::HARVEST_OBJECTS_COPIED.name).increment(1);
    metrics::counter!(names::HARVEST_BYTES_COPIED.name).increment(bytes);
}

/// Counts a refusal of a stale live playlist.
pub fn record_stale_manifest() {
    metrics::counter!(names::STALE_MANIFESTS.name).increment(1);
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
    metrics::counter!(names::GUEST_FAILURES.name, "kind" => kind).increment(1);
}

/// Counts a request answered with the decision made for its herd (see `http::collapse`) instead of its own.
pub fn record_collapsed_decision() {
    metrics::counter!(names::COLLAPSED_DECISIONS.name).increment(1);
}

/// Counts a manifest plugin's failed rewrite.
pub fn record_filter_failure(plugin: &str) {
    metrics::counter!(names::FILTER_FAILURES.name, "plugin" => plugin.to_owned()).increment(1);
}

/// Counts `failures` accepts that failed.
pub fn record_accept_failures(failures: u64) {
    metrics::counter!(names::ACCEPT_FAILURES.name).increment(failures);
}

/// Counts an upload aborted because its body stalled.
pub fn record_stalled_upload() {
    metrics::counter!(names::UPLOADS_STALLED.name).increment(1);
}

/// Counts a guest version refused at deploy or rollback.
pub fn record_refused_deploy() {
    metrics::counter!(names::DEPLOYS_REFUSED.name).increment(1);
}

/// The registry as Prometheus text, with gauges read fresh from the storage and the runtime.
pub fn render(state: &AppState) -> String {
    let stats = state.storage.stats();
    metrics::gauge!(names::OBJECTS.name).set(stats.objects as f64);
    metrics::gauge!(names::MEMORY_TIER_OBJECTS.name).set(stats.memory_objects as f64);
    metrics::gauge!(names::MEMORY_TIER_BYTES.name).set(stats.memory_bytes as f64);
    metrics::gauge!(names::MEMORY_TIER_BUDGET_BYTES.name)
        .set(state.config.memory_budget_bytes as f64);
    metrics::gauge!(names::IN_FLIGHT_REQUESTS.name).set(f64::from(state.load.in_flight()));
    metrics::gauge!(names::GUEST_MEMORY_PEAK_BYTES.name).set(state.runtime.memory_peak() as f64);
    metrics::counter!(names::GUEST_COMPILES.name).absolute(state.runtime.compiles());
    metrics::counter!(names::GUEST_CACHE_HITS.name).absolute(state.runtime.cache_hits());
    metrics::counter!(names::GUEST_SWAPS.name).absolute(state.guests.swaps());
    let (queued, running) = state.harvests.active();
    metrics::gauge!(names::HARVEST_JOBS.name, "state" => "queued").set(queued as f64);
    metrics::gauge!(names::HARVEST_JOBS.name, "state" => "running").set(running as f64);
    publish_tiers(&stats, state.config.memory_budget_bytes);
    let services = state.storage.services();
    publish_services(&services);
    publish_decision_cache(&state.decisions.stats());
    publish_request_series();
    let mut text = state.metrics.render();
    durations::render(&mut text);
    write_service_seconds(&mut text, &services);
    state.streams.render(&mut text);
    list_families_without_series(&mut text);
    text
}

/// The time spent in each cluster service's requests: a counter of fractional seconds, which the
/// recorder's integer counters cannot hold.
fn write_service_seconds(out: &mut String, services: &[strata_tiers::ServiceHealth]) {
    write_family_head(out, &names::CLUSTER_REQUEST_SECONDS);
    for service in services {
        let _ = writeln!(
            out,
            "{}{{service=\"{}\"}} {}",
            names::CLUSTER_REQUEST_SECONDS.name,
            escape_label(service.name),
            service.latency_seconds
        );
    }
}

/// Appends the `# HELP` and `# TYPE` lines of every family `out` does not have yet (no series recorded so
/// far), so a dashboard or an alert finds every family from the first scrape.
fn list_families_without_series(out: &mut String) {
    let missing: Vec<&Family> = families::ALL
        .iter()
        .filter(|family| !out.contains(&format!("# TYPE {} ", family.name)))
        .collect();
    for family in missing {
        write_family_head(out, family);
    }
}

/// The `# HELP` and `# TYPE` lines of `family`.
fn write_family_head(out: &mut String, family: &Family) {
    let help = family.help.trim().replace('\\', "\\\\");
    let _ = writeln!(out, "# HELP {} {help}", family.name);
    let _ = writeln!(out, "# TYPE {} {}", family.name, family.kind.as_str());
}

/// `value` escaped as a Prometheus label value.
fn escape_label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// What the decision cache holds and has done.
fn publish_decision_cache(stats: &crate::http::CacheStats) {
    metrics::counter!(names::DECISION_CACHE_HITS.name).absolute(stats.hits);
    metrics::counter!(names::DECISION_CACHE_MISSES.name).absolute(stats.misses);
    metrics::counter!(names::DECISION_CACHE_INVALIDATIONS.name).absolute(stats.invalidated);
    metrics::counter!(names::DECISION_CACHE_STORED.name).absolute(stats.stored);
    metrics::counter!(names::DECISION_CACHE_EVICTIONS.name).absolute(stats.evicted);
    metrics::gauge!(names::DECISION_CACHE_ENTRIES.name).set(stats.entries as f64);
    metrics::gauge!(names::DECISION_CACHE_BYTES.name).set(stats.bytes as f64);
    metrics::gauge!(names::DECISION_CACHE_BUDGET_BYTES.name).set(stats.budget as f64);
    metrics::gauge!(names::DECISION_CACHE_FRONT_BYTES.name).set(stats.front_bytes as f64);
}

/// The cluster's store and feed, as series labelled by `service` (none on a single node).
fn publish_services(services: &[strata_tiers::ServiceHealth]) {
    for service in services {
        let name = service.name;
        metrics::gauge!(names::CLUSTER_SERVICE_UP.name, "service" => name)
            .set(f64::from(u8::from(service.reachable)));
        metrics::counter!(names::CLUSTER_REQUESTS.name, "service" => name)
            .absolute(service.requests);
        metrics::counter!(names::CLUSTER_ERRORS.name, "service" => name).absolute(service.errors);
    }
}

/// Per-tier contents, budgets and running totals, as Prometheus series labelled by `tier` (the disk's
/// budget only when `storage.disk_bytes` sets one).
fn publish_tiers(stats: &strata_tiers::TierStats, memory_budget_bytes: u64) {
    if let Some(budget) = stats.disk_budget_bytes {
        metrics::gauge!(names::TIER_BUDGET_BYTES.name, "tier" => "disk").set(budget as f64);
    }
    let gauges = [
        (
            names::TIER_OBJECTS.name,
            "memory",
            stats.memory_objects as u64,
        ),
        (names::TIER_OBJECTS.name, "disk", stats.disk_objects as u64),
        (names::TIER_BYTES.name, "memory", stats.memory_bytes),
        (names::TIER_BYTES.name, "disk", stats.disk_bytes),
        (names::TIER_BYTES.name, "uploads", stats.upload_memory_bytes),
        (
            names::TIER_BUDGET_BYTES.name,
            "uploads",
            stats.upload_memory_budget_bytes,
        ),
        (names::TIER_BUDGET_BYTES.name, "memory", memory_budget_bytes),
    ];
    for (name, tier, value) in gauges {
        metrics::gauge!(name, "tier" => tier).set(value as f64);
    }
    let counters = [
        (names::TIER_HITS.name, "memory", stats.memory_hits),
        (names::TIER_HITS.name, "disk", stats.disk_hits),
        (names::TIER_MISSES.name, "memory", stats.memory_misses),
        (names::TIER_MISSES.name, "disk", stats.disk_misses),
        (names::TIER_READS.name, "disk", stats.disk_reads),
        (
            names::TIER_COALESCED_READS.name,
            "disk",
            stats.coalesced_reads,
        ),
        (names::TIER_EVICTIONS.name, "memory", stats.evictions),
        (names::TIER_PROMOTIONS.name, "memory", stats.promotions),
        (names::TIER_DEMOTIONS.name, "memory", stats.demotions),
        (names::TIER_DROPPED.name, "memory", stats.dropped),
        (names::TIER_EXPIRATIONS.name, "all", stats.expirations),
        (
            names::UPLOADS_REFUSED.name,
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
        metrics::gauge!(names::PARKED_REQUESTS.name).increment(1.0);
        Parked(())
    }
}

impl Drop for Parked {
    fn drop(&mut self) {
        metrics::gauge!(names::PARKED_REQUESTS.name).decrement(1.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_classed_by_method_path_and_name() {
        let get = Method::GET;
        for (method, path, class) in [
            (&get, "/live/a/index.m3u8", Class::Playlist),
            (&get, "/vod/a.MPD", Class::Playlist),
            (&get, "/live/a/seg12.ts", Class::Segment),
            (&get, "/live/a/init.mp4", Class::Segment),
            (&get, "/live/a/12.3.m4s", Class::Part),
            (&get, "/live/a/part12.1.m4s", Class::Part),
            (&get, "/live/a/fileSequence12.3.mp4", Class::Part),
            (&get, "/live/a/v1.2.ts.json", Class::Other),
            (&get, "/live/a", Class::Other),
            (&Method::HEAD, "/a/b.vtt", Class::Segment),
            (&Method::PUT, "/live/a/index.m3u8", Class::Ingest),
            (&Method::DELETE, "/live/a/1.ts", Class::Ingest),
            (&Method::OPTIONS, "/live/a/1.ts", Class::Other),
            (&get, "/_strata/metrics", Class::Admin),
            (&Method::PUT, "/_strata/guests/origin", Class::Admin),
        ] {
            assert_eq!(Class::of(method, path), class, "{method} {path}");
        }
    }

    #[test]
    fn refusals_are_named_by_status() {
        assert_eq!(refusal(StatusCode::TOO_MANY_REQUESTS), Some("throttled"));
        assert_eq!(refusal(StatusCode::UNAUTHORIZED), Some("unauthorized"));
        assert_eq!(refusal(StatusCode::NOT_FOUND), None);
        assert_eq!(refusal(StatusCode::OK), None);
    }

    #[test]
    fn label_values_and_help_are_escaped() {
        assert_eq!(escape_label("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
        let mut text = String::new();
        write_family_head(&mut text, &names::REQUESTS);
        assert_eq!(
            text,
            "# HELP strata_requests_total Requests answered, by method and status.\n\
             # TYPE strata_requests_total counter\n"
        );
    }
}
