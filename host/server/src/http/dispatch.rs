//! One request's path through the host: admin routes, else ask the guest and carry out its outcome,
//! asking again after a `wait` or when the object it chose changed meanwhile.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use http::request::Parts;
use http::{Method, Request, Response, StatusCode};
use hyper::body::Incoming;

use super::body::{self, ResponseBody};
use super::collapse::HerdKey;
use super::filters;
use super::linger;
use super::outcome::{self, Served};
use super::target::Target;
use crate::admin;
use crate::auth::Denied;
use crate::state::AppState;
use strata_abi::types as abi;
use strata_runtime::{Deployment, GuestError, Handler, within};

/// Most times one request may go back to the guest after stale serves before giving up.
const MAX_DECISIONS: u32 = 16;
/// Longest a request may stay parked over all its `wait` outcomes. A blocking LL-HLS reload may wake many
/// times (every part updates the playlist) before its condition holds, so waits count against this time,
/// not against [`MAX_DECISIONS`].
const MAX_WAIT: Duration = Duration::from_secs(30);

/// Handles one HTTP request; never fails at the hyper level, every error is a response.
///
/// Not an `async fn` on purpose: encoders such as ffmpeg close the socket right after a write's last chunk
/// without reading the answer, and hyper may then drop the request's future before ever polling it. A write
/// whose body fully arrived must still be stored and counted, so writes are spawned here, at call time, as
/// tasks of their own. Reads stay in hyper's future and stop when the client leaves, which releases any
/// parked wait.
pub fn handle(
    state: Arc<AppState>,
    peer: SocketAddr,
    request: Request<Incoming>,
) -> impl Future<Output = Result<Response<ResponseBody>, Infallible>> + Send {
    let changes_state = matches!(
        *request.method(),
        Method::PUT | Method::POST | Method::DELETE
    );
    let work = answer(state, peer, request);
    let work = if changes_state {
        Ok(tokio::spawn(work))
    } else {
        Err(work)
    };
    async move {
        let response = match work {
            Ok(task) => task.await.unwrap_or_else(|e| {
                body::error(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    format!("request task failed: {e}"),
                )
            }),
            Err(inline) => inline.await,
        };
        Ok(response)
    }
}

/// Answers a request (operator route, or credentials check then guest decision) and records it in the
/// metrics.
async fn answer(
    state: Arc<AppState>,
    peer: SocketAddr,
    request: Request<Incoming>,
) -> Response<ResponseBody> {
    let started = Instant::now();
    let method = request.method().clone();
    let response = if admin::owns(request.uri().path()) {
        Box::pin(admin::handle(&state, request, peer)).await
    } else {
        match Target::of(request.method(), request.uri().path()) {
            Err(reason) => {
                linger::discard(request.into_body()).await;
                body::error(StatusCode::BAD_REQUEST, reason)
            }
            Ok(target) => {
                match state
                    .ingest_auth
                    .check(request.method(), target.key(), request.headers())
                {
                    Err(denied) => refuse(denied, request).await,
                    Ok(()) => decide_and_execute(&state, request, &target).await,
                }
            }
        }
    };
    crate::metrics::record_request(&method, response.status(), started.elapsed());
    response
}

/// The answer to a request without the credentials its path needs; its body is drained, not stored.
async fn refuse(denied: Denied, request: Request<Incoming>) -> Response<ResponseBody> {
    linger::discard(request.into_body()).await;
    match denied {
        Denied::Unauthorized(_) => {
            let mut response = body::error(StatusCode::UNAUTHORIZED, denied);
            response.headers_mut().insert(
                http::header::WWW_AUTHENTICATE,
                http::HeaderValue::from_static("Bearer realm=\"strata\", Basic realm=\"strata\""),
            );
            response
        }
        Denied::Uncovered(_) => body::error(StatusCode::FORBIDDEN, denied),
    }
}

async fn decide_and_execute(
    state: &Arc<AppState>,
    request: Request<Incoming>,
    target: &Target,
) -> Response<ResponseBody> {
    let _in_flight = state.load.enter();
    let (parts, request_body) = request.into_parts();
    let mut request_body = Some(request_body);
    let Some(handler) = state.guests.handler_for(target.key()) else {
        return body::error(
            StatusCode::SERVICE_UNAVAILABLE,
            "no handler guest is deployed",
        );
    };
    let chain = filters::chain_for(&state.config, &parts.method, target);
    let mut guest_request = guest_request(state, &handler, &parts, target);
    if chain.is_some() {
        filters::prepare(&mut guest_request);
    }
    let is_head = guest_request.method == Method::HEAD.as_str();
    let response = run_decisions(
        state,
        &handler.deployment,
        is_head,
        guest_request,
        &mut request_body,
    )
    .await;
    if let Some(unread) = request_body {
        linger::discard(unread).await;
    }
    let Some(chain) = chain else {
        return response;
    };
    let response = Box::pin(filters::apply(state, &parts, target, chain, response)).await;
    if parts.method == Method::HEAD {
        // Asked as a GET (`filters::prepare`) so its headers describe the rewritten playlist.
        return response.map(|_| body::empty());
    }
    response
}

/// The request head as `handler` sees it: the canonical path of the target, and only the settings the
/// guest owns.
fn guest_request(
    state: &AppState,
    handler: &Handler,
    parts: &Parts,
    target: &Target,
) -> abi::Request {
    abi::Request {
        method: parts.method.as_str().to_owned(),
        key: target.key().to_owned(),
        path: target.path().to_owned(),
        query: parts.uri.query().unwrap_or_default().to_owned(),
        headers: parts
            .headers
            .iter()
            .filter_map(|(name, value)| {
                value
                    .to_str()
                    .ok()
                    .map(|value| (name.as_str().to_owned(), value.to_owned()))
            })
            .collect(),
        waited_ms: 0,
        limits: abi::Limits {
            max_object_bytes: state.config.max_object_bytes,
        },
        settings: (*handler.settings).clone(),
        now_ms: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
        load_permille: state.load.permille(),
    }
}

