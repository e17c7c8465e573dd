//! Low-Latency HLS against the real binary: blocking playlist reload (held until the playlist really holds
//! the point, 400 and 503 where rfc8216bis says), delta updates, rendition reports, preload-hinted parts
//! streamed while they upload, a synthetic two-rendition LL-HLS stream followed by player-like clients,
//! and the same over HTTP/2 (h2c with prior knowledge).

mod common;

use std::io::Read;
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use common::{PseudoRandom, Strata};

/// A player-side client: HTTP/1.1, or HTTP/2 with prior knowledge when `h2`.
fn player(h2: bool) -> reqwest::blocking::Client {
    let builder = reqwest::blocking::Client::builder()
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(30))
        .no_proxy();
    let builder = if h2 {
        builder.http2_prior_knowledge()
    } else {
        builder.http1_only()
    };
    builder.build().expect("build the player client")
}

/// A synthetic LL-HLS rendition, as an encoder holds it: complete segments, the parts of the segment in
/// progress, and the part it will publish next (the preload hint).
struct Rendition {
    folder: String,
    target_duration: u32,
    part_target: f64,
    parts_per_segment: u64,
    can_skip_until: Option<u32>,
    first_msn: u64,
    /// Complete segments after `first_msn`.
    complete: u64,
    /// Parts of the segment in progress.
    parts: u64,
    ended: bool,
}

impl Rendition {
    fn new(folder: &str, target_duration: u32, parts_per_segment: u64) -> Self {
        Rendition {
            folder: folder.to_string(),
            target_duration,
            part_target: f64::from(target_duration) / parts_per_segment as f64,
            parts_per_segment,
            can_skip_until: None,
            first_msn: 0,
            complete: 0,
            parts: 0,
            ended: false,
        }
    }

    fn playlist_path(&self) -> String {
        format!("/{}/index.m3u8", self.folder)
    }

    /// The current playlist text.
    fn playlist(&self) -> String {
        let mut control = "CAN-BLOCK-RELOAD=YES".to_string();
        control.push_str(&format!(",PART-HOLD-BACK={:.3}", self.part_target * 3.0));
        if let Some(until) = self.can_skip_until {
            control.push_str(&format!(",CAN-SKIP-UNTIL={until}"));
        }
        let mut text = format!(
            "#EXTM3U\n#EXT-X-VERSION:9\n#EXT-X-TARGETDURATION:{}\n#EXT-X-SERVER-CONTROL:{control}\n\
             #EXT-X-PART-INF:PART-TARGET={:.3}\n#EXT-X-MEDIA-SEQUENCE:{}\n",
            self.target_duration, self.part_target, self.first_msn
        );
        let part_lines = |text: &mut String, msn: u64, count: u64| {
            for p in 0..count {
                text.push_str(&format!(
                    "#EXT-X-PART:DURATION={:.3},URI=\"{}\"{}\n",
                    self.part_target,
                    part_name(msn, p),
                    if p == 0 { ",INDEPENDENT=YES" } else { "" }
                ));
            }
        };
        for i in 0..self.complete {
            let msn = self.first_msn + i;
            part_lines(&mut text, msn, self.parts_per_segment);
            text.push_str(&format!(
                "#EXTINF:{:.3},\nseg{msn}.m4s\n",
                self.target_duration
            ));
        }
        let current = self.first_msn + self.complete;
        part_lines(&mut text, current, self.parts);
        if self.ended {
            text.push_str("#EXT-X-ENDLIST\n");
        } else {
            text.push_str(&format!(
                "#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"{}\"\n",
                part_name(current, self.parts)
            ));
        }
        text
    }

    /// The point the next part will have.
    fn next_part(&self) -> (u64, u64) {
        (self.first_msn + self.complete, self.parts)
    }

    /// Records one more published part, closing the segment when it is full.
    fn advance(&mut self) {
        self.parts += 1;
        if self.parts == self.parts_per_segment {
            self.complete += 1;
            self.parts = 0;
        }
    }
}

fn part_name(msn: u64, part: u64) -> String {
    format!("{msn}.{part}.m4s")
}

