//! Streams from manifests: an HLS multivariant playlist and the media playlists it names are one stream,
//! a media playlist no multivariant playlist names is a stream of its own, and so is each MPD.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use strata_abi::settings::DEFAULT_STALE_AFTER_TARGET_DURATIONS;

use super::manifest::{Parsed, Rendition, folder};

/// A live playlist not updated for this many segment durations (plus a second for whole-second ages) is
/// stale: the default of the guest's stale-manifest rule (`guest/core/src/stale.rs`); the console does
/// not see the `[[guest.stale]]` routes, which belong to the guests.
const STALE_AFTER_SEGMENTS: u16 = DEFAULT_STALE_AFTER_TARGET_DURATIONS;

/// Most renditions and errors one stream lists; the rest are counted in one more error line.
const MAX_LISTED: usize = 32;

/// A manifest as read from storage.
#[derive(Debug, Clone)]
pub struct Stored {
    /// Its key.
    pub key: String,
    /// Seconds since it was last written.
    pub age_s: u64,
    /// What it says, or why it could not be read.
    pub parsed: Result<Parsed, String>,
}

/// One stream, as the console lists it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Stream {
    /// The key of the manifest a player opens.
    pub key: String,
    /// `hls` or `dash`.
    pub format: &'static str,
    /// Whether segments are still coming.
    pub live: bool,
    /// Its renditions.
    pub renditions: Vec<Rendition>,
    /// Target (HLS) or maximum (DASH) segment duration, seconds.
    pub segment_duration_s: Option<f64>,
    /// Seconds of media the manifest lists (live: the window players can seek in).
    pub window_s: Option<f64>,
    /// Seconds since its newest manifest was written.
    pub updated_age_s: u64,
    /// Bits per second the encoder pushes (live only).
    pub ingest_bitrate_bps: Option<u64>,
    /// A live stream whose manifests stopped being updated.
    pub stale: bool,
    /// Problems found, one line each.
    pub errors: Vec<String>,
}

/// How to measure a live stream's ingest bitrate.
#[derive(Debug, Clone, PartialEq)]
pub enum Measure {
    /// The last segments of each rendition, `(key, seconds)`: their sizes over their durations.
    Segments(Vec<Vec<(String, f64)>>),
    /// Bytes written under this folder lately (DASH segment names come from templates).
    Folder(String),
}

/// The streams `stored` describes, in key order, each with how to measure its ingest.
pub fn assemble(stored: &[Stored]) -> Vec<(Stream, Measure)> {
    let by_key: BTreeMap<&str, &Stored> = stored.iter().map(|s| (s.key.as_str(), s)).collect();
    let named: BTreeSet<&str> = stored
        .iter()
        .filter_map(|s| match &s.parsed {
            Ok(Parsed::Multivariant { media_keys, .. }) => Some(media_keys),
            _ => None,
        })
        .flatten()
        .map(String::as_str)
        .collect();
    let mut streams = Vec::new();
    for entry in stored {
        let mut stream = Stream {
            key: entry.key.clone(),
            format: if entry.key.to_ascii_lowercase().ends_with(".mpd") {
                "dash"
            } else {
                "hls"
            },
            live: false,
            renditions: Vec::new(),
            segment_duration_s: None,
            window_s: None,
            updated_age_s: entry.age_s,
            ingest_bitrate_bps: None,
            stale: false,
            errors: Vec::new(),
        };
        let mut unlisted = 0;
        let measure = match &entry.parsed {
            Err(reason) => {
                stream.errors.push(reason.clone());
                Measure::Segments(Vec::new())
            }
            Ok(Parsed::Media(_)) if named.contains(entry.key.as_str()) => continue,
            Ok(Parsed::Media(media)) => {
                stream.live = media.live;
                stream.segment_duration_s = media.target_duration_s;
                stream.window_s = Some(media.window_s);
                Measure::Segments(vec![media.last_segments.clone()])
            }
            Ok(Parsed::Multivariant {
                renditions,
                media_keys,
                unlisted: more,
            }) => {
                unlisted = *more;
                stream.renditions = renditions.clone();
                join_media_playlists(&mut stream, media_keys, &by_key)
            }
            Ok(Parsed::Dash(dash)) => {
                stream.live = dash.live;
                unlisted = dash.unlisted;
                stream.renditions = dash.renditions.clone();
                stream.segment_duration_s = dash.segment_duration_s;
                stream.window_s = dash.window_s;
                let basis = dash.update_period_s.or(dash.segment_duration_s);
                stream.stale = dash.live && is_stale(entry.age_s, basis);
                Measure::Folder(folder(&entry.key).to_owned())
            }
        };
        if stream.format == "hls" {
            stream.stale = stream.live && is_stale(stream.updated_age_s, stream.segment_duration_s);
        }
        if stream.stale {
            stream.errors.insert(
                0,
                format!(
                    "stale: last updated {} s ago, more than {STALE_AFTER_SEGMENTS} segment durations",
                    stream.updated_age_s
                ),
            );
        }
        shorten(&mut stream, unlisted);
        streams.push((stream, measure));
    }
    streams
}

