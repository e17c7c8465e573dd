//! The watched guests folder: `<name>.wasm` files deploy themselves as guest `<name>` when they change,
//! through the same validate, compile, canary and activate steps as the admin API.
//!
//! Polled rather than watched through inotify: a half-second scan of one small folder costs nothing, works
//! on every filesystem (network mounts included), and a writer that renames the file into place is never
//! seen half-written. Dot-files (editors' and writers' temporaries) are ignored.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use super::Guests;

/// How often the folder is scanned.
const SCAN_EVERY: Duration = Duration::from_millis(500);

/// Scans `dir` forever, deploying each `.wasm` file that appeared or changed since the last scan.
pub async fn watch(guests: Arc<Guests>, dir: PathBuf) {
    let mut seen: HashMap<PathBuf, (SystemTime, u64)> = HashMap::new();
    loop {
        for (path, stamp) in scan(&dir) {
            if seen.get(&path) == Some(&stamp) {
                continue;
            }
            seen.insert(path.clone(), stamp);
            let Some(name) = path.file_stem().and_then(|s| s.to_str()).map(str::to_owned) else {
                continue;
            };
            let wasm = match tokio::fs::read(&path).await {
                Ok(wasm) => wasm,
                Err(e) => {
                    tracing::warn!(path = %path.display(), error = %e, "cannot read guest file");
                    continue;
                }
            };
            let live = guests
                .list()
                .into_iter()
                .find(|g| g.name == name)
                .map(|g| g.version.sha256);
            let sha = super::registry::version_of(&wasm).sha256;
            if live.as_deref() == Some(sha.as_str()) {
                continue;
            }
            match guests.deploy(&name, wasm, None).await {
                Ok(version) => {
                    tracing::info!(guest = %name, version = %version.id, "deployed from the guests folder")
                }
                Err(e) => {
                    tracing::warn!(guest = %name, error = %e, "guest file refused; the live version keeps serving")
                }
            }
        }
        tokio::time::sleep(SCAN_EVERY).await;
    }
}

/// The `.wasm` files of `dir` with their modification time and size.
fn scan(dir: &Path) -> Vec<(PathBuf, (SystemTime, u64))> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
        .filter(|e| e.path().extension().is_some_and(|x| x == "wasm"))
        .filter_map(|e| {
            let meta = e.metadata().ok()?;
            Some((e.path(), (meta.modified().ok()?, meta.len())))
        })
        .collect()
}
