//! The default request decision: method dispatch to the outcome the host carries out.

use crate::cache_control;
use crate::cmsd;
use crate::conditional;
use crate::cors;
use crate::filter;
use crate::http_date;
use crate::llhls;
use crate::manifest;
use crate::media_type;
use crate::media_type::{ObjectClass, class_of};
use crate::naming_playlist;
use crate::objects::Objects;
use crate::prefetch;
use crate::query;
use crate::range::{self, GrowingRange, RangeRequest};
use crate::response;
use crate::segment_wait::{self, HELD_FAILURE_TARGET_DURATIONS, HELD_SUCCESS_TARGET_DURATIONS};
use crate::signing;
use crate::ttl;
use crate::types::{
    DeletePlan, Headers, ObjectMeta, Outcome, Request, Response, ServePlan, StorePlan, WaitPlan,
};
use strata_abi::key::key_from_path;

/// Longest a Range GET of an object still uploading waits for the upload to end, when the range needs the
/// final size (`first-`, `-suffix`).
const GROWING_RANGE_WAIT_MS: u32 = 10_000;

/// Prefix of the request headers kept as custom metadata.
pub const META_PREFIX: &str = "x-strata-meta-";

/// Decides what the host does with `req`, consulting `store` for metadata and small playlists.
///
/// Never fails: every refusal is an [`Outcome::Respond`] with a one-line reason.
pub fn decide(req: &Request, store: &impl Objects) -> Outcome {
    let method = req.method.as_str();
    if !matches!(
        method,
        "GET" | "HEAD" | "PUT" | "POST" | "DELETE" | "OPTIONS"
    ) {
        return Outcome::Respond(response::error_with(
            405,
            &format!("method {method} not allowed"),
            vec![("allow".into(), cors::ALLOW_METHODS.into())],
        ));
    }
    if method == "OPTIONS" {
        return Outcome::Respond(cors::preflight(req));
    }
    let key = match key_from_path(&req.path) {
        Ok(key) => key,
        Err(e) => return Outcome::Respond(response::error(400, &e.to_string())),
    };
    if let Some(outcome) = crate::redundant::decide(req, &key, store) {
        return outcome;
    }
    match method {
        "PUT" | "POST" => put(req, key, store),
        "DELETE" => Outcome::Delete(DeletePlan {
            key,
            status: 204,
            headers: cors::headers(),
        }),
        _ => get(req, key, store),
    }
}

/// PUT and POST: store the body under `key`, refusing a declared length over the limit.
fn put(req: &Request, key: String, store: &impl Objects) -> Outcome {
    let max = req.limits.max_object_bytes;
    if let Some(len) = req
        .header("content-length")
        .and_then(|v| v.trim().parse::<u64>().ok())
        .filter(|len| *len > max)
    {
        return Outcome::Respond(response::error(
            413,
            &format!("object too large: {len} bytes, the limit is {max} bytes"),
        ));
    }
    let ttl_seconds = match ttl::requested(req) {
        Ok(ttl) => ttl,
        Err(reason) => return Outcome::Respond(response::error(400, &reason)),
    };
    let content_type =
        media_type::recorded_content_type(&key, non_empty_header(req, "content-type")).to_string();
    let cache_control = non_empty_header(req, "cache-control").map(str::to_string);
    let metadata = req
        .headers
        .iter()
        .filter(|(n, _)| {
            n.get(..META_PREFIX.len())
                .is_some_and(|p| p.eq_ignore_ascii_case(META_PREFIX))
        })
        .map(|(n, v)| (n.to_ascii_lowercase(), v.clone()))
        .collect();
    let status = if store.head(&key).is_some() { 204 } else { 201 };
    Outcome::Store(StorePlan {
        key,
        content_type,
        cache_control,
        metadata,
        status,
        headers: cors::headers(),
        ttl_seconds,
    })
}