/// Keeps [`MAX_LISTED`] renditions and errors of `stream`, saying how many more there were (`unlisted`
/// renditions were counted, not kept, when its manifest was read).
fn shorten(stream: &mut Stream, unlisted: usize) {
    let errors = stream.errors.len();
    if errors > MAX_LISTED {
        stream.errors.truncate(MAX_LISTED);
        stream
            .errors
            .push(format!("{} more errors not listed", errors - MAX_LISTED));
    }
    // Said after the errors are cut, so it is never cut itself.
    let renditions = stream.renditions.len() + unlisted;
    if renditions > MAX_LISTED {
        stream.renditions.truncate(MAX_LISTED);
        stream.errors.push(format!(
            "{} more renditions not listed",
            renditions - MAX_LISTED
        ));
    }
}

/// Takes liveness, timing and age from the media playlists of a multivariant playlist (the newest
/// update, the longest window and target duration) and says which are missing or broken.
fn join_media_playlists(
    stream: &mut Stream,
    media_keys: &[String],
    by_key: &BTreeMap<&str, &Stored>,
) -> Measure {
    let mut segments = Vec::new();
    let mut newest = None::<u64>;
    let max = |a: Option<f64>, b: Option<f64>| match (a, b) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    };
    for key in media_keys.iter().take(MAX_LISTED) {
        match by_key.get(key.as_str()).map(|s| (&s.parsed, s.age_s)) {
            Some((Ok(Parsed::Media(media)), age_s)) => {
                stream.live |= media.live;
                stream.segment_duration_s = max(stream.segment_duration_s, media.target_duration_s);
                stream.window_s = max(stream.window_s, Some(media.window_s));
                newest = Some(newest.map_or(age_s, |n| n.min(age_s)));
                segments.push(media.last_segments.clone());
            }
            Some((Err(reason), _)) => stream.errors.push(format!("{key}: {reason}")),
            Some((Ok(_), _)) => stream.errors.push(format!(
                "{key}: named as a media playlist, but it is not one"
            )),
            None => stream
                .errors
                .push(format!("{key}: named by the playlist, but not stored")),
        }
    }
    if let Some(age_s) = newest {
        stream.updated_age_s = age_s;
    }
    Measure::Segments(segments)
}

/// Whether a live manifest `age_s` old is past [`STALE_AFTER_SEGMENTS`] times `segment_s`.
fn is_stale(age_s: u64, segment_s: Option<f64>) -> bool {
    segment_s.is_some_and(|s| age_s as f64 > f64::from(STALE_AFTER_SEGMENTS) * s + 1.0)
}

#[cfg(test)]
mod tests {
    use super::super::manifest::parse;
    use super::*;

    fn stored(key: &str, age_s: u64, text: &str) -> Stored {
        Stored {
            key: key.to_owned(),
            age_s,
            parsed: parse(key, text.as_bytes()),
        }
    }

    const MEDIA: &str = "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2,\ns1.ts\n#EXTINF:2,\ns2.ts\n";

