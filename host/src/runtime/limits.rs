//! Bounds on what one guest instance may use: linear memory (with the peak recorded) and CPU time.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use wasmtime::{Engine, ResourceLimiter};

/// How often the engine's epoch advances; a guest's CPU deadline is counted in these ticks.
pub const EPOCH_TICK: Duration = Duration::from_millis(10);

/// Caps one instance's linear memory and records the largest any instance reached.
#[derive(Debug)]
pub struct MemoryLimiter {
    cap: u64,
    peak: Arc<AtomicU64>,
}

impl MemoryLimiter {
    /// A limiter allowing `cap` bytes that reports growth into the shared `peak`.
    pub fn new(cap: u64, peak: Arc<AtomicU64>) -> Self {
        MemoryLimiter { cap, peak }
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
