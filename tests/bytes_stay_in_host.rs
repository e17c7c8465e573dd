//! Segment bytes never pass through guest memory: with guest linear memory capped at 4 MiB, a
//! 50 MiB object is stored (chunked) and read back whole and by range, and the largest guest
//! memory Strata saw stays far below the object's size.

mod common;

use std::io::Read;

use common::{PseudoRandom, Strata, compare_stream, fnv1a64};
use reqwest::blocking::Body;

const LEN: u64 = 50 * 1024 * 1024;
const SEED: u64 = 0x005E_ED50;
const PATH: &str = "/vod/big/movie.mp4";

#[test]
fn fifty_mib_object_through_a_4_mib_guest() {
    let s = Strata::start(&[
        "--guest-memory-bytes",
        "4MiB",
        "--memory-bytes",
        "256MiB",
        "--max-object-bytes",
        "64MiB",
    ]);

    let resp = s
        .http()
        .put(s.url(PATH))
        .body(Body::new(PseudoRandom::new(SEED, LEN)))
        .send()
        .expect("chunked PUT of 50 MiB");
    assert_eq!(resp.status(), 201, "chunked PUT of 50 MiB");

    // Whole object, compared as it streams (no 50 MiB buffer on the test side either).
    let resp = s.http().get(s.url(PATH)).send().expect("GET 50 MiB");
    assert_eq!(resp.status(), 200);
    let length = resp
        .headers()
        .get("content-length")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    assert_eq!(
        length.as_deref(),
        Some(LEN.to_string().as_str()),
        "Content-Length of the whole object"
    );
    let read = compare_stream(resp, PseudoRandom::new(SEED, LEN))
        .unwrap_or_else(|e| panic!("GET {PATH}: {e}"));
    assert_eq!(read, LEN);

    // A range from the middle, compared by hash and byte for byte.
    let (first, last) = (25_000_000u64, 26_048_575u64);
    let resp = s
        .http()
        .get(s.url(PATH))
        .header("range", format!("bytes={first}-{last}"))
        .send()
        .expect("range GET");
    assert_eq!(resp.status(), 206);
    let content_range = resp
        .headers()
        .get("content-range")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    assert_eq!(content_range, Some(format!("bytes {first}-{last}/{LEN}")));
    let mut got = Vec::new();
    resp.take(LEN).read_to_end(&mut got).expect("range body");
    let want = PseudoRandom::bytes(SEED, first, last + 1);
    assert_eq!(got.len(), want.len(), "range length");
    assert_eq!(fnv1a64(&got), fnv1a64(&want), "range content hash");

    let peak = s.metric("strata_guest_memory_peak_bytes");
    assert!(
        peak > 0.0,
        "strata_guest_memory_peak_bytes must report the guests' memory (got {peak})"
    );
    assert!(
        peak < 8.0 * 1024.0 * 1024.0,
        "guest memory peaked at {peak} bytes: object bytes must not pass through the guest"
    );
}
