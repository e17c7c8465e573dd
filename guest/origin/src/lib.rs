//! Strata's default handler guest: `strata-guest-core`'s decisions as a component for the Strata host.
//!
//! This crate only adapts: [`convert`] turns the WIT request into the core's plain one, offers the host's
//! `tiers` imports as the core's `Objects`, and turns the core's outcome back into WIT. Every decision lives in
//! `strata-guest-core`, where it is tested natively.

mod bindings;
mod convert;

use bindings::exports::strata::origin::handler::Guest;
use bindings::strata::origin::types::Request;

/// The component's export: one decision per request.
struct Origin;

#[cfg(not(feature = "abi-v0-1"))]
impl Guest for Origin {
    fn handle(req: Request) -> bindings::strata::origin::types::Decision {
        let req = convert::request(req);
        convert::decision(strata_guest_core::reuse::decide(&req, &convert::Tiers))
    }
}

/// The 0.1.0 ABI has no reuse hint: the outcome alone.
#[cfg(feature = "abi-v0-1")]
impl Guest for Origin {
    fn handle(req: Request) -> bindings::strata::origin::types::Outcome {
        let req = convert::request(req);
        convert::outcome(strata_guest_core::decide(&req, &convert::Tiers))
    }
}

bindings::export!(Origin with_types_in bindings);
