//! Redundant ingest end to end: two real ffmpeg encoders push the same live source to the two inputs of a
//! `[[live.redundant]]` route, one is killed mid-stream, and a reader of the served folder sees playlists
//! that keep advancing across the switch; the segments served across it decode with ffmpeg without error.

mod common;

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::{Strata, poll_until, run_with_timeout, tail};

const CONFIG: &str =
    "[[live.redundant]]\nserve = \"live/ch1/\"\ninputs = [\"live/ch1-a/\", \"live/ch1-b/\"]\n";
const SERVED: &str = "/live/ch1/index.m3u8";
/// The longest a switch may take: 1.5 target durations of 1 s, a second of slack, and a slow machine.
const SWITCH_TIMEOUT: Duration = Duration::from_secs(20);
const DECODE_TIMEOUT: Duration = Duration::from_secs(30);

/// A live encoder pushing 1 s HLS segments of a test pattern to `input`; killed when dropped.
struct Encoder(Child);

impl Encoder {
    fn start(s: &Strata, input: &str, extra: &[&str]) -> Encoder {
        let child = Command::new("ffmpeg")
            .args(["-hide_banner", "-loglevel", "error", "-nostdin", "-re"])
            .args([
                "-f",
                "lavfi",
                "-i",
                "testsrc=size=320x180:rate=25",
                "-t",
                "90",
            ])
            .args([
                "-c:v",
                "libx264",
                "-preset",
                "ultrafast",
                "-pix_fmt",
                "yuv420p",
            ])
            .args(["-g", "25", "-keyint_min", "25", "-sc_threshold", "0", "-an"])
            .args([
                "-hls_time",
                "1",
                "-hls_list_size",
                "5",
                "-hls_flags",
                "delete_segments",
            ])
            .args(extra)
            .args(["-method", "PUT", "-f", "hls"])
            .arg(s.url(&format!("/{input}index.m3u8")))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("ffmpeg is not on PATH: this test needs a real ffmpeg; it does not skip");
        Encoder(child)
    }

