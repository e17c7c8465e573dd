//! End-to-end: memory held by uploads in progress (their hot copies and the chunks kept for readers) counts
//! against `upload_memory_bytes`; past it a new upload answers 503 with `Retry-After`, the metrics show it,
//! and the budget comes back when the stalled uploads end.

mod common;

use std::io::Write;
use std::net::TcpStream;
use std::time::Duration;

use common::{Strata, poll_until};

const BOUND: Duration = Duration::from_secs(30);
const BUDGET: u64 = 4 << 20;

/// Starts a chunked PUT of `key` sending `bytes` of body, then leaves it open (stalled): the last chunk
/// that would end the body is never sent.
fn stalled_upload(s: &Strata, key: &str, bytes: usize) -> TcpStream {
    let mut stream = TcpStream::connect(s.addr()).expect("connect");
    let head = format!("PUT /{key} HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n");
    stream.write_all(head.as_bytes()).expect("write head");
    let body = common::chunked(&vec![0x47; bytes], 64 * 1024);
    let unterminated = &body[..body.len() - b"0\r\n\r\n".len()];
    stream.write_all(unterminated).expect("write body");
    stream
}

#[test]
fn uploads_past_the_memory_budget_are_refused_until_memory_comes_back() {
    let s = Strata::with_config(
        &format!(
            "upload_memory_bytes = {BUDGET}\nmax_object_bytes = {}\n\n[http]\nbody_idle_timeout_ms = 60000\n",
            BUDGET / 2
        ),
        &[],
    );
    let uploads_bytes = || s.metric("strata_tier_bytes{tier=\"uploads\"}");
    assert_eq!(
        s.metric("strata_tier_budget_bytes{tier=\"uploads\"}"),
        BUDGET as f64
    );
    let mut stalled = Vec::new();
    let mut refused = None;
    for i in 0..12 {
        let before = uploads_bytes();
        let resp = common::raw_http(
            s.addr(),
            format!("PUT /live/probe{i}.ts HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nConnection: close\r\n\r\nx")
                .as_bytes(),
        );
        if resp.status == 503 {
            refused = Some(resp);
            break;
        }
        assert_eq!(resp.status, 201, "probe {i}");
        let mut upload = stalled_upload(&s, &format!("live/stalled{i}.ts"), 1 << 20);
        upload.flush().expect("flush");
        stalled.push(upload);
        poll_until(BOUND, "the stalled upload's bytes are counted", || {
            uploads_bytes() >= before + (1 << 20) as f64
        });
    }
    let refused = refused.expect("uploads past the budget were never refused");
    assert_eq!(refused.header("retry-after"), Some("1"));
    assert!(
        String::from_utf8_lossy(&refused.body).contains("upload memory budget"),
        "{:?}",
        String::from_utf8_lossy(&refused.body)
    );
    assert!(s.metric("strata_uploads_refused_total") >= 1.0);
    drop(stalled);
    poll_until(BOUND, "memory held by aborted uploads comes back", || {
        uploads_bytes() == 0.0
    });
    let resp = s
        .http()
        .put(s.url("/live/after.ts"))
        .body(vec![0x47; 1000])
        .send()
        .expect("PUT");
    assert_eq!(resp.status().as_u16(), 201);
}

#[test]
fn an_upload_that_outgrows_the_budget_fails_instead_of_holding_more() {
    let s = Strata::with_config(
        &format!(
            "upload_memory_bytes = {BUDGET}\nmax_object_bytes = {}\n\n[http]\nbody_idle_timeout_ms = 60000\n",
            BUDGET / 2
        ),
        &[],
    );
    let uploads_bytes = || s.metric("strata_tier_bytes{tier=\"uploads\"}");
    // 1.5 MiB held twice (hot copy and readers' chunks): 3 of the 4 MiB.
    let first = stalled_upload(&s, "live/first.ts", 3 << 19);
    poll_until(BOUND, "the first upload is held", || {
        uploads_bytes() >= (3 << 20) as f64
    });
    // The second is admitted, gives up its hot copy, then cannot keep its chunks: it fails.
    let mut second = b"PUT /live/second.ts HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n".to_vec();
    second.extend_from_slice(&common::chunked(&vec![0x47; 3 << 19], 64 * 1024));
    let answer = common::raw_http(s.addr(), &second);
    assert_eq!(
        answer.status,
        503,
        "{:?}",
        String::from_utf8_lossy(&answer.body)
    );
    assert!(uploads_bytes() <= BUDGET as f64);
    let missing = s.http().get(s.url("/live/second.ts")).send().expect("GET");
    assert_eq!(missing.status().as_u16(), 404);
    drop(first);
}

#[test]
fn a_reader_that_does_not_read_cannot_hold_the_budget_after_the_upload_ends() {
    let s = Strata::with_config(
        &format!(
            "upload_memory_bytes = {BUDGET}\nmax_object_bytes = {}\n\n[http]\nbody_idle_timeout_ms = 60000\nidle_timeout_ms = 60000\n",
            BUDGET / 2
        ),
        &[],
    );
    let uploads_bytes = || s.metric("strata_tier_bytes{tier=\"uploads\"}");
    let mut upload = stalled_upload(&s, "live/pinned.ts", 1 << 20);
    poll_until(BOUND, "the upload is held", || {
        uploads_bytes() >= (1 << 20) as f64
    });
    // A reader follows the upload and never reads a byte.
    let mut reader = TcpStream::connect(s.addr()).expect("connect");
    reader
        .write_all(b"GET /live/pinned.ts HTTP/1.1\r\nHost: a\r\n\r\n")
        .expect("write the request");
    upload.write_all(b"0\r\n\r\n").expect("end the upload");
    poll_until(BOUND, "the completed upload leaves the account", || {
        uploads_bytes() == 0.0
    });
    let resp = s
        .http()
        .put(s.url("/live/next.ts"))
        .body(vec![0x47; 1000])
        .send()
        .expect("PUT");
    assert_eq!(resp.status().as_u16(), 201);
    drop(reader);
}
