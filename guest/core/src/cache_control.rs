//! The Cache-Control an object is served with when its uploader gave none.
//!
//! The defaults live in one table by object class so a new class or a new rule is one row. Playlists are
//! told apart by their content ([`for_playlist`], PROTOCOLS.md's table): live media playlists get ½ target
//! duration (1 s for LL-HLS), VOD playlists and static MPDs the long segment lifetime.

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

/// For playlists that will not change again (VOD, `EXT-X-ENDLIST`, static MPDs): as long as segments.
pub const FINAL_PLAYLIST: &str = "max-age=1209600";

/// For LL-HLS playlists: they change every part (PROTOCOLS.md).
pub const LOW_LATENCY_PLAYLIST: &str = "max-age=1";

/// For multivariant playlists: rewritten only when an encoder restarts with another ladder.
pub const MULTIVARIANT_PLAYLIST: &str = "max-age=60";

/// The Cache-Control of a playlist by what it holds: HLS or DASH text as served.
///
/// Live HLS media playlists: ½ `EXT-X-TARGETDURATION` (at least 1 s); LL-HLS: 1 s; VOD: long. Dynamic MPDs:
/// ½ `minimumUpdatePeriod`, else ½ `maxSegmentDuration`, at least 1 s; static MPDs: long. Text that is
/// neither stays on the class default.
pub fn for_playlist(text: &str) -> String {
    if let Ok(p) = crate::hls::Playlist::parse(text) {
        return match p.kind() {
            crate::hls::Kind::Multivariant => MULTIVARIANT_PLAYLIST.to_string(),
            _ if p.is_final() => FINAL_PLAYLIST.to_string(),
            _ if p.is_low_latency() => LOW_LATENCY_PLAYLIST.to_string(),
            _ => half_of(p.target_duration().map(|t| t as f64)),
        };
    }
    match crate::dash::Mpd::parse(text) {
        Ok(m) if !m.is_dynamic() => FINAL_PLAYLIST.to_string(),
        Ok(m) => half_of(m.minimum_update_period_s().or(m.max_segment_duration_s())),
        Err(_) => default_for("a.m3u8").to_string(),
    }
}

/// `max-age` of half `seconds`, at least 1 s.
fn half_of(seconds: Option<f64>) -> String {
    let half = seconds.map_or(1, |s| (s / 2.0).floor().clamp(1.0, 86_400.0) as u64);
    format!("max-age={half}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::meta;

    #[test]
    fn playlists_by_content() {
        let live = "#EXTM3U\n#EXT-X-TARGETDURATION:6\n#EXTINF:6,\na.ts\n";
        assert_eq!(for_playlist(live), "max-age=3");
        assert_eq!(
            for_playlist(&format!("{live}#EXT-X-ENDLIST\n")),
            FINAL_PLAYLIST
        );
        let vod = "#EXTM3U\n#EXT-X-PLAYLIST-TYPE:VOD\n#EXT-X-TARGETDURATION:6\n";
        assert_eq!(for_playlist(vod), FINAL_PLAYLIST);
        let ll = "#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXT-X-PART-INF:PART-TARGET=1.0\n";
        assert_eq!(for_playlist(ll), "max-age=1");
        assert_eq!(
            for_playlist("#EXTM3U\n#EXT-X-TARGETDURATION:1\n"),
            "max-age=1"
        );
        assert_eq!(for_playlist("#EXTM3U\n"), "max-age=1");
        let mv = "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\nv.m3u8\n";
        assert_eq!(for_playlist(mv), MULTIVARIANT_PLAYLIST);
        assert_eq!(for_playlist("<MPD type=\"static\"/>"), FINAL_PLAYLIST);
        assert_eq!(for_playlist("<MPD/>"), FINAL_PLAYLIST);
        assert_eq!(
            for_playlist("<MPD type=\"dynamic\" minimumUpdatePeriod=\"PT10S\"/>"),
            "max-age=5"
        );
        assert_eq!(
            for_playlist("<MPD type=\"dynamic\" maxSegmentDuration=\"PT4S\"/>"),
            "max-age=2"
        );
        assert_eq!(for_playlist("<MPD type=\"dynamic\"/>"), "max-age=1");
        assert_eq!(for_playlist("garbage"), "max-age=1");
    }

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
