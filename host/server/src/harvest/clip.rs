//! A clip of a playlist, as plain data: which segments of a live media playlist a time window selects, the
//! VOD playlist naming their copies, and which objects to copy where; the multivariant playlist naming the
//! clipped renditions. No I/O: the job (`job.rs`) reads the sources and writes the results.
//!
//! Windowing is the guests' time shift (`strata_guest_core::time_shift`, the MediaPackage-compatible
//! `start`/`end` view): it keeps the header, restates the key, init section and program date time in force
//! for the first kept segment, renumbers the media and discontinuity sequences, drops LL-HLS tags and ends
//! a past window with `EXT-X-ENDLIST`. Here the window is first widened to whole segments: every segment
//! whose program-date-time interval overlaps `[start, end)` is kept.

use std::collections::HashSet;

use strata_abi::key::MAX_KEY_BYTES;
use strata_guest_core::hls::attributes::Attributes;
use strata_guest_core::hls::media;
use strata_guest_core::hls::{Kind, Line, Playlist, Tag};
use strata_guest_core::iso8601::format_date_time_ms;
use strata_guest_core::time_shift::TimeShift;

use super::uris::{self, BadUri, Target};

/// The time window of a clip, ms since the Unix epoch: `[start_ms, end_ms)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// First instant wanted.
    pub start_ms: i64,
    /// First instant not wanted.
    pub end_ms: i64,
}

/// Where copies go: every source key under `root` (the source playlist's folder) is copied to the same
/// path under `destination`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyMap {
    /// The source folder, with its trailing `/` (empty at the top).
    pub root: String,
    /// The destination folder, with its trailing `/`.
    pub destination: String,
}

impl KeyMap {
    /// The destination key of source `key`.
    ///
    /// # Errors
    /// [`ClipError::Outside`] when `key` is not under the source folder, [`ClipError::TooLong`] when its
    /// copy's key would be longer than any request can name.
    pub fn to(&self, key: &str) -> Result<String, ClipError> {
        let Some(rest) = key.strip_prefix(self.root.as_str()) else {
            return Err(ClipError::Outside {
                key: key.to_owned(),
                root: self.root.clone(),
            });
        };
        let to = format!("{}{rest}", self.destination);
        match to.len() <= MAX_KEY_BYTES {
            true => Ok(to),
            false => Err(ClipError::TooLong(to)),
        }
    }
}

/// One object to copy: `(source key, destination key)`.
pub type ObjectCopy = (String, String);

/// A media playlist's clip, ready to copy and write.
#[derive(Debug, Clone, PartialEq)]
pub struct Clip {
    /// The VOD playlist, naming the copies.
    pub playlist: Playlist,
    /// Segments, init sections and keys to copy, oldest first, each once.
    pub objects: Vec<ObjectCopy>,
    /// Segments in the clip.
    pub segments: usize,
    /// Program date time of the first kept segment's start.
    pub start_ms: i64,
    /// ... and of the last one's end.
    pub end_ms: i64,
}

/// What a live media playlist holds of a window now.
#[derive(Debug, Clone, PartialEq)]
pub enum Coverage {
    /// All of it: the clip.
    Ready(Clip),
    /// Not yet: the live stream's newest segment ends at `edge_ms`, before the window does.
    Pending {
        /// End of the newest segment, ms since the Unix epoch.
        edge_ms: i64,
    },
}