/// Part bytes: deterministic per rendition and point, so a reader can check it got them whole.
fn part_bytes(folder: &str, msn: u64, part: u64) -> Vec<u8> {
    let seed = common::fnv1a64(format!("{folder}/{msn}.{part}").as_bytes());
    PseudoRandom::vec(seed, PART_BYTES)
}

const PART_BYTES: usize = 12_000;

/// PUTs `body` at `base` + `path`.
#[test]
fn a_herd_of_identical_blocking_reloads_shares_one_decision() {
    const HERD: usize = 40;
    let s = Strata::start(&[]);
    let mut renditions = two_renditions(&s, 2, 4, 2);
    let low = &mut renditions[0];
    let url = s.url(&format!("{}?_HLS_msn=2&_HLS_part=0", low.playlist_path()));
    // One HTTP/2 connection, many streams: how a CDN or many players behind one proxy ask.
    let client = player(true);
    let waiters: Vec<_> = (0..HERD)
        .map(|_| {
            let (client, url) = (client.clone(), url.clone());
            thread::spawn(move || text(client.get(url).send().expect("blocking GET")))
        })
        .collect();
    common::poll_until(Duration::from_secs(20), "the herd to park", || {
        s.metric("strata_parked_requests") >= HERD as f64
    });
    publish_part(s.http(), s.base_url(), low, Duration::ZERO);
    let answers: Vec<_> = waiters
        .into_iter()
        .map(|w| w.join().expect("waiter"))
        .collect();
    for (status, _, body) in &answers {
        assert_eq!(*status, 200, "{body}");
        assert!(body.contains("URI=\"2.0.m4s\""), "{body}");
        assert_eq!(body, &answers[0].2);
    }
    let collapsed = s.metric("strata_collapsed_decisions_total");
    assert!(
        collapsed >= 1.0,
        "no woken request shared another's decision ({collapsed})"
    );
}

fn put(client: &reqwest::blocking::Client, base: &str, path: &str, body: Vec<u8>) {
    let status = client
        .put(format!("{base}{path}"))
        .body(body)
        .send()
        .expect("PUT")
        .status();
    assert!(status.is_success(), "PUT {path}: {status}");
}

/// A request body that hands its bytes over in `pieces` chunks spaced by `gap`, like an encoder writing
/// a part while it encodes it (chunked transfer, no Content-Length).
struct Paced {
    chunks: Vec<Vec<u8>>,
    next: usize,
    offset: usize,
    gap: Duration,
}

impl Read for Paced {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let Some(chunk) = self.chunks.get(self.next) else {
            return Ok(0);
        };
        if self.offset == 0 && self.next > 0 {
            thread::sleep(self.gap);
        }
        let n = buf.len().min(chunk.len() - self.offset);
        buf[..n].copy_from_slice(&chunk[self.offset..self.offset + n]);
        self.offset += n;
        if self.offset == chunk.len() {
            self.next += 1;
            self.offset = 0;
        }
        Ok(n)
    }
}

fn put_paced(
    client: &reqwest::blocking::Client,
    base: &str,
    path: &str,
    body: &[u8],
    gap: Duration,
) {
    let chunks = body
        .chunks(body.len().div_ceil(4))
        .map(<[u8]>::to_vec)
        .collect();
    let paced = Paced {
        chunks,
        next: 0,
        offset: 0,
        gap,
    };
    let status = client
        .put(format!("{base}{path}"))
        .body(reqwest::blocking::Body::new(paced))
        .send()
        .expect("paced PUT")
        .status();
    assert!(status.is_success(), "PUT {path}: {status}");
}

/// Publishes one part as an encoder does: upload the hinted part (paced), then the playlist naming it with
/// a hint for the next; at a segment's end, the whole segment too.
fn publish_part(client: &reqwest::blocking::Client, base: &str, r: &mut Rendition, gap: Duration) {
    let (msn, part) = r.next_part();
    let bytes = part_bytes(&r.folder, msn, part);
    put_paced(
        client,
        base,
        &format!("/{}/{}", r.folder, part_name(msn, part)),
        &bytes,
        gap,
    );
    r.advance();
    if r.parts == 0 {
        let segment: Vec<u8> = (0..r.parts_per_segment)
            .flat_map(|p| part_bytes(&r.folder, msn, p))
            .collect();
        put(
            client,
            base,
            &format!("/{}/seg{msn}.m4s", r.folder),
            segment,
        );
    }
    put(client, base, &r.playlist_path(), r.playlist().into_bytes());
}

