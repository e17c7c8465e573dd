//! Strata's guest on the real Spin CLI: `spin up` on the built Spin component (objects in Spin's key-value
//! store), with the Strata host's data-plane checks where they apply, blocking reloads that hold, lengths
//! on HEAD and GET, and a real ffmpeg HLS push decoded back.
//!
//! The CLI is `STRATA_SPIN`, else `spin` on `PATH`, else `../shared/tools/spin-4.0.2-linux-x86_64.xz`
//! beside the repository (unpacked into the test's target folder). Without any of them every test here
//! fails with one line saying so: they are not run, and never reported as passed.

mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::playlists::{LIVE, MULTIVARIANT, ll_hls as ll};
use common::{PseudoRandom, client, poll, run_with_timeout, tail};
use reqwest::blocking::Response;

const STARTUP_TIMEOUT: Duration = Duration::from_secs(60);

/// The packed CLI in the shared tools folder, relative to the repository.
const PACKED_SPIN: &str = "../shared/tools/spin-4.0.2-linux-x86_64.xz";

/// The Spin CLI, or a one-line failure saying none was found (found once for all the tests).
fn spin_cli() -> PathBuf {
    static CLI: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    CLI.get_or_init(find_spin_cli).clone()
}

fn find_spin_cli() -> PathBuf {
    if let Some(path) = std::env::var_os("STRATA_SPIN") {
        return PathBuf::from(path);
    }
    if let Some(found) = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join("spin"))
            .find(|p| p.is_file())
    }) {
        return found;
    }
    let repository = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let packed = repository.join(PACKED_SPIN);
    let unpacked = Path::new(env!("CARGO_TARGET_TMPDIR")).join("spin-4.0.2");
    if !unpacked.is_file() {
        assert!(
            packed.is_file(),
            "the Spin tests did not run: no Spin CLI (set STRATA_SPIN, put `spin` on PATH, or provide {PACKED_SPIN})"
        );
        let partial = unpacked.with_extension("partial");
        let file = std::fs::File::create(&partial).expect("create the unpacked Spin CLI");
        let status = Command::new("xz")
            .arg("-dc")
            .arg(&packed)
            .stdout(file)
            .status()
            .expect("run xz (Debian: xz-utils) to unpack the Spin CLI");
        assert!(status.success(), "xz could not unpack {}", packed.display());
        std::fs::set_permissions(
            &partial,
            std::os::unix::fs::PermissionsExt::from_mode(0o755),
        )
        .expect("make the Spin CLI executable");
        std::fs::rename(&partial, &unpacked).expect("move the Spin CLI into place");
    }
    unpacked
}

/// `spin up` serving the Strata component on a free loopback port, with its own key-value store.
struct Spin {
    dir: tempfile::TempDir,
    child: Child,
    base: String,
    http: reqwest::blocking::Client,
}

impl Spin {
    /// Starts it with the guest settings `settings` (the Spin variable, as the README shows).
    fn start(settings: &str) -> Spin {
        let dir = tempfile::Builder::new()
            .prefix("strata-spin-")
            .tempdir()
            .expect("create the Spin app folder");
        std::fs::write(
            dir.path().join("spin.toml"),
            format!(
                r#"spin_manifest_version = 2
[application]
name = "strata"
version = "0.1.0"
[variables]
strata_settings = {{ default = "" }}
[[trigger.http]]
route = "/..."
component = "strata"
[component.strata]
source = {:?}
key_value_stores = ["default"]
[component.strata.variables]
settings = "{{{{ strata_settings }}}}"
"#,
                strata_test_guests::SPIN
            ),
        )
        .expect("write spin.toml");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let log = std::fs::File::create(dir.path().join("spin.log")).expect("spin.log");
        let mut child = Command::new(spin_cli())
            .args(["up", "--listen", &format!("127.0.0.1:{port}"), "-f"])
            .arg(dir.path().join("spin.toml"))
            .current_dir(dir.path())
            .env("SPIN_VARIABLE_STRATA_SETTINGS", settings)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .expect("start spin up");
        let stdout = child.stdout.take().expect("spin's stdout");
        let (tx, rx) = mpsc::channel();
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if line.starts_with("Serving http://") {
                    tx.send(()).ok();
                }
            }
        });
        if rx.recv_timeout(STARTUP_TIMEOUT).is_err() {
            let _ = child.kill();
            let log = std::fs::read_to_string(dir.path().join("spin.log")).unwrap_or_default();
            panic!(
                "spin up did not serve within {STARTUP_TIMEOUT:?}:\n{}",
                tail(&log, 20)
            );
        }
        Spin {
            dir,
            child,
            base: format!("http://127.0.0.1:{port}"),
            http: client(),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn put(&self, path: &str, body: impl Into<Vec<u8>>) -> Response {
        self.http
            .put(self.url(path))
            .body(body.into())
            .send()
            .expect("PUT")
    }

    fn get(&self, path: &str, headers: &[(&str, &str)]) -> Response {
        let mut request = self.http.get(self.url(path));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request.send().expect("GET")
    }

    /// How many keys Spin's key-value store holds.
    fn store_keys(&self) -> usize {
        let db = self.dir.path().join(".spin/sqlite_key_value.db");
        let out = Command::new("python3")
            .arg("-c")
            .arg("import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute('select count(*) from spin_key_value').fetchone()[0])")
            .arg(&db)
            .output()
            .expect("python3 reads Spin's key-value store");
        String::from_utf8_lossy(&out.stdout)
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("count keys: {}", String::from_utf8_lossy(&out.stderr)))
    }
}

