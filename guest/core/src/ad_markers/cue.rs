//! The values of the CUE tags as encoders write them.
//!
//! - `EXT-X-CUE-OUT`: `30`, `30.000`, `DURATION=30` (Wowza, AWS Elemental, Anvato), possibly more attributes.
//! - `EXT-X-CUE-OUT-CONT`: `ElapsedTime=6.000,Duration=30,SCTE35=<base64>` (Elemental, MediaPackage) or
//!   `6.000/30` (older encoders).
//! - `EXT-X-CUE-IN`: no value.

use crate::hls::attributes::Attributes;

/// What one CUE-OUT or CUE-OUT-CONT says about its break.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Cue {
    /// The break's planned duration, seconds.
    pub planned_s: Option<f64>,
    /// Seconds of the break before the segment the tag is on (CUE-OUT-CONT only).
    pub elapsed_s: Option<f64>,
    /// The break's splice info, when the tag carries it (`SCTE35=` in base64).
    pub splice: Option<Vec<u8>>,
}

/// The value of `EXT-X-CUE-OUT`.
pub fn out(value: &str) -> Cue {
    let a = Attributes::parse(value);
    let planned_s = get(&a, "DURATION")
        .or_else(|| a.pairs.first().map(|(n, _)| n.as_str()))
        .and_then(seconds);
    Cue {
        planned_s,
        elapsed_s: None,
        splice: get(&a, "SCTE35").and_then(super::scte35::section),
    }
}

/// The value of `EXT-X-CUE-OUT-CONT`.
pub fn cont(value: &str) -> Cue {
    if let Some((elapsed, planned)) = value.split_once('/')
        && !value.contains('=')
    {
        return Cue {
            planned_s: seconds(planned),
            elapsed_s: seconds(elapsed),
            splice: None,
        };
    }
    let a = Attributes::parse(value);
    Cue {
        planned_s: get(&a, "DURATION").and_then(seconds),
        elapsed_s: get(&a, "ELAPSEDTIME").and_then(seconds),
        splice: get(&a, "SCTE35").and_then(super::scte35::section),
    }
}

/// The attribute `name` (given upper-case) in any ASCII case: vendors write `Duration` and `DURATION`.
fn get<'a>(a: &'a Attributes, name: &str) -> Option<&'a str> {
    a.pairs
        .iter()
        .find(|(n, _)| n.trim().eq_ignore_ascii_case(name))
        .map(|(_, v)| v.trim().trim_matches('"'))
}

/// Longest a break's planned or elapsed time may be, seconds: a day. Larger values are not breaks, and would
/// date one before any program date time the playlist could hold.
pub const MAX_BREAK_S: f64 = 86_400.0;

/// A number of seconds from 0 to [`MAX_BREAK_S`].
fn seconds(text: &str) -> Option<f64> {
    text.trim()
        .parse::<f64>()
        .ok()
        .filter(|s| (0.0..=MAX_BREAK_S).contains(s))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cue_out_forms() {
        for value in ["30", "30.000", "DURATION=30", "Duration=30.0,BREAKID=7"] {
            assert_eq!(out(value).planned_s, Some(30.0), "{value}");
        }
        assert_eq!(out("").planned_s, None);
        assert_eq!(out("soon").planned_s, None);
        assert_eq!(out("-5").planned_s, None);
        assert_eq!(out("NaN").planned_s, None);
        assert_eq!(out("1e300").planned_s, None);
        assert_eq!(cont("ElapsedTime=1e15,Duration=30").elapsed_s, None);
    }

    #[test]
    fn cue_out_cont_forms() {
        let c = cont(
            "ElapsedTime=6.006,Duration=30,SCTE35=/DAlAAAAAAAAAP/wFAUAAAPnf+/+ABH7nv4AKTLgAAEBAQAATRkqWQ==",
        );
        assert_eq!((c.elapsed_s, c.planned_s), (Some(6.006), Some(30.0)));
        assert_eq!(c.splice.map(|s| s.len()), Some(40));
        let c = cont("12.5/30");
        assert_eq!(
            (c.elapsed_s, c.planned_s, c.splice),
            (Some(12.5), Some(30.0), None)
        );
        assert_eq!(cont("garbage"), Cue::default());
    }
}
