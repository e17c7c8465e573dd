//! A handler that never returns on `misbehave` paths: the host's epoch deadline must stop it and fail only its request.

wit_bindgen::generate!({ path: "../../../wit", world: "origin-handler" });

use exports::strata::origin::handler::Guest;
use strata::origin::types::{Outcome, Request, Response};

/// Paths containing this word make the guest misbehave; every other request gets a plain 200, so the guest
/// passes the host's canary and a test can show that the request after a failure succeeds.
const TRIGGER: &str = "misbehave";

fn fine() -> Outcome {
    Outcome::Respond(Response {
        status: 200,
        headers: vec![("content-type".into(), "text/plain".into())],
        body: b"fine".to_vec(),
    })
}

struct Looping;

impl Guest for Looping {
    fn handle(req: Request) -> Outcome {
        if !req.path.contains(TRIGGER) {
            return fine();
        }
        let mut spins = 0u64;
        loop {
            spins = std::hint::black_box(spins.wrapping_add(req.path.len() as u64));
        }
    }
}

export!(Looping);
