//! `/_strata/harvest`: cut a live-to-VOD clip (`POST`, answered 202 with the job's report) and follow the
//! job (`GET /_strata/harvest/{id}`). The work is `crate::harvest`'s.

use std::sync::Arc;

use http::{HeaderValue, Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;

use super::json;
use crate::harvest::{Limits, job, request};
use crate::http::{ResponseBody, error_response};
use crate::state::AppState;

/// Largest request body: a few paths and two times.
const MAX_BODY_BYTES: usize = 16 * 1024;

/// `POST /_strata/harvest`: checks the request against the stored source and queues the job. The body
/// must arrive within the upload idle timeout (`[http] body_idle_timeout_ms`).
pub async fn start(state: &Arc<AppState>, request: Request<Incoming>) -> Response<ResponseBody> {
    let deadline = state.config.http.body_idle_timeout();
    let collected = tokio::time::timeout(
        deadline,
        Limited::new(request.into_body(), MAX_BODY_BYTES).collect(),
    )
    .await;
    let body = match collected {
        Ok(Ok(body)) => body.to_bytes(),
        Ok(Err(e)) => {
            let status = match e.downcast_ref::<http_body_util::LengthLimitError>() {
                Some(_) => StatusCode::PAYLOAD_TOO_LARGE,
                None => StatusCode::BAD_REQUEST,
            };
            return error_response(status, format!("cannot read the request: {e}"));
        }
        Err(_) => {
            return error_response(
                StatusCode::REQUEST_TIMEOUT,
                format!(
                    "the request body did not arrive within {} ms",
                    deadline.as_millis()
                ),
            );
        }
    };
    let asked = match request::parse(&body) {
        Ok(asked) => asked,
        Err(reason) => return error_response(StatusCode::BAD_REQUEST, reason),
    };
    let limits = Limits {
        max_playlist_bytes: state.config.max_playlist_bytes,
        max_object_bytes: state.config.max_object_bytes,
    };
    if let Err(busy) = state.harvests.admit() {
        return error_response(busy.status, busy.reason);
    }
    let accepted = match job::plan(state.storage.as_ref(), asked, limits).await {
        Ok(plan) => state
            .harvests
            .submit(Arc::clone(&state.storage), plan, limits),
        Err(refused) => Err(refused),
    };
    match accepted {
        Ok(report) => {
            let mut response = json(StatusCode::ACCEPTED, &report);
            if let Ok(location) = HeaderValue::from_str(&format!("/_strata/harvest/{}", report.id))
            {
                response.headers_mut().insert(header::LOCATION, location);
            }
            response
        }
        Err(refused) => error_response(refused.status, refused.reason),
    }
}

/// `GET /_strata/harvest/{id}`: the job's report.
pub fn report(state: &AppState, id: &str) -> Response<ResponseBody> {
    match state.harvests.report(id) {
        Some(report) => json(StatusCode::OK, &report),
        None => error_response(
            StatusCode::NOT_FOUND,
            format!(
                "no harvest {id:?}: unknown, or finished more than {} s ago",
                crate::harvest::RETENTION.as_secs()
            ),
        ),
    }
}
