//! The segments of a media playlist: where each begins and ends in the lines, its sequence number, duration
//! and program date time. Time shift and cache classes read this view.

use super::attributes::Attributes;
use super::playlist::{Line, Playlist};
use crate::iso8601;

/// Tags that belong to the media segment that follows them (RFC 8216bis §4.4.4, plus common ad-marker tags).
pub const SEGMENT_TAGS: &[&str] = &[
    "EXTINF",
    "EXT-X-BYTERANGE",
    "EXT-X-DISCONTINUITY",
    "EXT-X-KEY",
    "EXT-X-MAP",
    "EXT-X-PROGRAM-DATE-TIME",
    "EXT-X-DATERANGE",
    "EXT-X-GAP",
    "EXT-X-BITRATE",
    "EXT-X-PART",
    "EXT-X-CUE-OUT",
    "EXT-X-CUE-OUT-CONT",
    "EXT-X-CUE-IN",
    "EXT-OATCLS-SCTE35",
    "EXT-X-SPLICEPOINT-SCTE35",
    "EXT-X-SCTE35",
    "EXT-X-ASSET",
];

/// One media segment.
#[derive(Debug, Clone, PartialEq)]
pub struct Segment {
    /// Index in [`Playlist::lines`] of the segment's first line.
    pub first_line: usize,
    /// Index of its URI line.
    pub uri_line: usize,
    /// Media sequence number.
    pub msn: u64,
    /// `EXTINF` duration in seconds.
    pub duration: f64,
    /// Start, ms since the epoch: its own `EXT-X-PROGRAM-DATE-TIME` or carried from the segment before.
    pub start_ms: Option<i64>,
    /// Whether an `EXT-X-DISCONTINUITY` precedes it.
    pub discontinuity: bool,
}

impl Segment {
    /// End, ms since the epoch.
    pub fn end_ms(&self) -> Option<i64> {
        self.start_ms
            .map(|s| s.saturating_add((self.duration * 1000.0).round() as i64))
    }
}

/// The segment structure of a media playlist.
#[derive(Debug, Clone, PartialEq)]
pub struct MediaView {
    /// Lines before the first segment: the header tags.
    pub header_end: usize,
    /// Segments in order.
    pub segments: Vec<Segment>,
    /// `EXT-X-MEDIA-SEQUENCE` (0 when absent).
    pub media_sequence: u64,
    /// `EXT-X-DISCONTINUITY-SEQUENCE` (0 when absent).
    pub discontinuity_sequence: u64,
}

/// Reads the segment structure of `p`.
pub fn view(p: &Playlist) -> MediaView {
    let number = |name: &str| {
        p.tag(name)
            .and_then(|t| t.value.as_deref())
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0)
    };
    let media_sequence: u64 = number("EXT-X-MEDIA-SEQUENCE");
    let header_end = p
        .lines
        .iter()
        .position(|l| match l {
            Line::Tag(t) => SEGMENT_TAGS.contains(&t.name.as_str()),
            Line::Uri(_) => true,
            _ => false,
        })
        .unwrap_or(p.lines.len());
    let mut segments = Vec::new();
    let (mut first_line, mut duration, mut pdt, mut next_start, mut discontinuity) =
        (header_end, 0.0, None, None::<i64>, false);
    for (i, line) in p.lines.iter().enumerate().skip(header_end) {
        match line {
            Line::Tag(t) => {
                let value = t.value.as_deref().unwrap_or("");
                match t.name.as_str() {
                    "EXTINF" => {
                        let d = value.split(',').next().unwrap_or("").trim();
                        duration = d
                            .parse::<f64>()
                            .ok()
                            .filter(|d| d.is_finite() && *d >= 0.0)
                            .unwrap_or(0.0);
                    }
                    "EXT-X-PROGRAM-DATE-TIME" => pdt = iso8601::parse_date_time_ms(value),
                    "EXT-X-DISCONTINUITY" => discontinuity = true,
                    _ => {}
                }
            }
            Line::Uri(_) => {
                let start_ms = pdt.or(next_start);
                let seg = Segment {
                    first_line,
                    uri_line: i,
                    msn: media_sequence.saturating_add(segments.len() as u64),
                    duration,
                    start_ms,
                    discontinuity,
                };
                next_start = seg.end_ms();
                segments.push(seg);
                (first_line, duration, pdt, discontinuity) = (i + 1, 0.0, None, false);
            }
            _ => {}
        }
    }
    MediaView {
        header_end,
        segments,
        media_sequence,
        discontinuity_sequence: number("EXT-X-DISCONTINUITY-SEQUENCE"),
    }
}

