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
    written: Mutex<Tracked>,
    untracked: AtomicU64,
}

/// The streams and when each was last written; no stream can be forgotten before `next_forget`, so a flood
/// of new streams past `max_streams` costs one look each, not a sweep of every tracked stream.
#[derive(Debug, Default)]
struct Tracked {
    streams: HashMap<String, Instant>,
    next_forget: Option<Instant>,
}

impl Tracked {
    /// Forgets the streams not written for [`FORGET_AFTER`], if any can be by `now`.
    fn forget_stale(&mut self, now: Instant) {
        if self.next_forget.is_some_and(|at| now < at) {
            return;
        }
        self.streams
            .retain(|_, at| now.duration_since(*at) < FORGET_AFTER);
        self.next_forget = self.streams.values().min().map(|at| *at + FORGET_AFTER);
    }
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
            written: Mutex::new(Tracked::default()),
            untracked: AtomicU64::new(0),
        }
    }

    /// Playlist `key` was written now and says `playlist`.
    pub fn written(&self, key: &str, playlist: Playlist) {
        let mut tracked = self.lock();
        match playlist {
            Playlist::NotLive => {
                tracked.streams.remove(key);
            }
            Playlist::Live => {
                let now = Instant::now();
                if let Some(at) = tracked.streams.get_mut(key) {
                    *at = now;
                    return;
                }
                if tracked.streams.len() >= self.max {
                    tracked.forget_stale(now);
                }
                if tracked.streams.len() < self.max {
                    tracked.streams.insert(key.to_owned(), now);
                } else {
                    self.untracked.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
    }

    /// Playlist `key` was deleted.
    pub fn deleted(&self, key: &str) {
        self.lock().streams.remove(key);
    }

    /// The ingest age of every tracked stream, the count tracked and the writes untracked, as Prometheus
    /// text (these series come and go with the streams, so the host writes them rather than the recorder,
    /// which keeps every series it ever saw).
    pub fn render(&self, out: &mut String) {
        let now = Instant::now();
        let mut tracked = self.lock();
        tracked.forget_stale(now);
        let written = &tracked.streams;
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

    fn lock(&self) -> std::sync::MutexGuard<'_, Tracked> {
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
    fn a_flood_of_new_streams_past_the_cap_sweeps_once_until_one_can_be_forgotten() {
        let streams = Streams::new(1000);
        for n in 0..1000 {
            streams.written(&format!("s{n}.m3u8"), Playlist::Live);
        }
        streams.written("flood-0.m3u8", Playlist::Live);
        let next = streams
            .lock()
            .next_forget
            .expect("swept once, oldest known");
        let oldest = *streams.lock().streams.values().min().unwrap();
        assert_eq!(next, oldest + FORGET_AFTER);
        // Until then the map is not walked again: a stale time set behind the gate stays unswept (a
        // clock that started less than two hours ago has no such time to plant).
        let stale = oldest.checked_sub(2 * FORGET_AFTER);
        if let Some(stale) = stale {
            streams.lock().streams.insert("s0.m3u8".into(), stale);
        }
        for n in 1..10_000 {
            streams.written(&format!("flood-{n}.m3u8"), Playlist::Live);
        }
        assert_eq!(streams.untracked.load(Ordering::Relaxed), 10_000);
        if stale.is_some() {
            assert!(streams.lock().streams.contains_key("s0.m3u8"));
            // Once due, stale streams make room again.
            streams.lock().next_forget = Some(oldest);
            streams.written("fresh.m3u8", Playlist::Live);
            let tracked = streams.lock();
            assert!(tracked.streams.contains_key("fresh.m3u8"));
            assert!(!tracked.streams.contains_key("s0.m3u8"));
        }
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
