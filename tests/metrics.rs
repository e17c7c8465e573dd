//! `/_strata/metrics` end to end (issue 15, decision 0057): every family has `# HELP` and `# TYPE` and
//! counters end in `_total`; requests are timed and their bytes counted by class; guest decisions are
//! timed; refusals are counted by reason; live streams report their ingest age, within a cap; and the
//! Grafana dashboard in `docs/grafana/` names only metrics a running strata exports.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::{Sample, Strata, playlists, poll_until};

const WAIT: Duration = Duration::from_secs(20);

/// The ingest credential of [`start`].
const TOKEN: &str = "Bearer encoder";

/// The families of an exposition: name → (type, whether it has help).
fn families(text: &str) -> BTreeMap<String, (String, bool)> {
    let mut families: BTreeMap<String, (String, bool)> = BTreeMap::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').expect("# TYPE name kind");
            let entry = families.entry(name.to_owned()).or_default();
            assert!(entry.0.is_empty(), "two TYPE lines for {name}");
            entry.0 = kind.to_owned();
        } else if let Some(rest) = line.strip_prefix("# HELP ") {
            let (name, help) = rest.split_once(' ').expect("# HELP name text");
            assert!(!help.trim().is_empty(), "empty help for {name}");
            families.entry(name.to_owned()).or_default().1 = true;
        }
    }
    families
}

/// The family a sample (or a name in a query) belongs to: itself, or the histogram it is a series of.
fn family_of<'a>(name: &'a str, families: &BTreeMap<String, (String, bool)>) -> &'a str {
    for suffix in ["_bucket", "_sum", "_count"] {
        if let Some(base) = name.strip_suffix(suffix)
            && families
                .get(base)
                .is_some_and(|(kind, _)| kind == "histogram")
        {
            return base;
        }
    }
    name
}

/// `strata serve` whose ingest needs [`TOKEN`].
fn start() -> Strata {
    Strata::with_config(
        "[[auth.ingest]]\npattern = \"**\"\nbearer = [\"encoder\"]\n",
        &[],
    )
}

fn put(s: &Strata, path: &str, body: impl Into<Vec<u8>>) -> u16 {
    s.http()
        .put(s.url(path))
        .header("authorization", TOKEN)
        .body(body.into())
        .send()
        .expect("PUT")
        .status()
        .as_u16()
}

fn get(s: &Strata, path: &str) -> u16 {
    let response = s.http().get(s.url(path)).send().expect("GET");
    let status = response.status().as_u16();
    response.bytes().expect("read the body");
    status
}

/// The sample of `name` whose labels include `labels`, if any.
fn sample<'a>(samples: &'a [Sample], name: &str, labels: &[(&str, &str)]) -> Option<&'a Sample> {
    samples.iter().find(|s| {
        s.name == name
            && labels
                .iter()
                .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
    })
}

#[test]
fn every_family_has_help_and_type_and_counters_end_in_total() {
    let s = start();
    assert_eq!(put(&s, "/live/a/index.m3u8", playlists::LIVE), 201);
    assert_eq!(put(&s, "/live/a/s10.ts", vec![0u8; 100]), 201);
    assert_eq!(get(&s, "/live/a/index.m3u8"), 200);
    assert_eq!(get(&s, "/live/a/s10.ts"), 200);
    assert_eq!(get(&s, "/live/a/none.ts"), 404);
    let text = s.metrics_text();
    let families = families(&text);
    assert!(families.len() >= 50, "{families:?}");
    for (name, (kind, help)) in &families {
        assert!(*help, "{name} has no # HELP");
        assert!(
            ["counter", "gauge", "histogram"].contains(&kind.as_str()),
            "{name} has no # TYPE (or an unknown one: {kind:?})"
        );
        assert_eq!(
            kind == "counter",
            name.ends_with("_total"),
            "{name} is a {kind}: counters, and only counters, end in _total"
        );
    }
    let samples = common::parse_prometheus(&text);
    assert!(!samples.is_empty());
    for sample in &samples {
        let family = family_of(&sample.name, &families);
        assert!(
            families.contains_key(family),
            "{} has no # TYPE or # HELP",
            sample.name
        );
    }
    for renamed in [
        "strata_guest_compiles_total",
        "strata_guest_cache_hits_total",
    ] {
        assert_eq!(families[renamed].0, "counter", "{renamed}");
    }
    assert_eq!(
        families["strata_cluster_request_seconds_total"].0,
        "counter"
    );
}

