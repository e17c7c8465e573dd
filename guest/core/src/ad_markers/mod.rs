//! Ad markers in HLS media playlists, per route (`[[guest.ad_markers]]`): passed through as written (the
//! default), CUE-OUT/CUE-IN breaks converted to `EXT-X-DATERANGE` ([`daterange`]), or removed.
//!
//! Every other rewrite (filters, time shift, delta updates, signing) keeps the markers it is given; the
//! time shift also keeps the state a window cut in the middle of a break needs ([`continuation_at`],
//! [`crate::hls::daterange`]). The conversion is a pure function of the stored playlist and the route, so
//! a remembered decision ([`crate::reuse`]) stays right until the playlist changes.
//!
//! - [`cue`]: the values of the CUE tags as encoders write them.
//! - [`breaks`]: the breaks a playlist's CUE tags describe.
//! - [`scte35`]: splice info in base64 and hexadecimal.
//! - [`daterange`]: breaks written as date ranges.

pub mod breaks;
pub mod cue;
pub mod daterange;
pub mod scte35;

use std::collections::HashSet;

use crate::hls::attributes::Attributes;
use crate::hls::media::{self, MediaView};
use crate::hls::{Kind, Line, Playlist, Tag};
use crate::types::{AdMarkersMode, Request};

/// The response header saying how many breaks a `daterange` route kept as CUE tags, and why.
pub use strata_abi::types::AD_MARKERS_KEPT_HEADER as NOTE_HEADER;

/// Tags that are ad markers and nothing else (besides SCTE-35 date ranges), removed by `none`.
pub const MARKER_TAGS: &[&str] = &[
    "EXT-X-CUE-OUT",
    "EXT-X-CUE-OUT-CONT",
    "EXT-X-CUE-IN",
    "EXT-OATCLS-SCTE35",
    "EXT-X-SPLICEPOINT-SCTE35",
    "EXT-X-SCTE35",
];

/// `EXT-X-DATERANGE` attributes that carry SCTE-35.
const SCTE35_ATTRIBUTES: [&str; 3] = ["SCTE35-OUT", "SCTE35-IN", "SCTE35-CMD"];

/// The mode of the route holding `key`: the longest configured prefix, else passthrough.
pub fn mode_for(req: &Request, key: &str) -> AdMarkersMode {
    req.settings
        .ad_markers
        .iter()
        .filter(|r| key.starts_with(&r.prefix))
        .max_by_key(|r| r.prefix.len())
        .map_or(AdMarkersMode::Passthrough, |r| r.mode)
}

/// Whether `mode` may change the playlist `text` (a scan, no parse: it runs on every playlist GET).
pub fn may_change(mode: AdMarkersMode, text: &str) -> bool {
    match mode {
        AdMarkersMode::Passthrough => false,
        AdMarkersMode::Daterange => text.contains("#EXT-X-CUE-"),
        AdMarkersMode::None => {
            text.contains("#EXT-X-CUE-") || text.contains("SCTE35") || text.contains("OATCLS")
        }
    }
}

/// What [`apply`] made of a playlist.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Applied {
    /// The rewritten playlist; `None` when the mode changes nothing in it.
    pub playlist: Option<Playlist>,
    /// The breaks kept as CUE tags and why (the [`NOTE_HEADER`] value).
    pub note: Option<String>,
}

/// The media playlist `p` as `mode` has it. Multivariant playlists carry no markers and are left alone.
pub fn apply(mode: AdMarkersMode, p: &Playlist) -> Applied {
    if mode == AdMarkersMode::Passthrough || p.kind() != Kind::Media {
        return Applied::default();
    }
    if mode == AdMarkersMode::None {
        return Applied {
            playlist: strip(p),
            note: None,
        };
    }
    let (playlist, kept) = daterange::convert(p, &media::view(p));
    Applied {
        playlist,
        note: kept.map(|(n, why)| format!("{n} ad break(s) kept as EXT-X-CUE tags: {why}")),
    }
}

/// `p` without its ad markers: the CUE and SCTE-35 tags, and every `EXT-X-DATERANGE` whose `ID` is used
/// by one carrying SCTE-35. `None` when it has none.
fn strip(p: &Playlist) -> Option<Playlist> {
    let ids: HashSet<String> = p
        .tags()
        .filter(|t| t.name == "EXT-X-DATERANGE")
        .map(|t| Attributes::parse(t.value.as_deref().unwrap_or("")))
        .filter(|a| SCTE35_ATTRIBUTES.iter().any(|n| a.get(n).is_some()))
        .filter_map(|a| a.get("ID").map(str::to_string))
        .collect();
    let marker = |l: &Line| match l {
        Line::Tag(t) if MARKER_TAGS.contains(&t.name.as_str()) => true,
        Line::Tag(t) if t.name == "EXT-X-DATERANGE" => {
            let a = Attributes::parse(t.value.as_deref().unwrap_or(""));
            SCTE35_ATTRIBUTES.iter().any(|n| a.get(n).is_some())
                || a.get("ID").is_some_and(|id| ids.contains(id))
        }
        _ => false,
    };
    if !p.lines.iter().any(marker) {
        return None;
    }
    Some(Playlist {
        lines: p.lines.iter().filter(|l| !marker(l)).cloned().collect(),
    })
}

/// The `EXT-X-CUE-OUT-CONT` segment `i` of `p` needs when a view begins there, in the middle of a break
/// whose CUE-OUT it leaves out, and the segment restates none: players then still see the break (and
/// [`daterange`] can still date it).
pub fn continuation_at(p: &Playlist, view: &MediaView, i: usize) -> Option<Line> {
    let segment = view.segments.get(i)?;
    let own = &p.lines[segment.first_line..segment.uri_line];
    if own
        .iter()
        .any(|l| l.tag("EXT-X-CUE-OUT").is_some() || l.tag("EXT-X-CUE-OUT-CONT").is_some())
    {
        return None;
    }
    let found = breaks::find(p, view);
    let b = found.breaks.iter().find(|b| b.first < i && b.holds(i))?;
    let elapsed_s = match (b.start_ms(view), segment.start_ms) {
        (Some(start), Some(here)) => here.saturating_sub(start) as f64 / 1000.0,
        _ => {
            b.elapsed_s
                + view.segments[b.first..i]
                    .iter()
                    .map(|s| s.duration)
                    .sum::<f64>()
        }
    };
    let mut value = format!("ElapsedTime={elapsed_s:.3}");
    if let Some(planned) = b.planned_s {
        value.push_str(&format!(",Duration={planned:.3}"));
    }
    if let Some(section) = &b.splice_out {
        value.push_str(&format!(",SCTE35={}", scte35::base64(section)));
    }
    Some(Line::Tag(Tag::new("EXT-X-CUE-OUT-CONT", value)))
}

#[cfg(test)]
mod tests;
