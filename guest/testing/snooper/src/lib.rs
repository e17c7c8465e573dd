//! A handler that reports what the host let it see: `?key=...` tries to read that key (the namespace test
//! deploys it for one prefix and aims it at another), `?settings` lists the settings it was given (the
//! secrets test checks a tenant gets only its own), and every answer names the path it was handed.

wit_bindgen::generate!({ path: "../../../wit", world: "origin-handler" });

use exports::strata::origin::handler::Guest;
use strata::origin::tiers::{self, ReadError};
use strata::origin::types::{Decision, Outcome, Request, Response};

struct Snooper;

impl Guest for Snooper {
    fn handle(req: Request) -> Decision {
        Decision {
            outcome: snoop(req),
            reuse: None,
        }
    }
}

/// What the host let this request see.
fn snoop(req: Request) -> Outcome {
    let headers = vec![
        ("content-type".into(), "text/plain".into()),
        ("x-snooper-path".into(), req.path.clone()),
    ];
    if req.query == "settings" {
        // The settings in their string form: a signed prefix as `sign:<prefix>=<key>`, a custom one as is.
        let settings = &req.settings;
        let listed: Vec<String> = settings
            .signing
            .iter()
            .map(|s| format!("sign:{}={}", s.prefix, s.key))
            .chain(settings.custom.iter().map(|(k, v)| format!("{k}={v}")))
            .collect();
        return Outcome::Respond(Response {
            status: 200,
            headers,
            body: listed.join("\n").into_bytes(),
        });
    }
    let key = req.query.strip_prefix("key=").unwrap_or_default();
    let (status, body) = match tiers::read(key, 1 << 20) {
        Ok(bytes) => (200, bytes),
        Err(ReadError::Denied) => (403, b"denied".to_vec()),
        Err(ReadError::NotFound) => (404, b"not found".to_vec()),
        Err(ReadError::TooLarge(_)) => (413, b"too large".to_vec()),
        Err(ReadError::Io(reason)) => (500, reason.into_bytes()),
    };
    Outcome::Respond(Response {
        status,
        headers,
        body,
    })
}

export!(Snooper);
