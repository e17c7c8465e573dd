//! Objects are readable while their upload streams in: a GET (or a closed Range GET) returns bytes as they
//! arrive and ends with the whole object; an aborted upload aborts its readers' responses; a rule can turn
//! this off for a pattern.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use common::{PseudoRandom, Strata, poll_until};

/// A chunked PUT sent by hand, so the test decides when each chunk leaves.
struct Upload {
    stream: TcpStream,
}

impl Upload {
    fn start(s: &Strata, path: &str) -> Upload {
        let mut stream = TcpStream::connect(s.addr()).expect("connect");
        stream
            .set_write_timeout(Some(Duration::from_secs(10)))
            .expect("write timeout");
        let head = format!(
            "PUT {path} HTTP/1.1\r\nHost: {}\r\nTransfer-Encoding: chunked\r\nContent-Type: video/iso.segment\r\n\r\n",
            s.addr()
        );
        stream.write_all(head.as_bytes()).expect("send head");
        Upload { stream }
    }

    fn send(&mut self, chunk: &[u8]) {
        self.stream
            .write_all(format!("{:x}\r\n", chunk.len()).as_bytes())
            .and_then(|_| self.stream.write_all(chunk))
            .and_then(|_| self.stream.write_all(b"\r\n"))
            .expect("send chunk");
    }

    fn finish(mut self) -> u16 {
        self.stream
            .write_all(b"0\r\n\r\n")
            .expect("send last chunk");
        self.stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .expect("read timeout");
        let mut answer = [0u8; 64];
        let n = self.stream.read(&mut answer).expect("read the answer");
        String::from_utf8_lossy(&answer[..n])
            .split_whitespace()
            .nth(1)
            .and_then(|status| status.parse().ok())
            .expect("a status line")
    }
}

fn wait_until_visible(s: &Strata, path: &str) {
    poll_until(
        Duration::from_secs(10),
        "the upload to become visible",
        || {
            s.http()
                .head(s.url(path))
                .send()
                .is_ok_and(|r| r.status() == 200)
        },
    );
}

/// Reads exactly `n` bytes of a response body.
fn read_exactly(body: &mut impl Read, n: usize) -> Vec<u8> {
    let mut out = vec![0u8; n];
    body.read_exact(&mut out).expect("read the first bytes");
    out
}

#[test]
fn a_reader_follows_the_upload_to_the_end() {
    let s = Strata::start(&[]);
    let body = PseudoRandom::vec(7, 300_000);
    let mut upload = Upload::start(&s, "/live/part1.m4s");
    upload.send(&body[..100_000]);
    wait_until_visible(&s, "/live/part1.m4s");

    let mut whole = s.http().get(s.url("/live/part1.m4s")).send().expect("GET");
    assert_eq!(whole.status(), 200);
    assert!(whole.headers().get("content-length").is_none());
    let mut range = s
        .http()
        .get(s.url("/live/part1.m4s"))
        .header("range", "bytes=99000-199999")
        .send()
        .expect("Range GET");
    assert_eq!(range.status(), 206);
    assert_eq!(
        range.headers()["content-range"].to_str().unwrap(),
        "bytes 99000-199999/*"
    );
    // The first bytes arrive before the upload goes on.
    assert_eq!(read_exactly(&mut whole, 100_000), &body[..100_000]);
    assert_eq!(read_exactly(&mut range, 1000), &body[99_000..100_000]);

    upload.send(&body[100_000..]);
    assert!(matches!(upload.finish(), 201 | 204));
    let mut rest = Vec::new();
    whole.read_to_end(&mut rest).expect("the rest of the body");
    assert_eq!(rest, &body[100_000..]);
    let mut rest = Vec::new();
    range.read_to_end(&mut rest).expect("the rest of the range");
    assert_eq!(rest, &body[100_000..200_000]);

    let after = s
        .http()
        .get(s.url("/live/part1.m4s"))
        .send()
        .expect("GET after");
    assert_eq!(after.headers()["content-length"], "300000");
    assert_eq!(after.bytes().unwrap(), body);
}

#[test]
fn an_aborted_upload_aborts_its_readers() {
    let s = Strata::start(&[]);
    let mut upload = Upload::start(&s, "/live/part2.m4s");
    upload.send(&[1u8; 5000]);
    wait_until_visible(&s, "/live/part2.m4s");
    let mut reader = s.http().get(s.url("/live/part2.m4s")).send().expect("GET");
    assert_eq!(read_exactly(&mut reader, 5000), vec![1u8; 5000]);
    drop(upload);
    let mut rest = Vec::new();
    assert!(
        reader.read_to_end(&mut rest).is_err(),
        "a reader of an aborted upload must fail, it got {} more bytes and a clean end",
        rest.len()
    );
    poll_until(
        Duration::from_secs(10),
        "the aborted upload to vanish",
        || {
            s.http()
                .get(s.url("/live/part2.m4s"))
                .send()
                .is_ok_and(|r| r.status() == 404)
        },
    );
}

#[test]
fn a_rule_can_hide_uploads_until_they_complete() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("strata.toml");
    std::fs::write(
        &config,
        "[[storage.rules]]\npattern = \"private/**\"\nstreaming_reads = false\n",
    )
    .unwrap();
    let s = Strata::start(&["--config", config.to_str().unwrap()]);
    let mut hidden = Upload::start(&s, "/private/a.ts");
    hidden.send(&[2u8; 1000]);
    let mut shown = Upload::start(&s, "/public/a.ts");
    shown.send(&[3u8; 1000]);
    // Once the later upload is visible, the earlier one would be too, if the rule allowed it.
    wait_until_visible(&s, "/public/a.ts");
    let status = s
        .http()
        .head(s.url("/private/a.ts"))
        .send()
        .unwrap()
        .status();
    assert_eq!(status, 404);
    assert_eq!(hidden.finish(), 201);
    assert_eq!(
        s.http()
            .get(s.url("/private/a.ts"))
            .send()
            .unwrap()
            .bytes()
            .unwrap(),
        vec![2u8; 1000]
    );
    drop(shown);
}
