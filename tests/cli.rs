//! `strata serve` command line: sizes with units are accepted, bad flags and bad configs exit
//! non-zero with a message naming the problem, quickly.

mod common;

use std::process::Command;
use std::time::Duration;

use common::{Strata, run_with_timeout, strata_bin};

/// A misconfigured `strata serve` must give up within this.
const EXIT_TIMEOUT: Duration = Duration::from_secs(30);

/// Runs `strata serve` with `args` (plus a scratch `--data` and `--listen 127.0.0.1:0` unless
/// `args` has its own) expecting a non-zero exit whose stderr mentions every string of `mentions`
/// (case-insensitive).
fn assert_rejected(args: &[&str], mentions: &[&str]) {
    let data = tempfile::tempdir().expect("temp data dir");
    let mut cmd = Command::new(strata_bin());
    cmd.arg("serve");
    if !args.contains(&"--listen") {
        cmd.args(["--listen", "127.0.0.1:0"]);
    }
    cmd.arg("--data").arg(data.path()).args(args);
    let (status, stdout, stderr) = run_with_timeout(cmd, EXIT_TIMEOUT);
    assert!(
        !status.success(),
        "strata serve {args:?} must fail; it exited {status}\nstdout: {stdout}"
    );
    let lower = stderr.to_ascii_lowercase();
    for m in mentions {
        assert!(
            lower.contains(&m.to_ascii_lowercase()),
            "stderr of strata serve {args:?} must mention {m:?}:\n{stderr}"
        );
    }
    assert!(
        !stdout.contains(common::LISTENING_PREFIX),
        "a rejected configuration must never listen: {stdout}"
    );
}

#[test]
fn sizes_accept_units_and_plain_bytes() {
    let s = Strata::start(&[
        "--memory-bytes",
        "64MiB",
        "--max-object-bytes",
        "1048576",
        "--guest-memory-bytes",
        "16MiB",
    ]);
    let resp = s
        .http()
        .get(s.url("/_strata/health"))
        .send()
        .expect("health");
    assert_eq!(resp.status(), 200);
}

#[test]
fn unknown_flag_is_rejected() {
    assert_rejected(&["--no-such-flag"], &["--no-such-flag"]);
}

#[test]
fn bad_size_is_rejected() {
    assert_rejected(&["--memory-bytes", "12 parsecs"], &["memory-bytes"]);
    assert_rejected(&["--max-object-bytes=-5"], &["max-object-bytes"]);
    assert_rejected(
        &["--guest-memory-bytes", "4 furlongs"],
        &["guest-memory-bytes"],
    );
}

#[test]
fn bad_listen_address_is_rejected() {
    assert_rejected(&["--listen", "not-an-address"], &["not-an-address"]);
}

#[test]
fn missing_config_file_is_rejected() {
    assert_rejected(
        &["--config", "/nonexistent/strata.toml"],
        &["/nonexistent/strata.toml"],
    );
}

#[test]
fn malformed_config_file_is_rejected() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("strata.toml");
    std::fs::write(&path, "this is = = not toml [\n").expect("write config");
    let path = path.to_str().expect("utf-8 path");
    assert_rejected(&["--config", path], &["strata.toml"]);
}

/// PEM files of a fresh self-signed certificate for localhost, in `dir`, named `<prefix>cert.pem` and
/// `<prefix>key.pem`.
fn tls_files(dir: &std::path::Path, prefix: &str) -> (String, String) {
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".into()]).expect("rcgen");
    let cert = dir.join(format!("{prefix}cert.pem"));
    let key = dir.join(format!("{prefix}key.pem"));
    std::fs::write(&cert, certified.cert.pem()).expect("write cert");
    std::fs::write(&key, certified.signing_key.serialize_pem()).expect("write key");
    let utf8 = |p: std::path::PathBuf| p.to_str().expect("utf-8 path").to_owned();
    (utf8(cert), utf8(key))
}

#[test]
fn tls_needs_both_a_certificate_and_a_key() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (cert, key) = tls_files(dir.path(), "");
    assert_rejected(&["--tls-cert", &cert], &["--tls-key"]);
    assert_rejected(&["--tls-key", &key], &["--tls-cert"]);
    let config = dir.path().join("strata.toml");
    std::fs::write(&config, format!("[tls]\ncert = {cert:?}\n")).expect("write config");
    assert_rejected(
        &["--config", config.to_str().expect("utf-8 path")],
        &["strata.toml", "key"],
    );
}

#[test]
fn unusable_tls_files_are_rejected_naming_the_file() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (cert, key) = tls_files(dir.path(), "a-");
    let (_, other_key) = tls_files(dir.path(), "b-");
    let missing = dir.path().join("missing.pem");
    let missing = missing.to_str().expect("utf-8 path");
    assert_rejected(
        &["--tls-cert", missing, "--tls-key", &key],
        &["cannot read TLS certificate", missing],
    );
    assert_rejected(
        &["--tls-cert", &cert, "--tls-key", missing],
        &["cannot read TLS private key", missing],
    );
    assert_rejected(
        &["--tls-cert", &key, "--tls-key", &key],
        &["no PEM certificate", &key],
    );
    assert_rejected(
        &["--tls-cert", &cert, "--tls-key", &other_key],
        &["does not match", &other_key, &cert],
    );
}

#[test]
fn logs_to_a_file_carry_no_colour_and_json_logs_are_json() {
    let plain = Strata::start(&[]);
    let log = plain.stderr();
    assert!(log.contains("serving"), "{log}");
    assert!(
        !log.contains('\u{1b}'),
        "ANSI escapes in a log file:\n{log}"
    );
    let json = Strata::start(&["--log-format", "json"]);
    for line in json.stderr().lines().filter(|l| !l.trim().is_empty()) {
        let parsed: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
        assert!(parsed["level"].is_string(), "{line}");
    }
}
