//! End-to-end: harvest (live-to-VOD clips). Real ffmpeg pushes a two-rendition live HLS ladder with program
//! date times and a short, self-deleting window; clips are cut through `strata harvest` (the multivariant
//! playlist) and the HTTP API (one media playlist, with a window that ends in the future and outlasts the
//! live window); each decodes start
//! to end with ffmpeg while the live stream goes on, and again once the live window has deleted the source
//! segments. A second test drives the API with hand-written playlists: every refusal, a segment that
//! vanished before it was copied, and a multivariant clip with init sections, keys and discontinuities. A
//! third cuts a clip on one node of a cluster (SeaweedFS store, Redis feed) that another node serves. A
//! fourth plays the hostile client and the careless operator: a wrong token, a half-closed body, a guessed
//! job id, CLI mistakes (each one line, non-zero), a live source that stops updating (the job ends), a
//! full queue (503) and a SIGTERM with jobs running (the origin exits within its grace).

mod common;
#[path = "common/services.rs"]
mod services;

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::{Strata, poll_until, run_with_timeout, tail};
use serde_json::Value;
use services::{Redis, SeaweedFs, cluster_config};
use strata_guest_core::hls::{Playlist, media};
use strata_guest_core::iso8601::format_date_time_ms;

const TOKEN: &str = "harvest-admin-token";
const LIVE: &str = "/live/ch1/";
/// Bound on any one wait for the live stream or a job.
const WAIT: Duration = Duration::from_secs(30);

/// The live encoder, killed when the test ends.
struct Encoder(Child);

