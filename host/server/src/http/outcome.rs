//! Carrying out a guest's outcome: the host moves the bytes the guest named.

use std::io::SeekFrom;
use std::sync::Arc;
use std::time::Duration;

use http::header::{self, HeaderName, HeaderValue};
use http::{Response, StatusCode};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use tokio::io::{AsyncReadExt, AsyncSeekExt};

use super::body::{self, ResponseBody};
use super::linger;
use strata_abi::types as abi;
use strata_tiers::{Naming, NewObject, ObjectBody, Storage, TierError, Upload};

/// The result of trying to serve: a response, or "the object changed since the guest decided".
pub enum Served {
    /// Send this.
    Response(Response<ResponseBody>),
    /// The object is gone or has another entity tag: decide again.
    Stale,
}

/// Builds a response from a guest's status and headers, refusing values HTTP cannot carry.
pub fn head(
    status: u16,
    headers: &[(String, String)],
    body: ResponseBody,
) -> Result<Response<ResponseBody>, String> {
    let status = StatusCode::from_u16(status)
        .map_err(|_| format!("guest answered invalid status {status}"))?;
    let mut response = Response::new(body);
    *response.status_mut() = status;
    for (name, value) in headers {
        let name = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| format!("guest answered invalid header name {name:?}"))?;
        let value = HeaderValue::from_str(value)
            .map_err(|_| format!("guest answered invalid value for header {name}"))?;
        response.headers_mut().append(name, value);
    }
    Ok(response)
}

/// A guest-written response.
pub fn respond(response: abi::Response, is_head: bool) -> Response<ResponseBody> {
    let length = response.body.len();
    let body = if is_head {
        body::empty()
    } else {
        body::full(response.body)
    };
    match head(response.status, &response.headers, body) {
        Ok(mut response) => {
            response
                .headers_mut()
                .insert(header::CONTENT_LENGTH, HeaderValue::from(length));
            response
        }
        Err(reason) => body::error(StatusCode::INTERNAL_SERVER_ERROR, reason),
    }
}

/// Streams the object a serve plan names, from memory or disk.
pub async fn serve(storage: &dyn Storage, plan: abi::ServePlan, is_head: bool) -> Served {
    let opened = match storage.open(&plan.key).await {
        Ok(Some(opened)) if opened.meta.etag == plan.etag => opened,
        Ok(_) => return Served::Stale,
        Err(e) => {
            tracing::error!(key = %plan.key, error = %e, "cannot open object");
            return Served::Response(body::error(
                StatusCode::INTERNAL_SERVER_ERROR,
                e.client_reason(),
            ));
        }
    };
    let opened = match opened.body {
        ObjectBody::Growing(upload) => {
            return Served::Response(serve_growing(&upload, plan, is_head));
        }
        _ => opened,
    };
    let size = opened.meta.size;
    let (first, length) = match plan.range {
        None => (0, size),
        Some(range) if range.first <= range.last && range.last < size => {
            (range.first, range.last - range.first + 1)
        }
        Some(range) => {
            return Served::Response(body::error(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!(
                    "guest asked for bytes {}-{} of a {size}-byte object",
                    range.first, range.last
                ),
            ));
        }
    };
    let content = if is_head {
        body::empty()
    } else {
        match opened.body {
            ObjectBody::Memory(bytes) => {
                body::full(bytes.slice(first as usize..(first + length) as usize))
            }
            ObjectBody::Disk(mut file) => {
                if let Err(e) = file.seek(SeekFrom::Start(first)).await {
                    return Served::Response(body::error(StatusCode::INTERNAL_SERVER_ERROR, e));
                }
                body::stream(file.take(length))
            }
            ObjectBody::Growing(_) => body::empty(),
        }
    };
    let mut response = match head(plan.status, &plan.headers, content) {
        Ok(response) => response,
        Err(reason) => {
            return Served::Response(body::error(StatusCode::INTERNAL_SERVER_ERROR, reason));
        }
    };
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
    if plan.range.is_some() {
        let range = format!("bytes {first}-{}/{size}", first + length - 1);
        if let Ok(value) = HeaderValue::from_str(&range) {
            headers.insert(header::CONTENT_RANGE, value);
        }
    }
    Served::Response(response)
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
fn serve_growing(upload: &Upload, plan: abi::ServePlan, is_head: bool) -> Response<ResponseBody> {
    let (first, end) = match plan.range {
        None => (0, None),
        Some(range) => (range.first, Some(range.last.saturating_add(1))),
    };
    let content = if is_head {
        body::empty()
    } else {
        body::chunks(upload.reader(first, end))
    };
    let mut response = match head(plan.status, &plan.headers, content) {
        Ok(response) => response,
        Err(reason) => return body::error(StatusCode::INTERNAL_SERVER_ERROR, reason),
    };
    if let Some(range) = plan.range
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
    mut request_body: Incoming,
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
            && let Err(e) = writer.write(chunk).await
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
    match head(plan.status, &plan.headers, body::empty()) {
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
        Ok(true) => match head(plan.status, &plan.headers, body::empty()) {
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