/// Why a playlist cannot be clipped; each names the playlist or object at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClipError {
    /// A rendition is a multivariant playlist, or the source is neither kind.
    #[error("{0} is not an HLS media playlist")]
    NotMedia(String),
    /// Segments without a program date time: nothing places them in time.
    #[error(
        "{0} has segments without EXT-X-PROGRAM-DATE-TIME: harvest selects segments by program date time"
    )]
    NoProgramDateTime(String),
    /// A segment starts before the one listed ahead of it: the window would select no single run of them.
    #[error(
        "{playlist} goes back in time: a segment starts at {at}, before the segment ahead of it ({previous}); harvest needs program date times that never decrease"
    )]
    Backwards {
        /// The playlist.
        playlist: String,
        /// The segment's start.
        at: String,
        /// The start of the segment ahead of it.
        previous: String,
    },
    /// The window starts before the oldest segment the playlist still lists.
    #[error(
        "the window starts at {start}, before the oldest segment {playlist} still lists ({first}): that part of the stream is gone"
    )]
    TooEarly {
        /// The playlist.
        playlist: String,
        /// The window's start.
        start: String,
        /// The oldest segment's start.
        first: String,
    },
    /// No segment overlaps the window.
    #[error("no segment of {0} overlaps the window")]
    Empty(String),
    /// A URI names no valid key.
    #[error(transparent)]
    Uri(#[from] BadUri),
    /// A URI names another host's object where a copy is needed.
    #[error(
        "{playlist} names {uri:?}, an object on another host: harvest copies only what this origin stores"
    )]
    Elsewhere {
        /// The playlist.
        playlist: String,
        /// The URI.
        uri: String,
    },
    /// A copy's key longer than a request path may name.
    #[error(
        "the copy {0:?} would have a key longer than {MAX_KEY_BYTES} bytes: choose a shorter destination"
    )]
    TooLong(String),
    /// An object outside the source playlist's folder.
    #[error(
        "{key} is outside {root:?}, the source playlist's folder: harvest copies only objects under it"
    )]
    Outside {
        /// The object's key.
        key: String,
        /// The source folder.
        root: String,
    },
}

/// The clip of `window` from the media playlist `p` stored at `key`, or how far the live stream has come.
///
/// # Errors
/// [`ClipError`] when `p` is not a media playlist with a program date time on every segment, the window
/// starts before its oldest segment or overlaps none, or a URI cannot be copied.
pub fn clip(p: &Playlist, key: &str, window: Window, map: &KeyMap) -> Result<Coverage, ClipError> {
    if p.kind() != Kind::Media {
        return Err(ClipError::NotMedia(key.to_owned()));
    }
    let view = media::view(p);
    let times: Vec<(i64, i64)> = view
        .segments
        .iter()
        .map(|s| s.start_ms.zip(s.end_ms()))
        .collect::<Option<_>>()
        .ok_or_else(|| ClipError::NoProgramDateTime(key.to_owned()))?;
    if let Some(pair) = times.windows(2).find(|pair| pair[1].0 < pair[0].0) {
        return Err(ClipError::Backwards {
            playlist: key.to_owned(),
            at: format_date_time_ms(pair[1].0),
            previous: format_date_time_ms(pair[0].0),
        });
    }
    let (Some(first), Some(edge)) = (times.first().map(|t| t.0), times.last().map(|t| t.1)) else {
        return Err(ClipError::Empty(key.to_owned()));
    };
    if window.start_ms < first {
        return Err(ClipError::TooEarly {
            playlist: key.to_owned(),
            start: format_date_time_ms(window.start_ms),
            first: format_date_time_ms(first),
        });
    }
    if !p.is_final() && edge < window.end_ms {
        return Ok(Coverage::Pending { edge_ms: edge });
    }
    let overlapping = || {
        times
            .iter()
            .filter(|(s, e)| *s < window.end_ms && *e > window.start_ms)
    };
    let (Some(lo), Some(hi)) = (overlapping().next(), overlapping().next_back()) else {
        return Err(ClipError::Empty(key.to_owned()));
    };
    let (start_ms, end_ms) = (lo.0, hi.1);
    let shift = TimeShift {
        start_ms: Some(start_ms),
        end_ms: Some(end_ms),
        ..TimeShift::default()
    };
    let windowed = shift
        .apply(p)
        .map_err(|_| ClipError::Empty(key.to_owned()))?;
    let (playlist, objects) = rewrite_media(&windowed, key, map)?;
    let segments = playlist
        .lines
        .iter()
        .filter(|l| matches!(l, Line::Uri(_)))
        .count();
    Ok(Coverage::Ready(Clip {
        playlist,
        objects,
        segments,
        start_ms,
        end_ms,
    }))
}

/// `p` (stored at `key`) with every segment, init section and key URI naming its copy, and the copies.
fn rewrite_media(
    p: &Playlist,
    key: &str,
    map: &KeyMap,
) -> Result<(Playlist, Vec<ObjectCopy>), ClipError> {
    let mut copies = Copies::new(key, map)?;
    let mut lines = Vec::with_capacity(p.lines.len());
    for line in &p.lines {
        lines.push(match line {
            Line::Uri(uri) => Line::Uri(copies.required(uri)?),
            Line::Tag(t) if t.name == "EXT-X-MAP" => copies.tag(t, true)?,
            Line::Tag(t) if t.name == "EXT-X-KEY" => copies.tag(t, false)?,
            other => other.clone(),
        });
    }
    Ok((Playlist { lines }, copies.objects))
}

