//! End-to-end: the host's decision cache (`docs/decisions/0051`) never answers what a fresh decision would
//! not: after a PUT, an overwrite, a DELETE, a TTL expiry, a hot swap and a rollback; for plain, filtered,
//! time-shifted and signed playlists, LL-HLS blocking reloads and delta updates, and segments with CMSD.
//! A guest that does not mark its outcome reusable is asked every time, and random sequences of writes and
//! reads get the same answers from an origin with the cache as from one without.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use common::playlists::{LIVE, MULTIVARIANT};
use common::{Strata, poll_until, sleep_until_second, unix_now};

/// What a GET answered: status, the headers a test compares, body.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

/// Headers that differ between two origins answering the same thing at different instants.
const CLOCK_HEADERS: [&str; 3] = ["date", "last-modified", "age"];

fn get_with(s: &Strata, path: &str, headers: &[(&str, &str)]) -> Answer {
    let headers: Vec<(String, String)> = headers
        .iter()
        .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
        .collect();
    send(s, "GET", path, None, &headers)
}

fn get(s: &Strata, path: &str) -> Answer {
    get_with(s, path, &[])
}

fn put(s: &Strata, path: &str, body: &str, headers: &[(&str, &str)]) {
    let mut request = s.http().put(s.url(path)).body(body.to_owned());
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let status = request.send().expect("PUT").status();
    assert!(status.is_success(), "PUT {path}: {status}");
}

fn delete(s: &Strata, path: &str) {
    let status = s
        .http()
        .delete(s.url(path))
        .send()
        .expect("DELETE")
        .status();
    assert!(status.is_success(), "DELETE {path}: {status}");
}

fn header<'a>(answer: &'a Answer, name: &str) -> Option<&'a str> {
    answer
        .headers
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

fn hits(s: &Strata) -> f64 {
    s.metric("strata_decision_cache_hits_total")
}

/// `LIVE` with `extra` more 4 s segments after s12.
fn live_with(extra: u32) -> String {
    let mut text = LIVE.to_owned();
    for i in 0..extra {
        text.push_str(&format!("#EXTINF:4,\ns{}.ts\n", 13 + i));
    }
    text
}

#[test]
fn playlists_follow_every_write() {
    let s = Strata::start(&[]);
    let path = "/tv/hi/index.m3u8";
    put(&s, path, LIVE, &[]);
    let first = get(&s, path);
    let before = hits(&s);
    assert_eq!(get(&s, path), first, "a replay answers as the decision did");
    assert_eq!(hits(&s), before + 1.0, "the second GET was a replay");
    assert_eq!(first.body, LIVE);
    let etag = header(&first, "etag").expect("etag").to_owned();
    assert_eq!(get_with(&s, path, &[("if-none-match", &etag)]).status, 304);
    let range = get_with(&s, path, &[("range", "bytes=0-6")]);
    assert_eq!((range.status, range.body.as_str()), (206, "#EXTM3U"));

    // Overwrite: every form of the request sees the new version at once.
    let newer = live_with(1);
    put(&s, path, &newer, &[]);
    assert_eq!(get(&s, path).body, newer);
    let revalidated = get_with(&s, path, &[("if-none-match", &etag)]);
    assert_eq!((revalidated.status, revalidated.body), (200, newer.clone()));
    let range = get_with(&s, path, &[("range", "bytes=-7")]);
    assert_eq!((range.status, range.body.as_str()), (206, "s13.ts\n"));

    delete(&s, path);
    assert_eq!(get(&s, path).status, 404);
    assert_eq!(get(&s, path).status, 404);
    put(&s, path, LIVE, &[]);
    assert_eq!(get(&s, path).body, LIVE);
    assert!(s.metric("strata_decision_cache_stored_total") > 0.0);
    assert!(s.metric("strata_decision_cache_bytes") > 0.0);
}

