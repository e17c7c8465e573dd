//! How far a live media playlist has got: its last complete segment, its last part, and the timing and
//! server-control values that bound blocking requests and delta updates.

use crate::hls::attributes::Attributes;
use crate::hls::{Line, Playlist};

/// A point in a stream: media sequence number and part index.
pub type Point = (u64, u64);

/// The LL-HLS facts of one media playlist.
#[derive(Debug, Clone, PartialEq)]
pub struct Progress {
    /// `EXT-X-TARGETDURATION` in ms (0 when absent).
    pub target_duration_ms: u64,
    /// `EXT-X-PART-INF:PART-TARGET` in ms, for playlists with parts.
    pub part_target_ms: Option<u64>,
    /// `EXT-X-MEDIA-SEQUENCE` (0 when absent).
    pub media_sequence: u64,
    /// Sequence number of the last complete media segment.
    pub last_segment: Option<u64>,
    /// The last part, of the last complete segment or of the one in progress.
    pub last_part: Option<Point>,
    /// `EXT-X-SERVER-CONTROL:CAN-SKIP-UNTIL` in seconds.
    pub can_skip_until: Option<f64>,
    /// `EXT-X-SERVER-CONTROL:CAN-SKIP-DATERANGES=YES`.
    pub can_skip_dateranges: bool,
}

/// What a blocking request's point means against the playlist now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reach {
    /// The playlist holds it: answer.
    Reached,
    /// Not yet, but within what may be waited for: hold the request.
    Ahead,
    /// Too far ahead to wait for (rfc8216bis §6.2.5.2): 400, with the reason.
    TooFar(&'static str),
}

impl Progress {
    /// Reads the progress of media playlist `p`.
    pub fn of(p: &Playlist) -> Self {
        let number = |name: &str| {
            p.tag(name)
                .and_then(|t| t.value.as_deref())
                .and_then(|v| v.trim().parse::<u64>().ok())
        };
        let media_sequence = number("EXT-X-MEDIA-SEQUENCE").unwrap_or(0);
        let (mut msn, mut part) = (media_sequence, 0);
        let (mut last_segment, mut last_part) = (None, None);
        for line in &p.lines {
            match line {
                Line::Tag(t) if t.name == "EXT-X-PART" => {
                    last_part = Some((msn, part));
                    part += 1;
                }
                Line::Uri(_) => {
                    last_segment = Some(msn);
                    msn += 1;
                    part = 0;
                }
                _ => {}
            }
        }
        let attributes = |name: &str| {
            p.tag(name)
                .and_then(|t| t.value.as_deref())
                .map(Attributes::parse)
                .unwrap_or_default()
        };
        let server_control = attributes("EXT-X-SERVER-CONTROL");
        let part_target_ms = attributes("EXT-X-PART-INF")
            .number("PART-TARGET")
            .filter(|s| s.is_finite() && *s > 0.0)
            .map(|s| (s * 1000.0).round() as u64);
        Progress {
            target_duration_ms: number("EXT-X-TARGETDURATION")
                .unwrap_or(0)
                .saturating_mul(1000),
            part_target_ms,
            media_sequence,
            last_segment,
            last_part,
            can_skip_until: server_control
                .number("CAN-SKIP-UNTIL")
                .filter(|s| s.is_finite() && *s > 0.0),
            can_skip_dateranges: server_control.get("CAN-SKIP-DATERANGES") == Some("YES"),
        }
    }

    /// The newest point of the playlist, as a rendition report gives it: `(LAST-MSN, LAST-PART)`, the part
    /// only when the last segment has parts.
    pub fn last(&self) -> Option<(u64, Option<u64>)> {
        match (self.last_segment, self.last_part) {
            (Some(s), Some((m, p))) if m >= s => Some((m, Some(p))),
            (Some(s), _) => Some((s, None)),
            (None, Some((m, p))) => Some((m, Some(p))),
            (None, None) => None,
        }
    }

