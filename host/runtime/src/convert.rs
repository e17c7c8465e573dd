//! Plain `strata_abi` types ⇄ each ABI version's generated types, field for field: the boundary where
//! generated types stop. The versions differ only in the request (0.2.0 adds the decoded key and types the
//! settings, which 0.1.0 guests receive in their string form); outcomes and object metadata are the same
//! shape in both, so one macro writes their conversions for each.

use strata_abi::settings::{AbrPolicy, AdMarkersMode, ClockSource};
use strata_abi::types as plain;

use super::bindings;

/// Writes `outcome` (generated → plain) and `object_meta` (plain → generated) for one version's module.
macro_rules! same_shape {
    ($version:ident) => {
        pub mod $version {
            use strata_abi::types as plain;

            use crate::bindings::$version::strata::origin::types as wit;

            /// The guest's outcome as the host's.
            pub fn outcome(o: wit::Outcome) -> plain::Outcome {
                match o {
                    wit::Outcome::Respond(r) => plain::Outcome::Respond(plain::Response {
                        status: r.status,
                        headers: r.headers,
                        body: r.body,
                    }),
                    wit::Outcome::Serve(s) => plain::Outcome::Serve(plain::ServePlan {
                        key: s.key,
                        status: s.status,
                        range: s.range.map(|r| plain::ByteRange {
                            first: r.first,
                            last: r.last,
                        }),
                        etag: s.etag,
                        headers: s.headers,
                        prefetch: s.prefetch,
                    }),
                    wit::Outcome::Store(s) => plain::Outcome::Store(plain::StorePlan {
                        key: s.key,
                        content_type: s.content_type,
                        cache_control: s.cache_control,
                        metadata: s.metadata,
                        status: s.status,
                        headers: s.headers,
                        ttl_seconds: s.ttl_seconds,
                    }),
                    wit::Outcome::Delete(d) => plain::Outcome::Delete(plain::DeletePlan {
                        key: d.key,
                        status: d.status,
                        headers: d.headers,
                    }),
                    wit::Outcome::Wait(w) => plain::Outcome::Wait(plain::WaitPlan {
                        key: w.key,
                        unless_etag: w.unless_etag,
                        timeout_ms: w.timeout_ms,
                    }),
                }
            }

            /// What the storage knows of an object, as the guest's `tiers.head` answers it.
            pub fn object_meta(meta: &strata_tiers::ObjectMeta) -> wit::ObjectMeta {
                wit::ObjectMeta {
                    key: meta.key.clone(),
                    size: meta.size,
                    content_type: meta.content_type.clone(),
                    etag: meta.etag.clone(),
                    last_modified: meta.last_modified,
                    cache_control: meta.cache_control.clone(),
                    metadata: meta.metadata.clone(),
                    complete: meta.complete,
                }
            }
        }
    };
}

same_shape!(v0_1);
same_shape!(v0_2);

/// The request as a 0.2.0 guest receives it.
pub fn request_v0_2(r: &plain::Request) -> bindings::v0_2::strata::origin::types::Request {
    use bindings::v0_2::strata::origin::types as wit;
    let s = &r.settings;
    wit::Request {
        method: r.method.clone(),
        key: r.key.clone(),
        path: r.path.clone(),
        query: r.query.clone(),
        headers: r.headers.clone(),
        waited_ms: r.waited_ms,
        limits: wit::Limits {
            max_object_bytes: r.limits.max_object_bytes,
        },
        settings: wit::Settings {
            signing: s
                .signing
                .iter()
                .map(|p| wit::SignedPrefix {
                    prefix: p.prefix.clone(),
                    key: p.key.clone(),
                })
                .collect(),
            abr: s
                .abr
                .iter()
                .map(|a| wit::AbrRoute {
                    prefix: a.prefix.clone(),
                    policy: match a.policy {
                        AbrPolicy::Cmcd => wit::AbrPolicy::Cmcd,
                    },
                })
                .collect(),
            cmsd_load_threshold_permille: s.cmsd_load_threshold_permille,
            clock: match &s.clock {
                ClockSource::Origin => wit::ClockSource::Origin,
                ClockSource::Off => wit::ClockSource::Off,
                ClockSource::Url(url) => wit::ClockSource::Url(url.clone()),
            },
            stale: s
                .stale
                .iter()
                .map(|r| wit::StaleRoute {
                    prefix: r.prefix.clone(),
                    after_target_durations: r.after_target_durations,
                    status: r.status,
                })
                .collect(),
            ad_markers: s
                .ad_markers
                .iter()
                .map(|r| wit::AdMarkersRoute {
                    prefix: r.prefix.clone(),
                    mode: match r.mode {
                        AdMarkersMode::Passthrough => wit::AdMarkersMode::Passthrough,
                        AdMarkersMode::Daterange => wit::AdMarkersMode::Daterange,
                        AdMarkersMode::None => wit::AdMarkersMode::None,
                    },
                })
                .collect(),
            redundant: s
                .redundant
                .iter()
                .map(|r| wit::RedundantRoute {
                    serve: r.serve.clone(),
                    inputs: r.inputs.clone(),
                    healthy_within_permille: r.healthy_within_permille,
                })
                .collect(),
            custom: s.custom.clone(),
        },
        now_ms: r.now_ms,
        load_permille: r.load_permille,
    }
}

/// The request as a 0.1.0 guest receives it: no key field, settings in their string form.
pub fn request_v0_1(r: &plain::Request) -> bindings::v0_1::strata::origin::types::Request {
    use bindings::v0_1::strata::origin::types as wit;
    wit::Request {
        method: r.method.clone(),
        path: r.path.clone(),
        query: r.query.clone(),
        headers: r.headers.clone(),
        waited_ms: r.waited_ms,
        limits: wit::Limits {
            max_object_bytes: r.limits.max_object_bytes,
        },
        settings: r.settings.to_pairs(),
        now_ms: r.now_ms,
        load_permille: r.load_permille,
    }
}

/// A 0.2.0 guest's decision as the host's: its outcome and its reuse hint.
pub fn decision_v0_2(d: bindings::v0_2::strata::origin::types::Decision) -> plain::Decision {
    use bindings::v0_2::strata::origin::types as wit;
    plain::Decision {
        outcome: v0_2::outcome(d.outcome),
        reuse: d.reuse.map(|r| plain::Reuse {
            query: match r.query {
                wit::QueryParts::None => plain::QueryParts::None,
                wit::QueryParts::All => plain::QueryParts::All,
                wit::QueryParts::Only(names) => plain::QueryParts::Only(names),
            },
            headers: r.headers,
            max_age_ms: r.max_age_ms,
            load_threshold_permille: r.load_threshold_permille,
        }),
    }
}
