//! Strata, a WebAssembly-programmable origin for HLS and DASH.
//!
//! How the crate is organised (one folder per concern):
//! - [`http`]: the listener and each request's path: admin route, or guest decision then outcome.
//! - [`runtime`]: wasmtime, the handler component, per-request sandboxed instances, the `tiers` import.
//! - [`tiers`]: the memory tier and the durable disk tier; knows nothing of wasmtime.
//! - [`admin`]: operator routes under `/_strata/`: health, metrics, guests.
//! - [`auth`]: ingest credentials and the admin token.
//! - [`guest_cli`]: `strata guest push|list|rollback`, a client of the admin API.
//! - [`config`], [`cli`]: settings from defaults, TOML and flags.
//! - [`metrics`]: Prometheus names and rendering.

pub mod admin;
pub mod auth;
pub mod cli;
pub mod config;
pub mod guest_cli;
pub mod http;
pub mod metrics;
pub mod runtime;
pub mod serve;
pub mod state;
pub mod tiers;
