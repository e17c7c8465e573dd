//! The access log: one line per request (`[log] access = "json" | "combined"`, to stderr or a file), with
//! what an operator needs to explain a request: who asked for what, the answer and its size, how long it
//! took, where the body came from, the object's age, the guest and version that decided and how (ran,
//! replayed, shared), the time spent deciding and parked, and the player's CMCD session id.
//!
//! - [`record`]: what the request path notes as it goes (the response body's bytes too: a `Record` is
//!   the body's `BodyWatch`), and the line written when the request is done.
//! - [`format`]: JSON lines and the combined log format.
//! - [`writer`]: the queue and the thread that write lines without making a request wait; reopened on
//!   SIGHUP.
//! - [`config`]: the `[log]` section.

pub mod config;
pub mod format;
pub mod record;
pub mod writer;

pub use config::{Format, LogConfig};
pub use record::{
    Decided, Parking, Record, Source, decided, decision_took, guest_chosen, received, responded,
    served_from,
};
pub use writer::{AccessLog, Closed, OpenError};
