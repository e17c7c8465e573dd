//! The two line formats. JSON lines are written by serde_json (every string escaped); the combined log
//! format (Apache's and nginx's) is followed by Strata's own fields as `key=value`, with every quoted value
//! escaped as nginx does (`"`, `\`, control and non-ASCII bytes as `\xHH`), so no path or header can break
//! a line or forge a field.

use std::fmt::Write as _;
use std::time::{Duration, UNIX_EPOCH};

use http::Version;
use serde::Serialize;

use super::config::Format;
use super::record::Notes;

/// `notes` as one line (without its newline) in `format`.
pub fn line(format: Format, notes: &Notes) -> String {
    match format {
        Format::Combined => combined(notes),
        Format::Json | Format::Off => json(notes),
    }
}

/// The fields of a JSON line, in order; absent values are `null`.
#[derive(Serialize)]
struct JsonLine<'a> {
    time: String,
    client: String,
    method: &'a str,
    path: &'a str,
    query: Option<&'a str>,
    protocol: &'static str,
    status: u16,
    bytes_in: u64,
    bytes_out: u64,
    complete: bool,
    duration_ms: f64,
    class: &'static str,
    source: &'static str,
    object_age_s: Option<u64>,
    guest: Option<&'a str>,
    guest_version: Option<&'a str>,
    decision: Option<&'static str>,
    decision_ms: f64,
    parked_ms: f64,
    sid: Option<&'a str>,
    referer: Option<&'a str>,
    user_agent: Option<&'a str>,
}

fn json(notes: &Notes) -> String {
    let (path, query) = match notes.target.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (notes.target.as_str(), None),
    };
    let line = JsonLine {
        time: strata_abi::clock::format_date_time_ms(unix_ms(notes)),
        client: notes.client.to_string(),
        method: notes.method.as_str(),
        path,
        query,
        protocol: protocol(notes.version),
        status: notes.status,
        bytes_in: notes.bytes_in,
        bytes_out: notes.bytes_out,
        complete: notes.complete,
        duration_ms: millis(notes.duration),
        class: notes.class.as_str(),
        source: notes.source.as_str(),
        object_age_s: notes.object_age(),
        guest: notes.guest.as_ref().map(|(name, _)| name.as_str()),
        guest_version: notes.guest.as_ref().map(|(_, version)| version.as_str()),
        decision: notes.decided.map(|d| d.as_str()),
        decision_ms: millis(notes.decision_time),
        parked_ms: millis(notes.parked),
        sid: notes.sid.as_deref(),
        referer: notes.referer.as_deref(),
        user_agent: notes.user_agent.as_deref(),
    };
    // Serializing plain strings and numbers cannot fail; an empty object is still a valid line.
    serde_json::to_string(&line).unwrap_or_else(|_| "{}".to_owned())
}

/// `client - - [time] "METHOD target PROTOCOL" status bytes_out "referer" "user-agent"` then
/// `rt= in= class= src= age= guest= version= decision= decision_ms= parked_ms= sid= complete=`.
fn combined(notes: &Notes) -> String {
    let mut out = String::with_capacity(256);
    let quoted = |value: Option<&str>| value.map_or_else(|| "-".to_owned(), escape);
    let _ = write!(
        out,
        "{} - - [{}] \"{} {} {}\" {} {} \"{}\" \"{}\"",
        notes.client,
        clf_time(unix_ms(notes) / 1000),
        escape(notes.method.as_str()),
        escape(&notes.target),
        protocol(notes.version),
        notes.status,
        notes.bytes_out,
        quoted(notes.referer.as_deref()),
        quoted(notes.user_agent.as_deref()),
    );
    let _ = write!(
        out,
        " rt={:.6} in={} class={} src={} age={} guest=\"{}\" version=\"{}\" decision={} decision_ms={:.3} \
         parked_ms={:.3} sid=\"{}\" complete={}",
        notes.duration.as_secs_f64(),
        notes.bytes_in,
        notes.class.as_str(),
        notes.source.as_str(),
        notes
            .object_age()
            .map_or_else(|| "-".to_owned(), |age| age.to_string()),
        quoted(notes.guest.as_ref().map(|(name, _)| name.as_str())),
        quoted(notes.guest.as_ref().map(|(_, version)| version.as_str())),
        notes.decided.map_or("-", |d| d.as_str()),
        millis(notes.decision_time),
        millis(notes.parked),
        quoted(notes.sid.as_deref()),
        u8::from(notes.complete),
    );
    out
}

