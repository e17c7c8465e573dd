//! Builds every test guest (and the example filter plugins) to `wasm32-wasip2` in ONE nested cargo
//! invocation, then writes `guests.rs`: a `pub const` path per guest, named after its crate.
//!
//! The nested cargo uses its own target folder: the outer build holds the lock on the workspace's.

use std::env;
use std::fmt::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

const TARGET: &str = "wasm32-wasip2";

/// (constant name, package) of each guest a test may name.
const GUESTS: &[(&str, &str)] = &[
    ("LOOPING", "strata-test-guest-looping"),
    ("SLEEPING", "strata-test-guest-sleeping"),
    ("SLEEPING_FILTER", "strata-test-guest-sleeping-filter"),
    ("TRAPPING", "strata-test-guest-trapping"),
    ("MEMORY_HOG", "strata-test-guest-memory-hog"),
    ("SNOOPER", "strata-test-guest-snooper"),
    ("CLOCK", "strata-test-guest-clock"),
    ("FUTURE_ABI", "strata-test-guest-future-abi"),
    ("VERSION_ONE", "strata-test-guest-version-one"),
    ("VERSION_TWO", "strata-test-guest-version-two"),
    ("FILTER_VARIANT_CAP", "strata-filter-variant-cap"),
    ("SPIN", "strata-guest-spin"),
];

fn main() {
    let manifest_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("cargo sets it"));
    let workspace = manifest_dir
        .ancestors()
        .nth(3)
        .expect("guest/testing/artifacts sits three levels below the workspace root")
        .to_path_buf();
    let out_dir = PathBuf::from(env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    let target_dir = out_dir.join("guest-target");
    // Relative to this package, so the fingerprint stays right when the workspace folder moves; the test
    // guests build on guest/core and guest/origin too.
    for watched in ["../../../wit", "../../../guest", "../../../Cargo.lock"] {
        println!("cargo:rerun-if-changed={watched}");
    }

    build(
        &workspace,
        &target_dir,
        GUESTS.iter().map(|(_, package)| *package),
        &[],
    );
    // The default handler and the example plugin built against the frozen first ABI, for the
    // compatibility test.
    let v0_1_dir = out_dir.join("guest-target-abi-v0-1");
    build(
        &workspace,
        &v0_1_dir,
        ["strata-guest-origin", "strata-filter-variant-cap"],
        &[
            "strata-guest-origin/abi-v0-1",
            "strata-filter-variant-cap/abi-v0-1",
        ],
    );

    let mut code = String::new();
    for (name, package) in GUESTS {
        let wasm = wasm_of(&target_dir, package);
        writeln!(code, "/// The `{package}` component.").expect("write to a String");
        writeln!(
            code,
            "pub const {name}: &str = {:?};",
            wasm.display().to_string()
        )
        .expect("write to a String");
    }
    for (name, package) in [
        ("ORIGIN_ABI_V0_1", "strata-guest-origin"),
        ("FILTER_VARIANT_CAP_ABI_V0_1", "strata-filter-variant-cap"),
    ] {
        writeln!(
            code,
            "/// `{package}` built against the frozen `strata:origin@0.1.0` (feature `abi-v0-1`).\npub const {name}: &str = {:?};",
            wasm_of(&v0_1_dir, package).display().to_string()
        )
        .expect("write to a String");
    }
    std::fs::write(out_dir.join("guests.rs"), code).expect("write guests.rs");
}

/// Builds `packages` (with `features`) for the guest target into `target_dir`, in one cargo invocation.
fn build<'a>(
    workspace: &Path,
    target_dir: &Path,
    packages: impl IntoIterator<Item = &'a str>,
    features: &[&str],
) {
    let mut cargo = Command::new(env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cargo
        .current_dir(workspace)
        .args(["build", "--release", "--locked", "--target", TARGET])
        .arg("--target-dir")
        .arg(target_dir);
    for package in packages {
        cargo.args(["--package", package]);
    }
    if !features.is_empty() {
        cargo.args(["--features", &features.join(",")]);
    }
    for var in [
        "RUSTC_WORKSPACE_WRAPPER",
        "RUSTC_WRAPPER",
        "RUSTFLAGS",
        "CARGO_ENCODED_RUSTFLAGS",
        "CARGO_TARGET_DIR",
        "CARGO_BUILD_TARGET",
    ] {
        cargo.env_remove(var);
    }
    let status = cargo
        .env("CARGO_PROFILE_RELEASE_DEBUG", "false")
        .env("CARGO_PROFILE_RELEASE_STRIP", "debuginfo")
        .status()
        .expect("cannot run cargo to build the test guests");
    assert!(
        status.success(),
        "building the test guests failed; is the target installed? run: rustup target add {TARGET}"
    );
}

/// The component `package` built into `target_dir`.
fn wasm_of(target_dir: &Path, package: &str) -> PathBuf {
    let wasm = target_dir
        .join(TARGET)
        .join("release")
        .join(format!("{}.wasm", package.replace('-', "_")));
    assert!(wasm.exists(), "{} was not built", wasm.display());
    wasm
}
