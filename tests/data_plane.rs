//! End-to-end rules of Strata's HTTP data plane and admin endpoints, one test per rule.

mod common;

use std::time::Duration;

use common::{PseudoRandom, Strata, poll, poll_until};
use reqwest::Method;
use reqwest::StatusCode;
use reqwest::blocking::{Body, Response};
use reqwest::header::HeaderMap;

/// A header's value as text, or `None`.
fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get(name)
        .map(|v| v.to_str().expect("header value is ASCII"))
}

/// A header that must be present.
fn must_header<'a>(resp: &'a Response, name: &str) -> &'a str {
    header(resp.headers(), name)
        .unwrap_or_else(|| panic!("response lacks {name}: {:?}", resp.headers()))
}

/// PUTs `body` (sized) to `path` and returns the response after asserting a 2xx.
fn put(s: &Strata, path: &str, body: impl Into<Vec<u8>>) -> Response {
    let resp = s
        .http()
        .put(s.url(path))
        .body(body.into())
        .send()
        .expect("PUT");
    assert!(resp.status().is_success(), "PUT {path}: {}", resp.status());
    resp
}

/// GETs `path` and returns status and body.
fn get(s: &Strata, path: &str) -> (StatusCode, Vec<u8>) {
    let resp = s.http().get(s.url(path)).send().expect("GET");
    let status = resp.status();
    (status, resp.bytes().expect("read GET body").to_vec())
}

/// The ETag of a response; asserts it is strong (quoted, no `W/`).
fn strong_etag(resp: &Response) -> String {
    let etag = must_header(resp, "etag").to_owned();
    assert!(!etag.starts_with("W/"), "ETag {etag} must be strong");
    assert!(
        etag.len() >= 3 && etag.starts_with('"') && etag.ends_with('"'),
        "ETag {etag} must be quoted"
    );
    etag
}

/// Asserts an error answer: `status`, text/plain, a one-line reason, and CORS.
fn assert_error(resp: Response, status: u16, what: &str) {
    assert_eq!(resp.status().as_u16(), status, "{what}");
    let ct = must_header(&resp, "content-type").to_owned();
    assert!(
        ct.starts_with("text/plain"),
        "{what}: error content-type {ct}"
    );
    assert_eq!(
        header(resp.headers(), "access-control-allow-origin"),
        Some("*"),
        "{what}: CORS on errors"
    );
    let body = resp.text().expect("error body");
    assert!(
        !body.trim().is_empty(),
        "{what}: error body must give a reason"
    );
    assert!(
        body.trim_end().lines().count() == 1,
        "{what}: error body must be one line: {body:?}"
    );
}

/// Asserts a raw error answer: `status`, text/plain, one line.
fn assert_raw_error(r: &common::RawResponse, status: u16, what: &str) {
    assert_eq!(
        r.status,
        status,
        "{what}: {:?}",
        String::from_utf8_lossy(&r.body)
    );
    let ct = r.header("content-type").unwrap_or("");
    assert!(
        ct.starts_with("text/plain"),
        "{what}: error content-type {ct:?}"
    );
}

#[test]
fn health_answers_200() {
    let s = Strata::start(&[]);
    let resp = s
        .http()
        .get(s.url("/_strata/health"))
        .send()
        .expect("GET health");
    assert_eq!(resp.status(), 200);
}

#[test]
fn stdout_holds_only_the_listening_line() {
    let s = Strata::start(&[]);
    put(&s, "/quiet.txt", "x");
    let _ = get(&s, "/quiet.txt");
    let _ = get(&s, "/missing.txt");
    assert!(
        s.extra_stdout().is_empty(),
        "stdout after the listening line: {:?}",
        s.extra_stdout()
    );
}

#[test]
fn put_answers_201_then_204_with_etag_and_get_reads_back() {
    let s = Strata::start(&[]);
    let body = PseudoRandom::vec(1, 10_000);
    let first = put(&s, "/vod/a/seg1.ts", body.clone());
    assert_eq!(first.status(), 201, "first PUT creates");
    strong_etag(&first);
    let second = put(&s, "/vod/a/seg1.ts", body.clone());
    assert_eq!(second.status(), 204, "second PUT overwrites");
    strong_etag(&second);
    let (status, got) = get(&s, "/vod/a/seg1.ts");
    assert_eq!(status, 200);
    assert!(got == body, "GET returns the stored bytes");
}

