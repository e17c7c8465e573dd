//! One request's path through the host: admin routes, else ask the guest and carry out its outcome,
//! asking again after a `wait` or when the object it chose changed meanwhile.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::FutureExt;
use futures_util::future::Either;
use http::request::Parts;
use http::{Method, Request, Response, StatusCode};
use hyper::body::Incoming;

use super::body::Watched;
use super::body::{self, ResponseBody};
use super::collapse::HerdKey;
use super::decision_cache::{self, Asked, Entry, Replay};
use super::filters;
use super::linger;
use super::outcome::{self, Served, Serving};
use super::remembered;
use super::target::Target;
use super::throttle::UploadBody;
use crate::access_log::{self, Decided, Record};
use crate::admin;
use crate::auth::Denied;
use crate::metrics::Class;
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
///
/// Each request's access log line is written when its response body is done (or the request is dropped):
/// see `access_log::record`.
pub fn handle(
    state: Arc<AppState>,
    peer: SocketAddr,
    request: Request<Incoming>,
) -> impl Future<Output = Result<Response<Watched<Record>>, Infallible>> + Send {
    let changes_state = matches!(
        *request.method(),
        Method::PUT | Method::POST | Method::DELETE
    );
    let arrived = Arrived {
        at: Instant::now(),
        class: Class::of(request.method(), request.uri().path()),
    };
    let record = Record::begin(
        &state.access_log,
        peer.ip(),
        &request,
        arrived.at,
        arrived.class,
    );
    let watched = {
        let record = record.clone();
        move |response: Response<ResponseBody>| Ok(response.map(|body| Watched::new(body, record)))
    };
    if !changes_state
        && let Some(response) = record.clone().sync_scope(|| {
            remembered::answer(&state, &request)
                .map(|response| finish(request.method(), arrived, response))
        })
    {
        return Either::Left(std::future::ready(watched(response)));
    }
    // Boxed once here: hyper and the combinators below move the request's future several times, and a
    // pointer moves for less than the future's whole state.
    let work = record.scope(Box::pin(answer(state, peer, request, arrived)));
    // Combinators, not an `async` block awaiting `work`: that would hold the request's future twice.
    Either::Right(if changes_state {
        Either::Left(tokio::spawn(work).map(move |joined| {
            watched(joined.unwrap_or_else(|e| {
                body::error(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    format!("request task failed: {e}"),
                )
            }))
        }))
    } else {
        Either::Right(work.map(watched))
    })
}

/// When a request arrived and what it is for, noted once for its metrics and its access log line.
#[derive(Debug, Clone, Copy)]
struct Arrived {
    at: Instant,
    class: Class,
}

/// Answers a request (operator route, or credentials check then guest decision) and records it in the
/// metrics.
async fn answer(
    state: Arc<AppState>,
    peer: SocketAddr,
    request: Request<Incoming>,
    arrived: Arrived,
) -> Response<ResponseBody> {
    let method = request.method().clone();
    let written = matches!(method, Method::PUT | Method::POST | Method::DELETE)
        .then(|| request.uri().path().to_owned());
    let response = match screen(&state, &request) {
        Screened::Operator => Box::pin(admin::handle(&state, request, peer)).await,
        Screened::Refused(refusal) => {
            linger::refused(request).await;
            refusal
        }
        Screened::Passed(target) => within_limits(&state, peer, request, &target).await,
    };
    if let Some(path) = written
        && response.status().is_success()
    {
        crate::metrics::streams::note_write(&state, &method, &path);
    }
    finish(&method, arrived, response)
}

/// Records an answered request in the metrics and its access log line.
fn finish(
    method: &Method,
    arrived: Arrived,
    response: Response<ResponseBody>,
) -> Response<ResponseBody> {
    crate::metrics::record_request(
        method,
        arrived.class,
        response.status(),
        arrived.at.elapsed(),
    );
    access_log::responded(response.status().as_u16());
    if response.headers().contains_key(abi::STALE_MANIFEST_HEADER) {
        crate::metrics::record_stale_manifest();
    }
    if response.headers().contains_key(abi::AD_MARKERS_KEPT_HEADER) {
        crate::metrics::record_ad_markers_kept();
    }
    response
}

/// What the checks before a request's guest found.
pub(super) enum Screened {
    /// `/_strata/*`: the admin API's.
    Operator,
    /// Refused with this answer (the caller drains the body: `linger::refused`).
    Refused(Response<ResponseBody>),
    /// The key it names, decoded, with its credentials checked.
    Passed(Target),
}

