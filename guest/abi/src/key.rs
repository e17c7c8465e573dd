//! Request path → object key, enforcing the path rules so no key can escape its folder or confuse a
//! file-backed tier: hostile paths fail here with 400 and a reason.
//!
//! The host decodes every data-plane path with [`key_from_path`] once, decides access, routing and plugin
//! chains on that key, and hands guests [`path_from_key`] of it: a canonical path that decodes back to the
//! same key, so no encoding (`%70rivate`, `index%2Em3u8`, `a%2Fb`) can mean one key to a check and another to
//! the guest (`docs/decisions/0046-one-key-decided-once.md`).

use std::fmt;

use percent_encoding::{AsciiSet, CONTROLS, percent_decode_str, utf8_percent_encode};

/// Longest key accepted, in bytes after percent-decoding.
pub const MAX_KEY_BYTES: usize = 1024;

/// Why a path does not name a valid key; its `Display` is the one-line 400 reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathError {
    /// `/` alone: no key.
    Empty,
    /// Percent-decoding did not give UTF-8.
    NotUtf8,
    /// The decoded key is longer than [`MAX_KEY_BYTES`]; carries its length.
    TooLong(usize),
    /// The decoded key holds a control character.
    ControlChar,
    /// `//` or a trailing `/`.
    EmptySegment,
    /// A `.` or `..` segment, possibly percent-encoded.
    DotSegment(&'static str),
}

impl fmt::Display for PathError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Empty => write!(f, "bad path: empty key"),
            Self::NotUtf8 => write!(f, "bad path: not UTF-8 after percent-decoding"),
            Self::TooLong(n) => write!(
                f,
                "bad path: key is {n} bytes, longer than the {MAX_KEY_BYTES}-byte limit"
            ),
            Self::ControlChar => write!(f, "bad path: control character not allowed"),
            Self::EmptySegment => write!(
                f,
                "bad path: empty segment ('//' or trailing '/') not allowed"
            ),
            Self::DotSegment(s) => write!(f, "bad path: '{s}' segment not allowed"),
        }
    }
}

impl std::error::Error for PathError {}

/// What [`path_from_key`] percent-encodes besides non-ASCII: what cannot stand in a path (RFC 3986), and `%`
/// so a literal `%` in a key survives decoding.
const PATH_ESCAPES: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'[')
    .add(b'\\')
    .add(b']')
    .add(b'^')
    .add(b'`')
    .add(b'{')
    .add(b'|')
    .add(b'}');

/// The canonical request path of `key`: `/` and the key with only what must be escaped escaped. For every
/// valid key, `key_from_path(&path_from_key(key))` is `key` again.
pub fn path_from_key(key: &str) -> String {
    format!("/{}", utf8_percent_encode(key, PATH_ESCAPES))
}

