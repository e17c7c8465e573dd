//! Who may use the admin API: the bearer of the admin token, or, when no token is configured, any
//! loopback client (so a fresh `strata serve` is manageable from its own machine and nowhere else).
//!
//! A reverse proxy on the same machine connects from loopback on behalf of anyone, so without a token a
//! request that carries a proxy's forwarding header (`Forwarded`, `X-Forwarded-*`, `X-Real-IP`, `Via`, ...)
//! is refused: loopback-only access must mean a client on this machine, not one behind its proxy.

use std::net::SocketAddr;

use http::{HeaderMap, HeaderValue, Response, StatusCode, header};

use crate::auth::{Credential, authorization, secret_eq};
use crate::http::{ResponseBody, error_response};
use crate::state::AppState;

/// `None` when the request may use the admin API, else the refusal to send.
pub fn refusal(
    state: &AppState,
    headers: &HeaderMap,
    peer: SocketAddr,
) -> Option<Response<ResponseBody>> {
    match &state.config.admin.token {
        None if forwarded(headers) => Some(error_response(
            StatusCode::FORBIDDEN,
            "the admin API refuses proxied requests until an admin token is configured",
        )),
        None if peer.ip().is_loopback() => None,
        None => Some(error_response(
            StatusCode::FORBIDDEN,
            "the admin API answers loopback clients only until an admin token is configured",
        )),
        Some(token) => match authorization(headers) {
            Some(Credential::Bearer(given)) if secret_eq(token, given) => None,
            _ => {
                let mut refusal = error_response(
                    StatusCode::UNAUTHORIZED,
                    "the admin API needs its bearer token",
                );
                refusal.headers_mut().insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer realm=\"strata-admin\""),
                );
                Some(refusal)
            }
        },
    }
}

/// Headers proxies and CDNs add to say whom or what they forward for. A proxy that adds none cannot be
/// told from a local client: behind one, an admin token is the only safe setting (README).
const FORWARDING_HEADERS: [&str; 10] = [
    "forwarded",
    "x-forwarded-for",
    "x-forwarded-host",
    "x-forwarded-proto",
    "x-real-ip",
    "x-client-ip",
    "true-client-ip",
    "cf-connecting-ip",
    "x-cluster-client-ip",
    "via",
];

/// Whether the request came through a proxy that said so.
fn forwarded(headers: &HeaderMap) -> bool {
    FORWARDING_HEADERS
        .iter()
        .any(|name| headers.contains_key(*name))
}
