//! The named guests of a running origin and their versions: deploy (validate, compile, canary, activate),
//! rollback, and the lookup each request makes.
//!
//! The live set is an immutable snapshot behind an `ArcSwap`: a request loads it once (no lock) and keeps
//! the `Arc<Deployment>` it picked for all its decisions; a deploy builds a new snapshot and swaps the
//! pointer, so requests in flight finish on the version they started on and nothing needs draining.
//! Every version's `.wasm` and each guest's record live under `<data>/guests/<name>/`, so a restart brings
//! back what was active.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use arc_swap::ArcSwap;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{
    Deployment, FilterContext, FilterLimits, GuestError, GuestKind, Runtime, VersionInfo, abi,
    settings_for, write_atomically,
};

/// The name of the guest that decides every request outside a namespace.
pub const HANDLER: &str = "origin";
/// Earlier versions kept per guest for rollback.
const KEPT_VERSIONS: usize = 5;
/// Name of each guest's record file.
const RECORD: &str = "state.json";

/// Why a deploy or rollback was refused; the live version keeps serving in every case.
#[derive(Debug, thiserror::Error)]
pub enum DeployError {
    /// The name cannot be a guest's name.
    #[error("invalid guest name {0:?}: use 1-64 characters of a-z, 0-9, '-' and '_'")]
    BadName(String),
    /// The component failed validation, compilation or linking.
    #[error("{0}")]
    Invalid(GuestError),
    /// The component is fine but does not fit where it is deployed.
    #[error("{0}")]
    Misplaced(String),
    /// The canary request failed.
    #[error("canary request failed: {0}")]
    Canary(String),
    /// No guest has that name.
    #[error("no guest named {0:?}")]
    NotFound(String),
    /// Rollback with no earlier version kept.
    #[error("guest {0:?} has no earlier version to roll back to")]
    NoPrevious(String),
    /// The data folder could not be read or written.
    #[error("guest store {path}: {source}")]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

impl DeployError {
    /// The reason an admin client reads: the `Display` without the data folder's paths (logged instead).
    pub fn client_reason(&self) -> String {
        match self {
            DeployError::Io { source, .. } => format!("cannot store the guest version: {source}"),
            other => other.to_string(),
        }
    }
}

/// What the admin API reports about one guest.
#[derive(Debug, Clone, Serialize)]
pub struct GuestSummary {
    /// The guest's name.
    pub name: String,
    /// Its world.
    pub kind: GuestKind,
    /// The key prefix it is confined to, if any.
    pub namespace: Option<String>,
    /// The active version.
    pub version: VersionInfo,
    /// Earlier versions kept for rollback, newest first.
    pub previous: Vec<VersionInfo>,
}

/// One guest's record on disk.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Record {
    kind: GuestKind,
    namespace: Option<String>,
    current: VersionInfo,
    previous: Vec<VersionInfo>,
}

/// One guest as the live snapshot holds it.
struct Slot {
    record: Record,
    live: Arc<Deployment>,
}

/// A handler ready to decide a request: its deployment and the settings it owns (`settings.rs`).
#[derive(Clone)]
pub struct Handler {
    /// The live version.
    pub deployment: Arc<Deployment>,
    /// The operator's settings this guest owns.
    pub settings: Arc<[(String, String)]>,
}

/// The live set; never mutated, replaced whole.
struct Snapshot {
    slots: BTreeMap<String, Arc<Slot>>,
    /// Namespaced handlers, longest prefix first.
    namespaced: Vec<Handler>,
    /// `origin`, if deployed.
    origin: Option<Handler>,
}

impl Snapshot {
    fn new(slots: BTreeMap<String, Arc<Slot>>, settings: &BTreeMap<String, String>) -> Self {
        let handlers: Vec<&Arc<Deployment>> = slots
            .values()
            .filter(|slot| slot.record.kind == GuestKind::Handler)
            .map(|slot| &slot.live)
            .collect();
        let namespaces: Vec<&str> = handlers
            .iter()
            .filter_map(|d| d.namespace.as_deref())
            .collect();
        let handler = |deployment: &Arc<Deployment>| Handler {
            deployment: Arc::clone(deployment),
            settings: settings_for(settings, deployment.namespace.as_deref(), &namespaces).into(),
        };
        let mut namespaced: Vec<Handler> = handlers
            .iter()
            .filter(|d| d.namespace.is_some())
            .map(|d| handler(d))
            .collect();
        namespaced.sort_by_key(|h| {
            std::cmp::Reverse(h.deployment.namespace.as_deref().map_or(0, str::len))
        });
        let origin = slots.get(HANDLER).map(|slot| handler(&slot.live));
        Snapshot {
            slots,
            namespaced,
            origin,
        }
    }
}