#[test]
fn filtered_and_time_shifted_playlists_follow_writes() {
    let s = Strata::start(&[]);
    put(&s, "/tv/master.m3u8", MULTIVARIANT, &[]);
    put(&s, "/tv/hi/index.m3u8", LIVE, &[]);
    let filtered = "/tv/master.m3u8?aws.manifestfilter=video_height%3A0-480";
    let answer = get(&s, filtered);
    assert!(answer.body.contains("lo/index.m3u8") && !answer.body.contains("hi/"));
    assert_eq!(get(&s, filtered), answer);
    let with_sd = format!(
        "{MULTIVARIANT}#EXT-X-STREAM-INF:BANDWIDTH=1500000,RESOLUTION=854x480\nsd/index.m3u8\n"
    );
    put(&s, "/tv/master.m3u8", &with_sd, &[]);
    let answer = get(&s, filtered);
    assert!(answer.body.contains("sd/index.m3u8"), "{}", answer.body);

    // Four seconds behind the live edge: the newest segment is left out, whichever it is.
    let delayed = "/tv/hi/index.m3u8?aws.manifestsettings=time_delay%3A4";
    let answer = get(&s, delayed);
    assert!(
        answer.body.contains("s11.ts") && !answer.body.contains("s12.ts"),
        "{}",
        answer.body
    );
    assert_eq!(get(&s, delayed), answer);
    put(&s, "/tv/hi/index.m3u8", &live_with(1), &[]);
    let answer = get(&s, delayed);
    assert!(
        answer.body.contains("s12.ts") && !answer.body.contains("s13.ts"),
        "{}",
        answer.body
    );
}

#[test]
fn a_ttl_expiry_ends_a_remembered_decision() {
    let s = Strata::start(&[]);
    let path = "/tv/short/index.m3u8";
    put(&s, path, LIVE, &[("x-strata-ttl", "1")]);
    let put_at = unix_now();
    assert_eq!(get(&s, path).status, 200);
    assert_eq!(get(&s, path).status, 200);
    // The object expires at its commit second + 1 at the latest.
    sleep_until_second(put_at + 1);
    assert_eq!(
        get(&s, path).status,
        404,
        "an expired playlist was replayed"
    );
}

#[test]
fn a_signed_playlist_is_refused_from_its_expiry() {
    let s = Strata::with_config(
        "[[guest.signing]]\nprefix = \"premium/\"\nkey = \"secret\"\n",
        &[],
    );
    put(&s, "/premium/master.m3u8", MULTIVARIANT, &[]);
    let expires = unix_now() + 2;
    let sig = strata_guest_core::signing::sign(b"secret", "premium/", expires);
    let path = format!("/premium/master.m3u8?st_exp={expires}&st_sig={sig}");
    let before = hits(&s);
    assert_eq!(get(&s, &path).status, 200);
    assert_eq!(get(&s, &path).status, 200);
    assert_eq!(hits(&s), before + 1.0);
    sleep_until_second(expires);
    assert_eq!(
        get(&s, &path).status,
        403,
        "a token past its expiry was replayed"
    );
}

#[test]
fn a_swap_and_a_rollback_retire_remembered_decisions() {
    let s = Strata::start(&[]);
    let push = |wasm: &str| {
        let status = s
            .http()
            .put(s.url("/_strata/guests/origin"))
            .body(std::fs::read(wasm).expect("test guest"))
            .send()
            .expect("deploy")
            .status();
        assert!(status.is_success(), "deploy: {status}");
    };
    let version = |s: &Strata| {
        let answer = get(s, "/any/key.m3u8");
        header(&answer, "x-strata-guest-version")
            .expect("version header")
            .to_owned()
    };
    push(strata_test_guests::VERSION_ONE);
    assert_eq!(version(&s), "1");
    let before = hits(&s);
    assert_eq!(version(&s), "1");
    assert_eq!(hits(&s), before + 1.0, "version 1 answers are reusable");
    push(strata_test_guests::VERSION_TWO);
    assert_eq!(version(&s), "2");
    assert_eq!(version(&s), "2");
    let status = s
        .http()
        .post(s.url("/_strata/guests/origin/rollback"))
        .send()
        .expect("rollback")
        .status();
    assert!(status.is_success(), "rollback: {status}");
    assert_eq!(version(&s), "1");
}

