//! `EXT-X-DATERANGE` spans: when each date range (all tags sharing its `ID`) ends, so a view that drops
//! older segments keeps the ranges still running (RFC 8216bis §6.2.1: a date range stays while any date in
//! it maps to a segment of the playlist).

use std::collections::HashMap;

use super::attributes::Attributes;
use super::{Line, Playlist};
use crate::iso8601::parse_date_time_ms;

/// What the tags of one `ID` say of its span.
#[derive(Debug, Clone, Default)]
struct Span {
    start_ms: Option<i64>,
    /// From `END-DATE` or `DURATION`.
    end_ms: Option<i64>,
    /// From `PLANNED-DURATION`.
    planned_end_ms: Option<i64>,
}

/// The `EXT-X-DATERANGE` lines among `lines` whose range has not ended by `from_ms` (by what every tag of
/// `p` with the same `ID` says: `END-DATE`, else `START-DATE` + `DURATION`, else + `PLANNED-DURATION`); a
/// range with no known end is still running.
pub fn running(p: &Playlist, lines: &[Line], from_ms: i64) -> Vec<Line> {
    let mut spans: HashMap<String, Span> = HashMap::new();
    for t in p.tags().filter(|t| t.name == "EXT-X-DATERANGE") {
        let a = Attributes::parse(t.value.as_deref().unwrap_or(""));
        let Some(id) = a.get("ID") else { continue };
        let span = spans.entry(id.to_string()).or_default();
        span.start_ms = span
            .start_ms
            .or_else(|| a.get("START-DATE").and_then(parse_date_time_ms));
        let after = |seconds: Option<f64>| {
            let s = seconds.filter(|s| s.is_finite() && *s >= 0.0)?;
            Some(span.start_ms?.saturating_add((s * 1000.0).round() as i64))
        };
        let end = a
            .get("END-DATE")
            .and_then(parse_date_time_ms)
            .or_else(|| after(a.number("DURATION")));
        let planned = after(a.number("PLANNED-DURATION"));
        span.end_ms = span.end_ms.or(end);
        span.planned_end_ms = span.planned_end_ms.or(planned);
    }
    lines
        .iter()
        .filter(|l| {
            let Some(t) = l.tag("EXT-X-DATERANGE") else {
                return false;
            };
            let a = Attributes::parse(t.value.as_deref().unwrap_or(""));
            let span = a
                .get("ID")
                .and_then(|id| spans.get(id))
                .map(|s| s.end_ms.or(s.planned_end_ms));
            span.flatten().is_none_or(|end| end > from_ms)
        })
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_that_reach_the_window_are_running() {
        let p = Playlist::parse(
            "#EXTM3U
#EXT-X-DATERANGE:ID=\"a\",START-DATE=\"2024-05-01T12:00:00Z\",PLANNED-DURATION=30
#EXT-X-DATERANGE:ID=\"b\",START-DATE=\"2024-05-01T12:00:00Z\",PLANNED-DURATION=30
#EXT-X-DATERANGE:ID=\"c\",START-DATE=\"2024-05-01T12:00:00Z\",END-DATE=\"2024-05-01T12:00:05Z\"
#EXT-X-DATERANGE:ID=\"d\",START-DATE=\"2024-05-01T12:00:00Z\"
#EXTINF:10,
a.ts
#EXT-X-DATERANGE:ID=\"b\",START-DATE=\"2024-05-01T12:00:00Z\",DURATION=8
#EXTINF:10,
b.ts
",
        )
        .unwrap();
        let ten_past = 1_714_564_810_000;
        let kept: Vec<String> = running(&p, &p.lines[..4], ten_past)
            .iter()
            .map(|l| match l {
                Line::Tag(t) => t.value.clone().unwrap(),
                _ => unreachable!(),
            })
            .collect();
        assert_eq!(kept.len(), 2, "{kept:?}");
        assert!(kept[0].starts_with("ID=\"a\"") && kept[1].starts_with("ID=\"d\""));
    }

    #[test]
    fn many_distinct_ranges_are_read_in_one_pass() {
        // A hostile upload of 20,000 date ranges (a map, not a list scan per tag, keeps this linear).
        let mut text = String::from("#EXTM3U\n");
        for i in 0..20_000 {
            text.push_str(&format!(
                "#EXT-X-DATERANGE:ID=\"r{i}\",START-DATE=\"2024-05-01T12:00:00Z\",DURATION={i}\n"
            ));
        }
        text.push_str("#EXTINF:1,\na.ts\n");
        let p = Playlist::parse(&text).unwrap();
        let from = 1_714_564_800_000 + 10_000_000;
        assert_eq!(running(&p, &p.lines, from).len(), 20_000 - 10_001);
    }
}
