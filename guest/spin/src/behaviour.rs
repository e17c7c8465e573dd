//! guest/core's data-plane behaviour carried out by the Spin shell over a key-value store: the same
//! requests `tests/data_plane.rs` sends the Strata host, answered here from an in-memory [`MemoryKv`] that,
//! like Spin's stores, refuses values over 1 MB.

use strata_guest_core::types::{Limits, Request};

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use crate::clock::Clock;
use crate::execute::{HttpResponse, POLL_MS, handle};
use crate::kv::memory::MemoryKv;
use crate::objects::CHUNK_BYTES;

/// 2024-05-01T12:00:00Z.
const NOW_MS: u64 = 1_714_564_800_000;

/// What a test does while a request pauses, given the clock's new time.
type DuringPause = Box<dyn FnMut(u64)>;

/// A clock the test moves: each pause advances it and then runs the test's `during_pause` (another
/// request's write arriving while this one waits).
#[derive(Default)]
struct TestClock {
    now: Cell<u64>,
    pauses: Cell<u32>,
    during_pause: RefCell<Option<DuringPause>>,
}

impl Clock for TestClock {
    fn now_ms(&self) -> u64 {
        self.now.get()
    }
    fn sleep_ms(&self, ms: u64) {
        self.now.set(self.now.get() + ms);
        self.pauses.set(self.pauses.get() + 1);
        if let Some(during) = self.during_pause.borrow_mut().as_mut() {
            during(self.now.get());
        }
    }
}

fn kv() -> MemoryKv {
    MemoryKv::new(CHUNK_BYTES)
}

fn request(method: &str, path_and_query: &str, headers: &[(&str, &str)]) -> Request {
    let (path, query) = path_and_query
        .split_once('?')
        .unwrap_or((path_and_query, ""));
    Request {
        method: method.into(),
        key: strata_abi::key::key_from_path(path).unwrap_or_default(),
        path: path.into(),
        query: query.into(),
        headers: headers
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect(),
        waited_ms: 0,
        limits: Limits {
            max_object_bytes: 8 << 20,
        },
        settings: Default::default(),
        now_ms: NOW_MS,
        load_permille: 0,
    }
}

fn send(
    kv: &MemoryKv,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> HttpResponse {
    handle(
        kv,
        &TestClock::default(),
        request(method, path, headers),
        body,
    )
}

fn get(kv: &MemoryKv, path: &str, headers: &[(&str, &str)]) -> HttpResponse {
    send(kv, "GET", path, headers, b"")
}

/// A body whose bytes all differ from their neighbours', so a misplaced chunk shows.
fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i % 251) as u8).collect()
}

#[test]
fn put_then_get_returns_the_body_type_and_etag() {
    let kv = kv();
    let put = send(&kv, "PUT", "/live/seg1.ts", &[], b"segment bytes");
    assert_eq!(put.status, 201);
    let etag = put.header("etag").expect("etag on store").to_string();
    let got = get(&kv, "/live/seg1.ts", &[]);
    assert_eq!(got.status, 200);
    assert_eq!(got.body, b"segment bytes");
    assert_eq!(got.header("content-type"), Some("video/mp2t"));
    assert_eq!(got.header("etag"), Some(etag.as_str()));
    assert_eq!(got.header("accept-ranges"), Some("bytes"));
}

#[test]
fn overwrite_answers_204_and_leaves_no_old_chunks() {
    let kv = kv();
    assert_eq!(
        send(&kv, "PUT", "/a.ts", &[], &pattern(2_500_000)).status,
        201
    );
    assert_eq!(send(&kv, "PUT", "/a.ts", &[], b"short").status, 204);
    assert_eq!(get(&kv, "/a.ts", &[]).body, b"short");
    assert_eq!(kv.map.borrow().len(), 2, "one record and one chunk remain");
}

#[test]
fn head_has_the_headers_and_no_body() {
    let kv = kv();
    send(&kv, "PUT", "/v/init.mp4", &[], b"init");
    let head = send(&kv, "HEAD", "/v/init.mp4", &[], b"");
    assert_eq!(head.status, 200);
    assert!(head.body.is_empty());
    assert_eq!(head.header("content-type"), Some("video/mp4"));
}

