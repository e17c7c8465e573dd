//! Conversions between the WIT bindings and `strata-guest-core`'s plain types, and the host's `tiers`
//! imports as the core's [`Objects`]. Field for field; no decisions here.

#[cfg(not(feature = "abi-v0-1"))]
use strata_guest_core::objects::WriteError;
use strata_guest_core::objects::{Objects, ReadError};
use strata_guest_core::types as plain;

use crate::bindings::strata::origin::tiers;
use crate::bindings::strata::origin::types as wit;

/// The host's storage tiers, read through the `strata:origin/tiers` imports (`list` is `list-keys` there:
/// `list` is a WIT keyword).
pub struct Tiers;

impl Objects for Tiers {
    fn head(&self, key: &str) -> Option<plain::ObjectMeta> {
        tiers::head(key).map(object_meta)
    }

    fn read(&self, key: &str, max_bytes: u64) -> Result<Vec<u8>, ReadError> {
        tiers::read(key, max_bytes).map_err(read_error)
    }

    fn list_ending(&self, prefix: &str, suffixes: &[&str], limit: u32) -> Vec<String> {
        let suffixes: Vec<String> = suffixes.iter().map(|s| (*s).to_string()).collect();
        tiers::list_keys_ending(prefix, &suffixes, limit)
    }

    #[cfg(not(feature = "abi-v0-1"))]
    fn write_state(
        &self,
        key: &str,
        expected: Option<&str>,
        body: &[u8],
    ) -> Result<String, WriteError> {
        tiers::write_state(key, expected, body).map_err(|e| match e {
            tiers::WriteError::Conflict => WriteError::Conflict,
            tiers::WriteError::Denied => WriteError::Denied,
            tiers::WriteError::TooLarge(limit) => WriteError::TooLarge(limit),
            tiers::WriteError::Io(reason) => WriteError::Io(reason),
        })
    }
}

/// The WIT request as the core's.
#[cfg(not(feature = "abi-v0-1"))]
pub fn request(r: wit::Request) -> plain::Request {
    plain::Request {
        method: r.method,
        key: r.key,
        path: r.path,
        query: r.query,
        headers: r.headers,
        waited_ms: r.waited_ms,
        limits: plain::Limits {
            max_object_bytes: r.limits.max_object_bytes,
        },
        settings: settings(r.settings),
        now_ms: r.now_ms,
        load_permille: r.load_permille,
    }
}

/// The 0.1.0 request as the core's: the key decoded from the path (the core checks the path again and
/// answers 400 for a bad one), the settings read from their string form (the host wrote them).
#[cfg(feature = "abi-v0-1")]
pub fn request(r: wit::Request) -> plain::Request {
    plain::Request {
        method: r.method,
        key: strata_abi::key::key_from_path(&r.path).unwrap_or_default(),
        path: r.path,
        query: r.query,
        headers: r.headers,
        waited_ms: r.waited_ms,
        limits: plain::Limits {
            max_object_bytes: r.limits.max_object_bytes,
        },
        settings: plain::Settings::from_pairs(&r.settings).unwrap_or_default(),
        now_ms: r.now_ms,
        load_permille: r.load_permille,
    }
}

