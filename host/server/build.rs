//! Installs the console's player libraries (hls.js, dash.js) from `console/package-lock.json` with
//! `npm ci` when they are missing or older than the lockfile, so `admin/console.rs` can embed them. Only
//! this build needs npm; the binary fetches nothing at run time (`decisions/0056-web-console.md`).

use std::path::Path;
use std::process::Command;
use std::time::SystemTime;

fn main() {
    let console =
        Path::new(&std::env::var("CARGO_MANIFEST_DIR").expect("set by cargo")).join("console");
    println!("cargo:rerun-if-changed=console/package.json");
    println!("cargo:rerun-if-changed=console/package-lock.json");
    println!("cargo:rerun-if-changed=console/node_modules/.package-lock.json");
    let modified = |file: &str| -> Option<SystemTime> {
        std::fs::metadata(console.join(file))
            .and_then(|m| m.modified())
            .ok()
    };
    // npm ci writes node_modules/.package-lock.json last: older than the lockfile means a stale install.
    let installed = modified("node_modules/.package-lock.json");
    if installed.is_some() && installed >= modified("package-lock.json") {
        return;
    }
    let status = Command::new("npm")
        .args([
            "ci",
            "--ignore-scripts",
            "--no-audit",
            "--no-fund",
            "--loglevel=error",
        ])
        .current_dir(&console)
        .status();
    match status {
        Ok(status) if status.success() => {}
        Ok(status) => panic!(
            "`npm ci` in {} failed ({status}): the console's player libraries come from the npm registry",
            console.display()
        ),
        Err(e) => panic!(
            "cannot run npm ({e}): building Strata needs node and npm for the console's player libraries \
             (Debian: apt-get install -y nodejs npm)"
        ),
    }
}