#[test]
fn a_guest_that_does_not_allow_reuse_is_asked_every_time() {
    let s = Strata::start(&[]);
    let status = s
        .http()
        .put(s.url("/_strata/guests/origin"))
        .body(std::fs::read(strata_test_guests::CLOCK).expect("clock guest"))
        .send()
        .expect("deploy")
        .status();
    assert!(status.is_success(), "deploy: {status}");
    let before = hits(&s);
    let stored = s.metric("strata_decision_cache_stored_total");
    for _ in 0..20 {
        assert_eq!(get(&s, "/clock").status, 200);
    }
    assert_eq!(
        hits(&s),
        before,
        "a decision without a reuse hint was replayed"
    );
    assert_eq!(s.metric("strata_decision_cache_stored_total"), stored);

    // Reusable for a minute: every answer is the first one.
    let first = get(&s, "/clock?reuse=60000").body;
    for _ in 0..20 {
        assert_eq!(get(&s, "/clock?reuse=60000").body, first);
    }
    assert_eq!(hits(&s), before + 20.0);
    // Reusable for 200 ms: a fresh decision once the lifetime ends.
    let short = get(&s, "/clock?reuse=200").body;
    poll_until(
        Duration::from_secs(5),
        "a decision past its lifetime is made again",
        || get(&s, "/clock?reuse=200").body != short,
    );
}

/// A live playlist of `segments` one-second segments that allows blocking reloads and delta updates
/// skipping all but the last 6 seconds.
fn skippable(segments: u64) -> String {
    let mut text = String::from(
        "#EXTM3U\n#EXT-X-VERSION:9\n#EXT-X-TARGETDURATION:1\n\
         #EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,CAN-SKIP-UNTIL=6,PART-HOLD-BACK=1.5\n\
         #EXT-X-PART-INF:PART-TARGET=0.5\n#EXT-X-MEDIA-SEQUENCE:0\n",
    );
    for msn in 0..segments {
        text.push_str(&format!("#EXTINF:1.0,\nseg{msn}.ts\n"));
    }
    text
}

#[test]
fn blocking_reloads_and_delta_updates_follow_the_playlist() {
    let s = Strata::start(&[]);
    let path = "/ll/index.m3u8";
    put(&s, path, &skippable(12), &[]);
    let delta = get(&s, &format!("{path}?_HLS_skip=YES"));
    assert!(
        delta.body.contains("#EXT-X-SKIP:SKIPPED-SEGMENTS=6\n"),
        "{}",
        delta.body
    );
    assert_eq!(get(&s, &format!("{path}?_HLS_skip=YES")), delta);
    let reached = get(&s, &format!("{path}?_HLS_msn=11"));
    assert!(reached.body.contains("seg11.ts"));
    assert_eq!(get(&s, &format!("{path}?_HLS_msn=11")), reached);

    // A reload blocked on segment 12 (its `wait` may be remembered too) ends with the playlist holding it.
    let blocked = std::thread::scope(|scope| {
        let waiter = scope.spawn(|| get(&s, &format!("{path}?_HLS_msn=12")));
        let second = scope.spawn(|| get(&s, &format!("{path}?_HLS_msn=12")));
        poll_until(Duration::from_secs(10), "both reloads parked", || {
            s.metric("strata_parked_requests") >= 2.0
        });
        put(&s, path, &skippable(13), &[]);
        [
            waiter.join().expect("waiter"),
            second.join().expect("second"),
        ]
    });
    for answer in blocked {
        assert_eq!(answer.status, 200);
        assert!(answer.body.contains("seg12.ts"), "{}", answer.body);
    }
    for query in ["_HLS_msn=11", "_HLS_msn=12", "_HLS_skip=YES"] {
        let answer = get(&s, &format!("{path}?{query}"));
        assert!(answer.body.contains("seg12.ts"), "{query}: {}", answer.body);
    }
    let delta = get(&s, &format!("{path}?_HLS_skip=YES"));
    assert!(
        delta.body.contains("#EXT-X-SKIP:SKIPPED-SEGMENTS=7\n"),
        "{}",
        delta.body
    );
}

