//! Park a request for a segment that a stored playlist already names but whose upload has not begun.
//!
//! Encoders start a playlist PUT before the PUT of the segment it names has finished, or even started
//! (PROTOCOLS.md, "HTTP ingest"), so a player can ask for a segment that is about to exist. Answering 404
//! there stalls players and, through a CDN, can poison caches; instead the host parks the request until
//! the object appears or about one target duration passes, then asks the guest again.

use crate::media_type::{ObjectClass, class_of};
use crate::naming_playlist;
use crate::objects::Objects;
use crate::types::WaitPlan;

/// Wait when the playlist gives no target duration (DASH manifests, malformed playlists), in ms.
pub const DEFAULT_TIMEOUT_MS: u32 = 2_000;

/// Longest wait, whatever the target duration, in ms.
pub const MAX_TIMEOUT_MS: u32 = 10_000;

/// How many target durations a CDN may keep a segment or part served to a request held for it
/// (rfc8216bis Appendix B: blocking part requests).
pub const HELD_SUCCESS_TARGET_DURATIONS: u64 = 6;

/// How many target durations a CDN may keep the 404 of a request held for a segment or part that did not
/// come (Appendix B).
pub const HELD_FAILURE_TARGET_DURATIONS: u64 = 1;

/// Cache-Control of the answer to a request held for a segment or part: `max-age` of `target_durations`
/// target durations of `naming`, the playlist naming it; `None` when it gives no target duration.
pub fn held_cache_control(naming: &str, target_durations: u64) -> Option<String> {
    let seconds = target_duration_s(naming)?;
    Some(format!(
        "max-age={}",
        seconds.saturating_mul(target_durations)
    ))
}

/// A wait for `key` if it is a segment that a live playlist in its own folder names; `None` otherwise (an
/// ended playlist's segments can no longer arrive).
///
/// The timeout is that playlist's `#EXT-X-TARGETDURATION` in ms, capped at [`MAX_TIMEOUT_MS`], or
/// [`DEFAULT_TIMEOUT_MS`] without one. Playlists that cannot be read are skipped.
pub fn plan(key: &str, store: &impl Objects) -> Option<WaitPlan> {
    if class_of(key) != ObjectClass::Segment {
        return None;
    }
    naming_playlist::find(key, store)
        .filter(|text| !has_ended(text))
        .map(|text| WaitPlan {
            key: key.to_string(),
            unless_etag: None,
            timeout_ms: timeout_ms(&text),
        })
}

/// Whether an HLS playlist is complete (`#EXT-X-ENDLIST`): a segment it names that is missing can no
/// longer arrive, so it is 404 at once.
fn has_ended(text: &str) -> bool {
    text.lines().any(|l| l.trim() == "#EXT-X-ENDLIST")
}

/// `#EXT-X-TARGETDURATION` of an HLS playlist in seconds, when present and not zero.
fn target_duration_s(text: &str) -> Option<u64> {
    text.lines()
        .find_map(|l| l.trim().strip_prefix("#EXT-X-TARGETDURATION:"))
        .and_then(|v| v.trim().parse::<u64>().ok())
        .filter(|secs| *secs > 0)
}