    #[test]
    fn a_multivariant_playlist_and_its_media_playlists_are_one_stream() {
        let streams = assemble(&[
            stored(
                "live/master.m3u8",
                30,
                "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\nv0.m3u8\n#EXT-X-STREAM-INF:BANDWIDTH=2\nv1.m3u8\n",
            ),
            stored("live/v0.m3u8", 3, MEDIA),
            stored("live/v2.m3u8", 1, MEDIA),
        ]);
        let keys: Vec<&str> = streams.iter().map(|(s, _)| s.key.as_str()).collect();
        assert_eq!(keys, ["live/master.m3u8", "live/v2.m3u8"]);
        let (master, measure) = &streams[0];
        assert!(master.live);
        assert_eq!(master.updated_age_s, 3);
        assert_eq!(master.segment_duration_s, Some(2.0));
        assert_eq!(master.window_s, Some(4.0));
        assert_eq!(master.renditions.len(), 2);
        assert_eq!(
            master.errors,
            ["live/v1.m3u8: named by the playlist, but not stored"]
        );
        assert_eq!(
            measure,
            &Measure::Segments(vec![vec![
                ("live/s1.ts".into(), 2.0),
                ("live/s2.ts".into(), 2.0)
            ]])
        );
    }

    #[test]
    fn a_live_stream_not_updated_for_three_segments_is_stale() {
        let fresh = assemble(&[stored("a.m3u8", 7, MEDIA)]);
        assert!(!fresh[0].0.stale);
        let stale = assemble(&[stored("a.m3u8", 8, MEDIA)]);
        assert!(stale[0].0.stale);
        assert!(stale[0].0.errors[0].starts_with("stale: last updated 8 s ago"));
        let ended = format!("{MEDIA}#EXT-X-ENDLIST\n");
        let vod = assemble(&[stored("a.m3u8", 1_000, &ended)]);
        assert!(!vod[0].0.live && !vod[0].0.stale);
    }

    #[test]
    fn long_lists_are_cut_and_counted() {
        let variants: String = (0..100)
            .map(|i| format!("#EXT-X-STREAM-INF:BANDWIDTH={i}\nmissing{i}.m3u8\n"))
            .collect();
        let streams = assemble(&[stored("m.m3u8", 0, &format!("#EXTM3U\n{variants}"))]);
        let stream = &streams[0].0;
        assert_eq!(stream.renditions.len(), MAX_LISTED);
        assert_eq!(stream.errors.len(), MAX_LISTED + 1);
        assert_eq!(stream.errors[MAX_LISTED], "68 more renditions not listed");

        // Past the renditions a manifest keeps, the rest are still counted.
        let variants: String = (0..1_500)
            .map(|i| format!("#EXT-X-STREAM-INF:BANDWIDTH={i}\nv{i}.m3u8\n"))
            .collect();
        let streams = assemble(&[stored("n.m3u8", 0, &format!("#EXTM3U\n{variants}"))]);
        assert!(
            streams[0]
                .0
                .errors
                .contains(&"1468 more renditions not listed".to_owned())
        );
    }

    #[test]
    fn playlists_that_name_themselves_or_each_other_are_listed_once() {
        let streams = assemble(&[
            stored(
                "loop/a.m3u8",
                0,
                "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\na.m3u8\n#EXT-X-STREAM-INF:BANDWIDTH=2\nb.m3u8\n",
            ),
            stored(
                "loop/b.m3u8",
                0,
                "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\na.m3u8\n",
            ),
        ]);
        let keys: Vec<&str> = streams.iter().map(|(s, _)| s.key.as_str()).collect();
        assert_eq!(keys, ["loop/a.m3u8", "loop/b.m3u8"]);
        assert_eq!(
            streams[0].0.errors,
            [
                "loop/a.m3u8: named as a media playlist, but it is not one",
                "loop/b.m3u8: named as a media playlist, but it is not one"
            ]
        );
    }

    #[test]
    fn unreadable_manifests_are_listed_with_their_error() {
        let streams = assemble(&[stored("x/<img src=x onerror=alert(1)>.mpd", 0, "junk")]);
        assert_eq!(streams[0].0.format, "dash");
        assert!(streams[0].0.errors[0].starts_with("not a valid MPD"));
    }
}
