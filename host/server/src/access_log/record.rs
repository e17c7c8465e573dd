//! What one request did, noted as it happens and written as one access log line when the request is done.
//!
//! A request's [`Record`] is shared by the request's own future (through a task-local, so the code on its
//! path notes what it knows with one call: [`served_from`], [`guest_chosen`], [`decided`],
//! [`decision_took`], [`Parking`], [`responded`], [`received`]) and its response body (the record is the
//! body's [`BodyWatch`], counting the bytes sent). The line is written when the last of them lets go: after
//! the body's last byte, or when the client left (a request dropped before its answer is logged with status
//! 499, as nginx does).

use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use http::{Method, Request, Version, header};
use strata_runtime::Deployment;

use super::AccessLog;
use super::format;
use crate::http::BodyWatch;
use crate::metrics::Class;

/// The status logged for a request whose client left before its answer (nginx's "client closed request").
pub const CLIENT_CLOSED: u16 = 499;

/// Longest header value (referer, user agent, session id) a line carries, in bytes; longer ones are cut,
/// so a client cannot make every line of its requests kilobytes long.
pub const MAX_HEADER_BYTES: usize = 1024;

/// Query parameters whose values are credentials, logged as [`REDACTED`]: the signature of a signed URL
/// (`st_sig`, `guest/core/src/signing`) grants its whole prefix until it expires, so anyone who reads the
/// log could replay it. The expiry (`st_exp`) stays, to explain a 403.
pub const SECRET_PARAMS: &[&str] = &["st_sig"];

/// What a secret parameter's value is logged as.
pub const REDACTED: &str = "REDACTED";

/// Where a response body came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// The memory tier.
    Memory,
    /// The disk tier.
    Disk,
    /// An upload still arriving, followed as it grows.
    Upload,
    /// The guest's own response.
    Guest,
    /// The host: its errors and refusals, the admin API.
    Host,
}

impl Source {
    /// The logged word.
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Memory => "memory",
            Source::Disk => "disk",
            Source::Upload => "upload",
            Source::Guest => "guest",
            Source::Host => "host",
        }
    }
}

/// How the decision that answered a request was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decided {
    /// The guest ran for this request.
    Guest,
    /// A remembered decision was carried out again, without entering Wasm (decision 0051).
    Cache,
    /// The decision made for its herd of woken requests was shared (decision 0041).
    Herd,
}

impl Decided {
    /// The logged word.
    pub fn as_str(self) -> &'static str {
        match self {
            Decided::Guest => "guest",
            Decided::Cache => "cache",
            Decided::Herd => "herd",
        }
    }
}

/// Everything one line says.
#[derive(Debug, Clone)]
pub struct Notes {
    /// When the request arrived.
    pub time: SystemTime,
    /// The client's address (the connection's peer).
    pub client: IpAddr,
    /// The method.
    pub method: Method,
    /// The request target as sent: path and query.
    pub target: String,
    /// The HTTP version.
    pub version: Version,
    /// `Referer`, if sent.
    pub referer: Option<String>,
    /// `User-Agent`, if sent.
    pub user_agent: Option<String>,
    /// The CMCD session id, if sent.
    pub sid: Option<String>,
    /// The request's class, as the metrics break it down.
    pub class: Class,
    /// The response status ([`CLIENT_CLOSED`] if none was given).
    pub status: u16,
    /// Request body bytes received.
    pub bytes_in: u64,
    /// Response body bytes sent.
    pub bytes_out: u64,
    /// Whether the response body was sent whole.
    pub complete: bool,
    /// From arrival to the body's end (or the client's leaving).
    pub duration: Duration,
    /// Where the body came from.
    pub source: Source,
    /// When the object served was stored, Unix seconds.
    pub stored_at: Option<u64>,
    /// The guest that decided and its version id.
    pub guest: Option<(String, String)>,
    /// How the decision was made.
    pub decided: Option<Decided>,
    /// Time the guest spent deciding (every decision of the request).
    pub decision_time: Duration,
    /// Time the request spent parked on `wait` outcomes.
    pub parked: Duration,
}

