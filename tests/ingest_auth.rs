//! End-to-end: ingest credentials per path prefix (Bearer and Basic), public reads, and the refusal to
//! listen publicly without credentials.

mod common;

use std::process::Command;
use std::time::Duration;

use common::{Strata, run_with_timeout};

const CONFIG: &str = r#"
[[auth.ingest]]
pattern = "live/**"
bearer = ["encoder-token"]
basic = ["encoder:pa55"]

[[auth.ingest]]
pattern = "private/**"
bearer = ["viewer"]
protect_reads = true
"#;

fn start() -> (Strata, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("strata.toml");
    std::fs::write(&path, CONFIG).expect("write config");
    (
        Strata::start(&["--config", path.to_str().expect("utf-8 path")]),
        dir,
    )
}

#[test]
fn writes_need_credentials_for_their_prefix() {
    let (s, _dir) = start();
    let put = |path: &str| s.http().put(s.url(path)).body("x");
    assert_eq!(
        put("/live/a.ts").send().expect("PUT").status().as_u16(),
        401
    );
    assert_eq!(
        put("/live/a.ts")
            .bearer_auth("nope")
            .send()
            .expect("PUT")
            .status()
            .as_u16(),
        401
    );
    assert_eq!(
        put("/live/a.ts")
            .bearer_auth("encoder-token")
            .send()
            .expect("PUT")
            .status()
            .as_u16(),
        201
    );
    let basic = put("/live/b.ts")
        .basic_auth("encoder", Some("pa55"))
        .send()
        .expect("PUT");
    assert_eq!(basic.status().as_u16(), 201);
    let uncovered = put("/elsewhere/c.ts")
        .bearer_auth("encoder-token")
        .send()
        .expect("PUT");
    assert_eq!(uncovered.status().as_u16(), 403);
    let delete = s.http().delete(s.url("/live/a.ts")).send().expect("DELETE");
    assert_eq!(delete.status().as_u16(), 401);
    // Reads stay public, and nothing refused was stored.
    assert_eq!(
        s.http()
            .get(s.url("/live/a.ts"))
            .send()
            .expect("GET")
            .status()
            .as_u16(),
        200
    );
    assert_eq!(
        s.http()
            .get(s.url("/elsewhere/c.ts"))
            .send()
            .expect("GET")
            .status()
            .as_u16(),
        404
    );
}

#[test]
fn a_rule_may_protect_reads_too() {
    let (s, _dir) = start();
    let put = s
        .http()
        .put(s.url("/private/x.ts"))
        .bearer_auth("viewer")
        .body("x")
        .send()
        .expect("PUT");
    assert_eq!(put.status().as_u16(), 201);
    assert_eq!(
        s.http()
            .get(s.url("/private/x.ts"))
            .send()
            .expect("GET")
            .status()
            .as_u16(),
        401
    );
    let authorised = s
        .http()
        .get(s.url("/private/x.ts"))
        .bearer_auth("viewer")
        .send()
        .expect("GET");
    assert_eq!(authorised.status().as_u16(), 200);
}

#[test]
fn a_public_listener_without_credentials_refuses_to_start() {
    let data = tempfile::tempdir().expect("temp dir");
    let mut cmd = Command::new(common::strata_bin());
    cmd.args(["serve", "--listen", "0.0.0.0:0", "--data"])
        .arg(data.path());
    let (status, _, stderr) = run_with_timeout(cmd, Duration::from_secs(30));
    assert!(!status.success());
    assert!(
        stderr.contains("not a loopback address") && stderr.contains("[[auth.ingest]]"),
        "{stderr}"
    );
}
