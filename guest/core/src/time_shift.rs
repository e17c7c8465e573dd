//! Time-shifted views of a live HLS media playlist, in MediaPackage's `aws.manifestsettings` terms:
//! `start`, `end`, `time_delay` and `manifest_window_seconds`, windowing the stored segments by their
//! `EXT-X-PROGRAM-DATE-TIME`.
//!
//! "Now" is the live edge, the end of the newest stored segment: the guest has no clock of its own, and for a
//! live stream the edge is within a segment of the wall clock. An `end` at or before the edge gives a VOD
//! playlist with `EXT-X-ENDLIST` (live to VOD); a later `end` an `EVENT` playlist that keeps growing.
//! Parameters come as `?aws.manifestsettings=start:…;end:…` or as plain `?start=…&end=…` (MediaPackage v1).

use thiserror::Error;

use crate::ad_markers;
use crate::hls::daterange;
use crate::hls::media::{self, MediaView};
use crate::hls::{Kind, Line, Playlist, Tag};
use crate::iso8601;
use crate::query;

/// The combined query parameter (MediaPackage v2).
pub const PARAM: &str = "aws.manifestsettings";

/// Setting names, as plain parameters or inside [`PARAM`].
const NAMES: [&str; 4] = ["start", "end", "time_delay", "manifest_window_seconds"];

/// Why a time shift was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum TimeShiftError {
    /// A value that is not a time or a number of seconds (400).
    #[error("time shift: bad value '{value}' for {name}")]
    BadValue {
        /// The setting.
        name: String,
        /// Its value.
        value: String,
    },
    /// A setting MediaPackage does not define (400).
    #[error("time shift: unknown setting '{0}'")]
    UnknownSetting(String),
    /// `start` is not before `end` (400).
    #[error("time shift: start must be before end")]
    EmptyRange,
    /// Not a media playlist (400).
    #[error("time shift applies to HLS media playlists only")]
    NotAMediaPlaylist,
    /// Segments without a program date time (400).
    #[error("time shift needs EXT-X-PROGRAM-DATE-TIME on the playlist's segments")]
    NoProgramDateTime,
    /// The window asked for is not in the stored segments (404).
    #[error("time shift: the requested window is outside the stored segments")]
    OutsideWindow,
}

impl TimeShiftError {
    /// The HTTP status to answer with.
    pub fn status(&self) -> u16 {
        if *self == Self::OutsideWindow {
            404
        } else {
            400
        }
    }
}

/// The settings of one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TimeShift {
    /// Earliest time, ms since the epoch.
    pub start_ms: Option<i64>,
    /// Latest time, ms since the epoch.
    pub end_ms: Option<i64>,
    /// Hold the live edge back by this many seconds.
    pub time_delay_s: Option<u32>,
    /// Keep at most this many seconds of segments.
    pub window_s: Option<u32>,
}

impl TimeShift {
    /// The settings in `query`, if any.
    ///
    /// # Errors
    /// [`TimeShiftError`] for a malformed setting or `start` not before `end`.
    pub fn from_query(query: &str) -> Result<Option<Self>, TimeShiftError> {
        let mut settings: Vec<(String, String)> = Vec::new();
        for (name, value) in query::pairs(query) {
            let name = name.to_ascii_lowercase();
            if name == PARAM {
                for piece in value.split(';').filter(|p| !p.trim().is_empty()) {
                    let (n, v) = piece.split_once(':').unwrap_or((piece, ""));
                    let n = n.trim().to_ascii_lowercase();
                    if !NAMES.contains(&n.as_str()) {
                        return Err(TimeShiftError::UnknownSetting(n));
                    }
                    settings.push((n, v.trim().to_string()));
                }
            } else if NAMES.contains(&name.as_str()) {
                settings.push((name, value));
            }
        }
        if settings.is_empty() {
            return Ok(None);
        }
        let mut t = Self::default();
        for (name, value) in settings {
            let bad = || TimeShiftError::BadValue {
                name: name.clone(),
                value: value.clone(),
            };
            match name.as_str() {
                "start" => t.start_ms = Some(time_ms(&value).ok_or_else(bad)?),
                "end" => t.end_ms = Some(time_ms(&value).ok_or_else(bad)?),
                "time_delay" => t.time_delay_s = Some(value.parse().map_err(|_| bad())?),
                _ => t.window_s = Some(value.parse().map_err(|_| bad())?),
            }
        }
        if let (Some(s), Some(e)) = (t.start_ms, t.end_ms)
            && s >= e
        {
            return Err(TimeShiftError::EmptyRange);
        }
        Ok(Some(t))
    }