/// The WIT settings as the core's.
#[cfg(not(feature = "abi-v0-1"))]
fn settings(s: wit::Settings) -> plain::Settings {
    plain::Settings {
        signing: s
            .signing
            .into_iter()
            .map(|p| plain::SignedPrefix {
                prefix: p.prefix,
                key: p.key,
            })
            .collect(),
        abr: s
            .abr
            .into_iter()
            .map(|r| plain::AbrRoute {
                prefix: r.prefix,
                policy: match r.policy {
                    wit::AbrPolicy::Cmcd => plain::AbrPolicy::Cmcd,
                },
            })
            .collect(),
        cmsd_load_threshold_permille: s.cmsd_load_threshold_permille,
        clock: match s.clock {
            wit::ClockSource::Origin => plain::ClockSource::Origin,
            wit::ClockSource::Off => plain::ClockSource::Off,
            wit::ClockSource::Url(url) => plain::ClockSource::Url(url),
        },
        stale: s
            .stale
            .into_iter()
            .map(|r| plain::StaleRoute {
                prefix: r.prefix,
                after_target_durations: r.after_target_durations,
                status: r.status,
            })
            .collect(),
        ad_markers: s
            .ad_markers
            .into_iter()
            .map(|r| plain::AdMarkersRoute {
                prefix: r.prefix,
                mode: match r.mode {
                    wit::AdMarkersMode::Passthrough => plain::AdMarkersMode::Passthrough,
                    wit::AdMarkersMode::Daterange => plain::AdMarkersMode::Daterange,
                    wit::AdMarkersMode::None => plain::AdMarkersMode::None,
                },
            })
            .collect(),
        redundant: s
            .redundant
            .into_iter()
            .map(|r| plain::RedundantRoute {
                serve: r.serve,
                inputs: r.inputs,
                healthy_within_permille: r.healthy_within_permille,
            })
            .collect(),
        custom: s.custom,
    }
}

/// The core's outcome as WIT.
pub fn outcome(o: plain::Outcome) -> wit::Outcome {
    match o {
        plain::Outcome::Respond(r) => wit::Outcome::Respond(wit::Response {
            status: r.status,
            headers: r.headers,
            body: r.body,
        }),
        plain::Outcome::Serve(s) => wit::Outcome::Serve(wit::ServePlan {
            key: s.key,
            status: s.status,
            range: s.range.map(|r| wit::ByteRange {
                first: r.first,
                last: r.last,
            }),
            etag: s.etag,
            headers: s.headers,
            prefetch: s.prefetch,
        }),
        plain::Outcome::Store(s) => wit::Outcome::Store(wit::StorePlan {
            key: s.key,
            content_type: s.content_type,
            cache_control: s.cache_control,
            metadata: s.metadata,
            status: s.status,
            headers: s.headers,
            ttl_seconds: s.ttl_seconds,
        }),
        plain::Outcome::Delete(d) => wit::Outcome::Delete(wit::DeletePlan {
            key: d.key,
            status: d.status,
            headers: d.headers,
        }),
        plain::Outcome::Wait(w) => wit::Outcome::Wait(wit::WaitPlan {
            key: w.key,
            unless_etag: w.unless_etag,
            timeout_ms: w.timeout_ms,
        }),
    }
}

/// The core's decision as WIT: the outcome and the guest's reuse hint.
#[cfg(not(feature = "abi-v0-1"))]
pub fn decision(d: plain::Decision) -> wit::Decision {
    wit::Decision {
        outcome: outcome(d.outcome),
        reuse: d.reuse.map(|r| wit::Reuse {
            query: match r.query {
                plain::QueryParts::None => wit::QueryParts::None,
                plain::QueryParts::All => wit::QueryParts::All,
                plain::QueryParts::Only(names) => wit::QueryParts::Only(names),
            },
            headers: r.headers,
            max_age_ms: r.max_age_ms,
            load_threshold_permille: r.load_threshold_permille,
        }),
    }
}

fn object_meta(m: wit::ObjectMeta) -> plain::ObjectMeta {
    plain::ObjectMeta {
        key: m.key,
        size: m.size,
        content_type: m.content_type,
        etag: m.etag,
        last_modified: m.last_modified,
        cache_control: m.cache_control,
        metadata: m.metadata,
        complete: m.complete,
    }
}

