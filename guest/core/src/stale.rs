//! Stale live playlists: a live media playlist (no `EXT-X-ENDLIST`) or dynamic MPD that its encoder stopped
//! updating answers 404 (or the route's 5xx) with `no-store` and a one-line reason, so a CDN with origin
//! failover moves to another origin instead of serving a frozen stream (MediaPackage's stale manifest).
//!
//! "Updated" is the object's last write (`last-modified`, whole seconds): an encoder rewrites its playlist
//! every segment even when nothing else changes. The limit is `after_target_durations` target durations
//! (`[[guest.stale]]` by prefix, default 3), measured from the HLS `EXT-X-TARGETDURATION` or the MPD's
//! `minimumUpdatePeriod` (else its `maxSegmentDuration`). One second of slack covers the write time's
//! rounding, so a playlist is never called stale early. A fresh answer tells the platform how long it stays
//! fresh ([`Objects::expires_in`]), so a remembered decision is not replayed past that moment.

use crate::dash::Mpd;
use crate::objects::Objects;
use crate::response;
use crate::types::{ObjectMeta, Request, Response};
use strata_abi::settings::{DEFAULT_STALE_AFTER_TARGET_DURATIONS, DEFAULT_STALE_STATUS};

pub use strata_abi::types::STALE_MANIFEST_HEADER as STALE_HEADER;

/// Slack for `last-modified`'s whole seconds, in milliseconds.
const ROUNDING_MS: u64 = 1000;

/// The answer for a stale playlist, if `text` (the body of `meta`) is a live one not updated in time;
/// otherwise `None`, after telling `store` how long the playlist stays fresh.
pub fn check(
    req: &Request,
    meta: &ObjectMeta,
    text: &str,
    store: &impl Objects,
) -> Option<Response> {
    let (after, status) = route(req, &meta.key);
    if after == 0 {
        return None;
    }
    let period_ms = update_period_ms(&meta.key, text)?;
    let limit_ms = u64::from(after).saturating_mul(period_ms);
    let age_ms = req
        .now_ms
        .saturating_sub(meta.last_modified.saturating_mul(1000));
    let due_ms = limit_ms.saturating_add(ROUNDING_MS);
    if age_ms < due_ms {
        store.expires_in(due_ms - age_ms);
        return None;
    }
    let age_s = age_ms / 1000;
    Some(response::error_with(
        status,
        &format!(
            "live playlist {} was last updated {age_s} s ago: stale after {after} target durations ({} s)",
            meta.key,
            limit_ms / 1000
        ),
        vec![(STALE_HEADER.into(), age_s.to_string())],
    ))
}

/// The route of `key`: the longest configured prefix holding it, else the defaults.
fn route(req: &Request, key: &str) -> (u16, u16) {
    req.settings
        .stale
        .iter()
        .filter(|r| key.starts_with(&r.prefix))
        .max_by_key(|r| r.prefix.len())
        .map_or(
            (DEFAULT_STALE_AFTER_TARGET_DURATIONS, DEFAULT_STALE_STATUS),
            |r| (r.after_target_durations, r.status),
        )
}

/// How often a live playlist is expected to change, in milliseconds; `None` when it is not live.
fn update_period_ms(key: &str, text: &str) -> Option<u64> {
    let seconds = if key.to_ascii_lowercase().ends_with(".mpd") {
        if !text.contains("dynamic") {
            return None;
        }
        let mpd = Mpd::parse(text).ok()?;
        if !mpd.is_dynamic() {
            return None;
        }
        mpd.minimum_update_period_s()
            .filter(|s| *s > 0.0)
            .or_else(|| mpd.max_segment_duration_s())?
    } else {
        hls_target_duration(text)?
    };
    (seconds.is_finite() && seconds > 0.0).then(|| (seconds * 1000.0).round() as u64)
}

