//! A handler that sleeps through WASI clocks on `misbehave` paths, using no CPU: the epoch (CPU) deadline
//! never fires, so only the host's wall-clock deadline can free its instance slot.

wit_bindgen::generate!({ path: "../../../wit", world: "origin-handler" });

use exports::strata::origin::handler::Guest;
use strata::origin::types::{Outcome, Request, Response};

/// Paths containing this word make the guest sleep; every other request gets a plain 200, so the guest
/// passes the host's canary and a test can show that other requests are still answered.
const TRIGGER: &str = "misbehave";

/// How long a misbehaving decision sleeps: far past any deadline a test sets.
const SLEEP: std::time::Duration = std::time::Duration::from_secs(60);

struct Sleeping;

impl Guest for Sleeping {
    fn handle(req: Request) -> Outcome {
        if req.path.contains(TRIGGER) {
            std::thread::sleep(SLEEP);
        }
        Outcome::Respond(Response {
            status: 200,
            headers: vec![("content-type".into(), "text/plain".into())],
            body: b"fine".to_vec(),
        })
    }
}

export!(Sleeping);
