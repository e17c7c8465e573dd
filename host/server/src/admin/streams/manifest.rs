//! What one stored manifest says about its stream, read with guest/core's own parsers (the ones the
//! guest decides with), so the console shows a playlist exactly as the origin understands it.

use std::collections::HashSet;

use serde::Serialize;
use strata_guest_core::dash::mpd::{Mpd, inherited};
use strata_guest_core::dash::xml::Element;
use strata_guest_core::hls::attributes::Attributes;
use strata_guest_core::hls::{Kind, Line, Playlist, media};
use strata_guest_core::iso8601::parse_duration_s;
use strata_guest_core::llhls::reports::resolve;

/// How many of a media playlist's last segments measure its ingest bitrate.
const MEASURED_SEGMENTS: usize = 3;

/// Most renditions (and media playlist keys) kept of one manifest; the rest are only counted. A megabyte of
/// hostile playlist names some 40,000, and a listing reads 64 of them.
pub const MAX_RENDITIONS: usize = 1_000;

/// One rendition of a stream: an HLS variant or rendition, or a DASH Representation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Rendition {
    /// The variant playlist's key (HLS) or the Representation's id (DASH).
    pub name: String,
    /// Declared peak bandwidth, bits per second.
    pub bandwidth: Option<u64>,
    /// `WIDTHxHEIGHT`, for video.
    pub resolution: Option<String>,
    /// Declared codecs.
    pub codecs: Option<String>,
}

/// What one manifest says, before the streams are assembled from them.
#[derive(Debug, Clone, PartialEq)]
pub enum Parsed {
    /// An HLS multivariant playlist: its renditions and the keys of their media playlists.
    Multivariant {
        /// Variants and renditions.
        renditions: Vec<Rendition>,
        /// Keys of the media playlists it names, in order, each once.
        media_keys: Vec<String>,
        /// Renditions past [`MAX_RENDITIONS`], counted but not kept.
        unlisted: usize,
    },
    /// An HLS media playlist.
    Media(MediaPlaylist),
    /// A DASH MPD.
    Dash(DashManifest),
}

/// The facts of an HLS media playlist.
#[derive(Debug, Clone, PartialEq)]
pub struct MediaPlaylist {
    /// Whether more segments may come (no `EXT-X-ENDLIST`, not `VOD`).
    pub live: bool,
    /// `EXT-X-TARGETDURATION`, seconds.
    pub target_duration_s: Option<f64>,
    /// The sum of its segments' durations, seconds.
    pub window_s: f64,
    /// Its last segments as `(key, duration in seconds)`, to measure the ingest bitrate.
    pub last_segments: Vec<(String, f64)>,
}

/// The facts of an MPD.
#[derive(Debug, Clone, PartialEq)]
pub struct DashManifest {
    /// `MPD@type` is `dynamic`.
    pub live: bool,
    /// Its Representations.
    pub renditions: Vec<Rendition>,
    /// Representations past [`MAX_RENDITIONS`], counted but not kept.
    pub unlisted: usize,
    /// `maxSegmentDuration`, else the first SegmentTemplate's duration or timeline entry, seconds.
    pub segment_duration_s: Option<f64>,
    /// `timeShiftBufferDepth` (live) or `mediaPresentationDuration` (VOD), seconds.
    pub window_s: Option<f64>,
    /// `minimumUpdatePeriod`, seconds: how often a live MPD is rewritten.
    pub update_period_s: Option<f64>,
}

/// Reads the manifest stored at `key`.
///
/// # Errors
/// One line saying why the body is not a playlist or an MPD.
pub fn parse(key: &str, body: &[u8]) -> Result<Parsed, String> {
    if key.to_ascii_lowercase().ends_with(".mpd") {
        return Mpd::parse_bytes(body)
            .map(|mpd| Parsed::Dash(dash(&mpd)))
            .map_err(|e| format!("not a valid MPD: {e}"));
    }
    let playlist = Playlist::parse_bytes(body).map_err(|e| format!("not a valid playlist: {e}"))?;
    Ok(match playlist.kind() {
        Kind::Multivariant => multivariant(key, &playlist),
        Kind::Media => Parsed::Media(media_playlist(key, &playlist)),
    })
}

