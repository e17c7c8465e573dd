//! Throttling (`[[limits]]`, decision 0058): token buckets per client under the first rule matching the
//! request's decoded key. Reads are keyed by client address, writes by the ingest credential that
//! authenticated them. A request is counted once, when it arrives: a parked LL-HLS request is not counted
//! again when it wakes. Refusals answer 429 with `Retry-After` and are counted per rule.
//!
//! Hand-written rather than `governor`: its GCRA cells cannot be charged after the fact or go below zero,
//! which a bytes limit needs (a response's bytes are known as they are sent). The buckets live in a
//! `quick_cache` table capped at [`MAX_CLIENTS`]: a client cycling addresses makes cold entries that are
//! evicted first, and an evicted bucket is at worst a fresh burst.

mod bucket;
mod client;
mod rule;
mod upload;

use std::hash::RandomState;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use http::{HeaderMap, HeaderValue, Method, Response, StatusCode, header};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use quick_cache::sync::Cache;
use strata_tiers::KeyPattern;

use super::body::{self, ResponseBody};
use crate::auth::{self, Access};
use bucket::{Buckets, TokenBucket, retry_after_secs};
use client::Client;

pub use rule::{AppliesTo, LimitRule, validate_limits};
pub use upload::UploadBody;

/// Most clients whose buckets are kept, over all rules.
pub const MAX_CLIENTS: usize = 100_000;

/// The limits of the running origin and every client's buckets.
pub struct Throttle {
    rules: Vec<Rule>,
    buckets: Cache<(usize, Client), Arc<Mutex<Buckets>>>,
    /// The key credentials are fingerprinted with.
    fingerprints: RandomState,
    /// Whether writes carry an ingest credential (some `[[auth.ingest]]` rule exists); else they are keyed
    /// by address like reads.
    credentials_required: bool,
    /// The most a write's declared length is charged: longer bodies are refused without being stored.
    max_object_bytes: u64,
}

/// A rule ready to match.
struct Rule {
    pattern: KeyPattern,
    applies_to: AppliesTo,
    label: String,
    requests: Option<(f64, f64)>,
    bytes: Option<(f64, f64)>,
}

impl Throttle {
    /// The throttle of `rules` (checked by [`validate_limits`]; a rule without a pattern is skipped).
    pub fn new(rules: &[LimitRule], credentials_required: bool, max_object_bytes: u64) -> Self {
        Throttle {
            rules: rules
                .iter()
                .filter_map(|rule| {
                    Some(Rule {
                        pattern: rule.pattern.clone()?,
                        applies_to: rule.applies_to,
                        label: rule.label(),
                        requests: rule.request_bucket(),
                        bytes: rule.byte_bucket(),
                    })
                })
                .collect(),
            buckets: Cache::new(MAX_CLIENTS),
            fingerprints: RandomState::new(),
            credentials_required,
            max_object_bytes,
        }
    }

    /// Whether a rule covers a request of `method` on `key` with `headers`: one that none covers is
    /// admitted without counting (what [`Throttle::admit`] would do).
    pub fn governs(&self, method: &Method, key: &str, headers: &HeaderMap) -> bool {
        !self.rules.is_empty() && self.rule_for(method, key, headers).is_some()
    }

    fn rule_for(&self, method: &Method, key: &str, headers: &HeaderMap) -> Option<(usize, &Rule)> {
        let writes = Access::of(method, headers) == Access::Write;
        self.rules.iter().enumerate().find(|(_, rule)| {
            let kind = match rule.applies_to {
                AppliesTo::All => true,
                AppliesTo::Reads => !writes,
                AppliesTo::Writes => writes,
            };
            kind && rule.pattern.matches(key)
        })
    }