fn master(folders: &[&str]) -> String {
    let mut text = "#EXTM3U\n#EXT-X-VERSION:9\n".to_string();
    for (i, folder) in folders.iter().enumerate() {
        text.push_str(&format!(
            "#EXT-X-STREAM-INF:BANDWIDTH={}\n{folder}/index.m3u8\n",
            (i + 1) * 1_000_000
        ));
    }
    text
}

/// Sets up `live/master.m3u8` and two renditions with `segments` complete segments each.
fn two_renditions(s: &Strata, target_duration: u32, parts: u64, segments: u64) -> Vec<Rendition> {
    let (client, base) = (s.http(), s.base_url());
    put(
        client,
        base,
        "/live/master.m3u8",
        master(&["low", "high"]).into_bytes(),
    );
    ["live/low", "live/high"]
        .iter()
        .map(|folder| {
            let mut r = Rendition::new(folder, target_duration, parts);
            for _ in 0..segments * parts {
                publish_part(client, base, &mut r, Duration::ZERO);
            }
            r
        })
        .collect()
}

fn text(response: reqwest::blocking::Response) -> (u16, reqwest::header::HeaderMap, String) {
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    (status, headers, response.text().expect("body"))
}

fn header<'a>(headers: &'a reqwest::header::HeaderMap, name: &str) -> &'a str {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

#[test]
fn blocking_reload_holds_until_the_part_is_published() {
    let s = Strata::start(&[]);
    let mut renditions = two_renditions(&s, 2, 4, 2);
    let low = &mut renditions[0];
    assert_eq!(low.next_part(), (2, 0));
    let url = s.url(&format!("{}?_HLS_msn=2&_HLS_part=1", low.playlist_path()));
    let (tx, rx) = mpsc::channel();
    let waiter = thread::spawn(move || {
        let started = Instant::now();
        let answer = text(player(false).get(url).send().expect("blocking GET"));
        tx.send(()).ok();
        (answer, started.elapsed())
    });
    // Part 2.0 lands: the playlist changed, but not to the point asked for.
    publish_part(s.http(), s.base_url(), low, Duration::ZERO);
    assert!(
        rx.recv_timeout(Duration::from_millis(300)).is_err(),
        "answered before part 2.1 was published"
    );
    publish_part(s.http(), s.base_url(), low, Duration::ZERO);
    let ((status, headers, body), elapsed) = waiter.join().expect("waiter");
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("URI=\"2.1.m4s\""), "{body}");
    assert!(body.contains("#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"2.2.m4s\""));
    assert_eq!(header(&headers, "cache-control"), "max-age=12");
    let held: u128 = header(&headers, "cmsd-static")
        .split(',')
        .find_map(|kv| kv.strip_prefix("ht="))
        .and_then(|ms| ms.parse().ok())
        .expect("CMSD-Static ht");
    // Held from the first decision to the answer: some time, never more than the client waited.
    assert!(held > 0 && held <= elapsed.as_millis(), "ht={held}");
    // A point already published answers at once, with the whole playlist and fresh rendition reports.
    let (status, _, body) = text(
        s.http()
            .get(s.url("/live/low/index.m3u8?_HLS_msn=1&_HLS_part=3"))
            .send()
            .expect("GET"),
    );
    assert_eq!(status, 200);
    assert!(body.contains("seg0.m4s"), "{body}");
    assert!(
        body.ends_with(
            "#EXT-X-RENDITION-REPORT:URI=\"../high/index.m3u8\",LAST-MSN=1,LAST-PART=3\n"
        ),
        "{body}"
    );
}