/// The key a request path names: the path without its leading `/`, percent-decoded and checked.
///
/// # Errors
/// A [`PathError`] when the key would be empty, not UTF-8, too long, hold a control character, or
/// have an empty, `.` or `..` segment. Checks run on the decoded key, so `%2e%2e` and `%2F` cannot
/// smuggle a segment past them.
pub fn key_from_path(path: &str) -> Result<String, PathError> {
    let raw = path.strip_prefix('/').unwrap_or(path);
    let key = percent_decode_str(raw)
        .decode_utf8()
        .map_err(|_| PathError::NotUtf8)?;
    if key.is_empty() {
        return Err(PathError::Empty);
    }
    if key.len() > MAX_KEY_BYTES {
        return Err(PathError::TooLong(key.len()));
    }
    if key.chars().any(char::is_control) {
        return Err(PathError::ControlChar);
    }
    for segment in key.split('/') {
        match segment {
            "" => return Err(PathError::EmptySegment),
            "." => return Err(PathError::DotSegment(".")),
            ".." => return Err(PathError::DotSegment("..")),
            _ => {}
        }
    }
    Ok(key.into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_keys() {
        assert_eq!(key_from_path("/a.ts").as_deref(), Ok("a.ts"));
        assert_eq!(
            key_from_path("/live/v1/index.m3u8").as_deref(),
            Ok("live/v1/index.m3u8")
        );
        assert_eq!(
            key_from_path("/a..b/.hidden/x").as_deref(),
            Ok("a..b/.hidden/x")
        );
    }

    #[test]
    fn percent_decoding() {
        assert_eq!(key_from_path("/my%20file.ts").as_deref(), Ok("my file.ts"));
        assert_eq!(key_from_path("/caf%C3%A9.ts").as_deref(), Ok("café.ts"));
        assert_eq!(key_from_path("/a%2Fb").as_deref(), Ok("a/b"));
    }

    #[test]
    fn empty() {
        assert_eq!(key_from_path("/"), Err(PathError::Empty));
        assert_eq!(key_from_path(""), Err(PathError::Empty));
    }

    #[test]
    fn dot_segments_even_encoded() {
        assert_eq!(key_from_path("/a/../b"), Err(PathError::DotSegment("..")));
        assert_eq!(key_from_path("/.."), Err(PathError::DotSegment("..")));
        assert_eq!(key_from_path("/a/./b"), Err(PathError::DotSegment(".")));
        assert_eq!(
            key_from_path("/a/%2e%2e/b"),
            Err(PathError::DotSegment(".."))
        );
        assert_eq!(key_from_path("/%2E%2E"), Err(PathError::DotSegment("..")));
        assert_eq!(
            key_from_path("/a%2F..%2Fb"),
            Err(PathError::DotSegment(".."))
        );
        assert_eq!(key_from_path("/%2e"), Err(PathError::DotSegment(".")));
    }

    #[test]
    fn empty_segments() {
        assert_eq!(key_from_path("//a"), Err(PathError::EmptySegment));
        assert_eq!(key_from_path("/a//b"), Err(PathError::EmptySegment));
        assert_eq!(key_from_path("/a/"), Err(PathError::EmptySegment));
        assert_eq!(key_from_path("/a%2F%2Fb"), Err(PathError::EmptySegment));
    }

    #[test]
    fn control_chars() {
        assert_eq!(key_from_path("/a%00b"), Err(PathError::ControlChar));
        assert_eq!(key_from_path("/a%0Ab"), Err(PathError::ControlChar));
        assert_eq!(key_from_path("/a%7Fb"), Err(PathError::ControlChar));
    }

    #[test]
    fn invalid_utf8() {
        assert_eq!(key_from_path("/a%FFb"), Err(PathError::NotUtf8));
        assert_eq!(key_from_path("/%C3"), Err(PathError::NotUtf8));
    }

    #[test]
    fn length_limit_counts_decoded_bytes() {
        let ok = format!("/{}", "a".repeat(MAX_KEY_BYTES));
        assert_eq!(key_from_path(&ok).map(|k| k.len()), Ok(MAX_KEY_BYTES));
        let long = format!("/{}", "a".repeat(MAX_KEY_BYTES + 1));
        assert_eq!(key_from_path(&long), Err(PathError::TooLong(1025)));
        // 1024 encoded triples decode to 1024 bytes: accepted.
        let encoded = format!("/{}", "%61".repeat(MAX_KEY_BYTES));
        assert!(key_from_path(&encoded).is_ok());
    }

    #[test]
    fn the_canonical_path_decodes_to_the_same_key() {
        for key in [
            "live/index.m3u8",
            "my file.ts",
            "café/s.ts",
            "100%/a?b#c.ts",
            "a%2Fb",
            "[x]{y}|^`\\\"<>.ts",
        ] {
            let path = path_from_key(key);
            assert_eq!(key_from_path(&path).as_deref(), Ok(key), "{path}");
        }
        assert_eq!(path_from_key("live/index.m3u8"), "/live/index.m3u8");
        assert_eq!(path_from_key("a b%"), "/a%20b%25");
        // Encodings of characters that need none are gone: one key, one path.
        let key = key_from_path("/%70rivate/index%2Em3u8").unwrap();
        assert_eq!(path_from_key(&key), "/private/index.m3u8");
    }

    #[test]
    fn reasons_are_one_line() {
        assert_eq!(
            PathError::DotSegment("..").to_string(),
            "bad path: '..' segment not allowed"
        );
        for e in [
            PathError::Empty,
            PathError::NotUtf8,
            PathError::TooLong(2000),
            PathError::ControlChar,
            PathError::EmptySegment,
        ] {
            let s = e.to_string();
            assert!(s.starts_with("bad path: ") && !s.contains('\n'), "{s}");
        }
    }
}