    /// Admits a request from `peer` of `method` on `key` (decoded) with `headers`, after its credentials
    /// were checked, counting it against the first rule that covers it.
    ///
    /// # Errors
    /// [`Throttled`] when the client's buckets are empty; the refusal is counted in the metrics.
    pub fn admit(
        &self,
        peer: IpAddr,
        method: &Method,
        key: &str,
        headers: &HeaderMap,
    ) -> Result<Ticket, Throttled> {
        let Some((index, rule)) = self.rule_for(method, key, headers) else {
            return Ok(Ticket::default());
        };
        let writes = Access::of(method, headers) == Access::Write;
        let client = match auth::authorization(headers) {
            Some(credential) if writes && self.credentials_required => {
                Client::credential(&credential, &self.fingerprints)
            }
            _ => Client::address(peer),
        };
        let now = Instant::now();
        let buckets = self
            .buckets
            .get_or_insert_with(&(index, client), || {
                let bucket = |(rate, capacity)| TokenBucket::full(rate, capacity);
                Ok::<_, std::convert::Infallible>(Arc::new(Mutex::new(Buckets::new(
                    rule.requests.map(bucket),
                    rule.bytes.map(bucket),
                    now,
                ))))
            })
            .unwrap_or_else(|never| match never {});
        let mut held = lock(&buckets);
        if let Err(wait) = held.admit(now) {
            crate::metrics::record_throttled(&rule.label);
            return Err(Throttled {
                wait,
                reason: format!(
                    "too many requests from {client} under limit {:?}{}",
                    rule.label,
                    describe(rule)
                ),
            });
        }
        if !held.counts_bytes() {
            return Ok(Ticket::default());
        }
        let charge = if writes {
            match declared_length(headers) {
                Some(length) => {
                    held.charge(length.min(self.max_object_bytes), now);
                    Charge::Nothing
                }
                None => Charge::RequestBody,
            }
        } else {
            Charge::ResponseBody
        };
        drop(held);
        Ok(Ticket {
            buckets: Some(buckets),
            charge,
        })
    }
}

/// What a rule allows, for a refusal's reason.
fn describe(rule: &Rule) -> String {
    let mut parts = Vec::new();
    if let Some((rate, burst)) = rule.requests {
        parts.push(format!(
            "{} requests/s, burst {}",
            number(rate),
            number(burst)
        ));
    }
    if let Some((rate, burst)) = rule.bytes {
        parts.push(format!(
            "{} bytes/s, burst {} bytes",
            number(rate),
            number(burst)
        ));
    }
    format!(" ({})", parts.join("; "))
}

/// A configured number as a refusal shows it: plainly, or in exponent form when it is very large or small
/// (`1e300` written in full is 301 digits).
fn number(value: f64) -> String {
    if (1e-6..1e15).contains(&value) {
        format!("{value}")
    } else {
        format!("{value:e}")
    }
}

/// The request's `Content-Length`, when it declares one.
fn declared_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .parse()
        .ok()
}

/// A poisoned lock still holds valid buckets (every update is a few float operations).
fn lock(buckets: &Mutex<Buckets>) -> MutexGuard<'_, Buckets> {
    buckets.lock().unwrap_or_else(PoisonError::into_inner)
}

/// An admitted request's bytes still to charge, once its answer is known.
#[derive(Debug, Default)]
pub struct Ticket {
    buckets: Option<Arc<Mutex<Buckets>>>,
    charge: Charge,
}

/// Which bytes an admitted request is charged after it was admitted.
#[derive(Debug, Default)]
enum Charge {
    /// None (no bytes limit, or a write charged its declared length on arrival).
    #[default]
    Nothing,
    /// A read: its response body, frame by frame as it is sent.
    ResponseBody,
    /// A write without a declared length: its body, frame by frame as it arrives, whatever becomes of it.
    RequestBody,
}

impl Ticket {
    /// The request's body, charged as it arrives when the request is a write without a declared length.
    pub fn meter(&self, body: Incoming) -> UploadBody {
        let meter = match self.charge {
            Charge::RequestBody => self.buckets.clone(),
            Charge::Nothing | Charge::ResponseBody => None,
        };
        UploadBody::new(body, meter)
    }

