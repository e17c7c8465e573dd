//! Carrying out a guest's outcome: the host moves the bytes the guest named.

use std::io::SeekFrom;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Response, StatusCode};
use http_body_util::BodyExt;
use tokio::io::{AsyncReadExt, AsyncSeekExt};

use super::body::{self, ResponseBody};
use super::linger;
use super::throttle::UploadBody;
use crate::access_log::{self, Source};
use strata_abi::types as abi;
use strata_tiers::{Naming, NewObject, ObjectBody, OpenedObject, Storage, TierError, Upload};

/// The result of trying to serve: a response, or "the object changed since the guest decided".
pub enum Served {
    /// Send this.
    Response(Response<ResponseBody>),
    /// The object is gone or has another entity tag: decide again.
    Stale,
}

/// A guest's status and header fields, checked once: what HTTP cannot carry is refused.
fn header_map(
    status: u16,
    headers: &[(String, String)],
) -> Result<(StatusCode, HeaderMap), String> {
    let status = StatusCode::from_u16(status)
        .map_err(|_| format!("guest answered invalid status {status}"))?;
    let mut map = HeaderMap::with_capacity(headers.len() + 2);
    for (name, value) in headers {
        let name = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| format!("guest answered invalid header name {name:?}"))?;
        let value = HeaderValue::from_str(value)
            .map_err(|_| format!("guest answered invalid value for header {name}"))?;
        map.append(name, value);
    }
    Ok((status, map))
}

/// A response of `status` with the guest's `headers` and no body; `Err` names what HTTP cannot carry.
fn bare(status: u16, headers: &[(String, String)]) -> Result<Response<ResponseBody>, String> {
    let (status, headers) = header_map(status, headers)?;
    let mut response = Response::new(body::empty());
    *response.status_mut() = status;
    *response.headers_mut() = headers;
    Ok(response)
}

/// A response written by the guest, checked and ready to send as often as asked (the decision cache keeps
/// it whole).
#[derive(Debug)]
pub struct Prepared {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
}

impl Prepared {
    /// Checks a guest's response; `Err` names what HTTP cannot carry.
    pub fn new(response: abi::Response) -> Result<Prepared, String> {
        let (status, mut headers) = header_map(response.status, &response.headers)?;
        headers.insert(
            header::CONTENT_LENGTH,
            HeaderValue::from(response.body.len()),
        );
        Ok(Prepared {
            status,
            headers,
            body: Bytes::from(response.body),
        })
    }

    /// The response (without its body for a HEAD; the body is shared, never copied).
    pub fn response(&self, is_head: bool) -> Response<ResponseBody> {
        access_log::served_from(Source::Guest, None);
        let body = if is_head {
            body::empty()
        } else {
            body::full(self.body.clone())
        };
        let mut response = Response::new(body);
        *response.status_mut() = self.status;
        *response.headers_mut() = self.headers.clone();
        response
    }

    /// The response whole, to answer without awaiting (`http::remembered`).
    pub fn whole(&self, is_head: bool) -> Whole {
        Whole {
            status: self.status,
            head: self.headers.clone(),
            body: (!is_head).then(|| self.body.clone()),
            source: Source::Guest,
            stored_at: None,
        }
    }

    /// Bytes it holds on the heap, for the decision cache's budget.
    pub fn weight(&self) -> usize {
        self.body.len() + headers_weight(&self.headers)
    }
}

/// An answer held whole in memory (a guest's response, or an object's bytes and head): what a remembered
/// read is answered with without awaiting, and what a connection thread's front keeps its own copy of
/// (`decision_cache::front`).
#[derive(Debug)]
pub struct Whole {
    status: StatusCode,
    head: HeaderMap,
    /// `None` for a HEAD.
    body: Option<Bytes>,
    source: Source,
    /// When the object was stored, for the access log.
    stored_at: Option<u64>,
}

/// Bodies up to this size are copied into a connection thread's front; larger ones are shared (what a
/// copy saves, a shared count touched by both threads, is small beside sending them).
const COPIED_BODY_MAX: usize = 64 << 10;

impl Whole {
    /// The response, noted in the access log as served from where its bytes came.
    pub fn response(&self) -> Response<ResponseBody> {
        access_log::served_from(self.source, self.stored_at);
        let body = match &self.body {
            Some(bytes) => body::full(bytes.clone()),
            None => body::empty(),
        };
        let mut response = Response::new(body);
        *response.status_mut() = self.status;
        *response.headers_mut() = self.head.clone();
        response
    }

    /// Whether its bytes came from the memory tier.
    pub fn came_from_memory(&self) -> bool {
        self.source == Source::Memory
    }

