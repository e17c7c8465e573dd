//! Carrying out guest/core's outcomes on Spin, where no host moves the bytes: the shell does it itself,
//! against the objects in the key-value store.
//!
//! `wait` has no change signal to park on in Spin (one request cannot be told of another's writes), so the
//! shell polls the store for the key every [`POLL_MS`] until it changes or the wait's timeout passes, then
//! decides again with the time waited, as the Strata host does after a wake. Blocking playlist reloads,
//! hinted parts and announced segments therefore hold on Spin too, up to the same deadlines.
//!
//! Responses carry `Content-Length` whenever the length is known (every answer here is whole), on HEAD too.

use guest_core::response;
use guest_core::types::{Headers, Outcome, Request, WaitPlan};
use strata_guest_core as guest_core;

use crate::clock::Clock;
use crate::kv::Kv;
use crate::objects::KvObjects;

/// Most decisions one request may take: a changed object or a finished wait asks for another, and a
/// blocking reload may wait on several versions of its playlist before one holds what it asked for.
const MAX_DECISIONS: usize = 64;

/// Longest a request is held across its waits, whatever the guest asks (the host's parking deadline).
const MAX_HELD_MS: u32 = 30_000;

/// Pause between two looks at a key a request waits on, in ms: the delay a wait adds is at most this.
pub const POLL_MS: u64 = 20;

/// A response the Spin shell sends whole.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpResponse {
    /// HTTP status.
    pub status: u16,
    /// Header fields, names lower-case.
    pub headers: Headers,
    /// The body (empty for HEAD).
    pub body: Vec<u8>,
}

