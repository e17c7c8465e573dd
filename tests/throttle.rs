//! Throttling (`[[limits]]`, decision 0058) against the real binary: one client address flooding reads
//! gets 429 with `Retry-After` while another address is served, HTTP/2 streams share their client's burst
//! exactly, writes are counted per ingest credential, response bytes are charged, chunked upload bytes are
//! charged as they arrive even when the upload fails, a refused upload waiting for `100 Continue` is not
//! asked for its body, a parked LL-HLS blocking reload is counted once however often it wakes, and bad
//! rules are named by `strata check-config`. Two clients are two loopback source addresses (127.0.0.1 and
//! 127.0.0.2).

mod common;

use std::net::{IpAddr, Ipv4Addr};
use std::process::Command;
use std::thread;
use std::time::{Duration, Instant};

use common::{Strata, poll_until, run_with_timeout, strata_bin};

/// A client whose connections come from `address`.
fn client_from(address: [u8; 4]) -> reqwest::blocking::Client {
    builder_from(address)
        .build()
        .expect("build a client bound to a loopback address")
}

/// The settings of a client whose connections come from `address`.
fn builder_from(address: [u8; 4]) -> reqwest::blocking::ClientBuilder {
    reqwest::blocking::Client::builder()
        .local_address(IpAddr::V4(Ipv4Addr::from(address)))
        .connect_timeout(Duration::from_secs(5))
        .timeout(common::REQUEST_TIMEOUT)
        .no_proxy()
}

const FLOODER: [u8; 4] = [127, 0, 0, 1];
const NEIGHBOUR: [u8; 4] = [127, 0, 0, 2];

/// A 429's `Retry-After` in seconds, after checking the rest of the refusal: a one-line reason.
fn refusal(response: reqwest::blocking::Response) -> u64 {
    assert_eq!(response.status().as_u16(), 429);
    let retry_after = response
        .headers()
        .get("retry-after")
        .expect("a 429 carries Retry-After")
        .to_str()
        .expect("ASCII Retry-After")
        .parse()
        .expect("Retry-After in whole seconds");
    let reason = response.text().expect("read the reason");
    assert_eq!(reason.lines().count(), 1, "one-line reason: {reason:?}");
    assert!(reason.contains("too many requests"), "{reason}");
    retry_after
}

fn put(s: &Strata, path: &str, body: impl Into<reqwest::blocking::Body>) {
    let status = s
        .http()
        .put(s.url(path))
        .body(body)
        .send()
        .expect("PUT")
        .status();
    assert!(status.is_success(), "PUT {path}: {status}");
}