/// `value` with `"`, `\`, control bytes and bytes outside ASCII written `\xHH`.
fn escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        match byte {
            b'"' | b'\\' | 0..=0x1f | 0x7f..=0xff => {
                let _ = write!(out, "\\x{byte:02X}");
            }
            _ => out.push(char::from(byte)),
        }
    }
    out
}

fn unix_ms(notes: &Notes) -> i64 {
    notes
        .time
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

fn millis(duration: Duration) -> f64 {
    (duration.as_secs_f64() * 1_000_000.0).round() / 1000.0
}

/// `02/Dec/2026:00:10:45 +0000`.
fn clf_time(seconds: i64) -> String {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let (y, m, d) = strata_abi::clock::civil_from_days(seconds.div_euclid(86_400));
    let in_day = seconds.rem_euclid(86_400);
    let month = MONTHS[usize::try_from(m - 1).unwrap_or(0).min(11)];
    format!(
        "{d:02}/{month}/{y:04}:{:02}:{:02}:{:02} +0000",
        in_day / 3600,
        in_day / 60 % 60,
        in_day % 60
    )
}

fn protocol(version: Version) -> &'static str {
    match version {
        Version::HTTP_09 => "HTTP/0.9",
        Version::HTTP_10 => "HTTP/1.0",
        Version::HTTP_2 => "HTTP/2.0",
        Version::HTTP_3 => "HTTP/3.0",
        _ => "HTTP/1.1",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::access_log::record::{Decided, Source};
    use crate::metrics::Class;

    fn notes() -> Notes {
        Notes {
            time: UNIX_EPOCH + Duration::from_millis(1_796_137_599_123),
            client: "127.0.0.1".parse().unwrap(),
            method: http::Method::GET,
            target: "/live/a\"b\n.m3u8?CMCD=sid%3D%22s%22".into(),
            version: Version::HTTP_11,
            referer: None,
            user_agent: Some("agent \"x\" \u{e9}".into()),
            sid: Some("s\"1".into()),
            class: Class::Playlist,
            status: 200,
            bytes_in: 0,
            bytes_out: 1234,
            complete: true,
            duration: Duration::from_micros(1500),
            source: Source::Memory,
            stored_at: Some(1_796_137_596),
            guest: Some(("origin".into(), "0123abcd".into())),
            decided: Some(Decided::Cache),
            decision_time: Duration::ZERO,
            parked: Duration::from_millis(20),
        }
    }

    #[test]
    fn json_lines_escape_every_string() {
        let line = json(&notes());
        assert!(!line.contains('\n'));
        let value: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(value["path"], "/live/a\"b\n.m3u8");
        assert_eq!(value["query"], "CMCD=sid%3D%22s%22");
        assert_eq!(value["time"], "2026-12-01T15:06:39.123Z");
        assert_eq!(value["sid"], "s\"1");
        assert_eq!(value["decision"], "cache");
        assert_eq!(value["parked_ms"], 20.0);
        assert_eq!(value["duration_ms"], 1.5);
        assert_eq!(value["referer"], serde_json::Value::Null);
    }

    #[test]
    fn combined_lines_quote_and_escape() {
        let line = combined(&notes());
        assert_eq!(
            line,
            "127.0.0.1 - - [01/Dec/2026:15:06:39 +0000] \"GET /live/a\\x22b\\x0A.m3u8?CMCD=sid%3D%22s%22 \
             HTTP/1.1\" 200 1234 \"-\" \"agent \\x22x\\x22 \\xC3\\xA9\" rt=0.001500 in=0 class=playlist \
             src=memory age=3 guest=\"origin\" version=\"0123abcd\" decision=cache decision_ms=0.000 \
             parked_ms=20.000 sid=\"s\\x221\" complete=1"
        );
    }
}
