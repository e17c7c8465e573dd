//! CMCD `nor` warms the next object: a GET that names the next segment makes the host read it from disk
//! into memory in the background, so the player's next GET is a memory hit with no disk read.

mod common;

use std::time::Duration;

use common::{Strata, poll_until};

const PROMOTIONS: &str = "strata_tier_promotions_total{tier=\"memory\"}";
const DISK_READS: &str = "strata_tier_reads_total{tier=\"disk\"}";
const MEMORY_HITS: &str = "strata_tier_hits_total{tier=\"memory\"}";

#[test]
fn nor_prefetches_the_next_segment_into_memory() {
    let mut s = Strata::start(&[]);
    for (path, body) in [("/p/v1/seg1.ts", "one"), ("/p/v1/seg2.ts", "two")] {
        let put = s.http().put(s.url(path)).body(body).send().expect("PUT");
        assert!(put.status().is_success(), "PUT {path}: {}", put.status());
    }
    // A restart empties memory: both segments are now only on disk.
    s.restart();
    let promoted = s.metric(PROMOTIONS);
    let got = s
        .http()
        .get(s.url("/p/v1/seg1.ts"))
        .header("cmcd-request", "bl=3000,nor=\"seg2.ts\"")
        .send()
        .expect("GET seg1");
    assert_eq!(got.status(), 200);
    assert_eq!(got.text().expect("body"), "one");
    // seg1 by its own read, seg2 by the prefetch.
    poll_until(Duration::from_secs(10), "seg2 prefetched", || {
        s.metric(PROMOTIONS) >= promoted + 2.0
    });
    let (reads, hits) = (s.metric(DISK_READS), s.metric(MEMORY_HITS));
    let next = s
        .http()
        .get(s.url("/p/v1/seg2.ts"))
        .send()
        .expect("GET seg2");
    assert_eq!(next.text().expect("body"), "two");
    assert_eq!(s.metric(DISK_READS), reads, "seg2 came from memory");
    assert_eq!(s.metric(MEMORY_HITS), hits + 1.0);
}

#[test]
fn without_nor_nothing_else_is_read() {
    let mut s = Strata::start(&[]);
    for path in ["/q/seg1.ts", "/q/seg2.ts"] {
        s.http().put(s.url(path)).body("x").send().expect("PUT");
    }
    s.restart();
    let promoted = s.metric(PROMOTIONS);
    let got = s.http().get(s.url("/q/seg1.ts")).send().expect("GET");
    assert_eq!(got.status(), 200);
    // seg2 is still only on disk: its GET reads it.
    let reads = s.metric(DISK_READS);
    let next = s.http().get(s.url("/q/seg2.ts")).send().expect("GET seg2");
    assert_eq!(next.status(), 200);
    assert_eq!(s.metric(DISK_READS), reads + 1.0, "seg2 was read from disk");
    assert_eq!(s.metric(PROMOTIONS), promoted + 2.0);
}
