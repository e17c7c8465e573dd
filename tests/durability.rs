//! Every acknowledged PUT and DELETE survives SIGKILL: store a few MiB of mixed objects (sized and
//! chunked, from several connections at once), overwrite and delete some, `kill -9` right after
//! the last answer, restart on the same data directory and read everything back byte for byte.

mod common;

use std::collections::BTreeMap;
use std::thread;

use common::{PseudoRandom, Strata, fnv1a64};
use reqwest::blocking::Body;

/// What a key must read back as after the restart.
#[derive(Debug, Clone)]
enum Expect {
    /// The object's bytes, given as (seed, length), and the ETag acknowledged for them.
    Object { seed: u64, len: usize, etag: String },
    /// Acknowledged DELETE: must stay gone.
    Deleted,
}

/// Object sizes cycling from empty to 1.5 MiB: about 8 MiB over 64 objects.
fn size_for(i: u64) -> usize {
    const SIZES: [usize; 8] = [
        0,
        1,
        188 * 7,
        4096,
        65_536 + 3,
        250_000,
        1_000_000,
        1_500_000,
    ];
    SIZES[(i % 8) as usize]
}

/// PUTs (seed, len) to `path`, chunked when `chunked`; returns the acknowledged ETag.
fn put(
    s: &Strata,
    client: &reqwest::blocking::Client,
    path: &str,
    seed: u64,
    len: usize,
    chunked: bool,
) -> String {
    let req = client.put(s.url(path));
    let req = if chunked {
        req.body(Body::new(PseudoRandom::new(seed, len as u64)))
    } else {
        req.body(PseudoRandom::vec(seed, len))
    };
    let resp = req.send().unwrap_or_else(|e| panic!("PUT {path}: {e}"));
    assert!(resp.status().is_success(), "PUT {path}: {}", resp.status());
    resp.headers()
        .get("etag")
        .and_then(|v| v.to_str().ok())
        .expect("ETag on PUT")
        .to_owned()
}

/// Content type a key gets by its extension (none of these PUTs names one).
fn content_type(path: &str) -> &'static str {
    if path.ends_with(".m3u8") {
        "application/vnd.apple.mpegurl"
    } else {
        "video/mp2t"
    }
}