/// The folder of `key`, with its trailing `/` (empty at the root).
pub fn folder(key: &str) -> &str {
    &key[..key.rfind('/').map_or(0, |at| at + 1)]
}

fn multivariant(key: &str, playlist: &Playlist) -> Parsed {
    let mut renditions = Vec::new();
    let mut media_keys: Vec<String> = Vec::new();
    // A set beside the list: a hostile playlist can name tens of thousands of variants.
    let mut seen = HashSet::new();
    let mut variant: Option<Attributes> = None;
    let mut unlisted = 0;
    let mut name = |uri: &str, media_keys: &mut Vec<String>| {
        let child = resolve(folder(key), uri).unwrap_or_else(|| uri.to_owned());
        if seen.insert(child.clone()) {
            media_keys.push(child.clone());
        }
        child
    };
    for line in &playlist.lines {
        match line {
            Line::Tag(tag) if tag.name == "EXT-X-STREAM-INF" => {
                variant = Some(Attributes::parse(tag.value.as_deref().unwrap_or_default()));
            }
            Line::Tag(tag) if tag.name == "EXT-X-MEDIA" => {
                let attributes = Attributes::parse(tag.value.as_deref().unwrap_or_default());
                if attributes.get("URI").is_some() && renditions.len() == MAX_RENDITIONS {
                    unlisted += 1;
                } else if let Some(uri) = attributes.get("URI") {
                    renditions.push(Rendition {
                        name: name(uri, &mut media_keys),
                        bandwidth: None,
                        resolution: None,
                        codecs: attributes.get("TYPE").map(str::to_lowercase),
                    });
                }
            }
            Line::Uri(_) if variant.is_some() && renditions.len() == MAX_RENDITIONS => {
                variant = None;
                unlisted += 1;
            }
            Line::Uri(uri) => {
                if let Some(attributes) = variant.take() {
                    renditions.push(Rendition {
                        name: name(uri, &mut media_keys),
                        bandwidth: attributes.number("BANDWIDTH").map(|b| b as u64),
                        resolution: attributes.get("RESOLUTION").map(str::to_owned),
                        codecs: attributes.get("CODECS").map(str::to_owned),
                    });
                }
            }
            _ => {}
        }
    }
    Parsed::Multivariant {
        renditions,
        media_keys,
        unlisted,
    }
}

fn media_playlist(key: &str, playlist: &Playlist) -> MediaPlaylist {
    let view = media::view(playlist);
    let segments = &view.segments;
    let last_segments = segments[segments.len().saturating_sub(MEASURED_SEGMENTS)..]
        .iter()
        .filter_map(|segment| match &playlist.lines[segment.uri_line] {
            Line::Uri(uri) => resolve(folder(key), uri).map(|k| (k, segment.duration)),
            _ => None,
        })
        .collect();
    MediaPlaylist {
        live: !playlist.is_final(),
        target_duration_s: playlist.target_duration().map(|t| t as f64),
        window_s: segments.iter().map(|s| s.duration).sum(),
        last_segments,
    }
}

