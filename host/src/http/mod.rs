//! The HTTP front: the listener, each request's dispatch to the guest, and the execution of outcomes.

mod body;
mod dispatch;
mod filters;
mod linger;
mod load;
mod outcome;
mod server;

pub use body::ResponseBody;
pub use filters::plugin_limits;
pub use load::{InFlight, Load};
pub use server::run;

pub(crate) use body::{error as error_response, full as full_body};