impl Drop for Spin {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if thread::panicking() {
            let log = std::fs::read_to_string(self.dir.path().join("spin.log")).unwrap_or_default();
            eprintln!("---- spin up's log ----\n{}", tail(&log, 30));
        }
    }
}

fn header(response: &Response, name: &str) -> String {
    response
        .headers()
        .get(name)
        .map(|v| v.to_str().unwrap_or_default().to_owned())
        .unwrap_or_default()
}

#[test]
fn objects_round_trip_with_lengths_ranges_and_validators() {
    let spin = Spin::start("");
    // 3 MB: several 1 MB key-value chunks.
    let body = PseudoRandom::vec(5, 3_000_000);
    assert_eq!(spin.put("/vod/seg.ts", body.clone()).status().as_u16(), 201);
    assert_eq!(spin.put("/vod/seg.ts", body.clone()).status().as_u16(), 204);

    let whole = spin.get("/vod/seg.ts", &[]);
    assert_eq!(whole.status().as_u16(), 200);
    assert_eq!(header(&whole, "content-length"), body.len().to_string());
    assert_eq!(header(&whole, "transfer-encoding"), "", "not chunked");
    assert_eq!(header(&whole, "content-type"), "video/mp2t");
    assert_eq!(header(&whole, "access-control-allow-origin"), "*");
    assert_eq!(
        header(&whole, "cache-control"),
        "max-age=1209600, immutable"
    );
    let etag = header(&whole, "etag");
    assert_eq!(whole.bytes().expect("body").as_ref(), &body[..]);

    let head = spin
        .http
        .head(spin.url("/vod/seg.ts"))
        .send()
        .expect("HEAD");
    assert_eq!(head.status().as_u16(), 200);
    assert_eq!(header(&head, "content-length"), body.len().to_string());

    // A range across the first chunk boundary, and one past the end.
    let range = spin.get("/vod/seg.ts", &[("range", "bytes=1048570-1048585")]);
    assert_eq!(range.status().as_u16(), 206);
    assert_eq!(header(&range, "content-length"), "16");
    assert_eq!(
        header(&range, "content-range"),
        format!("bytes 1048570-1048585/{}", body.len())
    );
    assert_eq!(
        range.bytes().expect("body").as_ref(),
        &body[1_048_570..1_048_586]
    );
    assert_eq!(
        spin.get("/vod/seg.ts", &[("range", "bytes=9000000-")])
            .status()
            .as_u16(),
        416
    );

    let not_modified = spin.get("/vod/seg.ts", &[("if-none-match", &etag)]);
    assert_eq!(not_modified.status().as_u16(), 304);
    let preflight = spin
        .http
        .request(reqwest::Method::OPTIONS, spin.url("/vod/seg.ts"))
        .header("origin", "https://player.example")
        .header("access-control-request-method", "GET")
        .send()
        .expect("OPTIONS");
    assert!(preflight.status().is_success());
    assert_eq!(header(&preflight, "access-control-allow-origin"), "*");

    assert_eq!(
        spin.http
            .delete(spin.url("/vod/seg.ts"))
            .send()
            .expect("DELETE")
            .status()
            .as_u16(),
        204
    );
    assert_eq!(spin.get("/vod/seg.ts", &[]).status().as_u16(), 404);
    assert_eq!(
        spin.store_keys(),
        0,
        "a deleted object leaves no chunk behind"
    );

    // Over the 64 MiB limit: refused, nothing stored.
    let huge = vec![0u8; (64 << 20) + 1];
    let refused = spin.put("/vod/huge.ts", huge);
    assert_eq!(refused.status().as_u16(), 413);
    assert_eq!(spin.store_keys(), 0);
}

