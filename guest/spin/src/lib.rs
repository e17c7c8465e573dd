//! Strata's decisions on Spin: the same guest/core logic as the Strata host's handler, with objects in
//! Spin's key-value store and the outcomes carried out by this shell (Spin has no host that moves bytes).
//!
//! - [`kv`]: the key-value calls the shell needs, as a trait (Spin's store in the component, a map in
//!   tests).
//! - [`objects`]: objects as a metadata record plus 1 MB chunks; guest/core's `Objects` over them.
//! - [`execute`]: decide a request and carry out its outcome (respond, serve, store, delete, wait).
//! - [`clock`]: elapsed time and pauses for waits, which poll the store.
//! - [`settings`]: the guest's settings from the Spin variable `settings`.
//! - `spin` (component only): the `#[http_component]` entry point converting Spin's request and response.

pub mod clock;
pub mod execute;
pub mod kv;
pub mod objects;
pub mod settings;
#[cfg(target_arch = "wasm32")]
mod spin;

#[cfg(test)]
mod behaviour;
