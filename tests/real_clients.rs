//! End-to-end: what real clients need that synthetic ones hide. A client that half-closes after its request
//! still gets the answer; a client's default Content-Type never replaces a media type; players in browsers
//! can read `Date` cross-origin; `/_strata/time` is the clock live MPDs name in a `UTCTiming` element.

mod common;

use common::{Strata, chunked, raw_half_closed};

#[test]
fn a_client_that_half_closes_after_its_request_gets_the_answer() {
    let s = Strata::start(&[]);
    let mut put =
        b"PUT /live/half.ts HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
    put.extend_from_slice(&chunked(b"stored by a half-closed client", 8));
    let answer = raw_half_closed(s.addr(), &put).expect("an answer to the PUT");
    assert_eq!(answer.status, 201);
    let get = raw_half_closed(s.addr(), b"GET /live/half.ts HTTP/1.1\r\nHost: a\r\n\r\n")
        .expect("an answer to the GET");
    assert_eq!(answer.status, 201);
    assert_eq!(get.status, 200);
    assert_eq!(get.body, b"stored by a half-closed client");
}

#[test]
fn client_default_content_types_give_way_to_the_extension() {
    let s = Strata::start(&[]);
    for (path, sent, stored) in [
        (
            "/live/a.ts",
            "application/x-www-form-urlencoded",
            "video/mp2t",
        ),
        (
            "/live/a.m3u8",
            "application/octet-stream",
            "application/vnd.apple.mpegurl",
        ),
        ("/live/a.m4s", "video/iso.segment", "video/iso.segment"),
        (
            "/blob.bin",
            "application/octet-stream",
            "application/octet-stream",
        ),
    ] {
        let body = if path.ends_with(".m3u8") {
            "#EXTM3U\n"
        } else {
            "x"
        };
        let put = s
            .http()
            .put(s.url(path))
            .header("content-type", sent)
            .body(body)
            .send()
            .expect("PUT");
        assert!(put.status().is_success());
        let get = s.http().get(s.url(path)).send().expect("GET");
        assert_eq!(
            get.headers()
                .get("content-type")
                .map(|v| v.to_str().expect("ASCII")),
            Some(stored),
            "{path} sent as {sent}"
        );
    }
}

#[test]
fn players_can_read_the_date_and_sync_to_the_origins_clock() {
    let s = Strata::start(&[]);
    let put = s
        .http()
        .put(s.url("/live/s.ts"))
        .body("x")
        .send()
        .expect("PUT");
    assert!(put.status().is_success());
    let get = s.http().get(s.url("/live/s.ts")).send().expect("GET");
    let exposed = get.headers()["access-control-expose-headers"]
        .to_str()
        .expect("ASCII");
    assert!(
        exposed
            .split(',')
            .any(|h| h.trim().eq_ignore_ascii_case("date")),
        "{exposed}"
    );

    let clock = s.http().get(s.url("/_strata/time")).send().expect("GET");
    assert_eq!(clock.status().as_u16(), 200);
    assert_eq!(clock.headers()["cache-control"], "no-store");
    assert_eq!(clock.headers()["access-control-allow-origin"], "*");
    let text = clock.text().expect("body");
    // ISO 8601 in UTC with milliseconds: 2026-12-01T15:06:39.123Z
    let bytes = text.as_bytes();
    assert_eq!(text.len(), 24, "{text}");
    assert!(
        bytes[4] == b'-' && bytes[10] == b'T' && bytes[19] == b'.' && bytes[23] == b'Z',
        "{text}"
    );

    let live = "<?xml version=\"1.0\"?>\n<MPD xmlns=\"urn:mpeg:dash:schema:mpd:2011\" type=\"dynamic\" availabilityStartTime=\"2026-01-01T00:00:00Z\">\n  <Period id=\"0\"/>\n</MPD>\n";
    let put = s
        .http()
        .put(s.url("/live/manifest.mpd"))
        .body(live)
        .send()
        .expect("PUT");
    assert!(put.status().is_success());
    let mpd = s
        .http()
        .get(s.url("/live/manifest.mpd"))
        .send()
        .expect("GET")
        .text()
        .expect("body");
    assert!(
        mpd.contains(
            "<UTCTiming schemeIdUri=\"urn:mpeg:dash:utc:http-iso:2014\" value=\"/_strata/time\"/>"
        ),
        "{mpd}"
    );
}

#[test]
fn the_clock_source_can_be_turned_off() {
    let s = Strata::with_config("[guest]\nutc_timing = \"off\"\n", &[]);
    let live = "<MPD type=\"dynamic\"><Period/></MPD>";
    let put = s
        .http()
        .put(s.url("/live/manifest.mpd"))
        .body(live)
        .send()
        .expect("PUT");
    assert!(put.status().is_success());
    let mpd = s
        .http()
        .get(s.url("/live/manifest.mpd"))
        .send()
        .expect("GET")
        .text()
        .expect("body");
    assert_eq!(mpd, live);
}