impl Drop for Encoder {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `ffmpeg -re`: two tiny renditions, 1 s segments, a 4-segment window that deletes what leaves it, and
/// program date times, PUT to `s` under [`LIVE`].
fn encoder(s: &Strata) -> Encoder {
    let child = Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-nostdin", "-re"])
        .args(["-f", "lavfi", "-i", "testsrc=size=192x108:rate=25"])
        .args(["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000"])
        .args([
            "-t", "120", "-map", "0:v", "-map", "0:v", "-map", "1:a", "-map", "1:a",
        ])
        .args([
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-pix_fmt",
            "yuv420p",
        ])
        .args(["-g", "25", "-keyint_min", "25", "-sc_threshold", "0"])
        .args(["-filter:v:1", "scale=96:54", "-b:v", "150k"])
        .args(["-c:a", "aac", "-b:a", "48k", "-ac", "1"])
        .args(["-var_stream_map", "v:0,a:0 v:1,a:1"])
        .args(["-master_pl_name", "master.m3u8"])
        .args(["-hls_time", "1", "-hls_list_size", "4"])
        .args(["-hls_flags", "program_date_time+delete_segments"])
        .args(["-method", "PUT", "-f", "hls"])
        .arg(s.url(&format!("{LIVE}stream_%v.m3u8")))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("ffmpeg is on PATH: these tests need a real ffmpeg; they do not skip");
    Encoder(child)
}

fn admin(request: reqwest::blocking::RequestBuilder) -> (u16, String) {
    let response = request.bearer_auth(TOKEN).send().expect("admin request");
    (response.status().as_u16(), response.text().expect("body"))
}

fn post(s: &Strata, body: &str) -> (u16, String) {
    admin(
        s.http()
            .post(s.url("/_strata/harvest"))
            .header("content-type", "application/json")
            .body(body.to_owned()),
    )
}

fn body(source: &str, start: Value, end: Value, destination: &str) -> String {
    serde_json::json!({"source": source, "start": start, "end": end, "destination": destination})
        .to_string()
}

fn get(s: &Strata, path: &str) -> (u16, String) {
    let response = s.http().get(s.url(path)).send().expect("GET");
    (response.status().as_u16(), response.text().expect("body"))
}

fn put(s: &Strata, path: &str, body: &[u8]) {
    let status = s
        .http()
        .put(s.url(path))
        .body(body.to_vec())
        .send()
        .expect("PUT")
        .status();
    assert!(status.is_success(), "PUT {path}: {status}");
}

/// A harvest request announcing 100 bytes of body and sending the first 11.
fn truncated_post() -> String {
    format!(
        "POST /_strata/harvest HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer {TOKEN}\r\n\
         Content-Length: 100\r\n\r\n{{\"source\":"
    )
}

/// Posts `request` (asserting 202) and follows the job until it has finished; its report.
fn harvested(s: &Strata, request: &str) -> Value {
    let (status, text) = post(s, request);
    assert_eq!(status, 202, "{text}");
    let id = serde_json::from_str::<Value>(&text).expect("JSON")["id"]
        .as_str()
        .expect("id")
        .to_owned();
    assert_eq!(id.len(), 32, "128 random bits: {id}");
    finished(s, &id)
}

/// Polls job `id` until it has finished (bounded); its report.
fn finished(s: &Strata, id: &str) -> Value {
    let mut report = Value::Null;
    poll_until(WAIT, &format!("harvest {id} to finish"), || {
        let (status, text) = admin(s.http().get(s.url(&format!("/_strata/harvest/{id}"))));
        assert_eq!(status, 200, "{text}");
        report = serde_json::from_str(&text).expect("report JSON");
        matches!(report["state"].as_str(), Some("done" | "failed"))
    });
    report
}

/// The segments of the stored playlist at `path`: (URI, start ms, end ms).
fn segments(s: &Strata, path: &str) -> Vec<(String, i64, i64)> {
    let (status, text) = get(s, path);
    if status != 200 {
        return Vec::new();
    }
    let p = Playlist::parse(&text).expect("playlist");
    media::view(&p)
        .segments
        .iter()
        .map(|seg| {
            let uri = match &p.lines[seg.uri_line] {
                strata_guest_core::hls::Line::Uri(u) => u.clone(),
                other => panic!("{other:?}"),
            };
            let start = seg.start_ms.expect("program date time");
            (uri, start, seg.end_ms().expect("end"))
        })
        .collect()
}

/// Decodes every stream at `url` with ffmpeg: exit 0 and nothing on stderr.
fn decode(url: &str) {
    let mut cmd = Command::new("ffmpeg");
    cmd.args(["-hide_banner", "-v", "error", "-nostdin", "-i", url])
        .args(["-map", "0", "-f", "null", "-"]);
    let (status, _, stderr) = run_with_timeout(cmd, WAIT);
    assert!(
        status.success() && stderr.trim().is_empty(),
        "decoding {url} failed ({status}):\n{}",
        tail(&stderr, 30)
    );
}

/// Seconds of media ffprobe finds at `url`.
fn duration(url: &str) -> f64 {
    let mut cmd = Command::new("ffprobe");
    cmd.args([
        "-v",
        "error",
        "-show_entries",
        "format=duration",
        "-of",
        "csv=p=0",
        url,
    ]);
    let (status, stdout, stderr) = run_with_timeout(cmd, WAIT);
    assert!(status.success(), "ffprobe {url}: {stderr}");
    stdout
        .trim()
        .parse()
        .unwrap_or_else(|_| panic!("duration {stdout:?}"))
}

#[test]
fn a_clip_of_a_live_stream_decodes_while_it_goes_on_and_after_its_window_moved_on() {
    let s = Strata::start(&["--admin-token", TOKEN]);
    let mut live = encoder(&s);
    let rendition = format!("{LIVE}stream_0.m3u8");
    poll_until(WAIT, "four live segments", || {
        segments(&s, &rendition).len() >= 4
    });
    assert_eq!(get(&s, &format!("{LIVE}master.m3u8")).0, 200);

    // Through the CLI: the multivariant playlist, from within the newest segment to two segments later
    // (the job follows the live playlists until they reach the end).
    let newest = segments(&s, &rendition).pop().expect("segments");
    let (start, end) = (newest.1 + 200, newest.1 + 2500);
    let output = Command::new(env!("CARGO_BIN_EXE_strata"))
        .args(["harvest", "--url", s.base_url(), "--admin-token", TOKEN])
        .args([
            "--source",
            "live/ch1/master.m3u8",
            "--destination",
            "vod/clip1/",
        ])
        .args(["--start", &format!("{:.3}", start as f64 / 1000.0)])
        .args(["--end", &format_date_time_ms(end), "--wait-seconds", "30"])
        .output()
        .expect("run strata harvest");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "strata harvest: {}\n{stdout}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report: Value = serde_json::from_str(&stdout).expect("report JSON");
    assert_eq!(report["state"], "done", "{report}");
    assert_eq!(report["playlist"], "vod/clip1/master.m3u8", "{report}");
    let clip = segments(&s, "/vod/clip1/stream_0.m3u8");
    assert_eq!(
        clip.len(),
        3,
        "the segments overlapping the window: {clip:?}"
    );
    assert_eq!(
        clip[0].0, newest.0,
        "the clip starts with the segment holding its start"
    );
    assert_eq!(clip[0].1, newest.1, "with the source's program date time");
    let (_, text) = get(&s, "/vod/clip1/stream_0.m3u8");
    assert!(
        text.contains("#EXT-X-PLAYLIST-TYPE:VOD") && text.trim_end().ends_with("#EXT-X-ENDLIST"),
        "{text}"
    );

    // Through HTTP: one media playlist, a window that ends after the live edge and is longer than the live
    // window (4 s): the job follows the playlist and copies each segment before the live window deletes it.
    let edge = segments(&s, &rendition).last().expect("segments").2;
    let (status, text) = post(
        &s,
        &body(
            "/live/ch1/stream_0.m3u8",
            serde_json::json!(format_date_time_ms(edge - 500)),
            serde_json::json!((edge + 6500) as f64 / 1000.0),
            "vod/clip2/",
        ),
    );
    assert_eq!(status, 202, "{text}");
    let accepted: Value = serde_json::from_str(&text).expect("JSON");
    assert_eq!(accepted["state"], "queued", "{accepted}");
    let id = accepted["id"].as_str().expect("id");
    let mut state = String::new();
    poll_until(WAIT, "the job to start", || {
        let text = admin(s.http().get(s.url(&format!("/_strata/harvest/{id}")))).1;
        let report: Value = serde_json::from_str(&text).expect("JSON");
        state = report["state"].as_str().unwrap_or_default().to_owned();
        state != "queued"
    });
    assert_eq!(
        state, "running",
        "the job follows the live playlist to the window's end"
    );
    let report = finished(&s, id);
    assert_eq!(report["state"], "done", "{report}");
    assert!(report["segments"].as_u64() >= Some(7), "{report}");

    let clip1 = s.url("/vod/clip1/master.m3u8");
    let clip2 = s.url("/vod/clip2/stream_0.m3u8");
    decode(&clip1);
    decode(&clip2);
    let seconds = duration(&s.url("/vod/clip1/stream_0.m3u8"));
    assert!(
        (2.5..3.6).contains(&seconds),
        "three 1 s segments: {seconds} s"
    );

    // The live window moves on and deletes the clip's source segments; the clip stays.
    let last_source = format!("{LIVE}{}", clip[2].0);
    poll_until(WAIT, "the live window to delete the clip's sources", || {
        get(&s, &last_source).0 == 404
    });
    decode(&clip1);
    decode(&clip2);
    assert!(
        live.0.try_wait().expect("poll ffmpeg").is_none(),
        "the live stream goes on"
    );

    let (_, metrics) = admin(s.http().get(s.url("/_strata/metrics")));
    assert!(
        metrics.contains("strata_harvest_jobs_finished_total{result=\"done\"} 2"),
        "{metrics}"
    );
    assert!(
        metrics.contains("# HELP strata_harvest_jobs_finished_total"),
        "{metrics}"
    );
}

/// 2024-05-01T12:00:00Z.
const T0: i64 = 1_714_564_800;

/// A live media playlist of 2 s segments from [`T0`] with an init section, a key and a discontinuity.
fn media_playlist(names: &[&str]) -> String {
    let mut text = String::from(
        "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:7\n\
         #EXT-X-KEY:METHOD=AES-128,URI=\"../keys/k.key\"\n#EXT-X-MAP:URI=\"init.mp4\"\n",
    );
    for (n, name) in names.iter().enumerate() {
        if n == 2 {
            text.push_str("#EXT-X-DISCONTINUITY\n");
        }
        text.push_str(&format!(
            "#EXT-X-PROGRAM-DATE-TIME:{}\n#EXTINF:2.000,\n{name}\n",
            format_date_time_ms((T0 + 2 * n as i64) * 1000)
        ));
    }
    text
}

#[test]
fn harvest_refuses_what_it_cannot_clip_and_copies_a_multivariant_clip_exactly() {
    let s = Strata::with_config(
        "[http]\nbody_idle_timeout_ms = 500\n",
        &["--admin-token", TOKEN],
    );
    let time = |offset: i64| serde_json::json!(T0 + offset);
    for name in ["a.m4s", "b.m4s", "c.m4s", "d.m4s"] {
        put(
            &s,
            &format!("/ch/v1/{name}"),
            format!("v1 {name}").as_bytes(),
        );
        put(
            &s,
            &format!("/ch/v2/{name}"),
            format!("v2 {name}").as_bytes(),
        );
    }
    for folder in ["v1", "v2"] {
        put(&s, &format!("/ch/{folder}/init.mp4"), b"init");
        put(
            &s,
            &format!("/ch/{folder}/index.m3u8"),
            media_playlist(&["a.m4s", "b.m4s", "c.m4s", "d.m4s"]).as_bytes(),
        );
    }
    put(&s, "/ch/keys/k.key", b"0123456789abcdef");
    put(
        &s,
        "/ch/master.m3u8",
        b"#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=800000\nv1/index.m3u8\n#EXT-X-STREAM-INF:BANDWIDTH=400000\n/ch/v2/index.m3u8?x=1\n",
    );
    put(&s, "/gone/v/init.mp4", b"init");
    put(&s, "/gone/v/a.m4s", b"a");
    let unkeyed = media_playlist(&["a.m4s", "b.m4s"])
        .replace("#EXT-X-KEY:METHOD=AES-128,URI=\"../keys/k.key\"\n", "");
    put(&s, "/gone/v/index.m3u8", unkeyed.as_bytes());
    put(
        &s,
        "/nopdt/index.m3u8",
        b"#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2,\na.ts\n",
    );
    put(&s, "/used/x.ts", b"x");

    // Admin credentials.
    let anonymous = s
        .http()
        .post(s.url("/_strata/harvest"))
        .body(body("ch/master.m3u8", time(0), time(4), "vod/a/"))
        .send()
        .expect("POST");
    assert_eq!(anonymous.status().as_u16(), 401);

    // (source, start and end after T0 in seconds, destination, status, reason)
    let master = "ch/master.m3u8";
    let mut refusals: Vec<(String, u16, &str)> = [
        (master, 4, 4, "vod/a/", 400, "end must be after start"),
        (master, 0, 30_000, "vod/a/", 400, "at most 21600 s"),
        (
            master,
            0,
            4,
            "ch/v1/clip/",
            400,
            "overlaps the source's folder",
        ),
        (master, 0, 4, "vod/%2e%2e/a/", 400, "'..' segment"),
        (master, 0, 4, "_strata/a/", 400, "reserved"),
        (
            "ch/none.m3u8",
            0,
            4,
            "vod/a/",
            404,
            "no playlist at ch/none.m3u8",
        ),
        (
            "nopdt/index.m3u8",
            0,
            4,
            "vod/a/",
            422,
            "without EXT-X-PROGRAM-DATE-TIME",
        ),
        (
            master,
            -10,
            4,
            "vod/a/",
            422,
            "before the oldest segment ch/v1/index.m3u8",
        ),
        (master, 0, 3600, "vod/a/", 422, "waits at most 600 s"),
        (
            master,
            0,
            4,
            "used/",
            409,
            "already holds objects (used/x.ts)",
        ),
    ]
    .into_iter()
    .map(|(source, start, end, dest, status, reason)| {
        (body(source, time(start), time(end), dest), status, reason)
    })
    .collect();
    refusals.extend([
        ("{".to_owned(), 400, "bad JSON"),
        ("{\"source\":1}".to_owned(), 400, "bad JSON"),
        (
            body(master, serde_json::json!("soon"), time(4), "vod/a/"),
            400,
            "start must be",
        ),
    ]);
    for (request, status, reason) in refusals {
        let (got, text) = post(&s, &request);
        assert_eq!(got, status, "{request}: {text}");
        assert!(text.contains(reason), "{request}: {text}");
    }
    let (status, _) = post(&s, &"x".repeat(20_000));
    assert_eq!(status, 413, "the body is bounded");
    let stalled = common::raw_http(s.addr(), truncated_post().as_bytes());
    assert_eq!(
        stalled.status, 408,
        "a body that stops arriving has a deadline"
    );
    assert_eq!(admin(s.http().get(s.url("/_strata/harvest/0123"))).0, 404);
    assert_eq!(admin(s.http().put(s.url("/_strata/harvest"))).0, 405);

    // A segment the live window deleted before it was copied fails the job, naming it.
    let report = harvested(
        &s,
        &body("gone/v/index.m3u8", time(0), time(4), "vod/gone/"),
    );
    assert_eq!(report["state"], "failed", "{report}");
    assert_eq!(
        report["reason"], "source object gone/v/b.m4s vanished before it was copied",
        "{report}"
    );
    assert_eq!(
        get(&s, "/vod/gone/index.m3u8").0,
        404,
        "no playlist names a half clip"
    );

    // Two harvests into one destination at once: one is refused.
    let racing: Vec<u16> = std::thread::scope(|scope| {
        let racers: Vec<_> = (0..2)
            .map(|_| {
                scope.spawn(|| post(&s, &body("ch/master.m3u8", time(0), time(2), "vod/race/")).0)
            })
            .collect();
        racers
            .into_iter()
            .map(|r| r.join().expect("racer"))
            .collect()
    });
    let mut sorted = racing.clone();
    sorted.sort();
    assert_eq!(sorted, [202, 409], "{racing:?}");

    // A multivariant clip: both renditions, the key and the init section, byte for byte.
    let report = harvested(&s, &body("/ch/master.m3u8", time(1), time(5), "vod/mv/"));
    assert_eq!(report["state"], "done", "{report}");
    assert_eq!(
        (
            &report["segments"],
            &report["clip_start"],
            &report["clip_end"]
        ),
        (
            &serde_json::json!(6),
            &serde_json::json!("2024-05-01T12:00:00.000Z"),
            &serde_json::json!("2024-05-01T12:00:06.000Z")
        ),
        "{report}"
    );
    let (_, master) = get(&s, "/vod/mv/master.m3u8");
    assert!(
        master.contains("\nv1/index.m3u8\n") && master.contains("\nv2/index.m3u8\n"),
        "{master}"
    );
    let (_, v2) = get(&s, "/vod/mv/v2/index.m3u8");
    for line in [
        "#EXT-X-KEY:METHOD=AES-128,URI=\"../keys/k.key\"",
        "#EXT-X-MAP:URI=\"init.mp4\"",
        "#EXT-X-MEDIA-SEQUENCE:7",
        "#EXT-X-DISCONTINUITY",
        "#EXT-X-ENDLIST",
    ] {
        assert!(v2.contains(line), "{line} in\n{v2}");
    }
    for (copy, original) in [
        ("/vod/mv/v2/c.m4s", "/ch/v2/c.m4s"),
        ("/vod/mv/v1/init.mp4", "/ch/v1/init.mp4"),
        ("/vod/mv/keys/k.key", "/ch/keys/k.key"),
    ] {
        assert_eq!(get(&s, copy), get(&s, original), "{copy}");
    }
    assert_eq!(get(&s, "/vod/mv/v1/d.m4s").0, 404, "outside the window");
}

#[test]
fn in_a_cluster_a_clip_cut_on_one_node_is_in_the_store_and_served_by_another() {
    let weed = SeaweedFs::start();
    let redis = Redis::start();
    let node = |name: &str| {
        Strata::with_config(
            &cluster_config(&weed, &redis, "harvest", name),
            &["--admin-token", TOKEN],
        )
    };
    let (a, b) = (node("a"), node("b"));
    let unkeyed = media_playlist(&["a.m4s", "b.m4s", "c.m4s"])
        .replace("#EXT-X-KEY:METHOD=AES-128,URI=\"../keys/k.key\"\n", "");
    put(&a, "/live/v/index.m3u8", unkeyed.as_bytes());
    for name in ["init.mp4", "a.m4s", "b.m4s", "c.m4s"] {
        put(
            &a,
            &format!("/live/v/{name}"),
            format!("bytes of {name}").as_bytes(),
        );
    }
    let time = |offset: i64| serde_json::json!(T0 + offset);
    let report = harvested(&b, &body("live/v/index.m3u8", time(2), time(6), "vod/c/"));
    assert_eq!(report["state"], "done", "{report}");
    assert_eq!(
        weed.get("harvest/vod/c/c.m4s").as_deref(),
        Some(&b"bytes of c.m4s"[..]),
        "the copy is in the shared store"
    );
    for name in ["a.m4s", "b.m4s", "c.m4s"] {
        let deleted = a
            .http()
            .delete(a.url(&format!("/live/v/{name}")))
            .send()
            .expect("DELETE");
        assert!(deleted.status().is_success(), "DELETE {name}");
    }
    let (status, clip) = get(&a, "/vod/c/index.m3u8");
    assert_eq!(status, 200, "{clip}");
    let uris: Vec<&str> = clip.lines().filter(|l| !l.starts_with('#')).collect();
    assert_eq!(uris, ["b.m4s", "c.m4s"], "{clip}");
    assert_eq!(get(&a, "/vod/c/b.m4s"), (200, "bytes of b.m4s".to_owned()));
    assert_eq!(
        get(&a, "/vod/c/init.mp4"),
        (200, "bytes of init.mp4".to_owned())
    );
}

#[test]
fn hostile_clients_a_stalled_source_a_full_queue_and_a_shutdown_meet_bounded_harvests() {
    let mut s = Strata::with_config(
        "[http]\nbody_idle_timeout_ms = 500\nshutdown_grace_ms = 2000\n",
        &["--admin-token", TOKEN],
    );
    let time = |offset: i64| serde_json::json!(T0 + offset);
    put(&s, "/stalled/a.ts", b"a");
    put(
        &s,
        "/stalled/index.m3u8",
        format!(
            "#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXT-X-MEDIA-SEQUENCE:0\n\
             #EXT-X-PROGRAM-DATE-TIME:{}\n#EXTINF:1.000,\na.ts\n",
            format_date_time_ms(T0 * 1000)
        )
        .as_bytes(),
    );
    let request =
        |end: i64, destination: &str| body("stalled/index.m3u8", time(0), time(end), destination);

    // A wrong token, and a body half-closed before its end.
    let wrong = s
        .http()
        .post(s.url("/_strata/harvest"))
        .bearer_auth("not-the-token")
        .body(request(2, "vod/wrong/"))
        .send()
        .expect("POST");
    assert_eq!(wrong.status().as_u16(), 401);
    let half = common::raw_half_closed(s.addr(), truncated_post().as_bytes());
    assert_eq!(
        half.map(|r| r.status),
        Some(400),
        "a body half-closed before its end is refused at once"
    );
    let guessed = common::raw_http(
        s.addr(),
        format!(
            "GET /_strata/harvest/../guests HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer {TOKEN}\r\n\r\n"
        )
        .as_bytes(),
    );
    assert_eq!(guessed.status, 404, "a job id is one path segment");
    let url = s.base_url().to_owned();
    let cli = |args: &[&str]| {
        let mut cmd = Command::new(common::strata_bin());
        cmd.arg("harvest").args(["--url", &url]).args(args);
        run_with_timeout(cmd, WAIT)
    };
    let one_line_failure = |(status, _, stderr): (std::process::ExitStatus, String, String),
                            says: &str| {
        assert!(!status.success(), "{says}: {stderr}");
        assert_eq!(stderr.trim().lines().count(), 1, "one line: {stderr}");
        assert!(stderr.contains(says), "{says} in {stderr}");
    };
    one_line_failure(
        cli(&["--admin-token", TOKEN, "--job", "../guests"]),
        "is not a harvest job id",
    );
    one_line_failure(
        cli(&["--admin-token", "wrong", "--job", "0123"]),
        "401 Unauthorized",
    );
    let (status, _, stderr) = cli(&[
        "--admin-token",
        TOKEN,
        "--source",
        "stalled/index.m3u8",
        "--start",
        "x",
    ]);
    assert!(
        !status.success() && stderr.contains("--end"),
        "clap names the missing argument: {stderr}"
    );

    // A live source that stops updating: the job ends, failed, soon after its deadline (1 s short of the
    // window's end, plus three target durations), and the CLI says so on one line.
    let (start, end) = ((T0).to_string(), (T0 + 2).to_string());
    let args = [
        "--admin-token",
        TOKEN,
        "--source",
        "stalled/index.m3u8",
        "--start",
        &start,
        "--end",
        &end,
        "--destination",
        "vod/stalled/",
    ];
    one_line_failure(cli(&args), "did not reach the window's end in time");

    // The queue is bounded: 16 jobs following a source that will not reach their end, then 503.
    for n in 0..16 {
        let (status, text) = post(&s, &request(300, &format!("vod/q{n}/")));
        assert_eq!(status, 202, "{text}");
    }
    let (status, text) = post(&s, &request(300, "vod/q16/"));
    assert_eq!(status, 503, "{text}");
    assert!(text.contains("16 harvests are queued or running"), "{text}");
    let (status, text) = post(&s, &body("none/x.m3u8", time(0), time(2), "vod/q17/"));
    assert_eq!(
        (status, text.trim()),
        (
            503,
            "16 harvests are queued or running; retry when one finishes"
        ),
        "refused before the source is read"
    );

    // SIGTERM with jobs running: the origin exits within its grace, and the CLI then says it cannot reach it.
    s.signal("TERM");
    poll_until(Duration::from_secs(10), "the origin to exit", || {
        s.exited().is_some()
    });
    one_line_failure(cli(&["--job", "0123"]), "cannot reach");
}
