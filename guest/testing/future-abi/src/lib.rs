//! A handler built against `strata:origin@0.3.0`, a version no host runs yet (its WIT is in this crate's
//! `wit/`): deploying it must be refused with 422 naming the versions the host runs.

wit_bindgen::generate!({ path: "wit", world: "origin-handler" });

use exports::strata::origin::handler::Guest;
use strata::origin::types::{Outcome, Request, Response};

struct Future;

impl Guest for Future {
    fn handle(_req: Request) -> Outcome {
        Outcome::Respond(Response {
            status: 200,
            headers: Vec::new(),
            body: b"from the future".to_vec(),
        })
    }
}

export!(Future);
