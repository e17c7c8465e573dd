//! HTTPS on the listener with a certificate made at test time: ALPN gives HTTP/2 to clients that offer it
//! and HTTP/1.1 to the rest, uploads and reads round-trip over both, an LL-HLS blocking reload is answered
//! over TLS + h2, and clients that fail their handshake (plain HTTP, a stalled handshake, an untrusting
//! client) leave the server serving everyone else. SIGHUP serves a renewed certificate without a restart.

mod common;

use std::io::Read;
use std::net::TcpStream;
use std::path::PathBuf;
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use common::{PseudoRandom, Strata, poll_until};
use reqwest::Version;

/// Bound on every condition these tests wait for.
const WAIT: Duration = Duration::from_secs(20);

/// A self-signed certificate for 127.0.0.1 and localhost, written as PEM files.
struct Certificate {
    _dir: tempfile::TempDir,
    pem: String,
    cert: PathBuf,
    key: PathBuf,
}

impl Certificate {
    fn new() -> Certificate {
        let dir = tempfile::tempdir().expect("temp dir for the certificate");
        let certified =
            rcgen::generate_simple_self_signed(vec!["127.0.0.1".into(), "localhost".into()])
                .expect("generate a self-signed certificate");
        let pem = certified.cert.pem();
        let cert = dir.path().join("cert.pem");
        let key = dir.path().join("key.pem");
        std::fs::write(&cert, &pem).expect("write cert.pem");
        std::fs::write(&key, certified.signing_key.serialize_pem()).expect("write key.pem");
        Certificate {
            _dir: dir,
            pem,
            cert,
            key,
        }
    }

    /// A client trusting only this certificate: offering `h2` and `http/1.1` through ALPN, or, with
    /// `http1_only`, `http/1.1` alone.
    fn client(&self, http1_only: bool) -> reqwest::blocking::Client {
        let root = reqwest::Certificate::from_pem(self.pem.as_bytes()).expect("parse the PEM");
        let builder = reqwest::blocking::Client::builder()
            .use_rustls_tls()
            .tls_built_in_root_certs(false)
            .add_root_certificate(root)
            .connect_timeout(Duration::from_secs(5))
            .timeout(WAIT)
            .no_proxy();
        let builder = if http1_only {
            builder.http1_only()
        } else {
            builder
        };
        builder.build().expect("build the TLS client")
    }
}

/// `strata serve` with `cert`'s files, its harness client trusting them.
fn start(cert: &Certificate) -> Strata {
    let (c, k) = (path(&cert.cert), path(&cert.key));
    let mut s = Strata::start(&["--tls-cert", c, "--tls-key", k]);
    assert!(s.base_url().starts_with("https://"), "{}", s.base_url());
    s.use_client(cert.client(false));
    s
}

fn path(p: &std::path::Path) -> &str {
    p.to_str().expect("utf-8 temp path")
}

/// PUTs `body` at `path`, asserting success and the protocol version.
fn put(
    client: &reqwest::blocking::Client,
    s: &Strata,
    path: &str,
    body: Vec<u8>,
    version: Version,
) {
    let response = client.put(s.url(path)).body(body).send().expect("PUT");
    assert!(
        response.status().is_success(),
        "PUT {path}: {}",
        response.status()
    );
    assert_eq!(response.version(), version, "PUT {path}");
}

/// GETs `path`, asserting 200 and the protocol version; returns the body.
fn get(client: &reqwest::blocking::Client, s: &Strata, path: &str, version: Version) -> Vec<u8> {
    let response = client.get(s.url(path)).send().expect("GET");
    assert_eq!(response.status(), 200, "GET {path}");
    assert_eq!(response.version(), version, "GET {path}");
    response.bytes().expect("read body").to_vec()
}

#[test]
fn alpn_gives_http2_to_clients_that_offer_it_and_http1_to_the_rest() {
    let cert = Certificate::new();
    let s = start(&cert);
    let (h2, h1) = (cert.client(false), cert.client(true));
    // Larger than HTTP/2's initial flow-control windows, so both directions need WINDOW_UPDATEs.
    let segment = PseudoRandom::vec(7, 300_000);
    put(&h2, &s, "/vod/seg1.ts", segment.clone(), Version::HTTP_2);
    assert!(get(&h2, &s, "/vod/seg1.ts", Version::HTTP_2) == segment);
    assert!(get(&h1, &s, "/vod/seg1.ts", Version::HTTP_11) == segment);
    let other = PseudoRandom::vec(8, 70_000);
    put(&h1, &s, "/vod/seg2.ts", other.clone(), Version::HTTP_11);
    assert!(get(&h2, &s, "/vod/seg2.ts", Version::HTTP_2) == other);
}

/// A live playlist of `segments` complete segments of 4 s that allows blocking reloads.
fn playlist(segments: u64) -> String {
    let mut text = "#EXTM3U\n#EXT-X-VERSION:9\n#EXT-X-TARGETDURATION:4\n\
                    #EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES\n#EXT-X-MEDIA-SEQUENCE:0\n"
        .to_string();
    for msn in 0..segments {
        text.push_str(&format!("#EXTINF:4.000,\nseg{msn}.m4s\n"));
    }
    text
}

