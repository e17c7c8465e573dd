//! Strata's HTTP side: everything between a client's socket and the guest runtime.
//!
//! How the crate is organised (one folder per concern):
//! - [`http`]: the listener and its limits, TLS, and each request's path: its key, its access check, the
//!   guest's decision (through `strata-runtime`), and the outcome carried out against the storage
//!   (`strata-tiers`), then any manifest-plugin chain.
//! - [`access_log`]: one line per request, JSON or combined, written off the request path.
//! - [`admin`]: operator routes under `/_strata/`: health, time, metrics, guests, harvest.
//! - [`harvest`]: live-to-VOD clips copied host-side, as admin jobs.
//! - [`auth`]: ingest credentials and the admin token.
//! - [`metrics`]: every Prometheus metric family, its recording and rendering, and per-stream ingest age.
//! - [`config`]: the settings this crate reads, which the `strata` binary assembles.
//! - [`state`]: what every request handler shares.

pub mod access_log;
pub mod admin;
pub mod auth;
pub mod config;
pub mod harvest;
pub mod http;
pub mod metrics;
pub mod state;
