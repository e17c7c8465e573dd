//! GET and HEAD of a stored playlist or MPD: filters, time shift, the Cache-Control class read from its
//! content, and CMSD-Static.
//!
//! A playlist that needs no rewriting is still streamed by the host (a `serve` outcome) with the headers
//! decided here; a rewritten one is answered whole with a strong entity tag of its own text.

use crate::abr;
use crate::ad_markers;
use crate::cache_control;
use crate::cmsd::{self, PlaylistFacts};
use crate::conditional;
use crate::dash::Mpd;
use crate::filter::{self, Filter};
use crate::hls::{Kind, Playlist};
use crate::media_type::extension;
use crate::objects::Objects;
use crate::response;
use crate::signing::{SignedPrefix, Token, rewrite};
use crate::time_shift::{TimeShift, TimeShiftError};
use crate::types::{AdMarkersMode, Headers, ObjectMeta, Outcome, Request, Response};
use crate::utc_timing;

/// Largest playlist or MPD read whole to answer a GET of it; a larger one is served as stored.
pub const MAX_PLAYLIST_BYTES: u64 = 1 << 20;

/// What the request asks to be done to the manifest.
struct Rewrites<'a> {
    filter: Option<Filter>,
    shift: Option<TimeShift>,
    /// The signed prefix and the request's valid token, carried into child URIs.
    signed: Option<&'a (SignedPrefix, Token)>,
    /// The player's bitrate budget in kbps, on routes with CMCD-driven variant choice ([`abr`]).
    abr: Option<f64>,
    /// The clock source to name in a live MPD that names none ([`utc_timing`]).
    utc_timing: Option<String>,
    /// The route's ad-marker mode, when it may change this HLS playlist ([`ad_markers`]).
    ad_markers: Option<AdMarkersMode>,
}

/// A manifest as the request has it: its rewritten text (`None`: as stored) and what the ad-marker mode
/// could not do ([`ad_markers::NOTE_HEADER`]).
#[derive(Default)]
struct Rewritten {
    body: Option<String>,
    ad_note: Option<String>,
}

/// The outcome of a GET or HEAD of the existing playlist `meta` (not answered 304 by its stored validators);
/// `serve` builds the plain streaming outcome with the given Cache-Control and CMSD header fields. `signed` is the
/// prefix and valid token of a signed request, whose children get the token too.
pub fn get(
    req: &Request,
    meta: &ObjectMeta,
    store: &impl Objects,
    signed: Option<&(SignedPrefix, Token)>,
    serve: impl FnOnce(String, Headers) -> Outcome,
) -> Outcome {
    let mut rewrites = match parse_rewrites(req, signed) {
        Ok(r) => r,
        Err(r) => return Outcome::Respond(r),
    };
    rewrites.abr = abr::budget_for(req, &meta.key);
    let uploader_cc = meta
        .cache_control
        .as_deref()
        .map(str::trim)
        .filter(|c| !c.is_empty());
    // Whether a rewrite the request asked for needs the text (a clock source for a live MPD is not asked
    // for: it is added when the text can be read).
    let rewriting = rewrites.filter.is_some()
        || rewrites.shift.is_some()
        || signed.is_some()
        || rewrites.abr.is_some();
    let text = match store.read(&meta.key, MAX_PLAYLIST_BYTES) {
        Ok(bytes) => bytes,
        Err(e) if rewriting => {
            return Outcome::Respond(response::error(
                500,
                &format!("cannot read {}: {e:?}", meta.key),
            ));
        }
        Err(_) => return serve(cache_control::for_object(meta), Vec::new()),
    };
    let Ok(text) = String::from_utf8(text) else {
        if rewriting {
            return Outcome::Respond(response::error(
                400,
                &format!("{} is not UTF-8 text", meta.key),
            ));
        }
        return serve(cache_control::for_object(meta), Vec::new());
    };
    if let Some(stale) = crate::stale::check(req, meta, &text, store) {
        return Outcome::Respond(stale);
    }
    let dash = extension(&meta.key).is_some_and(|e| e.eq_ignore_ascii_case("mpd"));
    if dash || !text.contains("#EXT-X-STREAM-INF") {
        // Only HLS multivariant playlists have variants to choose; others stay shared-cacheable.
        rewrites.abr = None;
    }
    if dash && text.contains("dynamic") && !text.contains("UTCTiming") {
        // A live MPD without a clock source (checked exactly once parsed).
        rewrites.utc_timing = utc_timing::source_for(req);
    }
    let mode = ad_markers::mode_for(req, &meta.key);
    if !dash && ad_markers::may_change(mode, &text) {
        rewrites.ad_markers = Some(mode);
    }
    let Rewritten {
        body: rewritten,
        ad_note,
    } = match rewrite(&text, &meta.key, dash, &rewrites) {
        Ok(r) => r,
        Err(r) => return Outcome::Respond(r),
    };
    let body = rewritten.as_deref().unwrap_or(&text);
    let cache = match rewrites.abr {
        Some(_) => abr::CACHE_CONTROL.to_string(),
        None => uploader_cc.map_or_else(|| cache_control::for_playlist(body), str::to_string),
    };
    let facts = PlaylistFacts {
        dash,
        live: is_live(body, dash),
    };
    let mut extra = vec![(cmsd::STATIC_HEADER.to_string(), cmsd::for_playlist(facts))];
    extra.extend(ad_note.map(|note| (ad_markers::NOTE_HEADER.to_string(), note)));
    match rewritten {
        None => serve(cache, extra),
        Some(body) => Outcome::Respond(generated(req, meta, body, cache, extra)),
    }
}