/// The target duration of a live HLS media playlist, from a scan of its lines (no full parse: this runs on
/// every playlist GET); `None` for VOD, ended, or multivariant playlists.
fn hls_target_duration(text: &str) -> Option<f64> {
    let mut target = None;
    for line in text.lines() {
        let line = line.trim_end();
        if line == "#EXT-X-ENDLIST"
            || line == "#EXT-X-PLAYLIST-TYPE:VOD"
            || line.starts_with("#EXT-X-STREAM-INF")
        {
            return None;
        }
        if let Some(value) = line.strip_prefix("#EXT-X-TARGETDURATION:") {
            target = value.trim().parse().ok();
        }
    }
    target
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{MemStore, header, meta, request};
    use crate::types::StaleRoute;

    const LIVE: &str =
        "#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXT-X-MEDIA-SEQUENCE:1\n#EXTINF:4,\na.ts\n";

    /// A request at `now_s` with the stale defaults (test requests turn staleness off).
    fn at(now_s: u64, path: &str) -> Request {
        let mut req = request("GET", path, &[]);
        req.now_ms = now_s * 1000;
        req.settings.stale.clear();
        req
    }

    fn written_at(key: &str, last_modified: u64) -> ObjectMeta {
        let mut m = meta(key, 10);
        m.last_modified = last_modified;
        m
    }

    #[test]
    fn a_live_playlist_goes_stale_after_three_target_durations() {
        let store = MemStore::default();
        let m = written_at("live/index.m3u8", 1000);
        // 12 s of limit, 1 s of slack for the whole seconds: stale from 13 s.
        assert!(check(&at(1012, "/live/index.m3u8"), &m, LIVE, &store).is_none());
        let r = check(&at(1013, "/live/index.m3u8"), &m, LIVE, &store).expect("stale");
        assert_eq!(r.status, 404);
        assert_eq!(header(&r.headers, "cache-control"), Some("no-store"));
        assert_eq!(header(&r.headers, STALE_HEADER), Some("13"));
        assert!(String::from_utf8_lossy(&r.body).contains("last updated 13 s ago"));
    }

    #[test]
    fn ended_vod_and_multivariant_playlists_never_go_stale() {
        let store = MemStore::default();
        let m = written_at("live/index.m3u8", 0);
        let late = at(1_000_000, "/live/index.m3u8");
        for text in [
            format!("{LIVE}#EXT-X-ENDLIST\n"),
            LIVE.replace("#EXTM3U\n", "#EXTM3U\n#EXT-X-PLAYLIST-TYPE:VOD\n"),
            "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\nlo.m3u8\n".to_owned(),
        ] {
            assert!(check(&late, &m, &text, &store).is_none(), "{text}");
        }
    }

    #[test]
    fn routes_set_the_limit_and_the_status() {
        let store = MemStore::default();
        let mut req = at(1020, "/ch/index.m3u8");
        req.settings.stale = vec![
            StaleRoute {
                prefix: "ch/".into(),
                after_target_durations: 5,
                status: 503,
            },
            StaleRoute {
                prefix: "ch/archive/".into(),
                after_target_durations: 0,
                status: 404,
            },
        ];
        let m = written_at("ch/index.m3u8", 1000);
        assert!(
            check(&req, &m, LIVE, &store).is_none(),
            "20 s < 5 x 4 s + 1 s"
        );
        req.now_ms = 1021 * 1000;
        assert_eq!(check(&req, &m, LIVE, &store).map(|r| r.status), Some(503));
        let archived = written_at("ch/archive/index.m3u8", 0);
        assert!(
            check(&req, &archived, LIVE, &store).is_none(),
            "0 turns it off"
        );
    }

    #[test]
    fn a_dynamic_mpd_goes_stale_by_its_update_period() {
        let store = MemStore::default();
        let mpd = r#"<?xml version="1.0"?><MPD xmlns="urn:mpeg:dash:schema:mpd:2011" type="dynamic" minimumUpdatePeriod="PT2S" availabilityStartTime="2024-05-01T12:00:00Z"><Period id="1"/></MPD>"#;
        let m = written_at("live/manifest.mpd", 1000);
        // 3 x 2 s, and 1 s of slack.
        assert!(check(&at(1006, "/live/manifest.mpd"), &m, mpd, &store).is_none());
        assert!(check(&at(1007, "/live/manifest.mpd"), &m, mpd, &store).is_some());
        let fixed = mpd.replace("dynamic", "static");
        assert!(check(&at(9999, "/live/manifest.mpd"), &m, &fixed, &store).is_none());
    }
}
