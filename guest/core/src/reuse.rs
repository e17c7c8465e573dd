//! Whether the host may replay a decision, and what it depends on: the reuse hint of the default handler.
//!
//! The host replays a reusable decision to later requests with the same method, path and the values named
//! here until an object the decision read through the tiers changes (the host records those reads itself),
//! the guest is swapped, the hint's lifetime ends, or memory runs short (`docs/decisions/0051`). So the hint
//! names only what a decision takes from the *request* and the *clock*:
//! - every query parameter (filters, time shift, signed-URL tokens, LL-HLS directives), which the host
//!   compares without `CMCD`;
//! - the headers a GET, HEAD or preflight reads: conditionals, `Range`, the preflight's requested headers;
//! - the load, when a serve may carry CMSD `mb` (above the operator's threshold);
//! - the clock, for a signed URL: until its token expires.
//!
//! Never reusable: writes, requests that waited (their answers depend on `waited-ms`), and playlists on
//! routes whose variants follow the player's CMCD (the one decision CMCD changes; the host never keys on
//! CMCD). A replayed serve keeps the prefetch hint (CMCD `nor`) of the request it was decided for: players
//! asking for the same object name the same next one, and a hint may be skipped.

use crate::media_type::{ObjectClass, class_of};
use crate::objects::Objects;
use crate::signing;
use crate::types::{AbrPolicy, Decision, Outcome, QueryParts, Request, Reuse};

/// Longest a decision that depends on no clock is replayed: long enough that a hot playlist is decided
/// once per version, short enough that the cache turns over.
pub const MAX_AGE_MS: u32 = 10 * 60 * 1000;

/// The request headers a reusable decision depends on (lower-case): those [`crate::conditional`],
/// [`crate::range`] and [`crate::cors::preflight`] read.
pub const HEADERS: [&str; 5] = [
    "if-none-match",
    "if-modified-since",
    "if-range",
    "range",
    "access-control-request-headers",
];

/// Decides `req` as [`crate::decide`] does, with the hint saying whether and how the host may reuse it.
pub fn decide(req: &Request, store: &impl Objects) -> Decision {
    let outcome = crate::decide(req, store);
    let reuse = hint(req, &outcome);
    Decision { outcome, reuse }
}

/// The reuse hint of `outcome`, decided for `req`; `None` when the host must ask again every time.
pub fn hint(req: &Request, outcome: &Outcome) -> Option<Reuse> {
    if !matches!(req.method.as_str(), "GET" | "HEAD" | "OPTIONS") || req.waited_ms > 0 {
        return None;
    }
    let load_threshold_permille = match outcome {
        Outcome::Store(_) | Outcome::Delete(_) => return None,
        // CMSD `mb` goes on media objects, never on playlists.
        Outcome::Serve(plan) if class_of(&plan.key) != ObjectClass::Playlist => {
            Some(req.settings.cmsd_load_threshold_permille.max(1))
        }
        Outcome::Serve(_) | Outcome::Respond(_) | Outcome::Wait(_) => None,
    };
    if follows_cmcd(req) {
        return None;
    }
    Some(Reuse {
        query: QueryParts::All,
        headers: HEADERS.iter().map(|name| (*name).to_string()).collect(),
        max_age_ms: max_age_ms(req),
        load_threshold_permille,
    })
}

/// Whether `req` asks for a playlist whose variants a setting orders by the player's CMCD.
fn follows_cmcd(req: &Request) -> bool {
    class_of(&req.key) == ObjectClass::Playlist
        && req
            .settings
            .abr
            .iter()
            .any(|route| route.policy == AbrPolicy::Cmcd && req.key.starts_with(&route.prefix))
}

/// How long the decision stays right: [`MAX_AGE_MS`], or less under a signed prefix whose token expires
/// sooner (after that the same URL answers 403).
fn max_age_ms(req: &Request) -> u32 {
    let Some(prefix) = signing::covering(&req.settings, &req.key) else {
        return MAX_AGE_MS;
    };
    match signing::verify(&prefix, &req.query, req.now_ms / 1000) {
        Ok(token) => {
            let left_ms = token
                .expires
                .saturating_mul(1000)
                .saturating_sub(req.now_ms);
            u32::try_from(left_ms).unwrap_or(u32::MAX).min(MAX_AGE_MS)
        }
        // A refusal stays a refusal: the token will not become valid.
        Err(_) => MAX_AGE_MS,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{MemStore, request};
    use crate::types::{AbrRoute, SignedPrefix};

    fn store() -> MemStore {
        let mut store = MemStore::default();
        store.put(
            "live/index.m3u8",
            b"#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2,\na.ts\n",
        );
        store.put("live/a.ts", b"0123456789");
        store
    }

    #[test]
    fn reads_are_reusable_on_query_and_conditional_headers() {
        let req = request("GET", "/live/index.m3u8", &[]);
        let reuse = decide(&req, &store())
            .reuse
            .expect("a playlist GET is reusable");
        assert_eq!(reuse.query, QueryParts::All);
        assert!(reuse.headers.iter().any(|h| h == "if-none-match"));
        assert!(reuse.headers.iter().any(|h| h == "range"));
        assert_eq!(reuse.max_age_ms, MAX_AGE_MS);
        assert_eq!(reuse.load_threshold_permille, None);
    }

    #[test]
    fn a_serve_depends_on_the_load_threshold() {
        let mut req = request("GET", "/live/a.ts", &[]);
        req.settings.cmsd_load_threshold_permille = 800;
        let reuse = decide(&req, &store())
            .reuse
            .expect("a segment GET is reusable");
        assert_eq!(reuse.load_threshold_permille, Some(800));
    }

    #[test]
    fn writes_waited_requests_and_cmcd_routes_are_not_reusable() {
        for method in ["PUT", "POST", "DELETE", "PATCH"] {
            let req = request(method, "/live/a.ts", &[]);
            assert_eq!(decide(&req, &store()).reuse, None, "{method}");
        }
        let mut waited = request("GET", "/live/index.m3u8", &[]);
        waited.waited_ms = 5;
        assert_eq!(decide(&waited, &store()).reuse, None);
        let mut abr = request("GET", "/live/index.m3u8", &[]);
        abr.settings.abr = vec![AbrRoute {
            prefix: "live/".into(),
            policy: AbrPolicy::Cmcd,
        }];
        assert_eq!(decide(&abr, &store()).reuse, None);
        // A segment on that route does not depend on CMCD.
        abr.key = "live/a.ts".into();
        abr.path = "/live/a.ts".into();
        assert!(decide(&abr, &store()).reuse.is_some());
    }

    #[test]
    fn a_signed_url_is_reusable_until_its_token_expires() {
        let mut req = request("GET", "/live/index.m3u8", &[]);
        req.settings.signing = vec![SignedPrefix {
            prefix: "live/".into(),
            key: "k".into(),
        }];
        req.now_ms = 1_000_000_500;
        let expires = 1_000_000 + 30;
        let sig = signing::sign(b"k", "live/", expires);
        req.query = format!("st_exp={expires}&st_sig={sig}");
        let decision = decide(&req, &store());
        assert!(matches!(
            decision.outcome,
            Outcome::Serve(_) | Outcome::Respond(_)
        ));
        assert_eq!(decision.reuse.map(|r| r.max_age_ms), Some(29_500));
        req.query = "st_exp=5&st_sig=00".into();
        assert_eq!(
            decide(&req, &store()).reuse.map(|r| r.max_age_ms),
            Some(MAX_AGE_MS)
        );
    }
}
