//! Time for the Spin shell's waits: Spin has no host to park a request on a key's change, so the shell polls
//! the key-value store, pausing between looks through WASI clocks. A trait, so tests run waits on a clock
//! they move themselves.

use std::time::{Duration, Instant};

/// Reads elapsed time and pauses.
pub trait Clock {
    /// Milliseconds since an arbitrary start, never going back.
    fn now_ms(&self) -> u64;
    /// Pauses for `ms` milliseconds.
    fn sleep_ms(&self, ms: u64);
}

/// The real clock: the monotonic clock and a blocking sleep (WASI `monotonic-clock` in the component).
pub struct SystemClock {
    start: Instant,
}

impl SystemClock {
    /// A clock whose zero is now.
    pub fn new() -> Self {
        SystemClock {
            start: Instant::now(),
        }
    }
}

impl Default for SystemClock {
    fn default() -> Self {
        SystemClock::new()
    }
}

impl Clock for SystemClock {
    fn now_ms(&self) -> u64 {
        u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    fn sleep_ms(&self, ms: u64) {
        std::thread::sleep(Duration::from_millis(ms));
    }
}