/// The filter and time shift in the query, or the 400 refusing them.
fn parse_rewrites<'a>(
    req: &Request,
    signed: Option<&'a (SignedPrefix, Token)>,
) -> Result<Rewrites<'a>, Response> {
    let filter =
        Filter::from_query(&req.query).map_err(|e| response::error(400, &e.to_string()))?;
    let shift = TimeShift::from_query(&req.query)
        .map_err(|e| response::error(e.status(), &e.to_string()))?;
    Ok(Rewrites {
        filter,
        shift,
        signed,
        abr: None,
        utc_timing: None,
        ad_markers: None,
    })
}

/// The manifest stored at `key` as the request has it (its text `None` when nothing changes it), or the
/// error response.
fn rewrite(text: &str, key: &str, dash: bool, r: &Rewrites<'_>) -> Result<Rewritten, Response> {
    if r.filter.is_none()
        && r.shift.is_none()
        && r.signed.is_none()
        && r.abr.is_none()
        && r.utc_timing.is_none()
        && r.ad_markers.is_none()
    {
        return Ok(Rewritten::default());
    }
    let bad = |status: u16, reason: String| response::error(status, &reason);
    if dash {
        if r.shift.is_some() {
            return Err(bad(400, TimeShiftError::NotAMediaPlaylist.to_string()));
        }
        let only_clock = r.filter.is_none() && r.signed.is_none();
        let mut mpd = match Mpd::parse(text) {
            Ok(mpd) => mpd,
            // Nothing was asked of a malformed MPD: it is served as stored.
            Err(_) if only_clock => return Ok(Rewritten::default()),
            Err(e) => return Err(bad(500, format!("stored MPD is malformed: {e}"))),
        };
        if let Some(f) = &r.filter {
            mpd = filter::dash::apply(f, &mpd).map_err(|e| bad(400, e.to_string()))?;
        }
        if let Some((signed, token)) = r.signed {
            mpd = rewrite::dash(&mpd, key, &signed.prefix, token);
        }
        if let Some(source) = &r.utc_timing
            && mpd.is_dynamic()
            && !mpd.has_utc_timing()
        {
            mpd.add_utc_timing(utc_timing::HTTP_ISO_SCHEME, source);
        }
        return Ok(Rewritten {
            body: Some(mpd.write()),
            ad_note: None,
        });
    }
    let only_ad_markers =
        r.filter.is_none() && r.shift.is_none() && r.signed.is_none() && r.abr.is_none();
    let mut p = match Playlist::parse(text) {
        Ok(p) => p,
        // Only the route's mode was to apply: a malformed playlist is served as stored.
        Err(_) if only_ad_markers => return Ok(Rewritten::default()),
        Err(e) => return Err(bad(500, format!("stored playlist is malformed: {e}"))),
    };
    let mut ad_note = None;
    if let Some(mode) = r.ad_markers {
        // First, on the whole stored playlist: a time shift may begin inside a break.
        let applied = ad_markers::apply(mode, &p);
        ad_note = applied.note;
        match applied.playlist {
            Some(converted) => p = converted,
            None if only_ad_markers => {
                return Ok(Rewritten {
                    body: None,
                    ad_note,
                });
            }
            None => {}
        }
    }
    if let Some(f) = &r.filter {
        p = filter::hls::apply(f, &p).map_err(|e| bad(400, e.to_string()))?;
    }
    if let Some(shift) = &r.shift {
        p = shift
            .apply(&p)
            .map_err(|e| bad(e.status(), e.to_string()))?;
    }
    if let Some(budget) = r.abr {
        p = abr::apply(&p, budget);
    }
    if let Some((signed, token)) = r.signed {
        p = rewrite::hls(&p, key, &signed.prefix, token);
    }
    Ok(Rewritten {
        body: Some(p.write()),
        ad_note,
    })
}

