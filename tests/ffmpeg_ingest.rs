//! Real ffmpeg pushes a two-rendition live ladder (HLS, then DASH) into Strata at real time, then a
//! second ffmpeg reads the stored presentation back through Strata and decodes every stream.
//!
//! ffmpeg never reads the origin's answers (it exits 0 even if every PUT got a 500), so the
//! origin's own metrics are the record of failed ingest: the tests assert no PUT/POST/DELETE
//! answered ≥ 400 and that segment removal (DELETE) happened.

mod common;

use std::collections::BTreeMap;
use std::process::Command;
use std::time::Duration;

use common::{Strata, poll, run_with_timeout, tail};

/// Seconds of content pushed at real time (`-re`).
const CONTENT_SECONDS: &str = "12";
/// The encoder runs about CONTENT_SECONDS; this bounds it (slow CI machines included).
const ENCODE_TIMEOUT: Duration = Duration::from_secs(45);
const DECODE_TIMEOUT: Duration = Duration::from_secs(30);

/// Lines ffmpeg 5.1 prints at `-loglevel error` that are not errors of the run.
const BENIGN_ENCODER_LINES: &[&str] = &[
    // dashenc wants to write `manifest.mpd.tmp` then rename; over HTTP it PUTs in place.
    "Cannot use rename on non file protocol",
];

/// Asserts ffmpeg is on PATH. The test fails (it does not skip) without it.
fn require_ffmpeg() {
    let found = Command::new("ffmpeg")
        .arg("-version")
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    assert!(
        found,
        "ffmpeg is not on PATH: these tests need a real ffmpeg (Debian: `apt-get install ffmpeg`); they do not skip"
    );
}

/// `ffmpeg -re` with a 640x360 test pattern and a 440 Hz tone, the common head of both ladders.
fn encoder() -> Command {
    let mut cmd = Command::new("ffmpeg");
    cmd.args(["-hide_banner", "-loglevel", "error", "-nostdin", "-re"])
        .args(["-f", "lavfi", "-i", "testsrc=size=640x360:rate=25"])
        .args(["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000"])
        .args(["-t", CONTENT_SECONDS]);
    cmd
}

/// Video ladder settings: rendition 0 is 640x360, rendition 1 is scaled to 320x180; GOP = 1 s.
fn ladder_codecs(cmd: &mut Command) {
    cmd.args([
        "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p",
    ])
    .args(["-g", "25", "-keyint_min", "25", "-sc_threshold", "0"])
    .args(["-filter:v:1", "scale=320:180"])
    .args([
        "-b:v:0",
        "800k",
        "-maxrate:v:0",
        "880k",
        "-bufsize:v:0",
        "1200k",
    ])
    .args([
        "-b:v:1",
        "300k",
        "-maxrate:v:1",
        "330k",
        "-bufsize:v:1",
        "450k",
    ])
    .args(["-c:a", "aac", "-b:a", "96k", "-ac", "2"]);
}

/// Runs the encoder and asserts it exited 0 with nothing on stderr but known benign lines.
fn run_encoder(s: &Strata, cmd: Command) {
    let (status, _, stderr) = run_with_timeout(cmd, ENCODE_TIMEOUT);
    let errors: Vec<&str> = stderr
        .lines()
        .filter(|l| !l.trim().is_empty() && !BENIGN_ENCODER_LINES.iter().any(|b| l.contains(b)))
        .collect();
    assert!(
        status.success() && errors.is_empty(),
        "encoder failed ({status}):\n{}\n--- strata metrics ---\n{}",
        tail(&stderr, 40),
        ingest_summary(s)
    );
}

/// Reads `url` back with a second ffmpeg, decoding every stream; asserts exit 0 and a clean stderr.
fn decode_all(url: &str) {
    let mut cmd = Command::new("ffmpeg");
    cmd.args([
        "-hide_banner",
        "-loglevel",
        "error",
        "-nostdin",
        "-i",
        url,
        "-map",
        "0",
        "-f",
        "null",
        "-",
    ]);
    let (status, _, stderr) = run_with_timeout(cmd, DECODE_TIMEOUT);
    assert!(
        status.success() && stderr.trim().is_empty(),
        "decoding {url} failed ({status}):\n{}",
        tail(&stderr, 40)
    );
}

