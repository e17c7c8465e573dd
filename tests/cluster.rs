//! Strata nodes in a cluster against the real engines: a SeaweedFS S3 store and a `redis-server` feed on
//! loopback (see `common/services.rs`). Any node serves what any other wrote or an S3 client uploaded;
//! DELETE and TTL expiry reach every node; playlists never go back in time; waits for segments and
//! blocking reloads parked on one node are answered by writes on another; losing Redis or the store
//! degrades as `docs/decisions/0050-cluster-store-and-feed.md` says and recovers.

mod common;
#[path = "common/services.rs"]
mod services;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, mpsc};
use std::thread;
use std::time::Duration;

use std::process::Command;

use common::{PseudoRandom, Strata, client, poll_until, run_with_timeout, strata_bin};
use services::{Redis, SeaweedFs, cluster_config};

/// Long enough for any cross-node effect on a loaded debug build; the latencies are benchmarked instead.
const SETTLE: Duration = Duration::from_secs(10);

/// A node of the cluster whose objects live under `folder` of the test bucket.
fn node(weed: &SeaweedFs, redis: &Redis, folder: &str, name: &str) -> Strata {
    Strata::with_config(&cluster_config(weed, redis, folder, name), &[])
}

fn put(s: &Strata, path: &str, body: &[u8]) -> reqwest::blocking::Response {
    s.http()
        .put(s.url(path))
        .body(body.to_vec())
        .send()
        .unwrap_or_else(|e| panic!("PUT {path}: {e}"))
}

fn put_ok(s: &Strata, path: &str, body: &[u8]) {
    let response = put(s, path, body);
    let status = response.status().as_u16();
    assert!(
        (200..300).contains(&status),
        "PUT {path}: {status} {}",
        response.text().unwrap_or_default()
    );
}

fn get(s: &Strata, path: &str) -> (u16, Vec<u8>) {
    let response = s
        .http()
        .get(s.url(path))
        .send()
        .unwrap_or_else(|e| panic!("GET {path}: {e}"));
    let status = response.status().as_u16();
    (status, response.bytes().expect("read a body").to_vec())
}

fn status(s: &Strata, path: &str) -> u16 {
    get(s, path).0
}

fn health(s: &Strata) -> String {
    let (status, body) = get(s, "/_strata/health");
    assert_eq!(status, 200);
    String::from_utf8(body).expect("health is text")
}

/// A live media playlist whose `EXT-X-MEDIA-SEQUENCE` is `version`.
fn playlist(version: u64) -> Vec<u8> {
    format!(
        "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:{version}\n\
         #EXTINF:2.0,\nseg{version}.ts\n"
    )
    .into_bytes()
}

