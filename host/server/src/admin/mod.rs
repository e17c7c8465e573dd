//! Operator routes under `/_strata/`, answered by the host itself on the data-plane listener: health,
//! metrics, the guests API (list, deploy, rollback), harvest jobs (live-to-VOD clips), the streams listing
//! and the web console.
//!
//! Every route but `health` and `time` (the clock players sync to) needs the admin token when one is
//! configured, and comes from a loopback client when none is. The console's files hold no data: with a
//! token they are served to anyone (the page is the login form), without one to whom the API answers.

mod access;
mod browser;
mod clock;
mod console;
mod guests;
mod harvest;
mod streams;

use std::net::SocketAddr;
use std::sync::Arc;

use http::{HeaderValue, Method, Request, Response, StatusCode, header};
use hyper::body::Incoming;
use serde::Serialize;

use crate::http::{ResponseBody, error_response, full_body};
use crate::state::AppState;

/// The path prefix reserved for operator routes; no object key can live under it.
pub const PREFIX: &str = "/_strata/";

/// Whether `path` is an operator route rather than a data-plane request.
pub fn owns(path: &str) -> bool {
    path.starts_with(PREFIX)
}

/// The policy of every admin answer but the console's files (which have their own): nothing in it may
/// run, load anything, or be framed.
const API_POLICY: &str = "default-src 'none'; frame-ancestors 'none'";

/// Answers an operator route from client `peer`.
pub async fn handle(
    state: &Arc<AppState>,
    request: Request<Incoming>,
    peer: SocketAddr,
) -> Response<ResponseBody> {
    let route = request.uri().path()[PREFIX.len()..].to_owned();
    let reads = request.method() == Method::GET || request.method() == Method::HEAD;
    if route == "health" && reads {
        return text(health(state), "text/plain; charset=utf-8");
    }
    if route == "time" && reads {
        return clock::now();
    }
    let mut response = match browser::refusal(
        request.method(),
        request.headers(),
        state.config.admin.token.is_some(),
    ) {
        Some(refusal) => refusal,
        None => answer(state, request, peer, &route).await,
    };
    private(response.headers_mut());
    response
}

/// Keeps an admin answer to this origin: no other origin may read it (errors elsewhere allow any), no
/// browser may sniff it into a page, no page may frame it.
fn private(headers: &mut http::HeaderMap) {
    headers.remove(header::ACCESS_CONTROL_ALLOW_ORIGIN);
    headers
        .entry(header::X_CONTENT_TYPE_OPTIONS)
        .or_insert(HeaderValue::from_static("nosniff"));
    headers
        .entry(header::CONTENT_SECURITY_POLICY)
        .or_insert(HeaderValue::from_static(API_POLICY));
    headers
        .entry(header::X_FRAME_OPTIONS)
        .or_insert(HeaderValue::from_static("DENY"));
}

/// Answers a route past `health` and `time`, for a client the browser check let through.
async fn answer(
    state: &Arc<AppState>,
    request: Request<Incoming>,
    peer: SocketAddr,
    route: &str,
) -> Response<ResponseBody> {
    let method = request.method().clone();
    let reads = method == Method::GET || method == Method::HEAD;
    let segments: Vec<&str> = route.split('/').collect();
    if let ["console"] | ["console", _] = segments.as_slice()
        && reads
        && (state.config.admin.token.is_some()
            || access::refusal(state, request.headers(), peer).is_none())
    {
        return match segments.get(1) {
            Some(&"access") => console::access(state.config.admin.token.is_some()),
            file => console::serve(file.copied().unwrap_or_default()),
        };
    }
    if let Some(refusal) = access::refusal(state, request.headers(), peer) {
        return refusal;
    }
    match (&method, segments.as_slice()) {
        (_, ["metrics"]) if reads => {
            text(crate::metrics::render(state), "text/plain; version=0.0.4")
        }
        (_, ["streams"]) if reads => streams::list(state).await,
        (_, ["guests"]) if reads => guests::list(state),
        (&Method::PUT, ["guests", name]) => guests::deploy(state, name, request).await,
        (&Method::POST, ["guests", name, "rollback"]) => guests::rollback(state, name).await,
        (&Method::POST, ["harvest"]) => harvest::start(state, request).await,
        (_, ["harvest", id]) if reads => harvest::report(state, id),
        (
            _,
            ["health" | "time" | "metrics" | "guests" | "harvest" | "streams" | "console"]
            | ["guests" | "harvest" | "console", _]
            | ["guests", _, "rollback"],
        ) => error_response(
            StatusCode::METHOD_NOT_ALLOWED,
            format!("{method} is not allowed on /_strata/{route}"),
        ),
        _ => error_response(StatusCode::NOT_FOUND, format!("no admin route {route:?}")),
    }
}

/// A JSON answer the browser must not cache.
fn json(status: StatusCode, value: &impl Serialize) -> Response<ResponseBody> {
    let body = serde_json::to_vec_pretty(value).unwrap_or_default();
    let mut response = Response::new(full_body(body));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

fn text(body: String, content_type: &'static str) -> Response<ResponseBody> {
    let mut response = Response::new(full_body(body));
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// `ok`, or `degraded` when a service the storage depends on cannot be reached, then one line per service
/// (a cluster's store and feed) saying whether this node reaches it. Always 200: a degraded node still
/// serves what it holds, and the body says what it lacks.
fn health(state: &AppState) -> String {
    let services = state.storage.services();
    let mut out = match services.iter().all(|s| s.reachable) {
        true => "ok\n".to_owned(),
        false => "degraded\n".to_owned(),
    };
    for service in services {
        match service.reachable {
            true => out.push_str(&format!("{}: reachable\n", service.name)),
            false => out.push_str(&format!(
                "{}: unreachable ({})\n",
                service.name, service.last_error
            )),
        }
    }
    out
}