impl HttpResponse {
    /// The first value of header `name` (lower-case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Decides `req` (whose body is `body`) with guest/core over the objects in `kv` at wall-clock `now_ms`,
/// and carries the outcome out; waits poll `kv` on `clock`.
pub fn handle<K: Kv>(kv: &K, clock: &impl Clock, mut req: Request, body: &[u8]) -> HttpResponse {
    if let Some(answer) = operator_route(&req) {
        return answer;
    }
    let objects = KvObjects::new(kv, req.now_ms / 1000);
    let is_head = req.method == "HEAD";
    for _ in 0..MAX_DECISIONS {
        match guest_core::decide(&req, &objects) {
            Outcome::Respond(r) => return whole(r.status, r.headers, r.body, is_head),
            Outcome::Serve(plan) => {
                let Some(meta) = guest_core::objects::Objects::head(&objects, &plan.key)
                    .filter(|m| m.etag == plan.etag)
                else {
                    continue;
                };
                let (first, last) = match plan.range {
                    Some(range) if range.first <= range.last && range.last < meta.size => {
                        (range.first, range.last)
                    }
                    Some(_) => return error(500, "guest asked for bytes outside the object"),
                    None if meta.size == 0 => {
                        return whole(plan.status, plan.headers, Vec::new(), is_head);
                    }
                    None => (0, meta.size - 1),
                };
                let bytes = if is_head {
                    Vec::new()
                } else {
                    match objects.read_range(&plan.key, &plan.etag, first, last) {
                        Ok(Some(bytes)) => bytes,
                        Ok(None) => continue,
                        Err(e) => return error(503, &e.to_string()),
                    }
                };
                let mut headers = plan.headers;
                if plan.range.is_some() {
                    headers.push((
                        "content-range".into(),
                        format!("bytes {first}-{last}/{}", meta.size),
                    ));
                }
                return sized(plan.status, headers, last - first + 1, bytes, is_head);
            }
            Outcome::Store(plan) => {
                let max = req.limits.max_object_bytes;
                if body.len() as u64 > max {
                    return error(
                        413,
                        &format!(
                            "object too large: {} bytes, the limit is {max} bytes",
                            body.len()
                        ),
                    );
                }
                return match objects.write(&plan, body) {
                    Ok(meta) => {
                        let mut headers = plan.headers;
                        headers.push(("etag".into(), meta.etag));
                        whole(plan.status, headers, Vec::new(), false)
                    }
                    Err(e) => error(507, &format!("{}: {e}", plan.key)),
                };
            }
            Outcome::Delete(plan) => {
                return match objects.remove(&plan.key) {
                    Ok(true) => whole(plan.status, plan.headers, Vec::new(), false),
                    Ok(false) => error(404, &format!("no object at {}", plan.key)),
                    Err(e) => error(500, &format!("{}: {e}", plan.key)),
                };
            }
            Outcome::Wait(plan) => {
                if req.waited_ms >= MAX_HELD_MS {
                    return error(503, "held too long; retry");
                }
                let waited = wait_for(&objects, clock, &plan);
                req.waited_ms = req.waited_ms.saturating_add(waited);
            }
        }
    }
    error(503, "the object kept changing while it was read; retry")
}

/// The answer to a path under `_strata/`, which the Strata host keeps for its operator routes: the clock
/// live MPDs point players to (`strata_abi::clock`) is answered here; every other key there is refused,
/// as on the host, so an object stored on Spin can also be stored on Strata.
fn operator_route(req: &Request) -> Option<HttpResponse> {
    let key = strata_abi::key::key_from_path(&req.path).ok()?;
    if key.split('/').next() != Some("_strata") {
        return None;
    }
    let clock = format!("/{key}") == strata_abi::clock::CLOCK_PATH;
    if clock && (req.method == "GET" || req.method == "HEAD") {
        let now = i64::try_from(req.now_ms).unwrap_or(i64::MAX);
        let mut headers = vec![
            ("content-type".into(), "text/plain; charset=utf-8".into()),
            ("cache-control".into(), "no-store".into()),
        ];
        guest_core::cors::add_headers(&mut headers);
        let body = strata_abi::clock::format_date_time_ms(now).into_bytes();
        return Some(whole(200, headers, body, req.method == "HEAD"));
    }
    Some(error(
        400,
        "bad path: keys under _strata/ are reserved for the operator API",
    ))
}

/// Polls the store until `plan`'s key exists with an entity tag other than the one it names, or its timeout
/// passes; returns the milliseconds waited.
fn wait_for<K: Kv>(objects: &KvObjects<'_, K>, clock: &impl Clock, plan: &WaitPlan) -> u32 {
    let started = clock.now_ms();
    let timeout = u64::from(plan.timeout_ms);
    loop {
        let etag = guest_core::objects::Objects::head(objects, &plan.key).map(|m| m.etag);
        let changed = etag.is_some_and(|etag| plan.unless_etag.as_ref() != Some(&etag));
        let waited = clock.now_ms().saturating_sub(started);
        if changed || waited >= timeout {
            return u32::try_from(waited).unwrap_or(u32::MAX);
        }
        clock.sleep_ms(POLL_MS.min(timeout - waited));
    }
}

/// A response with its body (without it for HEAD), declaring the body's length.
fn whole(status: u16, headers: Headers, body: Vec<u8>, is_head: bool) -> HttpResponse {
    let length = body.len() as u64;
    sized(status, headers, length, body, is_head)
}

/// A response whose GET body is `length` bytes: `body`, or nothing for HEAD, which declares the same length
/// (Spin sends a HEAD's Content-Length as given; without it, GETs went out chunked).
fn sized(
    status: u16,
    mut headers: Headers,
    length: u64,
    body: Vec<u8>,
    is_head: bool,
) -> HttpResponse {
    let bodiless = matches!(status, 100..=199 | 204 | 304);
    if !bodiless && !headers.iter().any(|(name, _)| name == "content-length") {
        headers.push(("content-length".into(), length.to_string()));
    }
    HttpResponse {
        status,
        headers,
        body: if is_head || bodiless {
            Vec::new()
        } else {
            body
        },
    }
}

fn error(status: u16, reason: &str) -> HttpResponse {
    let r = response::error(status, reason);
    whole(r.status, r.headers, r.body, false)
}