#[test]
fn range_answers_206_and_past_the_end_416() {
    let kv = kv();
    send(&kv, "PUT", "/r.m4s", &[], b"0123456789");
    let part = get(&kv, "/r.m4s", &[("range", "bytes=2-5")]);
    assert_eq!(part.status, 206);
    assert_eq!(part.body, b"2345");
    assert_eq!(part.header("content-range"), Some("bytes 2-5/10"));
    let suffix = get(&kv, "/r.m4s", &[("range", "bytes=-3")]);
    assert_eq!((suffix.status, suffix.body.as_slice()), (206, &b"789"[..]));
    assert_eq!(get(&kv, "/r.m4s", &[("range", "bytes=10-")]).status, 416);
}

#[test]
fn if_none_match_answers_304() {
    let kv = kv();
    let etag = send(&kv, "PUT", "/c.ts", &[], b"x").headers;
    let etag = etag
        .iter()
        .find(|(n, _)| n == "etag")
        .map(|(_, v)| v.clone());
    let etag = etag.expect("etag");
    let not_modified = get(&kv, "/c.ts", &[("if-none-match", &etag)]);
    assert_eq!(not_modified.status, 304);
    assert!(not_modified.body.is_empty());
    assert_eq!(
        get(&kv, "/c.ts", &[("if-none-match", "\"other\"")]).status,
        200
    );
}

#[test]
fn delete_removes_the_record_and_every_chunk() {
    let kv = kv();
    send(&kv, "PUT", "/d.ts", &[], &pattern(2_000_001));
    assert_eq!(kv.map.borrow().len(), 4, "a record and three chunks");
    assert_eq!(send(&kv, "DELETE", "/d.ts", &[], b"").status, 204);
    assert!(kv.map.borrow().is_empty());
    assert_eq!(get(&kv, "/d.ts", &[]).status, 404);
    assert_eq!(send(&kv, "DELETE", "/d.ts", &[], b"").status, 404);
}

#[test]
fn a_3_mib_segment_is_chunked_under_the_value_limit_and_read_back_whole_and_by_range() {
    let kv = kv();
    let body = pattern(3 << 20);
    assert_eq!(send(&kv, "PUT", "/big.m4s", &[], &body).status, 201);
    let values = kv.map.borrow().values().map(Vec::len).collect::<Vec<_>>();
    assert_eq!(values.len(), 1 + (3usize << 20).div_ceil(CHUNK_BYTES));
    assert!(values.iter().all(|len| *len <= CHUNK_BYTES));
    assert_eq!(get(&kv, "/big.m4s", &[]).body, body);
    // A range across the first chunk boundary.
    let first = CHUNK_BYTES - 10;
    let range = format!("bytes={first}-{}", CHUNK_BYTES + 9);
    let part = get(&kv, "/big.m4s", &[("range", &range)]);
    assert_eq!(part.status, 206);
    assert_eq!(part.body, &body[first..CHUNK_BYTES + 10]);
}

#[test]
fn custom_metadata_and_cache_control_come_back() {
    let kv = kv();
    let headers = [
        ("x-strata-meta-camera", "3"),
        ("cache-control", "max-age=5"),
    ];
    send(&kv, "PUT", "/m.ts", &headers, b"m");
    let got = get(&kv, "/m.ts", &[]);
    assert_eq!(got.header("x-strata-meta-camera"), Some("3"));
    assert_eq!(got.header("cache-control"), Some("max-age=5"));
}

#[test]
fn an_expired_object_is_gone() {
    let kv = kv();
    send(&kv, "PUT", "/t.ts?ttl=60", &[], b"t");
    assert_eq!(get(&kv, "/t.ts", &[]).status, 200);
    let mut later = request("GET", "/t.ts", &[]);
    later.now_ms += 61_000;
    assert_eq!(handle(&kv, &TestClock::default(), later, b"").status, 404);
}

#[test]
fn a_playlist_is_rewritten_by_guest_core() {
    let kv = kv();
    let master = "#EXTM3U\n\
        #EXT-X-STREAM-INF:BANDWIDTH=800000,RESOLUTION=640x360\nlow.m3u8\n\
        #EXT-X-STREAM-INF:BANDWIDTH=5000000,RESOLUTION=1920x1080\nhigh.m3u8\n";
    send(&kv, "PUT", "/show/master.m3u8", &[], master.as_bytes());
    let filtered = get(
        &kv,
        "/show/master.m3u8?aws.manifestfilter=video_height:1-720",
        &[],
    );
    assert_eq!(filtered.status, 200);
    let text = String::from_utf8(filtered.body).expect("utf-8");
    assert!(
        text.contains("low.m3u8") && !text.contains("high.m3u8"),
        "{text}"
    );
}

