//! `/_strata/guests`: list the guests, deploy a version (`PUT` the component), roll one back.

use std::sync::Arc;

use http::{HeaderValue, Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use serde::Serialize;

use crate::http::{ResponseBody, error_response, full_body};
use crate::runtime::{DeployError, VersionInfo};
use crate::state::AppState;

/// Largest component the API accepts.
const MAX_COMPONENT_BYTES: usize = 256 * 1024 * 1024;

/// `GET /_strata/guests`: every guest with its live and kept versions.
pub fn list(state: &AppState) -> Response<ResponseBody> {
    #[derive(Serialize)]
    struct Listing {
        guests: Vec<crate::runtime::GuestSummary>,
    }
    json(
        StatusCode::OK,
        &Listing {
            guests: state.guests.list(),
        },
    )
}

/// `PUT /_strata/guests/{name}[?namespace=prefix/]`: the body is the component.
pub async fn deploy(
    state: &Arc<AppState>,
    name: &str,
    request: Request<Incoming>,
) -> Response<ResponseBody> {
    let namespace = request.uri().query().and_then(|q| {
        q.split('&')
            .find_map(|pair| pair.strip_prefix("namespace="))
            .map(str::to_owned)
    });
    let wasm = match Limited::new(request.into_body(), MAX_COMPONENT_BYTES)
        .collect()
        .await
    {
        Ok(collected) => collected.to_bytes().to_vec(),
        Err(e) => {
            return error_response(
                StatusCode::BAD_REQUEST,
                format!("cannot read the component: {e}"),
            );
        }
    };
    if wasm.is_empty() {
        return error_response(
            StatusCode::BAD_REQUEST,
            "the request body must be the component (.wasm)",
        );
    }
    activated(name, state.guests.deploy(name, wasm, namespace).await)
}

/// `POST /_strata/guests/{name}/rollback`.
pub async fn rollback(state: &Arc<AppState>, name: &str) -> Response<ResponseBody> {
    activated(name, state.guests.rollback(name).await)
}

/// The answer to a deploy or rollback: the version now live, or why nothing changed.
fn activated(name: &str, result: Result<VersionInfo, DeployError>) -> Response<ResponseBody> {
    #[derive(Serialize)]
    struct Activated<'a> {
        name: &'a str,
        version: VersionInfo,
    }
    match result {
        Ok(version) => json(StatusCode::OK, &Activated { name, version }),
        Err(e) => {
            let status = match e {
                DeployError::BadName(_) => StatusCode::BAD_REQUEST,
                DeployError::Invalid(_) | DeployError::Misplaced(_) | DeployError::Canary(_) => {
                    StatusCode::UNPROCESSABLE_ENTITY
                }
                DeployError::NotFound(_) => StatusCode::NOT_FOUND,
                DeployError::NoPrevious(_) => StatusCode::CONFLICT,
                DeployError::Io { .. } => StatusCode::INTERNAL_SERVER_ERROR,
            };
            metrics::counter!("strata_guest_deploys_refused_total").increment(1);
            tracing::warn!(guest = name, error = %e, "guest version refused");
            error_response(status, one_line(&e.to_string()))
        }
    }
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

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