#[test]
fn put_etag_matches_get_etag() {
    let s = Strata::start(&[]);
    let put_etag = strong_etag(&put(&s, "/e/x.m4s", "abc"));
    let resp = s.http().get(s.url("/e/x.m4s")).send().expect("GET");
    assert_eq!(
        strong_etag(&resp),
        put_etag,
        "PUT and GET give the same ETag"
    );
}

#[test]
fn overwrite_changes_etag_and_content() {
    let s = Strata::start(&[]);
    let e1 = strong_etag(&put(&s, "/live/p.m3u8", "#EXTM3U\n#v1\n"));
    let e2 = strong_etag(&put(&s, "/live/p.m3u8", "#EXTM3U\n#v2\n"));
    assert_ne!(e1, e2, "a different body must get a different strong ETag");
    let resp = s.http().get(s.url("/live/p.m3u8")).send().expect("GET");
    assert_eq!(strong_etag(&resp), e2);
    assert_eq!(resp.text().expect("body"), "#EXTM3U\n#v2\n");
}

#[test]
fn chunked_put_is_stored() {
    let s = Strata::start(&[]);
    let len = 3 * 1024 * 1024 + 123;
    let resp = s
        .http()
        .put(s.url("/live/chunked/seg7.m4s"))
        .body(Body::new(PseudoRandom::new(7, len)))
        .send()
        .expect("chunked PUT");
    assert_eq!(resp.status(), 201, "chunked PUT creates");
    strong_etag(&resp);
    let (status, got) = get(&s, "/live/chunked/seg7.m4s");
    assert_eq!(status, 200);
    assert_eq!(got.len() as u64, len);
    assert!(
        got == PseudoRandom::vec(7, len as usize),
        "chunked body stored byte for byte"
    );
}

#[test]
fn empty_chunked_put_stores_empty_object() {
    let s = Strata::start(&[]);
    let resp = s
        .http()
        .put(s.url("/empty.ts"))
        .body(Body::new(std::io::empty()))
        .send()
        .expect("empty chunked PUT");
    assert_eq!(resp.status(), 201);
    let resp = s.http().get(s.url("/empty.ts")).send().expect("GET");
    assert_eq!(resp.status(), 200);
    assert_eq!(must_header(&resp, "content-length"), "0");
}

