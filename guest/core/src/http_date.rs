//! HTTP-date (RFC 9110 §5.6.7) over the Unix seconds the tiers record.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The last second `httpdate` can format (9999-12-31T23:59:59Z); later times would make it panic.
const LAST_FORMATTABLE: u64 = 253_402_300_799;

/// Formats `secs` since the Unix epoch as an IMF-fixdate, for `Last-Modified`.
///
/// Times past the year 9999 are clamped rather than panicking.
pub fn format(secs: u64) -> String {
    let secs = secs.min(LAST_FORMATTABLE);
    httpdate::fmt_http_date(UNIX_EPOCH + Duration::from_secs(secs))
}

/// Parses any of the three HTTP-date forms into Unix seconds; `None` for anything else, which the
/// conditional headers then ignore, as RFC 9110 asks.
pub fn parse(text: &str) -> Option<u64> {
    let time: SystemTime = httpdate::parse_http_date(text.trim()).ok()?;
    time.duration_since(UNIX_EPOCH).ok().map(|d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_imf_fixdate() {
        assert_eq!(format(784_111_777), "Sun, 06 Nov 1994 08:49:37 GMT");
        assert_eq!(format(0), "Thu, 01 Jan 1970 00:00:00 GMT");
    }

    #[test]
    fn clamps_far_future_instead_of_panicking() {
        assert_eq!(format(u64::MAX), "Fri, 31 Dec 9999 23:59:59 GMT");
    }

    #[test]
    fn parses_all_three_forms() {
        assert_eq!(parse("Sun, 06 Nov 1994 08:49:37 GMT"), Some(784_111_777));
        assert_eq!(parse("Sunday, 06-Nov-94 08:49:37 GMT"), Some(784_111_777));
        assert_eq!(parse("Sun Nov  6 08:49:37 1994"), Some(784_111_777));
        assert_eq!(parse(" Sun, 06 Nov 1994 08:49:37 GMT "), Some(784_111_777));
    }

    #[test]
    fn rejects_garbage() {
        assert_eq!(parse("yesterday"), None);
        assert_eq!(parse(""), None);
    }
}