#[test]
fn requests_are_timed_and_counted_by_class_and_live_streams_report_their_ingest_age() {
    let s = start();
    let playlist = "live/s/index.m3u8";
    assert_eq!(put(&s, &format!("/{playlist}"), playlists::LIVE), 201);
    assert_eq!(put(&s, "/live/s/s10.ts", vec![1u8; 5000]), 201);
    assert_eq!(put(&s, "/live/s/0.1.m4s", vec![2u8; 700]), 201);
    assert_eq!(put(&s, "/live/s/master.m3u8", playlists::MULTIVARIANT), 201);
    assert_eq!(get(&s, &format!("/{playlist}")), 200);
    assert_eq!(get(&s, "/live/s/s10.ts"), 200);
    assert_eq!(get(&s, "/live/s/0.1.m4s"), 200);
    // Refused: no credential (401).
    let anonymous = s
        .http()
        .put(s.url("/live/s/s11.ts"))
        .body("x")
        .send()
        .expect("PUT");
    assert_eq!(anonymous.status(), 401);
    let ingest_age = |samples: &[Sample], stream: &str| {
        sample(
            samples,
            "strata_stream_ingest_age_seconds",
            &[("stream", stream)],
        )
        .map(|s| s.value)
    };
    poll_until(WAIT, "the live playlist's ingest age", || {
        ingest_age(&s.metrics(), playlist).is_some()
    });
    // Written once more (204: replaced): tracked once, its age back near zero.
    assert_eq!(put(&s, &format!("/{playlist}"), playlists::LIVE), 204);
    let samples = s.metrics();
    let age = ingest_age(&samples, playlist).expect("the live playlist's ingest age");
    assert!((0.0..60.0).contains(&age), "{age}");
    assert_eq!(
        ingest_age(&samples, "live/s/master.m3u8"),
        None,
        "a multivariant playlist is no stream"
    );
    assert_eq!(s.metric("strata_streams_tracked"), 1.0);

    let count = |class: &str| {
        s.metric(&format!(
            "strata_request_duration_seconds_count{{class=\"{class}\"}}"
        ))
    };
    for (class, at_least) in [
        ("ingest", 6.0),
        ("playlist", 1.0),
        ("segment", 1.0),
        ("part", 1.0),
        ("admin", 1.0),
    ] {
        assert!(count(class) >= at_least, "class {class}: {}", count(class));
    }
    let received = s.metric("strata_request_body_bytes_total{class=\"ingest\"}");
    assert!(received >= 5700.0, "{received}");
    assert_eq!(
        s.metric("strata_response_body_bytes_total{class=\"segment\"}"),
        5000.0
    );
    assert_eq!(
        s.metric("strata_response_body_bytes_total{class=\"part\"}"),
        700.0
    );
    assert!(s.metric("strata_guest_decision_duration_seconds_count{guest=\"origin\"}") >= 7.0);
    assert!(s.metric("strata_guest_decision_duration_seconds_sum{guest=\"origin\"}") > 0.0);
    assert_eq!(
        s.metric("strata_requests_refused_total{reason=\"unauthorized\"}"),
        1.0
    );

    // The stream ends: it is no longer tracked.
    let ended = format!("{}#EXT-X-ENDLIST\n", playlists::LIVE);
    assert_eq!(put(&s, &format!("/{playlist}"), ended), 204);
    poll_until(WAIT, "the ended stream to leave the metrics", || {
        ingest_age(&s.metrics(), playlist).is_none()
    });
    assert_eq!(s.metric("strata_streams_tracked"), 0.0);
}

#[test]
fn streams_beyond_the_cap_are_counted_not_tracked() {
    let s = Strata::with_config("[metrics]\nmax_streams = 2\n", &[]);
    for stream in ["a", "b", "c"] {
        let status = s
            .http()
            .put(s.url(&format!("/live/{stream}/index.m3u8")))
            .body(playlists::LIVE)
            .send()
            .expect("PUT")
            .status();
        assert_eq!(status, 201);
    }
    poll_until(WAIT, "two tracked streams and one untracked write", || {
        s.metric("strata_streams_tracked") == 2.0
            && s.metric("strata_streams_untracked_total") == 1.0
    });
    let tracked = s
        .metrics()
        .into_iter()
        .filter(|s| s.name == "strata_stream_ingest_age_seconds")
        .count();
    assert_eq!(tracked, 2);
}

#[test]
fn the_grafana_dashboard_names_only_metrics_strata_exports() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/grafana/strata.json");
    let dashboard: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display())),
    )
    .expect("the dashboard is JSON");
    let mut expressions = Vec::new();
    collect_expressions(&dashboard, &mut expressions);
    assert!(expressions.len() >= 10, "{expressions:?}");
    // A strata that has served nothing yet: every family is listed from the first scrape.
    let s = Strata::start(&[]);
    let families = families(&s.metrics_text());
    let mut named = std::collections::BTreeSet::new();
    for expression in &expressions {
        let mut rest = expression.as_str();
        while let Some(at) = rest.find("strata_") {
            let name: String = rest[at..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            rest = &rest[at + name.len()..];
            let family = family_of(&name, &families).to_owned();
            assert!(
                families.contains_key(&family),
                "the dashboard names {name}, which /_strata/metrics does not export: {expression}"
            );
            named.insert(family);
        }
    }
    for needed in [
        "strata_request_duration_seconds",
        "strata_request_body_bytes_total",
        "strata_response_body_bytes_total",
        "strata_guest_decision_duration_seconds",
        "strata_stream_ingest_age_seconds",
        "strata_requests_refused_total",
        "strata_requests_throttled_total",
    ] {
        assert!(
            named.contains(needed),
            "the dashboard has no panel on {needed}"
        );
    }
}

/// Every `expr` string in a Grafana dashboard.
fn collect_expressions(value: &serde_json::Value, out: &mut Vec<String>) {
    match value {
        serde_json::Value::Object(map) => {
            for (key, value) in map {
                match (key.as_str(), value) {
                    ("expr", serde_json::Value::String(expr)) => out.push(expr.clone()),
                    _ => collect_expressions(value, out),
                }
            }
        }
        serde_json::Value::Array(items) => {
            for item in items {
                collect_expressions(item, out);
            }
        }
        _ => {}
    }
}
