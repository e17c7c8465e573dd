//! Counters of the services a cluster node depends on, read by `/_strata/health` and `/_strata/metrics`.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Instant;

use strata_tiers::ServiceHealth;

/// One service's running totals.
#[derive(Debug)]
pub struct Service {
    name: &'static str,
    requests: AtomicU64,
    errors: AtomicU64,
    latency_nanos: AtomicU64,
    reachable: AtomicBool,
    last_error: Mutex<String>,
}

impl Service {
    /// A service not yet asked anything (counted reachable until a request fails).
    pub fn new(name: &'static str) -> Self {
        Service {
            name,
            requests: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            latency_nanos: AtomicU64::new(0),
            reachable: AtomicBool::new(true),
            last_error: Mutex::new(String::new()),
        }
    }

    /// Records a request that started at `started` and succeeded or not.
    pub fn record(&self, started: Instant, ok: bool) {
        self.requests.fetch_add(1, Ordering::Relaxed);
        let nanos = u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX);
        self.latency_nanos.fetch_add(nanos, Ordering::Relaxed);
        if !ok {
            self.errors.fetch_add(1, Ordering::Relaxed);
        }
        self.reachable.store(ok, Ordering::Relaxed);
    }

    /// Records whether the service can be reached, and why not.
    pub fn set_reachable(&self, reachable: bool, why_not: &str) {
        self.reachable.store(reachable, Ordering::Relaxed);
        if !reachable {
            *self
                .last_error
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner()) = why_not.to_owned();
        }
    }

    /// Records a failure's reason.
    pub fn failed(&self, why: &str) {
        *self
            .last_error
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = why.to_owned();
    }

    /// Whether the last request (or the connection) succeeded.
    pub fn reachable(&self) -> bool {
        self.reachable.load(Ordering::Relaxed)
    }

    /// A snapshot for the health route and the metrics.
    pub fn health(&self) -> ServiceHealth {
        ServiceHealth {
            name: self.name,
            reachable: self.reachable(),
            requests: self.requests.load(Ordering::Relaxed),
            errors: self.errors.load(Ordering::Relaxed),
            latency_seconds: self.latency_nanos.load(Ordering::Relaxed) as f64 / 1e9,
            last_error: self
                .last_error
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .clone(),
        }
    }
}
