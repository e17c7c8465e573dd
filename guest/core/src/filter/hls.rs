//! Filtering an HLS multivariant playlist: variants, I-frame and image variants, audio and subtitle
//! renditions.

use super::stream::{Stream, StreamKind, frame_rate, is_audio_codec};
use super::{Filter, FilterError};
use crate::hls::attributes::Attributes;
use crate::hls::{Kind, Line, Playlist};

/// `playlist` with the streams `filter` removes taken out.
///
/// Renditions are filtered first; a variant whose `AUDIO` group lost all its renditions goes too, and a
/// `SUBTITLES` reference to an emptied group is dropped from the variants that had it.
///
/// # Errors
/// [`FilterError::NotAManifest`] for a media playlist, [`FilterError::NothingLeft`] when no variant is left.
pub fn apply(filter: &Filter, playlist: &Playlist) -> Result<Playlist, FilterError> {
    if playlist.kind() != Kind::Multivariant {
        return Err(FilterError::NotAManifest);
    }
    let lines = &playlist.lines;
    let mut drop = vec![false; lines.len()];
    let mut groups: Vec<(String, String, bool)> = Vec::new(); // (type, group id, any rendition kept)
    for (i, line) in lines.iter().enumerate() {
        let Some(tag) = line.tag("EXT-X-MEDIA") else {
            continue;
        };
        let a = Attributes::parse(tag.value.as_deref().unwrap_or(""));
        let kind = match a.get("TYPE") {
            Some("AUDIO") => StreamKind::Audio,
            Some("SUBTITLES") => StreamKind::Subtitle,
            _ => continue,
        };
        let stream = Stream {
            kind: Some(kind),
            language: a.get("LANGUAGE").map(str::to_string),
            channels: a
                .get("CHANNELS")
                .and_then(|c| c.split('/').next()?.trim().parse().ok()),
            ..Stream::default()
        };
        let keep = stream.passes(filter);
        drop[i] = !keep;
        let (ty, id) = (
            a.get("TYPE").unwrap_or("").to_string(),
            a.get("GROUP-ID").unwrap_or("").to_string(),
        );
        match groups.iter_mut().find(|(t, g, _)| *t == ty && *g == id) {
            Some(g) => g.2 |= keep,
            None => groups.push((ty, id, keep)),
        }
    }
    let emptied = |ty: &str, id: &str| {
        groups
            .iter()
            .any(|(t, g, kept)| t == ty && g == id && !kept)
    };
    let mut out: Vec<Line> = Vec::with_capacity(lines.len());
    let mut playable = 0;
    let mut i = 0;
    while i < lines.len() {
        let line = &lines[i];
        if drop[i] {
            i += 1;
            continue;
        }
        let Line::Tag(tag) = line else {
            out.push(line.clone());
            i += 1;
            continue;
        };
        let value = tag.value.as_deref().unwrap_or("");
        match tag.name.as_str() {
            "EXT-X-STREAM-INF" => {
                let mut a = Attributes::parse(value);
                let uri = lines[i + 1..]
                    .iter()
                    .position(|l| matches!(l, Line::Uri(_)))
                    .map(|p| i + 1 + p);
                let end = uri.unwrap_or(i);
                let keep = variant(&a).passes(filter)
                    && !a.get("AUDIO").is_some_and(|g| emptied("AUDIO", g));
                if keep {
                    if a.get("SUBTITLES").is_some_and(|g| emptied("SUBTITLES", g)) {
                        a.pairs.retain(|(n, _)| n != "SUBTITLES");
                        out.push(Line::Tag(crate::hls::Tag::new(&tag.name, a.write())));
                    } else {
                        out.push(line.clone());
                    }
                    out.extend(lines[i + 1..=end].iter().cloned());
                    playable += 1;
                }
                i = end + 1;
                continue;
            }
            "EXT-X-I-FRAME-STREAM-INF" | "EXT-X-IMAGE-STREAM-INF" => {
                let a = Attributes::parse(value);
                let stream = Stream {
                    kind: Some(StreamKind::Trickplay),
                    height: height(&a),
                    trickplay_type: Some(if tag.name == "EXT-X-IMAGE-STREAM-INF" {
                        "image"
                    } else {
                        "iframe"
                    }),
                    ..Stream::default()
                };
                if stream.passes(filter) {
                    out.push(line.clone());
                }
            }
            _ => out.push(line.clone()),
        }
        i += 1;
    }
    if playable == 0 {
        return Err(FilterError::NothingLeft);
    }
    Ok(Playlist { lines: out })
}