#[test]
fn segments_follow_the_playlist_naming_them_and_their_own_writes() {
    let s = Strata::start(&[]);
    let playlist = |duration: &str| {
        format!(
            "#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXT-X-MEDIA-SEQUENCE:1\n#EXTINF:{duration},\nseg1.ts\n"
        )
    };
    put(&s, "/live/index.m3u8", &playlist("2.0"), &[]);
    put(&s, "/live/seg1.ts", &"a".repeat(1000), &[]);
    let cmsd = |s: &Strata| {
        let answer = get(s, "/live/seg1.ts");
        (
            header(&answer, "cmsd-static")
                .unwrap_or_default()
                .to_owned(),
            answer.body,
        )
    };
    let (first, body) = cmsd(&s);
    assert!(first.contains("d=2000"), "{first}");
    assert_eq!(body, "a".repeat(1000));
    let before = hits(&s);
    assert_eq!(cmsd(&s).0, first);
    assert_eq!(hits(&s), before + 1.0);
    put(&s, "/live/index.m3u8", &playlist("4.0"), &[]);
    assert!(
        cmsd(&s).0.contains("d=4000"),
        "the naming playlist's change was missed"
    );
    put(&s, "/live/seg1.ts", &"b".repeat(500), &[]);
    let (headers, body) = cmsd(&s);
    assert_eq!(body, "b".repeat(500));
    assert!(headers.contains("br=1"), "{headers}");
    delete(&s, "/live/seg1.ts");
    assert_eq!(get(&s, "/live/seg1.ts").status, 404);
}

/// A tiny deterministic generator (xorshift64*), so a failing sequence can be replayed from its seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[(self.next() % items.len() as u64) as usize]
    }
}

/// One step of a random sequence: a write, or a read with some query and headers.
fn random_step(
    rng: &mut Rng,
    etags: &[String],
) -> (String, String, Option<String>, Vec<(String, String)>) {
    const KEYS: [&str; 5] = [
        "/p/index.m3u8",
        "/p/master.m3u8",
        "/p/seg1.ts",
        "/p/seg2.ts",
        "/p/other/index.m3u8",
    ];
    const QUERIES: [&str; 6] = [
        "",
        "?aws.manifestfilter=video_height%3A0-480",
        "?aws.manifestsettings=time_delay%3A4",
        "?_HLS_skip=YES",
        "?_HLS_msn=10",
        "?x=1&CMCD=bl%3D300%2Cnor%3D%22seg2.ts%22",
    ];
    let key = (*rng.pick(&KEYS)).to_owned();
    let choice = rng.next() % 10;
    if choice < 3 {
        let body = match key.as_str() {
            "/p/master.m3u8" if rng.next().is_multiple_of(2) => MULTIVARIANT.to_owned(),
            "/p/master.m3u8" => format!(
                "{MULTIVARIANT}#EXT-X-STREAM-INF:BANDWIDTH=1500000,RESOLUTION=854x480\nsd/index.m3u8\n"
            ),
            k if k.ends_with(".ts") => "x".repeat(100 + (rng.next() % 900) as usize),
            _ => live_with((rng.next() % 3) as u32),
        };
        return ("PUT".into(), key, Some(body), Vec::new());
    }
    if choice == 3 {
        return ("DELETE".into(), key, None, Vec::new());
    }
    let mut headers = Vec::new();
    if rng.next().is_multiple_of(4) && !etags.is_empty() {
        headers.push(("if-none-match".into(), rng.pick(etags).clone()));
    }
    if rng.next().is_multiple_of(5) {
        headers.push((
            "range".into(),
            (*rng.pick(&["bytes=0-9", "bytes=-5", "bytes=5000-"])).to_owned(),
        ));
    }
    if rng.next().is_multiple_of(5) {
        headers.push(("cmcd-request".into(), format!("bl={}", rng.next() % 10_000)));
    }
    let method = if rng.next().is_multiple_of(6) {
        "HEAD"
    } else {
        "GET"
    };
    (
        method.into(),
        format!("{key}{}", rng.pick(&QUERIES)),
        None,
        headers,
    )
}

