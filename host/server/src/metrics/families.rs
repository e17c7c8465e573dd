//! Every metric family the origin exports, with its type and its help text, in one table: the recorder is
//! told each description at start (`# HELP`), families with no series yet are still listed (so dashboards
//! and alerts find them from the first scrape), and the conventions are checked here once (counters end in
//! `_total`, every name starts `strata_` and carries its unit).

/// The Prometheus type of a family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Only goes up (resets at restart); its name ends in `_total`.
    Counter,
    /// Goes up and down.
    Gauge,
    /// Observations in buckets, with `_bucket`, `_sum` and `_count` series.
    Histogram,
}

impl Kind {
    /// The word of the `# TYPE` line.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
            Kind::Histogram => "histogram",
        }
    }
}

/// One metric family: its name, type and help.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Family {
    /// The metric name.
    pub name: &'static str,
    /// Its type.
    pub kind: Kind,
    /// The `# HELP` text: the doc comment of its constant.
    pub help: &'static str,
}

/// Declares each family as a constant whose doc comment is also its help text, and [`ALL`] listing them.
macro_rules! families {
    ($($(#[doc = $doc:literal])+ $ident:ident: $kind:ident $name:literal;)+) => {
        $(
            $(#[doc = $doc])+
            pub const $ident: Family = Family {
                name: $name,
                kind: Kind::$kind,
                help: concat!($($doc),+),
            };
        )+
        /// Every family, in the order of this file.
        pub const ALL: &[Family] = &[$($ident),+];
    };
}

families! {
    /// Requests answered, by method and status.
    REQUESTS: Counter "strata_requests_total";
    /// Time from a request's arrival to its response head, by class (playlist, part, segment, ingest,
    /// admin, other); parked time included.
    REQUEST_DURATION: Histogram "strata_request_duration_seconds";
    /// Request body bytes received, by class.
    REQUEST_BODY_BYTES: Counter "strata_request_body_bytes_total";
    /// Response body bytes sent, by class, counted as the body is sent (a client that leaves mid-body
    /// counts what it was sent).
    RESPONSE_BODY_BYTES: Counter "strata_response_body_bytes_total";
    /// Requests refused, by reason: unauthorized (401), forbidden (403), too_large (413), throttled
    /// (429), unavailable (503: overloaded, draining, a guest past its deadline), insufficient_storage
    /// (507).
    REFUSED: Counter "strata_requests_refused_total";
    /// Requests answered 429 by a throttling rule, by rule.
    THROTTLED: Counter "strata_requests_throttled_total";
    /// Time one guest decision took (instantiation and the call), by guest; replayed decisions are not
    /// counted.
    GUEST_DECISION_DURATION: Histogram "strata_guest_decision_duration_seconds";
    /// Guest decisions and rewrites that failed, by kind.
    GUEST_FAILURES: Counter "strata_guest_failures_total";
    /// Requests answered with their herd's decision.
    COLLAPSED_DECISIONS: Counter "strata_collapsed_decisions_total";
    /// Requests parked by wait outcomes now.
    PARKED_REQUESTS: Gauge "strata_parked_requests";
    /// Data-plane requests being decided or uploading now (the load guests see).
    IN_FLIGHT_REQUESTS: Gauge "strata_in_flight_requests";
    /// Manifest-plugin rewrites that failed, by plugin.
    FILTER_FAILURES: Counter "strata_filter_failures_total";
    /// Accepts that failed (file descriptors or buffers exhausted).
    ACCEPT_FAILURES: Counter "strata_accept_failures_total";
    /// Uploads aborted because their body stalled.
    UPLOADS_STALLED: Counter "strata_uploads_stalled_total";
    /// Guest versions refused at deploy or rollback.
    DEPLOYS_REFUSED: Counter "strata_guest_deploys_refused_total";
    /// Guest versions activated.
    GUEST_SWAPS: Counter "strata_guest_swaps_total";
    /// Objects stored.
    OBJECTS: Gauge "strata_objects";
    /// Objects in the memory tier.
    MEMORY_TIER_OBJECTS: Gauge "strata_memory_tier_objects";
    /// Bytes in the memory tier.
    MEMORY_TIER_BYTES: Gauge "strata_memory_tier_bytes";
    /// The memory tier's budget in bytes.
    MEMORY_TIER_BUDGET_BYTES: Gauge "strata_memory_tier_budget_bytes";
    /// The largest linear memory any guest instance reached, in bytes.
    GUEST_MEMORY_PEAK_BYTES: Gauge "strata_guest_memory_peak_bytes";
    /// Components compiled since start.
    GUEST_COMPILES: Counter "strata_guest_compiles_total";
    /// Components loaded from the compiled-artifact cache since start.
    GUEST_CACHE_HITS: Counter "strata_guest_cache_hits_total";
    /// Objects per tier.
    TIER_OBJECTS: Gauge "strata_tier_objects";
    /// Bytes per tier (memory, disk, uploads in progress).
    TIER_BYTES: Gauge "strata_tier_bytes";
    /// Budgets per tier, in bytes.
    TIER_BUDGET_BYTES: Gauge "strata_tier_budget_bytes";
    /// Reads served, per tier.
    TIER_HITS: Counter "strata_tier_hits_total";
    /// Reads a tier could not serve.
    TIER_MISSES: Counter "strata_tier_misses_total";
    /// Disk reads.
    TIER_READS: Counter "strata_tier_reads_total";
    /// Reads that joined another's disk read.
    TIER_COALESCED_READS: Counter "strata_tier_coalesced_reads_total";
    /// Objects pushed out of memory.
    TIER_EVICTIONS: Counter "strata_tier_evictions_total";
    /// Objects copied from disk into memory.
    TIER_PROMOTIONS: Counter "strata_tier_promotions_total";
    /// Evictions of objects that stay on disk.
    TIER_DEMOTIONS: Counter "strata_tier_demotions_total";
    /// Evictions of memory-only objects, which are lost.
    TIER_DROPPED: Counter "strata_tier_dropped_total";
    /// Objects removed at their TTL.
    TIER_EXPIRATIONS: Counter "strata_tier_expirations_total";
    /// Uploads refused or failed for want of upload memory.
    UPLOADS_REFUSED: Counter "strata_uploads_refused_total";
    /// Whether a cluster service (store, feed) is reachable: 1 or 0.
    CLUSTER_SERVICE_UP: Gauge "strata_cluster_service_up";
    /// Requests made to a cluster service.
    CLUSTER_REQUESTS: Counter "strata_cluster_requests_total";
    /// Requests to a cluster service that failed.
    CLUSTER_ERRORS: Counter "strata_cluster_errors_total";
    /// Time spent in requests to a cluster service, in seconds (its rate over the requests' rate is the
    /// mean latency).
    CLUSTER_REQUEST_SECONDS: Counter "strata_cluster_request_seconds_total";
    /// Live playlists refused because their encoder stopped updating them (stale manifests).
    STALE_MANIFESTS: Counter "strata_stale_manifests_total";
    /// Seconds since each live stream's playlist (HLS media playlist or dynamic MPD) was last written
    /// through this node, by stream (its key); at most [metrics] max_streams streams.
    STREAM_INGEST_AGE: Gauge "strata_stream_ingest_age_seconds";
    /// Live streams whose ingest age is tracked now.
    STREAMS_TRACKED: Gauge "strata_streams_tracked";
    /// Playlist writes of streams not tracked because [metrics] max_streams streams already were.
    STREAMS_UNTRACKED: Counter "strata_streams_untracked_total";
    /// Requests answered with a remembered guest decision, without entering Wasm.
    DECISION_CACHE_HITS: Counter "strata_decision_cache_hits_total";
    /// Requests that could have been answered from the decision cache and were not.
    DECISION_CACHE_MISSES: Counter "strata_decision_cache_misses_total";
    /// Remembered decisions dropped because something they read changed or their lifetime ended.
    DECISION_CACHE_INVALIDATIONS: Counter "strata_decision_cache_invalidations_total";
    /// Decisions remembered.
    DECISION_CACHE_STORED: Counter "strata_decision_cache_stored_total";
    /// Remembered decisions that left the cache: pushed out by the budget, replaced, or too large to
    /// keep.
    DECISION_CACHE_EVICTIONS: Counter "strata_decision_cache_evictions_total";
    /// Remembered decisions held now.
    DECISION_CACHE_ENTRIES: Gauge "strata_decision_cache_entries";
    /// Bytes the decision cache holds now.
    DECISION_CACHE_BYTES: Gauge "strata_decision_cache_bytes";
    /// The decision cache's budget in bytes.
    DECISION_CACHE_BUDGET_BYTES: Gauge "strata_decision_cache_budget_bytes";
    /// Bytes the connection threads' own copies of remembered answers hold now (at most an eighth of the
    /// budget, on top of it).
    DECISION_CACHE_FRONT_BYTES: Gauge "strata_decision_cache_front_bytes";
    /// Access log lines dropped because the writer fell behind (a slow disk) or could not write.
    ACCESS_LOG_DROPPED: Counter "strata_access_log_dropped_lines_total";
    /// Playlists answered on a daterange ad-marker route with breaks kept as CUE tags (nothing dated
    /// them).
    AD_MARKERS_KEPT: Counter "strata_ad_markers_kept_total";
    /// Harvest (live-to-VOD clip) jobs accepted by POST /_strata/harvest.
    HARVEST_JOBS_ACCEPTED: Counter "strata_harvest_jobs_accepted_total";
    /// Harvest jobs finished, by result (done, failed).
    HARVEST_JOBS_FINISHED: Counter "strata_harvest_jobs_finished_total";
    /// Harvest requests refused after their checks: busy (queue full) or conflict (destination in use).
    HARVEST_JOBS_REFUSED: Counter "strata_harvest_jobs_refused_total";
    /// Objects (segments, init sections, keys) harvest jobs copied host-side.
    HARVEST_OBJECTS_COPIED: Counter "strata_harvest_objects_copied_total";
    /// Bytes harvest jobs copied host-side.
    HARVEST_BYTES_COPIED: Counter "strata_harvest_bytes_copied_total";
    /// Harvest jobs now, by state (queued, running).
    HARVEST_JOBS: Gauge "strata_harvest_jobs";
}

/// The family named `name`.
pub fn named(name: &str) -> Option<&'static Family> {
    ALL.iter().find(|family| family.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_prometheus_conventions() {
        let units = ["_seconds", "_bytes"];
        for family in ALL {
            let name = family.name;
            assert!(name.starts_with("strata_"), "{name}");
            assert!(
                name.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'),
                "{name}"
            );
            assert_eq!(
                family.kind == Kind::Counter,
                name.ends_with("_total"),
                "{name}: counters, and only counters, end in _total"
            );
            if family.kind == Kind::Histogram {
                assert!(units.iter().any(|u| name.ends_with(u)), "{name}: no unit");
            }
            assert!(!family.help.trim().is_empty(), "{name}: no help");
            assert!(!family.help.contains('\n'), "{name}: help on one line");
        }
    }

    #[test]
    fn every_name_is_declared_once() {
        for (at, family) in ALL.iter().enumerate() {
            assert!(
                ALL[at + 1..].iter().all(|other| other.name != family.name),
                "{} twice",
                family.name
            );
        }
        assert_eq!(named(REQUESTS.name), Some(&REQUESTS));
        assert_eq!(named("strata_nothing"), None);
    }
}