#[test]
fn bad_directives_are_400_and_unmet_ones_503_after_three_target_durations() {
    let s = Strata::start(&[]);
    let renditions = two_renditions(&s, 1, 4, 2);
    let path = renditions[0].playlist_path();
    // Appendix B: a refused blocking request may be kept 4 target durations, a non-blocking one 1.
    for (query, reason, kept) in [
        ("_HLS_part=1", "_HLS_part needs _HLS_msn", "max-age=1"),
        (
            "_HLS_msn=4",
            "_HLS_msn is more than two segments",
            "max-age=4",
        ),
        (
            "_HLS_msn=2&_HLS_part=12",
            "_HLS_part is beyond the advance part limit",
            "max-age=4",
        ),
    ] {
        let started = Instant::now();
        let (status, headers, body) = text(
            s.http()
                .get(s.url(&format!("{path}?{query}")))
                .send()
                .expect("GET"),
        );
        assert_eq!(status, 400, "{query}: {body}");
        assert!(body.starts_with(reason), "{query}: {body}");
        assert_eq!(header(&headers, "cache-control"), kept, "{query}");
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "{query} was held"
        );
    }
    let started = Instant::now();
    let (status, headers, body) = text(
        s.http()
            .get(s.url(&format!("{path}?_HLS_msn=3")))
            .send()
            .expect("GET"),
    );
    assert_eq!(status, 503, "{body}");
    assert!(started.elapsed() >= Duration::from_secs(3));
    assert_eq!(header(&headers, "cache-control"), "no-store");
    assert_eq!(header(&headers, "retry-after"), "1");
}

#[test]
fn directives_are_ignored_once_the_playlist_ends() {
    let s = Strata::start(&[]);
    let mut renditions = two_renditions(&s, 2, 4, 1);
    let low = &mut renditions[0];
    low.ended = true;
    put(
        s.http(),
        s.base_url(),
        &low.playlist_path(),
        low.playlist().into_bytes(),
    );
    let (status, _, body) = text(
        s.http()
            .get(s.url(&format!("{}?_HLS_msn=2&_HLS_part=0", low.playlist_path())))
            .send()
            .expect("GET"),
    );
    assert_eq!(status, 200);
    assert!(body.ends_with("#EXT-X-ENDLIST\n"), "{body}");
}

#[test]
fn delta_updates_only_when_advertised() {
    let s = Strata::start(&[]);
    let mut renditions = two_renditions(&s, 1, 2, 12);
    let path = renditions[0].playlist_path();
    let get = |query: &str| {
        text(
            s.http()
                .get(s.url(&format!("{path}?{query}")))
                .send()
                .expect("GET"),
        )
        .2
    };
    // Not advertised: the whole playlist.
    let full = get("_HLS_skip=YES");
    assert!(
        !full.contains("EXT-X-SKIP") && full.contains("seg0.m4s"),
        "{full}"
    );
    renditions[0].can_skip_until = Some(6);
    let low = &renditions[0];
    put(
        s.http(),
        s.base_url(),
        &low.playlist_path(),
        low.playlist().into_bytes(),
    );
    // 12 one-second segments, CAN-SKIP-UNTIL=6: segments 0-5 are skipped.
    for query in ["_HLS_skip=YES", "_HLS_skip=v2", "_HLS_msn=11&_HLS_skip=YES"] {
        let delta = get(query);
        assert!(
            delta.contains("#EXT-X-SKIP:SKIPPED-SEGMENTS=6\n"),
            "{query}: {delta}"
        );
        assert!(
            !delta.contains("seg5.m4s") && delta.contains("seg6.m4s"),
            "{delta}"
        );
        assert!(delta.contains("#EXT-X-MEDIA-SEQUENCE:0\n"));
    }
}

