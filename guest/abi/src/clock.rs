//! The origin's clock for players: live MPDs name it in a `UTCTiming` element and both the Strata host and
//! the Spin shell answer it, as `urn:mpeg:dash:utc:http-iso:2014` reads it (ISO 8601, UTC, milliseconds).

/// The path of the origin's clock.
pub const CLOCK_PATH: &str = "/_strata/time";

/// `ms` since the Unix epoch as `YYYY-MM-DDTHH:MM:SS.mmmZ`.
pub fn format_date_time_ms(ms: i64) -> String {
    let days = ms.div_euclid(86_400_000);
    let in_day = ms.rem_euclid(86_400_000);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
        in_day / 3_600_000,
        in_day / 60_000 % 60,
        in_day / 1000 % 60,
        in_day % 1000
    )
}

/// The proleptic Gregorian date of `days` since 1970-01-01 (Howard Hinnant's `civil_from_days`).
pub fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_utc_with_milliseconds() {
        assert_eq!(format_date_time_ms(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(
            format_date_time_ms(951_782_400_007),
            "2000-02-29T00:00:00.007Z"
        );
        assert_eq!(
            format_date_time_ms(1_796_137_599_999),
            "2026-12-01T15:06:39.999Z"
        );
        assert_eq!(format_date_time_ms(-1), "1969-12-31T23:59:59.999Z");
    }
}