#[test]
fn a_flooding_address_gets_429_and_another_address_is_unaffected() {
    let s = Strata::with_config(
        "[[limits]]\nname = \"reads\"\npattern = \"live/**\"\napplies_to = \"reads\"\n\
         requests_per_second = 1\nburst = 4\n",
        &[],
    );
    put(&s, "/live/seg1.ts", vec![7u8; 1000]);
    let (flooder, neighbour) = (client_from(FLOODER), client_from(NEIGHBOUR));
    let started = Instant::now();
    let (mut served, mut refused) = (0u32, 0u32);
    for i in 0..40 {
        let response = flooder
            .get(s.url("/live/seg1.ts"))
            .send()
            .expect("flooder GET");
        if response.status().is_success() {
            served += 1;
        } else {
            let retry_after = refusal(response);
            // At one request a second, a token is never more than a second away.
            assert_eq!(retry_after, 1);
            refused += 1;
        }
        if i % 10 == 0 {
            let response = neighbour
                .get(s.url("/live/seg1.ts"))
                .send()
                .expect("neighbour GET");
            assert_eq!(
                response.status().as_u16(),
                200,
                "the neighbour was throttled"
            );
            assert_eq!(response.bytes().expect("body").len(), 1000);
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    assert!(refused > 0, "40 requests at burst 4 were never refused");
    assert!(
        f64::from(served) <= 4.0 + elapsed.ceil() + 1.0,
        "{served} requests served in {elapsed:.1}s at 1/s with a burst of 4"
    );
    assert_eq!(
        s.metric("strata_requests_throttled_total{rule=\"reads\"}"),
        f64::from(refused)
    );
    // Most of those were answered by a remembered decision, and still counted: the bound above held.
    assert!(s.metric("strata_decision_cache_hits_total") > 0.0);
    // The rule sees the decoded key, as the guest does: an encoded path is the same key and the same bucket.
    let encoded = flooder
        .get(s.url("/%6Cive/seg1%2Ets"))
        .send()
        .expect("GET of the encoded path");
    refusal(encoded);
    // Keys outside the rule's pattern, and writes, are not counted.
    put(&s, "/vod/a.ts", vec![1u8; 10]);
    let outside = flooder.get(s.url("/vod/a.ts")).send().expect("GET vod");
    assert_eq!(outside.status().as_u16(), 200);
}

#[test]
fn many_http2_streams_on_one_connection_share_one_burst_exactly() {
    let s = Strata::with_config(
        "[[limits]]\nname = \"reads\"\npattern = \"live/**\"\napplies_to = \"reads\"\n\
         requests_per_second = 0.001\nburst = 4\n",
        &[],
    );
    put(&s, "/live/seg1.ts", vec![7u8; 1000]);
    // h2c with prior knowledge: 24 streams at once, multiplexed by the client over its connection.
    let h2 = builder_from(FLOODER)
        .http2_prior_knowledge()
        .build()
        .expect("build the HTTP/2 client");
    let url = s.url("/live/seg1.ts");
    let statuses: Vec<u16> = thread::scope(|scope| {
        let streams: Vec<_> = (0..24)
            .map(|_| scope.spawn(|| h2.get(&url).send().expect("h2 GET").status().as_u16()))
            .collect();
        streams
            .into_iter()
            .map(|stream| stream.join().expect("stream"))
            .collect()
    });
    assert_eq!(statuses.iter().filter(|&&status| status == 200).count(), 4);
    assert_eq!(statuses.iter().filter(|&&status| status == 429).count(), 20);
    assert_eq!(
        s.metric("strata_requests_throttled_total{rule=\"reads\"}"),
        20.0
    );
}

#[test]
fn writes_are_counted_per_ingest_credential() {
    let s = Strata::with_config(
        "[[auth.ingest]]\npattern = \"**\"\nbearer = [\"token-a\", \"token-b\"]\n\
         [[limits]]\nname = \"ingest\"\npattern = \"**\"\napplies_to = \"writes\"\n\
         requests_per_second = 0.01\nburst = 3\n",
        &[],
    );
    let write = |token: &str, i: u32| {
        s.http()
            .put(s.url(&format!("/live/{token}/{i}.ts")))
            .bearer_auth(token)
            .body(vec![1u8; 100])
            .send()
            .expect("PUT")
    };
    for i in 0..3 {
        assert!(write("token-a", i).status().is_success());
    }
    for i in 3..6 {
        let retry_after = refusal(write("token-a", i));
        assert!((90..=100).contains(&retry_after), "{retry_after}");
        let stored = s
            .http()
            .get(s.url(&format!("/live/token-a/{i}.ts")))
            .send()
            .expect("GET");
        assert_eq!(stored.status().as_u16(), 404, "a refused write was stored");
    }
    // Another credential from the same address has its own bucket.
    for i in 0..3 {
        assert!(write("token-b", i).status().is_success());
    }
    // Reads are not under this rule.
    for _ in 0..5 {
        let read = s
            .http()
            .get(s.url("/live/token-a/0.ts"))
            .send()
            .expect("GET");
        assert_eq!(read.status().as_u16(), 200);
    }
    assert_eq!(
        s.metric("strata_requests_throttled_total{rule=\"ingest\"}"),
        3.0
    );
}

#[test]
fn response_bytes_are_charged_and_the_next_request_waits_for_them() {
    let s = at_64_kib_a_second("bandwidth", "reads");
    put(&s, "/vod/big.mp4", vec![3u8; 200 * 1024]);
    let flooder = client_from(FLOODER);
    // Heads send no body: they cost nothing.
    for _ in 0..5 {
        let head = flooder.head(s.url("/vod/big.mp4")).send().expect("HEAD");
        assert_eq!(head.status().as_u16(), 200);
    }
    let whole = flooder.get(s.url("/vod/big.mp4")).send().expect("GET");
    assert_eq!(whole.status().as_u16(), 200);
    assert_eq!(whole.bytes().expect("body").len(), 200 * 1024);
    assert_waits_for_200_kib(
        &s,
        "bandwidth",
        flooder.get(s.url("/vod/big.mp4")).send().expect("GET"),
    );
    let neighbour = client_from(NEIGHBOUR)
        .get(s.url("/vod/big.mp4"))
        .send()
        .expect("neighbour GET");
    assert_eq!(neighbour.status().as_u16(), 200);
}

/// A server whose one rule, `name`, allows each client 64 KiB a second of `applies_to` bodies on any key.
fn at_64_kib_a_second(name: &str, applies_to: &str) -> Strata {
    at_64_kib_a_second_with("", name, applies_to)
}

/// [`at_64_kib_a_second`] with the top-level settings `settings` before the rule.
fn at_64_kib_a_second_with(settings: &str, name: &str, applies_to: &str) -> Strata {
    Strata::with_config(
        &format!(
            "{settings}[[limits]]\nname = \"{name}\"\npattern = \"**\"\napplies_to = \"{applies_to}\"\n\
             bytes_per_second = \"64 KiB\"\n"
        ),
        &[],
    )
}

/// After 200 KiB moved under [`at_64_kib_a_second`] (136 KiB below zero, 2.1 s to pay back), `next` is
/// refused for 2 or 3 seconds, the one refusal of rule `name`.
fn assert_waits_for_200_kib(s: &Strata, name: &str, next: reqwest::blocking::Response) {
    let retry_after = refusal(next);
    assert!((2..=3).contains(&retry_after), "{retry_after}");
    assert_eq!(
        s.metric(&format!(
            "strata_requests_throttled_total{{rule=\"{name}\"}}"
        )),
        1.0
    );
}

/// A 200 KiB reader body: sent chunked, with no Content-Length.
fn chunked_200_kib() -> reqwest::blocking::Body {
    reqwest::blocking::Body::new(std::io::Cursor::new(vec![5u8; 200 * 1024]))
}

/// A 10-byte write of `/live/next.ts`, to see whether a client's earlier bytes are still owed.
fn small_write(s: &Strata) -> reqwest::blocking::Response {
    s.http()
        .put(s.url("/live/next.ts"))
        .body(vec![1u8; 10])
        .send()
        .expect("PUT")
}

#[test]
fn a_write_without_a_declared_length_is_charged_what_it_stored() {
    let s = at_64_kib_a_second("uploads", "writes");
    put(&s, "/live/chunked.ts", chunked_200_kib());
    assert_waits_for_200_kib(&s, "uploads", small_write(&s));
}

#[test]
fn a_chunked_upload_refused_as_too_large_is_still_charged_what_it_sent() {
    let s = at_64_kib_a_second_with("max_object_bytes = \"100 KiB\"\n", "uploads", "writes");
    // 200 KiB sent chunked past a 100 KiB object limit: refused, and every byte of it crossed the network.
    let status = s
        .http()
        .put(s.url("/live/huge.ts"))
        .body(chunked_200_kib())
        .send()
        .expect("PUT")
        .status();
    assert_eq!(status.as_u16(), 413);
    assert_waits_for_200_kib(&s, "uploads", small_write(&s));
}

#[test]
fn a_chunked_upload_cut_off_midway_is_charged_what_arrived() {
    let s = at_64_kib_a_second("uploads", "writes");
    let mut request =
        b"PUT /live/cut.ts HTTP/1.1\r\nHost: strata\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
    let body = common::chunked(&vec![5u8; 200 * 1024], 16 * 1024);
    // The body without its last chunk, then the connection closes: nothing is stored.
    request.extend_from_slice(&body[..body.len() - 5]);
    common::raw_send_and_close(s.addr(), &request, false);
    // The upload runs on after the client left; the bytes it read are charged as they arrived.
    poll_until(
        Duration::from_secs(20),
        "a write refused for the cut-off upload's bytes",
        || small_write(&s).status().as_u16() == 429,
    );
    assert_eq!(
        s.http()
            .get(s.url("/live/cut.ts"))
            .send()
            .expect("GET")
            .status()
            .as_u16(),
        404
    );
}

#[test]
fn a_parked_blocking_reload_is_counted_once_however_often_it_wakes() {
    let s = Strata::with_config(
        "[[limits]]\nname = \"players\"\npattern = \"live/**\"\napplies_to = \"reads\"\n\
         requests_per_second = 0.001\nburst = 2\n",
        &[],
    );
    put(&s, "/live/index.m3u8", common::playlists::ll_hls(1));
    let url = s.url("/live/index.m3u8?_HLS_msn=0&_HLS_part=3");
    let waiter = thread::spawn(move || {
        let response = client_from(FLOODER).get(url).send().expect("blocking GET");
        let status = response.status().as_u16();
        (status, response.text().expect("playlist"))
    });
    // Each update wakes the parked request, which finds its part still missing and parks again.
    for parts in 2..=4 {
        poll_until(Duration::from_secs(20), "the reload to park", || {
            s.metric("strata_parked_requests") >= 1.0
        });
        put(&s, "/live/index.m3u8", common::playlists::ll_hls(parts));
    }
    let (status, playlist) = waiter.join().expect("waiter");
    assert_eq!(status, 200, "{playlist}");
    assert!(playlist.contains("0.3.m4s"), "{playlist}");
    // The reload took one token of two, however often it woke: one more request passes, then none.
    let flooder = client_from(FLOODER);
    let second = flooder.get(s.url("/live/index.m3u8")).send().expect("GET");
    assert_eq!(
        second.status().as_u16(),
        200,
        "the woken reload was counted again"
    );
    refusal(flooder.get(s.url("/live/index.m3u8")).send().expect("GET"));
    assert_eq!(
        s.metric("strata_requests_throttled_total{rule=\"players\"}"),
        1.0
    );
}

#[test]
fn impossible_limits_are_named_by_check_config_and_stop_the_start() {
    let dir = tempfile::tempdir().expect("temp dir");
    for (rule, key) in [
        ("requests_per_second = 0", "limits[0].requests_per_second"),
        ("requests_per_second = -2", "limits[0].requests_per_second"),
        ("requests_per_second = 5\nburst = 0", "limits[0].burst"),
        ("bytes_per_second = 0", "limits[0].bytes_per_second"),
    ] {
        let path = dir.path().join("strata.toml");
        std::fs::write(
            &path,
            format!("[[limits]]\npattern = \"live/**\"\n{rule}\n"),
        )
        .expect("write config");
        let mut check = Command::new(strata_bin());
        check.arg("check-config").arg(&path);
        let (status, _, stderr) = run_with_timeout(check, Duration::from_secs(30));
        assert_eq!(status.code(), Some(1), "{rule}: {stderr}");
        assert!(stderr.contains(key), "{rule}: {stderr}");
        let mut serve = Command::new(strata_bin());
        serve
            .args(["serve", "--listen", "127.0.0.1:0", "--data"])
            .arg(dir.path().join("data"))
            .arg("--config")
            .arg(&path);
        let (status, _, stderr) = run_with_timeout(serve, Duration::from_secs(30));
        assert!(!status.success(), "{rule}: serve started");
        assert!(stderr.contains(key), "{rule}: {stderr}");
    }
    let path = dir.path().join("strata.toml");
    std::fs::write(
        &path,
        "[[limits]]\npattern = \"[\"\nrequests_per_second = 1\n",
    )
    .expect("write config");
    let mut check = Command::new(strata_bin());
    check.arg("check-config").arg(&path);
    let (status, _, stderr) = run_with_timeout(check, Duration::from_secs(30));
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("line 2") && stderr.contains("unclosed character class"),
        "{stderr}"
    );
}

#[test]
fn a_refused_upload_waiting_for_100_continue_is_not_asked_for_its_body() {
    let s = Strata::with_config(
        "[[limits]]\nname = \"ingest\"\npattern = \"**\"\napplies_to = \"writes\"\n\
         requests_per_second = 0.001\nburst = 1\n",
        &[],
    );
    // The raw client connects from 127.0.0.1, as the flooder does.
    put(&s, "/live/first.ts", vec![1u8; 10]);
    // Only the head is sent: a client expecting 100 Continue sends the body after it, never before.
    let response = common::raw_http(
        s.addr(),
        b"PUT /live/second.ts HTTP/1.1\r\nHost: strata\r\nExpect: 100-continue\r\n\
          Content-Length: 10000000\r\n\r\n",
    );
    assert_eq!(
        response.status,
        429,
        "the first answer must be the refusal, not 100 Continue: {:?}",
        String::from_utf8_lossy(&response.body)
    );
    assert!(response.header("retry-after").is_some());
    assert_eq!(
        s.metric("strata_requests_throttled_total{rule=\"ingest\"}"),
        1.0
    );
}