/// Lists the video streams (`WIDTHxHEIGHT`, sorted) and the number of audio streams ffprobe sees
/// at `url` (each stream once, though ffprobe also lists it under its program).
fn probe(url: &str) -> (Vec<String>, usize) {
    let mut cmd = Command::new("ffprobe");
    cmd.args([
        "-v",
        "error",
        "-show_entries",
        "stream=index,codec_type,width,height",
        "-of",
        "csv=p=0",
        url,
    ]);
    let (status, stdout, stderr) = run_with_timeout(cmd, DECODE_TIMEOUT);
    assert!(
        status.success(),
        "ffprobe {url} failed ({status}):\n{}",
        tail(&stderr, 20)
    );
    let streams: BTreeMap<&str, Vec<&str>> = stdout
        .lines()
        .filter_map(|l| l.split_once(','))
        .map(|(i, rest)| (i, rest.split(',').collect()))
        .collect();
    let mut video: Vec<String> = streams
        .values()
        .filter_map(|f| match f.as_slice() {
            ["video", w, h, ..] => Some(format!("{w}x{h}")),
            _ => None,
        })
        .collect();
    video.sort();
    let audio = streams
        .values()
        .filter(|f| f.first() == Some(&"audio"))
        .count();
    (video, audio)
}

/// Requests by ingest method and status class, from Strata's metrics.
struct Ingest {
    ok_puts: f64,
    ok_deletes: f64,
    failures: Vec<String>,
}

fn ingest(s: &Strata) -> Ingest {
    let mut summary = Ingest {
        ok_puts: 0.0,
        ok_deletes: 0.0,
        failures: Vec::new(),
    };
    for sample in s
        .metrics()
        .iter()
        .filter(|m| m.name == "strata_requests_total")
    {
        let method = sample
            .labels
            .get("method")
            .map(String::as_str)
            .unwrap_or("");
        let status: u16 = sample
            .labels
            .get("status")
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        match (method, status) {
            ("PUT" | "POST", 200..=299) => summary.ok_puts += sample.value,
            ("DELETE", 200..=299) => summary.ok_deletes += sample.value,
            ("PUT" | "POST" | "DELETE", 400..) if sample.value > 0.0 => summary
                .failures
                .push(format!("{method} {status}: {}", sample.value)),
            _ => {}
        }
    }
    summary
}