    /// The window of `playlist` these settings select.
    ///
    /// # Errors
    /// [`TimeShiftError`] when `playlist` is not a media playlist with program date times, or the window
    /// holds none of its segments.
    pub fn apply(&self, playlist: &Playlist) -> Result<Playlist, TimeShiftError> {
        if playlist.kind() != Kind::Media {
            return Err(TimeShiftError::NotAMediaPlaylist);
        }
        let view = media::view(playlist);
        let times: Vec<(i64, i64)> = view
            .segments
            .iter()
            .map(|s| s.start_ms.zip(s.end_ms()))
            .collect::<Option<_>>()
            .ok_or(TimeShiftError::NoProgramDateTime)?;
        let (Some(first), Some(edge)) = (times.first().map(|t| t.0), times.last().map(|t| t.1))
        else {
            return Err(TimeShiftError::OutsideWindow);
        };
        if self.start_ms.is_some_and(|s| s < first || s >= edge)
            || self.end_ms.is_some_and(|e| e <= first)
        {
            return Err(TimeShiftError::OutsideWindow);
        }
        let delayed_edge = edge - i64::from(self.time_delay_s.unwrap_or(0)) * 1000;
        let end = self.end_ms.map_or(delayed_edge, |e| e.min(delayed_edge));
        let mut start = self.start_ms.unwrap_or(i64::MIN);
        if let Some(w) = self.window_s {
            start = start.max(end - i64::from(w) * 1000);
        }
        // Whole segments only: each kept one starts at or after `start` and ends by `end` (the newest
        // straddling `end` stays when nothing else would).
        let kept: Vec<usize> = (0..times.len())
            .filter(|&i| times[i].0 >= start && times[i].1 <= end)
            .collect();
        let (Some(&lo), Some(&hi)) = (kept.first(), kept.last()) else {
            return Err(TimeShiftError::OutsideWindow);
        };
        let ended = self.end_ms.is_some_and(|e| e <= edge)
            || (playlist.is_final() && hi == times.len() - 1);
        let event = self.end_ms.is_some_and(|e| e > edge);
        Ok(rebuild(playlist, &view, lo, hi, ended, event))
    }
}

/// An epoch in seconds or an ISO 8601 date-time, as ms since the epoch.
fn time_ms(value: &str) -> Option<i64> {
    match value.trim().parse::<i64>() {
        Ok(secs) => secs.checked_mul(1000),
        Err(_) => iso8601::parse_date_time_ms(value),
    }
}

/// Header and LL-HLS tags a time-shifted playlist leaves out or rewrites.
const DROPPED: &[&str] = &[
    "EXT-X-MEDIA-SEQUENCE",
    "EXT-X-DISCONTINUITY-SEQUENCE",
    "EXT-X-PLAYLIST-TYPE",
    "EXT-X-ENDLIST",
    "EXT-X-PART-INF",
    "EXT-X-SERVER-CONTROL",
    "EXT-X-SKIP",
    "EXT-X-PART",
    "EXT-X-PRELOAD-HINT",
    "EXT-X-RENDITION-REPORT",
];

