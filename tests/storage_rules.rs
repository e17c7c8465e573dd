//! Placement and lifecycle rules from the config, per-object TTL on PUT, coalesced cold reads, and the
//! tier metrics that show them.

mod common;

use std::time::Duration;

use common::{Strata, poll_until};

const RULES: &str = r#"
[[storage.rules]]
pattern = "live/**/*.ts"
placement = "memory"
ttl_seconds = 3600
[[storage.rules]]
pattern = "vod/**"
placement = "disk"
"#;

fn start_with(config_text: &str) -> (tempfile::TempDir, Strata) {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("strata.toml");
    std::fs::write(&config, config_text).unwrap();
    let s = Strata::start(&["--config", config.to_str().unwrap()]);
    (dir, s)
}

fn status(s: &Strata, path: &str) -> u16 {
    s.http().get(s.url(path)).send().unwrap().status().as_u16()
}

#[test]
fn memory_objects_are_lost_on_restart_and_durable_ones_kept() {
    let (_dir, mut s) = start_with(RULES);
    for path in ["/live/ch1/seg1.ts", "/live/ch1/index.m3u8", "/vod/a.mp4"] {
        let put = s
            .http()
            .put(s.url(path))
            .body("x".repeat(1000))
            .send()
            .unwrap();
        assert_eq!(put.status(), 201, "{path}");
    }
    assert_eq!(status(&s, "/live/ch1/seg1.ts"), 200);
    assert_eq!(s.metric("strata_tier_objects{tier=\"disk\"}"), 2.0);
    s.restart();
    assert_eq!(status(&s, "/live/ch1/seg1.ts"), 404);
    assert_eq!(status(&s, "/live/ch1/index.m3u8"), 200);
    assert_eq!(status(&s, "/vod/a.mp4"), 200);
}

#[test]
fn an_object_expires_from_its_ttl() {
    let (_dir, s) = start_with(RULES);
    let put = s
        .http()
        .put(s.url("/vod/short.mp4?ttl=1"))
        .body("short-lived")
        .send()
        .unwrap();
    assert_eq!(put.status(), 201);
    let bad = s
        .http()
        .put(s.url("/vod/bad.mp4"))
        .header("x-strata-ttl", "soon")
        .body("x")
        .send()
        .unwrap();
    assert_eq!(bad.status(), 400);
    poll_until(Duration::from_secs(10), "the object to expire", || {
        status(&s, "/vod/short.mp4") == 404
    });
    poll_until(Duration::from_secs(10), "the expiry to be counted", || {
        s.metric("strata_tier_expirations_total") == 1.0
    });
    assert_eq!(s.metric("strata_tier_objects{tier=\"disk\"}"), 0.0);
}

#[test]
fn concurrent_gets_of_a_cold_object_make_one_disk_read() {
    let (_dir, mut s) = start_with(RULES);
    let body = vec![7u8; 200_000];
    let put = s
        .http()
        .put(s.url("/vod/cold.mp4"))
        .body(body.clone())
        .send()
        .unwrap();
    assert_eq!(put.status(), 201);
    s.restart();
    let before = s.metric("strata_tier_reads_total{tier=\"disk\"}");
    std::thread::scope(|scope| {
        let readers: Vec<_> = (0..100)
            .map(|_| {
                let s = &s;
                scope.spawn(move || {
                    common::client()
                        .get(s.url("/vod/cold.mp4"))
                        .send()
                        .unwrap()
                        .bytes()
                        .unwrap()
                })
            })
            .collect();
        for reader in readers {
            assert_eq!(reader.join().unwrap().len(), body.len());
        }
    });
    assert_eq!(
        s.metric("strata_tier_reads_total{tier=\"disk\"}") - before,
        1.0
    );
    // The metrics scrapes are GETs too.
    assert!(s.metric("strata_requests_total{method=\"GET\",status=\"200\"}") >= 100.0);
}

#[test]
fn a_bad_rule_stops_the_start_with_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("strata.toml");
    std::fs::write(&config, "[[storage.rules]]\npattern = \"live/[a\"\n").unwrap();
    let output = std::process::Command::new(common::strata_bin())
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--config",
            config.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("line 2")
            && stderr.contains("pattern \"live/[a\": unclosed character class"),
        "{stderr}"
    );
}
