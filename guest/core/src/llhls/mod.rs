//! Low-Latency HLS delivery (rfc8216bis §6.2.5-6.2.6): blocking playlist reload, delta updates and
//! rendition reports, decided per request over the stored playlists.
//!
//! A blocking reload the playlist cannot answer yet becomes a `wait` on the playlist's key, "unless its
//! entity tag is still the one read": the host parks the request with no guest instance and asks again
//! when the playlist is replaced, so the answer is never given before the playlist really changed. Each
//! wake decides afresh from the new playlist, until the point asked for is in it or 3 × target duration
//! has passed. Preload-hinted parts need nothing here: a part a stored playlist names (its
//! `EXT-X-PRELOAD-HINT` included) is waited for by [`crate::segment_wait`] and streamed while it uploads.
//!
//! - [`directives`]: the `_HLS_msn`, `_HLS_part`, `_HLS_skip` query parameters.
//! - [`progress`]: how far a playlist has got, and whether a requested point is reached, ahead or too far.
//! - [`delta`]: `EXT-X-SKIP` delta updates.
//! - [`reports`]: `EXT-X-RENDITION-REPORT` for sibling renditions.
//! - [`headers`]: Cache-Control per Appendix B and `CMSD-Static`.

pub mod delta;
pub mod directives;
pub mod headers;
pub mod progress;
pub mod reports;

#[cfg(test)]
mod fixtures;

use crate::ad_markers;
use crate::cors;
use crate::hls::{Kind, Playlist};
use crate::http_date;
use crate::media_type::content_type_for;
use crate::objects::Objects;
use crate::query;
use crate::response;
use crate::signing::{SignedPrefix, Token, rewrite};
use crate::types::{ObjectMeta, Outcome, Request, Response, WaitPlan};
use directives::Directives;
use progress::{Progress, Reach};

/// How many target durations a blocking request may be held before it is answered 503 (§6.2.5.2).
pub const HOLD_TARGET_DURATIONS: u64 = 3;

/// The hold when a playlist gives no target duration, in ms.
pub const DEFAULT_HOLD_MS: u64 = 6_000;

/// The decision for a GET or HEAD of the complete HLS playlist `meta` under `key`, when LL-HLS delivery
/// applies: a live media playlist with parts, or any live media playlist asked for with directives.
/// `None` leaves the request to the plain object path: other playlists, final (`EXT-X-ENDLIST`, VOD) ones,
/// whose directives are ignored, and playlists that cannot be read or parsed.
///
/// `signed` is the prefix and valid token of a request under a signed prefix: the served playlist's child
/// URIs (segments, parts, the preload hint, rendition reports) carry the token too.
pub fn decide(
    req: &Request,
    key: &str,
    meta: &ObjectMeta,
    store: &impl Objects,
    signed: Option<&(SignedPrefix, Token)>,
) -> Option<Outcome> {
    if !key.to_ascii_lowercase().ends_with(".m3u8") || !meta.complete {
        return None;
    }
    let bytes = store.read(key, crate::manifest::MAX_PLAYLIST_BYTES).ok()?;
    let playlist = Playlist::parse_bytes(&bytes).ok()?;
    if playlist.kind() != Kind::Media || playlist.is_final() {
        return None;
    }
    // The route's ad-marker mode applies before a delta update, which then skips or keeps its date ranges.
    let mode = ad_markers::mode_for(req, key);
    let (playlist, ad_note) =
        if std::str::from_utf8(&bytes).is_ok_and(|t| ad_markers::may_change(mode, t)) {
            let applied = ad_markers::apply(mode, &playlist);
            (applied.playlist.unwrap_or(playlist), applied.note)
        } else {
            (playlist, None)
        };
    let progress = Progress::of(&playlist);
    let directives = match Directives::parse(&req.query) {
        Ok(d) => d,
        Err(reason) => return Some(refuse(req, &reason, &progress)),
    };
    if !playlist.is_low_latency() && !directives.blocks() {
        return None;
    }
    // Other requests take the manifest path, which checks staleness there (once).
    if let Ok(text) = std::str::from_utf8(&bytes)
        && let Some(stale) = crate::stale::check(req, meta, text, store)
    {
        return Some(Outcome::Respond(stale));
    }
    let held = directives.blocks().then_some(req.waited_ms);
    if let Some(msn) = directives.msn {
        match progress.reach(msn, directives.part) {
            Reach::Reached => {}
            Reach::TooFar(reason) => return Some(refuse(req, reason, &progress)),
            Reach::Ahead => return Some(hold(req, key, meta, &progress)),
        }
    }
    let mut served = directives
        .skip
        .and_then(|kind| delta::skip(&playlist, &progress, kind))
        .unwrap_or(playlist);
    if served.is_low_latency() {
        let siblings = reports::siblings(key, &served, store);
        reports::refresh(&mut served, key, &siblings, store);
    }
    if let Some((signed, token)) = signed {
        served = rewrite::hls(&served, key, &signed.prefix, token);
    }
    let content_type = if meta.content_type.trim().is_empty() {
        content_type_for(key).to_string()
    } else {
        meta.content_type.clone()
    };
    let mut headers = vec![
        ("content-type".into(), content_type),
        (
            "last-modified".into(),
            http_date::format(meta.last_modified),
        ),
        (
            "cache-control".into(),
            headers::cache_control(&progress, directives.blocks()),
        ),
        headers::cmsd_static(held),
    ];
    headers.extend(ad_note.map(|note| (ad_markers::NOTE_HEADER.to_string(), note)));
    cors::add_headers(&mut headers);
    Some(Outcome::Respond(Response {
        status: 200,
        headers,
        body: served.write().into_bytes(),
    }))
}

