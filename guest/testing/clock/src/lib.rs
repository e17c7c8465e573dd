//! A handler whose every answer is the host's clock (`now-ms`) at the decision, so a test can tell a fresh
//! decision from a replayed one. `?reuse=MS` marks the answer reusable for MS milliseconds; without it the
//! answer is not reusable and the host must ask again for every request.

wit_bindgen::generate!({ path: "../../../wit", world: "origin-handler" });

use exports::strata::origin::handler::Guest;
use strata::origin::types::{Decision, Outcome, QueryParts, Request, Response, Reuse};

struct Clock;

impl Guest for Clock {
    fn handle(req: Request) -> Decision {
        let reuse = req
            .query
            .split('&')
            .find_map(|pair| pair.strip_prefix("reuse="))
            .and_then(|ms| ms.parse().ok())
            .map(|max_age_ms| Reuse {
                query: QueryParts::All,
                headers: Vec::new(),
                max_age_ms,
                load_threshold_permille: None,
            });
        Decision {
            outcome: Outcome::Respond(Response {
                status: 200,
                headers: vec![("content-type".into(), "text/plain".into())],
                body: req.now_ms.to_string().into_bytes(),
            }),
            reuse,
        }
    }
}

export!(Clock);
