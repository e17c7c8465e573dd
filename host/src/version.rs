//! What `strata --version` says: this binary's version, the guest ABI versions it runs and the wasmtime
//! it runs them on (read from `Cargo.lock` by `build.rs`).

use std::sync::LazyLock;

use strata_runtime::{ABI_VERSIONS, WIT_PACKAGE};

/// The wasmtime version this binary was built with, as locked in `Cargo.lock`.
pub const WASMTIME: &str = env!("STRATA_WASMTIME_VERSION");

static LINE: LazyLock<String> = LazyLock::new(|| {
    let abis: Vec<String> = ABI_VERSIONS
        .iter()
        .map(|v| format!("{WIT_PACKAGE}@{v}"))
        .collect();
    format!(
        "{} (guest ABI {}; wasmtime {WASMTIME})",
        env!("CARGO_PKG_VERSION"),
        abis.join(", ")
    )
});

/// The version clap prints after the binary's name, e.g.
/// `0.1.0 (guest ABI strata:origin@0.1.0, strata:origin@0.2.0; wasmtime 48.0.8)`.
pub fn line() -> &'static str {
    LINE.as_str()
}