fn send(
    s: &Strata,
    method: &str,
    path: &str,
    body: Option<&str>,
    headers: &[(String, String)],
) -> Answer {
    let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
    let mut request = s.http().request(method, s.url(path));
    for (name, value) in headers {
        request = request.header(name.as_str(), value.as_str());
    }
    if let Some(body) = body {
        request = request.body(body.to_owned());
    }
    let response = request.send().expect("request");
    let status = response.status().as_u16();
    let mut headers: Vec<(String, String)> = response
        .headers()
        .iter()
        .filter(|(name, _)| !CLOCK_HEADERS.contains(&name.as_str()))
        .map(|(n, v)| {
            (
                n.as_str().to_owned(),
                v.to_str().unwrap_or("<binary>").to_owned(),
            )
        })
        .collect();
    headers.sort();
    Answer {
        status,
        headers,
        body: response.text().expect("body"),
    }
}

/// A chunked PUT that stays open: its first bytes are sent at once, the rest on [`SlowUpload::finish`].
struct SlowUpload(TcpStream);

impl SlowUpload {
    fn begin(s: &Strata, path: &str, first: &[u8]) -> SlowUpload {
        let mut stream = TcpStream::connect(s.addr()).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .expect("read timeout");
        let mut head = format!(
            "PUT {path} HTTP/1.1\r\nHost: strata\r\nTransfer-Encoding: chunked\r\n\r\n{:x}\r\n",
            first.len()
        )
        .into_bytes();
        head.extend_from_slice(first);
        head.extend_from_slice(b"\r\n");
        stream.write_all(&head).expect("send the upload's start");
        SlowUpload(stream)
    }

    /// Sends `rest` and the end of the body; the upload's status.
    fn finish(mut self, rest: &[u8]) -> u16 {
        let mut tail = format!("{:x}\r\n", rest.len()).into_bytes();
        tail.extend_from_slice(rest);
        tail.extend_from_slice(b"\r\n0\r\n\r\n");
        self.0.write_all(&tail).expect("send the upload's end");
        let mut answer = Vec::new();
        let mut chunk = [0u8; 4096];
        while !answer.windows(4).any(|w| w == b"\r\n\r\n") {
            match self.0.read(&mut chunk) {
                Ok(0) | Err(_) => break,
                Ok(n) => answer.extend_from_slice(&chunk[..n]),
            }
        }
        String::from_utf8_lossy(&answer)
            .split_whitespace()
            .nth(1)
            .and_then(|status| status.parse().ok())
            .unwrap_or(0)
    }
}

/// Deploys test guest `wasm` as `name`, with `query` (`?namespace=...`).
fn deploy(s: &Strata, name: &str, query: &str, wasm: &str) {
    let status = s
        .http()
        .put(s.url(&format!("/_strata/guests/{name}{query}")))
        .body(std::fs::read(wasm).expect("test guest"))
        .send()
        .expect("deploy")
        .status();
    assert!(status.is_success(), "deploy {name}: {status}");
}

#[test]
fn a_namespaced_guest_never_replays_an_outcome_outside_its_namespace() {
    let s = Strata::start(&[]);
    // Stored through the default handler, before the tenant's guest takes `tenant/` over.
    let etag_of = |path: &str, body: &str| {
        let response = s
            .http()
            .put(s.url(path))
            .body(body.to_owned())
            .send()
            .expect("PUT");
        assert!(response.status().is_success(), "PUT {path}");
        response
            .headers()
            .get("etag")
            .and_then(|v| v.to_str().ok())
            .expect("etag")
            .trim_matches('"')
            .to_owned()
    };
    let secret = etag_of("/other/secret.ts", "another tenant's secret");
    let own = etag_of("/tenant/own.ts", "mine");
    deploy(
        &s,
        "tenant",
        "?namespace=tenant/",
        strata_test_guests::CLOCK,
    );
    // The guest names an object outside its namespace and marks the decision reusable: refused every time.
    let path = format!("/tenant/x?serve=other/secret.ts&etag={secret}&reuse=60000");
    for attempt in 0..3 {
        let answer = get(&s, &path);
        assert_eq!(answer.status, 500, "attempt {attempt}: {answer:?}");
        assert!(
            !answer.body.contains("tenant's secret"),
            "attempt {attempt}: {answer:?}"
        );
    }
    // Inside its namespace the same decision is remembered.
    let path = format!("/tenant/x?serve=tenant/own.ts&etag={own}&reuse=60000");
    assert_eq!(get(&s, &path).body, "mine");
    let before = hits(&s);
    assert_eq!(get(&s, &path).body, "mine");
    assert_eq!(hits(&s), before + 1.0);
}