#[test]
fn manifests_are_filtered_time_shifted_signed_and_cached_by_class() {
    let spin = Spin::start("sign:premium/=secret");
    for (path, body) in [
        ("/tv/master.m3u8", MULTIVARIANT),
        ("/tv/hi/index.m3u8", LIVE),
        ("/premium/master.m3u8", MULTIVARIANT),
    ] {
        assert!(spin.put(path, body).status().is_success(), "{path}");
    }
    let live = spin.get("/tv/hi/index.m3u8", &[]);
    assert_eq!(header(&live, "cache-control"), "max-age=2");
    assert_eq!(header(&live, "content-length"), LIVE.len().to_string());
    assert_eq!(live.text().expect("body"), LIVE);

    let filtered = spin.get(
        "/tv/master.m3u8?aws.manifestfilter=video_height%3A0-480",
        &[],
    );
    assert_eq!(filtered.status().as_u16(), 200);
    assert_eq!(header(&filtered, "cache-control"), "max-age=60");
    let text = filtered.text().expect("body");
    assert!(
        text.contains("lo/index.m3u8") && !text.contains("hi/index.m3u8"),
        "{text}"
    );

    let shifted = spin.get("/tv/hi/index.m3u8?start=1714564800&end=1714564808", &[]);
    assert_eq!(shifted.status().as_u16(), 200);
    assert!(
        shifted
            .text()
            .expect("body")
            .ends_with("s11.ts\n#EXT-X-ENDLIST\n")
    );

    assert_eq!(spin.get("/premium/master.m3u8", &[]).status().as_u16(), 403);
    let exp = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs()
        + 300;
    let sig = strata_guest_core::signing::sign(b"secret", "premium/", exp);
    let signed = spin.get(
        &format!("/premium/master.m3u8?st_exp={exp}&st_sig={sig}"),
        &[],
    );
    assert_eq!(signed.status().as_u16(), 200);
    assert!(
        signed
            .text()
            .expect("body")
            .contains(&format!("\nlo/index.m3u8?st_exp={exp}&st_sig={sig}\n"))
    );

    // Overwriting a playlist many times leaves exactly its own keys behind.
    let keys = spin.store_keys();
    for _ in 0..20 {
        spin.put("/tv/hi/index.m3u8", LIVE);
    }
    assert_eq!(spin.store_keys(), keys, "no orphaned chunks");
}

