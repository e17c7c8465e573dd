//! The web console (`/_strata/console`) in a real headless Chromium, driven by playwright-core
//! (`tests/players/console.mjs`): with an admin token set, the page logs in through its form, lists a live
//! HLS stream real ffmpeg is pushing, a stale one, a DASH VOD, a stream whose key is HTML and a playlist whose
//! attributes and URIs are (both shown as text), feeds its metrics parser hostile label values,
//! plays the live stream and the VOD, draws the storage charts, shows why a bad component is refused,
//! deploys a guest version from a file and rolls it back, each after its confirmation — all with no
//! console error. Screenshots of each view are saved under the cargo target's tmp dir.
//!
//! Fails (never skips) when Chromium, node or the npm packages are missing: `./scripts/test` installs them.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::encoder::Encoder;
use common::{Strata, poll_until, run_with_timeout, tail};
use serde::Deserialize;

const TOKEN: &str = "console-test-token";
const LIVE: &str = "live/console/master.m3u8";
const VOD: &str = "vod/console/manifest.mpd";
/// A key that is markup: the page must show it as text.
const HOSTILE: &str = "odd/<img src=x onerror=alert(1)>.m3u8";
/// A multivariant playlist whose attributes and URIs are markup: the page shows them (and the errors that
/// echo them) as text.
const HOSTILE_MASTER: &str = "odd/hostile-master.m3u8";
const HOSTILE_MASTER_TEXT: &str = "#EXTM3U\n\
    #EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"a\",NAME=\"x\",URI=\"<img src=x onerror=xssRan=true>a.m3u8\"\n\
    #EXT-X-STREAM-INF:BANDWIDTH=1,RESOLUTION=<img src=x>,CODECS=\"<img src=x onerror=xssRan=true>\"\n\
    <img src=x onerror=xssRan=true>.m3u8\n";
/// A live playlist (1 s segments) its encoder stopped updating: stale 4 s after it is stored.
const STALE: &str = "live/stopped/index.m3u8";
/// The namespaced guest the page deploys and rolls back (the versioned test guest: version 1 through the
/// API, version 2 through the page).
const GUEST: &str = "versions";
/// Seconds the live encoder runs: enough for the whole test; it is killed at the end.
const LIVE_SECONDS: u32 = 60;
/// Until the live stream's third segment and playlists are stored.
const STREAM_TIMEOUT: Duration = Duration::from_secs(30);
/// The browser's whole run (each step waits 20 s at most).
const BROWSER_TIMEOUT: Duration = Duration::from_secs(90);
const CHROMIUM: &str = "/usr/bin/chromium";

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Report {
    console_errors: Vec<String>,
    page_errors: Vec<String>,
    failed_requests: Vec<String>,
    steps: Vec<String>,
    listed: Vec<String>,
    hostile_text: Option<String>,
    injected: Option<bool>,
    metrics_parsed: Option<serde_json::Value>,
    stale_marked: Option<bool>,
    plays: std::collections::BTreeMap<String, Play>,
    refusal: Option<String>,
    version_before: Option<String>,
    version_deployed: Option<String>,
    version_after: Option<String>,
    guests_message: Option<String>,
    screenshots: Vec<String>,
}

#[derive(Debug, Deserialize)]
struct Play {
    from: f64,
    to: f64,
    latency: String,
    rendition: String,
    renditions: Vec<String>,
    error: String,
}

fn players_dir() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/players")
}

fn require_tools() {
    let hint = "run ./scripts/test, which installs it (apt-get install chromium nodejs npm ffmpeg; npm ci --prefix tests/players)";
    assert!(
        Path::new(CHROMIUM).exists(),
        "{CHROMIUM} is missing: {hint}"
    );
    assert!(
        players_dir()
            .join("node_modules/playwright-core/package.json")
            .exists(),
        "playwright-core is missing: {hint}"
    );
}