#[test]
fn cmsd_mb_follows_the_load_of_each_request() {
    // One instance slot: each request in flight is 1000 permille, the threshold.
    let config = "[guest]\nmax_instances = 1\ncmsd_load_threshold_permille = 1000\n";
    let cached = Strata::with_config(config, &[]);
    let fresh = Strata::with_config(config, &["--decision-cache-bytes", "0"]);
    let playlist =
        "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:1\n#EXTINF:2.0,\nseg1.ts\n";
    let segment = "s".repeat(100_000);
    for s in [&cached, &fresh] {
        put(s, "/live/index.m3u8", playlist, &[]);
        put(s, "/live/seg1.ts", &segment, &[]);
    }
    let expected = get(&fresh, "/live/seg1.ts");
    assert!(
        header(&expected, "cmsd-dynamic").is_some(),
        "at the threshold: {expected:?}"
    );
    // Twice the threshold while an upload elsewhere is in flight: half the bitrate.
    let upload = SlowUpload::begin(&cached, "/elsewhere/slow.ts", b"abcd");
    poll_until(Duration::from_secs(10), "the upload is in flight", || {
        cached.metric("strata_in_flight_requests") >= 1.0
    });
    let loaded = get(&cached, "/live/seg1.ts");
    assert_ne!(
        header(&loaded, "cmsd-dynamic"),
        header(&expected, "cmsd-dynamic"),
        "decided under twice the load"
    );
    assert_eq!(upload.finish(b"efgh"), 201);
    poll_until(Duration::from_secs(10), "the upload is done", || {
        cached.metric("strata_in_flight_requests") == 0.0
    });
    for attempt in 0..2 {
        let got = get(&cached, "/live/seg1.ts");
        assert!(
            got == expected,
            "attempt {attempt}: mb decided under another load was replayed: {:?}, not {:?}",
            header(&got, "cmsd-dynamic"),
            header(&expected, "cmsd-dynamic")
        );
    }
}

#[test]
fn the_budget_holds_whatever_clients_send() {
    let budget = 16 * 1024;
    let s = Strata::start(&["--decision-cache-bytes", &budget.to_string()]);
    put(&s, "/tv/hi/index.m3u8", LIVE, &[]);
    put(&s, "/tv/hi/s1.ts", &"x".repeat(1000), &[]);
    let within_budget = |phase: &str| {
        let bytes = s.metric("strata_decision_cache_bytes");
        assert!(
            bytes <= f64::from(budget),
            "{phase}: {bytes} bytes held, budget {budget}"
        );
        assert_eq!(
            s.metric("strata_decision_cache_budget_bytes"),
            f64::from(budget)
        );
    };
    for i in 0..300 {
        get(
            &s,
            &format!("/tv/hi/index.m3u8?n={i}&pad={}", "p".repeat(i % 50)),
        );
    }
    within_budget("distinct queries");
    let long = "v".repeat(4000);
    for i in 0..100 {
        get_with(
            &s,
            "/tv/hi/s1.ts",
            &[
                ("if-none-match", &format!("\"{long}{i}\"")),
                ("range", &format!("bytes={i}-")),
            ],
        );
    }
    within_budget("distinct header values");
    for i in 0..300 {
        get(&s, &format!("/missing/{}/{i}.m3u8", "k".repeat(200)));
        send(
            &s,
            "OPTIONS",
            &format!("/tv/hi/{i}.ts"),
            None,
            &[(
                "access-control-request-headers".into(),
                format!("x-{long}-{i}"),
            )],
        );
    }
    within_budget("distinct keys and preflights");
    assert!(s.metric("strata_decision_cache_evictions_total") > 0.0);
    // It still works: a hot playlist is replayed.
    get(&s, "/tv/hi/index.m3u8");
    let before = hits(&s);
    assert_eq!(get(&s, "/tv/hi/index.m3u8").body, LIVE);
    assert_eq!(hits(&s), before + 1.0);
}

