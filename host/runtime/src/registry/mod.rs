//! The named guests of a running origin and their versions: deploy (validate, compile, canary, activate),
//! rollback, and the lookup each request makes.
//!
//! The live set is an immutable snapshot behind an `ArcSwap`: a request loads it once (no lock) and keeps
//! the `Arc<Deployment>` it picked for all its decisions; a deploy builds a new snapshot and swaps the
//! pointer, so requests in flight finish on the version they started on and nothing needs draining.
//! Every version's `.wasm` and each guest's record live under `<data>/guests/<name>/`, so a restart brings
//! back what was active.

mod canary;
mod error;
mod records;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use arc_swap::ArcSwap;
use serde::Serialize;
use strata_abi::settings::Settings;

use super::settings::settings_for;
use super::{Deployment, FilterLimits, GuestKind, Runtime, VersionInfo};
use error::check_name;
use records::{KEPT_VERSIONS, Record};

pub use error::DeployError;
pub(crate) use records::version_of;

/// The name of the guest that decides every request outside a namespace.
pub const HANDLER: &str = "origin";

/// What the admin API reports about one guest.
#[derive(Debug, Clone, Serialize)]
pub struct GuestSummary {
    /// The guest's name.
    pub name: String,
    /// Its world.
    pub kind: GuestKind,
    /// The `strata:origin` ABI version its active version was built for.
    pub abi: &'static str,
    /// The key prefix it is confined to, if any.
    pub namespace: Option<String>,
    /// The active version.
    pub version: VersionInfo,
    /// Earlier versions kept for rollback, newest first.
    pub previous: Vec<VersionInfo>,
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
    pub settings: Arc<Settings>,
    /// The number of the live set this handler belongs to, unique in the process: every deploy and rollback
    /// makes a new set, so whatever is remembered of a handler's decisions is keyed on it and a swap
    /// retires it.
    pub generation: u64,
}

/// Live sets made since start, in this process (every [`Guests`] of it).
static GENERATIONS: AtomicU64 = AtomicU64::new(0);

/// The live set; never mutated, replaced whole.
struct Snapshot {
    slots: BTreeMap<String, Arc<Slot>>,
    /// Namespaced handlers, longest prefix first.
    namespaced: Vec<Handler>,
    /// `origin`, if deployed.
    origin: Option<Handler>,
}

impl Snapshot {
    fn new(slots: BTreeMap<String, Arc<Slot>>, settings: &Settings) -> Self {
        let generation = GENERATIONS.fetch_add(1, Ordering::Relaxed);
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
            settings: Arc::new(settings_for(
                settings,
                deployment.namespace.as_deref(),
                &namespaces,
            )),
            generation,
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
    settings: Settings,
    swaps: AtomicU64,
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
        settings: Settings,
    ) -> Result<Self, DeployError> {
        let mut slots = BTreeMap::new();
        for recorded in records::read_all(dir)? {
            let current = recorded.record.current.clone();
            let live = build(
                &runtime,
                &recorded.name,
                &recorded.wasm,
                current,
                &recorded.record,
            )?;
            slots.insert(
                recorded.name,
                Arc::new(Slot {
                    record: recorded.record,
                    live: Arc::new(live),
                }),
            );
        }
        if !slots.contains_key(HANDLER) {
            let version = records::version_of(initial_handler);
            records::keep_version(&dir.join(HANDLER), &version, initial_handler)?;
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
            swaps: AtomicU64::new(0),
        })
    }

    /// The handler that decides a request for the decoded `key`: the namespaced guest with the longest
    /// matching prefix, else `origin`.
    pub fn handler_for(&self, key: &str) -> Option<Handler> {
        self.with_handler_for(key, Handler::clone)
    }

    /// `use_it` applied to the handler that decides a request for `key` (as [`Guests::handler_for`]),
    /// borrowed: a read answered from a remembered decision needs its generation and deployment only for
    /// the moment, and cloning them moves counts every connection thread shares.
    pub fn with_handler_for<R>(&self, key: &str, use_it: impl FnOnce(&Handler) -> R) -> Option<R> {
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
            .map(use_it)
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

    /// Guest versions activated since start (deploys, rollbacks, watched-folder deploys).
    pub fn swaps(&self) -> u64 {
        self.swaps.load(Ordering::Relaxed)
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
                abi: slot.live.linked.abi(),
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
        let version = records::version_of(&wasm);
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

        records::keep_version(&self.dir.join(name), &version, &wasm)?;
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
        version.activated_at = records::now();
        let folder = self.dir.join(name);
        let record = Record {
            current: version.clone(),
            previous,
            ..slot.record.clone()
        };
        let runtime = Arc::clone(&self.runtime);
        let (name_owned, record_owned) = (name.to_owned(), record.clone());
        let candidate = tokio::task::spawn_blocking(move || {
            let wasm = records::read_version(&folder, &record_owned.current)?;
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

    /// Records `record` on disk, then swaps `live` in; files of versions no longer kept are removed.
    fn activate(&self, name: &str, record: Record, live: Deployment) -> Result<(), DeployError> {
        records::write(&self.dir.join(name), &record)?;
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
        self.swaps.fetch_add(1, Ordering::Relaxed);
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
