//! A handler whose every answer is the host's clock (`now-ms`) at the decision, so a test can tell a fresh
//! decision from a replayed one. `?reuse=MS` marks the answer reusable for MS milliseconds; without it the
//! answer is not reusable and the host must ask again for every request. `?serve=KEY&etag=HEX` serves
//! that object (version `"HEX"`) instead, unread (the namespace test aims it outside its namespace).

wit_bindgen::generate!({ path: "../../../wit", world: "origin-handler" });

use exports::strata::origin::handler::Guest;
use strata::origin::types::{Decision, Outcome, QueryParts, Request, Response, Reuse, ServePlan};

struct Clock;

/// The raw value of query parameter `name`.
fn param<'a>(query: &'a str, name: &str) -> Option<&'a str> {
    query.split('&').find_map(|pair| {
        pair.strip_prefix(name)
            .and_then(|rest| rest.strip_prefix('='))
    })
}

impl Guest for Clock {
    fn handle(req: Request) -> Decision {
        let reuse = param(&req.query, "reuse")
            .and_then(|ms| ms.parse().ok())
            .map(|max_age_ms| Reuse {
                query: QueryParts::All,
                headers: Vec::new(),
                max_age_ms,
                load_threshold_permille: None,
            });
        let outcome = match param(&req.query, "serve") {
            Some(key) => Outcome::Serve(ServePlan {
                key: key.to_owned(),
                status: 200,
                range: None,
                etag: format!("\"{}\"", param(&req.query, "etag").unwrap_or_default()),
                headers: Vec::new(),
                prefetch: Vec::new(),
            }),
            None => Outcome::Respond(Response {
                status: 200,
                headers: vec![("content-type".into(), "text/plain".into())],
                body: req.now_ms.to_string().into_bytes(),
            }),
        };
        Decision { outcome, reuse }
    }
}

export!(Clock);
