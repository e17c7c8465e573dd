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
        &format!("upload_memory_bytes = {BUDGET}\n\n[http]\nbody_idle_timeout_ms = 60000\n"),
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
