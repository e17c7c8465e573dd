//! The guest runtime: one wasmtime engine (pooling allocator, epoch interruption) for the process's whole
//! life, guests compiled into deployments, and a fresh sandboxed instance per request decision.
//!
//! Each decision gets its own `Store`, so a trapping or looping guest fails only its own request; the
//! memory cap, the epoch deadline and the instance cap bound what it can take. Deployments are swapped
//! by [`Guests`]; the engine never is.

mod artifact_cache;
mod bindings;
pub mod config;
mod convert;
mod deployment;
mod filter;
mod imports;
mod inspect;
mod limits;
mod registry;
mod settings;
mod state;
mod watch;

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use strata_abi::types as abi;
use strata_tiers::StorageRead;
use strata_tiers::stamps::ReadSet;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use wasmtime::component::{HasSelf, Linker, ResourceTable};
use wasmtime::{Config, Engine, Store};
use wasmtime_wasi::{WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};

use artifact_cache::ArtifactCache;
use deployment::Linkers;
use limits::MemoryLimiter;

pub use config::{GuestConfig, LiveConfig, PluginConfig};
pub use deployment::{ABI_VERSIONS, Deployment, GuestKind, Linked, VersionInfo, WIT_PACKAGE};
pub use filter::{FilterContext, FilterLimits};
pub use imports::within;
pub use inspect::{Claimed, inspect};
pub use registry::{DeployError, GuestSummary, Guests, HANDLER, Handler};
pub use state::{MAX_STATE_BYTES, StateWrites};
pub use watch::watch;

/// Limits applied to every handler instance, and the pool they share.
#[derive(Debug, Clone, Copy)]
pub struct GuestLimits {
    /// Linear memory cap per instance, in bytes.
    pub memory_bytes: u64,
    /// CPU deadline per decision.
    pub deadline: Duration,
    /// Wall-clock deadline per decision: CPU, host calls and any sleep through WASI clocks.
    pub wall_deadline: Duration,
    /// Largest object a guest may read whole through `tiers.read`.
    pub max_read_bytes: u64,
    /// Most guest instances (handlers and filters) alive at once; more requests wait for a slot.
    pub max_instances: u32,
}

/// Why a guest could not decide a request.
#[derive(Debug, thiserror::Error)]
pub enum GuestError {
    /// The component is not a valid guest of the expected world.
    #[error("invalid guest component: {0:#}")]
    Invalid(wasmtime::Error),
    /// The guest trapped or could not be instantiated.
    #[error("guest failed: {0}")]
    Trap(String),
    /// The guest ran past its CPU deadline.
    #[error("guest exceeded its {0} ms deadline")]
    Timeout(u128),
    /// The decision took longer than its wall-clock deadline (sleeping, or waiting on host calls).
    #[error("guest exceeded its {0} ms wall-clock deadline")]
    WallClock(u128),
    /// The guest asked for more linear memory than its cap.
    #[error("guest exceeded its memory cap of {0} bytes")]
    OutOfMemory(u64),
    /// Every instance slot stayed busy for a whole deadline.
    #[error("all {0} guest instance slots are busy")]
    Busy(u32),
}

/// What a guest instance may reach: its tiers view (bounded to its namespace), WASI with nothing granted,
/// its memory limiter, and its instance slot.
pub struct GuestState {
    storage: Arc<dyn StorageRead>,
    namespace: Option<Arc<str>>,
    max_read_bytes: u64,
    wasi: WasiCtx,
    table: ResourceTable,
    limiter: MemoryLimiter,
    /// What the decision read through `tiers`, as change stamps (`imports.rs`).
    reads: ReadSet,
    /// Where `tiers.write-state` writes; `None` on a runtime without state writes.
    state: Option<Arc<StateWrites>>,
    /// The state folders this decision may read and write: those of the redundant routes in its settings.
    state_prefixes: Vec<String>,
    _slot: OwnedSemaphorePermit,
}

/// A handler's decision and what it read to make it: the host may replay the decision while none of that
/// changed, if the guest's hint allows (`docs/decisions/0051`).
#[derive(Debug)]
pub struct Decided {
    /// The guest's outcome and reuse hint (none from guests of the 0.1.0 ABI).
    pub decision: abi::Decision,
    /// The keys looked up or read and the prefixes listed, with the stamps seen before each.
    pub reads: ReadSet,
}