/// A clipped multivariant playlist.
#[derive(Debug, Clone, PartialEq)]
pub struct MultivariantClip {
    /// The playlist, naming the clipped renditions.
    pub playlist: Playlist,
    /// The renditions' media playlists, by source key, each once.
    pub renditions: Vec<String>,
    /// Other objects it names (session keys, session data), to copy as they are.
    pub objects: Vec<ObjectCopy>,
}

/// Tags of a multivariant playlist whose `URI` is a rendition's media playlist.
const RENDITION_TAGS: [&str; 3] = [
    "EXT-X-MEDIA",
    "EXT-X-I-FRAME-STREAM-INF",
    "EXT-X-IMAGE-STREAM-INF",
];

/// Tags of a multivariant playlist whose `URI` is an object copied as it is, when this origin stores it.
const SESSION_TAGS: [&str; 2] = ["EXT-X-SESSION-KEY", "EXT-X-SESSION-DATA"];

/// The multivariant playlist `p` stored at `key` naming the renditions' copies, and what to clip.
///
/// # Errors
/// [`ClipError`] when a rendition is on another host or outside the source folder.
pub fn multivariant(p: &Playlist, key: &str, map: &KeyMap) -> Result<MultivariantClip, ClipError> {
    let mut copies = Copies::new(key, map)?;
    let mut renditions = Copies::new(key, map)?;
    let mut lines = Vec::with_capacity(p.lines.len());
    for line in &p.lines {
        lines.push(match line {
            Line::Uri(uri) => Line::Uri(renditions.required(uri)?),
            Line::Tag(t) if RENDITION_TAGS.contains(&t.name.as_str()) => renditions.tag(t, true)?,
            Line::Tag(t) if SESSION_TAGS.contains(&t.name.as_str()) => copies.tag(t, false)?,
            other => other.clone(),
        });
    }
    Ok(MultivariantClip {
        playlist: Playlist { lines },
        renditions: renditions
            .objects
            .into_iter()
            .map(|(from, _)| from)
            .collect(),
        objects: copies.objects,
    })
}

/// The objects a playlist's URIs name, collected while each URI is rewritten to name the copy.
struct Copies<'a> {
    playlist: &'a str,
    copied_playlist: String,
    map: &'a KeyMap,
    objects: Vec<ObjectCopy>,
    seen: HashSet<String>,
}

impl<'a> Copies<'a> {
    fn new(playlist: &'a str, map: &'a KeyMap) -> Result<Self, ClipError> {
        Ok(Copies {
            playlist,
            copied_playlist: map.to(playlist)?,
            map,
            objects: Vec::new(),
            seen: HashSet::new(),
        })
    }

    /// The URI naming the copy of what `uri` names; an object on another host is an error.
    fn required(&mut self, uri: &str) -> Result<String, ClipError> {
        self.copy(uri)?.ok_or_else(|| ClipError::Elsewhere {
            playlist: self.playlist.to_owned(),
            uri: uri.to_owned(),
        })
    }

    /// The URI naming the copy of what `uri` names; `None` for an object on another host.
    fn copy(&mut self, uri: &str) -> Result<Option<String>, ClipError> {
        let Target::Key(from) = uris::resolve(self.playlist, uri)? else {
            return Ok(None);
        };
        let to = self.map.to(&from)?;
        let rewritten = uris::relative(&self.copied_playlist, &to);
        if self.seen.insert(from.clone()) {
            self.objects.push((from, to));
        }
        Ok(Some(rewritten))
    }

