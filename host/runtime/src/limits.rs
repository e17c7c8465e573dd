//! Bounds on what guest instances may use: the instance pool, linear memory (with the peak recorded) and
//! CPU time.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use wasmtime::{
    Engine, InstanceAllocationStrategy, PoolingAllocationConfig, ResourceLimiter, Store,
    UpdateDeadline,
};

/// How often the engine's epoch advances; a guest's CPU deadline is counted in these ticks.
pub const EPOCH_TICK: Duration = Duration::from_millis(10);

/// Holds `store`'s guest to `deadline` of running time, counted in epoch ticks that pass while it runs,
/// and makes it yield to the async runtime at every tick: a guest that computes for long shares its
/// thread, so the other requests of that thread (`strata_server`'s connection threads) are served in
/// between instead of waiting for its deadline. At the deadline the guest traps with
/// [`wasmtime::Trap::Interrupt`].
pub fn yield_each_tick_until<T>(store: &mut Store<T>, deadline: Duration) {
    let budget = (deadline.as_millis() / EPOCH_TICK.as_millis()).max(1);
    let mut ticks = 0u128;
    store.set_epoch_deadline(1);
    store.epoch_deadline_callback(move |_| {
        ticks += 1;
        if ticks >= budget {
            return Ok(UpdateDeadline::Interrupt);
        }
        // tokio's own yield, not wasmtime's plain re-wake: it lets the runtime poll its I/O and timers
        // before the guest resumes, so the thread's other connections are served at every tick.
        Ok(UpdateDeadline::YieldCustom(
            1,
            Box::pin(tokio::task::yield_now()),
        ))
    });
}

/// Core instances, memories and tables one component may need: a `wasm32-wasip2` Rust component holds its
/// own module plus the WASI adapter's glue modules.
const CORE_INSTANCES_PER_COMPONENT: u32 = 8;
const MEMORIES_PER_COMPONENT: u32 = 4;
const TABLES_PER_COMPONENT: u32 = 4;
/// Bytes of each linear memory, table and async stack kept resident (zeroed, not decommitted) when a pool
/// slot is reused.
const KEEP_RESIDENT_MEMORY: usize = 2 << 20;
const KEEP_RESIDENT_TABLE: usize = 64 << 10;
const KEEP_RESIDENT_STACK: usize = 64 << 10;

/// The pooling allocator sized for `max_instances` live components of at most `max_memory_bytes` each.
///
/// Pooling keeps pre-reserved slots, so instantiating a guest per request is a few copy-on-write page
/// mappings instead of mmap/munmap (which serialise on the kernel's mm lock under load). Slots are reused
/// warm; the pool's RSS grows with the number of slots ever used at once, so `max_instances` is also the
/// knob that bounds the guests' share of memory.
pub fn pooling_strategy(max_instances: u32, max_memory_bytes: u64) -> InstanceAllocationStrategy {
    let mut pool = PoolingAllocationConfig::default();
    pool.total_component_instances(max_instances)
        .total_core_instances(max_instances.saturating_mul(CORE_INSTANCES_PER_COMPONENT))
        .total_memories(max_instances.saturating_mul(MEMORIES_PER_COMPONENT))
        .total_tables(max_instances.saturating_mul(TABLES_PER_COMPONENT))
        .max_memories_per_component(MEMORIES_PER_COMPONENT)
        .max_tables_per_component(TABLES_PER_COMPONENT)
        .max_memory_size(usize::try_from(max_memory_bytes).unwrap_or(usize::MAX))
        // Reset a reused slot by zeroing what stays resident instead of handing the pages back to the
        // kernel: returning the pages a guest touched (its stack, data and heap) every time cost page
        // faults and TLB shootdowns that dominated small-object GETs in a profile. The default guest links
        // a 128 KiB stack (guest/origin/build.rs), so what is zeroed per request stays small.
        .linear_memory_keep_resident(KEEP_RESIDENT_MEMORY)
        .table_keep_resident(KEEP_RESIDENT_TABLE)
        .async_stack_keep_resident(KEEP_RESIDENT_STACK);
    InstanceAllocationStrategy::Pooling(pool)
}

/// Caps one instance's linear memory, remembers whether it refused a growth, and records the largest any
/// instance reached.
#[derive(Debug)]
pub struct MemoryLimiter {
    cap: u64,
    peak: Arc<AtomicU64>,
    refused: AtomicBool,
}

impl MemoryLimiter {
    /// A limiter allowing `cap` bytes that reports growth into the shared `peak`.
    pub fn new(cap: u64, peak: Arc<AtomicU64>) -> Self {
        MemoryLimiter {
            cap,
            peak,
            refused: AtomicBool::new(false),
        }
    }

    /// Whether the instance asked for more than its cap: a trap after that is the cap's doing.
    pub fn refused(&self) -> bool {
        self.refused.load(Ordering::Relaxed)
    }

    /// The cap, in bytes.
    pub fn cap(&self) -> u64 {
        self.cap
    }
}

impl ResourceLimiter for MemoryLimiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let desired = desired as u64;
        if desired > self.cap {
            self.refused.store(true, Ordering::Relaxed);
            return Ok(false);
        }
        self.peak.fetch_max(desired, Ordering::Relaxed);
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= 100_000)
    }
}

/// Advances `engine`'s epoch every `EPOCH_TICK` on a plain thread, so deadlines fire even when every tokio
/// worker is busy. The thread ends when the engine is dropped everywhere else.
pub fn start_epoch_ticker(engine: &Engine) -> std::io::Result<()> {
    let weak = engine.weak();
    std::thread::Builder::new()
        .name("strata-epoch".into())
        .spawn(move || {
            while let Some(engine) = weak.upgrade() {
                engine.increment_epoch();
                drop(engine);
                std::thread::sleep(EPOCH_TICK);
            }
        })
        .map(|_| ())
}
