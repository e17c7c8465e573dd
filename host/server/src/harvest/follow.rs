//! Following a live media playlist through a window: each update (woken by the playlist's change signal,
//! no polling) is merged into what was read before, so segments the live window has since deleted stay
//! listed, and the part of the window already published is handed out at once, to be copied before the
//! live window deletes it.

use std::time::Duration;

use http::StatusCode;
use strata_guest_core::hls::media;
use strata_guest_core::hls::{Line, Playlist, Tag};
use strata_guest_core::iso8601::format_date_time_ms;
use strata_tiers::Storage;
use tokio::time::Instant;

use super::clip::{self, Clip, Coverage, KeyMap, ObjectCopy, Window};
use super::source::{self, Failure, MAX_LIVE_WAIT};

/// Most segments one followed playlist may accumulate: 6 h of 0.5 s segments, with room to spare. Past it
/// the job fails instead of holding an encoder's runaway output in memory.
pub const MAX_FOLLOWED_SEGMENTS: usize = 50_000;

/// What one step of following gives.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// The objects of the part of the window published so far (to copy now); more is to come.
    Partial(Vec<ObjectCopy>),
    /// The whole window.
    Done(Clip),
}

/// A live media playlist followed through a window.
pub struct Follow<'a> {
    key: &'a str,
    window: Window,
    map: &'a KeyMap,
    max_bytes: u64,
    /// Every segment read so far, in one playlist.
    merged: Option<Playlist>,
    /// The entity tag last read, once a read happened: the next step waits for another.
    seen: Option<Option<String>>,
    /// When to give up on a stream that stops short of the window's end.
    deadline: Option<Instant>,
}

impl<'a> Follow<'a> {
    /// Starts following the media playlist at `key`.
    pub fn new(key: &'a str, window: Window, map: &'a KeyMap, max_bytes: u64) -> Self {
        Follow {
            key,
            window,
            map,
            max_bytes,
            merged: None,
            seen: None,
            deadline: None,
        }
    }

    /// Waits for the playlist to change (not before the first read), reads and merges it, and gives the
    /// window's clip: whole, or as far as it is published. A stream that stops short fails once it is as
    /// far past the window's end, by the wall clock, as it was short by media time, plus three target
    /// durations.
    ///
    /// # Errors
    /// [`Failure`] when the playlist cannot be read, merged or clipped, or does not reach the window's end
    /// in time.
    pub async fn next(&mut self, storage: &dyn Storage) -> Result<Step, Failure> {
        let key = self.key;
        if let (Some(seen), Some(deadline)) = (&self.seen, self.deadline) {
            let left = deadline.saturating_duration_since(Instant::now());
            storage.watch(key, seen.as_deref(), left).await;
        }
        let etag = storage.head(key).await.map(|meta| meta.etag.clone());
        let read = source::playlist(storage, key, self.max_bytes).await?;
        let merged = merge(self.merged.take(), read, key)?;
        self.seen = Some(etag);
        let step = self.step(&merged);
        self.merged = Some(merged);
        step
    }

    /// The window's clip from everything read so far, or the objects of the part already published.
    fn step(&mut self, merged: &Playlist) -> Result<Step, Failure> {
        let key = self.key;
        let edge_ms = match clip::clip(merged, key, self.window, self.map)? {
            Coverage::Ready(clip) => return Ok(Step::Done(clip)),
            Coverage::Pending { edge_ms } => edge_ms,
        };
        let target = Duration::from_secs(merged.target_duration().unwrap_or(1).clamp(1, 60));
        let deadline = *self.deadline.get_or_insert_with(|| {
            let short = u64::try_from(self.window.end_ms.saturating_sub(edge_ms)).unwrap_or(0);
            Instant::now() + Duration::from_millis(short).min(MAX_LIVE_WAIT) + target * 3
        });
        if deadline <= Instant::now() {
            return Err(Failure::new(
                StatusCode::GATEWAY_TIMEOUT,
                format!(
                    "the live playlist {key} did not reach the window's end in time: its newest segment ends at {}",
                    format_date_time_ms(edge_ms)
                ),
            ));
        }
        if edge_ms <= self.window.start_ms {
            return Ok(Step::Partial(Vec::new()));
        }
        let published = Window {
            end_ms: edge_ms,
            ..self.window
        };
        Ok(Step::Partial(
            match clip::clip(merged, key, published, self.map)? {
                Coverage::Ready(clip) => clip.objects,
                Coverage::Pending { .. } => Vec::new(),
            },
        ))
    }
}