#[test]
fn a_segment_named_but_not_uploaded_is_waited_for_up_to_a_target_duration() {
    let kv = Rc::new(kv());
    let playlist = "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2,\nseg7.ts\n";
    send(&kv, "PUT", "/ev/index.m3u8", &[], playlist.as_bytes());

    // Nothing arrives: held for the target duration, then 404 cacheable for one target duration.
    let clock = TestClock::default();
    let missing = handle(&*kv, &clock, request("GET", "/ev/seg7.ts", &[]), b"");
    assert_eq!(missing.status, 404);
    assert_eq!(clock.now_ms(), 2_000, "held for one target duration");
    assert_eq!(
        u64::from(clock.pauses.get()),
        2_000 / POLL_MS,
        "polled every {POLL_MS} ms"
    );
    assert_eq!(missing.header("cache-control"), Some("max-age=2"));

    // The segment lands while the request waits: served within one poll of its arrival.
    let clock = TestClock::default();
    let writer = Rc::clone(&kv);
    *clock.during_pause.borrow_mut() = Some(Box::new(move |now| {
        if now == 300 {
            send(&writer, "PUT", "/ev/seg7.ts", &[], b"segment seven");
        }
    }));
    let served = handle(&*kv, &clock, request("GET", "/ev/seg7.ts", &[]), b"");
    assert_eq!(served.status, 200);
    assert_eq!(served.body, b"segment seven");
    assert_eq!(clock.now_ms(), 300);
    // A segment no playlist names is simply missing, at once.
    let clock = TestClock::default();
    assert_eq!(
        handle(&*kv, &clock, request("GET", "/ev/seg8.ts", &[]), b"").status,
        404
    );
    assert_eq!(clock.now_ms(), 0);
}

#[test]
fn a_missing_segment_of_an_ended_playlist_is_404_at_once() {
    let kv = kv();
    let playlist = "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2,\nseg7.ts\n#EXT-X-ENDLIST\n";
    send(&kv, "PUT", "/vod/index.m3u8", &[], playlist.as_bytes());
    let clock = TestClock::default();
    assert_eq!(
        handle(&kv, &clock, request("GET", "/vod/seg7.ts", &[]), b"").status,
        404
    );
    assert_eq!(
        clock.now_ms(),
        0,
        "no wait for a segment that can no longer arrive"
    );
}

#[test]
fn a_blocking_reload_holds_until_the_playlist_has_the_part() {
    let kv = Rc::new(kv());
    let ll = |parts: u32| {
        let mut text = String::from(
            "#EXTM3U\n#EXT-X-VERSION:9\n#EXT-X-TARGETDURATION:2\n\
             #EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=1.5\n\
             #EXT-X-PART-INF:PART-TARGET=0.5\n#EXT-X-MEDIA-SEQUENCE:0\n",
        );
        for p in 0..parts {
            text.push_str(&format!("#EXT-X-PART:DURATION=0.5,URI=\"0.{p}.m4s\"\n"));
        }
        text.push_str(&format!(
            "#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"0.{parts}.m4s\"\n"
        ));
        text
    };
    send(&kv, "PUT", "/ll/index.m3u8", &[], ll(1).as_bytes());
    let clock = TestClock::default();
    let writer = Rc::clone(&kv);
    *clock.during_pause.borrow_mut() = Some(Box::new(move |now| match now {
        200 => drop(send(
            &writer,
            "PUT",
            "/ll/index.m3u8",
            &[],
            ll(2).as_bytes(),
        )),
        500 => drop(send(
            &writer,
            "PUT",
            "/ll/index.m3u8",
            &[],
            ll(3).as_bytes(),
        )),
        _ => {}
    }));
    let answer = handle(
        &*kv,
        &clock,
        request("GET", "/ll/index.m3u8?_HLS_msn=0&_HLS_part=2", &[]),
        b"",
    );
    assert_eq!(answer.status, 200);
    assert_eq!(String::from_utf8(answer.body).unwrap(), ll(3));
    assert_eq!(
        clock.now_ms(),
        500,
        "held across a version that did not hold the part"
    );
}

