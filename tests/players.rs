//! Real browser players play live streams that real ffmpeg pushes into Strata: hls.js plays live HLS and
//! dash.js plays live DASH, in Debian's headless Chromium driven by playwright-core, from a page on
//! another loopback origin (so every request crosses origins, as on a real site).
//!
//! `tests/players/play.mjs` runs the browser and prints what the player did; this file starts Strata and
//! the encoder, runs it, and asserts: no fatal player error, playback time advancing with the wall clock
//! for at least [`MIN_PLAYED`], and no stall after the start. The browser's last frame is saved under
//! the cargo target's tmp dir. The tests fail (they never skip) when Chromium, node or the npm packages
//! are missing: `./scripts/test` installs them.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::encoder::Encoder;
use common::{Strata, poll_until, run_with_timeout, tail};
use serde::Deserialize;

/// Seconds the player plays after its first frame.
const PLAY_SECONDS: u64 = 21;
/// Playback must last at least this long.
const MIN_PLAYED: f64 = 20.0;
/// How far (seconds) media time may drift from the wall clock over the whole run.
const DRIFT_TOLERANCE: f64 = 3.0;
/// A `waiting` after the start that lasts longer than this (ms) is a stall.
const MAX_WAITING_MS: u64 = 1_000;
/// Media time frozen for longer than this (ms, between 500 ms samples) is a stall too.
const MAX_FROZEN_MS: u64 = 1_500;
/// Seconds of content the encoder pushes: more than the player's startup plus [`PLAY_SECONDS`], so the
/// stream stays live throughout; it bounds the encoder should the test never kill it.
const CONTENT_SECONDS: u32 = 90;
/// The fourth 2 s segment appears after 8 s of real time.
const STREAM_TIMEOUT: Duration = Duration::from_secs(40);
/// Browser launch, player startup (play.mjs waits 30 s at most), playing, screenshot and shutdown.
const PLAYER_TIMEOUT: Duration = Duration::from_secs(PLAY_SECONDS + 90);
const CHROMIUM: &str = "/usr/bin/chromium";
const INSTALL_HINT: &str = "run ./scripts/test, which installs it (apt-get install chromium nodejs npm; npm ci --prefix tests/players)";

/// The folder of `play.mjs`, its `package.json` and lockfile.
fn players_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/players")
}

/// Asserts ffmpeg, Chromium, node and the npm packages are installed.
fn require_tools() {
    let runs = |program: &str, flag: &str| {
        Command::new(program)
            .arg(flag)
            .output()
            .is_ok_and(|o| o.status.success())
    };
    assert!(
        runs("ffmpeg", "-version"),
        "ffmpeg is not on PATH: {INSTALL_HINT}"
    );
    assert!(
        Path::new(CHROMIUM).exists(),
        "{CHROMIUM} is missing: {INSTALL_HINT}"
    );
    assert!(
        runs("node", "--version"),
        "node is not on PATH: {INSTALL_HINT}"
    );
    for package in ["playwright-core", "hls.js", "dashjs"] {
        let path = players_dir().join("node_modules").join(package);
        assert!(
            path.join("package.json").exists(),
            "{} is missing: {INSTALL_HINT}",
            path.display()
        );
    }
}

/// What `play.mjs` prints: every time in ms since the page loaded.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Report {
    page_url: String,
    browser: String,
    started_at_ms: Option<u64>,
    /// `[ms, video.currentTime, seconds buffered ahead]` every 500 ms from the start on.
    samples: Vec<(u64, f64, f64)>,
    errors: Vec<PlayerError>,
    stalls: Vec<Stall>,
    console_errors: Vec<String>,
    page_errors: Vec<String>,
    failed_requests: Vec<String>,
    screenshot: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct PlayerError {
    at_ms: u64,
    fatal: bool,
    source: String,
    detail: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Stall {
    at_ms: u64,
    /// `None` when the player was still waiting at the end.
    duration_ms: Option<u64>,
}

impl Report {
    /// Everything wrong with the run; empty when the player played well.
    fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        let Some(started) = self.started_at_ms else {
            return vec!["playback never started".into()];
        };
        // Players repeat an error at each retry: one line per distinct error, with its count and times.
        let mut fatal: Vec<(&str, &str, Vec<u64>)> = Vec::new();
        for e in self.errors.iter().filter(|e| e.fatal) {
            match fatal
                .iter_mut()
                .find(|(source, detail, _)| *source == e.source && *detail == e.detail)
            {
                Some((_, _, times)) => times.push(e.at_ms),
                None => fatal.push((&e.source, &e.detail, vec![e.at_ms])),
            }
        }
        for (source, detail, times) in fatal {
            problems.push(format!(
                "fatal error, {} time(s), at {times:?} ms after the page loaded: {source}: {detail}",
                times.len()
            ));
        }
        problems.extend(self.page_errors.iter().map(|e| format!("page error: {e}")));
        let (Some(first), Some(last)) = (self.samples.first(), self.samples.last()) else {
            return problems;
        };
        let played = (last.0 - first.0) as f64 / 1000.0;
        let advanced = last.1 - first.1;
        if played < MIN_PLAYED {
            problems.push(format!(
                "played {played:.1} s, want at least {MIN_PLAYED} s"
            ));
        }
        if (advanced - played).abs() > DRIFT_TOLERANCE {
            problems.push(format!(
                "media time advanced {advanced:.1} s in {played:.1} s of wall time (tolerance {DRIFT_TOLERANCE} s)"
            ));
        }
        let end = last.0;
        for s in &self.stalls {
            let lasted = s.duration_ms.unwrap_or(end.saturating_sub(s.at_ms));
            if lasted > MAX_WAITING_MS {
                problems.push(format!(
                    "stalled {lasted} ms at {} ms ({} ms after the start){}",
                    s.at_ms,
                    s.at_ms.saturating_sub(started),
                    if s.duration_ms.is_none() {
                        ", still waiting at the end"
                    } else {
                        ""
                    }
                ));
            }
        }
        // Spans in which media time stayed at or below the value it last reached: (from ms, to ms, time).
        let mut frozen: Vec<(u64, u64, f64)> = Vec::new();
        let mut since = *first;
        for &sample in &self.samples[1..] {
            if sample.1 > since.1 {
                since = sample;
            } else {
                match frozen.last_mut() {
                    Some(run) if run.0 == since.0 => run.1 = sample.0,
                    _ => frozen.push((since.0, sample.0, since.1)),
                }
            }
        }
        for (from, to, time) in frozen {
            if to - from > MAX_FROZEN_MS {
                problems.push(format!(
                    "media time stuck at {time:.3} s from {from} ms to {to} ms"
                ));
            }
        }
        problems
    }
}