#[test]
fn reads_of_an_object_still_uploading_are_never_remembered() {
    let s = Strata::start(&[]);
    let upload = SlowUpload::begin(&s, "/up/seg.ts", b"abcd");
    let head = || send(&s, "HEAD", "/up/seg.ts", None, &[]);
    poll_until(Duration::from_secs(10), "the upload is readable", || {
        head().status == 200
    });
    // (A 404 decided before the upload began may be remembered: the upload's start ends it.)
    let stored = s.metric("strata_decision_cache_stored_total");
    assert_eq!(head().status, 200);
    let range = get_with(&s, "/up/seg.ts", &[("range", "bytes=0-1")]);
    assert_eq!((range.status, range.body.as_str()), (206, "ab"));
    assert_eq!(
        s.metric("strata_decision_cache_stored_total"),
        stored,
        "a decision on an upload in progress was remembered"
    );
    assert_eq!(upload.finish(b"efgh"), 201);
    for _ in 0..2 {
        assert_eq!(get(&s, "/up/seg.ts").body, "abcdefgh");
        let range = get_with(&s, "/up/seg.ts", &[("range", "bytes=0-1")]);
        assert_eq!(
            header(&range, "content-range"),
            Some("bytes 0-1/8"),
            "{range:?}"
        );
        assert_eq!(head().status, 200);
        assert_eq!(header(&head(), "content-length"), Some("8"));
    }
}

#[test]
fn an_evicted_memory_only_object_is_not_replayed() {
    let config = "[[storage.rules]]\npattern = \"mem/**\"\nplacement = \"memory\"\n";
    let s = Strata::with_config(config, &["--memory-bytes", "4MiB"]);
    put(&s, "/mem/index.m3u8", LIVE, &[]);
    assert_eq!(get(&s, "/mem/index.m3u8").body, LIVE);
    let before = hits(&s);
    assert_eq!(get(&s, "/mem/index.m3u8").body, LIVE);
    assert_eq!(hits(&s), before + 1.0, "remembered");
    // Memory-only objects leave oldest first once the memory tier is full.
    let filler = "f".repeat(100_000);
    let mut n = 0;
    poll_until(Duration::from_secs(30), "the playlist is evicted", || {
        n += 1;
        put(&s, &format!("/mem/fill{n}.ts"), &filler, &[]);
        s.metric("strata_tier_dropped_total{tier=\"memory\"}") > 0.0
    });
    for attempt in 0..2 {
        assert_eq!(get(&s, "/mem/index.m3u8").status, 404, "attempt {attempt}");
    }
}

/// A remembered serve is answered at once from memory (`http/remembered.rs`) or the long way from disk;
/// either way each request counts once as a hit, and the first as a miss.
#[test]
fn remembered_reads_from_memory_and_from_disk_are_each_counted_once() {
    let s = Strata::with_config("", &["--memory-bytes", "4MiB"]);
    let small = "s".repeat(1000);
    // Larger than the memory tier admits (an eighth of its budget): served from its file every time.
    let large = "l".repeat(1 << 20);
    put(&s, "/vod/small.ts", &small, &[]);
    put(&s, "/vod/large.ts", &large, &[]);
    let misses = || s.metric("strata_decision_cache_misses_total");
    for (path, body) in [("/vod/small.ts", &small), ("/vod/large.ts", &large)] {
        let (hits_before, misses_before) = (hits(&s), misses());
        for _ in 0..4 {
            let answer = get(&s, path);
            assert_eq!(
                (answer.status, answer.body.len()),
                (200, body.len()),
                "{path}"
            );
        }
        assert_eq!(hits(&s) - hits_before, 3.0, "{path}");
        assert_eq!(misses() - misses_before, 1.0, "{path}");
    }
    assert!(s.metric("strata_tier_hits_total{tier=\"disk\"}") >= 4.0);
}