#[test]
fn lengths_are_declared_on_get_and_head() {
    let kv = kv();
    let body = pattern(CHUNK_BYTES + 10);
    send(&kv, "PUT", "/v/seg.ts", &[], &body);
    let whole = get(&kv, "/v/seg.ts", &[]);
    assert_eq!(
        whole.header("content-length"),
        Some(&*body.len().to_string())
    );
    let head = send(&kv, "HEAD", "/v/seg.ts", &[], b"");
    assert!(head.body.is_empty());
    assert_eq!(
        head.header("content-length"),
        Some(&*body.len().to_string())
    );
    let range = get(&kv, "/v/seg.ts", &[("range", "bytes=10-19")]);
    assert_eq!(range.status, 206);
    assert_eq!(range.header("content-length"), Some("10"));
    assert_eq!(range.body, &body[10..20]);
    let not_modified = get(
        &kv,
        "/v/seg.ts",
        &[("if-none-match", whole.header("etag").unwrap())],
    );
    assert_eq!(not_modified.status, 304);
    assert_eq!(not_modified.header("content-length"), None);
}

#[test]
fn bad_paths_and_methods_are_refused_with_a_reason() {
    let kv = kv();
    let bad = send(&kv, "PUT", "/a/../b.ts", &[], b"x");
    assert_eq!(bad.status, 400);
    assert!(!bad.body.is_empty());
    assert_eq!(send(&kv, "PATCH", "/a.ts", &[], b"").status, 405);
    assert!(kv.map.borrow().is_empty(), "nothing stored");
}

#[test]
fn the_clock_is_answered_and_other_reserved_keys_refused() {
    let kv = kv();
    let clock = get(&kv, "/_strata/time", &[]);
    assert_eq!(clock.status, 200);
    assert_eq!(clock.body, b"2024-05-01T12:00:00.000Z");
    assert_eq!(clock.header("cache-control"), Some("no-store"));
    assert_eq!(clock.header("access-control-allow-origin"), Some("*"));
    for path in ["/_strata/x.ts", "/%5Fstrata/time"] {
        assert_eq!(send(&kv, "PUT", path, &[], b"x").status, 400, "{path}");
    }
    assert!(kv.map.borrow().is_empty(), "nothing stored");
}

#[test]
fn an_upload_over_the_limit_is_refused_and_stores_nothing() {
    let kv = kv();
    let mut req = request("PUT", "/huge.ts", &[]);
    req.limits.max_object_bytes = 10;
    assert_eq!(
        handle(&kv, &TestClock::default(), req, &[0; 11]).status,
        413
    );
    assert!(kv.map.borrow().is_empty());
}

#[test]
fn a_redundant_route_remembers_its_switch_in_the_store() {
    let kv = kv();
    let at = |method: &str, path: &str, body: &str, seconds: u64| {
        let mut req = request(method, path, &[]);
        req.now_ms = NOW_MS + seconds * 1000;
        req.settings.redundant = vec![strata_abi::settings::RedundantRoute {
            serve: "ch/".into(),
            inputs: vec!["ch-a/".into(), "ch-b/".into()],
            healthy_within_permille: 1500,
        }];
        handle(&kv, &TestClock::default(), req, body.as_bytes())
    };
    let live = |first: u64| {
        let mut text = format!("#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXT-X-MEDIA-SEQUENCE:{first}\n");
        for n in first..first + 3 {
            text.push_str(&format!("#EXTINF:1,\ns{n}.ts\n"));
        }
        text
    };
    let served = |seconds: u64| {
        let answer = at("GET", "/ch/index.m3u8", "", seconds);
        assert_eq!(answer.status, 200);
        String::from_utf8(answer.body).expect("utf-8")
    };
    at("PUT", "/ch-a/index.m3u8", &live(10), 0);
    at("PUT", "/ch-b/index.m3u8", &live(10), 0);
    assert!(served(0).ends_with("@1/s12.ts\n"));
    at("PUT", "/ch-b/index.m3u8", &live(13), 3);
    assert!(served(3).ends_with("@2/s15.ts\n"));
    // A is back and healthy: the channel stays on B.
    at("PUT", "/ch-a/index.m3u8", &live(14), 4);
    at("PUT", "/ch-b/index.m3u8", &live(14), 4);
    assert!(served(4).ends_with("@2/s16.ts\n"));
}
