//! The storage crate stays below the guest runtime and HTTP: it must never depend, even indirectly, on
//! wasmtime or hyper, so another storage backend (or a test) needs neither. Asks cargo for the crate's
//! dependency tree and fails on either.

use std::process::Command;

/// Crates the storage must not pull in, by name prefix.
const FORBIDDEN: &[&str] = &["wasmtime", "hyper", "h2", "wasmparser", "cranelift"];

#[test]
fn the_tiers_depend_on_neither_wasmtime_nor_hyper() {
    let manifest = concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml");
    let output = Command::new(env!("CARGO"))
        .args([
            "tree",
            "--manifest-path",
            manifest,
            "--edges",
            "normal,build",
        ])
        .args(["--prefix", "none", "--locked", "--offline"])
        .output()
        .expect("run cargo tree");
    assert!(
        output.status.success(),
        "cargo tree failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let tree = String::from_utf8_lossy(&output.stdout);
    assert!(tree.contains("strata-tiers"), "{tree}");
    let found: Vec<&str> = tree
        .lines()
        .filter(|line| {
            FORBIDDEN
                .iter()
                .any(|f| line.starts_with(&format!("{f} ")) || line.starts_with(&format!("{f}-")))
        })
        .collect();
    assert!(found.is_empty(), "strata-tiers depends on {found:?}");
}