    /// The Advance Part Limit: how many parts ahead of the last one a request may ask for.
    pub fn advance_part_limit(&self) -> u64 {
        match self.part_target_ms {
            Some(ms) if ms < 1000 => 3000_u64.div_ceil(ms),
            _ => 3,
        }
    }

    /// Where `msn` (and `part`, if given) stands: held in the playlist, worth waiting for, or too far.
    ///
    /// Part N of segment M is held when a later part or a later complete segment is: a part index past the
    /// last part of a complete segment M therefore waits for the first part of M + 1, as §6.2.5.2 says.
    pub fn reach(&self, msn: u64, part: Option<u64>) -> Reach {
        let held = match part {
            None => self.last_segment.is_some_and(|s| s >= msn),
            Some(n) => {
                self.last_segment.is_some_and(|s| s > msn)
                    || self.last_part.is_some_and(|last| last >= (msn, n))
            }
        };
        if held {
            return Reach::Reached;
        }
        let last_segment = self
            .last_segment
            .unwrap_or_else(|| self.media_sequence.saturating_sub(1));
        if msn > last_segment.saturating_add(2) {
            return Reach::TooFar("_HLS_msn is more than two segments past the last segment");
        }
        if let (Some(n), Some((last_msn, last_n))) = (part, self.last_part) {
            let limit = self.advance_part_limit();
            let too_far = if msn == last_msn {
                n > last_n.saturating_add(limit)
            } else {
                msn > last_msn && n >= limit
            };
            if too_far {
                return Reach::TooFar("_HLS_part is beyond the advance part limit");
            }
        }
        Reach::Ahead
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::llhls::fixtures::LIVE;

    fn live() -> Progress {
        Progress::of(&Playlist::parse(LIVE).unwrap())
    }

    #[test]
    fn reads_the_playlist() {
        let p = live();
        assert_eq!(p.target_duration_ms, 4000);
        assert_eq!(p.part_target_ms, Some(500));
        assert_eq!(p.media_sequence, 10);
        assert_eq!(p.last_segment, Some(11));
        assert_eq!(p.last_part, Some((12, 1)));
        assert_eq!(p.last(), Some((12, Some(1))));
        assert_eq!(p.can_skip_until, Some(24.0));
        assert!(!p.can_skip_dateranges);
        assert_eq!(p.advance_part_limit(), 6);
    }

    #[test]
    fn last_point_without_parts() {
        let p = Progress::of(
            &Playlist::parse("#EXTM3U\n#EXT-X-MEDIA-SEQUENCE:5\n#EXTINF:4,\na.ts\n").unwrap(),
        );
        assert_eq!(p.last(), Some((5, None)));
        assert_eq!(p.advance_part_limit(), 3);
        let empty = Progress::of(&Playlist::parse("#EXTM3U\n").unwrap());
        assert_eq!(empty.last(), None);
    }

    #[test]
    fn reached_points() {
        let p = live();
        for (msn, part) in [
            (10, None),
            (11, None),
            (11, Some(0)),
            (11, Some(5)),
            (12, Some(0)),
            (12, Some(1)),
            (3, Some(9)),
        ] {
            assert_eq!(p.reach(msn, part), Reach::Reached, "{msn} {part:?}");
        }
    }

    #[test]
    fn points_to_wait_for() {
        let p = live();
        for (msn, part) in [
            (12, None),
            (13, None),
            (12, Some(2)),
            (12, Some(7)),
            (13, Some(0)),
            (13, Some(5)),
        ] {
            assert_eq!(p.reach(msn, part), Reach::Ahead, "{msn} {part:?}");
        }
    }

    #[test]
    fn points_too_far() {
        let p = live();
        for (msn, part) in [(14, None), (14, Some(0)), (12, Some(8)), (13, Some(6))] {
            assert!(
                matches!(p.reach(msn, part), Reach::TooFar(_)),
                "{msn} {part:?}"
            );
        }
    }
}
