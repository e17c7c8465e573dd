//! The guest runtime: one wasmtime engine, the handler component compiled once, and a fresh sandboxed
//! instance per request decision.
//!
//! Each decision gets its own `Store`, so a trapping or looping guest fails only its own request; the
//! memory cap and the epoch deadline bound what it can take.

mod bindings;
mod host_tiers;
mod limits;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use wasmtime::component::{Component, HasSelf, Linker, ResourceTable};
use wasmtime::{Config, Engine, Store};
use wasmtime_wasi::{WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};

use crate::tiers::Tiers;
use bindings::{OriginHandler, OriginHandlerPre};
use limits::{EPOCH_TICK, MemoryLimiter};

/// The data types of the guest ABI as the rest of the host uses them.
pub mod abi {
    pub use super::bindings::strata::origin::types::{
        ByteRange, DeletePlan, Limits, Outcome, Request, Response, ServePlan, StorePlan, WaitPlan,
    };
}

/// The default handler, built from `guest/origin` by `build.rs` and embedded so `strata serve` needs no file.
pub const DEFAULT_HANDLER: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/strata_guest_origin.wasm"));

/// Limits applied to every guest instance.
#[derive(Debug, Clone, Copy)]
pub struct GuestLimits {
    /// Linear memory cap per instance, in bytes.
    pub memory_bytes: u64,
    /// CPU deadline per decision.
    pub deadline: std::time::Duration,
    /// Largest object a guest may read whole through `tiers.read`.
    pub max_read_bytes: u64,
}

/// Why a guest could not decide a request.
#[derive(Debug, thiserror::Error)]
pub enum GuestError {
    /// The component is not a valid handler.
    #[error("invalid handler component: {0:#}")]
    Invalid(wasmtime::Error),
    /// The guest trapped or could not be instantiated.
    #[error("guest failed: {0}")]
    Trap(String),
    /// The guest ran past its CPU deadline.
    #[error("guest exceeded its {0} ms deadline")]
    Timeout(u128),
}

/// What a guest instance may reach: its tiers view, WASI with nothing granted, its memory limiter.
pub struct GuestState {
    tiers: Arc<Tiers>,
    max_read_bytes: u64,
    wasi: WasiCtx,
    table: ResourceTable,
    limiter: MemoryLimiter,
}

impl WasiView for GuestState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

/// A compiled handler ready to decide requests.
pub struct Runtime {
    engine: Engine,
    handler: OriginHandlerPre<GuestState>,
    tiers: Arc<Tiers>,
    limits: GuestLimits,
    memory_peak: Arc<AtomicU64>,
}

impl Runtime {
    /// Compiles and links the handler component `wasm`.
    ///
    /// # Errors
    /// `Invalid` if it is not a component implementing the `origin-handler` world.
    pub fn new(wasm: &[u8], tiers: Arc<Tiers>, limits: GuestLimits) -> Result<Self, GuestError> {
        let mut config = Config::new();
        config.wasm_component_model(true);
        config.epoch_interruption(true);
        let engine = Engine::new(&config).map_err(GuestError::Invalid)?;
        limits::start_epoch_ticker(&engine)
            .map_err(|e| GuestError::Invalid(wasmtime::Error::msg(format!("epoch ticker: {e}"))))?;
        let component = Component::new(&engine, wasm).map_err(GuestError::Invalid)?;
        let mut linker = Linker::<GuestState>::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker).map_err(GuestError::Invalid)?;
        OriginHandler::add_to_linker::<_, HasSelf<_>>(&mut linker, |state| state)
            .map_err(GuestError::Invalid)?;
        let pre = linker
            .instantiate_pre(&component)
            .map_err(GuestError::Invalid)?;
        let handler = OriginHandlerPre::new(pre).map_err(GuestError::Invalid)?;
        Ok(Runtime {
            engine,
            handler,
            tiers,
            limits,
            memory_peak: Arc::new(AtomicU64::new(0)),
        })
    }

    /// Runs the handler on `request` in a fresh instance and returns its outcome.
    pub async fn decide(&self, request: &abi::Request) -> Result<abi::Outcome, GuestError> {
        let state = GuestState {
            tiers: Arc::clone(&self.tiers),
            max_read_bytes: self.limits.max_read_bytes,
            wasi: WasiCtxBuilder::new()
                .allow_tcp(false)
                .allow_udp(false)
                .allow_ip_name_lookup(false)
                .build(),
            table: ResourceTable::new(),
            limiter: MemoryLimiter::new(self.limits.memory_bytes, Arc::clone(&self.memory_peak)),
        };
        let mut store = Store::new(&self.engine, state);
        store.limiter(|state| &mut state.limiter);
        let ticks = self.limits.deadline.as_millis() / EPOCH_TICK.as_millis();
        store.set_epoch_deadline(u64::try_from(ticks).unwrap_or(u64::MAX).max(1));
        store.epoch_deadline_trap();

        let outcome = async {
            let instance = self.handler.instantiate_async(&mut store).await?;
            instance
                .strata_origin_handler()
                .call_handle(&mut store, request)
                .await
        }
        .await;
        outcome.map_err(|error| match error.downcast_ref::<wasmtime::Trap>() {
            Some(wasmtime::Trap::Interrupt) => {
                GuestError::Timeout(self.limits.deadline.as_millis())
            }
            _ => GuestError::Trap(format!("{error:#}")),
        })
    }

    /// The largest linear memory any guest instance has reached, in bytes.
    pub fn memory_peak(&self) -> u64 {
        self.memory_peak.load(Ordering::Relaxed)
    }
}