/// `#EXT-X-TARGETDURATION` of an HLS playlist in ms, capped; the default when absent or zero.
fn timeout_ms(text: &str) -> u32 {
    target_duration_s(text).map_or(DEFAULT_TIMEOUT_MS, |secs| {
        u32::try_from(secs.saturating_mul(1000).min(u64::from(MAX_TIMEOUT_MS)))
            .unwrap_or(MAX_TIMEOUT_MS)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lookup_budget::MAX_PLAYLIST_BYTES;
    use crate::test_support::MemStore;

    const HLS: &str = "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:4\n#EXT-X-MEDIA-SEQUENCE:10\n\
        #EXTINF:4.0,\nseg10.ts\n#EXTINF:4.0,\nseg11.ts\n";

    const MPD: &str = r#"<MPD><Period><AdaptationSet>
        <SegmentTemplate timescale="1000" initialization="init-$RepresentationID$.m4s"
            media="chunk-$RepresentationID$-$Number%05d$.m4s" startNumber="1"/>
        <Representation id="stream0" bandwidth="800000"/></AdaptationSet></Period></MPD>"#;

    fn wait(key: &str, timeout_ms: u32) -> Option<WaitPlan> {
        Some(WaitPlan {
            key: key.to_string(),
            unless_etag: None,
            timeout_ms,
        })
    }

    #[test]
    fn waits_for_segment_named_in_hls_playlist() {
        let store = MemStore::default().with("live/index.m3u8", HLS.as_bytes());
        assert_eq!(plan("live/seg11.ts", &store), wait("live/seg11.ts", 4_000));
    }

    #[test]
    fn a_segment_of_an_ended_playlist_does_not_wait() {
        let ended = format!("{HLS}#EXT-X-ENDLIST\n");
        let store = MemStore::default().with("vod/index.m3u8", ended.as_bytes());
        assert_eq!(plan("vod/seg11.ts", &store), None);
    }

    #[test]
    fn unnamed_segment_does_not_wait() {
        let store = MemStore::default().with("live/index.m3u8", HLS.as_bytes());
        assert_eq!(plan("live/seg12.ts", &store), None);
        // A prefix of a named file is not named.
        assert_eq!(plan("live/seg1.ts", &store), None);
        assert_eq!(plan("live/eg11.ts", &store), None);
    }

    #[test]
    fn only_playlists_in_the_same_folder() {
        let store = MemStore::default()
            .with("other/index.m3u8", HLS.as_bytes())
            .with("live/sub/index.m3u8", HLS.as_bytes());
        assert_eq!(plan("live/seg11.ts", &store), None);
    }

    #[test]
    fn top_level_folder() {
        let store = MemStore::default().with("index.m3u8", HLS.as_bytes());
        assert_eq!(plan("seg10.ts", &store), wait("seg10.ts", 4_000));
    }

    #[test]
    fn non_segments_never_wait() {
        let store =
            MemStore::default().with("live/index.m3u8", b"#EXTM3U\nnotes.txt\nother.m3u8\n");
        assert_eq!(plan("live/notes.txt", &store), None);
        assert_eq!(plan("live/other.m3u8", &store), None);
    }

    #[test]
    fn ll_hls_parts_and_hints() {
        let text = "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-PART:DURATION=0.5,URI=\"part3.0.m4s\"\n\
            #EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"part3.1.m4s\"\n";
        let store = MemStore::default().with("ll/index.m3u8", text.as_bytes());
        assert_eq!(
            plan("ll/part3.1.m4s", &store),
            wait("ll/part3.1.m4s", 2_000)
        );
    }

    #[test]
    fn absolute_uris_with_query_count() {
        let text = "#EXTM3U\n#EXTINF:2,\nhttps://cdn.example/live/seg5.ts?token=abc\n";
        let store = MemStore::default().with("live/index.m3u8", text.as_bytes());
        assert_eq!(
            plan("live/seg5.ts", &store),
            wait("live/seg5.ts", DEFAULT_TIMEOUT_MS)
        );
    }

    #[test]
    fn dash_templates_match() {
        let store = MemStore::default().with("dash/manifest.mpd", MPD.as_bytes());
        assert_eq!(
            plan("dash/chunk-stream0-00007.m4s", &store),
            wait("dash/chunk-stream0-00007.m4s", DEFAULT_TIMEOUT_MS)
        );
        assert_eq!(
            plan("dash/init-stream0.m4s", &store),
            wait("dash/init-stream0.m4s", DEFAULT_TIMEOUT_MS)
        );
        assert_eq!(plan("dash/chunk-stream0-abc.m4s", &store), None);
        assert_eq!(plan("dash/other.m4s", &store), None);
    }

    #[test]
    fn target_duration_bounds() {
        assert_eq!(timeout_ms("#EXT-X-TARGETDURATION:6\n"), 6_000);
        assert_eq!(timeout_ms("#EXT-X-TARGETDURATION:60\n"), MAX_TIMEOUT_MS);
        assert_eq!(timeout_ms("#EXT-X-TARGETDURATION:0\n"), DEFAULT_TIMEOUT_MS);
        assert_eq!(timeout_ms("#EXT-X-TARGETDURATION:x\n"), DEFAULT_TIMEOUT_MS);
        assert_eq!(timeout_ms("#EXTM3U\n"), DEFAULT_TIMEOUT_MS);
        assert_eq!(
            timeout_ms("#EXT-X-TARGETDURATION:99999999999999999999\n"),
            DEFAULT_TIMEOUT_MS
        );
    }

    #[test]
    fn unreadable_playlists_are_skipped() {
        let big = vec![b'#'; (MAX_PLAYLIST_BYTES + 1) as usize];
        let store = MemStore::default()
            .with("live/a.m3u8", &big)
            .with("live/b.m3u8", HLS.as_bytes());
        assert_eq!(plan("live/seg10.ts", &store), wait("live/seg10.ts", 4_000));
    }
}