/// 400 for directives the playlist cannot meet, kept by caches per Appendix B: the same URL is refused the
/// same way until the stream has moved on.
fn refuse(req: &Request, reason: &str, progress: &Progress) -> Outcome {
    let blocking = query::param(&req.query, directives::MSN).is_some();
    Outcome::Respond(response::error_kept(
        400,
        reason,
        headers::failure_cache_control(progress, blocking),
    ))
}

/// A blocking request whose point is not in the playlist yet: park it until the playlist changes, within
/// what is left of 3 × target duration; 503 once that has passed.
fn hold(req: &Request, key: &str, meta: &ObjectMeta, progress: &Progress) -> Outcome {
    let limit_ms = match progress.target_duration_ms {
        0 => DEFAULT_HOLD_MS,
        td => td.saturating_mul(HOLD_TARGET_DURATIONS),
    };
    let left_ms = limit_ms.saturating_sub(req.waited_ms.into());
    if left_ms == 0 {
        let mut extra = headers::retry_after(progress);
        extra.push(headers::cmsd_static(Some(req.waited_ms)));
        return Outcome::Respond(response::error_with(
            503,
            &format!(
                "{key} did not reach the requested point within {} ms",
                limit_ms
            ),
            extra,
        ));
    }
    Outcome::Wait(WaitPlan {
        key: key.to_string(),
        unless_etag: Some(meta.etag.clone()),
        timeout_ms: u32::try_from(left_ms).unwrap_or(u32::MAX),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{MemStore, header, meta, request};
    use fixtures::LIVE;

    const KEY: &str = "live/low/index.m3u8";

    fn get(query: &str, waited_ms: u32, store: &MemStore) -> Option<Outcome> {
        let mut req = request("GET", &format!("/{KEY}"), &[]);
        req.query = query.to_string();
        req.waited_ms = waited_ms;
        decide(&req, KEY, &meta(KEY, 1), store, None)
    }

    fn store(text: &str) -> MemStore {
        MemStore::default().with(KEY, text.as_bytes())
    }

    fn respond(o: Option<Outcome>) -> Response {
        match o {
            Some(Outcome::Respond(r)) => r,
            other => panic!("expected Respond, got {other:?}"),
        }
    }

    #[test]
    fn a_reached_point_answers_at_once_with_the_whole_playlist() {
        let r = respond(get("_HLS_msn=12&_HLS_part=1", 0, &store(LIVE)));
        assert_eq!(r.status, 200);
        assert_eq!(String::from_utf8(r.body).unwrap(), LIVE);
        assert_eq!(header(&r.headers, "cache-control"), Some("max-age=24"));
        assert_eq!(header(&r.headers, "cmsd-static"), Some("ot=m,st=l,ht=0"));
        assert_eq!(
            header(&r.headers, "content-type"),
            Some("application/vnd.apple.mpegurl")
        );
        assert_eq!(header(&r.headers, "access-control-allow-origin"), Some("*"));
    }

    #[test]
    fn a_point_ahead_waits_for_the_playlist_to_change() {
        let o = get("_HLS_msn=12&_HLS_part=2", 0, &store(LIVE));
        assert_eq!(
            o,
            Some(Outcome::Wait(WaitPlan {
                key: KEY.into(),
                unless_etag: Some(format!("\"etag-{KEY}\"")),
                timeout_ms: 12_000,
            }))
        );
        // After a wake that did not bring it, the rest of 3 × TD.
        let Some(Outcome::Wait(w)) = get("_HLS_msn=12&_HLS_part=2", 5_000, &store(LIVE)) else {
            panic!("expected a wait");
        };
        assert_eq!(w.timeout_ms, 7_000);
    }

    #[test]
    fn not_reached_within_three_target_durations_is_503() {
        let r = respond(get("_HLS_msn=13", 12_000, &store(LIVE)));
        assert_eq!(r.status, 503);
        assert_eq!(header(&r.headers, "cache-control"), Some("no-store"));
        assert_eq!(header(&r.headers, "retry-after"), Some("4"));
        assert_eq!(
            header(&r.headers, "cmsd-static"),
            Some("ot=m,st=l,ht=12000")
        );
    }

    #[test]
    fn bad_or_too_far_directives_are_400_at_once_kept_per_appendix_b() {
        for (query, kept) in [
            ("_HLS_part=1", "max-age=4"),
            ("_HLS_skip=NO", "max-age=4"),
            ("_HLS_msn=14", "max-age=16"),
            ("_HLS_msn=12&_HLS_part=8", "max-age=16"),
            ("_HLS_msn=x", "max-age=16"),
        ] {
            let r = respond(get(query, 0, &store(LIVE)));
            assert_eq!(r.status, 400, "{query}");
            assert_eq!(header(&r.headers, "cache-control"), Some(kept), "{query}");
        }
    }

    #[test]
    fn directives_are_ignored_once_the_playlist_ended() {
        let ended = format!("{LIVE}#EXT-X-ENDLIST\n");
        assert_eq!(get("_HLS_msn=99&_HLS_part=1", 0, &store(&ended)), None);
    }

    #[test]
    fn plain_playlists_without_directives_take_the_object_path() {
        let plain = "#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXTINF:4,\na.ts\n";
        assert_eq!(get("", 0, &store(plain)), None);
        assert_eq!(get("_HLS_skip=YES", 0, &store(plain)), None);
        let master = "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\nv.m3u8\n";
        assert_eq!(get("_HLS_msn=1", 0, &store(master)), None);
        // A live playlist without parts still blocks on segments.
        assert!(matches!(
            get("_HLS_msn=1", 0, &store(plain)),
            Some(Outcome::Wait(_))
        ));
    }

    #[test]
    fn a_signed_request_passes_its_token_to_parts_hints_and_reports() {
        let master = "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\nlow/index.m3u8\n\
            #EXT-X-STREAM-INF:BANDWIDTH=2\nhigh/index.m3u8\n";
        let s = store(LIVE)
            .with("live/master.m3u8", master.as_bytes())
            .with("live/high/index.m3u8", LIVE.as_bytes());
        let signed = (
            SignedPrefix {
                prefix: "live/".into(),
                key: b"k".to_vec(),
            },
            Token {
                expires: 99,
                signature: "ab".into(),
            },
        );
        let mut req = request("GET", &format!("/{KEY}"), &[]);
        req.query = "_HLS_msn=12&_HLS_part=1&st_exp=99&st_sig=ab".into();
        let body =
            String::from_utf8(respond(decide(&req, KEY, &meta(KEY, 1), &s, Some(&signed))).body)
                .unwrap();
        let token = signed.1.query();
        for line in [
            format!("seg10.m4s?{token}\n"),
            format!("#EXT-X-PART:DURATION=0.5,URI=\"part12.1.m4s?{token}\""),
            format!("#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"part12.2.m4s?{token}\""),
            format!("#EXT-X-RENDITION-REPORT:URI=\"../high/index.m3u8?{token}\""),
        ] {
            assert!(body.contains(&line), "{line} not in {body}");
        }
    }

    #[test]
    fn a_plain_reload_of_an_ll_playlist_is_kept_one_second() {
        let r = respond(get("", 0, &store(LIVE)));
        assert_eq!(r.status, 200);
        assert_eq!(header(&r.headers, "cache-control"), Some("max-age=1"));
        assert_eq!(header(&r.headers, "cmsd-static"), Some("ot=m,st=l"));
    }

    #[test]
    fn delta_update_and_reports() {
        let mut text = LIVE.replace("CAN-SKIP-UNTIL=24", "CAN-SKIP-UNTIL=4");
        text = text.replace(
            "#EXTINF:4.0,\nseg10.m4s\n",
            "#EXTINF:4.0,\nseg10.m4s\n#EXTINF:4.0,\nseg10b.m4s\n",
        );
        let master = "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\nlow/index.m3u8\n\
            #EXT-X-STREAM-INF:BANDWIDTH=2\nhigh/index.m3u8\n";
        let s = store(&text)
            .with("live/master.m3u8", master.as_bytes())
            .with("live/high/index.m3u8", LIVE.as_bytes());
        let body = String::from_utf8(respond(get("_HLS_skip=YES", 0, &s)).body).unwrap();
        assert!(body.contains("#EXT-X-SKIP:SKIPPED-SEGMENTS=1\n"), "{body}");
        assert!(!body.contains("seg10.m4s") && body.contains("seg10b.m4s"));
        assert!(body.ends_with(
            "#EXT-X-RENDITION-REPORT:URI=\"../high/index.m3u8\",LAST-MSN=12,LAST-PART=1\n"
        ));
    }
}
