//! Paths of Strata's test guests, built to `wasm32-wasip2` by this crate's `build.rs` in one cargo
//! invocation. Each constant is the `.wasm` of one guest crate, e.g. [`LOOPING`] for `guest/testing/looping`.

include!(concat!(env!("OUT_DIR"), "/guests.rs"));
