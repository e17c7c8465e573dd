//! The one way the host's configuration names keys: a glob over the decoded key, with no leading `/`. `*`
//! and `?` stay within a path segment, `**` crosses segments, `{a,b}` and `[abc]` as usual. Storage rules,
//! ingest credentials and manifest-plugin chains all use it, each list taking its first match; a namespace
//! is the folder `ns/`, the same as the pattern `ns/**`.
//!
//! globset implements the syntax; this type adds the convention and the one-line reasons a bad pattern is
//! refused with, including the forms older configurations used.

use std::fmt;

use globset::{GlobBuilder, GlobMatcher};

/// A compiled key pattern.
#[derive(Debug, Clone)]
pub struct KeyPattern {
    written: String,
    matcher: GlobMatcher,
}

impl KeyPattern {
    /// Compiles `pattern`.
    ///
    /// # Errors
    /// A one-line reason: an empty pattern, a leading `/` (keys have none; the message shows the pattern
    /// without it), or a glob globset refuses.
    pub fn new(pattern: &str) -> Result<Self, String> {
        if pattern.trim().is_empty() {
            return Err("is empty".into());
        }
        if let Some(rest) = pattern.strip_prefix('/') {
            return Err(format!(
                "patterns match the key, which has no leading '/': write {rest:?} (`*` stays within a \
                 folder, `**` crosses folders, e.g. \"live/**/*.m3u8\")"
            ));
        }
        let matcher = GlobBuilder::new(pattern)
            .literal_separator(true)
            .build()
            .map_err(|e| e.kind().to_string())?
            .compile_matcher();
        Ok(KeyPattern {
            written: pattern.to_owned(),
            matcher,
        })
    }

    /// The pattern matching every key in folder `prefix` (`live/` gives `live/**`).
    ///
    /// # Errors
    /// When `prefix` does not make a valid pattern.
    pub fn folder(prefix: &str) -> Result<Self, String> {
        Self::new(&format!("{}/**", prefix.trim_end_matches('/')))
    }

    /// Whether `key` (decoded, no leading `/`) matches.
    pub fn matches(&self, key: &str) -> bool {
        self.matcher.is_match(key)
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.written
    }
}

impl PartialEq for KeyPattern {
    fn eq(&self, other: &Self) -> bool {
        self.written == other.written
    }
}

impl Eq for KeyPattern {}

impl fmt::Display for KeyPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.written)
    }
}

impl<'de> serde::Deserialize<'de> for KeyPattern {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let written = String::deserialize(deserializer)?;
        KeyPattern::new(&written)
            .map_err(|reason| serde::de::Error::custom(format!("pattern {written:?}: {reason}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stars_stay_in_a_folder_and_double_stars_cross() {
        let p = KeyPattern::new("live/*.m3u8").unwrap();
        assert!(p.matches("live/index.m3u8"));
        assert!(!p.matches("live/v1/index.m3u8"));
        let deep = KeyPattern::new("live/**/*.m3u8").unwrap();
        assert!(deep.matches("live/index.m3u8"));
        assert!(deep.matches("live/v1/index.m3u8"));
        assert!(!deep.matches("vod/index.m3u8"));
        let folder = KeyPattern::folder("tenant/").unwrap();
        assert!(folder.matches("tenant/a/b.ts"));
        assert!(!folder.matches("tenantx/a.ts"));
        assert_eq!(folder.as_str(), "tenant/**");
    }

    #[test]
    fn old_forms_are_refused_with_the_new_one() {
        let reason = KeyPattern::new("/live/*.m3u8").unwrap_err();
        assert!(reason.contains("\"live/*.m3u8\""), "{reason}");
        assert!(KeyPattern::new("").is_err());
        assert!(KeyPattern::new("live/[").is_err());
    }
}
