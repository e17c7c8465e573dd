//! The syntax of CMCD (CTA-5004): the dictionaries a player sends in the `CMCD=` query parameter or the
//! `CMCD-*` headers. The guest reads the keys it acts on (`strata-guest-core`'s `cmcd`); the host reads the
//! session id for its access log.

use crate::query;

/// The request headers that carry CMCD.
pub const HEADERS: [&str; 4] = ["cmcd-object", "cmcd-request", "cmcd-session", "cmcd-status"];

/// `(key, raw value)` pairs of one dictionary, `k=v,k="string",flag`; commas inside quoted strings
/// (where `\"` is a quote) do not split.
pub fn entries(text: &str) -> Vec<(&str, &str)> {
    let mut out = Vec::new();
    let (mut start, mut quoted, mut escaped) = (0, false, false);
    for (i, b) in text
        .bytes()
        .enumerate()
        .chain(std::iter::once((text.len(), b',')))
    {
        if escaped {
            escaped = false;
            continue;
        }
        match b {
            b'\\' if quoted => escaped = true,
            b'"' => quoted = !quoted,
            b',' if !quoted => {
                let piece = text[start..i].trim();
                if !piece.is_empty() {
                    out.push(
                        piece
                            .split_once('=')
                            .map_or((piece, ""), |(k, v)| (k.trim(), v.trim())),
                    );
                }
                start = i + 1;
            }
            _ => {}
        }
    }
    out
}

/// A CMCD string value without quotes and escapes.
pub fn unquote(v: &str) -> String {
    v.strip_prefix('"')
        .and_then(|s| s.strip_suffix('"'))
        .unwrap_or(v)
        .replace("\\\"", "\"")
        .replace("\\\\", "\\")
}

/// The session id (`sid`) a request carries in its `CMCD=` query parameter or its CMCD headers (headers
/// winning), if any.
pub fn session_id<'a>(
    query: &str,
    headers: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> Option<String> {
    let from = |text: &str| {
        entries(text)
            .into_iter()
            .find(|(key, _)| *key == "sid")
            .map(|(_, value)| unquote(value))
    };
    let in_headers = headers
        .into_iter()
        .filter(|(name, _)| HEADERS.iter().any(|h| h.eq_ignore_ascii_case(name)))
        .find_map(|(_, value)| from(value));
    in_headers.or_else(|| query::param(query, "CMCD").and_then(|value| from(&value)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_ids_from_the_query_or_the_headers() {
        let query = "x=1&CMCD=bl%3D300%2Csid%3D%226e2f%2Cx%22";
        assert_eq!(session_id(query, []).as_deref(), Some("6e2f,x"));
        let headers = [("CMCD-Session", "sid=\"from-header\",st=l")];
        assert_eq!(session_id(query, headers).as_deref(), Some("from-header"));
        assert_eq!(session_id("CMCD=bl%3D1", []), None);
        assert_eq!(session_id("", [("cmcd-request", "bl=1")]), None);
        assert_eq!(
            session_id("", [("cmcd-session", "sid=\"a\\\"b\"")]).as_deref(),
            Some("a\"b")
        );
    }
}
