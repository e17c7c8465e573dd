//! A handler that grows its memory without bound on `misbehave` paths: the host's memory cap must stop it.

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

struct MemoryHog;

impl Guest for MemoryHog {
    fn handle(req: Request) -> Outcome {
        if !req.path.contains(TRIGGER) {
            return fine();
        }
        let mut hoard: Vec<Vec<u8>> = Vec::new();
        loop {
            hoard.push(vec![req.path.len() as u8; 1 << 20]);
            std::hint::black_box(&hoard);
        }
    }
}

export!(MemoryHog);
