//! The guests' files under `<data>/guests/<name>/`: each kept version's `.wasm` (named by its id) and a
//! record of which is live, its kind, namespace and the earlier versions kept for rollback. Written
//! atomically (`strata_tiers::files`), so a crash leaves the previous record or the new one, and a restart
//! brings back what was active.

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use strata_tiers::files::write_atomically;

use super::DeployError;
use crate::{GuestKind, VersionInfo};

/// Earlier versions kept per guest for rollback.
pub const KEPT_VERSIONS: usize = 5;
/// Name of each guest's record file.
const RECORD: &str = "state.json";

/// One guest's record on disk.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Record {
    /// Its world.
    pub kind: GuestKind,
    /// The key prefix it is confined to, if any.
    pub namespace: Option<String>,
    /// The live version.
    pub current: VersionInfo,
    /// Earlier versions kept, newest first.
    pub previous: Vec<VersionInfo>,
}

/// A recorded guest as read back: its name, record and the live version's component.
pub struct Recorded {
    /// The guest's name (its folder's).
    pub name: String,
    /// Its record.
    pub record: Record,
    /// The live version's `.wasm`.
    pub wasm: Vec<u8>,
}

/// Every guest recorded under `dir` (created if missing); folders without a record are skipped.
///
/// # Errors
/// When the folder cannot be read, or a record or its live version cannot.
pub fn read_all(dir: &Path) -> Result<Vec<Recorded>, DeployError> {
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let mut recorded = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io(dir))? {
        let entry = entry.map_err(io(dir))?;
        let record_path = entry.path().join(RECORD);
        let Ok(text) = std::fs::read(&record_path) else {
            continue;
        };
        let record: Record = serde_json::from_slice(&text).map_err(|e| DeployError::Io {
            path: record_path.clone(),
            source: std::io::Error::other(e),
        })?;
        let wasm = read_version(&entry.path(), &record.current)?;
        recorded.push(Recorded {
            name: entry.file_name().to_string_lossy().into_owned(),
            record,
            wasm,
        });
    }
    Ok(recorded)
}

/// The `.wasm` of `version` in guest folder `folder`.
///
/// # Errors
/// When it cannot be read.
pub fn read_version(folder: &Path, version: &VersionInfo) -> Result<Vec<u8>, DeployError> {
    let path = wasm_path(folder, version);
    std::fs::read(&path).map_err(io(&path))
}

/// Keeps `wasm` as `version` in guest folder `folder` (once: a version's file never changes).
///
/// # Errors
/// When it cannot be written.
pub fn keep_version(folder: &Path, version: &VersionInfo, wasm: &[u8]) -> Result<(), DeployError> {
    let path = wasm_path(folder, version);
    if path.exists() {
        return Ok(());
    }
    write_atomically(&path, wasm).map_err(io(&path))
}

/// Records `record` in guest folder `folder`, then removes the `.wasm` files it no longer refers to (a
/// failed removal only leaves a stale file).
///
/// # Errors
/// When the record cannot be written; the previous one then stays.
pub fn write(folder: &Path, record: &Record) -> Result<(), DeployError> {
    let record_path = folder.join(RECORD);
    let text = serde_json::to_vec_pretty(record).map_err(|e| DeployError::Io {
        path: record_path.clone(),
        source: std::io::Error::other(e),
    })?;
    write_atomically(&record_path, &text).map_err(io(&record_path))?;
    let Ok(entries) = std::fs::read_dir(folder) else {
        return Ok(());
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let Some(stem) = path.file_stem().and_then(|s| s.to_str()) else {
            continue;
        };
        let kept = stem == record.current.id || record.previous.iter().any(|v| v.id == stem);
        if path.extension().is_some_and(|e| e == "wasm") && !kept {
            let _ = std::fs::remove_file(&path);
        }
    }
    Ok(())
}

/// The identity of `wasm`, activated now.
pub fn version_of(wasm: &[u8]) -> VersionInfo {
    let sha256 = hex::encode(Sha256::digest(wasm));
    VersionInfo {
        id: sha256[..16].to_owned(),
        sha256,
        activated_at: now(),
    }
}

/// Seconds since the Unix epoch.
pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn wasm_path(folder: &Path, version: &VersionInfo) -> PathBuf {
    folder.join(format!("{}.wasm", version.id))
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> DeployError + use<> {
    let path = path.to_owned();
    move |source| DeployError::Io { path, source }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_version_id_is_its_hash_prefix() {
        let v = version_of(b"abc");
        assert_eq!(
            v.sha256,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(v.id, "ba7816bf8f01cfea");
    }

    #[test]
    fn records_survive_and_unkept_versions_are_removed() {
        let dir = tempfile::tempdir().unwrap();
        let folder = dir.path().join("origin");
        let (one, two) = (version_of(b"one"), version_of(b"two"));
        keep_version(&folder, &one, b"one").unwrap();
        keep_version(&folder, &two, b"two").unwrap();
        let record = Record {
            kind: GuestKind::Handler,
            namespace: None,
            current: two.clone(),
            previous: Vec::new(),
        };
        write(&folder, &record).unwrap();
        let read = read_all(dir.path()).unwrap();
        assert_eq!(read.len(), 1);
        assert_eq!(
            (read[0].name.as_str(), read[0].wasm.as_slice()),
            ("origin", &b"two"[..])
        );
        assert!(
            read_version(&folder, &one).is_err(),
            "the unkept version was pruned"
        );
    }
}
