//! Crash safety under load: SIGKILL in the middle of a storm of concurrent durable PUTs loses no
//! acknowledged object and leaves no torn one; a full disk budget answers 507 and corrupts nothing.

mod common;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread;
use std::time::Duration;

use common::{PseudoRandom, Strata, poll_until};

const WRITERS: u64 = 8;

fn len_for(i: u64) -> usize {
    20_000 + (i as usize * 7919) % 400_000
}

#[test]
fn sigkill_during_a_put_storm_loses_no_acknowledged_object() {
    let mut s = Strata::start(&[]);
    let acknowledged = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    // Per key: whether its PUT got a 2xx.
    let attempts: BTreeMap<String, (u64, bool)> = thread::scope(|scope| {
        let writers: Vec<_> = (0..WRITERS)
            .map(|w| {
                let (s, acknowledged, stop) = (&s, &acknowledged, &stop);
                scope.spawn(move || {
                    let client = common::client();
                    let mut out = BTreeMap::new();
                    for n in 0.. {
                        if stop.load(Ordering::Relaxed) {
                            break;
                        }
                        let seed = w * 1_000_000 + n;
                        let path = format!("/storm/w{w}/{n}.ts");
                        let body = PseudoRandom::vec(seed, len_for(seed));
                        let ok = client
                            .put(s.url(&path))
                            .body(body)
                            .send()
                            .is_ok_and(|r| r.status().is_success());
                        out.insert(path, (seed, ok));
                        if !ok {
                            break;
                        }
                        acknowledged.fetch_add(1, Ordering::Relaxed);
                    }
                    out
                })
            })
            .collect();
        poll_until(Duration::from_secs(60), "PUTs to be acknowledged", || {
            acknowledged.load(Ordering::Relaxed) >= 60
        });
        s.sigkill();
        stop.store(true, Ordering::Relaxed);
        writers
            .into_iter()
            .flat_map(|w| w.join().expect("writer thread"))
            .collect()
    });
    s.restart();
    let mut acked = 0;
    for (path, (seed, ok)) in &attempts {
        let response = s.http().get(s.url(path)).send().expect("GET after restart");
        match response.status().as_u16() {
            200 => {
                let body = response.bytes().expect("body");
                assert!(
                    body[..] == PseudoRandom::vec(*seed, len_for(*seed))[..],
                    "{path} holds a torn or wrong object of {} bytes",
                    body.len()
                );
                acked += usize::from(*ok);
            }
            404 => assert!(!ok, "{path} was acknowledged but is lost"),
            other => panic!("{path}: unexpected status {other}"),
        }
    }
    assert!(acked >= 60, "only {acked} acknowledged objects checked");
}

#[test]
fn a_full_disk_budget_answers_507_and_keeps_what_is_stored() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("strata.toml");
    std::fs::write(&config, "[storage]\ndisk_bytes = \"1 MiB\"\n").unwrap();
    let mut s = Strata::start(&["--config", config.to_str().unwrap()]);
    let first = PseudoRandom::vec(1, 700_000);
    assert_eq!(put(&s, "/vod/a.mp4", first.clone()), 201);
    assert_eq!(put(&s, "/vod/b.mp4", PseudoRandom::vec(2, 700_000)), 507);
    // Overwriting the stored object with one too large is refused too, and the old one stays.
    assert_eq!(put(&s, "/vod/a.mp4", PseudoRandom::vec(3, 400_000)), 507);
    assert_eq!(
        s.http().get(s.url("/vod/b.mp4")).send().unwrap().status(),
        404
    );
    assert_eq!(put(&s, "/vod/c.mp4", vec![9u8; 200_000]), 201);
    s.restart();
    assert_eq!(
        s.http()
            .get(s.url("/vod/a.mp4"))
            .send()
            .unwrap()
            .bytes()
            .unwrap(),
        first
    );
    assert_eq!(
        s.http()
            .get(s.url("/vod/c.mp4"))
            .send()
            .unwrap()
            .bytes()
            .unwrap(),
        vec![9u8; 200_000]
    );
}

fn put(s: &Strata, path: &str, body: Vec<u8>) -> u16 {
    s.http()
        .put(s.url(path))
        .body(body)
        .send()
        .unwrap()
        .status()
        .as_u16()
}
