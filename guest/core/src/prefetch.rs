//! The object a player says it will ask for next (CMCD `nor`), as a key the host can warm into memory
//! while the player is still receiving this one.
//!
//! `nor` is a URL relative to the current request's (CTA-5004 §3.3.3); a path from the root and an
//! absolute URL's path are accepted too. Keys that break the path rules are skipped: a hint never fails a
//! request. `nrr` (a range of the next object) warms the same object, so it needs nothing more here.

use crate::cmcd::Cmcd;
use crate::types::Request;
use strata_abi::key::key_from_path;

/// The keys to warm after answering `req` for `key`: at most the one `nor` names, never `key` itself.
pub fn next_keys(req: &Request, key: &str) -> Vec<String> {
    if req.method != "GET" {
        return Vec::new();
    }
    let Some(next) = Cmcd::from_request(req).next_object else {
        return Vec::new();
    };
    let next = next.split(['?', '#']).next().unwrap_or_default();
    let path = match next.split_once("://") {
        Some((_, rest)) => rest
            .find('/')
            .map_or(String::new(), |at| rest[at..].to_string()),
        None if next.starts_with('/') => next.to_string(),
        None => match relative(key, next) {
            Some(path) => path,
            None => return Vec::new(),
        },
    };
    match key_from_path(&path) {
        Ok(next) if next != key => vec![next],
        _ => Vec::new(),
    }
}

/// `next` resolved against the folder of `key` (RFC 3986 §5.2, `.` and `..` segments), as a path from the
/// root; `None` when `..` climbs above the root.
fn relative(key: &str, next: &str) -> Option<String> {
    let mut segments: Vec<&str> = key.split('/').collect();
    segments.pop();
    for segment in next.split('/') {
        match segment {
            "." => {}
            ".." => {
                segments.pop()?;
            }
            s => segments.push(s),
        }
    }
    Some(format!("/{}", segments.join("/")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::request;

    fn keys(nor: &str) -> Vec<String> {
        let req = request("GET", "/live/v1/seg1.m4s", &[("cmcd-request", nor)]);
        next_keys(&req, "live/v1/seg1.m4s")
    }

    #[test]
    fn nor_is_resolved_against_the_current_object() {
        assert_eq!(keys("nor=\"seg2.m4s\""), ["live/v1/seg2.m4s"]);
        assert_eq!(keys("nor=\"seg%202.m4s?x=1\""), ["live/v1/seg 2.m4s"]);
        assert_eq!(keys("nor=\"/other/a.m4s\""), ["other/a.m4s"]);
        assert_eq!(keys("nor=\"../v2/./seg2.m4s\""), ["live/v2/seg2.m4s"]);
        assert_eq!(
            keys("nor=\"https://cdn.example/live/v2/s.m4s\""),
            ["live/v2/s.m4s"]
        );
    }

    #[test]
    fn bad_or_missing_hints_warm_nothing() {
        assert!(keys("bl=3000").is_empty());
        assert!(keys("nor=\"../../../etc/passwd\"").is_empty());
        assert!(keys("nor=\"seg1.m4s\"").is_empty());
        let head = request("HEAD", "/a.ts", &[("cmcd-request", "nor=\"b.ts\"")]);
        assert!(next_keys(&head, "a.ts").is_empty());
    }
}
