//! A handler that traps on every request except paths under `/fine`: the host must answer 5xx for the
//! trapping request alone, and refuse to activate it (it fails the canary request).

wit_bindgen::generate!({ path: "../../../wit", world: "origin-handler" });

use exports::strata::origin::handler::Guest;
use strata::origin::types::{Decision, Outcome, Request, Response};

struct Trapping;

impl Guest for Trapping {
    fn handle(req: Request) -> Decision {
        if !req.path.starts_with("/fine") {
            panic!("the trapping test guest refuses {}", req.path)
        }
        Decision {
            outcome: Outcome::Respond(Response {
                status: 200,
                headers: vec![("content-type".into(), "text/plain".into())],
                body: b"fine".to_vec(),
            }),
            reuse: None,
        }
    }
}

export!(Trapping);
