//! Losing a node stops no stream: three Strata nodes on one SeaweedFS store and one Redis feed; ffmpeg
//! pushes a two-rendition live HLS stream to node A, A is SIGKILLed after 10 s and ffmpeg moves to node B
//! (as a load balancer would move it); a reader following the master playlist through node C sees the
//! playlists keep advancing, ffmpeg decodes what C serves, and every segment acknowledged before the
//! kill reads back byte-identical from B and C.

mod common;
#[path = "common/services.rs"]
mod services;

use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use common::{Strata, client, poll_until, run_with_timeout, tail};
use services::{Redis, SeaweedFs, cluster_config};

const SETTLE: Duration = Duration::from_secs(30);

/// The two-rendition live encoder of the ingest tests, writing with segment names tagged `run` so the
/// second encoder never overwrites the first one's segments, numbered from the epoch so the media
/// sequence continues across the move.
fn encoder(s: &Strata, run: &str, seconds: u32) -> (Child, tempfile::NamedTempFile) {
    let stderr = tempfile::NamedTempFile::new().expect("temp file for ffmpeg stderr");
    let child = Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-nostdin", "-re"])
        .args(["-f", "lavfi", "-i", "testsrc=size=640x360:rate=25"])
        .args(["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000"])
        .args(["-t", &seconds.to_string()])
        .args(["-map", "0:v", "-map", "0:v", "-map", "1:a", "-map", "1:a"])
        .args([
            "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p",
        ])
        .args(["-g", "25", "-keyint_min", "25", "-sc_threshold", "0"])
        .args([
            "-filter:v:1",
            "scale=320:180",
            "-b:v:0",
            "800k",
            "-b:v:1",
            "300k",
        ])
        .args(["-c:a", "aac", "-b:a", "96k", "-ac", "2"])
        .args(["-var_stream_map", "v:0,a:0,name:360p v:1,a:1,name:180p"])
        .args(["-master_pl_name", "master.m3u8"])
        .args(["-hls_time", "1", "-hls_list_size", "6"])
        .args(["-hls_start_number_source", "epoch"])
        .arg("-hls_segment_filename")
        .arg(s.url(&format!("/live/ch/{run}_%v_%d.ts")))
        .args(["-method", "PUT", "-f", "hls"])
        .arg(s.url("/live/ch/stream_%v.m3u8"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(stderr.reopen().expect("reopen ffmpeg stderr"))
        .spawn()
        .expect("spawn ffmpeg (the test needs a real ffmpeg on PATH)");
    (child, stderr)
}

fn get(s: &Strata, path: &str) -> (u16, Vec<u8>) {
    let response = s
        .http()
        .get(s.url(path))
        .send()
        .unwrap_or_else(|e| panic!("GET {path}: {e}"));
    (
        response.status().as_u16(),
        response.bytes().expect("body").to_vec(),
    )
}

fn text(s: &Strata, path: &str) -> String {
    let (status, body) = get(s, path);
    assert_eq!(status, 200, "GET {path}");
    String::from_utf8(body).expect("a playlist is text")
}

fn media_sequence(playlist: &str) -> u64 {
    playlist
        .lines()
        .find_map(|l| l.strip_prefix("#EXT-X-MEDIA-SEQUENCE:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

fn segments(playlist: &str) -> Vec<String> {
    playlist
        .lines()
        .filter(|l| l.ends_with(".ts"))
        .map(str::to_owned)
        .collect()
}

#[test]
fn a_live_stream_survives_the_loss_of_its_ingest_node() {
    let weed = SeaweedFs::start();
    let redis = Redis::start();
    let nodes =
        |name: &str| Strata::with_config(&cluster_config(&weed, &redis, "failover", name), &[]);
    let mut a = nodes("a");
    let b = nodes("b");
    let c = nodes("c");

    let (mut first, first_log) = encoder(&a, "a", 60);
    poll_until(SETTLE, "the stream is live on C", || {
        get(&c, "/live/ch/stream_180p.m3u8").0 == 200 && get(&c, "/live/ch/master.m3u8").0 == 200
    });

    // The reader follows the master playlist through C for the whole test.
    let stop = Arc::new(AtomicBool::new(false));
    let seen: Arc<Mutex<Vec<(Instant, u64, u64)>>> = Arc::default();
    let reader = {
        let (stop, seen, base) = (
            Arc::clone(&stop),
            Arc::clone(&seen),
            c.base_url().to_owned(),
        );
        thread::spawn(move || {
            let http = client();
            let get = |path: &str| -> String {
                let response = http
                    .get(format!("{base}/live/ch/{path}"))
                    .send()
                    .expect("GET");
                assert_eq!(response.status().as_u16(), 200, "GET {path} on C");
                response.text().expect("text")
            };
            let mut last = (0, 0);
            while !stop.load(Ordering::Relaxed) {
                let master = get("master.m3u8");
                let variants: Vec<String> = master
                    .lines()
                    .filter(|l| l.ends_with(".m3u8"))
                    .map(str::to_owned)
                    .collect();
                assert_eq!(variants.len(), 2, "master on C:\n{master}");
                let high = media_sequence(&get(&variants[0]));
                let low = media_sequence(&get(&variants[1]));
                assert!(
                    high >= last.0 && low >= last.1,
                    "C's playlists went back: {last:?} then {:?}",
                    (high, low)
                );
                last = (high, low);
                seen.lock().expect("seen").push((Instant::now(), high, low));
                thread::sleep(Duration::from_millis(250));
            }
        })
    };

    // 10 s of ingest on A, then A dies. What A served from its playlists was acknowledged.
    thread::sleep(Duration::from_secs(10));
    let mut acknowledged = Vec::new();
    for variant in ["stream_360p.m3u8", "stream_180p.m3u8"] {
        for segment in segments(&text(&a, &format!("/live/ch/{variant}"))) {
            let body = get(&a, &format!("/live/ch/{segment}"));
            assert_eq!(body.0, 200, "{segment} on A");
            acknowledged.push((segment, body.1));
        }
    }
    assert!(
        acknowledged.len() >= 8,
        "A acknowledged segments: {}",
        acknowledged.len()
    );
    a.sigkill();
    a.kill();
    let _ = first.kill();
    let _ = first.wait();
    let killed_at = Instant::now();
    let at_kill = *seen
        .lock()
        .expect("seen")
        .last()
        .expect("the reader read before the kill");

    // The encoder moves to B.
    let (second, second_log) = encoder(&b, "b", 12);
    let finished = wait_child(second, Duration::from_secs(120));
    let stderr = std::fs::read_to_string(second_log.path()).unwrap_or_default();
    assert!(
        finished,
        "the second encoder failed:\n{}",
        tail(&stderr, 30)
    );
    stop.store(true, Ordering::Relaxed);
    reader
        .join()
        .expect("the reader saw only advancing playlists on C");
    drop(first_log);

    let seen = seen.lock().expect("seen");
    let last = *seen.last().expect("reads");
    assert!(
        last.1 > at_kill.1 && last.2 > at_kill.2,
        "C's playlists advanced after the kill: {at_kill:?} then {last:?}"
    );
    let reads_after_kill = seen.iter().filter(|(at, ..)| *at > killed_at).count();
    assert!(
        reads_after_kill > 10,
        "the reader kept reading: {reads_after_kill}"
    );

    for (segment, body) in &acknowledged {
        for (name, s) in [("B", &b), ("C", &c)] {
            let (status, read) = get(s, &format!("/live/ch/{segment}"));
            assert!(
                status == 200 && &read == body,
                "{segment} on {name}: {status}, {} bytes of {}",
                read.len(),
                body.len()
            );
        }
    }

    let mut decode = Command::new("ffmpeg");
    decode
        .args(["-hide_banner", "-loglevel", "error", "-nostdin", "-i"])
        .arg(c.url("/live/ch/master.m3u8"))
        .args(["-map", "0", "-f", "null", "-"]);
    let (status, _, stderr) = run_with_timeout(decode, Duration::from_secs(120));
    assert!(
        status.success() && stderr.trim().is_empty(),
        "decoding through C failed ({status}):\n{}",
        tail(&stderr, 30)
    );
}

/// Waits for `child` to exit within `timeout` (killing it past that); whether it exited 0.
fn wait_child(mut child: Child, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(status) = child.try_wait().expect("poll ffmpeg") {
            return status.success();
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return false;
        }
        thread::sleep(Duration::from_millis(100));
    }
}
