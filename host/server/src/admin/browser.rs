//! Admin requests a browser sends on behalf of another site. The admin token is a header the console
//! adds, never an ambient credential, but without a token the API trusts any loopback client, and a
//! browser on the operator's machine is one: a page elsewhere could make it POST a rollback or a harvest
//! (a cross-site form or `no-cors` fetch needs no preflight), or rebind its own name to 127.0.0.1 and then
//! read and write the API as if it were this origin.
//!
//! So a write that a browser says comes from another origin (`Sec-Fetch-Site`, else `Origin`) is refused
//! whatever the token setting, and without a token a browser's request must name this host by a loopback
//! address or `localhost`. Clients that are not browsers (curl, the CLI, encoders) send neither header and
//! are not affected.

use std::net::IpAddr;

use http::{HeaderMap, Method, Response, StatusCode, header};

use crate::http::{ResponseBody, error_response};

/// `None` when the request is not a browser's on another site's behalf, else the refusal to send.
pub fn refusal(
    method: &Method,
    headers: &HeaderMap,
    token_configured: bool,
) -> Option<Response<ResponseBody>> {
    let browser = headers.contains_key("sec-fetch-site") || headers.contains_key(header::ORIGIN);
    let writes = !matches!(*method, Method::GET | Method::HEAD);
    if writes && cross_origin(headers) {
        return Some(error_response(
            StatusCode::FORBIDDEN,
            "the admin API refuses writes a browser sends from another origin",
        ));
    }
    if browser && !token_configured && !loopback_host(headers) {
        return Some(error_response(
            StatusCode::FORBIDDEN,
            "without an admin token, a browser must reach the admin API at a loopback address or localhost",
        ));
    }
    None
}

/// Whether the browser says the request comes from a page of another origin (or from none it names).
fn cross_origin(headers: &HeaderMap) -> bool {
    let value = |name| headers.get(name).and_then(|v| v.to_str().ok());
    if let Some(site) = headers.get("sec-fetch-site") {
        return !matches!(site.to_str(), Ok("same-origin" | "none"));
    }
    match value(header::ORIGIN.as_str()) {
        None => false,
        Some(origin) => {
            let authority = origin.split_once("://").map(|(_, rest)| rest);
            authority.is_none() || authority != value(header::HOST.as_str())
        }
    }
}

/// Whether the `Host` header names a loopback address or `localhost`, with or without a port.
fn loopback_host(headers: &HeaderMap) -> bool {
    let Some(host) = headers.get(header::HOST).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let name = match host.strip_prefix('[') {
        Some(bracketed) => bracketed.split(']').next().unwrap_or_default(),
        None => host.rsplit_once(':').map_or(host, |(name, _)| name),
    };
    name.eq_ignore_ascii_case("localhost")
        || name.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use http::HeaderValue;

    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        pairs
            .iter()
            .map(|(name, value)| {
                (
                    header::HeaderName::from_static(name),
                    HeaderValue::from_static(value),
                )
            })
            .collect()
    }

    fn refused(method: Method, pairs: &[(&'static str, &'static str)], token: bool) -> bool {
        refusal(&method, &headers(pairs), token).is_some()
    }

    #[test]
    fn cross_site_writes_are_refused_with_or_without_a_token() {
        for token in [true, false] {
            let host = ("host", "127.0.0.1:8080");
            for site in ["cross-site", "same-site"] {
                assert!(refused(
                    Method::POST,
                    &[host, ("sec-fetch-site", site)],
                    token
                ));
            }
            assert!(refused(
                Method::PUT,
                &[host, ("origin", "http://evil.example")],
                token
            ));
            assert!(refused(Method::POST, &[host, ("origin", "null")], token));
            assert!(refused(
                Method::POST,
                &[host, ("origin", "http://127.0.0.1:9090")],
                token
            ));
            // The console's own calls, and clients that are not browsers.
            assert!(!refused(
                Method::POST,
                &[host, ("sec-fetch-site", "same-origin")],
                token
            ));
            assert!(!refused(
                Method::PUT,
                &[host, ("origin", "http://127.0.0.1:8080")],
                token
            ));
            assert!(!refused(Method::POST, &[host], token));
        }
        // A cross-site read cannot see the answer (no CORS): a link to the console still opens it.
        assert!(!refused(
            Method::GET,
            &[("host", "localhost:8080"), ("sec-fetch-site", "cross-site")],
            false
        ));
    }

    #[test]
    fn without_a_token_browsers_must_name_a_loopback_host() {
        let browser = ("sec-fetch-site", "same-origin");
        for host in [
            "127.0.0.1:8080",
            "localhost",
            "LOCALHOST:1",
            "[::1]:8080",
            "127.1.2.3",
        ] {
            assert!(
                !refused(Method::GET, &[("host", host), browser], false),
                "{host}"
            );
        }
        // A page that rebound its own name to 127.0.0.1.
        assert!(refused(
            Method::GET,
            &[("host", "evil.example:8080"), browser],
            false
        ));
        assert!(refused(Method::GET, &[browser], false));
        // With a token, the name does not matter; without a browser header, neither.
        assert!(!refused(
            Method::GET,
            &[("host", "strata.example"), browser],
            true
        ));
        assert!(!refused(Method::GET, &[("host", "evil.example")], false));
    }
}