/// The `URI` of an attribute-list tag such as `EXT-X-MAP`, `EXT-X-KEY` or `EXT-X-MEDIA`.
pub fn attribute_uri(value: &str) -> Option<String> {
    Attributes::parse(value).get("URI").map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIVE: &str = "#EXTM3U
#EXT-X-VERSION:6
#EXT-X-TARGETDURATION:4
#EXT-X-MEDIA-SEQUENCE:100
#EXT-X-DISCONTINUITY-SEQUENCE:2
#EXT-X-MAP:URI=\"init.mp4\"
#EXT-X-PROGRAM-DATE-TIME:2024-05-01T12:00:00.000Z
#EXTINF:4.000,
s100.m4s
#EXTINF:4.000,
s101.m4s
#EXT-X-DISCONTINUITY
#EXT-X-PROGRAM-DATE-TIME:2024-05-01T12:01:00.000Z
#EXTINF:3.5,
s102.m4s
";

    #[test]
    fn segments_sequence_and_times() {
        let p = Playlist::parse(LIVE).unwrap();
        let v = view(&p);
        assert_eq!(v.header_end, 4);
        assert_eq!(v.media_sequence, 100);
        assert_eq!(v.discontinuity_sequence, 2);
        assert_eq!(v.segments.len(), 3);
        let s = &v.segments;
        assert_eq!((s[0].first_line, s[0].uri_line, s[0].msn), (4, 7, 100));
        assert_eq!(s[0].start_ms, Some(1_714_564_800_000));
        assert_eq!(s[1].start_ms, Some(1_714_564_804_000));
        assert!(!s[1].discontinuity && s[2].discontinuity);
        assert_eq!(s[2].start_ms, Some(1_714_564_860_000));
        assert_eq!(s[2].end_ms(), Some(1_714_564_863_500));
        assert_eq!(s[2].duration, 3.5);
    }

    #[test]
    fn an_absurd_duration_saturates_instead_of_overflowing() {
        let text = "#EXTM3U\n#EXT-X-PROGRAM-DATE-TIME:2024-05-01T12:00:00.000Z\n\
                    #EXTINF:111111111111111111111111111111111.0,\na.ts\n#EXTINF:2,\nb.ts\n";
        let v = view(&Playlist::parse(text).unwrap());
        assert_eq!(v.segments[0].end_ms(), Some(i64::MAX));
        assert_eq!(v.segments[1].end_ms(), Some(i64::MAX));
    }

    #[test]
    fn a_media_sequence_at_the_end_of_its_range_saturates_instead_of_overflowing() {
        let text = format!(
            "#EXTM3U\n#EXT-X-MEDIA-SEQUENCE:{}\n#EXTINF:2,\na.ts\n#EXTINF:2,\nb.ts\n#EXTINF:2,\nc.ts\n",
            u64::MAX - 1
        );
        let v = view(&Playlist::parse(&text).unwrap());
        let msns: Vec<u64> = v.segments.iter().map(|s| s.msn).collect();
        assert_eq!(msns, [u64::MAX - 1, u64::MAX, u64::MAX]);
    }

    #[test]
    fn no_segments() {
        let v = view(&Playlist::parse("#EXTM3U\n#EXT-X-TARGETDURATION:4\n").unwrap());
        assert!(v.segments.is_empty());
        assert_eq!(v.header_end, 1);
    }

    #[test]
    fn uri_of_attribute_tags() {
        assert_eq!(
            attribute_uri("METHOD=AES-128,URI=\"k.key\"").as_deref(),
            Some("k.key")
        );
        assert_eq!(attribute_uri("METHOD=NONE"), None);
    }
}
