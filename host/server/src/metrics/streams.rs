//! Per-stream ingest age: how long ago each live stream's playlist was last written through this node,
//! the first thing an operator asks when a channel freezes.
//!
//! A stream is one live playlist key: an HLS media playlist without `#EXT-X-ENDLIST` (and not
//! `#EXT-X-PLAYLIST-TYPE:VOD`), or an MPD of `type="dynamic"`. Each successful write of a playlist key is
//! read back (it is hot in memory) to tell: a live one is tracked from then on, one that ended (or a
//! multivariant playlist, which names renditions and is rarely rewritten) stops being tracked, as does a
//! deleted one. Cardinality is bounded: at most `[metrics] max_streams` streams are tracked; writes of
//! further streams are counted in `strata_streams_untracked_total` and tracked once room frees up. A stream
//! not written for [`FORGET_AFTER`] is forgotten (its encoder is gone; the stale-manifest refusals of
//! decision 0052 say the rest).

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::PoisonError;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use http::Method;
use serde::Deserialize;
use strata_tiers::InvalidSetting;

use super::families;
use crate::state::AppState;

/// `[metrics]`: what the metrics track beyond fixed families.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MetricsConfig {
    /// Most live streams whose ingest age is reported (one series each); 0 reports none.
    pub max_streams: usize,
}

impl Default for MetricsConfig {
    fn default() -> Self {
        MetricsConfig { max_streams: 1000 }
    }
}

/// Most streams `max_streams` may ask for: each is a series every scrape carries.
pub const MAX_STREAMS_LIMIT: usize = 100_000;

impl MetricsConfig {
    /// Refuses more streams than a scrape should carry.
    ///
    /// # Errors
    /// [`InvalidSetting`] naming `metrics.max_streams`.
    pub fn validate(&self) -> Result<(), InvalidSetting> {
        if self.max_streams > MAX_STREAMS_LIMIT {
            return Err(InvalidSetting::new(
                "metrics.max_streams",
                &format!(
                    "must be at most {MAX_STREAMS_LIMIT}: each stream is a series of every scrape"
                ),
            ));
        }
        Ok(())
    }
}

/// A stream not written for this long is no longer reported.
pub const FORGET_AFTER: Duration = Duration::from_secs(3600);

/// The live streams tracked and when each was last written.
#[derive(Debug)]
pub struct Streams {
    max: usize,
    written: Mutex<HashMap<String, Instant>>,
    untracked: AtomicU64,
}

/// What a playlist's new version says about its stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Playlist {
    /// Still being written: a live stream.
    Live,
    /// Ended, on demand, or a multivariant playlist: not a live stream.
    NotLive,
}

impl Playlist {
    /// Reads the new version `body` of playlist `key` (`.m3u8` or `.mpd`).
    pub fn of(key: &str, body: &[u8]) -> Playlist {
        let text = String::from_utf8_lossy(body);
        let live = if has_extension(key, "mpd") {
            mpd_is_dynamic(&text)
        } else {
            !text.lines().map(str::trim).any(|line| {
                line == "#EXT-X-ENDLIST"
                    || line == "#EXT-X-PLAYLIST-TYPE:VOD"
                    || line.starts_with("#EXT-X-STREAM-INF")
            })
        };
        if live {
            Playlist::Live
        } else {
            Playlist::NotLive
        }
    }
}

/// Whether `key` is a playlist or an MPD, by its extension.
pub fn is_playlist(key: &str) -> bool {
    has_extension(key, "m3u8") || has_extension(key, "mpd")
}

fn has_extension(key: &str, extension: &str) -> bool {
    key.rsplit_once('.')
        .is_some_and(|(_, ext)| ext.eq_ignore_ascii_case(extension))
}

/// Whether the `MPD` element's start tag says `type="dynamic"`.
fn mpd_is_dynamic(text: &str) -> bool {
    let Some(start) = text.find("<MPD") else {
        return false;
    };
    let tag = &text[start..];
    let tag = &tag[..tag.find('>').unwrap_or(tag.len())];
    tag.contains("type=\"dynamic\"") || tag.contains("type='dynamic'")
}

/// After a successful `method` (a write) on the raw path `path`: a playlist's new version is read back, in
/// a task of its own so the writer's answer does not wait, to track its stream or stop tracking it; a
/// deleted playlist stops being tracked.
pub fn note_write(state: &Arc<AppState>, method: &Method, path: &str) {
    let Ok(key) = strata_abi::key::key_from_path(path) else {
        return;
    };
    if !is_playlist(&key) {
        return;
    }
    if *method == Method::DELETE {
        state.streams.deleted(&key);
        return;
    }
    if state.streams.max == 0 {
        return;
    }
    let state = Arc::clone(state);
    tokio::spawn(async move {
        let limit = state.config.max_playlist_bytes;
        if let Ok(body) = state.storage.read_small(&key, limit).await {
            state.streams.written(&key, Playlist::of(&key, &body));
        }
    });
}

impl Streams {
    /// Tracks at most `max` streams (0: none).
    pub fn new(max: usize) -> Self {
        Streams {
            max,
            written: Mutex::new(HashMap::new()),
            untracked: AtomicU64::new(0),
        }
    }

