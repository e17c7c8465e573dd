//! End-to-end: every wait a client (or a guest) can cause has a deadline. A guest or plugin sleeping
//! through WASI clocks fails its own request at its wall-clock deadline; silent, idle and surplus
//! connections are closed or kept waiting within their limits, and a slow but steady reader is not; accept failures back off; a stalled upload
//! is aborted and stores nothing; SIGTERM drains parked requests with 503 and discards unfinished uploads.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use common::{Strata, poll_until};

/// Long enough for any deadline these tests set to pass, short of the misbehaving guests' 60 s sleeps.
const BOUND: Duration = Duration::from_secs(20);

/// A TCP connection to the server with a read timeout of [`BOUND`].
fn connect(s: &Strata) -> TcpStream {
    let stream = TcpStream::connect(s.addr()).expect("connect");
    stream.set_read_timeout(Some(BOUND)).expect("read timeout");
    stream
}

/// Reads until the server closes the connection (or [`BOUND`] passes, which fails the test).
fn read_until_closed(stream: &mut TcpStream, what: &str) -> Vec<u8> {
    let mut received = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        match stream.read(&mut chunk) {
            Ok(0) => return received,
            Ok(n) => received.extend_from_slice(&chunk[..n]),
            Err(e) if matches!(e.kind(), std::io::ErrorKind::ConnectionReset) => return received,
            Err(e) => panic!("{what}: the server kept the connection open ({e})"),
        }
    }
}

#[test]
fn a_guest_sleeping_through_wasi_clocks_fails_only_its_own_request() {
    let s = Strata::with_config(
        "[guest]\nwall_deadline_ms = 600\nmax_instances = 4\n",
        &["--handler", strata_test_guests::SLEEPING],
    );
    // Two waves of as many sleepers as there are instance slots: the second finds every slot given back.
    for wave in 0..2 {
        let sleepers: Vec<_> = (0..4)
            .map(|i| {
                let url = s.url(&format!("/misbehave/{wave}/{i}"));
                thread::spawn(move || {
                    let resp = common::client().get(url).send().expect("GET");
                    (resp.status().as_u16(), resp.text().expect("body"))
                })
            })
            .collect();
        for sleeper in sleepers {
            let (status, body) = sleeper.join().expect("sleeper thread");
            assert_eq!(status, 503, "wave {wave}: {body}");
            assert!(body.contains("wall-clock deadline"), "wave {wave}: {body}");
        }
    }
    let fine = s.http().get(s.url("/fine")).send().expect("GET");
    assert_eq!(fine.status().as_u16(), 200);
    assert!(s.metric("strata_guest_failures_total{kind=\"wall_clock\"}") >= 8.0);
}

#[test]
fn a_plugin_sleeping_through_wasi_clocks_fails_its_response_at_its_wall_deadline() {
    let s = Strata::with_config(
        "[[filters]]\npattern = \"live/*.m3u8\"\nplugins = [\"sleepy\"]\n\n[plugins.sleepy]\nwall_deadline_ms = 300\n",
        &[],
    );
    let wasm = std::fs::read(strata_test_guests::SLEEPING_FILTER).expect("read plugin");
    let deployed = s
        .http()
        .put(s.url("/_strata/guests/sleepy"))
        .body(wasm)
        .send()
        .expect("PUT plugin");
    assert_eq!(deployed.status().as_u16(), 200);
    let playlist = "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2,\na.ts\n";
    let put = s
        .http()
        .put(s.url("/live/index.m3u8"))
        .body(playlist)
        .send()
        .expect("PUT");
    assert!(put.status().is_success());
    let slow = s
        .http()
        .get(s.url("/live/index.m3u8?misbehave"))
        .send()
        .expect("GET");
    assert_eq!(slow.status().as_u16(), 502);
    assert!(slow.text().expect("body").contains("wall-clock deadline"));
    let fine = s.http().get(s.url("/live/index.m3u8")).send().expect("GET");
    assert_eq!(fine.text().expect("body"), playlist);
}

