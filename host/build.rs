//! Builds the default handler guest (`guest/origin`) for `wasm32-wasip2` and leaves it in `OUT_DIR`, so the
//! `strata` binary embeds it and runs with no other file; and reads the wasmtime version locked in
//! `Cargo.lock` into `STRATA_WASMTIME_VERSION` for `strata --version`.
//!
//! The nested cargo uses its own target folder: the outer build holds the lock on the workspace's.

use std::env;
use std::path::PathBuf;
use std::process::Command;

const GUEST_PACKAGE: &str = "strata-guest-origin";
const GUEST_ARTIFACT: &str = "strata_guest_origin.wasm";
const TARGET: &str = "wasm32-wasip2";

fn main() {
    let manifest_dir =
        PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let workspace = manifest_dir
        .parent()
        .expect("host/ sits in the workspace root")
        .to_path_buf();
    let out_dir = PathBuf::from(env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    let target_dir = out_dir.join("guest-target");

    // Relative to host/, so the fingerprint stays right when the workspace folder moves.
    for watched in [
        "../wit",
        "../guest/abi",
        "../guest/core",
        "../guest/origin",
        "../Cargo.lock",
    ] {
        println!("cargo:rerun-if-changed={watched}");
    }

    let lock = std::fs::read_to_string(workspace.join("Cargo.lock"))
        .unwrap_or_else(|e| panic!("cannot read Cargo.lock: {e}"));
    let wasmtime = locked_version(&lock, "wasmtime");
    println!("cargo:rustc-env=STRATA_WASMTIME_VERSION={wasmtime}");

    let cargo = env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(cargo)
        .current_dir(&workspace)
        .args([
            "build",
            "--release",
            "--locked",
            "--package",
            GUEST_PACKAGE,
            "--target",
            TARGET,
        ])
        .arg("--target-dir")
        .arg(&target_dir)
        .env_remove("RUSTC_WORKSPACE_WRAPPER")
        .env_remove("RUSTC_WRAPPER")
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("CARGO_BUILD_TARGET")
        // The guest is compiled by wasmtime at every start: no debug info keeps it small and quick.
        .env("CARGO_PROFILE_RELEASE_DEBUG", "false")
        .env("CARGO_PROFILE_RELEASE_STRIP", "debuginfo")
        .status()
        .expect("cannot run cargo to build the default guest");
    assert!(
        status.success(),
        "building the default guest failed; is the target installed? run: rustup target add {TARGET}"
    );
    let built = target_dir.join(TARGET).join("release").join(GUEST_ARTIFACT);
    // A new file, never a write into the old one: a target dir copied with hard links (`cp -al`) shares the
    // old file with other checkouts, and writing through it would hand them this build's guest.
    let embedded = out_dir.join(GUEST_ARTIFACT);
    let _ = std::fs::remove_file(&embedded);
    std::fs::copy(&built, &embedded)
        .unwrap_or_else(|e| panic!("cannot copy {}: {e}", built.display()));
}

/// The one version of `package` in `Cargo.lock` (each `[[package]]` entry has `name` then `version` on the
/// next line). Two versions would make `--version` ambiguous, so they stop the build.
fn locked_version(lock: &str, package: &str) -> String {
    let name = format!("name = \"{package}\"");
    let mut versions: Vec<&str> = Vec::new();
    let mut lines = lock.lines().map(str::trim);
    while let Some(line) = lines.next() {
        if line != name {
            continue;
        }
        let version = lines
            .next()
            .and_then(|l| l.strip_prefix("version = \""))
            .and_then(|l| l.strip_suffix('"'))
            .unwrap_or_else(|| panic!("Cargo.lock: {package} has no version line after its name"));
        versions.push(version);
    }
    match versions.as_slice() {
        [one] => (*one).to_owned(),
        [] => panic!("Cargo.lock has no {package} package"),
        many => panic!(
            "Cargo.lock has several {package} versions ({many:?}): say which one strata --version names"
        ),
    }
}