fn dash(mpd: &Mpd) -> DashManifest {
    let root = &mpd.doc.root;
    let duration = |name: &str| root.attr(name).and_then(|d| parse_duration_s(&d));
    let live = mpd.is_dynamic();
    let mut renditions = Vec::new();
    let mut unlisted = 0;
    let mut template_duration = None;
    for period in root.children_named("Period") {
        for set in period.children_named("AdaptationSet") {
            for rep in set.children_named("Representation") {
                if renditions.len() == MAX_RENDITIONS {
                    unlisted += 1;
                    continue;
                }
                let number = |name: &str| inherited(set, rep, name).and_then(|v| v.parse().ok());
                let (width, height): (Option<u64>, Option<u64>) =
                    (number("width"), number("height"));
                renditions.push(Rendition {
                    name: rep.attr("id").unwrap_or_default(),
                    bandwidth: rep.attr("bandwidth").and_then(|b| b.parse().ok()),
                    resolution: width.zip(height).map(|(w, h)| format!("{w}x{h}")),
                    codecs: inherited(set, rep, "codecs"),
                });
                template_duration = template_duration
                    .or_else(|| rep.child("SegmentTemplate").and_then(template_seconds))
                    .or_else(|| set.child("SegmentTemplate").and_then(template_seconds));
            }
        }
    }
    DashManifest {
        live,
        renditions,
        unlisted,
        segment_duration_s: mpd.max_segment_duration_s().or(template_duration),
        window_s: match live {
            true => duration("timeShiftBufferDepth"),
            false => duration("mediaPresentationDuration"),
        },
        update_period_s: mpd.minimum_update_period_s(),
    }
}