#[test]
fn acknowledged_writes_survive_sigkill() {
    let mut s = Strata::start(&[]);

    // Four writers in parallel, 16 objects each, alternating sized and chunked bodies.
    let expected: BTreeMap<String, Expect> = thread::scope(|scope| {
        let handles: Vec<_> = (0..4u64)
            .map(|w| {
                let s = &s;
                scope.spawn(move || {
                    let client = common::client();
                    let mut out = BTreeMap::new();
                    for n in 0..16u64 {
                        let i = w * 16 + n;
                        let path = format!("/dur/w{w}/seg{n}.ts");
                        let (seed, len) = (1000 + i, size_for(i));
                        let etag = put(s, &client, &path, seed, len, i % 2 == 1);
                        out.insert(path, Expect::Object { seed, len, etag });
                    }
                    out
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("writer thread"))
            .collect()
    });
    let mut expected = expected;
    let total: usize = expected
        .values()
        .map(|e| match e {
            Expect::Object { len, .. } => *len,
            Expect::Deleted => 0,
        })
        .sum();
    assert!(total > 4 * 1024 * 1024, "a few MiB stored ({total} bytes)");

    // A playlist overwritten several times: the last acknowledged version must win.
    let client = common::client();
    for version in 0..5u64 {
        let etag = put(
            &s,
            &client,
            "/dur/live.m3u8",
            50 + version,
            300 + version as usize,
            version % 2 == 0,
        );
        expected.insert(
            "/dur/live.m3u8".into(),
            Expect::Object {
                seed: 50 + version,
                len: 300 + version as usize,
                etag,
            },
        );
    }
    // A segment overwritten by a smaller one (the file must shrink, not keep a stale tail).
    let etag = put(&s, &client, "/dur/w0/seg6.ts", 77, 10, true);
    expected.insert(
        "/dur/w0/seg6.ts".into(),
        Expect::Object {
            seed: 77,
            len: 10,
            etag,
        },
    );

    // Deletes, one of them with ffmpeg's empty chunked body.
    for (path, chunked) in [("/dur/w1/seg0.ts", false), ("/dur/w2/seg5.ts", true)] {
        let req = client.delete(s.url(path));
        let req = if chunked {
            req.body(Body::new(std::io::empty()))
        } else {
            req
        };
        let resp = req.send().expect("DELETE");
        assert!(
            resp.status().is_success(),
            "DELETE {path}: {}",
            resp.status()
        );
        expected.insert(path.into(), Expect::Deleted);
    }
    // Deleted, then stored again: the new version must be what comes back.
    let resp = client
        .delete(s.url("/dur/w3/seg1.ts"))
        .send()
        .expect("DELETE");
    assert!(resp.status().is_success());
    let etag = put(&s, &client, "/dur/w3/seg1.ts", 88, 2048, false);
    expected.insert(
        "/dur/w3/seg1.ts".into(),
        Expect::Object {
            seed: 88,
            len: 2048,
            etag,
        },
    );

    s.kill();
    s.restart();

    let mut failures = Vec::new();
    for (path, want) in &expected {
        let resp = s.http().get(s.url(path)).send().expect("GET after restart");
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let body = resp.bytes().expect("body after restart");
        match want {
            Expect::Deleted => {
                if status != 404 {
                    failures.push(format!("{path}: deleted but answers {status}"));
                }
            }
            Expect::Object { seed, len, etag } => {
                let want_body = PseudoRandom::vec(*seed, *len);
                if status != 200 {
                    failures.push(format!("{path}: answers {status} after restart"));
                } else if body[..] != want_body[..] {
                    failures.push(format!(
                        "{path}: {} bytes (fnv {:016x}) read back, want {} bytes (fnv {:016x})",
                        body.len(),
                        fnv1a64(&body),
                        want_body.len(),
                        fnv1a64(&want_body)
                    ));
                } else {
                    let got_etag = headers
                        .get("etag")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("");
                    if got_etag != etag {
                        failures.push(format!(
                            "{path}: ETag {got_etag} after restart, {etag} acknowledged"
                        ));
                    }
                    let got_ct = headers
                        .get("content-type")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("");
                    if got_ct != content_type(path) {
                        failures.push(format!("{path}: content-type {got_ct} after restart"));
                    }
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} keys wrong after SIGKILL + restart:\n{}",
        failures.len(),
        expected.len(),
        failures.join("\n")
    );
}

#[test]
fn metadata_survives_sigkill() {
    let mut s = Strata::start(&[]);
    let resp = s
        .http()
        .put(s.url("/dur/meta/seg.m4s"))
        .header("content-type", "video/mp4")
        .header("x-strata-meta-origin", "camera-7")
        .body("meta")
        .send()
        .expect("PUT");
    assert_eq!(resp.status(), 201);
    let before = s
        .http()
        .get(s.url("/dur/meta/seg.m4s"))
        .send()
        .expect("GET");
    let last_modified = before.headers().get("last-modified").cloned();
    s.restart();
    let resp = s
        .http()
        .get(s.url("/dur/meta/seg.m4s"))
        .send()
        .expect("GET after restart");
    assert_eq!(resp.status(), 200);
    let h = resp.headers();
    assert_eq!(
        h.get("content-type").map(|v| v.as_bytes()),
        Some(&b"video/mp4"[..]),
        "content type kept"
    );
    assert_eq!(
        h.get("x-strata-meta-origin").map(|v| v.as_bytes()),
        Some(&b"camera-7"[..]),
        "metadata kept"
    );
    assert_eq!(
        h.get("last-modified"),
        last_modified.as_ref(),
        "Last-Modified kept"
    );
}