#[test]
fn put_completes_when_the_client_closes_without_reading_like_ffmpeg() {
    // ffmpeg 5.1 writes the chunked body and its terminator, then closes the socket without
    // reading the answer. The upload is complete: it must be stored and counted.
    let s = Strata::start(&[]);
    for (path, half_close) in [("/ff/closed.ts", false), ("/ff/half-closed.ts", true)] {
        let req = format!(
            "PUT {path} HTTP/1.1\r\nTransfer-Encoding: chunked\r\nUser-Agent: Lavf/59.27.100\r\n\
             Accept: */*\r\nConnection: close\r\nHost: {}\r\nIcy-MetaData: 1\r\n\r\n\
             5\r\nhello\r\n0\r\n\r\n",
            s.addr()
        );
        common::raw_send_and_close(s.addr(), req.as_bytes(), half_close);
        let stored = poll(Duration::from_secs(5), || get(&s, path).0 == 200);
        assert!(
            stored,
            "PUT {path} (client closed, half_close={half_close}) was not stored"
        );
        assert_eq!(get(&s, path).1, b"hello");
    }
    poll_until(Duration::from_secs(5), "both PUTs counted as 201", || {
        s.metric(r#"strata_requests_total{method="PUT",status="201"}"#) == 2.0
    });
}

#[test]
fn post_stores_like_put() {
    let s = Strata::start(&[]);
    let resp = s
        .http()
        .post(s.url("/ingest/a.cmfv"))
        .body("post-body")
        .send()
        .expect("POST");
    assert_eq!(resp.status(), 201, "POST creates");
    strong_etag(&resp);
    let resp = s
        .http()
        .post(s.url("/ingest/a.cmfv"))
        .body(Body::new(&b"second"[..]))
        .send()
        .expect("POST");
    assert_eq!(resp.status(), 204, "chunked POST overwrites");
    assert_eq!(
        get(&s, "/ingest/a.cmfv"),
        (StatusCode::OK, b"second".to_vec())
    );
}

#[test]
fn delete_removes_then_404() {
    let s = Strata::start(&[]);
    put(&s, "/live/old.ts", "old");
    let resp = s
        .http()
        .delete(s.url("/live/old.ts"))
        .send()
        .expect("DELETE");
    assert_eq!(resp.status(), 204, "DELETE of an existing object");
    assert_eq!(
        header(resp.headers(), "access-control-allow-origin"),
        Some("*")
    );
    assert_eq!(get(&s, "/live/old.ts").0, 404, "deleted object is gone");
    let resp = s
        .http()
        .delete(s.url("/live/old.ts"))
        .send()
        .expect("DELETE again");
    assert_error(resp, 404, "DELETE of a missing object");
}

#[test]
fn delete_with_empty_chunked_body_like_ffmpeg() {
    let s = Strata::start(&[]);
    put(&s, "/live/hls/stream_0.ts", "segment");
    let resp = s
        .http()
        .delete(s.url("/live/hls/stream_0.ts"))
        .body(Body::new(std::io::empty()))
        .send()
        .expect("DELETE with chunked body");
    assert_eq!(
        resp.status(),
        204,
        "DELETE with an empty chunked body (nginx answers 415 here)"
    );
    assert_eq!(get(&s, "/live/hls/stream_0.ts").0, 404);
    // Exactly what ffmpeg 5.1 sends, byte for byte: chunked, empty, Connection: close.
    put(&s, "/live/hls/stream_1.ts", "segment");
    let req = format!(
        "DELETE /live/hls/stream_1.ts HTTP/1.1\r\nTransfer-Encoding: chunked\r\nUser-Agent: Lavf/59.27.100\r\n\
         Accept: */*\r\nConnection: close\r\nHost: {}\r\nIcy-MetaData: 1\r\n\r\n0\r\n\r\n",
        s.addr()
    );
    let r = s.raw(req.as_bytes());
    assert_eq!(r.status, 204, "ffmpeg-style DELETE");
    assert_eq!(get(&s, "/live/hls/stream_1.ts").0, 404);
}

#[test]
fn options_is_a_cors_preflight() {
    let s = Strata::start(&[]);
    let resp = s
        .http()
        .request(Method::OPTIONS, s.url("/live/hls/master.m3u8"))
        .header("origin", "https://player.example")
        .header("access-control-request-method", "GET")
        .header("access-control-request-headers", "cmcd-request,range")
        .send()
        .expect("OPTIONS");
    assert_eq!(resp.status(), 204);
    assert_eq!(
        header(resp.headers(), "access-control-allow-origin"),
        Some("*")
    );
    let methods = must_header(&resp, "access-control-allow-methods").to_ascii_uppercase();
    assert!(
        methods.contains("GET") || methods == "*",
        "allow-methods {methods}"
    );
    let allowed = must_header(&resp, "access-control-allow-headers").to_ascii_lowercase();
    assert!(
        allowed == "*" || (allowed.contains("cmcd-request") && allowed.contains("range")),
        "preflight must allow the requested headers (CMCD headers trigger preflights): {allowed}"
    );
}

#[test]
fn cors_header_on_every_answer() {
    let s = Strata::start(&[]);
    let put_resp = put(&s, "/c/x.ts", "x");
    assert_eq!(
        header(put_resp.headers(), "access-control-allow-origin"),
        Some("*"),
        "on PUT"
    );
    for (method, path) in [
        (Method::GET, "/c/x.ts"),
        (Method::HEAD, "/c/x.ts"),
        (Method::GET, "/c/missing.ts"),
    ] {
        let resp = s
            .http()
            .request(method.clone(), s.url(path))
            .header("origin", "https://player.example")
            .send()
            .expect("request");
        assert_eq!(
            header(resp.headers(), "access-control-allow-origin"),
            Some("*"),
            "{method} {path} ({})",
            resp.status()
        );
    }
}

#[test]
fn content_type_from_extension() {
    let s = Strata::start(&[]);
    let table = [
        ("m3u8", "application/vnd.apple.mpegurl"),
        ("mpd", "application/dash+xml"),
        ("ts", "video/mp2t"),
        ("m4s", "video/iso.segment"),
        ("mp4", "video/mp4"),
        ("m4v", "video/mp4"),
        ("cmfv", "video/mp4"),
        ("init", "video/mp4"),
        ("m4a", "audio/mp4"),
        ("cmfa", "audio/mp4"),
        ("aac", "audio/aac"),
        ("vtt", "text/vtt"),
        ("key", "application/octet-stream"),
    ];
    for (ext, _) in table {
        put(&s, &format!("/types/file.{ext}"), "content");
    }
    for (ext, want) in table {
        for method in [Method::GET, Method::HEAD] {
            let resp = s
                .http()
                .request(method.clone(), s.url(&format!("/types/file.{ext}")))
                .send()
                .expect("read");
            assert_eq!(resp.status(), 200);
            let ct = must_header(&resp, "content-type");
            assert_eq!(
                ct.split(';').next().unwrap_or("").trim(),
                want,
                "{method} .{ext}"
            );
        }
    }
}

#[test]
fn content_type_from_request_wins() {
    let s = Strata::start(&[]);
    let resp = s
        .http()
        .put(s.url("/custom/thing.ts"))
        .header("content-type", "application/x-strata-test")
        .body("x")
        .send()
        .expect("PUT");
    assert_eq!(resp.status(), 201);
    let resp = s.http().get(s.url("/custom/thing.ts")).send().expect("GET");
    assert_eq!(
        must_header(&resp, "content-type"),
        "application/x-strata-test"
    );
}

#[test]
fn metadata_headers_are_returned() {
    let s = Strata::start(&[]);
    let resp = s
        .http()
        .put(s.url("/meta/seg.m4s"))
        .header("x-strata-meta-camera", "north-gate")
        .header("X-Strata-Meta-Encoder", "ffmpeg 5.1")
        .header("x-other", "not metadata")
        .body("m")
        .send()
        .expect("PUT");
    assert_eq!(resp.status(), 201);
    for method in [Method::GET, Method::HEAD] {
        let resp = s
            .http()
            .request(method.clone(), s.url("/meta/seg.m4s"))
            .send()
            .expect("read");
        assert_eq!(
            header(resp.headers(), "x-strata-meta-camera"),
            Some("north-gate"),
            "{method}"
        );
        assert_eq!(
            header(resp.headers(), "x-strata-meta-encoder"),
            Some("ffmpeg 5.1"),
            "{method}"
        );
        assert_eq!(
            header(resp.headers(), "x-other"),
            None,
            "{method}: only x-strata-meta-* is stored"
        );
    }
}

#[test]
fn head_has_length_and_no_body() {
    let s = Strata::start(&[]);
    put(&s, "/h/seg.ts", vec![7u8; 4321]);
    let resp = s.http().head(s.url("/h/seg.ts")).send().expect("HEAD");
    assert_eq!(resp.status(), 200);
    assert_eq!(must_header(&resp, "content-length"), "4321");
    assert_eq!(must_header(&resp, "accept-ranges"), "bytes");
    must_header(&resp, "etag");
    must_header(&resp, "last-modified");
    // Raw: the answer must end right after the head.
    let r = s.raw_method("HEAD", "/h/seg.ts");
    assert_eq!(r.status, 200);
    assert!(
        r.body.is_empty(),
        "HEAD answered {} body bytes",
        r.body.len()
    );
}

#[test]
fn get_has_validators_and_accept_ranges() {
    let s = Strata::start(&[]);
    put(&s, "/v/seg.ts", "validators");
    let resp = s.http().get(s.url("/v/seg.ts")).send().expect("GET");
    assert_eq!(resp.status(), 200);
    strong_etag(&resp);
    let lm = must_header(&resp, "last-modified");
    assert!(
        lm.ends_with(" GMT") && lm.len() == 29,
        "Last-Modified {lm:?} must be an IMF-fixdate"
    );
    assert_eq!(must_header(&resp, "accept-ranges"), "bytes");
    assert_eq!(must_header(&resp, "content-length"), "10");
}

#[test]
fn if_none_match_answers_304() {
    let s = Strata::start(&[]);
    let etag = strong_etag(&put(&s, "/c/seg.m4s", "cached"));
    let resp = s
        .http()
        .get(s.url("/c/seg.m4s"))
        .header("if-none-match", &etag)
        .send()
        .expect("GET");
    assert_eq!(resp.status(), 304, "matching If-None-Match");
    assert_eq!(
        header(resp.headers(), "etag"),
        Some(etag.as_str()),
        "304 repeats the ETag"
    );
    assert!(resp.bytes().expect("body").is_empty(), "304 has no body");
    let list = format!("\"nope\", {etag}");
    let resp = s
        .http()
        .get(s.url("/c/seg.m4s"))
        .header("if-none-match", list)
        .send()
        .expect("GET");
    assert_eq!(resp.status(), 304, "If-None-Match list containing the ETag");
    let resp = s
        .http()
        .head(s.url("/c/seg.m4s"))
        .header("if-none-match", &etag)
        .send()
        .expect("HEAD");
    assert_eq!(resp.status(), 304, "HEAD with matching If-None-Match");
    let resp = s
        .http()
        .get(s.url("/c/seg.m4s"))
        .header("if-none-match", "\"other\"")
        .send()
        .expect("GET");
    assert_eq!(resp.status(), 200, "non-matching If-None-Match");
    assert_eq!(resp.text().expect("body"), "cached");
}

#[test]
fn if_modified_since_answers_304() {
    let s = Strata::start(&[]);
    put(&s, "/c/p.m3u8", "#EXTM3U\n");
    let resp = s.http().get(s.url("/c/p.m3u8")).send().expect("GET");
    let lm = must_header(&resp, "last-modified").to_owned();
    let resp = s
        .http()
        .get(s.url("/c/p.m3u8"))
        .header("if-modified-since", &lm)
        .send()
        .expect("GET");
    assert_eq!(
        resp.status(),
        304,
        "If-Modified-Since equal to Last-Modified"
    );
    assert!(resp.bytes().expect("body").is_empty());
    let old = "Mon, 01 Jan 2001 00:00:00 GMT";
    let resp = s
        .http()
        .get(s.url("/c/p.m3u8"))
        .header("if-modified-since", old)
        .send()
        .expect("GET");
    assert_eq!(resp.status(), 200, "If-Modified-Since before Last-Modified");
    // RFC 9110 13.2.2: If-None-Match takes precedence over If-Modified-Since.
    let resp = s
        .http()
        .get(s.url("/c/p.m3u8"))
        .header("if-none-match", "\"other\"")
        .header("if-modified-since", &lm)
        .send()
        .expect("GET");
    assert_eq!(
        resp.status(),
        200,
        "a failing If-None-Match overrides If-Modified-Since"
    );
}

/// GETs `path` with `range`, asserting 206 and `content_range`; returns the body.
fn get_range(s: &Strata, path: &str, range: &str, content_range: &str) -> Vec<u8> {
    let resp = s
        .http()
        .get(s.url(path))
        .header("range", range)
        .send()
        .expect("range GET");
    assert_eq!(resp.status(), 206, "Range {range}");
    assert_eq!(
        must_header(&resp, "content-range"),
        content_range,
        "Range {range}"
    );
    let body = resp.bytes().expect("range body").to_vec();
    let (first, last) = content_range["bytes ".len()..]
        .split('/')
        .next()
        .and_then(|r| r.split_once('-'))
        .expect("range");
    let want_len =
        last.parse::<usize>().expect("last") - first.parse::<usize>().expect("first") + 1;
    assert_eq!(body.len(), want_len, "Range {range}: body length");
    body
}

#[test]
fn range_answers_206() {
    let s = Strata::start(&[]);
    let data = PseudoRandom::vec(3, 1000);
    put(&s, "/r/seg.mp4", data.clone());
    assert!(get_range(&s, "/r/seg.mp4", "bytes=100-199", "bytes 100-199/1000") == data[100..200]);
    assert!(get_range(&s, "/r/seg.mp4", "bytes=0-0", "bytes 0-0/1000") == data[..1]);
    assert!(
        get_range(&s, "/r/seg.mp4", "bytes=-10", "bytes 990-999/1000") == data[990..],
        "suffix"
    );
    assert!(
        get_range(&s, "/r/seg.mp4", "bytes=900-", "bytes 900-999/1000") == data[900..],
        "open-ended"
    );
    assert!(
        get_range(&s, "/r/seg.mp4", "bytes=950-5000", "bytes 950-999/1000") == data[950..],
        "last clipped"
    );
    assert!(
        get_range(&s, "/r/seg.mp4", "bytes=-5000", "bytes 0-999/1000") == data[..],
        "suffix over size"
    );
}

#[test]
fn unsatisfiable_range_answers_416() {
    let s = Strata::start(&[]);
    put(&s, "/r/small.ts", vec![1u8; 100]);
    for range in ["bytes=100-", "bytes=200-300"] {
        let resp = s
            .http()
            .get(s.url("/r/small.ts"))
            .header("range", range)
            .send()
            .expect("GET");
        assert_eq!(resp.status(), 416, "Range {range}");
        assert_eq!(
            must_header(&resp, "content-range"),
            "bytes */100",
            "Range {range}"
        );
    }
}

#[test]
fn bad_paths_answer_400() {
    let s = Strata::start(&[]);
    let long = format!("/{}", "a".repeat(1100));
    let cases = [
        "/a/../b.ts",
        "/../etc/passwd",
        "/a/%2e%2e/b.ts",
        "/a/%2E%2E/b.ts",
        "/a/./b.ts",
        "/a//b.ts",
        long.as_str(),
        "/bad/%ff.ts",
    ];
    for target in cases {
        let shown = &target[..target.len().min(40)];
        let r = s.raw_method("GET", target);
        assert_raw_error(&r, 400, &format!("GET {shown}"));
        let put = format!(
            "PUT {target} HTTP/1.1\r\nHost: {}\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc",
            s.addr()
        );
        let r = s.raw(put.as_bytes());
        assert_raw_error(&r, 400, &format!("PUT {shown}"));
    }
    // Just under the limit is a fine key.
    let ok = format!("/{}", "k".repeat(1000));
    assert_eq!(
        put(&s, &ok, "fine").status(),
        201,
        "a 1001-byte path is allowed"
    );
}

#[test]
fn missing_object_answers_404() {
    let s = Strata::start(&[]);
    let resp = s.http().get(s.url("/nothing/here.ts")).send().expect("GET");
    assert_error(resp, 404, "GET of a missing object");
    let resp = s
        .http()
        .head(s.url("/nothing/here.ts"))
        .send()
        .expect("HEAD");
    assert_eq!(resp.status(), 404, "HEAD of a missing object");
}

#[test]
fn other_methods_answer_405() {
    let s = Strata::start(&[]);
    put(&s, "/m/x.ts", "x");
    for method in ["PATCH", "PROPFIND", "TRACE"] {
        let resp = s
            .http()
            .request(
                Method::from_bytes(method.as_bytes()).expect("method"),
                s.url("/m/x.ts"),
            )
            .send()
            .expect("request");
        let allow = header(resp.headers(), "allow").map(str::to_owned);
        assert_error(resp, 405, method);
        let allow =
            allow.unwrap_or_else(|| panic!("405 to {method} must carry Allow (RFC 9110 15.5.6)"));
        assert!(
            allow.contains("GET") && allow.contains("PUT"),
            "Allow: {allow}"
        );
    }
}

/// Sends a PUT of `body` to `path` on a raw connection, sized or chunked, reading the answer even
/// if the server stops reading the body (hyper-based clients such as reqwest report an error then).
fn raw_put(s: &Strata, path: &str, body: &[u8], chunked: bool) -> common::RawResponse {
    let framing = if chunked {
        "Transfer-Encoding: chunked".to_owned()
    } else {
        format!("Content-Length: {}", body.len())
    };
    let mut req = format!(
        "PUT {path} HTTP/1.1\r\nHost: {}\r\n{framing}\r\nConnection: close\r\n\r\n",
        s.addr()
    )
    .into_bytes();
    if chunked {
        req.extend_from_slice(&common::chunked(body, 32 * 1024));
    } else {
        req.extend_from_slice(body);
    }
    s.raw(&req)
}

#[test]
fn too_large_sized_put_answers_413() {
    let s = Strata::start(&["--max-object-bytes", "1MiB"]);
    let exact = s
        .http()
        .put(s.url("/big/exact.ts"))
        .body(vec![0u8; 1 << 20])
        .send()
        .expect("PUT at limit");
    assert_eq!(
        exact.status(),
        201,
        "an object of exactly --max-object-bytes fits"
    );
    for len in [(1 << 20) + 1, 8 << 20] {
        let r = raw_put(&s, "/big/over.ts", &vec![1u8; len], false);
        assert_raw_error(
            &r,
            413,
            &format!("sized PUT of {len} bytes over --max-object-bytes"),
        );
    }
    assert_eq!(get(&s, "/big/over.ts").0, 404, "nothing stored");
}

#[test]
fn too_large_chunked_put_answers_413_and_keeps_old_version() {
    let s = Strata::start(&["--max-object-bytes", "1MiB"]);
    put(&s, "/big/seg.ts", "old version");
    let body = PseudoRandom::vec(9, 2 << 20);
    let r = raw_put(&s, "/big/seg.ts", &body, true);
    assert_raw_error(&r, 413, "chunked PUT over --max-object-bytes");
    assert_eq!(
        get(&s, "/big/seg.ts"),
        (StatusCode::OK, b"old version".to_vec()),
        "old version kept"
    );
    let r = raw_put(&s, "/big/new.ts", &body, true);
    assert_raw_error(&r, 413, "chunked PUT of a new key over --max-object-bytes");
    assert_eq!(get(&s, "/big/new.ts").0, 404, "nothing stored");
    let exact = raw_put(&s, "/big/exact.ts", &body[..1 << 20], true);
    assert_eq!(
        exact.status, 201,
        "a chunked object of exactly --max-object-bytes fits"
    );
}

#[test]
fn metrics_count_requests_by_method_and_status() {
    let s = Strata::start(&[]);
    let put201 = r#"strata_requests_total{method="PUT",status="201"}"#;
    let get200 = r#"strata_requests_total{method="GET",status="200"}"#;
    let get404 = r#"strata_requests_total{method="GET",status="404"}"#;
    let (p0, g0, n0) = (s.metric(put201), s.metric(get200), s.metric(get404));
    put(&s, "/metrics/a.ts", "a");
    put(&s, "/metrics/b.ts", "b");
    let _ = get(&s, "/metrics/a.ts");
    let _ = get(&s, "/metrics/none.ts");
    poll_until(
        Duration::from_secs(5),
        "request counters to reach the expected values",
        || {
            // GETs of /_strata/metrics may count too, hence `>=` for GET 200.
            s.metric(put201) == p0 + 2.0
                && s.metric(get200) >= g0 + 1.0
                && s.metric(get404) == n0 + 1.0
        },
    );
    let text = s.metrics_text();
    assert!(
        text.contains("strata_guest_memory_peak_bytes"),
        "gauge strata_guest_memory_peak_bytes:\n{text}"
    );
    assert!(
        s.metric("strata_guest_memory_peak_bytes") > 0.0,
        "a guest ran, so its memory peak is known"
    );
}

#[test]
fn a_missing_segment_is_awaited_only_while_its_playlist_is_live() {
    let s = Strata::start(&[]);
    let live = "#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXT-X-MEDIA-SEQUENCE:0\n#EXTINF:1,\nseg0.ts\n";
    put(&s, "/ended/index.m3u8", format!("{live}#EXT-X-ENDLIST\n"));
    put(&s, "/live/index.m3u8", live);
    // Live: the request is held (parked) for a target duration, then 404 cacheable for one.
    let waiter = {
        let url = s.url("/live/seg0.ts");
        std::thread::spawn(move || common::client().get(url).send().expect("GET"))
    };
    poll_until(Duration::from_secs(10), "the GET is parked", || {
        s.metric("strata_parked_requests") >= 1.0
    });
    let held = waiter.join().expect("waiter");
    assert_eq!(held.status(), StatusCode::NOT_FOUND);
    assert_eq!(held.headers()["cache-control"], "max-age=1");
    // Ended: the segment can no longer arrive, so 404 without being held.
    let ended = s.http().get(s.url("/ended/seg0.ts")).send().expect("GET");
    assert_eq!(ended.status(), StatusCode::NOT_FOUND);
    assert_ne!(
        ended.headers().get("cache-control").map(|v| v.as_bytes()),
        Some(&b"max-age=1"[..])
    );
    assert!(
        ended.text().expect("reason").contains("no object"),
        "a plain miss, not a held one"
    );
}