impl Notes {
    /// Seconds from when the object served was stored to when the request arrived.
    pub fn object_age(&self) -> Option<u64> {
        let arrived = self
            .time
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs();
        self.stored_at.map(|at| arrived.saturating_sub(at))
    }
}

/// One request's notes, shared by its future and its response body; the line is written when the last
/// holder drops it.
#[derive(Clone)]
pub struct Record(Arc<Shared>);

struct Shared {
    started: Instant,
    notes: Mutex<Notes>,
    log: AccessLog,
}

tokio::task_local! {
    static CURRENT: Record;
}

impl Record {
    /// Starts the record of `request` from `client`, of `class`, arrived at `arrived`, written to `log`
    /// when done.
    pub fn begin<B>(
        log: &AccessLog,
        client: IpAddr,
        request: &Request<B>,
        arrived: Instant,
        class: Class,
    ) -> Record {
        // The text of the line is only gathered when a line is written: the hit path stays free of it.
        let on = log.is_on();
        let header = |name: header::HeaderName| {
            request
                .headers()
                .get(name)
                .filter(|_| on)
                .map(|v| cut(String::from_utf8_lossy(v.as_bytes()).into_owned()))
        };
        let uri = request.uri();
        let target = match uri.path_and_query() {
            _ if !on => String::new(),
            Some(pq) => redact(pq.as_str()),
            None => redact(&uri.to_string()),
        };
        let headers = request
            .headers()
            .iter()
            .filter_map(|(name, value)| Some((name.as_str(), value.to_str().ok()?)));
        let notes = Notes {
            time: if on {
                SystemTime::now()
            } else {
                SystemTime::UNIX_EPOCH
            },
            client: client.to_canonical(),
            method: request.method().clone(),
            target,
            version: request.version(),
            referer: header(header::REFERER).map(|referer| redact(&referer)),
            user_agent: header(header::USER_AGENT),
            sid: on
                .then(|| strata_abi::cmcd::session_id(uri.query().unwrap_or_default(), headers))
                .flatten()
                .map(cut),
            class,
            status: CLIENT_CLOSED,
            bytes_in: 0,
            bytes_out: 0,
            complete: false,
            duration: Duration::ZERO,
            source: Source::Host,
            stored_at: None,
            guest: None,
            decided: None,
            decision_time: Duration::ZERO,
            parked: Duration::ZERO,
        };
        Record(Arc::new(Shared {
            started: arrived,
            notes: Mutex::new(notes),
            log: log.clone(),
        }))
    }

    /// Runs `future` with this record as the one the hooks note into.
    pub fn scope<F: Future>(self, future: F) -> impl Future<Output = F::Output> {
        CURRENT.scope(self, future)
    }

    /// Runs `work` with this record as the one the hooks note into, without awaiting.
    pub fn sync_scope<R>(self, work: impl FnOnce() -> R) -> R {
        CURRENT.sync_scope(self, work)
    }

    /// The notes, to change.
    pub fn notes(&self) -> MutexGuard<'_, Notes> {
        self.0.notes.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// `value` cut to at most [`MAX_HEADER_BYTES`], on a character boundary.
fn cut(mut value: String) -> String {
    if value.len() > MAX_HEADER_BYTES {
        let mut end = MAX_HEADER_BYTES;
        while !value.is_char_boundary(end) {
            end -= 1;
        }
        value.truncate(end);
    }
    value
}

/// `target` (a path or URL and its query) with the value of every [`SECRET_PARAMS`] parameter replaced by
/// [`REDACTED`]; names are compared as the guest reads them: percent-decoded, case-insensitively.
fn redact(target: &str) -> String {
    let Some((path, query)) = target.split_once('?') else {
        return target.to_owned();
    };
    let pairs: Vec<String> = query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((name, _)) if is_secret(name) => format!("{name}={REDACTED}"),
            _ => pair.to_owned(),
        })
        .collect();
    format!("{path}?{}", pairs.join("&"))
}

fn is_secret(raw_name: &str) -> bool {
    let name = percent_encoding::percent_decode_str(raw_name).decode_utf8_lossy();
    SECRET_PARAMS
        .iter()
        .any(|secret| name.eq_ignore_ascii_case(secret))
}