/// The playlist of segments `lo..=hi`.
fn rebuild(
    p: &Playlist,
    view: &MediaView,
    lo: usize,
    hi: usize,
    ended: bool,
    event: bool,
) -> Playlist {
    let keep = |l: &Line| !matches!(l, Line::Tag(t) if DROPPED.contains(&t.name.as_str()));
    let first = &view.segments[lo];
    let mut lines: Vec<Line> = p.lines[..view.header_end]
        .iter()
        .filter(|l| keep(l))
        .cloned()
        .collect();
    lines.push(Line::Tag(Tag::new(
        "EXT-X-MEDIA-SEQUENCE",
        first.msn.to_string(),
    )));
    // Each dropped discontinuity after the first segment moves the sequence on; the first kept segment's own
    // tag stays in the playlist.
    let dseq = view.discontinuity_sequence
        + view
            .segments
            .get(1..lo)
            .unwrap_or(&[])
            .iter()
            .filter(|s| s.discontinuity)
            .count() as u64;
    if dseq > 0 {
        lines.push(Line::Tag(Tag::new(
            "EXT-X-DISCONTINUITY-SEQUENCE",
            dseq.to_string(),
        )));
    }
    match (ended, event) {
        (true, _) => lines.push(Line::Tag(Tag::new("EXT-X-PLAYLIST-TYPE", "VOD"))),
        (false, true) => lines.push(Line::Tag(Tag::new("EXT-X-PLAYLIST-TYPE", "EVENT"))),
        _ => {}
    }
    let own = &p.lines[first.first_line..first.uri_line];
    let has_own = |name: &str| own.iter().any(|l| l.tag(name).is_some());
    // The key and init section in force for the first kept segment, if it does not restate them.
    for name in ["EXT-X-KEY", "EXT-X-MAP"] {
        if !has_own(name)
            && let Some(t) = p.lines[..first.first_line]
                .iter()
                .rev()
                .find_map(|l| l.tag(name))
        {
            lines.push(Line::Tag(t.clone()));
        }
    }
    if !has_own("EXT-X-PROGRAM-DATE-TIME")
        && let Some(start) = first.start_ms
    {
        lines.push(Line::Tag(Tag::new(
            "EXT-X-PROGRAM-DATE-TIME",
            iso8601::format_date_time_ms(start),
        )));
    }
    // Date ranges of dropped segments still running at the first kept one, and the state of a break the
    // window begins inside of.
    if let Some(start) = first.start_ms {
        lines.extend(daterange::running(
            p,
            &p.lines[view.header_end..first.first_line],
            start,
        ));
    }
    lines.extend(ad_markers::continuation_at(p, view, lo));
    let last = view.segments[hi].uri_line;
    lines.extend(
        p.lines[first.first_line..=last]
            .iter()
            .filter(|l| keep(l))
            .cloned(),
    );
    if ended {
        lines.push(Line::Tag(Tag {
            name: "EXT-X-ENDLIST".into(),
            value: None,
        }));
    }
    Playlist { lines }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Ten 4 s segments from 12:00:00Z (1714564800 s), MSN 100-109, a discontinuity before 105, an LL-HLS tail.
    fn live() -> Playlist {
        let mut t = String::from(
            "#EXTM3U\n#EXT-X-VERSION:9\n#EXT-X-TARGETDURATION:4\n#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES\n#EXT-X-PART-INF:PART-TARGET=1\n#EXT-X-MEDIA-SEQUENCE:100\n#EXT-X-DISCONTINUITY-SEQUENCE:3\n#EXT-X-KEY:METHOD=AES-128,URI=\"k1\"\n#EXT-X-MAP:URI=\"init.mp4\"\n#EXT-X-PROGRAM-DATE-TIME:2024-05-01T12:00:00.000Z\n",
        );
        for n in 100..110 {
            if n == 105 {
                t.push_str("#EXT-X-DISCONTINUITY\n");
            }
            t.push_str(&format!(
                "#EXT-X-PART:DURATION=1,URI=\"p{n}.0.mp4\"\n#EXTINF:4.000,\ns{n}.mp4\n"
            ));
        }
        t.push_str("#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"p110.0.mp4\"\n");
        Playlist::parse(&t).unwrap()
    }

    const T0: i64 = 1_714_564_800;

    fn shift(q: &str) -> Result<String, TimeShiftError> {
        TimeShift::from_query(q)?
            .expect("settings")
            .apply(&live())
            .map(|p| p.write())
    }

    fn uris(text: &str) -> Vec<&str> {
        text.lines().filter(|l| !l.starts_with('#')).collect()
    }

    #[test]
    fn end_in_the_past_is_vod() {
        let out = shift(&format!("start={}&end={}", T0 + 8, T0 + 20)).unwrap();
        assert_eq!(uris(&out), ["s102.mp4", "s103.mp4", "s104.mp4"]);
        assert!(out.contains("#EXT-X-PLAYLIST-TYPE:VOD\n") && out.ends_with("#EXT-X-ENDLIST\n"));
        assert!(out.contains("#EXT-X-MEDIA-SEQUENCE:102\n"));
        assert!(out.contains("#EXT-X-DISCONTINUITY-SEQUENCE:3\n"));
        assert!(
            out.contains("#EXT-X-KEY:METHOD=AES-128,URI=\"k1\"\n#EXT-X-MAP:URI=\"init.mp4\"\n")
        );
        assert!(out.contains("#EXT-X-PROGRAM-DATE-TIME:2024-05-01T12:00:08.000Z\n"));
        for ll in ["EXT-X-PART", "PRELOAD-HINT", "SERVER-CONTROL"] {
            assert!(!out.contains(ll), "{ll}");
        }
        assert_eq!(
            crate::cache_control::for_playlist(&out),
            crate::cache_control::FINAL_PLAYLIST
        );
    }

    #[test]
    fn iso_times_and_combined_parameter() {
        let out = shift("aws.manifestsettings=start:2024-05-01T12:00:24Z;end:2024-05-01T12:00:32Z")
            .unwrap();
        assert_eq!(uris(&out), ["s106.mp4", "s107.mp4"]);
        assert!(out.contains("#EXT-X-DISCONTINUITY-SEQUENCE:4\n"), "{out}");
    }

    #[test]
    fn future_end_is_event() {
        let out = shift(&format!("start={}&end={}", T0 + 32, T0 + 3600)).unwrap();
        assert_eq!(uris(&out), ["s108.mp4", "s109.mp4"]);
        assert!(out.contains("#EXT-X-PLAYLIST-TYPE:EVENT\n") && !out.contains("ENDLIST"));
    }

    #[test]
    fn delay_and_window() {
        let out = shift("time_delay=8").unwrap();
        assert_eq!(uris(&out).last(), Some(&"s107.mp4"));
        assert_eq!(uris(&out).len(), 8);
        assert!(!out.contains("ENDLIST") && !out.contains("PLAYLIST-TYPE"));
        let out = shift("time_delay=8&manifest_window_seconds=12").unwrap();
        assert_eq!(uris(&out), ["s105.mp4", "s106.mp4", "s107.mp4"]);
        assert!(
            out.contains("#EXT-X-DISCONTINUITY\n"),
            "the first kept segment keeps its discontinuity"
        );
        assert!(out.contains("#EXT-X-DISCONTINUITY-SEQUENCE:3\n"), "{out}");
    }

    #[test]
    fn outside_the_window_is_404() {
        for q in [
            format!("start={}", T0 - 60),
            format!("start={}", T0 + 40),
            format!("end={}", T0),
        ] {
            let e = shift(&q).unwrap_err();
            assert_eq!((e.status(), e), (404, TimeShiftError::OutsideWindow), "{q}");
        }
        let e = shift("time_delay=3600").unwrap_err();
        assert_eq!(e.status(), 404);
    }

    #[test]
    fn refusals_are_400() {
        for (q, reason) in [
            ("start=yesterday", "bad value 'yesterday' for start"),
            ("time_delay=-1", "bad value '-1' for time_delay"),
            (
                &format!("start={}&end={}", T0 + 8, T0 + 8),
                "start must be before end",
            ),
            ("aws.manifestsettings=speed:2", "unknown setting 'speed'"),
        ] {
            let e = shift(q).unwrap_err();
            assert_eq!(e.status(), 400);
            assert!(e.to_string().contains(reason), "{q}: {e}");
        }
        assert_eq!(TimeShift::from_query("x=1").unwrap(), None);
        let t = TimeShift::from_query("time_delay=1").unwrap().unwrap();
        let mv = Playlist::parse("#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\nv.m3u8\n").unwrap();
        assert_eq!(t.apply(&mv), Err(TimeShiftError::NotAMediaPlaylist));
        let no_pdt = Playlist::parse("#EXTM3U\n#EXTINF:4,\na.ts\n").unwrap();
        assert_eq!(t.apply(&no_pdt), Err(TimeShiftError::NoProgramDateTime));
    }
}