#[test]
fn silent_and_idle_http1_connections_are_closed_at_the_header_timeout() {
    let s = Strata::with_config("[http]\nheader_timeout_ms = 500\n", &[]);
    let mut silent = connect(&s);
    read_until_closed(&mut silent, "a connection that sent nothing");
    let mut partial = connect(&s);
    partial
        .write_all(b"GET /x HTTP/1.1\r\nHost: a\r\n")
        .expect("write half a head");
    read_until_closed(&mut partial, "a connection that sent half a request head");
    let mut kept_alive = connect(&s);
    kept_alive
        .write_all(b"GET /x HTTP/1.1\r\nHost: a\r\n\r\n")
        .expect("write a request");
    let answer = read_until_closed(&mut kept_alive, "an idle kept-alive connection");
    assert!(
        answer.starts_with(b"HTTP/1.1 404"),
        "the request was answered before the connection closed"
    );
}

#[test]
fn trickled_heads_are_closed_at_the_header_timeout() {
    let s = Strata::with_config("[http]\nheader_timeout_ms = 500\n", &[]);
    // A byte every 100 ms, faster than the watch checks, until the server closes (or long after a read
    // gives up on it: then `read_until_closed` fails the test).
    let trickle = |stream: &TcpStream| {
        let mut writer = stream.try_clone().expect("clone the stream");
        thread::spawn(move || {
            let started = std::time::Instant::now();
            for byte in b"X-Pad: ".iter().chain(std::iter::repeat(&b'a')) {
                if started.elapsed() > 3 * BOUND || writer.write_all(&[*byte]).is_err() {
                    break;
                }
                thread::sleep(Duration::from_millis(100));
            }
        })
    };
    let mut first = connect(&s);
    first
        .write_all(b"GET /x HTTP/1.1\r\nHost: a\r\n")
        .expect("write the start of a head");
    let trickler = trickle(&first);
    read_until_closed(&mut first, "a first head trickled in");
    let _ = trickler.join();
    let mut second = connect(&s);
    second
        .write_all(b"GET /x HTTP/1.1\r\nHost: a\r\n\r\nGET /x HTTP/1.1\r\nHost: a\r\n")
        .expect("write a request and the start of the next head");
    let trickler = trickle(&second);
    let answer = read_until_closed(&mut second, "a second head trickled in");
    assert!(
        answer.starts_with(b"HTTP/1.1 404"),
        "the first request was answered"
    );
    let _ = trickler.join();
}

#[test]
fn an_idle_http2_connection_is_closed_even_if_it_keeps_pinging() {
    let s = Strata::with_config("[http]\nidle_timeout_ms = 500\n", &[]);
    let mut h2 = connect(&s);
    h2.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
        .expect("write the preface");
    // An empty SETTINGS frame: length 0, type 4, no flags, stream 0.
    h2.write_all(&[0, 0, 0, 4, 0, 0, 0, 0, 0])
        .expect("write SETTINGS");
    // A client that pings every 100 ms and never acknowledges the server's PING after its GOAWAY.
    let mut pinger = h2.try_clone().expect("clone the stream");
    thread::spawn(move || {
        let ping = [0, 0, 8, 6, 0, 0, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8];
        while pinger.write_all(&ping).is_ok() {
            thread::sleep(Duration::from_millis(100));
        }
    });
    let received = read_until_closed(&mut h2, "an idle HTTP/2 connection");
    // The server said goodbye with a GOAWAY frame (type 7) before closing.
    let mut at = 0;
    let mut goaway = false;
    while at + 9 <= received.len() {
        let length =
            u32::from_be_bytes([0, received[at], received[at + 1], received[at + 2]]) as usize;
        goaway |= received[at + 3] == 7;
        at += 9 + length;
    }
    assert!(goaway, "no GOAWAY in {received:?}");
}

