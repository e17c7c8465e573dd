//! The Cache-Control an object is served with when its uploader gave none.
//!
//! The defaults live in one table by object class so a new class or a new rule is one row. Live playlists
//! get a short, live-safe default until a later change reads playlists to tell live (½ target duration)
//! from VOD (long).

use crate::media_type::{ObjectClass, class_of};
use crate::types::ObjectMeta;

/// For responses a cache must never keep: errors and transient misses.
pub const NO_STORE: &str = "no-store";

/// Default Cache-Control per object class.
pub const DEFAULTS: &[(ObjectClass, &str)] = &[
    // Segments and init segments never change once written: 14 days, immutable.
    (ObjectClass::Segment, "max-age=1209600, immutable"),
    // Playlists may be live: one second is safe for live and merely wasteful for VOD.
    (ObjectClass::Playlist, "max-age=1"),
    (ObjectClass::Other, "max-age=60"),
];

/// Fallback should a class ever be missing from [`DEFAULTS`].
const FALLBACK: &str = "max-age=60";

/// The default Cache-Control for `key` by its class.
pub fn default_for(key: &str) -> &'static str {
    let class = class_of(key);
    DEFAULTS
        .iter()
        .find(|(c, _)| *c == class)
        .map_or(FALLBACK, |(_, v)| v)
}

/// The Cache-Control to answer `meta` with: the uploader's if it gave a non-empty one, else the default.
pub fn for_object(meta: &ObjectMeta) -> String {
    match meta.cache_control.as_deref().map(str::trim) {
        Some(given) if !given.is_empty() => given.to_string(),
        _ => default_for(&meta.key).to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::meta;

    #[test]
    fn defaults_by_class() {
        for k in [
            "a.ts", "a.m4s", "a.mp4", "a.m4v", "a.cmfv", "a.cmfa", "a.m4a", "a.aac", "a.init",
            "a.vtt", "a.key",
        ] {
            assert_eq!(default_for(k), "max-age=1209600, immutable", "{k}");
        }
        assert_eq!(default_for("live/index.m3u8"), "max-age=1");
        assert_eq!(default_for("live/manifest.MPD"), "max-age=1");
        assert_eq!(default_for("notes.txt"), "max-age=60");
        assert_eq!(default_for("noext"), "max-age=60");
    }

    #[test]
    fn uploader_wins() {
        let mut m = meta("a.ts", 10);
        m.cache_control = Some("max-age=5".into());
        assert_eq!(for_object(&m), "max-age=5");
    }

    #[test]
    fn blank_uploader_value_falls_back() {
        let mut m = meta("a.m3u8", 10);
        m.cache_control = Some("  ".into());
        assert_eq!(for_object(&m), "max-age=1");
        m.cache_control = None;
        assert_eq!(for_object(&m), "max-age=1");
    }
}