#[test]
fn a_blocking_playlist_reload_is_answered_over_tls_and_h2() {
    let cert = Certificate::new();
    let s = start(&cert);
    let h2 = cert.client(false);
    put(
        &h2,
        &s,
        "/live/index.m3u8",
        playlist(3).into_bytes(),
        Version::HTTP_2,
    );
    let (tx, rx) = mpsc::channel();
    let url = s.url("/live/index.m3u8?_HLS_msn=3");
    let waiter = {
        let player = cert.client(false);
        thread::spawn(move || {
            let response = player.get(url).send().expect("blocking GET");
            tx.send(()).ok();
            let version = response.version();
            (
                response.status().as_u16(),
                version,
                response.text().expect("body"),
            )
        })
    };
    poll_until(WAIT, "the blocking reload to be parked", || {
        s.metric("strata_parked_requests") >= 1.0
    });
    assert!(
        rx.try_recv().is_err(),
        "answered before segment 3 was published"
    );
    put(
        &h2,
        &s,
        "/live/index.m3u8",
        playlist(4).into_bytes(),
        Version::HTTP_2,
    );
    let (status, version, body) = waiter.join().expect("waiter");
    assert_eq!(status, 200, "{body}");
    assert_eq!(version, Version::HTTP_2);
    assert!(body.contains("seg3.m4s"), "{body}");
}

#[test]
fn failed_handshakes_leave_the_server_serving_others() {
    let cert = Certificate::new();
    let s = start(&cert);
    let tls = cert.client(false);
    put(&tls, &s, "/vod/a.ts", b"segment".to_vec(), Version::HTTP_2);
    // A client that connects and never starts its handshake holds no one up.
    let stalled = TcpStream::connect(s.addr()).expect("connect");
    assert_eq!(get(&tls, &s, "/vod/a.ts", Version::HTTP_2), b"segment");
    // Plain HTTP on the TLS port is no HTTP exchange: the server drops it without an HTTP answer.
    let plain = common::client()
        .get(format!("http://{}/vod/a.ts", s.addr()))
        .send();
    assert!(plain.is_err(), "plain HTTP got an answer: {plain:?}");
    let mut raw = TcpStream::connect(s.addr()).expect("connect");
    raw.set_read_timeout(Some(WAIT)).expect("read timeout");
    std::io::Write::write_all(&mut raw, b"GET /vod/a.ts HTTP/1.1\r\nHost: x\r\n\r\n")
        .expect("write plain request");
    let mut answer = Vec::new();
    let _ = raw.read_to_end(&mut answer);
    assert!(
        !answer.starts_with(b"HTTP/"),
        "{:?}",
        String::from_utf8_lossy(&answer)
    );
    // A client that does not trust the certificate aborts its handshake.
    let untrusting = reqwest::blocking::Client::builder()
        .use_rustls_tls()
        .tls_built_in_root_certs(false)
        .timeout(WAIT)
        .no_proxy()
        .build()
        .expect("client");
    assert!(untrusting.get(s.url("/vod/a.ts")).send().is_err());
    // New connections after all of them are served.
    assert_eq!(
        get(&cert.client(true), &s, "/vod/a.ts", Version::HTTP_11),
        b"segment"
    );
    assert_eq!(
        get(&cert.client(false), &s, "/vod/a.ts", Version::HTTP_2),
        b"segment"
    );
    drop(stalled);
}

#[test]
fn sighup_serves_a_renewed_certificate_and_keeps_it_when_a_renewal_is_broken() {
    let first = Certificate::new();
    let s = start(&first);
    let health = s.url("/_strata/health");
    let answers = |cert: &Certificate| cert.client(false).get(&health).send().is_ok();
    assert!(answers(&first));
    // Renewed in place, as an ACME client does, then signalled.
    let renewed = Certificate::new();
    std::fs::copy(&renewed.cert, &first.cert).expect("renew the certificate");
    std::fs::copy(&renewed.key, &first.key).expect("renew the key");
    s.signal("HUP");
    poll_until(WAIT, "the renewed certificate to be served", || {
        answers(&renewed)
    });
    assert!(!answers(&first), "the old certificate is still served");
    // A broken renewal is refused and the current certificate keeps serving.
    std::fs::write(&first.key, "not a key\n").expect("break the key");
    s.signal("HUP");
    poll_until(WAIT, "the failed reload to be logged", || {
        s.stderr().contains("TLS certificate reload failed")
    });
    assert!(answers(&renewed));
}

#[test]
fn one_sighup_renews_the_certificate_and_reopens_the_rotated_access_log() {
    let first = Certificate::new();
    let logs = tempfile::tempdir().expect("log dir");
    let file = logs.path().join("access.log");
    let config = format!("[log]\naccess = \"json\"\naccess_file = {file:?}\n");
    let (c, k) = (path(&first.cert), path(&first.key));
    let mut s = Strata::with_config(&config, &["--tls-cert", c, "--tls-key", k]);
    s.use_client(first.client(false));
    let logged = |file: &std::path::Path, path: &str| {
        std::fs::read_to_string(file)
            .unwrap_or_default()
            .contains(&format!("\"path\":\"{path}\""))
    };
    assert_eq!(
        s.http()
            .get(s.url("/before.ts"))
            .send()
            .expect("GET")
            .status(),
        404
    );
    poll_until(WAIT, "the first line", || logged(&file, "/before.ts"));
    // logrotate renames the file away, the certificate is renewed in place, then one SIGHUP.
    let rotated = logs.path().join("access.log.1");
    std::fs::rename(&file, &rotated).expect("rotate the log");
    let renewed = Certificate::new();
    std::fs::copy(&renewed.cert, &first.cert).expect("renew the certificate");
    std::fs::copy(&renewed.key, &first.key).expect("renew the key");
    s.signal("HUP");
    let after = renewed.client(false);
    poll_until(WAIT, "the renewed certificate and a new log file", || {
        let _ = after.get(s.url("/after.ts")).send();
        logged(&file, "/after.ts")
    });
    assert!(logged(&rotated, "/before.ts"));
    assert!(
        !logged(&rotated, "/after.ts"),
        "a line after the reopen reached the old file"
    );
}
