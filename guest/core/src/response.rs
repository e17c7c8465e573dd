//! The shapes of the small responses the guest writes whole: errors, 304 and plain statuses.

use crate::cache_control::NO_STORE;
use crate::cors;
use crate::types::{Headers, Response};

/// Content-Type of every error body.
pub const TEXT_PLAIN: &str = "text/plain; charset=utf-8";

/// An error: `status`, a one-line plain-text reason, `no-store` (a cache must never keep an error, which
/// may be transient) and the CORS headers, so players in browsers can read it.
///
/// Line breaks in `reason` become spaces so the body stays one line.
pub fn error(status: u16, reason: &str) -> Response {
    let mut body: String = reason
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    body.push('\n');
    let mut headers = vec![
        ("content-type".to_string(), TEXT_PLAIN.to_string()),
        ("cache-control".to_string(), NO_STORE.to_string()),
    ];
    cors::add_headers(&mut headers);
    Response {
        status,
        headers,
        body: body.into_bytes(),
    }
}

/// An error a cache may keep for a while, with `cache_control` instead of `no-store`: for refusals that
/// stay true for a known time (rfc8216bis Appendix B).
pub fn error_kept(status: u16, reason: &str, cache_control: String) -> Response {
    let mut r = error(status, reason);
    for (name, value) in &mut r.headers {
        if name == "cache-control" {
            *value = cache_control.clone();
        }
    }
    r
}

/// An error with extra header fields (`allow` on 405, `content-range` on 416).
pub fn error_with(status: u16, reason: &str, extra: Headers) -> Response {
    let mut r = error(status, reason);
    r.headers.extend(extra);
    r
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::header;

    #[test]
    fn error_shape() {
        let r = error(404, "no object at a.ts");
        assert_eq!(r.status, 404);
        assert_eq!(r.body, b"no object at a.ts\n");
        assert_eq!(header(&r.headers, "content-type"), Some(TEXT_PLAIN));
        assert_eq!(header(&r.headers, "cache-control"), Some("no-store"));
        assert_eq!(header(&r.headers, "access-control-allow-origin"), Some("*"));
        assert!(header(&r.headers, "access-control-expose-headers").is_some());
    }

    #[test]
    fn reason_stays_one_line() {
        let r = error(400, "a\r\nb");
        assert_eq!(r.body, b"a  b\n");
    }

    #[test]
    fn extra_headers() {
        let r = error_with(405, "x", vec![("allow".into(), "GET".into())]);
        assert_eq!(header(&r.headers, "allow"), Some("GET"));
    }
}