/// GET and HEAD: 403 without a valid token under a signed prefix, 304, serve (whole or a range), 416, wait
/// for an announced segment, or 404; playlists go through [`manifest`] for filters, time shift, token
/// propagation and their Cache-Control class.
pub(crate) fn get(req: &Request, key: String, store: &impl Objects) -> Outcome {
    if class_of(&key) != ObjectClass::Playlist && query::param(&req.query, filter::PARAM).is_some()
    {
        return Outcome::Respond(response::error(
            400,
            &filter::FilterError::NotAManifest.to_string(),
        ));
    }
    let signed = match signing::covering(&req.settings, &key) {
        Some(prefix) => match signing::verify(&prefix, &req.query, req.now_ms / 1000) {
            Ok(token) => Some((prefix, token)),
            Err(reason) => return Outcome::Respond(response::error(403, &reason)),
        },
        None => None,
    };
    let Some(meta) = store.head(&key) else {
        if req.waited_ms == 0
            && let Some(wait) = segment_wait::plan(&key, store)
        {
            return Outcome::Wait(wait);
        }
        let reason = format!("no object at {key}");
        // A request held for an announced segment or part that did not come: Appendix B lets a CDN keep
        // that 404 one target duration. Any other miss may be transient: `no-store`.
        let held = (req.waited_ms > 0)
            .then(|| naming_playlist::find(&key, store))
            .flatten()
            .and_then(|naming| {
                segment_wait::held_cache_control(&naming, HELD_FAILURE_TARGET_DURATIONS)
            });
        return Outcome::Respond(match held {
            Some(cache_control) => response::error_kept(404, &reason, cache_control),
            None => response::error(404, &reason),
        });
    };
    if let Some(outcome) = llhls::decide(req, &key, &meta, store, signed.as_ref()) {
        return outcome;
    }
    if conditional::is_not_modified(req, &meta) {
        return Outcome::Respond(not_modified(&meta));
    }
    if !meta.complete {
        // Only a request held for it needs the naming playlist (its caching); growing objects get no CMSD.
        let naming = (req.waited_ms > 0)
            .then(|| naming_playlist::find(&key, store))
            .flatten();
        return get_growing(req, key, &meta, naming.as_deref());
    }
    // The playlist naming a segment, read once: its CMSD facts and, for a request held for it, its caching.
    let naming = (class_of(&key) == ObjectClass::Segment)
        .then(|| naming_playlist::find(&key, store))
        .flatten();
    // RFC 9110 §14.2: only GET has range semantics; HEAD ignores Range.
    let range = match req.header("range") {
        Some(value) if req.method == "GET" && conditional::range_applies(req, &meta) => {
            range::evaluate(value, meta.size)
        }
        _ => RangeRequest::Whole,
    };
    let (status, range) = match range {
        RangeRequest::Whole => (200, None),
        RangeRequest::Partial(r) => (206, Some(r)),
        RangeRequest::Unsatisfiable => {
            return Outcome::Respond(response::error_with(
                416,
                &format!("range not satisfiable: {key} is {} bytes", meta.size),
                vec![("content-range".into(), format!("bytes */{}", meta.size))],
            ));
        }
    };
    let serve = |cache_control: String, cmsd: Headers| {
        Outcome::Serve(ServePlan {
            status,
            range,
            etag: meta.etag.clone(),
            headers: serve_headers(&meta, cache_control, cmsd),
            key: key.clone(),
            prefetch: prefetch::next_keys(req, &key),
        })
    };
    if class_of(&key) == ObjectClass::Playlist {
        return manifest::get(req, &meta, store, signed.as_ref(), serve);
    }
    let cache_control = held_cache_control(req, &meta, naming.as_deref())
        .unwrap_or_else(|| cache_control::for_object(&meta));
    serve(
        cache_control,
        cmsd::for_object_response(req, &key, meta.size, naming.as_deref()),
    )
}

/// For a request that was held until its segment or part arrived, and whose uploader gave no
/// Cache-Control: six target durations (Appendix B, blocking part requests).
fn held_cache_control(req: &Request, meta: &ObjectMeta, naming: Option<&str>) -> Option<String> {
    let uploader_said = meta
        .cache_control
        .as_deref()
        .is_some_and(|given| !given.trim().is_empty());
    if req.waited_ms == 0 || uploader_said {
        return None;
    }
    segment_wait::held_cache_control(naming?, HELD_SUCCESS_TARGET_DURATIONS)
}