fn read_error(e: tiers::ReadError) -> ReadError {
    match e {
        tiers::ReadError::NotFound => ReadError::NotFound,
        tiers::ReadError::TooLarge(size) => ReadError::TooLarge(size),
        tiers::ReadError::Denied => ReadError::Denied,
        tiers::ReadError::Io(reason) => ReadError::Io(reason),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[cfg(not(feature = "abi-v0-1"))]
    fn request_fields_carry_over() {
        let r = request(wit::Request {
            method: "GET".into(),
            key: "a b.ts".into(),
            path: "/a%20b.ts".into(),
            query: "x=1".into(),
            headers: vec![("range".into(), "bytes=0-1".into())],
            waited_ms: 7,
            limits: wit::Limits {
                max_object_bytes: 9,
            },
            settings: wit::Settings {
                signing: vec![wit::SignedPrefix {
                    prefix: "a/".into(),
                    key: "k".into(),
                }],
                abr: vec![wit::AbrRoute {
                    prefix: "live/".into(),
                    policy: wit::AbrPolicy::Cmcd,
                }],
                cmsd_load_threshold_permille: 700,
                clock: wit::ClockSource::Url("https://t.example".into()),
                stale: vec![wit::StaleRoute {
                    prefix: "live/".into(),
                    after_target_durations: 4,
                    status: 503,
                }],
                ad_markers: vec![wit::AdMarkersRoute {
                    prefix: "live/".into(),
                    mode: wit::AdMarkersMode::Daterange,
                }],
                redundant: vec![wit::RedundantRoute {
                    serve: "ch/".into(),
                    inputs: vec!["ch-a/".into(), "ch-b/".into()],
                    healthy_within_permille: 1500,
                }],
                custom: vec![("x".into(), "y".into())],
            },
            now_ms: 11,
            load_permille: 13,
        });
        assert_eq!(r.method, "GET");
        assert_eq!(r.path, "/a%20b.ts");
        assert_eq!(r.query, "x=1");
        assert_eq!(r.header("range"), Some("bytes=0-1"));
        assert_eq!(r.waited_ms, 7);
        assert_eq!(r.limits.max_object_bytes, 9);
        assert_eq!(r.key, "a b.ts");
        let written = r.settings.to_pairs();
        for (name, value) in [
            ("sign:a/", "k"),
            ("abr:live/", "cmcd"),
            ("cmsd_load_threshold_permille", "700"),
            ("utc_timing", "https://t.example"),
            ("stale:live/", "4,503"),
            ("ad_markers:live/", "daterange"),
            ("x", "y"),
        ] {
            assert!(
                written.contains(&(name.to_string(), value.to_string())),
                "{name}: {written:?}"
            );
        }
        assert_eq!(r.now_ms, 11);
        assert_eq!(r.load_permille, 13);
    }

    #[test]
    fn outcomes_carry_over() {
        let o = outcome(plain::Outcome::Serve(plain::ServePlan {
            key: "a.ts".into(),
            status: 206,
            range: Some(plain::ByteRange { first: 1, last: 2 }),
            etag: "\"e\"".into(),
            headers: vec![("etag".into(), "\"e\"".into())],
            prefetch: vec!["b.ts".into()],
        }));
        let wit::Outcome::Serve(s) = o else {
            panic!("expected serve");
        };
        assert_eq!(
            (s.key.as_str(), s.status, s.etag.as_str()),
            ("a.ts", 206, "\"e\"")
        );
        assert_eq!(s.range.map(|r| (r.first, r.last)), Some((1, 2)));
        assert_eq!(s.prefetch, ["b.ts"]);

        let o = outcome(plain::Outcome::Wait(plain::WaitPlan {
            key: "b.ts".into(),
            unless_etag: None,
            timeout_ms: 2000,
        }));
        assert!(matches!(o, wit::Outcome::Wait(w) if w.key == "b.ts" && w.timeout_ms == 2000));

        let o = outcome(plain::Outcome::Store(plain::StorePlan {
            key: "c.m3u8".into(),
            content_type: "application/vnd.apple.mpegurl".into(),
            cache_control: Some("max-age=1".into()),
            metadata: vec![("x-strata-meta-a".into(), "1".into())],
            status: 201,
            headers: Vec::new(),
            ttl_seconds: Some(60),
        }));
        assert!(
            matches!(o, wit::Outcome::Store(s) if s.status == 201 && s.metadata.len() == 1 && s.ttl_seconds == Some(60))
        );
    }

    #[test]
    fn read_errors_carry_over() {
        assert_eq!(
            read_error(tiers::ReadError::TooLarge(5)),
            ReadError::TooLarge(5)
        );
        assert_eq!(
            read_error(tiers::ReadError::Io("x".into())),
            ReadError::Io("x".into())
        );
    }
}