/// The checks every request passes before its guest, in order: operator routes, the key decoded once
/// (`target.rs`), ingest credentials, then the CDN's. Both the awaiting path and `remembered` take them
/// here, so the two cannot check differently.
pub(super) fn screen(state: &AppState, request: &Request<Incoming>) -> Screened {
    let (method, path, headers) = (request.method(), request.uri().path(), request.headers());
    if admin::owns(path) {
        return Screened::Operator;
    }
    let target = match Target::of(method, path) {
        Ok(target) => target,
        Err(reason) => return Screened::Refused(body::error(StatusCode::BAD_REQUEST, reason)),
    };
    if let Err(denied) = state.ingest_auth.check(method, target.key(), headers) {
        return Screened::Refused(refusal(denied));
    }
    if let Err(not_from_cdn) = state.cdn_auth.check(method, target.key(), headers) {
        return Screened::Refused(body::error(StatusCode::FORBIDDEN, not_from_cdn));
    }
    Screened::Passed(target)
}

/// The answer to a request without the credentials its path needs.
fn refusal(denied: Denied) -> Response<ResponseBody> {
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

/// Counts the request against its client's limits (`[[limits]]`) once, as it arrives, then decides and
/// carries it out and charges the bytes it moved; or refuses it with 429, its body drained unless the client
/// waits for `100 Continue` (`linger::refused`).
async fn within_limits(
    state: &Arc<AppState>,
    peer: SocketAddr,
    request: Request<Incoming>,
    target: &Target,
) -> Response<ResponseBody> {
    let admitted =
        state
            .throttle
            .admit(peer.ip(), request.method(), target.key(), request.headers());
    match admitted {
        Err(refused) => {
            linger::refused(request).await;
            refused.response()
        }
        Ok(ticket) => {
            let request = request.map(|body| ticket.meter(body));
            let response = decide_and_execute(state, request, target).await;
            ticket.settle(response)
        }
    }
}

async fn decide_and_execute(
    state: &Arc<AppState>,
    request: Request<UploadBody>,
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
    access_log::guest_chosen(&handler.deployment);
    let chain = filters::chain_for(&state.config, &parts.method, target);
    // A plugin chain changes what the guest sees of the request (`filters::prepare`) and runs anyway:
    // those requests are decided every time.
    let remembers = chain.is_none()
        && state.decisions.enabled()
        && matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS);
    // Read once: the guest decides under the load the decision is remembered under.
    let load_permille = state.load.permille();
    let asked = remembers.then(|| Asked {
        generation: handler.generation,
        method: &parts.method,
        key: target.key(),
        query: parts.uri.query().unwrap_or_default(),
        headers: &parts.headers,
        load_permille,
    });
    let is_head = parts.method == Method::HEAD;
    let mut first = None;
    if let Some(asked) = &asked
        && let Some(entry) = state.decisions.replay(asked, state.storage.as_ref())
    {
        access_log::decided(Decided::Cache);
        match Box::pin(carry_out(state, &handler.deployment, &entry, is_head, &[])).await {
            Carried::Done(response) => {
                if let Some(unread) = request_body {
                    linger::discard(unread).await;
                }
                return response;
            }
            Carried::Stale => state.decisions.forget(asked),
            Carried::Wait(plan) => first = Some(plan),
        }
    }
    let mut guest_request = guest_request(state, &handler, &parts, target, load_permille);
    if chain.is_some() {
        filters::prepare(&mut guest_request);
    }
    let is_head = guest_request.method == Method::HEAD.as_str();
    // Boxed: a future holds the state of everything it awaits inline, and a request's future is moved
    // several times on its way into hyper; the remembered-decision path above stays small without it.
    let response = Box::pin(run_decisions(
        state,
        &handler.deployment,
        Decisions {
            is_head,
            asked: asked.as_ref(),
            first,
        },
        guest_request,
        &mut request_body,
    ))
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

/// The result of carrying out a remembered decision.
enum Carried {
    /// The answer.
    Done(Response<ResponseBody>),
    /// The object it served changed since: ask the guest.
    Stale,
    /// Park as it says, then ask the guest.
    Wait(abi::WaitPlan),
}

/// Carries out a remembered (or just remembered) decision of `deployment`, warming `prefetch` after a serve:
/// the hint of the request being answered (a replay carries none: the next object is what this player
/// announced, never what the request that was remembered announced).
async fn carry_out(
    state: &Arc<AppState>,
    deployment: &Deployment,
    entry: &Entry,
    is_head: bool,
    prefetch: &[String],
) -> Carried {
    match &entry.replay {
        Replay::Respond(prepared) => Carried::Done(prepared.response(is_head)),
        Replay::Serve { serving } => {
            match outcome::serve(state.storage.as_ref(), serving, is_head).await {
                Served::Response(response) => {
                    let warm = prefetch
                        .iter()
                        .filter(|key| within(deployment.namespace.as_deref(), key))
                        .cloned()
                        .collect();
                    outcome::prefetch(&state.storage, warm);
                    Carried::Done(response)
                }
                Served::Stale => Carried::Stale,
            }
        }
        Replay::Wait(plan) => Carried::Wait(plan.clone()),
    }
}

/// The request head as `handler` sees it: the canonical path of the target, only the settings the guest
/// owns, and the load the request arrived under.
fn guest_request(
    state: &AppState,
    handler: &Handler,
    parts: &Parts,
    target: &Target,
    load_permille: u16,
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
        now_ms: decision_cache::now_ms(),
        load_permille,
    }
}