/// Stores `body` at `key` (percent-encoded path) and asserts it was accepted.
fn put(s: &Strata, path: &str, body: Vec<u8>) {
    let status = s
        .http()
        .put(s.url(path))
        .body(body)
        .send()
        .expect("PUT")
        .status();
    assert!(
        status.is_success(),
        "PUT {path}: {status}\n{}",
        tail(&s.stderr(), 20)
    );
}

/// Deploys the versioned test guest's `wasm` as [`GUEST`], confined to `versions/`.
fn deploy(s: &Strata, wasm: &str) {
    let path = format!("/_strata/guests/{GUEST}?namespace=versions/");
    let response = s
        .http()
        .put(s.url(&path))
        .bearer_auth(TOKEN)
        .body(std::fs::read(wasm).expect("read test guest"))
        .send()
        .expect("deploy");
    assert_eq!(response.status().as_u16(), 200, "deploy {wasm}");
}

/// The version the guest under `versions/` answers with.
fn served_version(s: &Strata) -> Option<String> {
    let response = s.http().get(s.url("/versions/x")).send().expect("GET");
    response
        .headers()
        .get("x-strata-guest-version")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// Pushes a 6 s DASH VOD (as fast as ffmpeg encodes) to [`VOD`].
fn push_dash_vod(s: &Strata) {
    let mut ffmpeg = Command::new("ffmpeg");
    ffmpeg
        .args(["-hide_banner", "-loglevel", "error", "-nostdin"])
        .args([
            "-f",
            "lavfi",
            "-i",
            "testsrc=size=640x360:rate=25:duration=6",
        ])
        .args([
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-pix_fmt",
            "yuv420p",
            "-g",
            "50",
        ])
        .args([
            "-seg_duration",
            "2",
            "-use_template",
            "1",
            "-use_timeline",
            "1",
        ])
        .args(["-method", "PUT", "-f", "dash", &s.url(&format!("/{VOD}"))]);
    let (status, _, stderr) = run_with_timeout(ffmpeg, Duration::from_secs(30));
    assert!(status.success(), "ffmpeg DASH VOD: {}", tail(&stderr, 10));
}

/// The page is the login form, so it is served without the token, under its policy; the data is not.
fn assert_served_to_anyone_but_data_needs_the_token(s: &Strata) {
    let page = s
        .http()
        .get(s.url("/_strata/console"))
        .send()
        .expect("GET console");
    assert_eq!(page.status().as_u16(), 200);
    let policy = page.headers()["content-security-policy"]
        .to_str()
        .expect("ASCII");
    assert!(policy.contains("script-src 'self'") && policy.contains("frame-ancestors 'none'"));
    assert_eq!(page.headers()["x-frame-options"], "DENY");
    for path in ["/_strata/streams", "/_strata/guests", "/_strata/metrics"] {
        let status = s.http().get(s.url(path)).send().expect("GET").status();
        assert_eq!(status.as_u16(), 401, "{path} without the token");
    }
    let streams = s
        .http()
        .get(s.url("/_strata/streams"))
        .bearer_auth(TOKEN)
        .send()
        .expect("GET streams");
    assert_eq!(streams.status().as_u16(), 200);
    // The Storage view charts memory use against this budget.
    let metrics = s
        .http()
        .get(s.url("/_strata/metrics"))
        .bearer_auth(TOKEN)
        .send()
        .and_then(|r| r.text())
        .expect("GET metrics");
    assert!(metrics.contains("strata_tier_budget_bytes{tier=\"memory\"}"));
}

#[test]
fn the_console_lists_plays_charts_and_rolls_back() {
    require_tools();
    let logs = tempfile::tempdir().expect("log dir");
    let access_log = logs.path().join("access.log");
    let s = Strata::with_config(
        &format!(
            "[log]\naccess = \"json\"\naccess_file = {:?}\n",
            access_log.to_str().expect("utf-8 temp path")
        ),
        &["--admin-token", TOKEN],
    );
    let mut encoder = Encoder::live_hls(LIVE_SECONDS, &s.url("/live/console/stream.m3u8"));
    push_dash_vod(&s);
    put(
        &s,
        "/odd/%3Cimg%20src%3Dx%20onerror%3Dalert(1)%3E.m3u8",
        b"#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2,\na.ts\n#EXT-X-ENDLIST\n".to_vec(),
    );
    put(
        &s,
        &format!("/{HOSTILE_MASTER}"),
        HOSTILE_MASTER_TEXT.as_bytes().to_vec(),
    );
    put(
        &s,
        &format!("/{STALE}"),
        b"#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXTINF:1,\ns0.ts\n".to_vec(),
    );
    deploy(&s, strata_test_guests::VERSION_ONE);
    assert_eq!(served_version(&s).as_deref(), Some("1"));
    for path in ["/live/console/stream2.ts", "/live/console/master.m3u8"] {
        poll_until(STREAM_TIMEOUT, &format!("{path} on Strata"), || {
            s.http()
                .get(s.url(path))
                .send()
                .is_ok_and(|r| r.status() == 200)
        });
    }

    assert_served_to_anyone_but_data_needs_the_token(&s);
    poll_until(STREAM_TIMEOUT, &format!("{STALE} listed as stale"), || {
        let body = s
            .http()
            .get(s.url("/_strata/streams"))
            .bearer_auth(TOKEN)
            .send()
            .and_then(|r| r.text())
            .unwrap_or_default();
        let listing: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
        listing["streams"]
            .as_array()
            .is_some_and(|all| all.iter().any(|x| x["key"] == STALE && x["stale"] == true))
    });

    let shots = Path::new(env!("CARGO_TARGET_TMPDIR"));
    let mut node = Command::new("node");
    node.current_dir(players_dir())
        .arg("console.mjs")
        .args([s.base_url(), TOKEN, LIVE, VOD, HOSTILE, STALE, GUEST])
        .arg(strata_test_guests::VERSION_TWO)
        .arg(shots);
    let (status, stdout, stderr) = run_with_timeout(node, BROWSER_TIMEOUT);
    assert!(
        status.success(),
        "console.mjs failed ({status}):\n{}",
        tail(&stderr, 40)
    );
    let line = stdout.lines().last().unwrap_or_default();
    let report: Report = serde_json::from_str(line)
        .unwrap_or_else(|e| panic!("console.mjs printed no report ({e}):\n{stdout}\n{stderr}"));
    let context = format!("{report:#?}\n{}", encoder.describe());

    assert_eq!(
        report.steps.last().map(String::as_str),
        Some("done"),
        "{context}"
    );
    // The one failure the test provokes, the refused deploy, is logged by the browser; nothing else may be.
    let unexpected = |list: &[String], refusal: &str| -> Vec<String> {
        let mut rest = list.to_vec();
        let found = rest.iter().position(|e| e.ends_with(refusal));
        assert!(
            found.is_some(),
            "the refused deploy is not in {list:?}: {context}"
        );
        rest.remove(found.unwrap_or_default());
        rest
    };
    let refused_deploy = format!("/_strata/guests/{GUEST}?namespace={GUEST}%2F: 422");
    assert_eq!(
        unexpected(&report.console_errors, "422 (Unprocessable Entity)"),
        Vec::<String>::new(),
        "console errors: {context}"
    );
    assert!(report.page_errors.is_empty(), "page errors: {context}");
    assert_eq!(
        unexpected(&report.failed_requests, &refused_deploy),
        Vec::<String>::new(),
        "failed requests: {context}"
    );
    for key in [LIVE, VOD, HOSTILE, HOSTILE_MASTER, STALE] {
        assert!(
            report.listed.iter().any(|k| k == key),
            "{key} not listed: {context}"
        );
    }
    assert_eq!(report.hostile_text.as_deref(), Some(HOSTILE), "{context}");
    assert_eq!(
        report.injected,
        Some(false),
        "markup in a key ran: {context}"
    );
    let parsed = report.metrics_parsed.as_ref();
    assert_eq!(
        parsed,
        Some(&serde_json::json!({ "strata_tier_bytes{tier=\"memory\"}": 5 })),
        "hostile metric labels: {context}"
    );
    // The token travels in a header only: the access log, which records paths, queries and referers, has
    // the console's calls but never the token.
    poll_until(
        Duration::from_secs(10),
        "the console's calls in the access log",
        || std::fs::read_to_string(&access_log).is_ok_and(|log| log.contains("/_strata/streams")),
    );
    let log = std::fs::read_to_string(&access_log).expect("access log");
    assert!(!log.contains(TOKEN), "the token is in the access log");
    assert_eq!(
        report.stale_marked,
        Some(true),
        "{STALE} not marked stale: {context}"
    );
    for (player, play) in &report.plays {
        assert!(
            play.to - play.from >= 1.5,
            "{player}: media time went {} -> {}: {context}",
            play.from,
            play.to
        );
        assert!(play.error.is_empty(), "{player}: {context}");
        assert!(
            play.renditions.len() >= 2,
            "{player}: no rendition picker: {context}"
        );
    }
    assert_eq!(report.plays.len(), 2, "{context}");
    let latency = &report.plays["hls"].latency;
    assert!(
        latency.ends_with(" s"),
        "live latency {latency:?}: {context}"
    );
    assert_eq!(report.plays["dash"].latency, "– (VOD)", "{context}");
    let refusal = report.refusal.as_deref().unwrap_or_default();
    assert!(
        refusal.starts_with("Deploy refused: 422"),
        "{refusal:?}: {context}"
    );
    assert_ne!(report.version_before, report.version_deployed, "{context}");
    assert_eq!(report.version_before, report.version_after, "{context}");
    assert_eq!(
        served_version(&s).as_deref(),
        Some("1"),
        "the rollback did not reach the guest: {context}"
    );
    let message = report.guests_message.as_deref().unwrap_or_default();
    assert!(
        message.contains("now runs version"),
        "{message:?}: {context}"
    );
    println!(
        "console: listed {} streams, HLS {:.1} -> {:.1} s (latency {}, {}), DASH {:.1} -> {:.1} s, guest {:?} -> {:?} -> {:?}; \
         screenshots: {}",
        report.listed.len(),
        report.plays["hls"].from,
        report.plays["hls"].to,
        latency,
        report.plays["hls"].rendition,
        report.plays["dash"].from,
        report.plays["dash"].to,
        report.version_before,
        report.version_deployed,
        report.version_after,
        report.screenshots.join(" ")
    );
}

/// Without an admin token the console follows the API's rule: this machine only, never through a proxy;
/// odd paths under it name no file.
#[test]
fn without_a_token_the_console_answers_this_machine_only() {
    let s = Strata::start(&[]);
    let page = s.raw_method("GET", "/_strata/console");
    assert_eq!(page.status, 200);
    assert!(page.header("content-security-policy").is_some());
    let access = s.raw_method("GET", "/_strata/console/access");
    assert_eq!(access.status, 200);
    let access: serde_json::Value = serde_json::from_slice(&access.body).expect("JSON");
    assert_eq!(access["token_required"], false);
    let proxied = s.raw(
        format!(
            "GET /_strata/console HTTP/1.1\r\nHost: {}\r\nX-Forwarded-For: 203.0.113.9\r\nConnection: close\r\n\r\n",
            s.addr()
        )
        .as_bytes(),
    );
    assert_eq!(proxied.status, 403, "a proxied request without a token");
    for target in [
        "/_strata/console/%2e%2e/guests",
        "/_strata/console/..%2Fguests",
        "/_strata/console/main.js/x",
        "/_strata/console/%6dain.js",
    ] {
        assert_eq!(s.raw_method("GET", target).status, 404, "{target}");
    }
    assert_eq!(s.raw_method("POST", "/_strata/console").status, 405);
    assert_eq!(s.raw_method("DELETE", "/_strata/streams").status, 405);
    let head = s.raw_method("HEAD", "/_strata/console/hls.min.js");
    assert_eq!((head.status, head.body.len()), (200, 0));
}

/// Without a token the API trusts this machine, and a browser on it is one: a page elsewhere must not
/// make it roll a guest back (a cross-site form POST needs no preflight), nor rebind its own name to
/// 127.0.0.1 to read the API; no admin answer is readable by another origin, sniffed or framed. Clients
/// that are not browsers are not affected.
#[test]
fn browsers_on_other_sites_cannot_use_the_admin_api() {
    let s = Strata::start(&[]);
    let send = |method: &str, path: &str, host: &str, extra: &str| {
        s.raw(
            format!(
                "{method} {path} HTTP/1.1\r\nHost: {host}\r\n{extra}Content-Length: 0\r\nConnection: close\r\n\r\n"
            )
            .as_bytes(),
        )
    };
    let here = s.addr().to_owned();
    let rollback = "/_strata/guests/origin/rollback";
    for extra in [
        "Sec-Fetch-Site: cross-site\r\nOrigin: http://evil.example\r\n",
        "Sec-Fetch-Site: same-site\r\n",
        "Origin: http://evil.example\r\n",
        "Origin: null\r\n",
    ] {
        let refused = send("POST", rollback, &here, extra);
        assert_eq!(refused.status, 403, "{extra}");
        assert_eq!(refused.header("access-control-allow-origin"), None);
    }
    // The console's own call gets the API's answer: nothing to roll back to.
    let own = format!("Sec-Fetch-Site: same-origin\r\nOrigin: http://{here}\r\n");
    assert_eq!(send("POST", rollback, &here, &own).status, 409);
    assert_eq!(send("POST", rollback, &here, "").status, 409, "curl");

    let rebound = send(
        "GET",
        "/_strata/guests",
        "evil.example",
        "Sec-Fetch-Site: same-origin\r\n",
    );
    assert_eq!(rebound.status, 403, "a DNS-rebound page");
    let port = here.rsplit(':').next().expect("port");
    for host in [here.clone(), format!("localhost:{port}")] {
        let own = send(
            "GET",
            "/_strata/guests",
            &host,
            "Sec-Fetch-Site: same-origin\r\n",
        );
        assert_eq!(own.status, 200, "{host}");
    }

    for path in [
        "/_strata/streams",
        "/_strata/guests",
        "/_strata/metrics",
        "/_strata/console/nope.js",
        "/_strata/nope",
    ] {
        let answer = send("GET", path, &here, "Origin: http://evil.example\r\n");
        assert_eq!(answer.header("access-control-allow-origin"), None, "{path}");
        assert_eq!(
            answer.header("x-content-type-options"),
            Some("nosniff"),
            "{path}"
        );
        assert_eq!(answer.header("x-frame-options"), Some("DENY"), "{path}");
        let policy = answer.header("content-security-policy").unwrap_or_default();
        assert!(
            policy.contains("frame-ancestors 'none'"),
            "{path}: {policy}"
        );
    }
}

/// Listings are served one at a time (each within its deadline): many at once all answer, and the data
/// plane keeps serving meanwhile.
#[test]
fn concurrent_listings_all_answer() {
    let s = Strata::start(&[]);
    let media = "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2,\ns.ts\n";
    for i in 0..20 {
        put(
            &s,
            &format!("/many/{i}/index.m3u8"),
            media.as_bytes().to_vec(),
        );
    }
    std::thread::scope(|scope| {
        let listings: Vec<_> = (0..8)
            .map(|_| {
                scope.spawn(|| {
                    let response = s.http().get(s.url("/_strata/streams")).send().expect("GET");
                    assert_eq!(response.status().as_u16(), 200);
                    let listing: serde_json::Value =
                        serde_json::from_slice(&response.bytes().expect("body")).expect("JSON");
                    assert_eq!(listing["manifests"], 20);
                })
            })
            .collect();
        let playlist = s
            .http()
            .get(s.url("/many/0/index.m3u8"))
            .send()
            .expect("GET");
        assert_eq!(playlist.status().as_u16(), 200);
        for listing in listings {
            listing.join().expect("listing");
        }
    });
}