/// Whether the manifest text is of a live stream.
fn is_live(text: &str, dash: bool) -> bool {
    if dash {
        return Mpd::parse(text).is_ok_and(|m| m.is_dynamic());
    }
    Playlist::parse(text).is_ok_and(|p| p.kind() == Kind::Media && !p.is_final())
}

/// A 200 (or 304) for a rewritten manifest: its own strong entity tag, the stored one's Last-Modified.
fn generated(
    req: &Request,
    meta: &ObjectMeta,
    body: String,
    cache: String,
    extra: Headers,
) -> Response {
    let etag = format!("\"{:016x}\"", fnv1a(body.as_bytes()));
    let mut headers: Headers = vec![
        ("etag".into(), etag.clone()),
        (
            "last-modified".into(),
            crate::http_date::format(meta.last_modified),
        ),
        ("cache-control".into(), cache),
    ];
    headers.extend(extra);
    crate::cors::add_headers(&mut headers);
    let validators = ObjectMeta {
        etag,
        ..meta.clone()
    };
    if conditional::is_not_modified(req, &validators) {
        return Response {
            status: 304,
            headers,
            body: Vec::new(),
        };
    }
    headers.insert(
        0,
        ("content-type".into(), crate::handler::content_type(meta)),
    );
    Response {
        status: 200,
        headers,
        body: body.into_bytes(),
    }
}