#[test]
fn blocking_reloads_hinted_parts_and_announced_segments_hold_on_spin() {
    let spin = Spin::start("");
    spin.put("/ll/0.0.m4s", "part 0.0");
    spin.put("/ll/index.m3u8", ll(1));

    // A reload for part 0.1 and a GET of the hinted part, both held until the part is published.
    let (tx, rx) = mpsc::channel();
    for path in ["/ll/index.m3u8?_HLS_msn=0&_HLS_part=1", "/ll/0.1.m4s"] {
        let url = spin.url(path);
        let tx = tx.clone();
        thread::spawn(move || {
            let response = client().get(url).send().expect("held GET");
            let status = response.status().as_u16();
            tx.send((path, status, response.text().expect("body"), Instant::now()))
                .ok();
        });
    }
    assert!(
        rx.recv_timeout(Duration::from_millis(500)).is_err(),
        "answered before the part was published"
    );
    spin.put("/ll/0.1.m4s", "part 0.1");
    spin.put("/ll/index.m3u8", ll(2));
    let mut answers: Vec<_> = (0..2)
        .map(|_| rx.recv_timeout(Duration::from_secs(10)).expect("answered"))
        .collect();
    answers.sort_by_key(|a| a.0);
    assert_eq!((answers[0].1, answers[0].2.as_str()), (200, "part 0.1"));
    assert_eq!((answers[1].1, answers[1].2.clone()), (200, ll(2)));

    // A segment a live playlist names is awaited; one of an ended playlist is 404 at once.
    spin.put(
        "/ev/index.m3u8",
        "#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXTINF:1,\nseg0.ts\n#EXTINF:1,\nseg1.ts\n",
    );
    let url = spin.url("/ev/seg1.ts");
    let waiter = thread::spawn(move || {
        let response = client().get(url).send().expect("GET");
        (response.status().as_u16(), response.text().expect("body"))
    });
    spin.put("/ev/seg1.ts", "segment one");
    assert_eq!(
        waiter.join().expect("waiter"),
        (200, "segment one".to_owned())
    );
    spin.put(
        "/vod/index.m3u8",
        "#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXTINF:1,\nseg0.ts\n#EXT-X-ENDLIST\n",
    );
    let ended = spin.get("/vod/seg0.ts", &[]);
    assert_eq!(ended.status().as_u16(), 404);
    assert_ne!(
        header(&ended, "cache-control"),
        "max-age=1",
        "not a held miss"
    );
}

#[test]
fn ffmpeg_pushes_a_live_stream_whose_old_segments_are_deleted_and_that_decodes_back() {
    let spin = Spin::start("");
    // The README's encoder settings for Spin: `Expect: 100-continue` (ffmpeg sends it on its DELETEs too)
    // makes Spin run requests whose client closes without reading the answer, as ffmpeg does.
    let mut push = Command::new("ffmpeg");
    push.args(["-hide_banner", "-loglevel", "error", "-nostdin", "-re"])
        .args(["-f", "lavfi", "-i", "testsrc=size=320x180:rate=25"])
        .args([
            "-t", "10", "-c:v", "libx264", "-preset", "veryfast", "-g", "25",
        ])
        .args(["-f", "hls", "-hls_time", "1", "-hls_list_size", "4"])
        .args(["-hls_flags", "delete_segments", "-method", "PUT"])
        .args(["-headers", "Expect: 100-continue\r\n"])
        .arg(spin.url("/live/s.m3u8"));
    let (status, _, stderr) = run_with_timeout(push, Duration::from_secs(120));
    assert!(
        status.success(),
        "ffmpeg push failed ({status}):\n{}",
        tail(&stderr, 20)
    );
    // ffmpeg exits without reading the answer to its last playlist PUT, so Spin may still be storing it.
    let mut playlist = String::new();
    let ended = poll(Duration::from_secs(15), || {
        playlist = spin.get("/live/s.m3u8", &[]).text().expect("playlist");
        playlist.contains("#EXT-X-ENDLIST")
    });
    assert!(ended, "{playlist}");
    let listed: Vec<&str> = playlist.lines().filter(|l| l.ends_with(".ts")).collect();
    let first: u32 = listed
        .first()
        .and_then(|s| {
            s.trim_start_matches('s')
                .trim_end_matches(".ts")
                .parse()
                .ok()
        })
        .expect("a listed segment");
    // ffmpeg keeps one segment past the window (its hls_delete_threshold); older ones are gone.
    for n in 0..first.saturating_sub(1) {
        assert_eq!(
            spin.get(&format!("/live/s{n}.ts"), &[]).status().as_u16(),
            404,
            "s{n}.ts"
        );
    }
    // Each small object is a record and one chunk: the playlist, the listed segments and the one kept
    // past the window, and nothing else (no orphaned chunk of the playlist's 10 rewrites).
    assert_eq!(spin.store_keys(), 2 * (1 + listed.len() + 1), "{playlist}");

    let mut decode = Command::new("ffmpeg");
    decode
        .args(["-hide_banner", "-loglevel", "error", "-nostdin", "-i"])
        .arg(spin.url("/live/s.m3u8"))
        .args(["-f", "null", "-"]);
    let (status, _, stderr) = run_with_timeout(decode, Duration::from_secs(60));
    assert!(
        status.success() && stderr.trim().is_empty(),
        "decoding from Spin failed ({status}):\n{}",
        tail(&stderr, 20)
    );
}