/// GET and HEAD of an object whose upload is still arriving: stream it (whole, or a closed range) as it
/// lands; a range that needs the final size waits once for the upload to end, then is served whole if the
/// upload is still going.
fn get_growing(req: &Request, key: String, meta: &ObjectMeta, naming: Option<&str>) -> Outcome {
    let range = match req.header("range") {
        Some(value) if req.method == "GET" => range::evaluate_growing(value),
        _ => GrowingRange::Whole,
    };
    let (status, range) = match range {
        GrowingRange::Partial(r) => (206, Some(r)),
        GrowingRange::NeedsSize if req.waited_ms == 0 => {
            return Outcome::Wait(WaitPlan {
                key,
                unless_etag: Some(meta.etag.clone()),
                timeout_ms: GROWING_RANGE_WAIT_MS,
            });
        }
        GrowingRange::NeedsSize | GrowingRange::Whole => (200, None),
    };
    // The content is not final: no validator a cache could keep, and no caching, unless the request was
    // held for it (a preload-hinted part: Appendix B lets a CDN keep it six target durations).
    let cache_control =
        held_cache_control(req, meta, naming).unwrap_or_else(|| cache_control::NO_STORE.into());
    let mut headers = serve_headers(meta, cache_control, Vec::new());
    headers.retain(|(name, _)| name != "etag" && name != "accept-ranges");
    Outcome::Serve(ServePlan {
        status,
        range,
        etag: meta.etag.clone(),
        headers,
        key,
        prefetch: Vec::new(),
    })
}

/// The Content-Type recorded for `meta`, or the one its extension implies when none was.
pub fn content_type(meta: &ObjectMeta) -> String {
    if meta.content_type.trim().is_empty() {
        media_type::content_type_for(&meta.key).to_string()
    } else {
        meta.content_type.clone()
    }
}

/// The headers of a 200 or 206: representation metadata, validators, caching, CMSD, custom metadata, CORS.
fn serve_headers(meta: &ObjectMeta, cache_control: String, cmsd: Headers) -> Headers {
    let mut h: Headers = vec![
        ("content-type".into(), content_type(meta)),
        ("etag".into(), meta.etag.clone()),
        (
            "last-modified".into(),
            http_date::format(meta.last_modified),
        ),
        ("cache-control".into(), cache_control),
        ("accept-ranges".into(), "bytes".into()),
    ];
    if media_type::is_active_document(&h[0].1) {
        h.push(("content-security-policy".into(), "sandbox".into()));
        h.push(("x-content-type-options".into(), "nosniff".into()));
    }
    h.extend(cmsd);
    h.extend(meta.metadata.iter().cloned());
    cors::add_headers(&mut h);
    h
}

/// A 304: the validators and caching a cache needs to refresh its copy, no body.
fn not_modified(meta: &ObjectMeta) -> Response {
    let mut headers: Headers = vec![
        ("etag".into(), meta.etag.clone()),
        (
            "last-modified".into(),
            http_date::format(meta.last_modified),
        ),
        ("cache-control".into(), cache_control::for_object(meta)),
    ];
    cors::add_headers(&mut headers);
    Response {
        status: 304,
        headers,
        body: Vec::new(),
    }
}