/// The named guests, their versions on disk and the live snapshot.
pub struct Guests {
    runtime: Arc<Runtime>,
    dir: PathBuf,
    live: ArcSwap<Snapshot>,
    writer: tokio::sync::Mutex<()>,
    canary_filter_limits: FilterLimits,
    settings: BTreeMap<String, String>,
}

impl Guests {
    /// Loads every guest recorded under `dir`; `origin` falls back to `initial_handler` when none was pushed.
    /// `settings` are the operator's, handed to each handler as far as it owns them.
    ///
    /// # Errors
    /// When the folder cannot be read or a recorded version no longer links.
    pub fn open(
        runtime: Arc<Runtime>,
        dir: &Path,
        initial_handler: &[u8],
        canary_filter_limits: FilterLimits,
        settings: BTreeMap<String, String>,
    ) -> Result<Self, DeployError> {
        let io = |path: &Path| {
            let path = path.to_owned();
            move |source| DeployError::Io { path, source }
        };
        std::fs::create_dir_all(dir).map_err(io(dir))?;
        let mut slots = BTreeMap::new();
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
            let name = entry.file_name().to_string_lossy().into_owned();
            let wasm_path = entry.path().join(format!("{}.wasm", record.current.id));
            let wasm = std::fs::read(&wasm_path).map_err(io(&wasm_path))?;
            let live = build(&runtime, &name, &wasm, record.current.clone(), &record)?;
            slots.insert(
                name,
                Arc::new(Slot {
                    record,
                    live: Arc::new(live),
                }),
            );
        }
        if !slots.contains_key(HANDLER) {
            let version = version_of(initial_handler);
            let wasm_path = dir.join(HANDLER).join(format!("{}.wasm", version.id));
            if !wasm_path.exists() {
                write_atomically(&wasm_path, initial_handler).map_err(io(&wasm_path))?;
            }
            let record = Record {
                kind: GuestKind::Handler,
                namespace: None,
                current: version.clone(),
                previous: Vec::new(),
            };
            let live = build(&runtime, HANDLER, initial_handler, version, &record)?;
            slots.insert(
                HANDLER.to_owned(),
                Arc::new(Slot {
                    record,
                    live: Arc::new(live),
                }),
            );
        } else {
            tracing::info!(
                "serving the handler last pushed through the admin API, not the configured one"
            );
        }
        Ok(Guests {
            runtime,
            dir: dir.to_owned(),
            live: ArcSwap::from_pointee(Snapshot::new(slots, &settings)),
            writer: tokio::sync::Mutex::new(()),
            canary_filter_limits,
            settings,
        })
    }

    /// The handler that decides a request for the decoded `key`: the namespaced guest with the longest
    /// matching prefix, else `origin`.
    pub fn handler_for(&self, key: &str) -> Option<Handler> {
        let live = self.live.load();
        live.namespaced
            .iter()
            .find(|h| {
                h.deployment
                    .namespace
                    .as_deref()
                    .is_some_and(|ns| key.starts_with(ns))
            })
            .or(live.origin.as_ref())
            .cloned()
    }

    /// The live version of the filter plugin `name`, if deployed.
    pub fn filter(&self, name: &str) -> Option<Arc<Deployment>> {
        self.live
            .load()
            .slots
            .get(name)
            .filter(|slot| slot.record.kind == GuestKind::Filter)
            .map(|slot| Arc::clone(&slot.live))
    }

    /// Every guest, by name.
    pub fn list(&self) -> Vec<GuestSummary> {
        self.live
            .load()
            .slots
            .iter()
            .map(|(name, slot)| GuestSummary {
                name: name.clone(),
                kind: slot.record.kind,
                namespace: slot.record.namespace.clone(),
                version: slot.record.current.clone(),
                previous: slot.record.previous.clone(),
            })
            .collect()
    }

    /// Validates, compiles and canaries `wasm` as the next version of `name`, then activates it.
    /// `namespace` confines a new handler to a key prefix (kept from the previous version when `None`).
    ///
    /// # Errors
    /// Any refusal leaves the live version serving; see [`DeployError`].
    pub async fn deploy(
        &self,
        name: &str,
        wasm: Vec<u8>,
        namespace: Option<String>,
    ) -> Result<VersionInfo, DeployError> {
        check_name(name)?;
        let _writer = self.writer.lock().await;
        let existing = self
            .live
            .load()
            .slots
            .get(name)
            .map(|slot| slot.record.clone());
        let namespace = namespace.or_else(|| existing.as_ref().and_then(|r| r.namespace.clone()));
        if name == HANDLER && namespace.is_some() {
            return Err(DeployError::Misplaced(format!(
                "{HANDLER:?} serves every path outside namespaces; it cannot have a namespace"
            )));
        }
        let expected = existing
            .as_ref()
            .map(|r| r.kind)
            .or((name == HANDLER).then_some(GuestKind::Handler));
        let version = version_of(&wasm);
        let runtime = Arc::clone(&self.runtime);
        let sha = version.sha256.clone();
        let (wasm, linked) = tokio::task::spawn_blocking(move || {
            let linked = runtime.link(&wasm, &sha, expected);
            (wasm, linked)
        })
        .await
        .map_err(|e| DeployError::Canary(format!("compile task failed: {e}")))?;
        let linked = linked.map_err(DeployError::Invalid)?;
        let kind = linked.kind();
        if kind == GuestKind::Handler && name != HANDLER && namespace.is_none() {
            return Err(DeployError::Misplaced(format!(
                "handler {name:?} has no namespace, so no request would ever reach it: deploy it as \
                 {HANDLER:?}, or give it a key prefix with ?namespace=<prefix>/"
            )));
        }
        if kind == GuestKind::Filter && namespace.is_some() {
            return Err(DeployError::Misplaced(
                "a manifest filter sees only the playlist it is given; it cannot have a namespace"
                    .into(),
            ));
        }
        let candidate = Deployment {
            name: name.to_owned(),
            version: version.clone(),
            namespace: namespace.as_deref().map(Arc::from),
            linked,
        };
        self.canary(&candidate).await?;

        let wasm_path = self.dir.join(name).join(format!("{}.wasm", version.id));
        write_atomically(&wasm_path, &wasm).map_err(|source| DeployError::Io {
            path: wasm_path,
            source,
        })?;
        let mut previous = Vec::new();
        if let Some(old) = existing {
            previous.push(old.current);
            previous.extend(old.previous);
        }
        previous.retain(|v| v.id != version.id);
        previous.truncate(KEPT_VERSIONS);
        let record = Record {
            kind,
            namespace,
            current: version.clone(),
            previous,
        };
        self.activate(name, record, candidate)?;
        Ok(version)
    }

    /// Makes the newest kept earlier version of `name` live again.
    ///
    /// # Errors
    /// `NotFound`, `NoPrevious`, or a version that no longer loads (the live one keeps serving).
    pub async fn rollback(&self, name: &str) -> Result<VersionInfo, DeployError> {
        let _writer = self.writer.lock().await;
        let Some(slot) = self.live.load().slots.get(name).cloned() else {
            return Err(DeployError::NotFound(name.to_owned()));
        };
        let mut previous = slot.record.previous.clone();
        if previous.is_empty() {
            return Err(DeployError::NoPrevious(name.to_owned()));
        }
        let mut version = previous.remove(0);
        version.activated_at = now();
        let wasm_path = self.dir.join(name).join(format!("{}.wasm", version.id));
        let wasm = tokio::fs::read(&wasm_path)
            .await
            .map_err(|source| DeployError::Io {
                path: wasm_path,
                source,
            })?;
        let record = Record {
            current: version.clone(),
            previous,
            ..slot.record.clone()
        };
        let runtime = Arc::clone(&self.runtime);
        let (name_owned, record_owned) = (name.to_owned(), record.clone());
        let candidate = tokio::task::spawn_blocking(move || {
            build(
                &runtime,
                &name_owned,
                &wasm,
                record_owned.current.clone(),
                &record_owned,
            )
        })
        .await
        .map_err(|e| DeployError::Canary(format!("compile task failed: {e}")))??;
        self.canary(&candidate).await?;
        self.activate(name, record, candidate)?;
        Ok(version)
    }

    /// Runs one synthetic request through `candidate`; it must answer without trapping.
    async fn canary(&self, candidate: &Deployment) -> Result<(), DeployError> {
        let path = format!("/{}", candidate.namespace.as_deref().unwrap_or_default());
        let result = match candidate.linked.kind() {
            GuestKind::Handler => {
                let request = abi::Request {
                    method: "GET".into(),
                    path,
                    query: String::new(),
                    headers: vec![("x-strata-canary".into(), "1".into())],
                    waited_ms: 0,
                    limits: abi::Limits {
                        max_object_bytes: 0,
                    },
                    settings: Vec::new(),
                    now_ms: 0,
                    load_permille: 0,
                };
                self.runtime.decide(candidate, &request).await.map(drop)
            }
            GuestKind::Filter => {
                let context = FilterContext {
                    path: "/canary.m3u8".into(),
                    query: String::new(),
                    content_type: "application/vnd.apple.mpegurl".into(),
                    headers: vec![("x-strata-canary".into(), "1".into())],
                };
                self.runtime
                    .rewrite(candidate, self.canary_filter_limits, &context, "#EXTM3U\n")
                    .await
                    .map(drop)
            }
        };
        result.map_err(|e| DeployError::Canary(e.to_string()))
    }

    /// Records `record` on disk, then swaps `live` in; files of versions no longer kept are removed.
    fn activate(&self, name: &str, record: Record, live: Deployment) -> Result<(), DeployError> {
        let folder = self.dir.join(name);
        let record_path = folder.join(RECORD);
        let text = serde_json::to_vec_pretty(&record).map_err(|e| DeployError::Io {
            path: record_path.clone(),
            source: std::io::Error::other(e),
        })?;
        write_atomically(&record_path, &text).map_err(|source| DeployError::Io {
            path: record_path,
            source,
        })?;
        prune(&folder, &record);
        let mut slots = self.live.load().slots.clone();
        let version = record.current.id.clone();
        slots.insert(
            name.to_owned(),
            Arc::new(Slot {
                record,
                live: Arc::new(live),
            }),
        );
        self.live
            .store(Arc::new(Snapshot::new(slots, &self.settings)));
        metrics::counter!("strata_guest_swaps_total").increment(1);
        tracing::info!(guest = name, %version, "guest version activated");
        Ok(())
    }
}