    /// A copy in buffers of its own (a small body and every header name and value), so the thread that
    /// keeps it clones and drops them without touching counts another thread touches too.
    pub fn copied(&self) -> Whole {
        let mut head = HeaderMap::with_capacity(self.head.len());
        for (name, value) in &self.head {
            let name = HeaderName::from_bytes(name.as_str().as_bytes());
            let copied = HeaderValue::from_maybe_shared(Bytes::copy_from_slice(value.as_bytes()));
            if let (Ok(name), Ok(mut copied)) = (name, copied) {
                copied.set_sensitive(value.is_sensitive());
                head.append(name, copied);
            }
        }
        let body = self.body.as_ref().map(|bytes| {
            if bytes.len() <= COPIED_BODY_MAX {
                Bytes::copy_from_slice(bytes)
            } else {
                bytes.clone()
            }
        });
        Whole {
            status: self.status,
            head,
            body,
            source: self.source,
            stored_at: self.stored_at,
        }
    }

    /// Bytes it holds on the heap, for a front's budget.
    pub fn weight(&self) -> usize {
        headers_weight(&self.head) + self.body.as_ref().map_or(0, Bytes::len)
    }
}

/// A guest-written response.
pub fn respond(response: abi::Response, is_head: bool) -> Response<ResponseBody> {
    match Prepared::new(response) {
        Ok(prepared) => prepared.response(is_head),
        Err(reason) => body::error(StatusCode::INTERNAL_SERVER_ERROR, reason),
    }
}

/// A serve plan, checked: the object, the version decided on, the range, and the response head.
#[derive(Debug)]
pub struct Serving {
    key: String,
    etag: String,
    range: Option<abi::ByteRange>,
    status: StatusCode,
    headers: HeaderMap,
    /// The whole head of an answer from a complete object (with its length and range), made at the first
    /// serve and keyed by the object's size: the version decided on fixes the size, so a remembered
    /// decision's answers share it.
    complete_head: OnceLock<(u64, HeaderMap)>,
}

impl Serving {
    /// Checks a guest's serve plan (its prefetch hint is the caller's); `Err` names what HTTP cannot carry.
    pub fn new(plan: &abi::ServePlan) -> Result<Serving, String> {
        let (status, headers) = header_map(plan.status, &plan.headers)?;
        Ok(Serving {
            key: plan.key.clone(),
            etag: plan.etag.clone(),
            range: plan.range,
            status,
            headers,
            complete_head: OnceLock::new(),
        })
    }

    /// The object it serves.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// Bytes it holds on the heap, for the decision cache's budget: the head made at the first serve is
    /// counted already (the guest's fields again, and the length and range).
    pub fn weight(&self) -> usize {
        self.key.len() + self.etag.len() + 2 * headers_weight(&self.headers) + COMPLETE_HEAD_EXTRA
    }

    /// The head of the answer from a complete object of `size` bytes, sending `length` bytes from `first`.
    fn complete_head(&self, size: u64, first: u64, length: u64) -> HeaderMap {
        if let Some((known, head)) = self.complete_head.get()
            && *known == size
        {
            return head.clone();
        }
        let mut head = self.headers.clone();
        head.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
        if self.range.is_some() {
            let range = format!("bytes {first}-{}/{size}", first + length - 1);
            if let Ok(value) = HeaderValue::from_str(&range) {
                head.insert(header::CONTENT_RANGE, value);
            }
        }
        let _ = self.complete_head.set((size, head.clone()));
        head
    }

    fn response(&self, body: ResponseBody) -> Response<ResponseBody> {
        let mut response = Response::new(body);
        *response.status_mut() = self.status;
        *response.headers_mut() = self.headers.clone();
        response
    }
}

/// Bytes the length and range fields of a complete answer's head hold, on top of the guest's fields.
const COMPLETE_HEAD_EXTRA: usize = 128;

/// Bytes a header map holds: its tables (hyper's `HeaderMap` reserves a bucket of name, value, hash and
/// links, and an index, per slot of its capacity, used or not) and each name and value on the heap.
fn headers_weight(headers: &HeaderMap) -> usize {
    const BUCKET: usize =
        std::mem::size_of::<HeaderName>() + std::mem::size_of::<HeaderValue>() + 24;
    const INDEX: usize = 8;
    headers.capacity() * (BUCKET + INDEX)
        + headers
            .iter()
            .map(|(name, value)| name.as_str().len() + value.len())
            .sum::<usize>()
}

