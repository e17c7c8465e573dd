//! The body of `POST /_strata/harvest`, read and checked: a source playlist, a time window and a
//! destination folder. Everything here is the client's mistake to fix (400 with the reason).

use serde::Deserialize;
use serde_json::Value;
use strata_abi::key::key_from_path;
use strata_guest_core::iso8601::parse_date_time_ms;

use super::clip::Window;
use super::uris::folder;

/// Longest window one harvest copies.
pub const MAX_WINDOW_MS: i64 = 6 * 3600 * 1000;

/// A checked harvest request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HarvestRequest {
    /// The source playlist's key (media or multivariant, `.m3u8`).
    pub source: String,
    /// The window to clip.
    pub window: Window,
    /// The destination folder, with its trailing `/`.
    pub destination: String,
}

/// The JSON as sent.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Body {
    source: String,
    start: Value,
    end: Value,
    destination: String,
}

/// Reads a request body.
///
/// # Errors
/// The one-line reason the body is refused: not JSON of this shape, a bad key or folder, a bad time, an
/// empty or too long window, or a destination overlapping the source's folder.
pub fn parse(body: &[u8]) -> Result<HarvestRequest, String> {
    let body: Body = serde_json::from_slice(body).map_err(|e| format!("bad JSON: {e}"))?;
    let source =
        key_from_path(&body.source).map_err(|e| format!("source {:?}: {e}", body.source))?;
    if !source.to_ascii_lowercase().ends_with(".m3u8") {
        return Err(format!(
            "source {source:?} is not an HLS playlist (.m3u8): harvest clips HLS"
        ));
    }
    let destination = destination(&body.destination)?;
    let root = folder(&source);
    if destination.starts_with(root) || root.starts_with(destination.as_str()) {
        return Err(format!(
            "destination {destination:?} overlaps the source's folder {root:?}: the clip must not be written among the live objects"
        ));
    }
    let start_ms = time_ms("start", &body.start)?;
    let end_ms = time_ms("end", &body.end)?;
    if end_ms <= start_ms {
        return Err("end must be after start".to_owned());
    }
    if end_ms - start_ms > MAX_WINDOW_MS {
        return Err(format!(
            "the window is {} s long; a harvest copies at most {} s",
            (end_ms - start_ms) / 1000,
            MAX_WINDOW_MS / 1000
        ));
    }
    Ok(HarvestRequest {
        source,
        window: Window { start_ms, end_ms },
        destination,
    })
}

/// The destination folder: a valid key prefix ending with `/`, outside `_strata/`.
fn destination(raw: &str) -> Result<String, String> {
    let refuse = |why: String| Err(format!("destination {raw:?}: {why}"));
    let Some(folder) = raw.strip_suffix('/') else {
        return refuse("a destination is a folder and ends with '/', e.g. vod/clip1/".into());
    };
    let folder = match key_from_path(folder) {
        Ok(folder) => folder,
        Err(e) => return refuse(e.to_string()),
    };
    if folder.split('/').next() == Some("_strata") {
        return refuse("keys under _strata/ are reserved for the operator API".into());
    }
    Ok(format!("{folder}/"))
}

/// A time: an RFC 3339 date-time string (as `EXT-X-PROGRAM-DATE-TIME` writes it) or a number of seconds
/// since the Unix epoch; ms since the epoch.
fn time_ms(name: &str, value: &Value) -> Result<i64, String> {
    let ms = match value {
        Value::String(text) => parse_date_time_ms(text),
        Value::Number(n) => n
            .as_f64()
            .filter(|s| s.is_finite() && (0.0..1e13).contains(s))
            .map(|s| (s * 1000.0).round() as i64),
        _ => None,
    };
    ms.ok_or_else(|| {
        format!(
            "{name} must be an RFC 3339 date-time (\"2026-12-02T00:10:00Z\") or epoch seconds, not {value}"
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(source: &str, start: &str, end: &str, destination: &str) -> String {
        format!(
            r#"{{"source":"{source}","start":{start},"end":{end},"destination":"{destination}"}}"#
        )
    }

    #[test]
    fn a_good_request() {
        let r = parse(
            body(
                "/live/ch%201/index.m3u8",
                "\"2024-05-01T12:00:00Z\"",
                "1714564810.5",
                "vod/clip/",
            )
            .as_bytes(),
        )
        .unwrap();
        assert_eq!(r.source, "live/ch 1/index.m3u8");
        assert_eq!(r.destination, "vod/clip/");
        assert_eq!(
            r.window,
            Window {
                start_ms: 1_714_564_800_000,
                end_ms: 1_714_564_810_500
            }
        );
    }

    #[test]
    fn refusals_say_why() {
        let ok = |s: &str| body("live/a.m3u8", "10", "20", s);
        for (text, reason) in [
            ("{".to_owned(), "bad JSON"),
            ("[]".to_owned(), "bad JSON"),
            (
                r#"{"source":"a.m3u8","start":1,"end":2,"destination":"v/","x":1}"#.to_owned(),
                "unknown field `x`",
            ),
            (body("live/a.m3u8", "10", "20", "vod"), "ends with '/'"),
            (body("live/a.m3u8", "10", "20", "a/../b/"), "'..' segment"),
            (body("live/a.m3u8", "10", "20", "_strata/x/"), "reserved"),
            (ok("live/clips/"), "overlaps the source's folder"),
            (ok("/"), "empty key"),
            (body("a.m3u8", "10", "20", "vod/"), "overlaps"),
            (
                body("live/a.mpd", "10", "20", "vod/"),
                "not an HLS playlist",
            ),
            (
                body("live/%2e%2e/a.m3u8", "10", "20", "vod/"),
                "'..' segment",
            ),
            (
                body("live/a.m3u8", "20", "10", "vod/"),
                "end must be after start",
            ),
            (
                body("live/a.m3u8", "10", "10", "vod/"),
                "end must be after start",
            ),
            (
                body("live/a.m3u8", "\"yesterday\"", "10", "vod/"),
                "start must be",
            ),
            (body("live/a.m3u8", "-5", "10", "vod/"), "start must be"),
            (body("live/a.m3u8", "1", "null", "vod/"), "end must be"),
            (
                body("live/a.m3u8", "1e300", "1e301", "vod/"),
                "start must be",
            ),
            (body("live/a.m3u8", "0", "21601", "vod/"), "at most 21600 s"),
        ] {
            let e = parse(text.as_bytes()).unwrap_err();
            assert!(e.contains(reason), "{text}: {e}");
        }
        assert!(!ok("livestream/").is_empty());
        assert!(
            parse(ok("livestream/").as_bytes()).is_ok(),
            "a sibling folder is not the source's"
        );
    }
}
