//! A running total split into one slot per thread (as far as slots go), so that threads counting the same
//! thing on every request do not pass one cache line back and forth between their CPUs. Reading sums the
//! slots. Written here because the counters of the metrics crates keep one shared atomic per series.

use std::sync::atomic::{AtomicU64, Ordering};

/// Slots per counter: more than the connection threads of the machines Strata runs on, so each usually has
/// its own.
const SLOTS: usize = 8;

/// One slot, alone on its cache line (128 bytes: adjacent-line prefetching pairs lines on x86).
#[repr(align(128))]
#[derive(Debug, Default)]
struct Slot(AtomicU64);

/// A counter threads add to without sharing a cache line.
#[derive(Debug, Default)]
pub struct Sharded([Slot; SLOTS]);

/// Slots handed out to threads so far.
static THREADS: AtomicU64 = AtomicU64::new(0);

thread_local! {
    static SLOT: usize = (THREADS.fetch_add(1, Ordering::Relaxed) % SLOTS as u64) as usize;
}

impl Sharded {
    /// A counter at zero.
    pub const fn new() -> Sharded {
        Sharded([const { Slot(AtomicU64::new(0)) }; SLOTS])
    }

    /// Adds `n` in this thread's slot.
    pub fn add(&self, n: u64) {
        let slot = SLOT.with(|slot| *slot);
        self.0[slot].0.fetch_add(n, Ordering::Relaxed);
    }

    /// The total.
    pub fn get(&self) -> u64 {
        self.0
            .iter()
            .map(|slot| slot.0.load(Ordering::Relaxed))
            .fold(0, u64::wrapping_add)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_total_is_what_every_thread_added() {
        static COUNTER: Sharded = Sharded::new();
        let threads: Vec<_> = (0..12)
            .map(|_| {
                std::thread::spawn(|| {
                    for _ in 0..1000 {
                        COUNTER.add(2);
                    }
                })
            })
            .collect();
        for thread in threads {
            thread.join().expect("thread");
        }
        assert_eq!(COUNTER.get(), 24_000);
    }
}