/// Streams the object `serving` names, from memory or disk.
pub async fn serve(storage: &dyn Storage, serving: &Serving, is_head: bool) -> Served {
    let opened = match storage.open(&serving.key).await {
        Ok(Some(opened)) if opened.meta.etag == serving.etag => opened,
        Ok(_) => return Served::Stale,
        Err(e) => {
            tracing::error!(key = %serving.key, error = %e, "cannot open object");
            return Served::Response(body::error(
                StatusCode::INTERNAL_SERVER_ERROR,
                e.client_reason(),
            ));
        }
    };
    match answer_from(opened, serving, is_head) {
        Answer::Ready(response) => Served::Response(response),
        Answer::FromFile {
            mut file,
            first,
            length,
            head,
        } => {
            if let Err(e) = file.seek(SeekFrom::Start(first)).await {
                return Served::Response(body::error(StatusCode::INTERNAL_SERVER_ERROR, e));
            }
            let mut response = Response::new(body::stream(file.take(length)));
            *response.status_mut() = serving.status;
            *response.headers_mut() = head;
            Served::Response(response)
        }
    }
}

/// The answer from the object `serving` names, whole, and when that object expires (seconds since the Unix
/// epoch), if the storage holds that version in memory and hands it over at once; `None` says only "use
/// [`serve`]" (which also tells a changed object from a missing one, and a range past its end).
pub fn whole_from_memory(
    storage: &dyn Storage,
    serving: &Serving,
    is_head: bool,
) -> Option<(Whole, Option<u64>)> {
    let opened = storage.open_in_memory(&serving.key, &serving.etag)?;
    let ObjectBody::Memory(bytes) = &opened.body else {
        return None;
    };
    let size = opened.meta.size;
    let (first, length) = bounds(serving.range, size).ok()?;
    let whole = Whole {
        status: serving.status,
        head: serving.complete_head(size, first, length),
        body: (!is_head).then(|| bytes.slice(first as usize..(first + length) as usize)),
        source: Source::Memory,
        stored_at: Some(opened.meta.last_modified),
    };
    Some((whole, opened.meta.expires_at))
}

/// The first byte and the length a serve sends of an object of `size` bytes; `Err` says why the guest's
/// range does not fit it.
fn bounds(range: Option<abi::ByteRange>, size: u64) -> Result<(u64, u64), String> {
    match range {
        None => Ok((0, size)),
        Some(range) if range.first <= range.last && range.last < size => {
            Ok((range.first, range.last - range.first + 1))
        }
        Some(range) => Err(format!(
            "guest asked for bytes {}-{} of a {size}-byte object",
            range.first, range.last
        )),
    }
}

/// An opened object's answer: ready, or a file still to be positioned at `first`.
enum Answer {
    Ready(Response<ResponseBody>),
    FromFile {
        file: tokio::fs::File,
        first: u64,
        length: u64,
        head: HeaderMap,
    },
}

/// The answer from `opened`, the version `serving` decided on: the range checked, the head made, the body
/// shared from memory, followed as it arrives, or left in its file.
fn answer_from(opened: OpenedObject, serving: &Serving, is_head: bool) -> Answer {
    let source = match &opened.body {
        ObjectBody::Growing(_) => Source::Upload,
        _ if opened.from_disk => Source::Disk,
        _ => Source::Memory,
    };
    access_log::served_from(source, Some(opened.meta.last_modified));
    if let ObjectBody::Growing(upload) = &opened.body {
        return Answer::Ready(serve_growing(upload, serving, is_head));
    }
    let size = opened.meta.size;
    let (first, length) = match bounds(serving.range, size) {
        Ok(bounds) => bounds,
        Err(reason) => {
            return Answer::Ready(body::error(StatusCode::INTERNAL_SERVER_ERROR, reason));
        }
    };
    let head = serving.complete_head(size, first, length);
    let content = match opened.body {
        _ if is_head => body::empty(),
        ObjectBody::Memory(bytes) => {
            body::full(bytes.slice(first as usize..(first + length) as usize))
        }
        ObjectBody::Disk(file) => {
            return Answer::FromFile {
                file,
                first,
                length,
                head,
            };
        }
        ObjectBody::Growing(_) => body::empty(),
    };
    let mut response = Response::new(content);
    *response.status_mut() = serving.status;
    *response.headers_mut() = head;
    Answer::Ready(response)
}

/// Warms the objects a serve plan hints at (CMCD `nor`) into memory in the background, so the response
/// never waits for them.
pub fn prefetch(storage: &Arc<dyn Storage>, keys: Vec<String>) {
    for key in keys {
        let storage = Arc::clone(storage);
        tokio::spawn(async move { storage.prefetch(&key).await });
    }
}

/// Streams an object whose upload is still arriving, following the writer: no Content-Length (the size is
/// not known yet), and for a closed range a Content-Range with an unknown complete length (RFC 9110 §14.4).
fn serve_growing(upload: &Upload, serving: &Serving, is_head: bool) -> Response<ResponseBody> {
    let (first, end) = match serving.range {
        None => (0, None),
        Some(range) => (range.first, Some(range.last.saturating_add(1))),
    };
    let content = if is_head {
        body::empty()
    } else {
        body::chunks(upload.reader(first, end))
    };
    let mut response = serving.response(content);
    if let Some(range) = serving.range
        && let Ok(value) = HeaderValue::from_str(&format!("bytes {}-{}/*", range.first, range.last))
    {
        response.headers_mut().insert(header::CONTENT_RANGE, value);
    }
    response
}