/// A SegmentTemplate's segment duration: `@duration`, else its timeline's first `S@d`, over `@timescale`.
fn template_seconds(template: &Element) -> Option<f64> {
    let timescale: f64 = template
        .attr("timescale")
        .and_then(|t| t.parse().ok())
        .filter(|t: &f64| *t > 0.0)
        .unwrap_or(1.0);
    let ticks: f64 = template
        .attr("duration")
        .or_else(|| template.child("SegmentTimeline")?.child("S")?.attr("d"))?
        .parse()
        .ok()?;
    Some(ticks / timescale)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MULTIVARIANT: &str = "#EXTM3U\n\
        #EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"a\",NAME=\"en\",URI=\"audio/en.m3u8\"\n\
        #EXT-X-STREAM-INF:BANDWIDTH=1280000,RESOLUTION=640x360,CODECS=\"avc1.64001e,mp4a.40.2\",AUDIO=\"a\"\n\
        v360/index.m3u8\n\
        #EXT-X-STREAM-INF:BANDWIDTH=2560000,RESOLUTION=1280x720\n\
        ../other/v720.m3u8?token=1\n";

    #[test]
    fn multivariant_playlists_name_their_renditions_and_media_playlists() {
        let Ok(Parsed::Multivariant {
            renditions,
            media_keys,
            ..
        }) = parse("live/show/master.m3u8", MULTIVARIANT.as_bytes())
        else {
            panic!("not a multivariant playlist");
        };
        assert_eq!(
            media_keys,
            [
                "live/show/audio/en.m3u8",
                "live/show/v360/index.m3u8",
                "live/other/v720.m3u8"
            ]
        );
        assert_eq!(renditions.len(), 3);
        assert_eq!(renditions[1].bandwidth, Some(1_280_000));
        assert_eq!(renditions[1].resolution.as_deref(), Some("640x360"));
        assert_eq!(
            renditions[1].codecs.as_deref(),
            Some("avc1.64001e,mp4a.40.2")
        );
        assert_eq!(renditions[0].codecs.as_deref(), Some("audio"));
    }

    #[test]
    fn media_playlists_give_liveness_window_and_last_segments() {
        let text = "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:7\n\
            #EXTINF:2.0,\ns7.ts\n#EXTINF:2.0,\ns8.ts\n#EXTINF:1.5,\ns9.ts\n#EXTINF:2.0,\ns10.ts\n";
        let Ok(Parsed::Media(media)) = parse("live/a.m3u8", text.as_bytes()) else {
            panic!("not a media playlist");
        };
        assert!(media.live);
        assert_eq!(media.target_duration_s, Some(2.0));
        assert_eq!(media.window_s, 7.5);
        assert_eq!(
            media.last_segments,
            [
                ("live/s8.ts".to_owned(), 2.0),
                ("live/s9.ts".to_owned(), 1.5),
                ("live/s10.ts".to_owned(), 2.0)
            ]
        );
        let ended = format!("{text}#EXT-X-ENDLIST\n");
        let Ok(Parsed::Media(vod)) = parse("vod/a.m3u8", ended.as_bytes()) else {
            panic!("not a media playlist");
        };
        assert!(!vod.live);
    }

    #[test]
    fn mpds_give_representations_and_timing() {
        let mpd = r#"<?xml version="1.0"?>
<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" type="dynamic" minimumUpdatePeriod="PT2S" timeShiftBufferDepth="PT12S">
  <Period id="0">
    <AdaptationSet contentType="video" codecs="avc1.64001e">
      <SegmentTemplate timescale="12800"><SegmentTimeline><S t="0" d="25600" r="5"/></SegmentTimeline></SegmentTemplate>
      <Representation id="0" bandwidth="800000" width="640" height="360"/>
    </AdaptationSet>
    <AdaptationSet contentType="audio">
      <Representation id="1" bandwidth="96000" codecs="mp4a.40.2"/>
    </AdaptationSet>
  </Period>
</MPD>"#;
        let Ok(Parsed::Dash(dash)) = parse("live/d/manifest.mpd", mpd.as_bytes()) else {
            panic!("not an MPD");
        };
        assert!(dash.live);
        assert_eq!(dash.window_s, Some(12.0));
        assert_eq!(dash.update_period_s, Some(2.0));
        assert_eq!(dash.segment_duration_s, Some(2.0));
        assert_eq!(dash.renditions.len(), 2);
        assert_eq!(dash.renditions[0].resolution.as_deref(), Some("640x360"));
        assert_eq!(dash.renditions[0].codecs.as_deref(), Some("avc1.64001e"));
        assert_eq!(dash.renditions[1].codecs.as_deref(), Some("mp4a.40.2"));
    }

    #[test]
    fn thousands_of_renditions_are_counted_past_the_first_thousand() {
        let variants: String = (0..40_000)
            .map(|i| format!("#EXT-X-STREAM-INF:BANDWIDTH={i}\nv{}.m3u8\n", i % 20_000))
            .collect();
        let Ok(Parsed::Multivariant {
            renditions,
            media_keys,
            unlisted,
        }) = parse("m/master.m3u8", format!("#EXTM3U\n{variants}").as_bytes())
        else {
            panic!("not a multivariant playlist");
        };
        assert_eq!(
            (renditions.len(), media_keys.len(), unlisted),
            (MAX_RENDITIONS, MAX_RENDITIONS, 39_000)
        );
        assert_eq!(media_keys[999], "m/v999.m3u8");
        let representations: String = (0..1_500)
            .map(|i| format!("<Representation id=\"{i}\"/>"))
            .collect();
        let mpd =
            format!("<MPD><Period><AdaptationSet>{representations}</AdaptationSet></Period></MPD>");
        let Ok(Parsed::Dash(dash)) = parse("many.mpd", mpd.as_bytes()) else {
            panic!("not an MPD");
        };
        assert_eq!(
            (dash.renditions.len(), dash.unlisted),
            (MAX_RENDITIONS, 500)
        );
    }

    #[test]
    fn hostile_mpds_are_refused_or_read_without_expanding_entities() {
        let deep = format!("<MPD>{}", "<a>".repeat(300_000));
        assert!(
            parse("deep.mpd", deep.as_bytes())
                .unwrap_err()
                .contains("nests deeper")
        );
        let bomb = r#"<?xml version="1.0"?>
<!DOCTYPE MPD [<!ENTITY a "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">
<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;"><!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;">]>
<MPD type="static"><Period><AdaptationSet><Representation id="&d;&d;&d;" bandwidth="1"/></AdaptationSet></Period></MPD>"#;
        let Ok(Parsed::Dash(dash)) = parse("bomb.mpd", bomb.as_bytes()) else {
            panic!("not an MPD");
        };
        assert_eq!(dash.renditions[0].name, "&d;&d;&d;");
    }

    #[test]
    fn broken_manifests_say_why() {
        assert!(
            parse("a.m3u8", b"not a playlist")
                .unwrap_err()
                .starts_with("not a valid playlist")
        );
        assert!(
            parse("a.mpd", b"<MPD")
                .unwrap_err()
                .starts_with("not a valid MPD")
        );
    }
}