/// The response body's bytes, counted as they are sent, and whether it was sent whole.
impl BodyWatch for Record {
    fn sent(&self, bytes: usize) {
        self.notes().bytes_out += bytes as u64;
    }

    fn finished(&self, ended: bool) {
        self.notes().complete = ended;
    }
}

impl Drop for Shared {
    fn drop(&mut self) {
        let notes = self.notes.get_mut().unwrap_or_else(PoisonError::into_inner);
        crate::metrics::record_transfer(notes.class, notes.bytes_in, notes.bytes_out);
        if let Some(format) = self.log.format() {
            notes.duration = self.started.elapsed();
            self.log.write(format::line(format, notes));
        }
    }
}

/// Notes into the current request's record, if the caller runs within one.
fn note(change: impl FnOnce(&mut Notes)) {
    let _ = CURRENT.try_with(|record| change(&mut record.notes()));
}

/// Notes what only the log line says (the metrics need only the byte counts), if a line will be written.
fn note_for_line(change: impl FnOnce(&mut Notes)) {
    let _ = CURRENT.try_with(|record| {
        if record.0.log.is_on() {
            change(&mut record.notes());
        }
    });
}

/// The body comes from `source`; the object served was stored at `stored_at` (Unix seconds), if any.
pub fn served_from(source: Source, stored_at: Option<u64>) {
    note_for_line(|notes| {
        notes.source = source;
        notes.stored_at = stored_at;
    });
}

/// `deployment` is the guest (and version) this request runs on.
pub fn guest_chosen(deployment: &Deployment) {
    note_for_line(|notes| {
        notes.guest = Some((deployment.name.clone(), deployment.version.id.clone()))
    });
}

/// The decision that answers the request was made `how`.
pub fn decided(how: Decided) {
    note_for_line(|notes| notes.decided = Some(how));
}

/// A guest decision of `guest` took `took`: logged and recorded in the metrics.
pub fn decision_took(guest: &str, took: Duration) {
    crate::metrics::record_decision(guest, took);
    note_for_line(|notes| notes.decision_time += took);
}

/// One stay of the request on a `wait` outcome: its time is noted when the guard drops, whether the wait
/// ended or the client left (the request is then dropped with it, and logged 499 with its parked time).
pub struct Parking(Instant);

impl Parking {
    /// The request parks now.
    pub fn start() -> Self {
        Parking(Instant::now())
    }
}

impl Drop for Parking {
    fn drop(&mut self) {
        let waited = self.0.elapsed();
        note_for_line(|notes| notes.parked += waited);
    }
}

/// The response's status is `status`.
pub fn responded(status: u16) {
    note_for_line(|notes| notes.status = status);
}

/// `bytes` more of the request body arrived.
pub fn received(bytes: u64) {
    note(|notes| notes.bytes_in += bytes);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signed_url_signatures_are_redacted_however_their_name_is_spelled() {
        assert_eq!(redact("/a/b.ts"), "/a/b.ts");
        assert_eq!(
            redact("/p/i.m3u8?st_exp=99&st_sig=abcdef&_HLS_msn=3"),
            "/p/i.m3u8?st_exp=99&st_sig=REDACTED&_HLS_msn=3"
        );
        assert_eq!(
            redact("/p/i.m3u8?ST_SIG=ab&st%5Fsig=cd&st_sig&x=st_sig=1&&"),
            "/p/i.m3u8?ST_SIG=REDACTED&st%5Fsig=REDACTED&st_sig&x=st_sig=1&&"
        );
        assert_eq!(
            redact("https://site/page?st_sig=ab#f"),
            "https://site/page?st_sig=REDACTED"
        );
    }

    #[test]
    fn long_header_values_are_cut_on_a_character_boundary() {
        assert_eq!(cut("short".into()), "short");
        let long = "é".repeat(MAX_HEADER_BYTES);
        let cut = cut(long);
        assert!(cut.len() <= MAX_HEADER_BYTES && cut.len() >= MAX_HEADER_BYTES - 1);
        assert!(cut.chars().all(|c| c == 'é'));
    }
}