    /// Charges the request's bytes for `response`, the answer to it, and returns the response.
    pub fn settle(self, response: Response<ResponseBody>) -> Response<ResponseBody> {
        let Some(buckets) = self.buckets else {
            return response;
        };
        match self.charge {
            Charge::Nothing | Charge::RequestBody => response,
            Charge::ResponseBody => response.map(|body| {
                body.map_frame(move |frame| {
                    if let Some(data) = frame.data_ref() {
                        lock(&buckets).charge(data.len() as u64, Instant::now());
                    }
                    frame
                })
                .boxed()
            }),
        }
    }
}

/// A request refused for its client's rate.
#[derive(Debug)]
pub struct Throttled {
    wait: Duration,
    reason: String,
}

impl Throttled {
    /// 429 with `Retry-After` (whole seconds until a token is there, at least 1) and a one-line reason.
    pub fn response(&self) -> Response<ResponseBody> {
        let seconds = retry_after_secs(self.wait);
        let mut response = body::error(
            StatusCode::TOO_MANY_REQUESTS,
            format!("{}; retry after {seconds}s", self.reason),
        );
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn throttle(text: &str, credentials_required: bool) -> Throttle {
        #[derive(serde::Deserialize)]
        struct Limits {
            limits: Vec<LimitRule>,
        }
        let limits: Limits = toml::from_str(text).unwrap();
        validate_limits(&limits.limits).unwrap();
        Throttle::new(&limits.limits, credentials_required, 1 << 20)
    }

    fn bearer(token: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::AUTHORIZATION,
            HeaderValue::from_str(&format!("Bearer {token}")).unwrap(),
        );
        headers
    }