/// Requests a guest may treat alike that a cache key could tell apart, or the other way round: encoded
/// and case-varied paths and queries, CMCD however spelled, HEAD and preflights, every conditional and
/// Range combination. An origin that remembers decisions answers each (twice) as one that does not.
#[test]
fn every_form_of_a_request_matches_an_origin_without_the_cache() {
    let cached = Strata::start(&[]);
    let fresh = Strata::start(&["--decision-cache-bytes", "0"]);
    for s in [&cached, &fresh] {
        put(s, "/c/index.m3u8", &live_with(1), &[]);
        put(s, "/c/seg1.ts", &"0123456789".repeat(10), &[]);
        put(s, "/c/a b.ts", "spaced", &[]);
    }
    let etag = header(&get(&fresh, "/c/index.m3u8"), "etag")
        .expect("etag")
        .to_owned();
    let segment_etag = header(&get(&fresh, "/c/seg1.ts"), "etag")
        .expect("etag")
        .to_owned();
    let paths = [
        "/c/index.m3u8",
        "/c/%69ndex.m3u8",
        "/c//index.m3u8",
        "/c/seg1.ts",
        "/c/a%20b.ts",
        "/c/missing.ts",
    ];
    let queries = [
        "",
        "?",
        "?x=1&&",
        "?X=1",
        "?CMCD=bl%3D1",
        "?cmcd=nor%3D%22seg1.ts%22",
        "?%43MCD=x&_HLS_skip=YES",
        "?_hls_skip=yes",
        "?AWS.MANIFESTFILTER=video_height%3A0-480",
    ];
    let header_sets: Vec<Vec<(String, String)>> = [
        vec![],
        vec![("if-none-match", etag.as_str())],
        vec![("if-none-match", segment_etag.as_str())],
        vec![("if-none-match", "*")],
        vec![("if-modified-since", "Tue, 01 Dec 2099 00:00:00 GMT")],
        vec![("range", "bytes=0-3")],
        vec![("range", "bytes=0-3"), ("if-range", segment_etag.as_str())],
        vec![("range", "bytes=0-3"), ("if-range", "\"other\"")],
        vec![("range", "bytes=0-3, 5-6")],
        vec![("range", "bytes=5-2")],
        vec![("access-control-request-headers", "range")],
        vec![("cmcd-request", "nor=\"seg1.ts\"")],
    ]
    .into_iter()
    .map(|set| {
        set.into_iter()
            .map(|(n, v)| (n.to_owned(), v.to_owned()))
            .collect()
    })
    .collect();
    for method in ["GET", "HEAD", "OPTIONS"] {
        for path in paths {
            for query in queries {
                for headers in &header_sets {
                    let target = format!("{path}{query}");
                    let expected = send(&fresh, method, &target, None, headers);
                    for attempt in 0..2 {
                        let got = send(&cached, method, &target, None, headers);
                        assert_eq!(got, expected, "{method} {target} {headers:?} #{attempt}");
                    }
                }
            }
        }
    }
    assert!(hits(&cached) > 1000.0);
}

/// The property: whatever the sequence of writes and reads, an origin that remembers decisions answers
/// exactly as one that asks the guest every time. Each read is sent twice to the cached origin, so most of
/// its reads are replays. `STRATA_PROPERTY_SEEDS` sets how many seeds run (default 4).
#[test]
fn random_writes_and_reads_match_an_origin_without_the_cache() {
    let cached = Strata::start(&[]);
    let fresh = Strata::start(&["--decision-cache-bytes", "0"]);
    let seeds: u64 = std::env::var("STRATA_PROPERTY_SEEDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(4);
    let mut etags: Vec<String> = Vec::new();
    for seed in 1..=seeds {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ seed);
        for step in 0..150 {
            let (method, path, body, headers) = random_step(&mut rng, &etags);
            let expected = send(&fresh, &method, &path, body.as_deref(), &headers);
            let writes = body.is_some() || method == "DELETE";
            let tries = if writes { 1 } else { 2 };
            for attempt in 0..tries {
                let got = send(&cached, &method, &path, body.as_deref(), &headers);
                assert_eq!(
                    got, expected,
                    "seed {seed}, step {step}, attempt {attempt}: {method} {path} {headers:?}"
                );
            }
            if let Some((_, etag)) = expected.headers.iter().find(|(n, _)| n == "etag")
                && !etags.contains(etag)
            {
                etags.push(etag.clone());
            }
        }
    }
    assert!(
        cached.metric("strata_decision_cache_hits_total") > 100.0,
        "the sequences exercised the cache: {}",
        cached.metrics_text()
    );
    assert_eq!(fresh.metric("strata_decision_cache_hits_total"), 0.0);
}