/// FNV-1a, 64 bits: an entity tag for generated text (no security role, so no cryptographic hash).
pub(crate) fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use crate::decide;
    use crate::test_support::{MemStore, header, request, settings};
    use crate::types::{Outcome, Request, Response, ServePlan};

    const LIVE: &str = "#EXTM3U\n#EXT-X-TARGETDURATION:6\n#EXT-X-MEDIA-SEQUENCE:7\n#EXT-X-PROGRAM-DATE-TIME:2024-05-01T12:00:00Z\n#EXTINF:6,\ns7.ts\n#EXTINF:6,\ns8.ts\n#EXTINF:6,\ns9.ts\n";
    const MV: &str = "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=3000000,RESOLUTION=1280x720\nhi.m3u8\n#EXT-X-STREAM-INF:BANDWIDTH=800000,RESOLUTION=640x360\nlo.m3u8\n";

    fn store() -> MemStore {
        MemStore::default()
            .with("live/index.m3u8", LIVE.as_bytes())
            .with("live/master.m3u8", MV.as_bytes())
            .with(
                "vod/index.m3u8",
                format!("{LIVE}#EXT-X-ENDLIST\n").as_bytes(),
            )
            .with("live/s7.ts", b"ts")
            .with(
                "dash/manifest.mpd",
                include_bytes!("../tests/corpus/dash/hdr-hevc-multicodec.mpd"),
            )
    }

    fn get(path_and_query: &str, headers: &[(&str, &str)]) -> Outcome {
        let (path, query) = path_and_query
            .split_once('?')
            .unwrap_or((path_and_query, ""));
        let req = Request {
            query: query.into(),
            ..request("GET", path, headers)
        };
        decide(&req, &store())
    }

    fn served(o: Outcome) -> ServePlan {
        match o {
            Outcome::Serve(s) => s,
            other => panic!("expected Serve, got {other:?}"),
        }
    }

    fn responded(o: Outcome) -> Response {
        match o {
            Outcome::Respond(r) => r,
            other => panic!("expected Respond, got {other:?}"),
        }
    }

    fn body(r: &Response) -> &str {
        std::str::from_utf8(&r.body).unwrap()
    }

    #[test]
    fn a_live_mpd_without_a_clock_source_gets_the_origins() {
        let live =
            "<MPD type=\"dynamic\" availabilityStartTime=\"2024-05-01T12:00:00Z\"><Period/></MPD>";
        let store = MemStore::default()
            .with("live/manifest.mpd", live.as_bytes())
            .with("live/timed.mpd", b"<MPD type=\"dynamic\"><UTCTiming schemeIdUri=\"urn:mpeg:dash:utc:direct:2014\" value=\"x\"/></MPD>")
            .with("vod/manifest.mpd", b"<MPD type=\"static\"><Period/></MPD>");
        let req = request("GET", "/live/manifest.mpd", &[("host", "o.example")]);
        let r = responded(decide(&req, &store));
        assert!(
            body(&r).contains("<UTCTiming schemeIdUri=\"urn:mpeg:dash:utc:http-iso:2014\" value=\"/_strata/time\"/>"),
            "{}",
            body(&r)
        );
        for path in ["/live/timed.mpd", "/vod/manifest.mpd"] {
            served(decide(
                &request("GET", path, &[("host", "o.example")]),
                &store,
            ));
        }
        let off = Request {
            settings: settings(&[("utc_timing", "off")]),
            ..req
        };
        served(decide(&off, &store));
    }

    #[test]
    fn cache_classes_by_content() {
        let s = served(get("/live/index.m3u8", &[]));
        assert_eq!(header(&s.headers, "cache-control"), Some("max-age=3"));
        assert_eq!(
            header(&s.headers, "cmsd-static"),
            Some("ot=m,sf=h,st=l,n=\"strata\"")
        );
        let s = served(get("/vod/index.m3u8", &[]));
        assert_eq!(header(&s.headers, "cache-control"), Some("max-age=1209600"));
        assert_eq!(
            header(&s.headers, "cmsd-static"),
            Some("ot=m,sf=h,st=v,n=\"strata\"")
        );
        let s = served(get("/live/master.m3u8", &[]));
        assert_eq!(header(&s.headers, "cache-control"), Some("max-age=60"));
        let s = served(get("/dash/manifest.mpd", &[]));
        assert_eq!(
            header(&s.headers, "cmsd-static"),
            Some("ot=m,sf=d,st=v,n=\"strata\"")
        );
        let s = served(get("/live/s7.ts", &[]));
        assert_eq!(
            header(&s.headers, "cache-control"),
            Some("max-age=1209600, immutable")
        );
        assert_eq!(
            header(&s.headers, "cmsd-static"),
            // d from the EXTINF of live/index.m3u8; two bytes over six seconds round to 0 kbps.
            Some("ot=av,sf=h,d=6000,br=0,n=\"strata\"")
        );
    }

    #[test]
    fn uploader_cache_control_wins() {
        let mut st = store();
        if let Some((m, _)) = st.objects.get_mut("live/index.m3u8") {
            m.cache_control = Some("max-age=9".into());
        }
        let s = served(decide(&request("GET", "/live/index.m3u8", &[]), &st));
        assert_eq!(header(&s.headers, "cache-control"), Some("max-age=9"));
    }

    #[test]
    fn filtered_multivariant_is_its_own_response() {
        let r = responded(get(
            "/live/master.m3u8?aws.manifestfilter=video_height%3A0-480",
            &[],
        ));
        assert_eq!(r.status, 200);
        assert_eq!(
            body(&r),
            "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=800000,RESOLUTION=640x360\nlo.m3u8\n"
        );
        assert_eq!(
            header(&r.headers, "content-type"),
            Some("application/vnd.apple.mpegurl")
        );
        assert_eq!(header(&r.headers, "cache-control"), Some("max-age=60"));
        let etag = header(&r.headers, "etag").unwrap().to_string();
        assert!(etag.starts_with('"') && etag != "\"etag-live/master.m3u8\"");
        let again = responded(get(
            "/live/master.m3u8?aws.manifestfilter=video_height%3A0-480",
            &[("if-none-match", &etag)],
        ));
        assert_eq!((again.status, again.body.len()), (304, 0));
        let other = responded(get(
            "/live/master.m3u8?aws.manifestfilter=video_height:720",
            &[],
        ));
        assert_ne!(header(&other.headers, "etag").unwrap(), etag);
    }

    #[test]
    fn cmcd_caps_multivariant_playlists_only_on_routes_that_ask() {
        let cmcd = [("cmcd-request", "mtp=2000"), ("cmcd-status", "bl=20000")];
        let shared = served(get("/live/master.m3u8", &cmcd));
        assert_eq!(header(&shared.headers, "cache-control"), Some("max-age=60"));
        let mut req = request("GET", "/live/master.m3u8", &cmcd);
        req.settings = settings(&[("abr:live/", "cmcd")]);
        let r = responded(decide(&req, &store()));
        assert_eq!(
            body(&r),
            "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=800000,RESOLUTION=640x360\nlo.m3u8\n"
        );
        assert_eq!(
            header(&r.headers, "cache-control"),
            Some("private, no-cache")
        );
        let fast = [("cmcd-request", "mtp=50000")];
        let r = responded(decide(
            &Request {
                headers: request("GET", "/", &fast).headers,
                ..req.clone()
            },
            &store(),
        ));
        assert!(body(&r).ends_with(
            "hi.m3u8\n#EXT-X-STREAM-INF:BANDWIDTH=800000,RESOLUTION=640x360\nlo.m3u8\n"
        ));
        req.path = "/live/index.m3u8".into();
        let media = served(decide(&req, &store()));
        assert_eq!(header(&media.headers, "cache-control"), Some("max-age=3"));
    }

    #[test]
    fn filter_refusals_are_400() {
        let long = format!(
            "/live/master.m3u8?aws.manifestfilter=audio_language:{}",
            "a".repeat(1100)
        );
        for path in [
            long.as_str(),
            "/live/master.m3u8?aws.manifestfilter=video_height:9000",
            "/live/master.m3u8?aws.manifestfilter=video_height:1;video_height:2",
            "/live/index.m3u8?aws.manifestfilter=video_height:720",
            "/live/s7.ts?aws.manifestfilter=video_height:720",
        ] {
            let r = responded(get(path, &[]));
            assert_eq!(r.status, 400, "{path}");
            assert_eq!(header(&r.headers, "cache-control"), Some("no-store"));
        }
    }

    #[test]
    fn dash_filter_and_no_dash_time_shift() {
        let r = responded(get(
            "/dash/manifest.mpd?aws.manifestfilter=audio_language:fr",
            &[],
        ));
        assert_eq!(r.status, 200);
        assert!(body(&r).contains("aac-fr-128") && !body(&r).contains("ec3-en"));
        let r = responded(get("/dash/manifest.mpd?time_delay=10", &[]));
        assert_eq!(r.status, 400);
    }

    #[test]
    fn signed_prefixes_need_a_token_and_pass_it_on() {
        let key = "k";
        let mut req = request("GET", "/live/master.m3u8", &[]);
        req.settings = settings(&[("sign:live/", key)]);
        let r = responded(decide(&req, &store()));
        assert_eq!(r.status, 403);
        assert!(body(&r).starts_with("signed URL required"));
        let now = crate::test_support::NOW_MS / 1000;
        let sig = crate::signing::sign(key.as_bytes(), "live/", now + 60);
        req.query = format!("st_exp={}&st_sig={sig}", now + 60);
        let r = responded(decide(&req, &store()));
        assert_eq!(r.status, 200);
        assert!(body(&r).contains(&format!("\nlo.m3u8?st_exp={}&st_sig={sig}\n", now + 60)));
        // Segments under the prefix: checked, then streamed.
        let seg = Request {
            path: "/live/s7.ts".into(),
            ..req.clone()
        };
        assert!(matches!(decide(&seg, &store()), Outcome::Serve(_)));
        req.query = format!("st_exp={}&st_sig={sig}", now - 1);
        assert_eq!(responded(decide(&req, &store())).status, 403);
        // Outside the prefix: no token needed.
        let free = Request {
            path: "/vod/index.m3u8".into(),
            query: String::new(),
            ..req
        };
        assert!(matches!(decide(&free, &store()), Outcome::Serve(_)));
    }

    #[test]
    fn time_shift_to_vod_and_404() {
        let r = responded(get("/live/index.m3u8?start=1714564806&end=1714564812", &[]));
        assert_eq!(r.status, 200);
        assert!(
            body(&r).contains("#EXT-X-MEDIA-SEQUENCE:8\n")
                && body(&r).ends_with("s8.ts\n#EXT-X-ENDLIST\n")
        );
        assert_eq!(header(&r.headers, "cache-control"), Some("max-age=1209600"));
        let r = responded(get("/live/index.m3u8?start=1714560000", &[]));
        assert_eq!(
            (r.status, header(&r.headers, "cache-control")),
            (404, Some("no-store"))
        );
    }
}