    /// Stops the encoder abruptly, as a crash would: no last playlist, no `EXT-X-ENDLIST`.
    fn kill(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for Encoder {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A reader of the served playlist that checks, on every read, that its numbers never go back.
#[derive(Default)]
struct Reader {
    media_sequence: u64,
    discontinuity_sequence: u64,
    reads: usize,
}

impl Reader {
    /// The served playlist now (`None` while there is none yet), checked against the previous read.
    fn read(&mut self, s: &Strata) -> Option<String> {
        let resp = s
            .http()
            .get(s.url(SERVED))
            .send()
            .expect("GET the served playlist");
        if resp.status() == 404 && self.reads == 0 {
            return None;
        }
        assert_eq!(resp.status(), 200, "GET {SERVED}");
        let text = resp.text().expect("playlist text");
        let media_sequence = number(&text, "#EXT-X-MEDIA-SEQUENCE:");
        let discontinuity_sequence = number(&text, "#EXT-X-DISCONTINUITY-SEQUENCE:");
        assert!(
            media_sequence >= self.media_sequence
                && discontinuity_sequence >= self.discontinuity_sequence,
            "the served numbers went back from {} / {}:\n{text}",
            self.media_sequence,
            self.discontinuity_sequence
        );
        self.media_sequence = media_sequence;
        self.discontinuity_sequence = discontinuity_sequence;
        self.reads += 1;
        Some(text)
    }
}

fn number(text: &str, tag: &str) -> u64 {
    text.lines()
        .find_map(|l| l.strip_prefix(tag))
        .map_or(0, |v| v.trim().parse().expect("a number"))
}

fn uris(text: &str) -> Vec<&str> {
    text.lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect()
}

/// Runs a channel on two encoders (`extra` ffmpeg options; `b_later`: the second starts once the first
/// has served 4 segments), kills the current one, and returns the served playlist that spans the switch after
/// checking the stream goes on past it and that its segments, downloaded as served, decode.
fn switch_over(extra: &[&str], b_later: bool) -> String {
    let s = Strata::with_config(CONFIG, &[]);
    let mut reader = Reader::default();
    let mut a = Encoder::start(&s, "live/ch1-a/", extra);
    let mut b = (!b_later).then(|| Encoder::start(&s, "live/ch1-b/", extra));
    poll_until(
        SWITCH_TIMEOUT,
        "4 segments served from the first input",
        || reader.read(&s).is_some_and(|t| uris(&t).len() >= 4),
    );
    let b = b.get_or_insert_with(|| Encoder::start(&s, "live/ch1-b/", extra));
    poll_until(SWITCH_TIMEOUT, "the second input's playlist", || {
        let input = s
            .http()
            .get(s.url("/live/ch1-b/index.m3u8"))
            .send()
            .expect("GET");
        input.status() == 200 && uris(&input.text().unwrap_or_default()).len() >= 2
    });
    // The first input to write a playlist became current; kill that one.
    let before = reader.read(&s).expect("served");
    let current = &uris(&before)[0][..3];
    let other = if current == "@1/" { "@2/" } else { "@1/" };
    assert!(
        uris(&before).iter().all(|u| u.starts_with(current)),
        "{before}"
    );
    hostile_requests(&s, uris(&before)[0]);
    if current == "@1/" {
        a.kill();
    } else {
        b.kill();
    }
    let mut spanning = String::new();
    poll_until(
        SWITCH_TIMEOUT,
        "a served playlist spanning the switch",
        || {
            let text = reader.read(&s).expect("served");
            let found = uris(&text).iter().any(|u| u.starts_with(current))
                && uris(&text).iter().any(|u| u.starts_with(other));
            if found {
                spanning = text;
            }
            found
        },
    );
    // Download the segments as served now (the encoders delete old ones), then decode them in order.
    let dir = tempfile::tempdir().expect("temp dir");
    let mut local = String::new();
    for line in spanning.lines() {
        if line.is_empty() || line.starts_with('#') {
            local.push_str(line);
        } else {
            let resp = s
                .http()
                .get(s.url(&format!("/live/ch1/{line}")))
                .send()
                .expect("GET");
            assert_eq!(resp.status(), 200, "served segment {line}");
            let name = line.replace(['/', '@'], "_");
            std::fs::write(dir.path().join(&name), resp.bytes().expect("body")).expect("write");
            local.push_str(&name);
        }
        local.push('\n');
    }
    local.push_str("#EXT-X-ENDLIST\n");
    let playlist = dir.path().join("spanning.m3u8");
    std::fs::write(&playlist, &local).expect("write playlist");
    let last = uris(&spanning).last().map(|u| (*u).to_owned());
    poll_until(
        SWITCH_TIMEOUT,
        "the served playlist advancing after the switch",
        || {
            let text = reader.read(&s).expect("served");
            uris(&text).last().map(|u| (*u).to_owned()) != last
        },
    );
    a.kill();
    b.kill();

    let mut decode = Command::new("ffmpeg");
    decode
        .args(["-hide_banner", "-v", "error", "-nostdin", "-i"])
        .arg(&playlist)
        .args(["-f", "null", "-"]);
    let (status, _, stderr) = run_with_timeout(decode, DECODE_TIMEOUT);
    assert!(
        status.success() && stderr.trim().is_empty(),
        "decoding the segments served across the switch failed ({status}):\n{}\n--- playlist ---\n{spanning}",
        tail(&stderr, 30)
    );
    spanning
}

/// What a client may try under `serve`: writes, an input that does not exist, an escaped input tag, a
/// climb out of the input, HEAD.
fn hostile_requests(s: &Strata, segment: &str) {
    let status = |method: reqwest::Method, path: &str| {
        s.http()
            .request(method, s.url(path))
            .body("x")
            .send()
            .expect("request")
            .status()
            .as_u16()
    };
    assert_eq!(
        status(reqwest::Method::PUT, SERVED),
        405,
        "writes go to the inputs"
    );
    assert_eq!(status(reqwest::Method::DELETE, "/live/ch1/@1/x.ts"), 405);
    assert_eq!(status(reqwest::Method::GET, "/live/ch1/@9/x.ts"), 404);
    let climb = status(reqwest::Method::GET, "/live/ch1/@1/%2e%2e/ch1-b/index.m3u8");
    assert!(
        (400..500).contains(&climb),
        "a climb out of the input: {climb}"
    );
    let escaped = segment.replacen('@', "%40", 1);
    assert_eq!(
        status(reqwest::Method::GET, &format!("/live/ch1/{escaped}")),
        200
    );
    let head = s.http().head(s.url(SERVED)).send().expect("HEAD");
    assert_eq!(head.status(), 200);
    assert!(
        head.headers()
            .get("content-length")
            .is_some_and(|l| l != "0"),
        "{head:?}"
    );
}

#[test]
fn encoders_numbering_from_their_own_start_switch_with_a_discontinuity() {
    let spanning = switch_over(&[], true);
    assert!(
        spanning.contains("#EXT-X-DISCONTINUITY\n"),
        "the switch is marked:\n{spanning}"
    );
}

#[test]
fn epoch_locked_encoders_switch_without_a_discontinuity() {
    let spanning = switch_over(&["-hls_start_number_source", "epoch"], false);
    assert!(
        !spanning.contains("DISCONTINUITY"),
        "locked encoders continue the numbering:\n{spanning}"
    );
}
