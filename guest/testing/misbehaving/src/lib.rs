//! The shared body of the misbehaving test guests: a handler that answers a plain 200 on every path but
//! those containing [`TRIGGER`], where it misbehaves as its crate says (loops, hoards memory, sleeps).
//! Answering normally elsewhere lets it pass the host's canary, and lets a test show that the request
//! after a failure succeeds.
//!
//! Each misbehaving guest is a crate of a few lines calling [`guest!`], like the versioned guests.

wit_bindgen::generate!({
    path: "../../../wit",
    world: "origin-handler",
    pub_export_macro: true,
});

pub use exports::strata::origin::handler::Guest;
pub use strata::origin::types::{Decision, Outcome, Request, Response};

/// Paths containing this word make the guest misbehave.
pub const TRIGGER: &str = "misbehave";

/// The answer to every other request.
pub fn fine() -> Outcome {
    Outcome::Respond(Response {
        status: 200,
        headers: vec![("content-type".into(), "text/plain".into())],
        body: b"fine".to_vec(),
    })
}

/// Defines and exports a handler that runs `$misbehave` (a `fn(&Request) -> Outcome`) on trigger paths.
#[macro_export]
macro_rules! guest {
    ($misbehave:expr) => {
        struct Misbehaving;

        impl $crate::Guest for Misbehaving {
            fn handle(req: $crate::Request) -> $crate::Decision {
                let outcome = if req.path.contains($crate::TRIGGER) {
                    let misbehave: fn(&$crate::Request) -> $crate::Outcome = $misbehave;
                    misbehave(&req)
                } else {
                    $crate::fine()
                };
                $crate::Decision {
                    outcome,
                    reuse: None,
                }
            }
        }

        $crate::export!(Misbehaving with_types_in $crate);
    };
}