/// The trimmed value of header `name`, if present and not blank.
fn non_empty_header<'a>(req: &'a Request, name: &str) -> Option<&'a str> {
    req.header(name).map(str::trim).filter(|v| !v.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{MemStore, header, request};
    use crate::types::ByteRange;

    fn respond(o: Outcome) -> Response {
        match o {
            Outcome::Respond(r) => r,
            other => panic!("expected Respond, got {other:?}"),
        }
    }

    fn serve(o: Outcome) -> ServePlan {
        match o {
            Outcome::Serve(s) => s,
            other => panic!("expected Serve, got {other:?}"),
        }
    }

    fn stored(o: Outcome) -> StorePlan {
        match o {
            Outcome::Store(s) => s,
            other => panic!("expected Store, got {other:?}"),
        }
    }

    fn assert_error(r: &Response, status: u16, reason_start: &str) {
        assert_eq!(r.status, status);
        let body = String::from_utf8_lossy(&r.body);
        assert!(body.starts_with(reason_start), "{body}");
        assert!(
            body.ends_with('\n') && body.matches('\n').count() == 1,
            "{body}"
        );
        assert_eq!(
            header(&r.headers, "content-type"),
            Some(response::TEXT_PLAIN)
        );
        assert_eq!(header(&r.headers, "cache-control"), Some("no-store"));
        assert_eq!(header(&r.headers, "access-control-allow-origin"), Some("*"));
    }

    fn ten_bytes() -> MemStore {
        MemStore::default().with("v/seg1.ts", b"0123456789")
    }

    const ETAG: &str = "\"etag-v/seg1.ts\"";

    // --- methods ---

    #[test]
    fn unknown_method_is_405_with_allow() {
        let r = respond(decide(
            &request("PATCH", "/a.ts", &[]),
            &MemStore::default(),
        ));
        assert_error(&r, 405, "method PATCH not allowed");
        assert_eq!(
            header(&r.headers, "allow"),
            Some("GET, HEAD, PUT, POST, DELETE, OPTIONS")
        );
        // Methods are case-sensitive.
        let r = respond(decide(&request("get", "/a.ts", &[]), &MemStore::default()));
        assert_eq!(r.status, 405);
    }

    #[test]
    fn options_is_preflight_whatever_the_path() {
        for path in ["/a.ts", "/", "*"] {
            let r = respond(decide(&request("OPTIONS", path, &[]), &MemStore::default()));
            assert_eq!(r.status, 204, "{path}");
            assert!(header(&r.headers, "access-control-allow-methods").is_some());
        }
    }

    #[test]
    fn bad_path_is_400() {
        for method in ["GET", "HEAD", "PUT", "POST", "DELETE"] {
            let r = respond(decide(
                &request(method, "/a/%2e%2e/b.ts", &[]),
                &MemStore::default(),
            ));
            assert_error(&r, 400, "bad path: '..' segment not allowed");
        }
        let long = format!("/{}", "a".repeat(1025));
        let r = respond(decide(&request("GET", &long, &[]), &MemStore::default()));
        assert_error(&r, 400, "bad path: key is 1025 bytes");
    }

    // --- PUT / POST ---

    #[test]
    fn put_new_object() {
        let p = stored(decide(
            &request("PUT", "/live/index.m3u8", &[]),
            &MemStore::default(),
        ));
        assert_eq!(p.key, "live/index.m3u8");
        assert_eq!(p.status, 201);
        assert_eq!(p.content_type, "application/vnd.apple.mpegurl");
        assert_eq!(p.cache_control, None);
        assert!(p.metadata.is_empty());
        assert_eq!(header(&p.headers, "access-control-allow-origin"), Some("*"));
        assert!(header(&p.headers, "access-control-expose-headers").is_some());
    }

    #[test]
    fn put_overwrite_is_204_and_post_is_put() {
        let p = stored(decide(&request("POST", "/v/seg1.ts", &[]), &ten_bytes()));
        assert_eq!(p.status, 204);
        assert_eq!(p.content_type, "video/mp2t");
    }

    #[test]
    fn put_keeps_content_type_cache_control_and_metadata() {
        let p = stored(decide(
            &request(
                "PUT",
                "/a.ts",
                &[
                    ("content-type", "video/custom"),
                    ("cache-control", "max-age=7"),
                    ("x-strata-meta-title", "Hello"),
                    ("x-other", "no"),
                    ("x-strata-meta-lang", "fr"),
                ],
            ),
            &MemStore::default(),
        ));
        assert_eq!(p.content_type, "video/custom");
        assert_eq!(p.cache_control.as_deref(), Some("max-age=7"));
        assert_eq!(
            p.metadata,
            vec![
                ("x-strata-meta-title".to_string(), "Hello".to_string()),
                ("x-strata-meta-lang".to_string(), "fr".to_string()),
            ]
        );
    }

    #[test]
    fn put_blank_content_type_uses_extension() {
        let p = stored(decide(
            &request("PUT", "/a.M4S", &[("content-type", " ")]),
            &MemStore::default(),
        ));
        assert_eq!(p.content_type, "video/iso.segment");
        let p = stored(decide(&request("PUT", "/a.bin", &[]), &MemStore::default()));
        assert_eq!(p.content_type, "application/octet-stream");
    }

    #[test]
    fn put_too_large_is_413() {
        let limit = (1u64 << 20).to_string();
        let over = ((1u64 << 20) + 1).to_string();
        let r = respond(decide(
            &request("PUT", "/a.ts", &[("content-length", &over)]),
            &MemStore::default(),
        ));
        assert_error(&r, 413, "object too large");
        // At the limit, or unparsable (the host enforces the real length): accepted.
        for cl in [limit.as_str(), "junk"] {
            let o = decide(
                &request("PUT", "/a.ts", &[("content-length", cl)]),
                &MemStore::default(),
            );
            assert!(matches!(o, Outcome::Store(_)), "{cl}");
        }
    }

    // --- DELETE ---

    #[test]
    fn delete_with_empty_chunked_body() {
        let o = decide(
            &request("DELETE", "/v/seg1.ts", &[("transfer-encoding", "chunked")]),
            &MemStore::default(),
        );
        let Outcome::Delete(d) = o else {
            panic!("expected Delete, got {o:?}");
        };
        assert_eq!(d.key, "v/seg1.ts");
        assert_eq!(d.status, 204);
        assert_eq!(header(&d.headers, "access-control-allow-origin"), Some("*"));
    }

    // --- GET / HEAD ---

    #[test]
    fn stored_pages_are_served_sandboxed() {
        let mut store = ten_bytes();
        if let Some((m, _)) = store.objects.get_mut("v/seg1.ts") {
            m.content_type = "text/html; charset=utf-8".into();
        }
        let s = serve(decide(&request("GET", "/v/seg1.ts", &[]), &store));
        assert_eq!(
            header(&s.headers, "content-security-policy"),
            Some("sandbox")
        );
        assert_eq!(
            header(&s.headers, "x-content-type-options"),
            Some("nosniff")
        );
        let media = serve(decide(&request("GET", "/v/seg1.ts", &[]), &ten_bytes()));
        assert_eq!(header(&media.headers, "content-security-policy"), None);
    }

    #[test]
    fn get_serves_whole_object_with_headers() {
        let mut store = ten_bytes();
        if let Some((m, _)) = store.objects.get_mut("v/seg1.ts") {
            m.metadata = vec![("x-strata-meta-title".into(), "Hi".into())];
        }
        for method in ["GET", "HEAD"] {
            let s = serve(decide(&request(method, "/v/seg1.ts", &[]), &store));
            assert_eq!(s.key, "v/seg1.ts");
            assert_eq!(s.status, 200);
            assert_eq!(s.range, None);
            assert_eq!(s.etag, ETAG);
            let h = &s.headers;
            assert_eq!(header(h, "content-type"), Some("video/mp2t"));
            assert_eq!(header(h, "etag"), Some(ETAG));
            assert_eq!(
                header(h, "last-modified"),
                Some("Sun, 06 Nov 1994 08:49:37 GMT")
            );
            assert_eq!(
                header(h, "cache-control"),
                Some("max-age=1209600, immutable")
            );
            assert_eq!(header(h, "accept-ranges"), Some("bytes"));
            assert_eq!(header(h, "x-strata-meta-title"), Some("Hi"));
            assert_eq!(header(h, "access-control-allow-origin"), Some("*"));
            assert_eq!(
                header(h, "access-control-expose-headers"),
                Some(cors::EXPOSE_HEADERS)
            );
        }
    }

    #[test]
    fn get_uses_uploader_cache_control() {
        let mut store = ten_bytes();
        if let Some((m, _)) = store.objects.get_mut("v/seg1.ts") {
            m.cache_control = Some("max-age=3".into());
        }
        let s = serve(decide(&request("GET", "/v/seg1.ts", &[]), &store));
        assert_eq!(header(&s.headers, "cache-control"), Some("max-age=3"));
    }

    #[test]
    fn if_none_match_gives_304() {
        for inm in [ETAG, "*", "\"x\", W/\"etag-v/seg1.ts\""] {
            let r = respond(decide(
                &request("GET", "/v/seg1.ts", &[("if-none-match", inm)]),
                &ten_bytes(),
            ));
            assert_eq!(r.status, 304, "{inm}");
            assert!(r.body.is_empty());
            assert_eq!(header(&r.headers, "etag"), Some(ETAG));
            assert!(header(&r.headers, "last-modified").is_some());
            assert_eq!(
                header(&r.headers, "cache-control"),
                Some("max-age=1209600, immutable")
            );
            assert_eq!(header(&r.headers, "access-control-allow-origin"), Some("*"));
        }
        let o = decide(
            &request("GET", "/v/seg1.ts", &[("if-none-match", "\"stale\"")]),
            &ten_bytes(),
        );
        assert_eq!(serve(o).status, 200);
    }

    #[test]
    fn if_modified_since_gives_304() {
        let r = respond(decide(
            &request(
                "HEAD",
                "/v/seg1.ts",
                &[("if-modified-since", "Sun, 06 Nov 1994 08:49:37 GMT")],
            ),
            &ten_bytes(),
        ));
        assert_eq!(r.status, 304);
    }

    #[test]
    fn range_gives_206() {
        let cases = [
            ("bytes=0-3", 0, 3),
            ("bytes=8-", 8, 9),
            ("bytes=-2", 8, 9),
            ("bytes=5-100", 5, 9),
            ("bytes=9-9", 9, 9),
        ];
        for (h, first, last) in cases {
            let s = serve(decide(
                &request("GET", "/v/seg1.ts", &[("range", h)]),
                &ten_bytes(),
            ));
            assert_eq!(s.status, 206, "{h}");
            assert_eq!(s.range, Some(ByteRange { first, last }), "{h}");
        }
    }

    #[test]
    fn unusable_range_serves_whole() {
        for h in ["bytes=0-1,4-5", "bytes=3-1", "lines=1-2"] {
            let s = serve(decide(
                &request("GET", "/v/seg1.ts", &[("range", h)]),
                &ten_bytes(),
            ));
            assert_eq!((s.status, s.range), (200, None), "{h}");
        }
        // HEAD ignores Range.
        let s = serve(decide(
            &request("HEAD", "/v/seg1.ts", &[("range", "bytes=0-1")]),
            &ten_bytes(),
        ));
        assert_eq!(s.status, 200);
    }

    #[test]
    fn unsatisfiable_range_is_416() {
        for h in ["bytes=10-", "bytes=10-20", "bytes=-0"] {
            let r = respond(decide(
                &request("GET", "/v/seg1.ts", &[("range", h)]),
                &ten_bytes(),
            ));
            assert_error(&r, 416, "range not satisfiable");
            assert_eq!(
                header(&r.headers, "content-range"),
                Some("bytes */10"),
                "{h}"
            );
        }
    }

    #[test]
    fn if_range_keeps_or_drops_the_range() {
        let get = |if_range: &str| {
            serve(decide(
                &request(
                    "GET",
                    "/v/seg1.ts",
                    &[("range", "bytes=0-1"), ("if-range", if_range)],
                ),
                &ten_bytes(),
            ))
            .status
        };
        assert_eq!(get(ETAG), 206);
        assert_eq!(get("Sun, 06 Nov 1994 08:49:37 GMT"), 206);
        assert_eq!(get("\"changed\""), 200);
        assert_eq!(get("W/\"etag-v/seg1.ts\""), 200);
        assert_eq!(get("Sun, 06 Nov 1994 08:49:38 GMT"), 200);
    }

    #[test]
    fn not_modified_wins_over_range() {
        let r = respond(decide(
            &request(
                "GET",
                "/v/seg1.ts",
                &[("range", "bytes=50-"), ("if-none-match", ETAG)],
            ),
            &ten_bytes(),
        ));
        assert_eq!(r.status, 304);
    }

    #[test]
    fn segment_get_carries_cmsd_d_br_and_mb_under_load() {
        let playlist = b"#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2.000,\nseg1.ts\n\
            #EXT-X-BITRATE:1500\n#EXTINF:2,\nseg2.ts\n";
        let store = ten_bytes().with("v/index.m3u8", playlist);
        let mut req = request("GET", "/v/seg1.ts", &[]);
        let s = serve(decide(&req, &store));
        // 80 bits over 2000 ms round to 0 kbps.
        assert_eq!(
            header(&s.headers, cmsd::STATIC_HEADER),
            Some("ot=av,sf=h,d=2000,br=0,n=\"strata\"")
        );
        req.load_permille = 1000;
        let s = serve(decide(&req, &store));
        // A bitrate of 0 suggests nothing.
        assert_eq!(header(&s.headers, cmsd::DYNAMIC_HEADER), None);
        let store = store.with("v/seg2.ts", b"x");
        let mut req = request("GET", "/v/seg2.ts", &[]);
        let s = serve(decide(&req, &store));
        assert_eq!(
            header(&s.headers, cmsd::STATIC_HEADER),
            Some("ot=av,sf=h,d=2000,br=1500,n=\"strata\"")
        );
        assert_eq!(header(&s.headers, cmsd::DYNAMIC_HEADER), None);
        req.load_permille = 1000;
        let s = serve(decide(&req, &store));
        assert_eq!(
            header(&s.headers, cmsd::DYNAMIC_HEADER),
            Some("\"strata\";mb=1200")
        );
    }

    // --- missing objects ---

    #[test]
    fn an_object_still_uploading_streams() {
        let mut store = ten_bytes();
        if let Some((m, _)) = store.objects.get_mut("v/seg1.ts") {
            m.complete = false;
            m.size = 4;
        }
        let s = serve(decide(&request("GET", "/v/seg1.ts", &[]), &store));
        assert_eq!((s.status, s.range), (200, None));
        assert_eq!(header(&s.headers, "cache-control"), Some("no-store"));
        assert_eq!(header(&s.headers, "etag"), None);
        // A closed range past what has arrived is kept: the host streams it as it lands.
        let s = serve(decide(
            &request("GET", "/v/seg1.ts", &[("range", "bytes=2-7")]),
            &store,
        ));
        assert_eq!(
            (s.status, s.range),
            (206, Some(ByteRange { first: 2, last: 7 }))
        );
        // An open range needs the final size: wait for the upload once, then serve whole.
        let mut req = request("GET", "/v/seg1.ts", &[("range", "bytes=2-")]);
        assert_eq!(
            decide(&req, &store),
            Outcome::Wait(WaitPlan {
                key: "v/seg1.ts".into(),
                unless_etag: Some(ETAG.into()),
                timeout_ms: GROWING_RANGE_WAIT_MS,
            })
        );
        req.waited_ms = 10;
        assert_eq!(serve(decide(&req, &store)).status, 200);
    }

    #[test]
    fn put_passes_the_requested_ttl_or_refuses_a_bad_one() {
        let mut req = request("PUT", "/live/a.ts", &[("x-strata-ttl", "30")]);
        assert_eq!(
            stored(decide(&req, &MemStore::default())).ttl_seconds,
            Some(30)
        );
        req.headers.clear();
        req.query = "ttl=abc".into();
        let r = respond(decide(&req, &MemStore::default()));
        assert_error(&r, 400, "ttl must be a whole number");
    }

    #[test]
    fn missing_is_404_no_store() {
        let r = respond(decide(&request("GET", "/v/none.txt", &[]), &ten_bytes()));
        assert_error(&r, 404, "no object at v/none.txt");
        assert_eq!(
            r.headers
                .iter()
                .filter(|(n, _)| n == "cache-control")
                .count(),
            1
        );
    }

    #[test]
    fn missing_segment_named_by_playlist_waits_once() {
        let playlist = b"#EXTM3U\n#EXT-X-TARGETDURATION:6\n#EXTINF:6,\nseg2.ts\n";
        let store = ten_bytes().with("v/index.m3u8", playlist);
        let mut req = request("GET", "/v/seg2.ts", &[]);
        assert_eq!(
            decide(&req, &store),
            Outcome::Wait(WaitPlan {
                key: "v/seg2.ts".into(),
                unless_etag: None,
                timeout_ms: 6_000,
            })
        );
        // After the wait: 404, not another wait, kept one target duration (Appendix B).
        req.waited_ms = 6_000;
        let r = respond(decide(&req, &store));
        assert_eq!(r.status, 404);
        assert_eq!(header(&r.headers, "cache-control"), Some("max-age=6"));
        // Not named: 404 at once, not kept.
        let req = request("GET", "/v/seg3.ts", &[]);
        assert_error(
            &respond(decide(&req, &store)),
            404,
            "no object at v/seg3.ts",
        );
    }

    #[test]
    fn a_segment_held_for_is_kept_six_target_durations_unless_the_uploader_said() {
        let playlist = b"#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2,\nseg1.ts\n";
        let mut store = ten_bytes().with("v/index.m3u8", playlist);
        let mut req = request("GET", "/v/seg1.ts", &[]);
        let cache_control = |req: &Request, store: &MemStore| {
            header(&serve(decide(req, store)).headers, "cache-control").map(str::to_string)
        };
        assert_eq!(
            cache_control(&req, &store).as_deref(),
            Some("max-age=1209600, immutable")
        );
        req.waited_ms = 900;
        assert_eq!(cache_control(&req, &store).as_deref(), Some("max-age=12"));
        if let Some((meta, _)) = store.objects.get_mut("v/seg1.ts") {
            meta.cache_control = Some("max-age=30".into());
        }
        assert_eq!(cache_control(&req, &store).as_deref(), Some("max-age=30"));
    }
}