/// The media sequence of a playlist [`playlist`] wrote.
fn version_of(body: &[u8]) -> u64 {
    let text = String::from_utf8_lossy(body);
    text.lines()
        .find_map(|l| l.strip_prefix("#EXT-X-MEDIA-SEQUENCE:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("not a playlist of this test:\n{text}"))
}

#[test]
fn any_node_serves_any_key_and_deletes_and_expiry_reach_every_node() {
    let weed = SeaweedFs::start();
    let redis = Redis::start();
    let a = node(&weed, &redis, "any", "a");
    let b = node(&weed, &redis, "any", "b");

    // Written on A, durable: in the store once acknowledged, served by B byte for byte.
    let segment = PseudoRandom::vec(7, 3 << 20);
    put_ok(&a, "/vod/seg1.ts", &segment);
    assert_eq!(
        weed.get("any/vod/seg1.ts").as_deref(),
        Some(&segment[..]),
        "a 2xx means the object is in the store"
    );
    assert_eq!(get(&b, "/vod/seg1.ts"), (200, segment.clone()));
    put_ok(&a, "/vod/index.m3u8", &playlist(1));
    assert_eq!(get(&b, "/vod/index.m3u8"), (200, playlist(1)));

    // A library uploaded by another S3 client is served by every node, with ranges.
    let movie = PseudoRandom::vec(8, 1 << 20);
    weed.put("any/library/movie.mp4", &movie, Some("video/mp4"));
    weed.put("any/library/untyped.ts", b"ts bytes", None);
    weed.put("any/library/été 100%.ts", b"named by another tool", None);
    for s in [&a, &b] {
        let response = s
            .http()
            .get(s.url("/library/movie.mp4"))
            .header("range", "bytes=1000-1999")
            .send()
            .expect("ranged GET");
        assert_eq!(response.status().as_u16(), 206);
        assert_eq!(response.bytes().expect("body").as_ref(), &movie[1000..2000]);
        assert_eq!(get(s, "/library/movie.mp4"), (200, movie.clone()));
        let response = s
            .http()
            .get(s.url("/library/untyped.ts"))
            .send()
            .expect("GET");
        assert_eq!(
            response.headers()["content-type"],
            "video/mp2t",
            "an untyped upload is typed by its key"
        );
        assert_eq!(
            get(s, "/library/%C3%A9t%C3%A9%20100%25.ts"),
            (200, b"named by another tool".to_vec()),
            "a name with non-ASCII letters, a space and a %"
        );
    }

    // DELETE on A: gone from the store and from B, which had a copy.
    let response = a
        .http()
        .delete(a.url("/vod/seg1.ts"))
        .send()
        .expect("DELETE");
    assert_eq!(response.status().as_u16(), 204);
    assert_eq!(weed.get("any/vod/seg1.ts"), None);
    poll_until(SETTLE, "B stops serving the deleted segment", || {
        status(&b, "/vod/seg1.ts") == 404
    });
    // A key deleted through B that A wrote.
    let response = b
        .http()
        .delete(b.url("/vod/index.m3u8"))
        .send()
        .expect("DELETE");
    assert_eq!(response.status().as_u16(), 204);
    poll_until(SETTLE, "A stops serving the playlist B deleted", || {
        status(&a, "/vod/index.m3u8") == 404
    });

    // A TTL set on A expires on both nodes and in the store.
    let response = a
        .http()
        .put(a.url("/vod/short.ts"))
        .header("x-strata-ttl", "2")
        .body(b"short-lived".to_vec())
        .send()
        .expect("PUT with a TTL");
    assert_eq!(response.status().as_u16(), 201);
    assert_eq!(get(&b, "/vod/short.ts").0, 200);
    poll_until(SETTLE, "the object expires on both nodes", || {
        status(&a, "/vod/short.ts") == 404 && status(&b, "/vod/short.ts") == 404
    });
    let late = node(&weed, &redis, "any", "late");
    assert_eq!(
        status(&late, "/vod/short.ts"),
        404,
        "expired for a new node too"
    );
}

#[test]
fn the_store_last_write_is_what_every_node_serves() {
    let weed = SeaweedFs::start();
    let redis = Redis::start();
    let a = node(&weed, &redis, "race", "a");
    let b = node(&weed, &redis, "race", "b");
    // A slow upload starts first (its version is named first) and finishes last: the store keeps it, and
    // so does every node, though a faster write of the same key was named later.
    let slow_body = PseudoRandom::vec(21, 300_000);
    let fast_body = PseudoRandom::vec(22, 300_000);
    let mut slow = std::net::TcpStream::connect(a.addr()).expect("connect");
    use std::io::Write as _;
    write!(
        slow,
        "PUT /race/seg.ts HTTP/1.1\r\nhost: x\r\ncontent-length: {}\r\n\r\n",
        slow_body.len()
    )
    .expect("send the head");
    slow.write_all(&slow_body[..1000])
        .expect("send a first chunk");
    poll_until(SETTLE, "the slow upload is in progress", || {
        a.metric("strata_in_flight_requests") >= 1.0
    });
    let fast = put(&b, "/race/seg.ts", &fast_body);
    assert!(fast.status().is_success(), "PUT on B: {}", fast.status());
    let fast_etag = fast.headers()["etag"].clone();
    // A learns of B's write through the feed, in its own time; until then A serves its own upload in
    // progress, which this test holds back, so a GET would wait on it. A HEAD never waits on a body, and
    // an upload in progress has no entity tag.
    poll_until(SETTLE, "A knows of B's write", || {
        a.http()
            .head(a.url("/race/seg.ts"))
            .send()
            .is_ok_and(|r| r.headers().get("etag") == Some(&fast_etag))
    });
    assert_eq!(get(&a, "/race/seg.ts"), (200, fast_body.clone()));
    slow.write_all(&slow_body[1000..]).expect("send the rest");
    let mut answer = [0u8; 12];
    std::io::Read::read_exact(&mut slow, &mut answer).expect("the slow upload's answer");
    assert!(
        answer.starts_with(b"HTTP/1.1 20"),
        "{}",
        String::from_utf8_lossy(&answer)
    );
    assert_eq!(
        weed.get("race/race/seg.ts").as_deref(),
        Some(&slow_body[..])
    );
    for s in [&a, &b] {
        poll_until(SETTLE, "every node serves the store's last write", || {
            get(s, "/race/seg.ts") == (200, slow_body.clone())
        });
    }
    let late = node(&weed, &redis, "race", "late");
    assert_eq!(get(&late, "/race/seg.ts"), (200, slow_body));

    // A DELETE that lands before a slower PUT finishes: the PUT is the last write, and it is served.
    let mut slow = std::net::TcpStream::connect(a.addr()).expect("connect");
    write!(
        slow,
        "PUT /race/del.ts HTTP/1.1\r\nhost: x\r\ncontent-length: 10\r\n\r\n01234"
    )
    .expect("send a first half");
    poll_until(SETTLE, "the slow upload is in progress", || {
        a.metric("strata_in_flight_requests") >= 1.0
    });
    let response = b
        .http()
        .delete(b.url("/race/del.ts"))
        .send()
        .expect("DELETE");
    assert!(response.status().is_success() || response.status().as_u16() == 404);
    slow.write_all(b"56789").expect("send the rest");
    std::io::Read::read_exact(&mut slow, &mut answer).expect("the slow upload's answer");
    assert!(
        answer.starts_with(b"HTTP/1.1 20"),
        "{}",
        String::from_utf8_lossy(&answer)
    );
    for s in [&a, &b] {
        poll_until(
            SETTLE,
            "every node serves the write that followed the DELETE",
            || get(s, "/race/del.ts") == (200, b"0123456789".to_vec()),
        );
    }
}

#[test]
fn a_new_or_restarted_node_serves_everything_from_the_store() {
    let weed = SeaweedFs::start();
    let redis = Redis::start();
    let mut a = node(&weed, &redis, "restart", "a");
    let objects: Vec<(String, Vec<u8>)> = (0..12)
        .map(|i| {
            let size = if i % 3 == 0 {
                9 << 20
            } else {
                200_000 + i * 1000
            };
            (
                format!("/vod/s{i}.ts"),
                PseudoRandom::vec(100 + i as u64, size),
            )
        })
        .collect();
    for (path, body) in &objects {
        put_ok(&a, path, body);
    }
    a.sigkill();
    a.kill();
    let fresh = node(&weed, &redis, "restart", "fresh");
    for (path, body) in &objects {
        assert_eq!(
            &get(&fresh, path),
            &(200, body.clone()),
            "{path} on a new node"
        );
    }
    a.restart();
    for (path, body) in &objects {
        assert_eq!(&get(&a, path), &(200, body.clone()), "{path} after SIGKILL");
    }
}

#[test]
fn playlists_reach_other_nodes_and_never_go_back_in_time() {
    let weed = SeaweedFs::start();
    let redis = Redis::start();
    let a = node(&weed, &redis, "fresh", "a");
    let b = node(&weed, &redis, "fresh", "b");
    let c = node(&weed, &redis, "fresh", "c");
    put_ok(&a, "/live/index.m3u8", &playlist(0));
    poll_until(SETTLE, "B serves the first playlist", || {
        status(&b, "/live/index.m3u8") == 200
    });

    // A writes versions 1..=200 while readers on B and C follow: each sees versions only go up.
    let done = Arc::new(AtomicBool::new(false));
    let readers: Vec<_> = [b.base_url().to_owned(), c.base_url().to_owned()]
        .into_iter()
        .map(|base| {
            let done = Arc::clone(&done);
            thread::spawn(move || {
                let http = client();
                let (mut last, mut reads) = (0, 0);
                while !done.load(Ordering::Relaxed) {
                    let response = http
                        .get(format!("{base}/live/index.m3u8"))
                        .send()
                        .expect("GET");
                    assert_eq!(response.status().as_u16(), 200);
                    let version = version_of(&response.bytes().expect("body"));
                    assert!(version >= last, "{base} served {version} after {last}");
                    last = version;
                    reads += 1;
                }
                reads
            })
        })
        .collect();
    for version in 1..=200 {
        put_ok(&a, "/live/index.m3u8", &playlist(version));
    }
    done.store(true, Ordering::Relaxed);
    for reader in readers {
        assert!(reader.join().expect("reader") > 0);
    }
    for s in [&b, &c] {
        poll_until(SETTLE, "the last version everywhere", || {
            version_of(&get(s, "/live/index.m3u8").1) == 200
        });
    }
}

/// Waits until `s` has parked a request.
fn wait_parked(s: &Strata) {
    poll_until(SETTLE, "the request is parked", || {
        s.metric("strata_parked_requests") >= 1.0
    });
}

#[test]
fn waits_on_one_node_are_answered_by_writes_on_another() {
    let weed = SeaweedFs::start();
    let redis = Redis::start();
    let a = node(&weed, &redis, "wake", "a");
    let b = node(&weed, &redis, "wake", "b");

    // A segment the playlist names before its upload begins: B waits for it and serves what A stores.
    put_ok(
        &a,
        "/live/hls/index.m3u8",
        // A long target duration: the wait (one target duration) outlasts a store write on a loaded machine.
        b"#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:10\n#EXT-X-MEDIA-SEQUENCE:0\n\
          #EXTINF:10.0,\nseg0.ts\n#EXTINF:10.0,\nseg1.ts\n",
    );
    let segment = PseudoRandom::vec(3, 500_000);
    let url = b.url("/live/hls/seg1.ts");
    let waiter = thread::spawn(move || {
        let response = client().get(url).send().expect("GET the awaited segment");
        (
            response.status().as_u16(),
            response.bytes().expect("body").to_vec(),
        )
    });
    wait_parked(&b);
    put_ok(&a, "/live/hls/seg1.ts", &segment);
    let (status, body) = waiter.join().expect("waiter");
    assert!(
        status == 200 && body == segment,
        "the awaited segment: {status}, {} bytes: {}",
        body.len(),
        String::from_utf8_lossy(&body[..body.len().min(100)])
    );

    // An LL-HLS blocking reload parked on B is answered by the playlist PUT on A, and a GET of the
    // preload-hinted part on B is answered when the part lands on A.
    // Here too a long target duration keeps the waits longer than a write on a loaded machine.
    let ll = |parts: u64| {
        common::playlists::ll_hls(parts)
            .replace("TARGETDURATION:2", "TARGETDURATION:10")
            .into_bytes()
    };
    put_ok(&a, "/live/ll/0.0.m4s", b"part 0.0");
    put_ok(&a, "/live/ll/index.m3u8", &ll(1));
    poll_until(SETTLE, "B sees the LL-HLS playlist", || {
        get(&b, "/live/ll/index.m3u8") == (200, ll(1))
    });
    let (tx, rx) = mpsc::channel();
    for path in [
        "/live/ll/index.m3u8?_HLS_msn=0&_HLS_part=1",
        "/live/ll/0.1.m4s",
    ] {
        let url = b.url(path);
        let tx = tx.clone();
        thread::spawn(move || {
            let response = client().get(url).send().expect("parked GET");
            let answer = (
                response.status().as_u16(),
                response.bytes().expect("body").to_vec(),
            );
            tx.send((path, answer)).ok();
        });
    }
    poll_until(SETTLE, "both requests are parked on B", || {
        b.metric("strata_parked_requests") >= 2.0
    });
    assert!(rx.try_recv().is_err(), "B answered before A wrote");
    put_ok(&a, "/live/ll/0.1.m4s", b"part 0.1");
    put_ok(&a, "/live/ll/index.m3u8", &ll(2));
    let mut answers: Vec<_> = (0..2)
        .map(|_| {
            rx.recv_timeout(SETTLE * 3)
                .expect("the parked requests are answered")
        })
        .collect();
    answers.sort();
    assert_eq!(
        answers[0],
        ("/live/ll/0.1.m4s", (200, b"part 0.1".to_vec()))
    );
    assert_eq!(
        answers[1],
        ("/live/ll/index.m3u8?_HLS_msn=0&_HLS_part=1", (200, ll(2)))
    );
}

#[test]
fn without_the_feed_nodes_keep_working_with_bounded_staleness_and_recover() {
    let weed = SeaweedFs::start();
    let mut redis = Redis::start();
    let a = node(&weed, &redis, "nofeed", "a");
    let b = node(&weed, &redis, "nofeed", "b");
    put_ok(&a, "/live/index.m3u8", &playlist(1));
    poll_until(SETTLE, "B serves version 1", || {
        get(&b, "/live/index.m3u8") == (200, playlist(1))
    });

    redis.stop();
    poll_until(SETTLE, "both nodes notice the feed is gone", || {
        health(&a).contains("feed: unreachable") && health(&b).contains("feed: unreachable")
    });
    assert!(health(&a).starts_with("degraded"), "{}", health(&a));
    // Ingest goes on, and B catches up by asking the store (bounded staleness, no feed).
    put_ok(&a, "/live/index.m3u8", &playlist(2));
    put_ok(&a, "/live/seg2.ts", b"segment 2");
    poll_until(SETTLE, "B serves version 2 without the feed", || {
        get(&b, "/live/index.m3u8") == (200, playlist(2))
    });
    assert_eq!(get(&b, "/live/seg2.ts"), (200, b"segment 2".to_vec()));

    redis.restart();
    poll_until(SETTLE * 3, "both nodes follow the feed again", || {
        health(&a).starts_with("ok") && health(&b).starts_with("ok")
    });
    // After the reconnect every write reaches B, never an older version than it served.
    let mut last = 2;
    for version in 3..=30 {
        put_ok(&a, "/live/index.m3u8", &playlist(version));
        let seen = version_of(&get(&b, "/live/index.m3u8").1);
        assert!(seen >= last, "B served {seen} after {last}");
        last = seen;
    }
    poll_until(SETTLE, "B serves the last version", || {
        version_of(&get(&b, "/live/index.m3u8").1) == 30
    });
}

#[test]
fn without_the_store_writes_are_refused_and_cached_reads_go_on() {
    let mut weed = SeaweedFs::start();
    let redis = Redis::start();
    let a = node(&weed, &redis, "nostore", "a");
    let b = node(&weed, &redis, "nostore", "b");
    let segment = PseudoRandom::vec(11, 2 << 20);
    put_ok(&a, "/vod/seg.ts", &segment);
    assert_eq!(get(&b, "/vod/seg.ts"), (200, segment.clone()));

    weed.stop();
    for s in [&a, &b] {
        let response = put(s, "/vod/new.ts", b"not stored");
        let status = response.status().as_u16();
        let retry_after = response.headers().get("retry-after").cloned();
        let reason = response.text().unwrap_or_default();
        assert_eq!(status, 503, "a write the store cannot take: {reason}");
        assert!(retry_after.is_some(), "503 carries Retry-After");
        assert_eq!(
            reason.trim().lines().count(),
            1,
            "one-line reason: {reason}"
        );
        assert!(
            reason.contains("store"),
            "the reason names the store: {reason}"
        );
        assert_eq!(get(s, "/vod/seg.ts"), (200, segment.clone()), "cached read");
    }
    poll_until(SETTLE, "health names the store", || {
        health(&a).contains("store: unreachable")
    });
    assert_eq!(
        a.metric(r#"strata_cluster_service_up{service="store"}"#),
        0.0
    );
    assert!(a.metric(r#"strata_cluster_errors_total{service="store"}"#) >= 1.0);
    assert_eq!(
        a.metric(r#"strata_cluster_service_up{service="feed"}"#),
        1.0
    );
    assert_eq!(
        status(&b, "/vod/new.ts"),
        404,
        "nothing half-stored is served"
    );

    weed.restart();
    poll_until(SETTLE * 3, "writes recover", || {
        put(&a, "/vod/new.ts", b"stored").status().as_u16() == 201
    });
    assert_eq!(
        weed.get("nostore/vod/new.ts").as_deref(),
        Some(&b"stored"[..])
    );
    assert_eq!(
        a.metric(r#"strata_cluster_service_up{service="store"}"#),
        1.0
    );
    assert!(a.metric(r#"strata_cluster_requests_total{service="store"}"#) > 0.0);
    poll_until(SETTLE, "B serves the new object", || {
        get(&b, "/vod/new.ts") == (200, b"stored".to_vec())
    });
}

/// Runs `strata serve` with `config` and `args`, expecting it to refuse to start; its stderr.
fn refused_start(config: &str, args: &[&str]) -> String {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("strata.toml");
    std::fs::write(&path, config).expect("write config");
    let mut cmd = Command::new(strata_bin());
    cmd.args(["serve", "--listen", "127.0.0.1:0", "--data"])
        .arg(dir.path().join("data"))
        .arg("--config")
        .arg(&path)
        .args(args);
    let (status, stdout, stderr) = run_with_timeout(cmd, SETTLE * 3);
    assert!(!status.success(), "started: {stdout}");
    stderr
}

#[test]
fn an_unreachable_store_or_feed_is_named_at_start() {
    let weed = SeaweedFs::start();
    let redis = Redis::start();
    let closed = services::free_port();
    let config = cluster_config(&weed, &redis, "start", "a");

    let no_store = config.replace(&weed.endpoint(), &format!("http://127.0.0.1:{closed}"));
    let stderr = refused_start(&no_store, &[]);
    let line = stderr.lines().last().unwrap_or_default();
    assert!(
        line.starts_with("strata: cluster store s3://strata-test/start is unreachable: "),
        "{stderr}"
    );

    let no_feed = config.replace(&redis.url(), &format!("redis://127.0.0.1:{closed}"));
    let stderr = refused_start(&no_feed, &[]);
    let line = stderr.lines().last().unwrap_or_default();
    assert!(
        line.starts_with(&format!(
            "strata: cluster feed redis://127.0.0.1:{closed} is unreachable: "
        )),
        "{stderr}"
    );

    let stderr = refused_start("", &["--cluster-store", "s3://strata-test/start"]);
    assert!(stderr.contains("--cluster-feed"), "{stderr}");
    let stderr = refused_start(
        "",
        &[
            "--cluster-store",
            "http://x",
            "--cluster-feed",
            "redis://h:1",
        ],
    );
    assert!(
        stderr.contains("cluster.store") && stderr.contains("s3://"),
        "{stderr}"
    );
}
