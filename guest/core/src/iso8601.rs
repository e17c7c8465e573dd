//! ISO 8601 date-times and durations, as HLS (`EXT-X-PROGRAM-DATE-TIME`), DASH (`availabilityStartTime`,
//! `PT2S`) and MediaPackage's time-shift parameters write them.
//!
//! Hand-written: the forms needed are small (RFC 3339 date-times, `PnDTnHnMnS` durations) and a date crate
//! (chrono, time) would add far more to the guest than these fifty lines.

/// Milliseconds since the Unix epoch of an RFC 3339 date-time such as `2024-05-01T12:00:00.500Z` or
/// `2024-05-01T14:00:00+02:00` (also `+0200`); `None` if it is not one.
pub fn parse_date_time_ms(text: &str) -> Option<i64> {
    let t = text.trim();
    let (date, time) = t.split_once(['T', 't', ' '])?;
    let mut d = date.splitn(3, '-');
    let year: i64 = d.next()?.parse().ok()?;
    let month: u32 = d.next()?.parse().ok()?;
    let day: u32 = d.next()?.parse().ok()?;
    let zone_at = time.find(['Z', 'z', '+', '-']).unwrap_or(time.len());
    let (clock, zone) = time.split_at(zone_at);
    let mut c = clock.splitn(3, ':');
    let hour: i64 = c.next()?.parse().ok()?;
    let minute: i64 = c.next()?.parse().ok()?;
    let seconds: f64 = c.next().unwrap_or("0").parse().ok()?;
    // RFC 3339 years have four digits; bounding them also keeps the day arithmetic from overflowing.
    if !(0..=9999).contains(&year) {
        return None;
    }
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 24 || minute > 59 {
        return None;
    }
    if !(0.0..61.0).contains(&seconds) {
        return None;
    }
    let offset_minutes = match zone.as_bytes().first() {
        None | Some(b'Z' | b'z') => 0,
        Some(sign) => {
            let digits: String = zone[1..].chars().filter(|c| *c != ':').collect();
            if digits.len() != 4 || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            let h: i64 = digits[..2].parse().ok()?;
            let m: i64 = digits[2..].parse().ok()?;
            if *sign == b'-' {
                -(h * 60 + m)
            } else {
                h * 60 + m
            }
        }
    };
    let days = days_from_civil(year, month, day);
    let minutes = days * 1440 + hour * 60 + minute - offset_minutes;
    Some(minutes * 60_000 + (seconds * 1000.0).round() as i64)
}

/// `ms` since the epoch as `YYYY-MM-DDTHH:MM:SS.mmmZ` (the ABI's clock format).
pub use strata_abi::clock::format_date_time_ms;

/// Seconds in an ISO 8601 duration such as `PT2S`, `PT1M30.5S` or `P1DT2H`; `None` if it is not one.
/// Years and months are not accepted (their length is not fixed).
pub fn parse_duration_s(text: &str) -> Option<f64> {
    let rest = text.trim().strip_prefix('P')?;
    let (days, time) = match rest.split_once('T') {
        Some((d, t)) => (d, t),
        None => (rest, ""),
    };
    let mut total = 0.0;
    let mut any = false;
    for (part, units) in [
        (days, &[('D', 86_400.0)][..]),
        (time, &[('H', 3600.0), ('M', 60.0), ('S', 1.0)][..]),
    ] {
        let mut rest = part;
        for (unit, scale) in units {
            if let Some(at) = rest.find(*unit) {
                let n: f64 = rest[..at].parse().ok()?;
                total += n * scale;
                rest = &rest[at + 1..];
                any = true;
            }
        }
        if !rest.is_empty() {
            return None;
        }
    }
    (any && total.is_finite()).then_some(total)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn date_times() {
        assert_eq!(parse_date_time_ms("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(
            parse_date_time_ms("2024-05-01T12:00:00.500Z"),
            Some(1_714_564_800_500)
        );
        assert_eq!(
            parse_date_time_ms("2024-05-01T14:00:00.500+02:00"),
            Some(1_714_564_800_500)
        );
        assert_eq!(
            parse_date_time_ms("2024-05-01T07:00:00.5-0500"),
            Some(1_714_564_800_500)
        );
        for bad in [
            "",
            "2024-05-01",
            "2024-13-01T00:00:00Z",
            "x-y-zT1:2:3Z",
            "2024-05-01T00:00:00+2",
        ] {
            assert_eq!(parse_date_time_ms(bad), None, "{bad}");
        }
        assert_eq!(
            format_date_time_ms(1_714_564_800_500),
            "2024-05-01T12:00:00.500Z"
        );
        assert_eq!(format_date_time_ms(-1), "1969-12-31T23:59:59.999Z");
    }

    #[test]
    fn years_beyond_four_digits_are_refused() {
        assert_eq!(
            parse_date_time_ms("850183695583219984-05-01T12:00:18Z"),
            None
        );
        assert_eq!(parse_date_time_ms("-1-05-01T12:00:18Z"), None);
        assert!(parse_date_time_ms("9999-12-31T23:59:59Z").is_some());
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration_s("PT2S"), Some(2.0));
        assert_eq!(parse_duration_s("PT1M30.5S"), Some(90.5));
        assert_eq!(parse_duration_s("P1DT2H"), Some(93_600.0));
        assert_eq!(parse_duration_s("PT0S"), Some(0.0));
        for bad in ["", "P", "PT", "2S", "P1Y", "PTxS", "PT1S2"] {
            assert_eq!(parse_duration_s(bad), None, "{bad}");
        }
    }
}