/// Request counters as text, for failure messages.
fn ingest_summary(s: &Strata) -> String {
    s.metrics_text()
        .lines()
        .filter(|l| l.starts_with("strata_requests_total"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Asserts no ingest request failed, at least `min_puts` stores succeeded, and DELETEs happened.
fn assert_clean_ingest(s: &Strata, min_puts: f64) {
    // Counters may be recorded just after the answer: wait for them to settle on the DELETEs.
    let settled = poll(Duration::from_secs(10), || {
        let i = ingest(s);
        i.ok_puts >= min_puts && i.ok_deletes > 0.0
    });
    let i = ingest(s);
    assert!(
        settled,
        "want >= {min_puts} successful PUTs and some successful DELETEs; got {} and {}:\n{}",
        i.ok_puts,
        i.ok_deletes,
        ingest_summary(s)
    );
    assert!(
        i.failures.is_empty(),
        "failed ingest requests: {:?}\n{}",
        i.failures,
        ingest_summary(s)
    );
}

/// GETs `path`, asserting 200 and the content type; returns the body as text.
fn get_text(s: &Strata, path: &str, content_type: &str) -> String {
    let resp = s.http().get(s.url(path)).send().expect("GET");
    assert_eq!(resp.status(), 200, "GET {path}");
    let ct = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    assert!(
        ct.starts_with(content_type),
        "GET {path}: content-type {ct}, want {content_type}"
    );
    resp.text().expect("text body")
}

fn status_of(s: &Strata, path: &str) -> u16 {
    s.http()
        .get(s.url(path))
        .send()
        .expect("GET")
        .status()
        .as_u16()
}

#[test]
fn ffmpeg_hls_live_ladder_round_trips() {
    require_ffmpeg();
    let s = Strata::start(&[]);
    let mut cmd = encoder();
    cmd.args(["-map", "0:v", "-map", "0:v", "-map", "1:a", "-map", "1:a"]);
    ladder_codecs(&mut cmd);
    cmd.args(["-var_stream_map", "v:0,a:0,name:360p v:1,a:1,name:180p"])
        .args(["-master_pl_name", "master.m3u8"])
        .args([
            "-hls_time",
            "1",
            "-hls_list_size",
            "6",
            "-hls_flags",
            "delete_segments",
        ])
        .args(["-method", "PUT", "-f", "hls"])
        .arg(s.url("/live/hls/stream_%v.m3u8"));
    run_encoder(&s, cmd);

    // 12 s of 1 s segments in two variants, their playlists after each one, and the master.
    assert_clean_ingest(&s, 40.0);

    let master = get_text(&s, "/live/hls/master.m3u8", "application/vnd.apple.mpegurl");
    assert!(
        master.contains("RESOLUTION=640x360") && master.contains("RESOLUTION=320x180"),
        "master:\n{master}"
    );
    for variant in ["360p", "180p"] {
        let playlist = get_text(
            &s,
            &format!("/live/hls/stream_{variant}.m3u8"),
            "application/vnd.apple.mpegurl",
        );
        assert!(
            playlist.contains("#EXT-X-ENDLIST"),
            "final {variant} playlist:\n{playlist}"
        );
        let segments: Vec<&str> = playlist.lines().filter(|l| l.ends_with(".ts")).collect();
        assert!(
            segments.len() >= 5,
            "{variant} playlist keeps a window of segments:\n{playlist}"
        );
        for seg in segments {
            assert_eq!(
                status_of(&s, &format!("/live/hls/{seg}")),
                200,
                "listed segment {seg}"
            );
        }
        assert_eq!(
            status_of(&s, &format!("/live/hls/stream_{variant}0.ts")),
            404,
            "segment 0 was deleted"
        );
    }

    let url = s.url("/live/hls/master.m3u8");
    decode_all(&url);
    let (video, audio) = probe(&url);
    assert_eq!(video, ["320x180", "640x360"], "video renditions read back");
    assert_eq!(audio, 2, "audio read back (muxed into each variant)");
    assert_clean_ingest(&s, 40.0);
}

#[test]
fn ffmpeg_dash_live_ladder_round_trips() {
    require_ffmpeg();
    let s = Strata::start(&[]);
    let mut cmd = encoder();
    cmd.args(["-map", "0:v", "-map", "0:v", "-map", "1:a"]);
    ladder_codecs(&mut cmd);
    cmd.args(["-adaptation_sets", "id=0,streams=v id=1,streams=a"])
        .args([
            "-seg_duration",
            "1",
            "-window_size",
            "6",
            "-extra_window_size",
            "2",
            "-remove_at_exit",
            "0",
        ])
        .args(["-use_template", "1", "-use_timeline", "1"])
        .args(["-method", "PUT", "-f", "dash"])
        .arg(s.url("/live/dash/manifest.mpd"));
    run_encoder(&s, cmd);

    // 3 init segments, 3 x 12 media segments, a manifest after each segment.
    assert_clean_ingest(&s, 40.0);

    let mpd = get_text(&s, "/live/dash/manifest.mpd", "application/dash+xml");
    assert!(
        mpd.contains("width=\"640\"") && mpd.contains("width=\"320\""),
        "manifest:\n{mpd}"
    );
    for rep in 0..3 {
        let init = format!("/live/dash/init-stream{rep}.m4s");
        let resp = s.http().get(s.url(&init)).send().expect("GET init");
        assert_eq!(resp.status(), 200, "{init}");
        let ct = resp
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        assert_eq!(ct, "video/iso.segment", "{init}: content-type by extension");
        assert_eq!(
            status_of(&s, &format!("/live/dash/chunk-stream{rep}-00001.m4s")),
            404,
            "first segment deleted"
        );
    }

    let url = s.url("/live/dash/manifest.mpd");
    decode_all(&url);
    let (video, audio) = probe(&url);
    assert_eq!(
        video,
        ["320x180", "640x360"],
        "video representations read back"
    );
    assert_eq!(audio, 1, "audio read back");
    assert_clean_ingest(&s, 40.0);
}