/// How one request's decisions go: HEAD or not, the cache's view of it (when its decisions may be
/// remembered), and a remembered `wait` to carry out before asking the guest.
struct Decisions<'a> {
    is_head: bool,
    asked: Option<&'a Asked<'a>>,
    first: Option<abi::WaitPlan>,
}

/// Asks the guest and carries out its outcomes until one of them produces a response. Takes the request
/// body only for a `store`. Every decision runs on `deployment`, the version the request started on.
async fn run_decisions(
    state: &Arc<AppState>,
    deployment: &Deployment,
    how: Decisions<'_>,
    mut guest_request: abi::Request,
    request_body: &mut Option<UploadBody>,
) -> Response<ResponseBody> {
    let Decisions {
        is_head,
        asked,
        mut first,
    } = how;
    let mut parked = Duration::ZERO;
    let mut decisions = 0;
    // The key whose change woke this request, right after a wait.
    let mut woken_by: Option<String> = None;
    while decisions < MAX_DECISIONS {
        let decision = if let Some(plan) = first.take() {
            abi::Outcome::Wait(plan)
        } else {
            let decide = || timed(deployment, state.runtime.decide(deployment, &guest_request));
            let decided = match woken_by.take() {
                Some(key) => {
                    let version = state.storage.head(&key).await.map(|meta| meta.etag.clone());
                    let herd = HerdKey::new(
                        &deployment.version.id,
                        &guest_request,
                        &key,
                        version.as_deref(),
                    );
                    let decide = || async { decide().await.map(|d| d.decision.outcome) };
                    Box::pin(state.herds.decide(herd, decide)).await
                }
                None => match Box::pin(decide()).await {
                    Ok(decided) => {
                        // An outcome outside the guest's namespace is refused below and never
                        // remembered: a replay is not checked again.
                        let inside = outcome_key(&decided.decision.outcome)
                            .is_none_or(|key| within(deployment.namespace.as_deref(), key));
                        let remembered = asked
                            .filter(|_| inside && guest_request.waited_ms == 0)
                            .and_then(|asked| {
                                state.decisions.remember(
                                    asked,
                                    &decided,
                                    guest_request.now_ms,
                                    state.storage.as_ref(),
                                )
                            });
                        if let Some(entry) = remembered {
                            let prefetch = match &decided.decision.outcome {
                                abi::Outcome::Serve(plan) => plan.prefetch.as_slice(),
                                _ => &[],
                            };
                            match Box::pin(carry_out(state, deployment, &entry, is_head, prefetch))
                                .await
                            {
                                Carried::Done(response) => return response,
                                Carried::Stale => {
                                    if let Some(asked) = asked {
                                        state.decisions.forget(asked);
                                    }
                                    decisions += 1;
                                    continue;
                                }
                                Carried::Wait(plan) => {
                                    first = Some(plan);
                                    continue;
                                }
                            }
                        }
                        Ok(decided.decision.outcome)
                    }
                    Err(e) => Err(e),
                },
            };
            match decided {
                Ok(outcome) => outcome,
                Err(e) => return guest_failure(&guest_request.path, e),
            }
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
            abi::Outcome::Serve(plan) => {
                let serving = match Serving::new(&plan) {
                    Ok(serving) => serving,
                    Err(reason) => {
                        return body::error(StatusCode::INTERNAL_SERVER_ERROR, reason);
                    }
                };
                match Box::pin(outcome::serve(state.storage.as_ref(), &serving, is_head)).await {
                    Served::Response(response) => {
                        let mut warm = plan.prefetch;
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
                let parked_now = (
                    crate::metrics::Parked::enter(),
                    state.load.park(),
                    access_log::Parking::start(),
                );
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

/// Runs one guest decision of `deployment`, noting how long it took.
async fn timed<T>(deployment: &Deployment, decision: impl Future<Output = T>) -> T {
    let started = Instant::now();
    let decided = decision.await;
    access_log::decided(Decided::Guest);
    access_log::decision_took(&deployment.name, started.elapsed());
    decided
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
