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
//! - the clock, for a signed URL until its token expires, and for a live playlist until it would go stale
//!   ([`crate::stale`]).
//!
//! Never reusable: writes, requests that waited (their answers depend on `waited-ms`), and playlists on
//! routes whose variants follow the player's CMCD (the one decision CMCD changes; the host never keys on
//! CMCD). The host does not replay a serve's prefetch hint (CMCD `nor`): it is what one player announced.

use crate::cmsd;
use crate::media_type::{ObjectClass, class_of};
use std::cell::Cell;

use crate::objects::{Objects, ReadError, WriteError};
use crate::signing;
use crate::types::{AbrPolicy, Decision, ObjectMeta, Outcome, QueryParts, Request, Reuse};

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
    let timed = Timed {
        store,
        left_ms: Cell::new(None),
    };
    let outcome = crate::decide(req, &timed);
    let reuse = hint(req, &outcome).map(|mut reuse| {
        if let Some(left) = timed.left_ms.get() {
            reuse.max_age_ms = reuse
                .max_age_ms
                .min(u32::try_from(left).unwrap_or(u32::MAX));
        }
        reuse
    });
    Decision { outcome, reuse }
}

/// The store a decision reads, noting the shortest time its answer was said to hold
/// ([`Objects::expires_in`]: a live playlist about to go stale).
struct Timed<'a, O> {
    store: &'a O,
    left_ms: Cell<Option<u64>>,
}

impl<O: Objects> Objects for Timed<'_, O> {
    fn head(&self, key: &str) -> Option<ObjectMeta> {
        self.store.head(key)
    }

    fn read(&self, key: &str, max_bytes: u64) -> Result<Vec<u8>, ReadError> {
        self.store.read(key, max_bytes)
    }

    fn list_ending(&self, prefix: &str, suffixes: &[&str], limit: u32) -> Vec<String> {
        self.store.list_ending(prefix, suffixes, limit)
    }

    fn write_state(
        &self,
        key: &str,
        expected: Option<&str>,
        body: &[u8],
    ) -> Result<String, WriteError> {
        self.store.write_state(key, expected, body)
    }

    fn expires_in(&self, ms: u64) {
        let shortest = self.left_ms.get().map_or(ms, |left| left.min(ms));
        self.left_ms.set(Some(shortest));
    }
}

/// The reuse hint of `outcome`, decided for `req`; `None` when the host must ask again every time.
pub fn hint(req: &Request, outcome: &Outcome) -> Option<Reuse> {
    if !matches!(req.method.as_str(), "GET" | "HEAD" | "OPTIONS") || req.waited_ms > 0 {
        return None;
    }
    let threshold = Some(req.settings.cmsd_load_threshold_permille.max(1));
    let load_threshold_permille = match outcome {
        Outcome::Store(_) | Outcome::Delete(_) => return None,
        // CMSD `mb` scales the object's bitrate by the exact load: a serve carrying it is right for that load
        // only, not for every load on its side of the threshold.
        Outcome::Serve(plan)
            if plan
                .headers
                .iter()
                .any(|(name, _)| name.eq_ignore_ascii_case(cmsd::DYNAMIC_HEADER)) =>
        {
            return None;
        }
        // CMSD `mb` goes on media objects, never on playlists. Every answer for a media object names the
        // threshold, whatever its outcome (a 304 as a serve), so the host keeps one spec per object.
        Outcome::Serve(plan) if class_of(&plan.key) != ObjectClass::Playlist => threshold,
        _ if class_of(&req.key) != ObjectClass::Playlist => threshold,
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
    fn a_serve_under_load_is_not_reusable() {
        let mut store = store();
        store.put("live/a.ts", &[0; 100_000]);
        let mut req = request("GET", "/live/a.ts", &[]);
        req.settings.cmsd_load_threshold_permille = 800;
        req.load_permille = 1600;
        let decision = decide(&req, &store);
        let Outcome::Serve(plan) = &decision.outcome else {
            panic!("a segment GET is a serve: {:?}", decision.outcome);
        };
        assert!(
            plan.headers
                .iter()
                .any(|(name, _)| name == cmsd::DYNAMIC_HEADER),
            "{plan:?}"
        );
        assert_eq!(decision.reuse, None, "mb is right for this load only");
        req.load_permille = 400;
        assert_eq!(
            decide(&req, &store)
                .reuse
                .and_then(|r| r.load_threshold_permille),
            Some(800)
        );
    }

    #[test]
    fn every_answer_for_a_segment_names_the_threshold() {
        let store = store();
        let mut req = request("GET", "/live/a.ts", &[]);
        req.settings.cmsd_load_threshold_permille = 800;
        let Outcome::Serve(plan) = decide(&req, &store).outcome else {
            panic!("a segment GET is a serve");
        };
        req.headers = vec![("if-none-match".into(), plan.etag.clone())];
        let not_modified = decide(&req, &store);
        assert!(
            matches!(&not_modified.outcome, Outcome::Respond(r) if r.status == 304),
            "{:?}",
            not_modified.outcome
        );
        assert_eq!(
            not_modified.reuse.and_then(|r| r.load_threshold_permille),
            Some(800)
        );
        let missing = decide(&request("GET", "/live/none.ts", &[]), &store);
        assert!(
            missing
                .reuse
                .is_some_and(|r| r.load_threshold_permille.is_some())
        );
        let playlist = decide(&request("GET", "/live/index.m3u8", &[]), &store);
        assert_eq!(playlist.reuse.and_then(|r| r.load_threshold_permille), None);
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