/// Asks the guest and carries out its outcomes until one of them produces a response. Takes the request
/// body only for a `store`. Every decision runs on `deployment`, the version the request started on.
async fn run_decisions(
    state: &Arc<AppState>,
    deployment: &Deployment,
    is_head: bool,
    mut guest_request: abi::Request,
    request_body: &mut Option<Incoming>,
) -> Response<ResponseBody> {
    let mut parked = Duration::ZERO;
    let mut decisions = 0;
    // The key whose change woke this request, right after a wait.
    let mut woken_by: Option<String> = None;
    while decisions < MAX_DECISIONS {
        let decide = || state.runtime.decide(deployment, &guest_request);
        let decision = match woken_by.take() {
            Some(key) => {
                let version = state.storage.head(&key).await.map(|meta| meta.etag.clone());
                let herd = HerdKey::new(
                    &deployment.version.id,
                    &guest_request,
                    &key,
                    version.as_deref(),
                );
                Box::pin(state.herds.decide(herd, decide)).await
            }
            None => Box::pin(decide()).await,
        };
        let decision = match decision {
            Ok(outcome) => outcome,
            Err(e) => return guest_failure(&guest_request.path, e),
        };
        if let Some(key) = outcome_key(&decision)
            && !within(deployment.namespace.as_deref(), key)
        {
            return body::error(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!(
                    "guest {} named key {key:?}, outside its namespace",
                    deployment.name
                ),
            );
        }
        match decision {
            abi::Outcome::Respond(response) => return outcome::respond(response, is_head),
            abi::Outcome::Serve(mut plan) => {
                let mut warm = std::mem::take(&mut plan.prefetch);
                match Box::pin(outcome::serve(state.storage.as_ref(), plan, is_head)).await {
                    Served::Response(response) => {
                        warm.retain(|key| within(deployment.namespace.as_deref(), key));
                        outcome::prefetch(&state.storage, warm);
                        return response;
                    }
                    Served::Stale => decisions += 1,
                }
            }
            abi::Outcome::Store(plan) => {
                let Some(upload) = request_body.take() else {
                    return body::error(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        "guest asked to store a request body twice",
                    );
                };
                let limits = outcome::UploadLimits {
                    max_bytes: state.config.max_object_bytes,
                    idle: state.config.http.body_idle_timeout(),
                };
                return Box::pin(outcome::store(&state.storage, plan, upload, limits)).await;
            }
            abi::Outcome::Delete(plan) => {
                return Box::pin(outcome::delete(state.storage.as_ref(), plan)).await;
            }
            abi::Outcome::Wait(plan) => {
                let budget = MAX_WAIT.saturating_sub(parked);
                if budget.is_zero() {
                    return body::error(
                        StatusCode::SERVICE_UNAVAILABLE,
                        format!(
                            "{} was parked for {}s without an answer; try again",
                            guest_request.path,
                            MAX_WAIT.as_secs()
                        ),
                    );
                }
                let timeout = Duration::from_millis(plan.timeout_ms.into()).min(budget);
                let parked_now = (crate::metrics::Parked::enter(), state.load.park());
                let waited = tokio::select! {
                    waited = state
                        .storage
                        .watch(&plan.key, plan.unless_etag.as_deref(), timeout) => waited,
                    () = state.drain.begun() => return draining(&guest_request.path),
                };
                drop(parked_now);
                // At least 1 ms per wait, so a guest that keeps asking for empty waits still runs out.
                parked += waited.max(Duration::from_millis(1));
                let waited_ms = u32::try_from(waited.as_millis()).unwrap_or(u32::MAX);
                guest_request.waited_ms = guest_request.waited_ms.saturating_add(waited_ms.max(1));
                woken_by = Some(plan.key);
            }
        }
    }
    body::error(
        StatusCode::SERVICE_UNAVAILABLE,
        format!(
            "{} kept changing while being served; try again",
            guest_request.path
        ),
    )
}

/// The answer to a request parked when the process began to drain: another origin (or this one after its
/// restart) can answer it, so the client is told to retry, and no cache keeps the refusal.
fn draining(path: &str) -> Response<ResponseBody> {
    let mut response = body::error(
        StatusCode::SERVICE_UNAVAILABLE,
        format!("{path}: the origin is shutting down; retry"),
    );
    response.headers_mut().insert(
        http::header::RETRY_AFTER,
        http::HeaderValue::from_static("1"),
    );
    response
}

/// The object key an outcome acts on, if any.
fn outcome_key(outcome: &abi::Outcome) -> Option<&str> {
    match outcome {
        abi::Outcome::Respond(_) => None,
        abi::Outcome::Serve(plan) => Some(&plan.key),
        abi::Outcome::Store(plan) => Some(&plan.key),
        abi::Outcome::Delete(plan) => Some(&plan.key),
        abi::Outcome::Wait(plan) => Some(&plan.key),
    }
}

/// The answer when the guest could not decide: 503 for a deadline (the next try may pass), else 500.
fn guest_failure(path: &str, error: GuestError) -> Response<ResponseBody> {
    crate::metrics::record_guest_failure(&error);
    tracing::warn!(%path, %error, "guest failed");
    let status = match error {
        GuestError::Timeout(_) | GuestError::WallClock(_) | GuestError::Busy(_) => {
            StatusCode::SERVICE_UNAVAILABLE
        }
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    };
    body::error(status, error)
}