#[test]
fn a_hinted_part_streams_as_it_uploads_and_an_unknown_part_is_404() {
    let s = Strata::start(&[]);
    let renditions = two_renditions(&s, 2, 4, 1);
    let low = &renditions[0];
    let hinted = format!("/{}/{}", low.folder, part_name(1, 0));
    let expected = part_bytes(&low.folder, 1, 0);
    let (tx, rx) = mpsc::channel();
    let reader = {
        let url = s.url(&hinted);
        thread::spawn(move || {
            let response = player(false).get(url).send().expect("GET hinted part");
            tx.send(()).ok();
            let status = response.status().as_u16();
            let cache_control = response
                .headers()
                .get("cache-control")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_string();
            let body = response.bytes().expect("part body").to_vec();
            (status, cache_control, body)
        })
    };
    assert!(
        rx.recv_timeout(Duration::from_millis(300)).is_err(),
        "the hinted part answered before its upload started"
    );
    // The encoder uploads it slowly: the reader gets the head as soon as the upload starts.
    let writer = {
        let url = hinted.clone();
        let body = expected.clone();
        let s_url = s.url(&url);
        thread::spawn(move || {
            let paced = Paced {
                chunks: body.chunks(body.len() / 4).map(<[u8]>::to_vec).collect(),
                next: 0,
                offset: 0,
                gap: Duration::from_millis(400),
            };
            player(false)
                .put(s_url)
                .body(reqwest::blocking::Body::new(paced))
                .send()
                .expect("PUT part")
                .status()
        })
    };
    rx.recv_timeout(Duration::from_secs(10))
        .expect("the hinted part answered once its upload started");
    assert!(
        !writer.is_finished(),
        "the upload ended before the reader got its head"
    );
    let (status, cache_control, body) = reader.join().expect("reader");
    assert_eq!(status, 200);
    assert!(body == expected, "hinted part not delivered whole");
    // Appendix B: a blocking part request's answer may be kept six target durations.
    assert_eq!(cache_control, "max-age=12");
    assert!(writer.join().expect("writer").is_success());
    let started = Instant::now();
    let (status, headers, _) = text(
        s.http()
            .get(s.url(&format!("/{}/{}", low.folder, part_name(7, 3))))
            .send()
            .expect("GET"),
    );
    assert_eq!(status, 404);
    assert_eq!(header(&headers, "cache-control"), "no-store");
    assert!(started.elapsed() < Duration::from_secs(1));
}

/// What one player saw.
#[derive(Debug, Default)]
struct Seen {
    reloads: u32,
    parts: u32,
    failures: Vec<String>,
}

/// Follows `path` like an LL-HLS player: a blocking reload for the next part, then that part, and the
/// part the new playlist hints, until the stream ends or `deadline`.
fn follow(base: String, folder: String, h2: bool, deadline: Instant) -> Seen {
    let client = player(h2);
    let mut seen = Seen::default();
    let path = format!("{base}/{folder}/index.m3u8");
    let first = client.get(&path).send();
    let version = first.as_ref().map(|r| r.version()).ok();
    let wanted = if h2 {
        reqwest::Version::HTTP_2
    } else {
        reqwest::Version::HTTP_11
    };
    if version != Some(wanted) {
        seen.failures
            .push(format!("spoke {version:?}, not {wanted:?}"));
    }
    let body = first.and_then(|r| r.text()).unwrap_or_default();
    let Some((mut msn, mut part)) = last_part(&body) else {
        seen.failures
            .push(format!("no part in the first playlist: {body}"));
        return seen;
    };
    let (mut unanswered_hint, mut ended) = (None, false);
    while Instant::now() < deadline {
        part += 1;
        let url = format!("{path}?_HLS_msn={msn}&_HLS_part={part}");
        let response = match client.get(&url).send() {
            Ok(r) => r,
            Err(e) => {
                seen.failures.push(format!("{url}: {e}"));
                break;
            }
        };
        let status = response.status().as_u16();
        let body = response.text().unwrap_or_default();
        seen.reloads += 1;
        if body.contains("#EXT-X-ENDLIST") {
            ended = true;
            break;
        }
        seen.failures.extend(unanswered_hint.take());
        if status != 200 {
            seen.failures.push(format!("{url}: {status} {body}"));
            break;
        }
        // The part asked for, or the first part of the next segment when this one is full.
        let wanted = [(msn, part), (msn + 1, 0)]
            .into_iter()
            .find(|(m, p)| body.contains(&format!("URI=\"{}\"", part_name(*m, *p))));
        let Some((m, p)) = wanted else {
            seen.failures.push(format!("{url} answered early: {body}"));
            break;
        };
        (msn, part) = (m, p);
        let mut fetch = |m: u64, p: u64, hint: bool| {
            let url = format!("{base}/{folder}/{}", part_name(m, p));
            let response = client.get(&url).send();
            match response.map(|r| (r.status().as_u16(), r.bytes())) {
                Ok((200, Ok(bytes))) if bytes.as_ref() == part_bytes(&folder, m, p).as_slice() => {
                    seen.parts += 1;
                    None
                }
                // The last hint before the stream ends is never uploaded.
                Ok((404, _)) if hint => Some(format!("{url}: 404 for a hinted part")),
                Ok((status, bytes)) => Some(format!("{url}: {status}, not the part: {bytes:?}")),
                Err(e) => Some(format!("{url}: {e}")),
            }
        };
        seen.failures.extend(fetch(m, p, false));
        if let Some(hint) = hinted(&body) {
            unanswered_hint = fetch(hint.0, hint.1, true);
        }
    }
    seen.failures.extend(unanswered_hint.filter(|_| !ended));
    seen
}