/// What a filter sees of an `EXT-X-STREAM-INF` variant: video unless it only lists audio codecs.
fn variant(a: &Attributes) -> Stream {
    let codecs: Vec<String> = a
        .get("CODECS")
        .unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .map(str::to_string)
        .collect();
    let audio_only = a.get("RESOLUTION").is_none()
        && !codecs.is_empty()
        && codecs.iter().all(|c| is_audio_codec(c));
    Stream {
        kind: Some(if audio_only {
            StreamKind::Audio
        } else {
            StreamKind::Video
        }),
        bitrate: a.number("BANDWIDTH"),
        codecs,
        height: height(a),
        frame_rate: a.get("FRAME-RATE").and_then(frame_rate),
        dynamic_range: a.get("VIDEO-RANGE").map(|r| match r {
            "PQ" => "hdr10",
            "HLG" => "hlg",
            _ => "sdr",
        }),
        ..Stream::default()
    }
}

/// The height of `RESOLUTION=WxH`.
fn height(a: &Attributes) -> Option<f64> {
    a.get("RESOLUTION")?.split_once('x')?.1.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const MV: &str = "#EXTM3U
#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"a\",LANGUAGE=\"en\",CHANNELS=\"2\",URI=\"en.m3u8\"
#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"a\",LANGUAGE=\"fr\",CHANNELS=\"2\",URI=\"fr.m3u8\"
#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"surround\",LANGUAGE=\"en\",CHANNELS=\"6\",URI=\"en6.m3u8\"
#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID=\"s\",LANGUAGE=\"de\",URI=\"de.m3u8\"
#EXT-X-STREAM-INF:BANDWIDTH=5000000,RESOLUTION=1920x1080,CODECS=\"avc1.640028,mp4a.40.2\",AUDIO=\"a\",SUBTITLES=\"s\"
1080.m3u8
#EXT-X-STREAM-INF:BANDWIDTH=1000000,RESOLUTION=640x360,CODECS=\"avc1.64001e,mp4a.40.2\",AUDIO=\"a\",SUBTITLES=\"s\"

360.m3u8
#EXT-X-STREAM-INF:BANDWIDTH=5200000,RESOLUTION=1920x1080,CODECS=\"avc1.640028,ec-3\",AUDIO=\"surround\"
1080-51.m3u8
#EXT-X-I-FRAME-STREAM-INF:BANDWIDTH=200000,RESOLUTION=1920x1080,URI=\"if1080.m3u8\"
#EXT-X-I-FRAME-STREAM-INF:BANDWIDTH=50000,RESOLUTION=640x360,URI=\"if360.m3u8\"
";

    fn filtered(f: &str) -> Result<String, FilterError> {
        apply(&Filter::parse(f).unwrap(), &Playlist::parse(MV).unwrap()).map(|p| p.write())
    }

    #[test]
    fn video_bitrate_and_height() {
        let out = filtered("video_bitrate:0-2000000").unwrap();
        assert!(
            out.contains("\n360.m3u8") && !out.contains("\n1080.m3u8") && !out.contains("1080-51")
        );
        assert!(
            out.contains("\n\n360.m3u8"),
            "lines between tag and URI stay"
        );
        let out = filtered("video_height:1080").unwrap();
        assert!(!out.contains("\n360.m3u8") && out.contains("\n1080.m3u8"));
        // Trick play is filtered by its own keys only.
        assert!(out.contains("if360.m3u8"));
    }

    #[test]
    fn audio_language_empties_a_group_and_its_variants() {
        let out = filtered("audio_language:fr").unwrap();
        assert!(
            out.contains("fr.m3u8") && !out.contains("\"en.m3u8\"") && !out.contains("en6.m3u8")
        );
        assert!(
            !out.contains("1080-51.m3u8"),
            "its only audio group is empty"
        );
        assert!(out.contains("1080.m3u8"));
    }

    #[test]
    fn subtitles_and_codecs() {
        let out = filtered("subtitle_language:en").unwrap();
        assert!(!out.contains("de.m3u8"));
        assert!(
            !out.contains("SUBTITLES=\"s\""),
            "dangling group reference dropped"
        );
        assert!(out.contains("AUDIO=\"a\""));
        let out = filtered("audio_codec:ec-3").unwrap();
        assert!(out.contains("1080-51.m3u8") && !out.contains("\n360.m3u8"));
    }

    #[test]
    fn trickplay() {
        let out = filtered("trickplay_height:0-400").unwrap();
        assert!(out.contains("if360") && !out.contains("if1080"));
        let out = filtered("trickplay_type:image").unwrap();
        assert!(!out.contains("I-FRAME"));
    }

    #[test]
    fn nothing_left_and_media_playlists() {
        assert_eq!(filtered("video_height:2160"), Err(FilterError::NothingLeft));
        let media = Playlist::parse("#EXTM3U\n#EXTINF:4,\na.ts\n").unwrap();
        let f = Filter::parse("video_height:720").unwrap();
        assert_eq!(apply(&f, &media), Err(FilterError::NotAManifest));
    }
}