#[test]
fn a_client_that_stops_reading_its_answer_is_dropped() {
    let s = Strata::with_config("[http]\nidle_timeout_ms = 500\n", &[]);
    // Far more than loopback socket buffers hold; served from disk in chunks (larger than memory / 8).
    let size = 48 << 20;
    let put = s
        .http()
        .put(s.url("/vod/big.mp4"))
        .body(vec![7u8; size])
        .send()
        .expect("PUT");
    assert!(put.status().is_success());
    let mut reader = connect(&s);
    reader
        .write_all(b"GET /vod/big.mp4 HTTP/1.1\r\nHost: a\r\n\r\n")
        .expect("write the request");
    // The client reads nothing until long after the idle timeout, then finds the answer cut short.
    poll_until(BOUND, "the server gives up on the reader", || {
        s.metric("strata_requests_total{method=\"GET\"}") >= 1.0
    });
    thread::sleep(Duration::from_secs(3));
    let received = read_until_closed(&mut reader, "a reader that stopped reading");
    assert!(
        received.len() < size,
        "the whole {size}-byte answer waited for a client that did not read ({} bytes)",
        received.len()
    );
}

#[test]
fn a_slow_reader_of_an_object_in_memory_is_held_to_the_idle_timeout_not_the_header_timeout() {
    let s = Strata::with_config(
        "[http]\nheader_timeout_ms = 300\nidle_timeout_ms = 1500\n",
        &[],
    );
    // Held in memory, so it leaves as one body frame: only the socket's writes show the client reading.
    let size = 24 << 20;
    let put = s
        .http()
        .put(s.url("/vod/slow.mp4"))
        .body(vec![7u8; size])
        .send()
        .expect("PUT");
    assert!(put.status().is_success());
    let memory_hits = s.metric("strata_tier_hits_total{tier=\"memory\"}");
    let mut reader = connect(&s);
    reader
        .write_all(b"GET /vod/slow.mp4 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
        .expect("write the request");
    // About 8 MB/s: the answer takes some 3 s, ten header timeouts and two idle timeouts, and the socket
    // takes a write every few milliseconds.
    let mut received = Vec::with_capacity(size + 1024);
    let mut chunk = vec![0u8; 64 << 10];
    loop {
        match reader.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => received.extend_from_slice(&chunk[..n]),
            Err(e) => panic!(
                "the slow reader's answer failed after {} bytes: {e}",
                received.len()
            ),
        }
        thread::sleep(Duration::from_millis(8));
    }
    assert!(
        s.metric("strata_tier_hits_total{tier=\"memory\"}") > memory_hits,
        "the object was not served from memory"
    );
    let body_at = received
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a response head")
        + 4;
    assert!(received.starts_with(b"HTTP/1.1 200"));
    assert_eq!(
        received.len() - body_at,
        size,
        "a client reading steadily was cut off"
    );
}

#[test]
fn connections_past_the_cap_wait_for_a_free_slot() {
    let s = Strata::with_config(
        "[http]\nmax_connections = 2\nheader_timeout_ms = 60000\nidle_timeout_ms = 60000\n",
        &[],
    );
    let first = connect(&s);
    let second = connect(&s);
    let (answered, answer) = mpsc::channel();
    let url = s.url("/x");
    thread::spawn(move || {
        let status = common::client()
            .get(url)
            .send()
            .map(|r| r.status().as_u16());
        let _ = answered.send(status.map_err(|e| e.to_string()));
    });
    assert!(
        matches!(
            answer.recv_timeout(Duration::from_millis(1500)),
            Err(mpsc::RecvTimeoutError::Timeout)
        ),
        "a third connection was served while two held both slots"
    );
    drop(first);
    let status = answer
        .recv_timeout(BOUND)
        .expect("answered once a slot freed");
    assert_eq!(status, Ok(404));
    drop(second);
}

