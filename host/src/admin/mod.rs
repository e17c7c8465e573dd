//! Operator routes under `/_strata/`, answered by the host itself: health and metrics.

use http::{HeaderValue, Request, Response, StatusCode, header};

use crate::http::{ResponseBody, error_response, full_body};
use crate::state::AppState;

/// The path prefix reserved for operator routes; no object key can live under it.
pub const PREFIX: &str = "/_strata/";

/// Whether `path` is an operator route rather than a data-plane request.
pub fn owns(path: &str) -> bool {
    path.starts_with(PREFIX)
}

/// Answers an operator route.
pub fn handle<B>(state: &AppState, request: &Request<B>) -> Response<ResponseBody> {
    let route = &request.uri().path()[PREFIX.len()..];
    if request.method() != http::Method::GET && request.method() != http::Method::HEAD {
        return error_response(
            StatusCode::METHOD_NOT_ALLOWED,
            "admin routes accept GET only",
        );
    }
    match route {
        "health" => text("ok\n".to_owned(), "text/plain; charset=utf-8"),
        "metrics" => text(crate::metrics::render(state), "text/plain; version=0.0.4"),
        _ => error_response(StatusCode::NOT_FOUND, format!("no admin route {route:?}")),
    }
}

fn text(body: String, content_type: &'static str) -> Response<ResponseBody> {
    let mut response = Response::new(full_body(body));
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}
