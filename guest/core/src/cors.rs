//! CORS: players in browsers fetch from another origin, so every response allows any origin and exposes
//! the headers players read (ETag, Content-Range, CMSD, ...); preflights are answered here.

use crate::types::{Headers, Request, Response};

/// The methods the data plane answers, for preflights and `Allow`.
pub const ALLOW_METHODS: &str = "GET, HEAD, PUT, POST, DELETE, OPTIONS";

/// Response headers a browser script may read. `Date` is among them because dash.js syncs its clock to the
/// MPD response's `Date` when the MPD names no `UTCTiming` source; without it live DASH stops playing.
pub const EXPOSE_HEADERS: &str = "Date, ETag, Content-Length, Content-Range, Accept-Ranges, Last-Modified, CMSD-Static, CMSD-Dynamic, Age";

/// Request headers allowed when the preflight did not name any: those players and encoders send
/// (CMCD headers trigger preflights).
pub const DEFAULT_ALLOW_HEADERS: &str = "range, if-none-match, if-modified-since, if-range, \
    content-type, authorization, cache-control, cmcd-object, cmcd-request, cmcd-session, cmcd-status";

/// How long a browser may cache a preflight answer, in seconds (one day).
pub const MAX_AGE_SECS: &str = "86400";

/// Appends the CORS headers every response carries.
pub fn add_headers(headers: &mut Headers) {
    headers.push(("access-control-allow-origin".into(), "*".into()));
    headers.push((
        "access-control-expose-headers".into(),
        EXPOSE_HEADERS.into(),
    ));
}

/// The CORS headers every response carries, as a fresh list.
pub fn headers() -> Headers {
    let mut h = Headers::new();
    add_headers(&mut h);
    h
}

/// The answer to an `OPTIONS` request: 204 with the preflight headers.
///
/// Requested headers are echoed so any header a player or encoder sends is allowed.
pub fn preflight(req: &Request) -> Response {
    let requested = req
        .header("access-control-request-headers")
        .map(str::trim)
        .filter(|v| !v.is_empty());
    let mut headers = headers();
    headers.push(("access-control-allow-methods".into(), ALLOW_METHODS.into()));
    headers.push((
        "access-control-allow-headers".into(),
        requested.unwrap_or(DEFAULT_ALLOW_HEADERS).into(),
    ));
    headers.push(("access-control-max-age".into(), MAX_AGE_SECS.into()));
    if requested.is_some() {
        // The answer depends on the request: a shared cache must key it on that header.
        headers.push(("vary".into(), "access-control-request-headers".into()));
    }
    Response {
        status: 204,
        headers,
        body: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{header, request};

    #[test]
    fn common_headers() {
        let h = headers();
        assert_eq!(header(&h, "access-control-allow-origin"), Some("*"));
        assert_eq!(
            header(&h, "access-control-expose-headers"),
            Some(EXPOSE_HEADERS)
        );
    }

    #[test]
    fn preflight_defaults() {
        let r = preflight(&request("OPTIONS", "/a.ts", &[]));
        assert_eq!(r.status, 204);
        assert!(r.body.is_empty());
        assert_eq!(header(&r.headers, "access-control-allow-origin"), Some("*"));
        assert_eq!(
            header(&r.headers, "access-control-allow-methods"),
            Some("GET, HEAD, PUT, POST, DELETE, OPTIONS")
        );
        let allowed = header(&r.headers, "access-control-allow-headers").unwrap_or_default();
        for h in [
            "range",
            "if-none-match",
            "content-type",
            "authorization",
            "cmcd-request",
        ] {
            assert!(allowed.contains(h), "{h}");
        }
        assert_eq!(header(&r.headers, "access-control-max-age"), Some("86400"));
        assert_eq!(header(&r.headers, "vary"), None);
    }

    #[test]
    fn preflight_echoes_requested_headers() {
        let r = preflight(&request(
            "OPTIONS",
            "/a.ts",
            &[("access-control-request-headers", "x-custom, cmcd-session")],
        ));
        assert_eq!(
            header(&r.headers, "access-control-allow-headers"),
            Some("x-custom, cmcd-session")
        );
        assert_eq!(
            header(&r.headers, "vary"),
            Some("access-control-request-headers")
        );
    }
}
