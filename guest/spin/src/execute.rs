//! Carrying out guest/core's outcomes on Spin, where no host moves the bytes: the shell does it itself,
//! against the objects in the key-value store.
//!
//! `wait` has no change signal to park on in Spin (and one request cannot see another's writes arrive), so
//! the shell answers it at once as what it is, an object not available yet: 503 with `Retry-After` (the
//! wait's timeout) and `no-store`, PROTOCOLS.md's answer for a transient miss. Deciding again as if the
//! wait had run would give the cacheable answers of a request really held (rfc8216bis Appendix B).

use guest_core::response;
use guest_core::types::{Headers, Outcome, Request};
use strata_guest_core as guest_core;

use crate::kv::Kv;
use crate::objects::KvObjects;

/// Most decisions one request may take (a changed object or a wait asks for another).
const MAX_DECISIONS: usize = 4;

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
/// and carries the outcome out.
pub fn handle<K: Kv>(kv: &K, req: Request, body: &[u8]) -> HttpResponse {
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
                return whole(plan.status, headers, bytes, is_head);
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
                let r = response::error_with(
                    503,
                    &format!("{} is not available yet; retry", plan.key),
                    vec![(
                        "retry-after".into(),
                        plan.timeout_ms.div_ceil(1000).max(1).to_string(),
                    )],
                );
                return whole(r.status, r.headers, r.body, false);
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

/// A response with its body, or without it for HEAD. Content-Length is left to Spin, which knows what it
/// sends (a HEAD must not declare a length its empty body does not have).
fn whole(status: u16, headers: Headers, body: Vec<u8>, is_head: bool) -> HttpResponse {
    HttpResponse {
        status,
        headers,
        body: if is_head { Vec::new() } else { body },
    }
}

fn error(status: u16, reason: &str) -> HttpResponse {
    let r = response::error(status, reason);
    whole(r.status, r.headers, r.body, false)
}
