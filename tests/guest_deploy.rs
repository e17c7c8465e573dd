//! End-to-end: the guests admin API (list, deploy, rollback, token), hot swap under load, the watched
//! guests folder, restarts from the compiled-artifact cache, and namespace isolation.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use common::{Strata, poll_until};

/// PUTs the component at `wasm_path` as guest `name` (with an optional query), returning status and body.
fn push(s: &Strata, name: &str, query: &str, wasm_path: &str) -> (u16, String) {
    let wasm = std::fs::read(wasm_path).expect("read test guest");
    let resp = s
        .http()
        .put(s.url(&format!("/_strata/guests/{name}{query}")))
        .body(wasm)
        .send()
        .expect("PUT guest");
    (resp.status().as_u16(), resp.text().expect("body"))
}

/// The version header of a GET of `path`.
fn version_of(s: &Strata, path: &str) -> Option<String> {
    let resp = s.http().get(s.url(path)).send().expect("GET");
    resp.headers()
        .get("x-strata-guest-version")
        .map(|v| v.to_str().expect("ASCII").to_owned())
}

fn guests(s: &Strata) -> serde_json::Value {
    let resp = s
        .http()
        .get(s.url("/_strata/guests"))
        .send()
        .expect("GET guests");
    assert_eq!(resp.status().as_u16(), 200);
    serde_json::from_str(&resp.text().expect("body")).expect("JSON listing")
}

#[test]
fn deploy_list_and_rollback() {
    let s = Strata::start(&[]);
    let listing = guests(&s);
    let origin = &listing["guests"][0];
    assert_eq!(origin["name"], "origin");
    let first_id = origin["version"]["id"].as_str().expect("id").to_owned();
    assert_eq!(origin["version"]["sha256"].as_str().expect("sha").len(), 64);
    assert!(
        origin["version"]["activated_at"]
            .as_u64()
            .expect("activated_at")
            > 0
    );

    let (status, body) = push(&s, "origin", "", strata_test_guests::VERSION_ONE);
    assert_eq!(status, 200, "{body}");
    let answer: serde_json::Value = serde_json::from_str(&body).expect("JSON");
    let new_id = answer["version"]["id"].as_str().expect("id").to_owned();
    assert_ne!(new_id, first_id);
    assert_eq!(version_of(&s, "/x").as_deref(), Some("1"));
    let listing = guests(&s);
    assert_eq!(listing["guests"][0]["version"]["id"], new_id.as_str());
    assert_eq!(listing["guests"][0]["previous"][0]["id"], first_id.as_str());

    let resp = s
        .http()
        .post(s.url("/_strata/guests/origin/rollback"))
        .send()
        .expect("POST");
    assert_eq!(resp.status().as_u16(), 200);
    assert_eq!(version_of(&s, "/x"), None);
    let resp = s
        .http()
        .post(s.url("/_strata/guests/origin/rollback"))
        .send()
        .expect("POST");
    assert_eq!(resp.status().as_u16(), 409, "nothing older is kept");
}

#[test]
fn bad_components_are_refused_with_a_reason_and_nothing_changes() {
    let s = Strata::start(&[]);
    push(&s, "origin", "", strata_test_guests::VERSION_ONE);
    let resp = s
        .http()
        .put(s.url("/_strata/guests/origin"))
        .body(b"not wasm at all".to_vec())
        .send()
        .expect("PUT");
    assert_eq!(resp.status().as_u16(), 422);
    assert!(
        resp.text()
            .expect("body")
            .contains("invalid guest component")
    );
    let (status, reason) = push(&s, "origin", "", strata_test_guests::FILTER_VARIANT_CAP);
    assert_eq!(status, 422, "{reason}");
    assert!(reason.contains("origin-handler"), "{reason}");
    let (status, _) = push(&s, "Bad/Name", "", strata_test_guests::VERSION_TWO);
    assert_eq!(status, 404, "a slash makes it another route");
    let (status, _) = push(&s, "Bad", "", strata_test_guests::VERSION_TWO);
    assert_eq!(status, 400);
    assert_eq!(version_of(&s, "/x").as_deref(), Some("1"));
}