#[test]
fn accept_failures_back_off_instead_of_flooding_the_log() {
    let s = Strata::start_under(&["prlimit", "--nofile=96"], &[]);
    let mut held = Vec::new();
    for _ in 0..200 {
        match TcpStream::connect(s.addr()) {
            Ok(stream) => held.push(stream),
            Err(_) => break,
        }
    }
    poll_until(BOUND, "the server reports failed accepts", || {
        s.stderr().contains("accept failed")
    });
    // Two seconds of a listener that cannot accept: a busy loop writes megabytes here.
    thread::sleep(Duration::from_secs(2));
    let log = s.stderr();
    let failures = log.matches("accept failed").count();
    assert!(failures <= 5, "{failures} accept-failure lines in 2 s");
    assert!(log.len() < 64 * 1024, "{} bytes of log", log.len());
    drop(held);
    poll_until(BOUND, "the server serves again", || {
        common::client()
            .get(s.url("/x"))
            .send()
            .is_ok_and(|r| r.status().as_u16() == 404)
    });
}

#[test]
fn a_stalled_upload_is_aborted_stores_nothing_and_fails_its_readers() {
    let s = Strata::with_config("[http]\nbody_idle_timeout_ms = 500\n", &[]);
    let mut upload = connect(&s);
    upload
        .write_all(
            b"PUT /live/stall.ts HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n",
        )
        .expect("start the upload");
    poll_until(BOUND, "the upload is visible", || {
        s.http()
            .head(s.url("/live/stall.ts"))
            .send()
            .is_ok_and(|r| r.status().as_u16() == 200)
    });
    let reader = {
        let url = s.url("/live/stall.ts");
        thread::spawn(move || {
            let resp = common::client().get(url).send().expect("GET");
            resp.bytes().map(|b| b.len()).map_err(|e| e.to_string())
        })
    };
    let answer = read_until_closed(&mut upload, "a stalled upload");
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("nothing was stored"), "{answer}");
    assert!(
        reader.join().expect("reader").is_err(),
        "a reader following the upload saw a complete object"
    );
    let after = s.http().get(s.url("/live/stall.ts")).send().expect("GET");
    assert_eq!(after.status().as_u16(), 404);
    assert!(s.metric("strata_uploads_stalled_total") >= 1.0);
}

#[test]
fn sigterm_answers_parked_requests_and_discards_unfinished_uploads() {
    let mut s = Strata::with_config(
        "[http]\nshutdown_grace_ms = 1500\nbody_idle_timeout_ms = 60000\n",
        &[],
    );
    let put = |path: &str, body: &str| {
        let resp = s
            .http()
            .put(s.url(path))
            .body(body.to_owned())
            .send()
            .expect("PUT");
        assert!(resp.status().is_success(), "PUT {path}");
    };
    put(
        "/live/index.m3u8",
        "#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:10,\nseg1.ts\n#EXTINF:10,\nseg2.ts\n",
    );
    put("/live/seg1.ts", "one");
    // seg2.ts is named but not uploaded: its GET parks for up to a target duration.
    let parked = {
        let url = s.url("/live/seg2.ts");
        thread::spawn(move || {
            let resp = common::client().get(url).send().expect("GET");
            let retry = resp
                .headers()
                .get("retry-after")
                .map(|v| v.to_str().expect("ASCII").to_owned());
            (resp.status().as_u16(), retry)
        })
    };
    let mut upload = connect(&s);
    upload
        .write_all(
            b"PUT /live/partial.ts HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n",
        )
        .expect("start an upload that never ends");
    poll_until(BOUND, "the request is parked", || {
        s.metric("strata_parked_requests") >= 1.0
    });
    s.signal("TERM");
    let (status, retry) = parked.join().expect("parked request");
    assert_eq!(status, 503);
    assert_eq!(retry.as_deref(), Some("1"));
    poll_until(BOUND, "the process exits after its grace", || {
        s.exited().is_some()
    });
    drop(upload);
    s.restart();
    let partial = s.http().get(s.url("/live/partial.ts")).send().expect("GET");
    assert_eq!(
        partial.status().as_u16(),
        404,
        "an unfinished upload was kept"
    );
    let kept = s.http().get(s.url("/live/seg1.ts")).send().expect("GET");
    assert_eq!(kept.text().expect("body"), "one");
}
