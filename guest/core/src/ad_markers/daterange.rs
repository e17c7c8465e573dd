//! CUE-OUT / CUE-IN breaks written as `EXT-X-DATERANGE` (RFC 8216bis §4.4.5.1, SCTE-35 mapping §4.4.5.1.1).
//!
//! A break becomes two tags with one `ID`: where it began, `START-DATE`, `PLANNED-DURATION` and `SCTE35-OUT`
//! (when the playlist carries the splice info); where it ended (its `EXT-X-CUE-IN`), the same `ID` and
//! `START-DATE` with the actual `DURATION` (and `SCTE35-IN` when the return's splice info is there).
//!
//! Players keep date ranges by `ID` across reloads, so the `ID` comes from the break's start (its program
//! date time, to the second), never a counter: the same break gets the same `ID` on every reload and in
//! every rendition. A break that began before the playlist's first segment (only `EXT-X-CUE-OUT-CONT`
//! visible) starts `ElapsedTime` before that segment, which gives the same start, `ID` and tag. A break
//! whose start cannot be known (no `EXT-X-PROGRAM-DATE-TIME`, or a CUE-IN whose CUE-OUT left the window
//! with no CUE-OUT-CONT written) keeps its CUE tags as written, and the answer says why.

use super::breaks::{self, Break};
use super::scte35;
use crate::hls::attributes::Attributes;
use crate::hls::media::MediaView;
use crate::hls::{Line, Playlist, Tag};
use crate::iso8601::format_date_time_ms;

/// Why breaks kept their CUE tags.
pub const NO_PROGRAM_DATE_TIME: &str = "no EXT-X-PROGRAM-DATE-TIME dates the break's start";
/// Why an unmatched CUE-IN kept its tag.
pub const START_LEFT_THE_WINDOW: &str =
    "the break's EXT-X-CUE-OUT left the playlist and no EXT-X-CUE-OUT-CONT says when it began";

/// The playlist with its breaks as date ranges (`None` when it has no CUE tags to convert), and the
/// number of breaks kept as CUE tags with the reason.
pub fn convert(
    p: &Playlist,
    view: &MediaView,
) -> (Option<Playlist>, Option<(usize, &'static str)>) {
    let found = breaks::find(p, view);
    // Lines written before line i, and whether line i itself goes.
    let mut before: Vec<Vec<Line>> = vec![Vec::new(); p.lines.len()];
    let mut removed = vec![false; p.lines.len()];
    let mut kept: Option<(usize, &'static str)> = None;
    let mut keep = |reason| {
        let (n, _) = kept.get_or_insert((0, reason));
        *n += 1;
    };
    // Breaks come in segment order and many may share a segment: each segment is looked at once.
    let mut dated: Option<(usize, bool)> = None;
    for b in &found.breaks {
        let Some(start) = b.start_ms(view) else {
            keep(NO_PROGRAM_DATE_TIME);
            continue;
        };
        for &line in &b.lines {
            removed[line] = true;
        }
        let by_encoder = match dated {
            Some((segment, by_encoder)) if segment == b.first => by_encoder,
            _ => dated_by_encoder(p, view, b.first),
        };
        dated = Some((b.first, by_encoder));
        if by_encoder {
            // The encoder wrote the break as a date range too: its CUE tags only repeat it.
            continue;
        }
        before[b.opened_by].push(opening(b, start));
        if let Some((line, segment)) = b.cue_in {
            let end = breaks::start_ms(view, segment).unwrap_or(start);
            // Before the next break's opening when a CUE-OUT ended this one.
            before[line].insert(0, closing(b, start, end));
        }
    }
    for &(line, segment) in &found.orphan_ins {
        if segment == 0 {
            // The break ended where the playlist begins: no date in it maps to a segment here.
            removed[line] = true;
        } else {
            keep(START_LEFT_THE_WINDOW);
        }
    }
    if !removed.contains(&true) {
        return (None, kept);
    }
    let mut lines = Vec::with_capacity(p.lines.len());
    for ((line, added), gone) in p.lines.iter().zip(before).zip(removed) {
        lines.extend(added);
        if !gone {
            lines.push(line.clone());
        }
    }
    (Some(Playlist { lines }), kept)
}

/// Whether segment `i` of `p` carries the encoder's own SCTE-35 date range (an `EXT-X-DATERANGE` with
/// `SCTE35-OUT`), as MediaPackage and Elemental write beside their CUE tags.
fn dated_by_encoder(p: &Playlist, view: &MediaView, i: usize) -> bool {
    let from = match i.checked_sub(1) {
        Some(before) => view
            .segments
            .get(before)
            .map_or(p.lines.len(), |s| s.uri_line + 1),
        None => view.header_end,
    };
    let to = view.segments.get(i).map_or(p.lines.len(), |s| s.uri_line);
    p.lines[from.min(to)..to].iter().any(|l| {
        l.tag("EXT-X-DATERANGE").is_some_and(|t| {
            Attributes::parse(t.value.as_deref().unwrap_or(""))
                .get("SCTE35-OUT")
                .is_some()
        })
    })
}

/// `ID`, `START-DATE`: what both tags of a break share.
fn shared(start_ms: i64) -> String {
    let second = start_ms.saturating_add(500).div_euclid(1000) * 1000;
    let id = format_date_time_ms(second).replace(".000Z", "Z");
    format!(
        "ID=\"ad-{id}\",START-DATE=\"{}\"",
        format_date_time_ms(start_ms)
    )
}

/// The tag where the break began.
fn opening(b: &Break, start_ms: i64) -> Line {
    let mut value = shared(start_ms);
    if let Some(planned) = b.planned_s {
        value.push_str(&format!(",PLANNED-DURATION={planned:.3}"));
    }
    if let Some(section) = &b.splice_out {
        value.push_str(&format!(",SCTE35-OUT={}", scte35::hex_sequence(section)));
    }
    Line::Tag(Tag::new("EXT-X-DATERANGE", value))
}

/// The tag where the break ended, at `end_ms`.
fn closing(b: &Break, start_ms: i64, end_ms: i64) -> Line {
    let duration_s = end_ms.saturating_sub(start_ms).max(0) as f64 / 1000.0;
    let mut value = format!("{},DURATION={duration_s:.3}", shared(start_ms));
    if let Some(section) = &b.splice_in {
        value.push_str(&format!(",SCTE35-IN={}", scte35::hex_sequence(section)));
    }
    Line::Tag(Tag::new("EXT-X-DATERANGE", value))
}
