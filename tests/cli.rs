//! `strata serve` command line: sizes with units are accepted, bad flags and bad configs exit
//! non-zero with a message naming the problem, quickly. `strata check-config` says the same without
//! starting; `strata --version` names the guest ABI versions and the wasmtime it runs; SIGHUP never stops
//! a plain (non-TLS) origin.

mod common;

use std::path::Path;
use std::process::{Command, ExitStatus};
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
    assert_healthy(&s);
}

/// `GET /_strata/health` answers 200.
fn assert_healthy(s: &Strata) {
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
    // The log line may follow the listening line on stdout by a moment.
    let mut log = String::new();
    let served = common::poll(Duration::from_secs(10), || {
        log = plain.stderr();
        log.contains("serving")
    });
    assert!(served, "{log}");
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

/// Runs `strata check-config FILE`, bounded by [`EXIT_TIMEOUT`].
fn check_config(file: &Path) -> (ExitStatus, String, String) {
    let mut cmd = Command::new(strata_bin());
    cmd.arg("check-config").arg(file);
    run_with_timeout(cmd, EXIT_TIMEOUT)
}

/// Writes `config` to `<dir>/strata.toml` and checks it expecting exit status 1 and a stderr naming each
/// of `mentions` (case-insensitive), each on a line of its own; returns stderr.
fn assert_invalid(dir: &Path, config: &str, mentions: &[&str]) -> String {
    let path = dir.join("strata.toml");
    std::fs::write(&path, config).expect("write config");
    assert_check_fails(&path, mentions)
}

/// Checks `path` expecting exit status 1, nothing on stdout, and each of `mentions` on stderr.
fn assert_check_fails(path: &Path, mentions: &[&str]) -> String {
    let (status, stdout, stderr) = check_config(path);
    assert_eq!(
        status.code(),
        Some(1),
        "check-config of {} must exit 1; it exited {status}\nstdout: {stdout}\nstderr: {stderr}",
        path.display()
    );
    assert!(
        stdout.is_empty(),
        "nothing on stdout when invalid: {stdout}"
    );
    let lower = stderr.to_ascii_lowercase();
    for m in mentions {
        assert!(
            lower
                .lines()
                .any(|line| line.contains(&m.to_ascii_lowercase())),
            "stderr of check-config {} must mention {m:?}:\n{stderr}",
            path.display()
        );
    }
    stderr
}

#[test]
fn the_example_config_checks_valid() {
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../strata.example.toml");
    let (status, stdout, stderr) = check_config(&example);
    assert!(status.success(), "{status}\n{stderr}");
    assert_eq!(
        stdout,
        format!("configuration {} is valid\n", example.display()),
        "one line on stdout"
    );
}

#[test]
fn check_config_names_each_kind_of_invalid_input() {
    let dir = tempfile::tempdir().expect("temp dir");
    let missing = dir.path().join("missing.toml");
    assert_check_fails(&missing, &["cannot read config file", "missing.toml"]);
    assert_invalid(
        dir.path(),
        "this is = = not toml [\n",
        &["invalid config file", "strata.toml"],
    );
    assert_invalid(dir.path(), "listne = \"127.0.0.1:1\"\n", &["listne"]);
    assert_invalid(dir.path(), "[admin]\ntoken = \"\"\n", &["admin.token"]);
    // Every problem is named, one line each, not only the first.
    let stderr = assert_invalid(
        dir.path(),
        "max_object_bytes = 0\n[admin]\ntoken = \" \"\n[[guest.signing]]\nprefix = \"premium/\"\nkey = \"\"\n",
        &[
            "max_object_bytes",
            "admin.token",
            "guest.signing[0].key",
            "3 problems",
        ],
    );
    assert_eq!(
        stderr
            .lines()
            .filter(|l| l.contains("invalid setting"))
            .count(),
        3,
        "{stderr}"
    );
}

#[test]
fn check_config_reads_tls_files_and_the_handler() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (cert, key) = tls_files(dir.path(), "a-");
    let (_, other_key) = tls_files(dir.path(), "b-");
    let handler = strata_test_guests::VERSION_ONE;
    let data = dir.path().join("not-created");
    let valid = format!(
        "data_dir = {data:?}\n[tls]\ncert = {cert:?}\nkey = {key:?}\n[guest]\nhandler = {handler:?}\n"
    );
    let path = dir.path().join("valid.toml");
    std::fs::write(&path, &valid).expect("write config");
    let (status, stdout, stderr) = check_config(&path);
    assert!(status.success(), "{status}\n{stderr}");
    assert_eq!(
        stdout,
        format!("configuration {} is valid\n", path.display())
    );
    assert!(
        stderr.contains("not compiled or linked"),
        "say what was not checked: {stderr}"
    );
    assert!(!data.exists(), "check-config must create nothing");

    let mismatched = valid.replace(&key, &other_key);
    assert_invalid(dir.path(), &mismatched, &["does not match", &other_key]);
    let missing = dir.path().join("missing.pem");
    let missing = missing.to_str().expect("utf-8 path");
    assert_invalid(
        dir.path(),
        &valid.replace(&cert, missing),
        &["cannot read TLS certificate", missing],
    );
    for (wasm, mentions) in [
        (missing, ["cannot read handler", missing]),
        (
            cert.as_str(),
            ["not a WebAssembly component", cert.as_str()],
        ),
        (
            strata_test_guests::FILTER_VARIANT_CAP,
            ["strata:origin/manifest-filter", "guest.handler"],
        ),
        (
            strata_test_guests::FUTURE_ABI,
            ["does not run", "guest.handler"],
        ),
    ] {
        assert_invalid(dir.path(), &valid.replace(handler, wasm), &mentions);
    }
    let file = dir.path().join("a-file");
    std::fs::write(&file, "").expect("write file");
    let file = file.to_str().expect("utf-8 path");
    assert_invalid(
        dir.path(),
        &format!("data_dir = {file:?}\n"),
        &["data_dir", "not a folder"],
    );
}

#[test]
fn version_names_the_abi_versions_and_wasmtime() {
    let mut cmd = Command::new(strata_bin());
    cmd.arg("--version");
    let (status, stdout, stderr) = run_with_timeout(cmd, EXIT_TIMEOUT);
    assert!(status.success(), "{status}\n{stderr}");
    let lock = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../Cargo.lock"))
        .expect("read Cargo.lock");
    let lock: toml::Table = toml::from_str(&lock).expect("Cargo.lock is TOML");
    let wasmtime: Vec<&str> = lock["package"]
        .as_array()
        .expect("packages")
        .iter()
        .filter(|p| p["name"].as_str() == Some("wasmtime"))
        .filter_map(|p| p["version"].as_str())
        .collect();
    assert_eq!(
        wasmtime.len(),
        1,
        "one wasmtime in Cargo.lock: {wasmtime:?}"
    );
    let abis: Vec<String> = strata_runtime::ABI_VERSIONS
        .iter()
        .map(|v| format!("strata:origin@{v}"))
        .collect();
    assert_eq!(
        stdout.trim_end(),
        format!(
            "strata {} (guest ABI {}; wasmtime {})",
            env!("CARGO_PKG_VERSION"),
            abis.join(", "),
            wasmtime[0]
        )
    );
}

#[test]
fn sighup_without_tls_keeps_serving() {
    let s = Strata::start(&[]);
    s.signal("HUP");
    common::poll_until(Duration::from_secs(10), "the SIGHUP is logged", || {
        s.stderr().contains("no TLS certificate to reload")
    });
    assert_healthy(&s);
}
