//! The ad breaks of a media playlist, read from its CUE tags: where each begins and ends, when it began,
//! how long it was planned for, and its splice info.

use super::{cue, scte35};
use crate::hls::media::MediaView;
use crate::hls::{Line, Playlist};

/// One `EXT-X-CUE-OUT` ... `EXT-X-CUE-IN` break as far as the playlist shows it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Break {
    /// The first segment of the break in the playlist (an index into the view's segments; the number of
    /// segments when the tag follows the last one).
    pub first: usize,
    /// The line that opens it: its `EXT-X-CUE-OUT`, or for a break that began before the playlist's first
    /// segment the first `EXT-X-CUE-OUT-CONT`.
    pub opened_by: usize,
    /// Seconds of the break before `first` (0 when its `EXT-X-CUE-OUT` is in the playlist).
    pub elapsed_s: f64,
    /// The planned duration, seconds.
    pub planned_s: Option<f64>,
    /// Its `EXT-X-CUE-IN`: the line and the segment it is on (the first after the break). `None` while the
    /// break goes on.
    pub cue_in: Option<(usize, usize)>,
    /// The `splice_info_section` that began it (`EXT-OATCLS-SCTE35` beside the CUE-OUT, or a `SCTE35`
    /// attribute), if the playlist carries it.
    pub splice_out: Option<Vec<u8>>,
    /// The one that ended it (`EXT-OATCLS-SCTE35` beside the CUE-IN), if any.
    pub splice_in: Option<Vec<u8>>,
    /// Every line that belongs to the break: CUE-OUT, CUE-OUT-CONT, CUE-IN, and the `EXT-OATCLS-SCTE35` of
    /// its first and return segments.
    pub lines: Vec<usize>,
}

/// The breaks of `p`, and the lines of `EXT-X-CUE-IN` tags that end no break the playlist shows (their
/// `EXT-X-CUE-OUT` has left the window and no `EXT-X-CUE-OUT-CONT` was written), with their segments.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Breaks {
    /// In playlist order.
    pub breaks: Vec<Break>,
    /// `(line, segment)` of each unmatched CUE-IN.
    pub orphan_ins: Vec<(usize, usize)>,
}

/// The tags of the segment being read: which cues it has and its `EXT-OATCLS-SCTE35` lines.
#[derive(Default)]
struct Pending {
    opened: bool,
    closed: bool,
    oatcls: Vec<(usize, Option<Vec<u8>>)>,
}

/// Reads the breaks of `p`, whose segment view is `view`.
pub fn find(p: &Playlist, view: &MediaView) -> Breaks {
    let mut found = Breaks::default();
    let mut open: Option<Break> = None;
    let mut segment = 0;
    let mut pending = Pending::default();
    for (i, line) in p.lines.iter().enumerate().skip(view.header_end) {
        let tag = match line {
            Line::Uri(_) => {
                settle(&mut pending, &mut open, &mut found);
                segment += 1;
                continue;
            }
            Line::Tag(t) => t,
            _ => continue,
        };
        let value = tag.value.as_deref().unwrap_or("");
        match tag.name.as_str() {
            "EXT-X-CUE-OUT" => {
                if let Some(mut previous) = open.take() {
                    // A new break before the last one's CUE-IN: the last one ends here.
                    previous.cue_in = Some((i, segment));
                    found.breaks.push(previous);
                }
                let c = cue::out(value);
                open = Some(Break {
                    first: segment,
                    opened_by: i,
                    planned_s: c.planned_s,
                    splice_out: c.splice,
                    lines: vec![i],
                    ..Break::default()
                });
                pending.opened = true;
            }
            "EXT-X-CUE-OUT-CONT" => {
                let c = cue::cont(value);
                let b = open.get_or_insert_with(|| Break {
                    first: segment,
                    opened_by: i,
                    elapsed_s: c.elapsed_s.unwrap_or(0.0),
                    ..Break::default()
                });
                b.planned_s = b.planned_s.or(c.planned_s);
                b.splice_out = b.splice_out.take().or(c.splice);
                b.lines.push(i);
            }
            "EXT-X-CUE-IN" => match open.take() {
                Some(mut b) => {
                    b.cue_in = Some((i, segment));
                    b.lines.push(i);
                    found.breaks.push(b);
                    pending.closed = true;
                }
                None => found.orphan_ins.push((i, segment)),
            },
            "EXT-OATCLS-SCTE35" => pending.oatcls.push((i, scte35::section(value))),
            _ => {}
        }
    }
    settle(&mut pending, &mut open, &mut found);
    found.breaks.extend(open);
    found
}

