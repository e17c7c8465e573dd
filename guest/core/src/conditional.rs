//! Conditional requests (RFC 9110 §13): `If-None-Match` and `If-Modified-Since` turn a GET into a 304,
//! saving CDNs and players a re-download; `If-Range` decides whether a `Range` still applies.

use crate::http_date;
use crate::types::{ObjectMeta, Request};

/// One entity tag from a header list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EntityTag<'a> {
    /// `W/` prefix present.
    pub weak: bool,
    /// The tag with its quotes, e.g. `"abc"`.
    pub opaque: &'a str,
}

/// Parses one entity tag (`"x"` or `W/"x"`, surrounding whitespace allowed); `None` if malformed.
pub fn parse_entity_tag(text: &str) -> Option<EntityTag<'_>> {
    let text = text.trim();
    let (weak, opaque) = match text.strip_prefix("W/") {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let inner = opaque.strip_prefix('"')?.strip_suffix('"')?;
    if inner.contains('"') {
        return None;
    }
    Some(EntityTag { weak, opaque })
}

/// The entity tags of a comma-separated list. Commas inside quotes belong to the tag; malformed
/// members are skipped.
pub fn parse_entity_tag_list(text: &str) -> Vec<EntityTag<'_>> {
    let mut tags = Vec::new();
    let mut start = 0;
    let mut in_quotes = false;
    for (i, c) in text.char_indices() {
        match c {
            '"' => in_quotes = !in_quotes,
            ',' if !in_quotes => {
                tags.extend(parse_entity_tag(&text[start..i]));
                start = i + 1;
            }
            _ => {}
        }
    }
    tags.extend(parse_entity_tag(&text[start..]));
    tags
}

/// Whether an `If-None-Match` value matches `etag` by weak comparison (RFC 9110 §8.8.3.2): `*` matches
/// any existing object; otherwise any listed tag whose opaque part equals `etag`'s, `W/` or not.
pub fn none_match_hits(if_none_match: &str, etag: &str) -> bool {
    if if_none_match.trim() == "*" {
        return true;
    }
    let Some(ours) = parse_entity_tag(etag) else {
        return false;
    };
    parse_entity_tag_list(if_none_match)
        .iter()
        .any(|t| t.opaque == ours.opaque)
}

/// Whether a GET or HEAD for `meta` should answer 304 Not Modified.
///
/// `If-None-Match` decides when present; only without it does `If-Modified-Since` count (RFC 9110
/// §13.1.3), matching when the object was last modified at or before the given date. A date that does
/// not parse is ignored.
pub fn is_not_modified(req: &Request, meta: &ObjectMeta) -> bool {
    if let Some(inm) = req.header("if-none-match") {
        return none_match_hits(inm, &meta.etag);
    }
    req.header("if-modified-since")
        .and_then(http_date::parse)
        .is_some_and(|since| meta.last_modified <= since)
}

/// Whether a `Range` still applies given `If-Range` (RFC 9110 §13.1.5): yes without `If-Range`; with an
/// entity tag only if it is strong and equals `meta`'s; with a date only if it equals `meta`'s
/// last-modified exactly. Anything else means: send the whole object.
pub fn range_applies(req: &Request, meta: &ObjectMeta) -> bool {
    let Some(value) = req.header("if-range") else {
        return true;
    };
    let value = value.trim();
    if value.starts_with('"') || value.starts_with("W/") {
        return match (parse_entity_tag(value), parse_entity_tag(&meta.etag)) {
            (Some(theirs), Some(ours)) => {
                !theirs.weak && !ours.weak && theirs.opaque == ours.opaque
            }
            _ => false,
        };
    }
    http_date::parse(value) == Some(meta.last_modified)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{LAST_MODIFIED, meta, request};

    const ETAG: &str = "\"etag-a.ts\"";

    fn not_modified(headers: &[(&str, &str)]) -> bool {
        is_not_modified(&request("GET", "/a.ts", headers), &meta("a.ts", 10))
    }

    fn applies(if_range: &str) -> bool {
        range_applies(
            &request("GET", "/a.ts", &[("if-range", if_range)]),
            &meta("a.ts", 10),
        )
    }

    #[test]
    fn entity_tag_parsing() {
        assert_eq!(
            parse_entity_tag(" W/\"x\" "),
            Some(EntityTag {
                weak: true,
                opaque: "\"x\""
            })
        );
        assert_eq!(
            parse_entity_tag("\"\""),
            Some(EntityTag {
                weak: false,
                opaque: "\"\""
            })
        );
        assert_eq!(parse_entity_tag("x"), None);
        assert_eq!(parse_entity_tag("\"x"), None);
        assert_eq!(parse_entity_tag("\"a\"b\""), None);
    }

    #[test]
    fn entity_tag_lists_keep_quoted_commas() {
        let tags = parse_entity_tag_list("\"a,b\", W/\"c\" ,junk,\"d\"");
        let opaque: Vec<_> = tags.iter().map(|t| t.opaque).collect();
        assert_eq!(opaque, ["\"a,b\"", "\"c\"", "\"d\""]);
    }

    #[test]
    fn if_none_match() {
        assert!(not_modified(&[("if-none-match", ETAG)]));
        assert!(not_modified(&[("if-none-match", "*")]));
        assert!(not_modified(&[("if-none-match", "\"x\", \"etag-a.ts\"")]));
        assert!(not_modified(&[("if-none-match", "\"x\",W/\"etag-a.ts\"")]));
        assert!(!not_modified(&[("if-none-match", "\"x\", \"y\"")]));
        assert!(!not_modified(&[("if-none-match", "etag-a.ts")]));
        assert!(!not_modified(&[("if-none-match", "")]));
    }

    #[test]
    fn if_none_match_takes_precedence_over_if_modified_since() {
        assert!(!not_modified(&[
            ("if-none-match", "\"other\""),
            ("if-modified-since", "Sun, 06 Nov 1994 08:49:37 GMT"),
        ]));
    }

    #[test]
    fn if_modified_since() {
        // Same second and later: not modified.
        assert!(not_modified(&[(
            "if-modified-since",
            "Sun, 06 Nov 1994 08:49:37 GMT"
        )]));
        assert!(not_modified(&[(
            "if-modified-since",
            "Mon, 07 Nov 1994 00:00:00 GMT"
        )]));
        // One second earlier: modified since.
        assert!(!not_modified(&[(
            "if-modified-since",
            "Sun, 06 Nov 1994 08:49:36 GMT"
        )]));
        // Garbage is ignored.
        assert!(!not_modified(&[("if-modified-since", "soon")]));
        assert!(!not_modified(&[]));
    }

    #[test]
    fn if_range() {
        assert!(range_applies(
            &request("GET", "/a.ts", &[]),
            &meta("a.ts", 10)
        ));
        assert!(applies(ETAG));
        assert!(!applies("W/\"etag-a.ts\""));
        assert!(!applies("\"other\""));
        assert!(applies(&http_date::format(LAST_MODIFIED)));
        assert!(!applies(&http_date::format(LAST_MODIFIED + 1)));
        assert!(!applies("garbage"));
    }
}
