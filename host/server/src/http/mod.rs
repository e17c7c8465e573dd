//! The HTTP front: the listener, each request's dispatch to the guest, and the execution of outcomes.

mod accept;
mod body;
mod collapse;
mod connection;
mod decision_cache;
mod dispatch;
mod drain;
mod filters;
mod linger;
mod load;
mod outcome;
mod remembered;
mod server;
mod socket_watch;
mod target;
mod throttle;
mod tls;
mod workers;

pub use body::{BodyWatch, ResponseBody, Watched};
pub use collapse::Herds;
pub use decision_cache::{CacheStats, DecisionCache};
pub use drain::Drain;
pub use filters::plugin_limits;
pub use load::{InFlight, Load};
pub use server::run;
pub use throttle::{AppliesTo, LimitRule, MAX_CLIENTS, Throttle, validate_limits};
pub use tls::{Certificates, TlsError};

pub(crate) use body::{error as error_response, full as full_body};