/// Polls Strata until the encoder has stored the stream's fourth segment and its manifest.
///
/// Viewers join streams that are already running: a player joining at the first segment cannot sit its
/// usual three segments behind the live edge, and would stall for reasons that are not the origin's.
fn wait_for_stream(s: &Strata, fourth_segment: &str, manifest: &str) {
    for path in [fourth_segment, manifest] {
        poll_until(STREAM_TIMEOUT, &format!("{path} on Strata"), || {
            s.http()
                .get(s.url(path))
                .send()
                .is_ok_and(|r| r.status() == 200)
        });
    }
}

/// Plays `manifest` on `s` with `player` (`hls` or `dash`) and asserts it played well.
fn assert_plays(player: &str, s: &Strata, manifest: &str, encoder: &mut Encoder) {
    let screenshot = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("players-{player}.png"));
    let mut cmd = Command::new("node");
    cmd.current_dir(players_dir())
        .arg("play.mjs")
        .arg(player)
        .arg(s.url(manifest))
        .arg(PLAY_SECONDS.to_string())
        .arg(&screenshot);
    let (status, stdout, stderr) = run_with_timeout(cmd, PLAYER_TIMEOUT);
    assert!(
        status.success(),
        "play.mjs {player} failed ({status}):\n{}\n{}",
        tail(&stderr, 40),
        tail(&stdout, 5)
    );
    let line = stdout.lines().last().unwrap_or_default();
    let report: Report = serde_json::from_str(line)
        .unwrap_or_else(|e| panic!("play.mjs printed no report ({e}):\n{stdout}\n{stderr}"));
    let problems = report.problems();
    assert!(
        problems.is_empty(),
        "{player} on Chromium {} did not play {} well:\n  {}\n\
         non-fatal errors: {:?}\nconsole errors: {:?}\nfailed requests: {:?}\nstalls: {:?}\n\
         samples [ms, currentTime, buffered ahead]: {:?}\npage: {}\nscreenshot: {}\n{}",
        report.browser,
        s.url(manifest),
        problems.join("\n  "),
        report
            .errors
            .iter()
            .filter(|e| !e.fatal)
            .collect::<Vec<_>>(),
        report.console_errors,
        report.failed_requests,
        report.stalls,
        report.samples,
        report.page_url,
        report.screenshot,
        encoder.describe(),
    );
    let (first, last) = (report.samples[0], report.samples[report.samples.len() - 1]);
    println!(
        "{player}: started {} ms after the page loaded, played {:.1} s of wall time, media time {:.1} -> {:.1} s; \
         screenshot {}",
        report.started_at_ms.unwrap_or_default(),
        (last.0 - first.0) as f64 / 1000.0,
        first.1,
        last.1,
        report.screenshot
    );
}

#[test]
fn hls_js_plays_live_hls() {
    require_tools();
    let s = Strata::start(&[]);
    let target = s.url("/live/hls/stream.m3u8");
    let mut encoder = Encoder::live_hls(CONTENT_SECONDS, &target);
    wait_for_stream(&s, "/live/hls/stream3.ts", "/live/hls/master.m3u8");
    assert_plays("hls", &s, "/live/hls/master.m3u8", &mut encoder);
}

#[test]
fn dash_js_plays_live_dash() {
    require_tools();
    let s = Strata::start(&[]);
    let target = s.url("/live/dash/manifest.mpd");
    let mut encoder = Encoder::start(
        CONTENT_SECONDS,
        &[
            "-adaptation_sets",
            "id=0,streams=v id=1,streams=a",
            "-seg_duration",
            "2",
            "-window_size",
            "6",
            "-extra_window_size",
            "3",
            "-use_template",
            "1",
            "-use_timeline",
            "1",
            "-method",
            "PUT",
            "-f",
            "dash",
            &target,
        ],
    );
    wait_for_stream(
        &s,
        "/live/dash/chunk-stream0-00004.m4s",
        "/live/dash/manifest.mpd",
    );
    assert_plays("dash", &s, "/live/dash/manifest.mpd", &mut encoder);
}
