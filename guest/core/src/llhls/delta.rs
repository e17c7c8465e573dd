//! Playlist delta updates (rfc8216bis §4.4.5.2, §6.2.5.1): `_HLS_skip=YES|v2` replaces the media segments
//! older than the skip boundary with one `EXT-X-SKIP` tag, so a player reloading every part fetches a few
//! lines instead of the whole window.

use super::directives::Skip;
use super::progress::Progress;
use crate::hls::media;
use crate::hls::{Line, Playlist, Tag};

/// The delta update of `p` the player asked for, or `None` when the playlist does not advertise
/// `CAN-SKIP-UNTIL` (the directive is then ignored) or no segment is old enough to skip.
///
/// A segment is skipped when at least `CAN-SKIP-UNTIL` seconds of complete segments follow it, so the
/// update always keeps that much. The last `EXT-X-MAP` and `EXT-X-KEY` of the skipped segments are kept
/// (placed after `EXT-X-SKIP`) unless the first kept segment has its own: the kept segments need them
/// and a player merging the update must not depend on lines it was told were skipped. `EXT-X-DATERANGE`
/// tags of the skipped segments are kept for `YES`, and dropped for `v2` when the playlist advertises
/// `CAN-SKIP-DATERANGES=YES`; the origin keeps no history of removed date ranges, so
/// `RECENTLY-REMOVED-DATERANGES` is then empty.
pub fn skip(p: &Playlist, progress: &Progress, kind: Skip) -> Option<Playlist> {
    let until_ms = (progress.can_skip_until? * 1000.0).round() as u64;
    let view = media::view(p);
    let mut following_ms = 0u64;
    let mut count = 0;
    for (i, segment) in view.segments.iter().enumerate().rev() {
        if following_ms >= until_ms {
            count = i + 1;
            break;
        }
        following_ms += (segment.duration * 1000.0).round() as u64;
    }
    let skipped = &view.segments[..count];
    let first_kept = view.segments.get(count)?;
    let (Some(first), Some(last)) = (skipped.first(), skipped.last()) else {
        return None;
    };
    let skip_dateranges = kind == Skip::V2 && progress.can_skip_dateranges;
    let region = &p.lines[first.first_line..=last.uri_line];
    let own = &p.lines[first_kept.first_line..first_kept.uri_line];
    let last_named = |name: &str| {
        let has_own = own.iter().any(|l| l.tag(name).is_some());
        (!has_own)
            .then(|| region.iter().rev().find(|l| l.tag(name).is_some()))
            .flatten()
    };
    let mut value = format!("SKIPPED-SEGMENTS={}", skipped.len());
    if skip_dateranges {
        value.push_str(",RECENTLY-REMOVED-DATERANGES=\"\"");
    }
    let mut lines: Vec<Line> = p.lines[..first.first_line].to_vec();
    lines.push(Line::Tag(Tag::new("EXT-X-SKIP", value)));
    lines.extend(
        [last_named("EXT-X-MAP"), last_named("EXT-X-KEY")]
            .into_iter()
            .flatten()
            .cloned(),
    );
    if !skip_dateranges {
        lines.extend(
            region
                .iter()
                .filter(|l| l.tag("EXT-X-DATERANGE").is_some())
                .cloned(),
        );
    }
    lines.extend_from_slice(&p.lines[first_kept.first_line..]);
    Some(Playlist { lines })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Ten 4 s segments (msn 0-9), a map, a key change at segment 3 and a date range at segment 1.
    fn window(server_control: &str) -> Playlist {
        let mut text = format!(
            "#EXTM3U\n#EXT-X-VERSION:10\n#EXT-X-TARGETDURATION:4\n{server_control}\n#EXT-X-MAP:URI=\"init.mp4\"\n"
        );
        for i in 0..10 {
            if i == 1 {
                text.push_str("#EXT-X-DATERANGE:ID=\"ad\",START-DATE=\"2024-01-01T00:00:04Z\"\n");
            }
            if i == 3 {
                text.push_str("#EXT-X-KEY:METHOD=AES-128,URI=\"k3.key\"\n");
            }
            text.push_str(&format!("#EXTINF:4.0,\ns{i}.m4s\n"));
        }
        Playlist::parse(&text).unwrap()
    }

    fn delta(server_control: &str, kind: Skip) -> Option<String> {
        let p = window(server_control);
        skip(&p, &Progress::of(&p), kind).map(|d| d.write())
    }

    #[test]
    fn skips_segments_before_the_boundary_and_keeps_what_they_set() {
        let text = delta("#EXT-X-SERVER-CONTROL:CAN-SKIP-UNTIL=24", Skip::Yes).unwrap();
        // 24 s = six segments must follow a skipped one: s0-s3 are skipped, s4-s9 kept.
        assert!(text.contains("#EXT-X-SKIP:SKIPPED-SEGMENTS=4\n"), "{text}");
        assert!(
            !text.contains("s3.m4s") && text.contains("s4.m4s\n"),
            "{text}"
        );
        assert_eq!(text.matches("#EXTINF").count(), 6);
        let after_skip = text.split("#EXT-X-SKIP").nth(1).unwrap();
        assert!(after_skip.contains("#EXT-X-MAP:URI=\"init.mp4\""), "{text}");
        assert!(after_skip.contains("#EXT-X-KEY:METHOD=AES-128,URI=\"k3.key\""));
        assert!(after_skip.contains("#EXT-X-DATERANGE:ID=\"ad\""));
        assert!(text.starts_with("#EXTM3U\n#EXT-X-VERSION:10\n#EXT-X-TARGETDURATION:4\n"));
    }

    #[test]
    fn v2_drops_date_ranges_only_when_advertised() {
        let text = delta(
            "#EXT-X-SERVER-CONTROL:CAN-SKIP-UNTIL=24,CAN-SKIP-DATERANGES=YES",
            Skip::V2,
        )
        .unwrap();
        assert!(text.contains("#EXT-X-SKIP:SKIPPED-SEGMENTS=4,RECENTLY-REMOVED-DATERANGES=\"\"\n"));
        assert!(!text.contains("EXT-X-DATERANGE"), "{text}");
        let text = delta("#EXT-X-SERVER-CONTROL:CAN-SKIP-UNTIL=24", Skip::V2).unwrap();
        assert!(text.contains("#EXT-X-SKIP:SKIPPED-SEGMENTS=4\n"));
        assert!(text.contains("EXT-X-DATERANGE"));
    }

    #[test]
    fn ignored_without_can_skip_until_or_when_nothing_is_old_enough() {
        assert_eq!(
            delta("#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES", Skip::Yes),
            None
        );
        assert_eq!(
            delta("#EXT-X-SERVER-CONTROL:CAN-SKIP-UNTIL=40", Skip::Yes),
            None
        );
        assert_eq!(
            delta("#EXT-X-SERVER-CONTROL:CAN-SKIP-UNTIL=36", Skip::Yes)
                .unwrap()
                .matches("#EXTINF")
                .count(),
            9
        );
    }
}
