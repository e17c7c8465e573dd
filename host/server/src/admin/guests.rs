//! `/_strata/guests`: list the guests, deploy a version (`PUT` the component), roll one back.

use std::sync::Arc;

use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use serde::Serialize;

use super::json;
use crate::http::{ResponseBody, error_response};
use crate::state::AppState;
use strata_runtime::{DeployError, VersionInfo};

/// Largest component the API accepts.
const MAX_COMPONENT_BYTES: usize = 256 * 1024 * 1024;

/// `GET /_strata/guests`: every guest with its live and kept versions.
pub fn list(state: &AppState) -> Response<ResponseBody> {
    #[derive(Serialize)]
    struct Listing {
        guests: Vec<strata_runtime::GuestSummary>,
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
    let namespace = match namespace_of(request.uri().query().unwrap_or_default()) {
        Ok(namespace) => namespace,
        Err(reason) => {
            return error_response(StatusCode::BAD_REQUEST, reason);
        }
    };
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

/// The `namespace` query parameter, percent-decoded and checked: a key prefix of whole folders
/// (`tenant/`, `tenant/live/`) under which every key is valid, outside `_strata/`.
fn namespace_of(query: &str) -> Result<Option<String>, String> {
    let Some(raw) = query
        .split('&')
        .find_map(|pair| pair.strip_prefix("namespace="))
    else {
        return Ok(None);
    };
    let refuse = |why: &str| Err(format!("invalid namespace {raw:?}: {why}"));
    let Ok(namespace) = percent_encoding::percent_decode_str(raw).decode_utf8() else {
        return refuse("not UTF-8 after percent-decoding");
    };
    let Some(folder) = namespace.strip_suffix('/') else {
        return refuse("a namespace is a folder and ends with '/', e.g. tenant/");
    };
    if let Err(e) = strata_abi::key::key_from_path(&format!("/{folder}")) {
        return refuse(&e.to_string());
    }
    if folder.split('/').next() == Some("_strata") {
        return refuse("keys under _strata/ are reserved for the operator API");
    }
    Ok(Some(namespace.into_owned()))
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
            crate::metrics::record_refused_deploy();
            tracing::warn!(guest = name, error = %e, "guest version refused");
            error_response(status, one_line(&e.client_reason()))
        }
    }
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::namespace_of;

    #[test]
    fn namespaces_are_decoded_folders() {
        assert_eq!(namespace_of(""), Ok(None));
        assert_eq!(
            namespace_of("namespace=tenant/"),
            Ok(Some("tenant/".into()))
        );
        assert_eq!(
            namespace_of("x=1&namespace=tenant%2Flive%2F"),
            Ok(Some("tenant/live/".into()))
        );
        for bad in [
            "namespace=",
            "namespace=tenant",
            "namespace=/tenant/",
            "namespace=a/../b/",
            "namespace=_strata/",
            "namespace=%FF/",
        ] {
            assert!(namespace_of(bad).is_err(), "{bad}");
        }
    }
}
