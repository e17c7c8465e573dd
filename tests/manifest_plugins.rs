//! End-to-end: customer manifest plugins (world strata:origin/manifest-filter) rewrite playlist responses
//! on the paths their chain names; a failing plugin answers 502 or is skipped, as configured; plugins are
//! deployed and swapped through the admin API.

mod common;

use common::Strata;

const CONFIG: &str = r#"
[[filters]]
pattern = "live/*.m3u8"
plugins = ["variant-cap"]
on_error = "fail"

[[filters]]
pattern = "lenient/*.m3u8"
plugins = ["variant-cap"]
on_error = "skip"

[plugins.variant-cap]
memory_bytes = "8 MiB"
deadline_ms = 100
"#;

const MASTER: &str = "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=800000\nlow.m3u8\n#EXT-X-STREAM-INF:BANDWIDTH=5000000\nhigh.m3u8\n";

fn start() -> (Strata, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("strata.toml");
    std::fs::write(&path, CONFIG).expect("write config");
    let s = Strata::start(&["--config", path.to_str().expect("utf-8 path")]);
    let wasm = std::fs::read(strata_test_guests::FILTER_VARIANT_CAP).expect("read plugin");
    let resp = s
        .http()
        .put(s.url("/_strata/guests/variant-cap"))
        .body(wasm)
        .send()
        .expect("PUT plugin");
    assert_eq!(resp.status().as_u16(), 200);
    for (path, body) in [
        ("/live/master.m3u8", MASTER),
        ("/live/broken.m3u8", "not a playlist"),
        ("/lenient/broken.m3u8", "not a playlist"),
        ("/vod/master.m3u8", MASTER),
    ] {
        let resp = s
            .http()
            .put(s.url(path))
            .header("content-type", "application/vnd.apple.mpegurl")
            .body(body)
            .send()
            .expect("PUT playlist");
        assert!(resp.status().is_success(), "PUT {path}: {}", resp.status());
    }
    (s, dir)
}

fn get(s: &Strata, path: &str) -> (u16, String) {
    let resp = s.http().get(s.url(path)).send().expect("GET");
    (resp.status().as_u16(), resp.text().expect("body"))
}

#[test]
fn the_chain_rewrites_matching_playlists_only() {
    let (s, _dir) = start();
    let (status, body) = get(&s, "/live/master.m3u8?max_bandwidth=1000000");
    assert_eq!(status, 200);
    assert!(
        body.contains("low.m3u8") && !body.contains("high.m3u8"),
        "{body}"
    );
    assert_eq!(
        get(&s, "/vod/master.m3u8?max_bandwidth=1000000"),
        (200, MASTER.to_owned())
    );
}

#[test]
fn a_failing_plugin_fails_closed_or_is_skipped_as_configured() {
    let (s, _dir) = start();
    let (status, reason) = get(&s, "/live/broken.m3u8");
    assert_eq!(status, 502);
    assert!(
        reason.contains("manifest plugin variant-cap failed: not an HLS playlist"),
        "{reason}"
    );
    assert_eq!(
        get(&s, "/lenient/broken.m3u8"),
        (200, "not a playlist".to_owned())
    );
    assert!(s.metric("strata_filter_failures_total") >= 2.0);
}

#[test]
fn a_handler_cannot_be_deployed_as_a_plugin() {
    let (s, _dir) = start();
    let wasm = std::fs::read(strata_test_guests::VERSION_ONE).expect("read guest");
    let resp = s
        .http()
        .put(s.url("/_strata/guests/variant-cap"))
        .body(wasm)
        .send()
        .expect("PUT");
    assert_eq!(resp.status().as_u16(), 422);
    assert!(resp.text().expect("body").contains("manifest-filter"));
}