/// What bounds one upload.
#[derive(Debug, Clone, Copy)]
pub struct UploadLimits {
    /// Largest object, in bytes (413 past it).
    pub max_bytes: u64,
    /// Longest the body may send nothing before the upload is aborted.
    pub idle: Duration,
}

/// Streams the request body into the tiers; answers once it is durable. A body that stalls for
/// `limits.idle` aborts the upload: nothing is stored and readers following it see a failed transfer.
pub async fn store(
    storage: &Arc<dyn Storage>,
    plan: abi::StorePlan,
    mut request_body: UploadBody,
    limits: UploadLimits,
) -> Response<ResponseBody> {
    let spec = NewObject {
        content_type: plan.content_type,
        cache_control: plan.cache_control,
        metadata: plan.metadata,
        ttl_seconds: plan.ttl_seconds,
        naming: Naming::Local,
    };
    let mut writer = match Arc::clone(storage)
        .store(plan.key.clone(), spec, limits.max_bytes)
        .await
    {
        Ok(writer) => writer,
        Err(e) => {
            linger::discard(request_body).await;
            return tier_failure(&plan.key, e);
        }
    };
    loop {
        let Ok(frame) = tokio::time::timeout(limits.idle, request_body.frame()).await else {
            drop(writer);
            crate::metrics::record_stalled_upload();
            tracing::warn!(key = %plan.key, idle_ms = limits.idle.as_millis() as u64,
                "upload stalled; nothing stored, and its readers see a failed transfer");
            return body::error(
                StatusCode::REQUEST_TIMEOUT,
                format!(
                    "upload of {} stalled: no byte for {} ms; nothing was stored",
                    plan.key,
                    limits.idle.as_millis()
                ),
            );
        };
        let Some(frame) = frame else { break };
        let frame = match frame {
            Ok(frame) => frame,
            Err(e) => {
                return body::error(
                    StatusCode::BAD_REQUEST,
                    format!("upload of {} aborted: {e}", plan.key),
                );
            }
        };
        if let Ok(chunk) = frame.into_data()
            && let Err(e) = {
                access_log::received(chunk.len() as u64);
                writer.write(chunk).await
            }
        {
            drop(writer);
            if matches!(
                e,
                TierError::TooLarge { .. } | TierError::UploadMemoryFull { .. }
            ) {
                linger::discard(request_body).await;
            }
            return tier_failure(&plan.key, e);
        }
    }
    let meta = match writer.commit().await {
        Ok(meta) => meta,
        Err(e) => return tier_failure(&plan.key, e),
    };
    match bare(plan.status, &plan.headers) {
        Ok(mut response) => {
            if let Ok(etag) = HeaderValue::from_str(&meta.etag) {
                response.headers_mut().insert(header::ETAG, etag);
            }
            response
        }
        Err(reason) => body::error(StatusCode::INTERNAL_SERVER_ERROR, reason),
    }
}

/// Removes the object a delete plan names.
pub async fn delete(storage: &dyn Storage, plan: abi::DeletePlan) -> Response<ResponseBody> {
    match storage.delete(&plan.key).await {
        Ok(true) => match bare(plan.status, &plan.headers) {
            Ok(response) => response,
            Err(reason) => body::error(StatusCode::INTERNAL_SERVER_ERROR, reason),
        },
        Ok(false) => body::error(StatusCode::NOT_FOUND, format!("no object at {}", plan.key)),
        Err(e) => tier_failure(&plan.key, e),
    }
}

/// The status and reason for a failed tier operation.
fn tier_failure(key: &str, error: TierError) -> Response<ResponseBody> {
    let status = match &error {
        TierError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
        TierError::DiskFull { .. } | TierError::DiskBudget { .. } | TierError::MemoryFull => {
            StatusCode::INSUFFICIENT_STORAGE
        }
        TierError::UploadMemoryFull { .. } | TierError::Shared { .. } => {
            StatusCode::SERVICE_UNAVAILABLE
        }
        TierError::Io { .. } | TierError::IncompleteCopy { .. } => {
            StatusCode::INTERNAL_SERVER_ERROR
        }
    };
    if matches!(
        error,
        TierError::UploadMemoryFull { .. } | TierError::Shared { .. }
    ) {
        tracing::warn!(%key, %error, "upload refused");
        let mut response = body::error(status, format!("{key}: {}", error.client_reason()));
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        return response;
    }
    if status.is_server_error() {
        tracing::error!(%key, %error, "storage failed");
    }
    body::error(status, format!("{key}: {}", error.client_reason()))
}