#[test]
fn the_admin_token_guards_everything_but_health() {
    let s = Strata::start(&["--admin-token", "s3cret"]);
    let resp = s.http().get(s.url("/_strata/guests")).send().expect("GET");
    assert_eq!(resp.status().as_u16(), 401);
    assert!(resp.headers().contains_key("www-authenticate"));
    let resp = s
        .http()
        .get(s.url("/_strata/guests"))
        .bearer_auth("wrong")
        .send()
        .expect("GET");
    assert_eq!(resp.status().as_u16(), 401);
    let resp = s
        .http()
        .get(s.url("/_strata/guests"))
        .bearer_auth("s3cret")
        .send()
        .expect("GET");
    assert_eq!(resp.status().as_u16(), 200);
    let resp = s.http().get(s.url("/_strata/health")).send().expect("GET");
    assert_eq!(resp.status().as_u16(), 200);
}

#[test]
fn hot_swaps_under_load_drop_no_request_and_never_mix_versions() {
    const SWAPS: usize = 50;
    const CLIENTS: usize = 4;
    let s = Strata::start(&[]);
    assert_eq!(
        push(&s, "origin", "", strata_test_guests::VERSION_ONE).0,
        200
    );
    let stop = Arc::new(AtomicBool::new(false));
    let seen = Arc::new([AtomicU64::new(0), AtomicU64::new(0)]);
    let clients: Vec<_> = (0..CLIENTS)
        .map(|_| {
            let (url, stop, seen) = (s.url("/segment.ts"), Arc::clone(&stop), Arc::clone(&seen));
            std::thread::spawn(move || {
                let client = common::client();
                let mut failures = Vec::new();
                while !stop.load(Ordering::Relaxed) {
                    let resp = match client.get(&url).send() {
                        Ok(resp) => resp,
                        Err(e) => {
                            failures.push(format!("request failed: {e}"));
                            continue;
                        }
                    };
                    let status = resp.status().as_u16();
                    let version = resp
                        .headers()
                        .get("x-strata-guest-version")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("none")
                        .to_owned();
                    let body = resp.bytes().map(|b| b.to_vec()).unwrap_or_default();
                    let whole =
                        body.len() == 4096 && body.iter().all(|b| [*b] == version.as_bytes());
                    match (status, version.as_str(), whole) {
                        (200, "1", true) => seen[0].fetch_add(1, Ordering::Relaxed),
                        (200, "2", true) => seen[1].fetch_add(1, Ordering::Relaxed),
                        _ => {
                            failures.push(format!(
                                "status {status}, version {version}, whole body {whole}"
                            ));
                            0
                        }
                    };
                }
                failures
            })
        })
        .collect();
    for swap in 0..SWAPS {
        let guest = if swap % 2 == 0 {
            strata_test_guests::VERSION_TWO
        } else {
            strata_test_guests::VERSION_ONE
        };
        let (status, body) = push(&s, "origin", "", guest);
        assert_eq!(status, 200, "swap {swap}: {body}");
    }
    stop.store(true, Ordering::Relaxed);
    let failures: Vec<String> = clients
        .into_iter()
        .flat_map(|c| c.join().expect("client thread"))
        .collect();
    assert!(
        failures.is_empty(),
        "{} failed requests, e.g. {:?}",
        failures.len(),
        &failures[..failures.len().min(5)]
    );
    let (one, two) = (
        seen[0].load(Ordering::Relaxed),
        seen[1].load(Ordering::Relaxed),
    );
    assert!(one > 0 && two > 0, "both versions served: {one} and {two}");
    assert_eq!(s.metric("strata_guest_swaps_total"), (SWAPS + 1) as f64);
}