/// `earlier` with the segments of `later` that come after its own appended (by media sequence number) and
/// `EXT-X-ENDLIST` if `later` has it: one playlist of everything read, though the live window has moved on.
///
/// # Errors
/// 502 when `later` starts after the segment following `earlier`'s last: segments were published and
/// deleted between two reads, and the clip would have a hole; 422 when the merged playlist would list more
/// than [`MAX_FOLLOWED_SEGMENTS`].
pub fn merge(earlier: Option<Playlist>, later: Playlist, key: &str) -> Result<Playlist, Failure> {
    let Some(mut merged) = earlier else {
        return Ok(later);
    };
    let (old, new) = (media::view(&merged), media::view(&later));
    let Some(last) = old.segments.last().map(|s| s.msn) else {
        return Ok(later);
    };
    let next = last.saturating_add(1);
    if new.media_sequence > next {
        return Err(Failure::new(
            StatusCode::BAD_GATEWAY,
            format!(
                "{key} moved on by more than its window between two reads: segments {} to {} were missed",
                next,
                new.media_sequence - 1
            ),
        ));
    }
    if let Some(first_new) = new.segments.iter().find(|s| s.msn > last) {
        let appended = new.segments.iter().filter(|s| s.msn > last).count();
        if old.segments.len() + appended > MAX_FOLLOWED_SEGMENTS {
            return Err(Failure::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                format!(
                    "{key} listed more than {MAX_FOLLOWED_SEGMENTS} segments while it was followed: a harvest holds at most that many"
                ),
            ));
        }
        let end = new
            .segments
            .last()
            .map_or(first_new.uri_line, |s| s.uri_line);
        merged
            .lines
            .truncate(old.segments.last().map_or(0, |s| s.uri_line + 1));
        merged
            .lines
            .extend_from_slice(&later.lines[first_new.first_line..=end]);
    }
    if later.is_final() && !merged.is_final() {
        merged.lines.push(Line::Tag(Tag {
            name: "EXT-X-ENDLIST".into(),
            value: None,
        }));
    }
    Ok(merged)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A live playlist of `msns`, one 1 s segment each, PDT from 2024-05-01T12:00:00Z + msn seconds.
    fn live(msns: std::ops::Range<u64>, tail: &str) -> Playlist {
        let mut text = format!(
            "#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXT-X-MEDIA-SEQUENCE:{}\n",
            msns.start
        );
        for n in msns {
            text.push_str(&format!(
                "#EXT-X-PROGRAM-DATE-TIME:{}\n#EXTINF:1.0,\ns{n}.ts\n",
                format_date_time_ms(1_714_564_800_000 + n as i64 * 1000)
            ));
        }
        text.push_str(tail);
        Playlist::parse(&text).unwrap()
    }

    fn uris(p: &Playlist) -> Vec<String> {
        p.lines
            .iter()
            .filter_map(|l| match l {
                Line::Uri(u) => Some(u.clone()),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn merging_keeps_what_the_live_window_deleted() {
        let hint = "#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"p.ts\"\n";
        let merged = merge(Some(live(0..4, hint)), live(2..6, hint), "k").unwrap();
        assert_eq!(
            uris(&merged),
            ["s0.ts", "s1.ts", "s2.ts", "s3.ts", "s4.ts", "s5.ts"]
        );
        let view = media::view(&merged);
        assert_eq!(view.segments[5].msn, 5);
        assert_eq!(view.segments[5].start_ms, Some(1_714_564_805_000));
        assert!(
            !merged
                .write()
                .contains("PRELOAD-HINT:TYPE=PART,URI=\"p.ts\"\n#EXT-X-PROGRAM")
        );
        let same = merge(Some(merged.clone()), live(3..6, ""), "k").unwrap();
        assert_eq!(uris(&same), uris(&merged));
        let ended = merge(Some(merged), live(4..7, "#EXT-X-ENDLIST\n"), "k").unwrap();
        assert!(ended.is_final() && uris(&ended).len() == 7);
    }

    #[test]
    fn a_hole_between_two_reads_is_refused() {
        let e = merge(Some(live(0..4, "")), live(6..9, ""), "live/k.m3u8").unwrap_err();
        assert_eq!(e.status, StatusCode::BAD_GATEWAY);
        assert!(e.reason.contains("segments 4 to 5 were missed"), "{e}");
        assert_eq!(merge(None, live(6..9, ""), "k").unwrap(), live(6..9, ""));
    }

    #[test]
    fn a_runaway_playlist_is_not_followed_without_bound() {
        let half = MAX_FOLLOWED_SEGMENTS as u64 / 2;
        let merged = merge(Some(live(0..half, "")), live(half..2 * half, ""), "k").unwrap();
        assert_eq!(media::view(&merged).segments.len(), MAX_FOLLOWED_SEGMENTS);
        let e = merge(
            Some(merged),
            live(2 * half..2 * half + 1, ""),
            "live/k.m3u8",
        )
        .unwrap_err();
        assert_eq!(e.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(e.reason.contains("listed more than 50000 segments"), "{e}");
    }

    #[test]
    fn a_media_sequence_at_the_end_of_its_range_does_not_overflow() {
        let at_end = |first: u64| {
            Playlist::parse(&format!(
                "#EXTM3U\n#EXT-X-MEDIA-SEQUENCE:{first}\n\
                 #EXT-X-PROGRAM-DATE-TIME:2024-05-01T12:00:00Z\n#EXTINF:1,\na.ts\n"
            ))
            .unwrap()
        };
        let merged = merge(Some(at_end(u64::MAX)), at_end(u64::MAX), "k").unwrap();
        assert_eq!(uris(&merged), ["a.ts"]);
        let e = merge(Some(at_end(0)), at_end(u64::MAX), "k").unwrap_err();
        assert!(e.reason.contains("segments 1 to"), "{e}");
    }
}