    /// Playlist `key` was written now and says `playlist`.
    pub fn written(&self, key: &str, playlist: Playlist) {
        let mut written = self.lock();
        match playlist {
            Playlist::NotLive => {
                written.remove(key);
            }
            Playlist::Live => {
                let now = Instant::now();
                if let Some(at) = written.get_mut(key) {
                    *at = now;
                    return;
                }
                if written.len() >= self.max {
                    written.retain(|_, at| now.duration_since(*at) < FORGET_AFTER);
                }
                if written.len() < self.max {
                    written.insert(key.to_owned(), now);
                } else {
                    self.untracked.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
    }

    /// Playlist `key` was deleted.
    pub fn deleted(&self, key: &str) {
        self.lock().remove(key);
    }

    /// The ingest age of every tracked stream, the count tracked and the writes untracked, as Prometheus
    /// text (these series come and go with the streams, so the host writes them rather than the recorder,
    /// which keeps every series it ever saw).
    pub fn render(&self, out: &mut String) {
        let now = Instant::now();
        let mut written = self.lock();
        written.retain(|_, at| now.duration_since(*at) < FORGET_AFTER);
        let mut ages: Vec<(&String, f64)> = written
            .iter()
            .map(|(key, at)| (key, now.duration_since(*at).as_secs_f64()))
            .collect();
        ages.sort_by(|a, b| a.0.cmp(b.0));
        super::write_family_head(out, &families::STREAM_INGEST_AGE);
        for (key, age) in ages {
            let _ = writeln!(
                out,
                "{}{{stream=\"{}\"}} {age:.3}",
                families::STREAM_INGEST_AGE.name,
                super::escape_label(key)
            );
        }
        super::write_family_head(out, &families::STREAMS_TRACKED);
        let _ = writeln!(out, "{} {}", families::STREAMS_TRACKED.name, written.len());
        super::write_family_head(out, &families::STREAMS_UNTRACKED);
        let _ = writeln!(
            out,
            "{} {}",
            families::STREAMS_UNTRACKED.name,
            self.untracked.load(Ordering::Relaxed)
        );
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Instant>> {
        self.written.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIVE: &str = "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2,\na.ts\n";

    #[test]
    fn tells_live_playlists_from_ended_vod_and_multivariant_ones() {
        assert_eq!(Playlist::of("live/a.m3u8", LIVE.as_bytes()), Playlist::Live);
        let ended = format!("{LIVE}#EXT-X-ENDLIST\n");
        assert_eq!(Playlist::of("a.m3u8", ended.as_bytes()), Playlist::NotLive);
        let vod = "#EXTM3U\n#EXT-X-PLAYLIST-TYPE:VOD\n";
        assert_eq!(Playlist::of("a.m3u8", vod.as_bytes()), Playlist::NotLive);
        let multivariant = "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\nv.m3u8\n";
        assert_eq!(
            Playlist::of("a.m3u8", multivariant.as_bytes()),
            Playlist::NotLive
        );
        let dynamic = "<?xml version=\"1.0\"?>\n<MPD xmlns=\"urn:mpeg:dash:schema:mpd:2011\" type=\"dynamic\">";
        assert_eq!(Playlist::of("a.MPD", dynamic.as_bytes()), Playlist::Live);
        let static_mpd = "<MPD type=\"static\"><Period type=\"dynamic\"/></MPD>";
        assert_eq!(
            Playlist::of("a.mpd", static_mpd.as_bytes()),
            Playlist::NotLive
        );
        assert!(is_playlist("x/y.M3U8") && is_playlist("a.mpd") && !is_playlist("a.ts"));
    }

    #[test]
    fn tracks_at_most_max_streams_and_counts_the_rest() {
        let streams = Streams::new(2);
        streams.written("a.m3u8", Playlist::Live);
        streams.written("b.m3u8", Playlist::Live);
        streams.written("c.m3u8", Playlist::Live);
        streams.written("a.m3u8", Playlist::Live);
        let mut text = String::new();
        streams.render(&mut text);
        assert!(text.contains("strata_stream_ingest_age_seconds{stream=\"a.m3u8\"}"));
        assert!(!text.contains("c.m3u8"), "{text}");
        assert!(text.contains("strata_streams_tracked 2"), "{text}");
        assert!(text.contains("strata_streams_untracked_total 1"), "{text}");
        streams.deleted("a.m3u8");
        streams.written("b.m3u8", Playlist::NotLive);
        streams.written("c.m3u8", Playlist::Live);
        let mut text = String::new();
        streams.render(&mut text);
        assert!(text.contains("{stream=\"c.m3u8\"}"), "{text}");
        assert!(text.contains("strata_streams_tracked 1"), "{text}");
    }

    #[test]
    fn max_streams_is_bounded() {
        let parse = |text: &str| toml::from_str::<MetricsConfig>(text).map_err(|e| e.to_string());
        assert_eq!(parse("").unwrap().max_streams, 1000);
        assert!(parse("max_streams = 0").unwrap().validate().is_ok());
        let error = parse("max_streams = 100001")
            .unwrap()
            .validate()
            .unwrap_err();
        assert!(error.to_string().contains("metrics.max_streams"), "{error}");
        assert!(parse("max_streams = -1").is_err());
        assert!(parse("streams = 1").unwrap_err().contains("unknown field"));
    }

    #[test]
    fn keys_are_escaped_as_label_values() {
        let streams = Streams::new(1);
        streams.written("a\"b\\c\n.m3u8", Playlist::Live);
        let mut text = String::new();
        streams.render(&mut text);
        assert!(text.contains(r#"{stream="a\"b\\c\n.m3u8"}"#), "{text}");
    }
}