#[test]
fn a_wasm_file_renamed_into_the_guests_folder_deploys_itself() {
    let folder = tempfile::tempdir().expect("temp dir");
    let s = Strata::start(&["--guests-dir", folder.path().to_str().expect("utf-8 path")]);
    let temp = folder.path().join(".origin.wasm.part");
    std::fs::copy(strata_test_guests::VERSION_TWO, &temp).expect("copy guest");
    std::fs::rename(&temp, folder.path().join("origin.wasm")).expect("rename into place");
    poll_until(
        Duration::from_secs(30),
        "the folder's guest to serve",
        || version_of(&s, "/x").as_deref() == Some("2"),
    );
}

#[test]
fn a_restart_loads_every_guest_from_the_artifact_cache() {
    let mut s = Strata::start(&[]);
    assert_eq!(
        push(&s, "origin", "", strata_test_guests::VERSION_ONE).0,
        200
    );
    assert_eq!(
        push(
            &s,
            "tenant",
            "?namespace=tenant/",
            strata_test_guests::VERSION_TWO
        )
        .0,
        200
    );
    assert_eq!(
        push(
            &s,
            "variant-cap",
            "",
            strata_test_guests::FILTER_VARIANT_CAP
        )
        .0,
        200
    );
    s.restart();
    assert_eq!(
        s.metric("strata_guest_compiles_total"),
        0.0,
        "nothing recompiled"
    );
    assert_eq!(s.metric("strata_guest_cache_hits_total"), 3.0);
    assert_eq!(version_of(&s, "/x").as_deref(), Some("1"));
    assert_eq!(version_of(&s, "/tenant/x").as_deref(), Some("2"));
}

#[test]
fn a_namespaced_guest_cannot_read_another_namespace() {
    let s = Strata::start(&[]);
    for (path, body) in [
        ("/tenant-a/mine.txt", "a's own"),
        ("/tenant-b/secret.txt", "b's secret"),
    ] {
        let resp = s.http().put(s.url(path)).body(body).send().expect("PUT");
        assert!(resp.status().is_success(), "PUT {path}: {}", resp.status());
    }
    let (status, body) = push(
        &s,
        "tenant-a",
        "?namespace=tenant-a/",
        strata_test_guests::SNOOPER,
    );
    assert_eq!(status, 200, "{body}");
    let read = |key: &str| {
        let resp = s
            .http()
            .get(s.url(&format!("/tenant-a/x?key={key}")))
            .send()
            .expect("GET");
        (resp.status().as_u16(), resp.text().expect("body"))
    };
    assert_eq!(read("tenant-a/mine.txt"), (200, "a's own".to_owned()));
    assert_eq!(read("tenant-b/secret.txt"), (403, "denied".to_owned()));
    // Outside the namespace the default handler still serves.
    let resp = s
        .http()
        .get(s.url("/tenant-b/secret.txt"))
        .send()
        .expect("GET");
    assert_eq!(resp.text().expect("body"), "b's secret");
}

#[test]
fn the_guest_cli_wraps_the_admin_api() {
    let s = Strata::start(&["--admin-token", "t0ken"]);
    let cli = |args: &[&str]| {
        let mut cmd = std::process::Command::new(common::strata_bin());
        cmd.arg("guest")
            .args(args)
            .args(["--url", s.base_url()])
            .env("STRATA_ADMIN_TOKEN", "t0ken");
        common::run_with_timeout(cmd, Duration::from_secs(60))
    };
    let (status, out, err) = cli(&["push", "origin", strata_test_guests::VERSION_TWO]);
    assert!(status.success(), "{err}");
    assert!(out.contains("\"version\""), "{out}");
    assert_eq!(version_of(&s, "/x").as_deref(), Some("2"));
    let (status, out, _) = cli(&["list"]);
    assert!(status.success() && out.contains("\"origin\""), "{out}");
    let (status, _, err) = cli(&["rollback", "origin"]);
    assert!(status.success(), "{err}");
    assert_eq!(version_of(&s, "/x"), None);
    let (status, _, err) = cli(&["push", "origin", "/no/such/file.wasm"]);
    assert!(
        !status.success() && err.contains("cannot read /no/such/file.wasm"),
        "{err}"
    );
}