/// Compiles (or loads) and links one recorded version.
fn build(
    runtime: &Runtime,
    name: &str,
    wasm: &[u8],
    version: VersionInfo,
    record: &Record,
) -> Result<Deployment, DeployError> {
    let linked = runtime
        .link(wasm, &version.sha256, Some(record.kind))
        .map_err(DeployError::Invalid)?;
    Ok(Deployment {
        name: name.to_owned(),
        version,
        namespace: record.namespace.as_deref().map(Arc::from),
        linked,
    })
}

/// Removes the `.wasm` files `record` no longer refers to; a failure only leaves a stale file.
fn prune(folder: &Path, record: &Record) {
    let Ok(entries) = std::fs::read_dir(folder) else {
        return;
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
}

fn check_name(name: &str) -> Result<(), DeployError> {
    let valid = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
    if valid {
        Ok(())
    } else {
        Err(DeployError::BadName(name.to_owned()))
    }
}

/// The identity of `wasm`, activated now.
fn version_of(wasm: &[u8]) -> VersionInfo {
    let sha256 = sha256_hex(wasm);
    VersionInfo {
        id: sha256[..16].to_owned(),
        sha256,
        activated_at: now(),
    }
}

/// SHA-256 of `bytes` in lower-case hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guest_names_are_plain() {
        assert!(check_name("origin").is_ok());
        assert!(check_name("tenant-a_2").is_ok());
        for bad in ["", "../x", "A", "a/b", &"x".repeat(65)] {
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_version_id_is_its_hash_prefix() {
        let v = version_of(b"abc");
        assert_eq!(
            v.sha256,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(v.id, "ba7816bf8f01cfea");
    }
}
