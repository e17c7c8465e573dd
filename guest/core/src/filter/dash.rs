//! Filtering a DASH MPD: Representations in every Period, and AdaptationSets left empty.

use super::stream::{Stream, StreamKind, frame_rate};
use super::{Filter, FilterError};
use crate::dash::mpd::{descriptor, inherited};
use crate::dash::{Element, Mpd};

/// DASH-IF's trick-mode descriptor.
const TRICKMODE: &str = "http://dashif.org/guidelines/trickmode";
/// CICP transfer characteristics (16 = PQ, 18 = HLG).
const TRANSFER: &str = "urn:mpeg:mpegB:cicp:TransferCharacteristics";

/// `mpd` with the Representations `filter` removes taken out, and AdaptationSets left without any.
///
/// # Errors
/// [`FilterError::NothingLeft`] when no video or audio Representation is left.
pub fn apply(filter: &Filter, mpd: &Mpd) -> Result<Mpd, FilterError> {
    let mut out = mpd.clone();
    let mut playable = 0;
    out.doc.root.for_each_child_mut("Period", |period| {
        period.for_each_child_mut("AdaptationSet", |set| {
            let set_descriptors = set.clone();
            set.retain_children("Representation", |rep| {
                let stream = stream(&set_descriptors, rep);
                let keep = stream.passes(filter);
                if keep && matches!(stream.kind, Some(StreamKind::Video | StreamKind::Audio)) {
                    playable += 1;
                }
                keep
            });
        });
        period.retain_children("AdaptationSet", |set| set.child("Representation").is_some());
    });
    if playable == 0 {
        return Err(FilterError::NothingLeft);
    }
    Ok(out)
}

/// What a filter sees of Representation `rep` of AdaptationSet `set`.
fn stream(set: &Element, rep: &Element) -> Stream {
    let get = |name: &str| inherited(set, rep, name);
    let number = |name: &str| get(name).and_then(|v| v.trim().parse::<f64>().ok());
    let content = get("contentType")
        .or_else(|| get("mimeType").map(|m| m.split('/').next().unwrap_or("").to_string()))
        .unwrap_or_default();
    let trickmode = descriptor(set, rep, "EssentialProperty", TRICKMODE).is_some();
    let kind = match content.as_str() {
        "video" if trickmode => Some(StreamKind::Trickplay),
        "video" => Some(StreamKind::Video),
        "audio" => Some(StreamKind::Audio),
        "text" | "application" => Some(StreamKind::Subtitle),
        "image" => Some(StreamKind::Trickplay),
        _ => None,
    };
    let transfer = descriptor(set, rep, "SupplementalProperty", TRANSFER)
        .or_else(|| descriptor(set, rep, "EssentialProperty", TRANSFER));
    Stream {
        kind,
        bitrate: number("bandwidth"),
        codecs: get("codecs")
            .map(|c| c.split(',').map(|s| s.trim().to_string()).collect())
            .unwrap_or_default(),
        height: number("height"),
        frame_rate: get("frameRate").and_then(|f| frame_rate(&f)),
        dynamic_range: (kind == Some(StreamKind::Video)).then(|| {
            match transfer.as_deref().map(str::trim) {
                Some("16") => "hdr10",
                Some("18") => "hlg",
                _ => "sdr",
            }
        }),
        language: get("lang"),
        sample_rate: number("audioSamplingRate"),
        channels: [rep, set].into_iter().find_map(|e| {
            let c = e.child("AudioChannelConfiguration")?;
            let scheme = c.attr("schemeIdUri").unwrap_or_default();
            // Only MPEG's scheme carries a plain count; Dolby's is a bit mask.
            scheme
                .contains("23003:3")
                .then(|| c.attr("value")?.trim().parse().ok())
                .flatten()
        }),
        trickplay_type: match content.as_str() {
            "image" => Some("image"),
            "video" if trickmode => Some("iframe"),
            _ => None,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MPD: &str = include_str!("../../tests/corpus/dash/hdr-hevc-multicodec.mpd");

    fn filtered(f: &str) -> Result<String, FilterError> {
        apply(&Filter::parse(f).unwrap(), &Mpd::parse(MPD).unwrap()).map(|m| m.write())
    }

    #[test]
    fn video_keys() {
        let out = filtered("video_codec:h264;video_height:0-720").unwrap();
        assert!(out.contains("id=\"avc-720\"") && out.contains("id=\"avc-360\""));
        assert!(!out.contains("avc-1080") && !out.contains("hevc-") && !out.contains("hlg-1080"));
        assert!(
            !out.contains("id=\"hevc-pq\""),
            "emptied AdaptationSet removed"
        );
        assert!(out.contains("id=\"ec3-en\""), "audio untouched");
        let out = filtered("video_dynamic_range:hdr10").unwrap();
        assert!(out.contains("hevc-2160") && !out.contains("hlg-1080") && !out.contains("avc-720"));
        let out = filtered("video_dynamic_range:hlg").unwrap();
        assert!(out.contains("hlg-1080") && !out.contains("hevc-2160"));
        let out = filtered("video_framerate:23-24").unwrap();
        assert!(out.contains("avc-720"));
        let audio_only = filtered("video_framerate:25-30").unwrap();
        assert!(!audio_only.contains("video/mp4") && audio_only.contains("ec3-en"));
    }

    #[test]
    fn audio_and_subtitle_keys() {
        let out = filtered("audio_language:fr").unwrap();
        assert!(
            out.contains("aac-fr-128") && !out.contains("ec3-en") && !out.contains("aac-en-128")
        );
        let out = filtered("audio_codec:aach").unwrap();
        assert!(
            out.contains("heaac-en-48") && !out.contains("aac-en-128") && !out.contains("ec3-en")
        );
        let out = filtered("audio_sample_rate:0-24000").unwrap();
        assert!(out.contains("heaac-en-48") && !out.contains("aac-fr-128"));
        let out = filtered("audio_channels:2").unwrap();
        assert!(
            out.contains("aac-fr-128") && out.contains("ec3-en"),
            "Dolby mask is not a count"
        );
        let out = filtered("subtitle_language:de").unwrap();
        assert!(out.contains("vtt-de") && !out.contains("stpp-en"));
    }

    #[test]
    fn trickplay_and_nothing_left() {
        let mpd = Mpd::parse(include_str!(
            "../../tests/corpus/dash/trickmode-thumbnails.mpd"
        ))
        .unwrap();
        let out = apply(&Filter::parse("trickplay_height:200-300").unwrap(), &mpd)
            .unwrap()
            .write();
        assert!(
            out.contains("trick-270")
                && !out.contains("trick-540")
                && !out.contains("thumbnails_320x180")
        );
        assert!(out.contains("video-1080"), "main video untouched");
        let out = apply(&Filter::parse("trickplay_type:image").unwrap(), &mpd)
            .unwrap()
            .write();
        assert!(out.contains("thumbnails_320x180") && !out.contains("trick-270"));
        assert_eq!(
            filtered("video_bitrate:1-2;audio_bitrate:1-2"),
            Err(FilterError::NothingLeft)
        );
    }
}
