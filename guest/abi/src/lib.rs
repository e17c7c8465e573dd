//! The `strata:origin` guest ABI in plain Rust, shared by everything on either side of it: the default
//! guest's decisions (`strata-guest-core`), the guest shells (the Strata component, the Spin component) and
//! the host, whose runtime converts its generated bindings to these types so they stop there.
//!
//! - [`types`]: the request, outcome and object metadata of `strata:origin@0.2.0`.
//! - [`settings`]: the operator's settings as the guest receives them, and their string form (the 0.1.0
//!   ABI's, and Spin's).
//! - [`key`]: request path ⇄ object key, and the rules a key obeys.
//! - [`clock`]: the origin's clock for players, `/_strata/time`.
//! - [`query`]: query-string parameters.
//! - [`cmcd`]: the syntax of CMCD dictionaries (the guest reads what it acts on; the host logs the session
//!   id).

pub mod clock;
pub mod cmcd;
pub mod key;
pub mod query;
pub mod settings;
pub mod types;
