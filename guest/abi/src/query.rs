//! Query-string parameters: `name=value` pairs separated by `&`, percent-decoded (guests and the host read
//! them alike).

use percent_encoding::percent_decode_str;

/// The decoded value of the first parameter named `name` (compared case-insensitively); a `+` stays a `+`.
pub fn param(query: &str, name: &str) -> Option<String> {
    pairs(query)
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v)
}

/// Every `(name, decoded value)` pair in order; a name without `=` has an empty value.
pub fn pairs(query: &str) -> impl Iterator<Item = (String, String)> + '_ {
    query.split('&').filter(|p| !p.is_empty()).map(|p| {
        let (n, v) = p.split_once('=').unwrap_or((p, ""));
        (decode(n), decode(v))
    })
}

/// `s` percent-decoded, invalid UTF-8 replaced.
fn decode(s: &str) -> String {
    percent_decode_str(s).decode_utf8_lossy().into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params() {
        let q = "a=1&B=x%3By&flag&c=%2B+";
        assert_eq!(param(q, "a").as_deref(), Some("1"));
        assert_eq!(param(q, "b").as_deref(), Some("x;y"));
        assert_eq!(param(q, "flag").as_deref(), Some(""));
        assert_eq!(param(q, "c").as_deref(), Some("++"));
        assert_eq!(param(q, "d"), None);
        assert_eq!(param("", "a"), None);
    }
}
