//! A handler whose whole answer names its version: the `x-strata-guest-version` header and every byte of
//! the body. The hot-swap test swaps two builds of it under load and checks that no response mixes them.
//!
//! Each version is a two-line crate calling [`guest!`]: one cargo invocation builds them all. Its answers
//! are reusable (they depend on nothing), so the hot-swap test also shows the host's decision cache never
//! replays an answer of the version swapped out.

wit_bindgen::generate!({
    path: "../../../wit",
    world: "origin-handler",
    pub_export_macro: true,
});

pub use exports::strata::origin::handler::Guest;
pub use strata::origin::types::{Decision, Outcome, QueryParts, Request, Response, Reuse};

/// Length of every answer's body.
pub const BODY_BYTES: usize = 4096;

/// The answer of version `version`: a single ASCII character, so a torn body is easy to see; reusable for a
/// minute whatever the query and headers.
pub fn answer(version: u8) -> Decision {
    let outcome = Outcome::Respond(Response {
        status: 200,
        headers: vec![
            ("content-type".into(), "text/plain".into()),
            (
                "x-strata-guest-version".into(),
                char::from(version).to_string(),
            ),
        ],
        body: vec![version; BODY_BYTES],
    });
    Decision {
        outcome,
        reuse: Some(Reuse {
            query: QueryParts::None,
            headers: Vec::new(),
            max_age_ms: 60_000,
            load_threshold_permille: None,
        }),
    }
}

/// Defines and exports the handler of version `$version` (a byte literal such as `b'1'`).
#[macro_export]
macro_rules! guest {
    ($version:literal) => {
        struct Versioned;

        impl $crate::Guest for Versioned {
            fn handle(_req: $crate::Request) -> $crate::Decision {
                $crate::answer($version)
            }
        }

        $crate::export!(Versioned with_types_in $crate);
    };
}