    const ONE: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(127, 0, 0, 1));
    const TWO: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(127, 0, 0, 2));

    #[test]
    fn reads_are_counted_per_address_and_only_under_the_rule() {
        let t = throttle(
            "[[limits]]\npattern = \"live/**\"\napplies_to = \"reads\"\nrequests_per_second = 0.001\nburst = 2\n",
            false,
        );
        let none = HeaderMap::new();
        for _ in 0..2 {
            t.admit(ONE, &Method::GET, "live/a.ts", &none).unwrap();
        }
        let refused = t.admit(ONE, &Method::HEAD, "live/b.ts", &none).unwrap_err();
        let response = refused.response();
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
        let retry: u64 = response.headers()[header::RETRY_AFTER]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!((999..=1000).contains(&retry), "{retry}");
        assert!(
            refused.reason.contains("client 127.0.0.1"),
            "{}",
            refused.reason
        );
        t.admit(TWO, &Method::GET, "live/a.ts", &none).unwrap();
        t.admit(ONE, &Method::GET, "vod/a.ts", &none).unwrap();
        t.admit(ONE, &Method::PUT, "live/a.ts", &none).unwrap();
    }

    #[test]
    fn writes_are_counted_per_credential_when_credentials_are_required() {
        let rules = "[[limits]]\npattern = \"**\"\napplies_to = \"writes\"\nrequests_per_second = 0.001\nburst = 1\n";
        let t = throttle(rules, true);
        t.admit(ONE, &Method::PUT, "live/a.ts", &bearer("a"))
            .unwrap();
        let refused = t
            .admit(TWO, &Method::PUT, "live/b.ts", &bearer("a"))
            .unwrap_err();
        assert!(
            refused.reason.contains("this ingest credential"),
            "{}",
            refused.reason
        );
        assert!(!refused.reason.contains("Bearer"), "{}", refused.reason);
        t.admit(ONE, &Method::PUT, "live/a.ts", &bearer("b"))
            .unwrap();
        // Without ingest credentials a header proves nothing: writes are keyed by address.
        let open = throttle(rules, false);
        open.admit(ONE, &Method::PUT, "live/a.ts", &bearer("a"))
            .unwrap();
        assert!(
            open.admit(ONE, &Method::PUT, "live/a.ts", &bearer("b"))
                .is_err()
        );
    }

    #[test]
    fn concurrent_requests_of_one_client_share_its_burst_exactly() {
        let t = Arc::new(throttle(
            "[[limits]]\npattern = \"**\"\nrequests_per_second = 0.001\nburst = 10\n",
            false,
        ));
        let admitted: usize = (0..8)
            .map(|_| {
                let t = Arc::clone(&t);
                std::thread::spawn(move || {
                    (0..100)
                        .filter(|_| t.admit(ONE, &Method::GET, "a", &HeaderMap::new()).is_ok())
                        .count()
                })
            })
            .collect::<Vec<_>>()
            .into_iter()
            .map(|thread| thread.join().unwrap())
            .sum();
        assert_eq!(admitted, 10);
    }

    #[test]
    fn clients_cycling_addresses_do_not_grow_the_table_past_its_cap() {
        let t = throttle(
            "[[limits]]\npattern = \"**\"\nrequests_per_second = 1\n",
            false,
        );
        let none = HeaderMap::new();
        let extra = 20_000;
        for n in 0..(MAX_CLIENTS + extra) as u32 {
            let peer = IpAddr::V4(std::net::Ipv4Addr::from_bits(0x0a00_0000 + n));
            t.admit(peer, &Method::GET, "a", &none).unwrap();
        }
        assert!(t.buckets.len() <= MAX_CLIENTS, "{}", t.buckets.len());
    }

    #[test]
    fn extreme_rates_neither_panic_nor_overflow_retry_after() {
        let none = HeaderMap::new();
        // A rate so slow the next token is decades away: Retry-After stays at a day.
        let slow = throttle(
            "[[limits]]\npattern = \"**\"\nrequests_per_second = 1e-9\nburst = 1e12\n",
            false,
        );
        let slowest = throttle(
            "[[limits]]\npattern = \"**\"\nrequests_per_second = 5e-324\n",
            false,
        );
        slowest.admit(ONE, &Method::GET, "a", &none).unwrap();
        let refused = slowest.admit(ONE, &Method::GET, "a", &none).unwrap_err();
        assert_eq!(retry_after_secs(refused.wait), 86_400);
        assert!(
            refused.reason.contains("5e-324 requests/s"),
            "{}",
            refused.reason
        );
        for _ in 0..1000 {
            slow.admit(ONE, &Method::GET, "a", &none).unwrap();
        }
        // A rate so fast it never refuses a request, and the largest byte size: no infinity, no NaN.
        let fast = throttle(
            "[[limits]]\npattern = \"**\"\nrequests_per_second = 1e300\nbytes_per_second = \"16 EiB\"\n",
            false,
        );
        for _ in 0..1000 {
            fast.admit(ONE, &Method::GET, "a", &none).unwrap();
        }
        // Bytes far past even that rate wait at most a day, and the refusal names the rates briefly.
        let ticket = fast.admit(TWO, &Method::GET, "a", &none).unwrap();
        for _ in 0..3 {
            lock(ticket.buckets.as_ref().unwrap()).charge(u64::MAX, Instant::now());
        }
        let refused = fast.admit(TWO, &Method::GET, "a", &none).unwrap_err();
        assert!((1..=86_400).contains(&retry_after_secs(refused.wait)));
        assert!(refused.reason.len() < 200, "{}", refused.reason);
        assert!(
            refused.reason.contains("1e300 requests/s"),
            "{}",
            refused.reason
        );
    }

    #[test]
    fn a_declared_write_length_is_charged_on_arrival_capped_at_the_object_limit() {
        let t = throttle(
            "[[limits]]\npattern = \"**\"\nbytes_per_second = 1000\n",
            false,
        );
        let mut headers = HeaderMap::new();
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from(u64::MAX));
        t.admit(ONE, &Method::PUT, "a", &headers).unwrap();
        let refused = t
            .admit(ONE, &Method::PUT, "a", &HeaderMap::new())
            .unwrap_err();
        // 1 MiB (the object limit) less the 1000-byte burst, at 1000 bytes/s.
        assert_eq!(retry_after_secs(refused.wait), 1048);
    }
}