/// The last `EXT-X-PART` of a playlist, as `(msn, part)` read from its URI.
fn last_part(body: &str) -> Option<(u64, u64)> {
    body.lines()
        .rev()
        .filter_map(|l| l.strip_prefix("#EXT-X-PART:"))
        .filter_map(|l| {
            l.split("URI=\"")
                .nth(1)?
                .split('"')
                .next()
                .map(str::to_string)
        })
        .find_map(|uri| point(&uri))
}

/// The point the preload hint names.
fn hinted(body: &str) -> Option<(u64, u64)> {
    let line = body
        .lines()
        .find_map(|l| l.strip_prefix("#EXT-X-PRELOAD-HINT:"))?;
    point(line.split("URI=\"").nth(1)?.split('"').next()?)
}

fn point(uri: &str) -> Option<(u64, u64)> {
    let mut pieces = uri.trim_end_matches(".m4s").split('.');
    Some((pieces.next()?.parse().ok()?, pieces.next()?.parse().ok()?))
}

/// Runs the synthetic stream (two renditions, 250 ms parts, 2 s segments, paced part uploads) while
/// `players` clients per rendition follow it.
fn stream_with_players(h2: bool, players: usize) {
    let s = Strata::start(&[]);
    let renditions = two_renditions(&s, 2, 8, 1);
    let stream_parts = 16;
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut followers = Vec::new();
    for r in &renditions {
        for _ in 0..players {
            let (base, folder) = (s.base_url().to_string(), r.folder.clone());
            followers.push(thread::spawn(move || follow(base, folder, h2, deadline)));
        }
    }
    let encoders: Vec<_> = renditions
        .into_iter()
        .map(|mut r| {
            let (base, client) = (s.base_url().to_string(), common::client());
            thread::spawn(move || {
                for _ in 0..stream_parts {
                    let started = Instant::now();
                    publish_part(&client, &base, &mut r, Duration::from_millis(40));
                    // Pacing the encoder to real time, not waiting for a condition.
                    thread::sleep(Duration::from_millis(250).saturating_sub(started.elapsed()));
                }
                r.ended = true;
                put(
                    &client,
                    &base,
                    &r.playlist_path(),
                    r.playlist().into_bytes(),
                );
            })
        })
        .collect();
    for encoder in encoders {
        encoder.join().expect("encoder");
    }
    for follower in followers {
        let seen = follower.join().expect("player");
        assert!(seen.failures.is_empty(), "{:?}", seen.failures);
        assert!(seen.reloads >= 8 && seen.parts >= 16, "{seen:?}");
    }
}

#[test]
fn players_follow_a_live_ll_hls_stream_over_http1() {
    stream_with_players(false, 2);
}

#[test]
fn players_follow_a_live_ll_hls_stream_over_h2c() {
    stream_with_players(true, 2);
}