/// Gives the `EXT-OATCLS-SCTE35` tags of the segment just read to the break it opened or closed.
fn settle(pending: &mut Pending, open: &mut Option<Break>, found: &mut Breaks) {
    let Pending {
        opened,
        closed,
        oatcls,
    } = std::mem::take(pending);
    let target = if opened {
        open.as_mut()
    } else if closed {
        found.breaks.last_mut()
    } else {
        None
    };
    let Some(b) = target else { return };
    for (line, section) in oatcls {
        b.lines.push(line);
        let slot = if opened {
            &mut b.splice_out
        } else {
            &mut b.splice_in
        };
        if slot.is_none() {
            *slot = section;
        }
    }
}

/// When segment `i` of `view` begins, ms since the epoch; for `i` just past the last segment, the last
/// one's end (a tag written before its segment's URI).
pub fn start_ms(view: &MediaView, i: usize) -> Option<i64> {
    match view.segments.get(i) {
        Some(s) => s.start_ms,
        None if i == view.segments.len() => view.segments.last()?.end_ms(),
        None => None,
    }
}

impl Break {
    /// When the break began, ms since the epoch: its first segment's program date time, less the time
    /// a CUE-OUT-CONT says had already passed.
    pub fn start_ms(&self, view: &MediaView) -> Option<i64> {
        let elapsed_ms = (self.elapsed_s * 1000.0).round() as i64;
        start_ms(view, self.first).map(|s| s.saturating_sub(elapsed_ms))
    }

    /// Whether segment `i` is inside the break.
    pub fn holds(&self, i: usize) -> bool {
        i >= self.first && self.cue_in.is_none_or(|(_, end)| i < end)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hls::media;

    fn breaks(text: &str) -> Breaks {
        let p = Playlist::parse(text).unwrap();
        find(&p, &media::view(&p))
    }

    const ELEMENTAL: &str = "#EXTM3U
#EXT-X-TARGETDURATION:6
#EXT-X-MEDIA-SEQUENCE:10
#EXT-X-PROGRAM-DATE-TIME:2024-05-01T12:00:00.000Z
#EXTINF:6.000,
s10.ts
#EXT-OATCLS-SCTE35:/DAlAAAAAAAAAP/wFAUAAAPnf+/+ABH7nv4AKTLgAAEBAQAATRkqWQ==
#EXT-X-CUE-OUT:30.000
#EXTINF:6.000,
s11.ts
#EXT-X-CUE-OUT-CONT:ElapsedTime=6.000,Duration=30
#EXTINF:6.000,
s12.ts
#EXT-X-CUE-IN
#EXTINF:6.000,
s13.ts
";

    #[test]
    fn a_whole_break() {
        let b = breaks(ELEMENTAL);
        assert!(b.orphan_ins.is_empty());
        let [one] = &b.breaks[..] else {
            panic!("{b:?}")
        };
        assert_eq!((one.first, one.opened_by, one.elapsed_s), (1, 6, 0.0));
        assert_eq!(one.planned_s, Some(30.0));
        assert_eq!(one.cue_in, Some((12, 3)));
        assert_eq!(one.lines, [6, 5, 9, 12]);
        assert_eq!(one.splice_out.as_ref().map(Vec::len), Some(40));
        assert!(one.holds(1) && one.holds(2) && !one.holds(3) && !one.holds(0));
        let p = Playlist::parse(ELEMENTAL).unwrap();
        let view = media::view(&p);
        assert_eq!(one.start_ms(&view), Some(1_714_564_806_000));
    }

    #[test]
    fn a_break_that_began_before_the_window() {
        let text = "#EXTM3U\n#EXT-X-PROGRAM-DATE-TIME:2024-05-01T12:00:12.000Z\n\
                    #EXT-X-CUE-OUT-CONT:ElapsedTime=6.000,Duration=30\n#EXTINF:6,\ns12.ts\n";
        let b = breaks(text);
        let one = &b.breaks[0];
        assert_eq!((one.first, one.elapsed_s, one.cue_in), (0, 6.0, None));
        let p = Playlist::parse(text).unwrap();
        assert_eq!(one.start_ms(&media::view(&p)), Some(1_714_564_806_000));
    }

    #[test]
    fn unmatched_cue_in_and_trailing_cue_out() {
        let b = breaks(
            "#EXTM3U\n#EXTINF:6,\na.ts\n#EXT-X-CUE-IN\n#EXTINF:6,\nb.ts\n#EXT-X-CUE-OUT:DURATION=15\n",
        );
        assert_eq!(b.orphan_ins, [(2, 1)]);
        assert_eq!((b.breaks[0].first, b.breaks[0].planned_s), (2, Some(15.0)));
        assert_eq!(b.breaks[0].cue_in, None);
    }
}
