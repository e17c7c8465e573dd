//! `GET /_strata/time`: the origin's clock for players, as DASH `UTCTiming` with the scheme
//! `urn:mpeg:dash:utc:http-iso:2014` reads it (ISO 8601 in UTC with milliseconds). Live DASH players must
//! agree with the packager's clock to find the live edge; the default guest points live MPDs that carry no
//! `UTCTiming` here. Open to everyone, cross-origin, never cached.

use std::time::{SystemTime, UNIX_EPOCH};

use http::{HeaderValue, Response, header};
use strata_abi::clock::format_date_time_ms;

use crate::http::{ResponseBody, full_body};

/// The current time as `text/plain`, e.g. `2026-12-01T15:06:39.123Z`.
pub fn now() -> Response<ResponseBody> {
    let ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
    let mut response = Response::new(full_body(format_date_time_ms(ms)));
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    headers.insert(
        header::ACCESS_CONTROL_EXPOSE_HEADERS,
        HeaderValue::from_static("Date"),
    );
    response
}