    /// Tag `t` with its `URI` naming the copy; one on another host is kept as it is unless `required`.
    fn tag(&mut self, t: &Tag, required: bool) -> Result<Line, ClipError> {
        let mut attributes = Attributes::parse(t.value.as_deref().unwrap_or_default());
        let Some(uri) = attributes.get("URI").map(str::to_owned) else {
            return Ok(Line::Tag(t.clone()));
        };
        let rewritten = match required {
            true => self.required(&uri)?,
            false => match self.copy(&uri)? {
                Some(rewritten) => rewritten,
                None => return Ok(Line::Tag(t.clone())),
            },
        };
        attributes.set("URI", &rewritten, true);
        Ok(Line::Tag(Tag::new(&t.name, attributes.write())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2024-05-01T12:00:00Z in ms.
    const T0: i64 = 1_714_564_800_000;

    /// Six 2 s segments from T0, MSN 10-15, key and init section, a discontinuity before 13.
    fn live(final_: bool) -> Playlist {
        let mut text = String::from(
            "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:10\n\
             #EXT-X-KEY:METHOD=AES-128,URI=\"keys/k1.key\"\n#EXT-X-MAP:URI=\"init.mp4\"\n",
        );
        for n in 0..6 {
            if n == 3 {
                text.push_str("#EXT-X-DISCONTINUITY\n");
            }
            text.push_str(&format!(
                "#EXT-X-PROGRAM-DATE-TIME:{}\n#EXTINF:2.000,\ns{}.m4s?tok=1\n",
                format_date_time_ms(T0 + n * 2000),
                10 + n
            ));
        }
        if final_ {
            text.push_str("#EXT-X-ENDLIST\n");
        }
        Playlist::parse(&text).unwrap()
    }

    fn map() -> KeyMap {
        KeyMap {
            root: "live/ch1/".into(),
            destination: "vod/clip/".into(),
        }
    }

    fn window(from_s: f64, to_s: f64) -> Window {
        Window {
            start_ms: T0 + (from_s * 1000.0) as i64,
            end_ms: T0 + (to_s * 1000.0) as i64,
        }
    }

    fn ready(coverage: Coverage) -> Clip {
        match coverage {
            Coverage::Ready(clip) => clip,
            pending => panic!("{pending:?}"),
        }
    }

    #[test]
    fn overlapping_segments_become_a_vod_playlist_naming_the_copies() {
        let c = ready(
            clip(
                &live(false),
                "live/ch1/index.m3u8",
                window(3.0, 7.5),
                &map(),
            )
            .unwrap(),
        );
        let text = c.playlist.write();
        let uris: Vec<&str> = text.lines().filter(|l| !l.starts_with('#')).collect();
        assert_eq!(uris, ["s11.m4s", "s12.m4s", "s13.m4s"], "{text}");
        assert_eq!(
            (c.segments, c.start_ms, c.end_ms),
            (3, T0 + 2000, T0 + 8000)
        );
        for tag in [
            "#EXT-X-PLAYLIST-TYPE:VOD\n",
            "#EXT-X-MEDIA-SEQUENCE:11\n",
            "#EXT-X-KEY:METHOD=AES-128,URI=\"keys/k1.key\"\n",
            "#EXT-X-MAP:URI=\"init.mp4\"\n",
            "#EXT-X-DISCONTINUITY\n",
        ] {
            assert!(text.contains(tag), "{tag} in\n{text}");
        }
        assert!(text.ends_with("#EXT-X-ENDLIST\n"), "{text}");
        let to = |k: &str| (format!("live/ch1/{k}"), format!("vod/clip/{k}"));
        assert_eq!(
            c.objects,
            [
                to("keys/k1.key"),
                to("init.mp4"),
                to("s11.m4s"),
                to("s12.m4s"),
                to("s13.m4s")
            ]
        );
    }

    #[test]
    fn a_live_playlist_short_of_the_window_is_pending() {
        let p = live(false);
        assert_eq!(
            clip(&p, "live/ch1/index.m3u8", window(4.0, 13.0), &map()),
            Ok(Coverage::Pending {
                edge_ms: T0 + 12_000
            })
        );
        // Once final, what there is is the clip.
        let c = ready(
            clip(
                &live(true),
                "live/ch1/index.m3u8",
                window(4.0, 13.0),
                &map(),
            )
            .unwrap(),
        );
        assert_eq!(c.segments, 4);
    }

    #[test]
    fn refusals_name_the_playlist() {
        let key = "live/ch1/index.m3u8";
        let e = clip(&live(false), key, window(-1.0, 3.0), &map()).unwrap_err();
        assert!(
            e.to_string()
                .contains("before the oldest segment live/ch1/index.m3u8 still lists (2024-05-01T12:00:00.000Z)"),
            "{e}"
        );
        let no_pdt = Playlist::parse("#EXTM3U\n#EXTINF:2,\na.ts\n").unwrap();
        assert_eq!(
            clip(&no_pdt, key, window(0.0, 1.0), &map()),
            Err(ClipError::NoProgramDateTime(key.into()))
        );
        let gap = window(20.0, 30.0);
        assert_eq!(
            clip(&live(true), key, gap, &map()),
            Err(ClipError::Empty(key.into()))
        );
        let elsewhere = Playlist::parse(
            &live(true)
                .write()
                .replace("s12.m4s?tok=1", "https://cdn/s12.m4s"),
        )
        .unwrap();
        assert!(matches!(
            clip(&elsewhere, key, window(0.0, 12.0), &map()),
            Err(ClipError::Elsewhere { .. })
        ));
        let outside = Playlist::parse(
            &live(true)
                .write()
                .replace("s12.m4s?tok=1", "../ch2/s12.m4s"),
        )
        .unwrap();
        let e = clip(&outside, key, window(0.0, 12.0), &map()).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("live/ch2/s12.m4s is outside \"live/ch1/\""),
            "{e}"
        );
        let mv = Playlist::parse("#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\nv.m3u8\n").unwrap();
        assert_eq!(
            clip(&mv, key, gap, &map()),
            Err(ClipError::NotMedia(key.into()))
        );
        let long = KeyMap {
            destination: format!("{}/", "d".repeat(1020)),
            ..map()
        };
        assert!(matches!(
            clip(&live(true), key, window(0.0, 2.0), &long),
            Err(ClipError::TooLong(_))
        ));
    }

    #[test]
    fn program_date_times_going_backwards_are_refused() {
        let text = live(true).write().replace(
            &format_date_time_ms(T0 + 6000),
            &format_date_time_ms(T0 - 60_000),
        );
        let e = clip(
            &Playlist::parse(&text).unwrap(),
            "live/ch1/index.m3u8",
            window(0.0, 12.0),
            &map(),
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "live/ch1/index.m3u8 goes back in time: a segment starts at 2024-05-01T11:59:00.000Z, before the \
             segment ahead of it (2024-05-01T12:00:04.000Z); harvest needs program date times that never decrease"
        );
    }

    #[test]
    fn a_key_on_another_host_stays_as_it_is() {
        let text = live(true).write().replace("keys/k1.key", "skd://drm/k1");
        let c = ready(
            clip(
                &Playlist::parse(&text).unwrap(),
                "live/ch1/index.m3u8",
                window(0.0, 2.0),
                &map(),
            )
            .unwrap(),
        );
        assert!(c.playlist.write().contains("URI=\"skd://drm/k1\""));
        assert!(c.objects.iter().all(|(from, _)| !from.contains("k1")));
    }

    #[test]
    fn multivariant_names_the_clipped_renditions() {
        let text = "#EXTM3U\n#EXT-X-SESSION-KEY:METHOD=AES-128,URI=\"keys/s.key\"\n\
                    #EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"a\",NAME=\"en\",URI=\"/live/ch1/audio/index.m3u8\"\n\
                    #EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID=\"s\",NAME=\"en\"\n\
                    #EXT-X-STREAM-INF:BANDWIDTH=800000,AUDIO=\"a\"\n720p/index.m3u8?x=1\n\
                    #EXT-X-STREAM-INF:BANDWIDTH=900000,AUDIO=\"a\"\n720p/index.m3u8\n";
        let m = multivariant(
            &Playlist::parse(text).unwrap(),
            "live/ch1/master.m3u8",
            &map(),
        )
        .unwrap();
        assert_eq!(
            m.renditions,
            ["live/ch1/audio/index.m3u8", "live/ch1/720p/index.m3u8"]
        );
        assert_eq!(
            m.objects,
            [(
                "live/ch1/keys/s.key".to_string(),
                "vod/clip/keys/s.key".to_string()
            )]
        );
        let out = m.playlist.write();
        assert!(out.contains("URI=\"audio/index.m3u8\""), "{out}");
        assert_eq!(out.matches("\n720p/index.m3u8\n").count(), 2, "{out}");
        assert!(
            out.contains("NAME=\"en\"\n"),
            "a rendition without URI stays: {out}"
        );
    }
}
