//! End-to-end: a guest that loops, traps or hoards memory fails only its own request, with a 5xx and a
//! reason within its deadline; the next request succeeds; the metrics count the failure. The misbehaving
//! guests are the purpose-built crates under guest/testing/.

mod common;

use std::time::{Duration, Instant};

use common::Strata;

/// Deploys `wasm` as the `origin` handler through the admin API, asserting 200.
fn push(s: &Strata, wasm_path: &str) {
    let wasm = std::fs::read(wasm_path).expect("read test guest");
    let resp = s
        .http()
        .put(s.url("/_strata/guests/origin"))
        .body(wasm)
        .send()
        .expect("PUT guest");
    let status = resp.status().as_u16();
    assert_eq!(status, 200, "deploy: {}", resp.text().unwrap_or_default());
}

/// GETs `path`, returning status and body text.
fn get(s: &Strata, path: &str) -> (u16, String) {
    let resp = s.http().get(s.url(path)).send().expect("GET");
    (resp.status().as_u16(), resp.text().expect("body"))
}

#[test]
fn a_looping_guest_is_stopped_at_its_deadline_and_the_next_request_succeeds() {
    let s = Strata::start(&["--guest-deadline-ms", "100"]);
    push(&s, strata_test_guests::LOOPING);
    let started = Instant::now();
    let (status, reason) = get(&s, "/misbehave");
    assert_eq!(status, 503, "{reason}");
    assert!(reason.contains("100 ms deadline"), "{reason}");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "took {:?}",
        started.elapsed()
    );
    assert_eq!(get(&s, "/anything"), (200, "fine".to_owned()));
    assert!(s.metric("strata_guest_failures_total{kind=\"timeout\"}") >= 1.0);
}

#[test]
fn a_looping_guest_holds_up_no_other_connection() {
    // Long enough that every other request below is answered well inside it.
    let s = Strata::with_config(
        "[guest]\ndeadline_ms = 4000\nwall_deadline_ms = 8000\n",
        &[],
    );
    push(&s, strata_test_guests::LOOPING);
    let looping = {
        let url = s.url("/misbehave");
        std::thread::spawn(move || {
            let client = reqwest::blocking::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .expect("client");
            client.get(url).send().map(|r| r.status().as_u16())
        })
    };
    common::poll_until(
        Duration::from_secs(10),
        "the looping request is in flight",
        || s.metric("strata_in_flight_requests") >= 1.0,
    );
    // Connections are spread over one thread per CPU, fewest open first; each client keeps its connection
    // open, so twice as many as there are CPUs put some on the looping request's thread.
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let clients: Vec<_> = (0..2 * cpus + 2)
        .map(|_| {
            let client = reqwest::blocking::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .expect("client");
            let response = client.get(s.url("/anything")).send().expect("GET");
            assert_eq!(response.status().as_u16(), 200);
            assert_eq!(response.text().expect("body"), "fine");
            client
        })
        .collect();
    assert!(
        !looping.is_finished(),
        "the looping request ended before the other connections were answered"
    );
    assert_eq!(looping.join().expect("looping thread").expect("GET"), 503);
    drop(clients);
}

#[test]
fn a_memory_hog_hits_its_cap_and_the_next_request_succeeds() {
    let s = Strata::start(&["--guest-memory-bytes", "16MiB"]);
    push(&s, strata_test_guests::MEMORY_HOG);
    let (status, reason) = get(&s, "/misbehave");
    assert_eq!(status, 500, "{reason}");
    assert!(reason.contains("memory cap of 16777216 bytes"), "{reason}");
    assert_eq!(get(&s, "/anything"), (200, "fine".to_owned()));
    assert!(s.metric("strata_guest_failures_total{kind=\"memory\"}") >= 1.0);
}

#[test]
fn a_trapping_guest_fails_its_own_request_only() {
    let s = Strata::start(&["--handler", strata_test_guests::TRAPPING]);
    let (status, reason) = get(&s, "/boom");
    assert_eq!(status, 500, "{reason}");
    assert!(reason.contains("guest failed"), "{reason}");
    assert_eq!(get(&s, "/fine/after"), (200, "fine".to_owned()));
    assert!(s.metric("strata_guest_failures_total{kind=\"trap\"}") >= 1.0);
}

#[test]
fn a_guest_that_fails_its_canary_is_refused_and_the_old_version_keeps_serving() {
    let s = Strata::start(&[]);
    let wasm = std::fs::read(strata_test_guests::TRAPPING).expect("read test guest");
    let resp = s
        .http()
        .put(s.url("/_strata/guests/origin"))
        .body(wasm)
        .send()
        .expect("PUT");
    assert_eq!(resp.status().as_u16(), 422);
    let reason = resp.text().expect("body");
    assert!(reason.starts_with("canary request failed"), "{reason}");
    // The default handler still answers: a missing object is its 404, not the trapping guest's 500.
    assert_eq!(get(&s, "/no/such.ts").0, 404);
}

#[test]
fn more_requests_than_instance_slots_wait_for_a_slot() {
    let s = Strata::start(&["--guest-max-instances", "1"]);
    push(&s, strata_test_guests::VERSION_ONE);
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let url = s.url("/x");
            std::thread::spawn(move || {
                common::client()
                    .get(url)
                    .send()
                    .expect("GET")
                    .status()
                    .as_u16()
            })
        })
        .collect();
    for handle in handles {
        assert_eq!(handle.join().expect("client thread"), 200);
    }
}