impl WasiView for GuestState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

/// The engine, the linkers of both guest worlds, the compiled-artifact cache and the instance cap.
pub struct Runtime {
    engine: Engine,
    linkers: Linkers,
    cache: ArtifactCache,
    storage: Arc<dyn StorageRead>,
    state: Option<Arc<StateWrites>>,
    limits: GuestLimits,
    slots: Arc<Semaphore>,
    memory_peak: Arc<AtomicU64>,
}

impl Runtime {
    /// Builds the engine and the linkers of every world and ABI version; guests read through `storage`,
    /// and compiled artifacts are cached under `cache_dir`.
    ///
    /// `max_memory_bytes` is the largest cap of any guest (handler or filter): the pool's slots are that big.
    ///
    /// # Errors
    /// `Invalid` if wasmtime cannot be set up with these limits.
    pub fn new(
        storage: Arc<dyn StorageRead>,
        limits: GuestLimits,
        max_memory_bytes: u64,
        cache_dir: &Path,
    ) -> Result<Self, GuestError> {
        let mut config = Config::new();
        config.wasm_component_model(true);
        config.epoch_interruption(true);
        // The slot permit lives in the store's data, which wasmtime drops before it hands the instance back
        // to the pool: a request let in by a freed permit can find the pool still full. Twice the slots
        // cover stores being torn down; the permits alone bound how many decisions run at once.
        config.allocation_strategy(limits::pooling_strategy(
            limits.max_instances.saturating_mul(2),
            max_memory_bytes.max(limits.memory_bytes),
        ));
        let engine = Engine::new(&config).map_err(GuestError::Invalid)?;
        limits::start_epoch_ticker(&engine)
            .map_err(|e| GuestError::Invalid(wasmtime::Error::msg(format!("epoch ticker: {e}"))))?;
        let mut handler = Linker::<GuestState>::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut handler).map_err(GuestError::Invalid)?;
        bindings::v0_2::OriginHandler::add_to_linker::<_, HasSelf<_>>(&mut handler, |state| state)
            .map_err(GuestError::Invalid)?;
        bindings::v0_1::OriginHandler::add_to_linker::<_, HasSelf<_>>(&mut handler, |state| state)
            .map_err(GuestError::Invalid)?;
        let mut filter = Linker::<GuestState>::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut filter).map_err(GuestError::Invalid)?;
        Ok(Runtime {
            cache: ArtifactCache::new(cache_dir, &engine),
            engine,
            linkers: Linkers { handler, filter },
            storage,
            state: None,
            slots: Arc::new(Semaphore::new(limits.max_instances as usize)),
            limits,
            memory_peak: Arc::new(AtomicU64::new(0)),
        })
    }

    /// Lets handlers keep the state of their redundant routes through `writes` (`tiers.write-state`);
    /// without it that import answers an I/O error.
    #[must_use]
    pub fn with_state_writes(mut self, writes: StateWrites) -> Self {
        self.state = Some(Arc::new(writes));
        self
    }

    /// Compiles (or loads from the cache) and links `wasm`, checking it implements `expected` (or either
    /// world when `None`).
    ///
    /// # Errors
    /// `Invalid` naming what is wrong: not a component, or not the expected world.
    pub fn link(
        &self,
        wasm: &[u8],
        sha256: &str,
        expected: Option<GuestKind>,
    ) -> Result<Linked, GuestError> {
        let component = self
            .cache
            .component(&self.engine, wasm, sha256)
            .map_err(GuestError::Invalid)?;
        deployment::link(&self.engine, &self.linkers, &component, expected)
    }

    /// Runs the handler of `deployment` on `request` in a fresh instance and returns its decision, converted
    /// from and to the ABI version the handler was built for, with what it read.
    ///
    /// # Errors
    /// When the guest traps, runs past a deadline or its memory cap, no slot frees in time, or it is not a
    /// handler.
    pub async fn decide(
        &self,
        deployment: &Deployment,
        request: &abi::Request,
    ) -> Result<Decided, GuestError> {
        let mut store = self
            .store(
                deployment.namespace.clone(),
                self.limits.memory_bytes,
                self.limits.deadline,
            )
            .await?;
        store.data_mut().state_prefixes = request
            .settings
            .redundant
            .iter()
            .map(strata_abi::settings::RedundantRoute::state_prefix)
            .collect();
        let call = async {
            match &deployment.linked {
                Linked::HandlerV0_2(handler) => {
                    let request = convert::request_v0_2(request);
                    let instance = handler.instantiate_async(&mut store).await?;
                    let outcome = instance
                        .strata_origin_handler()
                        .call_handle(&mut store, &request)
                        .await?;
                    Ok(convert::decision_v0_2(outcome))
                }
                Linked::HandlerV0_1(handler) => {
                    let request = convert::request_v0_1(request);
                    let instance = handler.instantiate_async(&mut store).await?;
                    let outcome = instance
                        .strata_origin_handler()
                        .call_handle(&mut store, &request)
                        .await?;
                    Ok(abi::Decision::from(convert::v0_1::outcome(outcome)))
                }
                Linked::FilterV0_1(_) | Linked::FilterV0_2(_) => Err(wasmtime::Error::msg(
                    format!("{} is a manifest filter, not a handler", deployment.name),
                )),
            }
        };
        let wall = self.limits.wall_deadline;
        // Past the wall deadline the call's future is dropped, which cancels the guest; dropping the store
        // then frees its instance slot.
        match tokio::time::timeout(wall, call).await {
            Ok(Ok(decision)) => Ok(Decided {
                decision,
                reads: std::mem::take(&mut store.data_mut().reads),
            }),
            Ok(Err(error)) => Err(failure(&store, error, self.limits.deadline)),
            Err(_) => Err(GuestError::WallClock(wall.as_millis())),
        }
    }

    /// A fresh store in its own instance slot, with WASI granting nothing, `memory_bytes` of memory and a
    /// `deadline` of CPU.
    async fn store(
        &self,
        namespace: Option<Arc<str>>,
        memory_bytes: u64,
        deadline: Duration,
    ) -> Result<Store<GuestState>, GuestError> {
        let slot = tokio::time::timeout(deadline, Arc::clone(&self.slots).acquire_owned())
            .await
            .map_err(|_| GuestError::Busy(self.limits.max_instances))?
            .map_err(|_| GuestError::Busy(self.limits.max_instances))?;
        let state = GuestState {
            storage: Arc::clone(&self.storage),
            namespace,
            max_read_bytes: self.limits.max_read_bytes,
            wasi: WasiCtxBuilder::new()
                .allow_tcp(false)
                .allow_udp(false)
                .allow_ip_name_lookup(false)
                .build(),
            table: ResourceTable::new(),
            limiter: MemoryLimiter::new(memory_bytes, Arc::clone(&self.memory_peak)),
            reads: ReadSet::default(),
            state: self.state.clone(),
            state_prefixes: Vec::new(),
            _slot: slot,
        };
        let mut store = Store::new(&self.engine, state);
        store.limiter(|state| &mut state.limiter);
        limits::yield_each_tick_until(&mut store, deadline);
        Ok(store)
    }

    /// The largest linear memory any guest instance has reached, in bytes.
    pub fn memory_peak(&self) -> u64 {
        self.memory_peak.load(Ordering::Relaxed)
    }

    /// Components compiled since start (artifact cache misses).
    pub fn compiles(&self) -> u64 {
        self.cache.compiles()
    }

    /// Components loaded from the artifact cache since start.
    pub fn cache_hits(&self) -> u64 {
        self.cache.hits()
    }
}

/// Names why a guest call failed: its deadline, its memory cap, or a plain trap.
fn failure(store: &Store<GuestState>, error: wasmtime::Error, deadline: Duration) -> GuestError {
    if let Some(wasmtime::Trap::Interrupt) = error.downcast_ref::<wasmtime::Trap>() {
        return GuestError::Timeout(deadline.as_millis());
    }
    let limiter = &store.data().limiter;
    if limiter.refused() {
        return GuestError::OutOfMemory(limiter.cap());
    }
    GuestError::Trap(format!("{error:#}"))
}
