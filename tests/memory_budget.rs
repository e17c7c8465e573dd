//! The memory tier never holds more than its byte budget, shown by `/_strata/metrics` sampled throughout a
//! storm of concurrent PUTs many times larger than the budget; what it pushes out is counted as demotions
//! (durable objects, still served from disk) or drops (memory-only objects, gone).

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::Duration;

use common::{PseudoRandom, Strata, parse_prometheus, sum_matching};

const BUDGET: u64 = 8 << 20;
const WRITERS: u64 = 8;

/// One object of the storm: its path and body (the seed makes every body distinct).
fn object(prefix: &str, writer: u64, i: u64, max_size: u64) -> (String, Vec<u8>) {
    let seed = writer * 1000 + i;
    let size = 64 * 1024 + (seed * 7919 * 1024) % (max_size - 64 * 1024 + 1);
    (
        format!("/{prefix}/w{writer}/seg{i}.m4s"),
        PseudoRandom::vec(seed, size as usize),
    )
}

fn metric(samples: &[common::Sample], series: &str) -> f64 {
    let (name, labels) = common::parse_series(series).expect("series");
    sum_matching(samples, &name, &labels)
}

/// What the metrics showed during a storm.
struct Observed {
    samples: usize,
    max_memory_bytes: f64,
}

/// PUTs `per_writer` objects from each of `WRITERS` threads while another thread samples the metrics
/// until the storm is over; every PUT must answer 201.
fn storm(s: &Strata, prefix: &str, per_writer: u64, max_size: u64) -> Observed {
    let done = AtomicBool::new(false);
    thread::scope(|scope| {
        let sampler = scope.spawn(|| {
            let mut observed = Observed {
                samples: 0,
                max_memory_bytes: 0.0,
            };
            // One sample after the storm too, so the last state is checked.
            loop {
                let finished = done.load(Ordering::Acquire);
                let samples = parse_prometheus(&s.metrics_text());
                let bytes = metric(&samples, "strata_tier_bytes{tier=\"memory\"}");
                observed.max_memory_bytes = observed.max_memory_bytes.max(bytes);
                observed.samples += 1;
                if finished {
                    return observed;
                }
                // Pacing, not waiting: leaves the two cores to the storm between samples.
                thread::sleep(Duration::from_millis(5));
            }
        });
        let writers: Vec<_> = (0..WRITERS)
            .map(|writer| {
                scope.spawn(move || {
                    let client = common::client();
                    for i in 0..per_writer {
                        let (path, body) = object(prefix, writer, i, max_size);
                        let put = client.put(s.url(&path)).body(body).send().unwrap();
                        assert_eq!(put.status(), 201, "PUT {path}");
                    }
                })
            })
            .collect();
        for writer in writers {
            writer.join().unwrap();
        }
        done.store(true, Ordering::Release);
        sampler.join().unwrap()
    })
}

fn start_with(config_text: &str) -> (tempfile::TempDir, Strata) {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("strata.toml");
    std::fs::write(&config, config_text).unwrap();
    let s = Strata::start(&[
        "--config",
        config.to_str().unwrap(),
        "--memory-bytes",
        "8MiB",
    ]);
    (dir, s)
}

/// Durable objects pushed out of memory are demoted, never lost: all of them still read back.
fn durable_storm_stays_within_budget(config_text: &str) {
    let (_dir, s) = start_with(config_text);
    assert_eq!(s.metric("strata_memory_tier_budget_bytes"), BUDGET as f64);
    let per_writer = 24;
    let observed = storm(&s, "vod", per_writer, 1 << 20);
    assert!(observed.samples >= 3, "only {} samples", observed.samples);
    assert!(
        observed.max_memory_bytes <= BUDGET as f64,
        "memory tier held {} bytes, budget {BUDGET}",
        observed.max_memory_bytes
    );
    assert!(observed.max_memory_bytes > 0.0);
    let samples = s.metrics();
    let evictions = metric(&samples, "strata_tier_evictions_total{tier=\"memory\"}");
    let demotions = metric(&samples, "strata_tier_demotions_total{tier=\"memory\"}");
    assert!(evictions > 0.0, "no evictions counted");
    assert_eq!(evictions, demotions);
    assert_eq!(
        metric(&samples, "strata_tier_dropped_total{tier=\"memory\"}"),
        0.0
    );
    assert_eq!(
        metric(&samples, "strata_tier_objects{tier=\"disk\"}"),
        (WRITERS * per_writer) as f64
    );
    for writer in 0..WRITERS {
        for i in [0, per_writer - 1] {
            let (path, body) = object("vod", writer, i, 1 << 20);
            let got = s.http().get(s.url(&path)).send().unwrap();
            assert_eq!(got.status(), 200, "GET {path}");
            assert!(got.bytes().unwrap() == body, "GET {path}: wrong bytes");
        }
    }
    assert!(s.metric("strata_tier_bytes{tier=\"memory\"}") <= BUDGET as f64);
}

#[test]
fn a_write_storm_never_takes_memory_past_its_budget() {
    durable_storm_stays_within_budget("");
}

#[test]
fn the_lru_policy_keeps_the_same_budget() {
    durable_storm_stays_within_budget("[storage]\nmemory_policy = \"lru\"\n");
}

#[test]
fn memory_only_objects_pushed_out_are_dropped_and_counted() {
    let (_dir, s) = start_with(
        "[[storage.rules]]\npattern = \"live/**\"\nplacement = \"memory\"\nttl_seconds = 3600\n",
    );
    let per_writer = 32;
    let observed = storm(&s, "live", per_writer, 256 * 1024);
    assert!(observed.samples >= 3, "only {} samples", observed.samples);
    assert!(
        observed.max_memory_bytes <= BUDGET as f64,
        "memory tier held {} bytes, budget {BUDGET}",
        observed.max_memory_bytes
    );
    let samples = s.metrics();
    let dropped = metric(&samples, "strata_tier_dropped_total{tier=\"memory\"}");
    let held = metric(&samples, "strata_tier_objects{tier=\"memory\"}");
    assert!(dropped > 0.0, "nothing dropped");
    assert_eq!(dropped + held, (WRITERS * per_writer) as f64);
    assert_eq!(
        metric(&samples, "strata_tier_evictions_total{tier=\"memory\"}"),
        dropped
    );
    assert_eq!(metric(&samples, "strata_tier_objects{tier=\"disk\"}"), 0.0);
    let mut gone = 0;
    for writer in 0..WRITERS {
        for i in 0..per_writer {
            let (path, body) = object("live", writer, i, 256 * 1024);
            let got = s.http().get(s.url(&path)).send().unwrap();
            match got.status().as_u16() {
                200 => assert!(got.bytes().unwrap() == body, "GET {path}: wrong bytes"),
                404 => gone += 1,
                status => panic!("GET {path}: {status}"),
            }
        }
    }
    assert_eq!(f64::from(gone), dropped, "objects gone vs dropped");
}
