//! What a filter sees of one stream of a manifest, whatever the format, and whether it passes.

use super::{Filter, Key, Value};

/// The kind of a stream, which decides the keys that apply to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamKind {
    /// A video variant or Representation (HLS variants with muxed audio also answer audio codec keys).
    Video,
    /// An audio rendition or Representation, or an audio-only variant.
    Audio,
    /// Subtitles.
    Subtitle,
    /// I-frame or image (thumbnail) trick play.
    Trickplay,
}

/// The properties a manifest declares for one stream; `None` where it declares nothing.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Stream {
    /// Its kind.
    pub kind: Option<StreamKind>,
    /// Bits per second.
    pub bitrate: Option<f64>,
    /// Codec strings (`avc1.64001f`, `mp4a.40.2`).
    pub codecs: Vec<String>,
    /// Picture height.
    pub height: Option<f64>,
    /// Frames per second.
    pub frame_rate: Option<f64>,
    /// `sdr`, `hdr10` or `hlg`.
    pub dynamic_range: Option<&'static str>,
    /// Language tag.
    pub language: Option<String>,
    /// Audio sample rate, Hz.
    pub sample_rate: Option<f64>,
    /// Audio channel count.
    pub channels: Option<f64>,
    /// `iframe` or `image` for trick play.
    pub trickplay_type: Option<&'static str>,
}

/// The MediaPackage name of a video codec string.
fn video_codec_name(codec: &str) -> Option<&'static str> {
    let c = codec.trim().to_ascii_lowercase();
    if c.starts_with("avc1") || c.starts_with("avc3") {
        Some("h264")
    } else if ["hvc1", "hev1", "dvh1", "dvhe"]
        .iter()
        .any(|p| c.starts_with(p))
    {
        Some("h265")
    } else {
        None
    }
}

/// The MediaPackage name of an audio codec string.
fn audio_codec_name(codec: &str) -> Option<&'static str> {
    match codec.trim().to_ascii_lowercase().as_str() {
        "mp4a.40.2" | "mp4a.40.02" => Some("aacl"),
        "mp4a.40.5" | "mp4a.40.05" | "mp4a.40.29" => Some("aach"),
        "ac-3" => Some("ac-3"),
        "ec-3" => Some("ec-3"),
        _ => None,
    }
}

/// Whether `c` is an audio codec string.
pub fn is_audio_codec(c: &str) -> bool {
    let c = c.trim().to_ascii_lowercase();
    ["mp4a", "ac-3", "ec-3", "ac-4", "opus", "flac", "mp3"]
        .iter()
        .any(|p| c.starts_with(p))
}

impl Stream {
    /// Whether the stream passes `filter`. A key about another kind of stream, or about a property the
    /// manifest does not declare, does not remove it.
    pub fn passes(&self, filter: &Filter) -> bool {
        filter
            .rules
            .iter()
            .all(|(key, values)| self.passes_rule(*key, values))
    }

    fn passes_rule(&self, key: Key, values: &[Value]) -> bool {
        use StreamKind::{Audio, Subtitle, Trickplay, Video};
        let number = |n: Option<f64>| n.is_none_or(|n| in_any_range(n, values));
        let name = |s: Option<&str>| s.is_none_or(|s| any_name(s, values));
        match (key, self.kind) {
            (Key::VideoBitrate, Some(Video)) => number(self.bitrate),
            (Key::VideoHeight, Some(Video)) => number(self.height),
            (Key::VideoFramerate, Some(Video)) => number(self.frame_rate),
            (Key::VideoDynamicRange, Some(Video)) => name(self.dynamic_range),
            (Key::VideoCodec, Some(Video)) => self
                .codec_names(video_codec_name)
                .all(|c| any_name(c, values)),
            (Key::AudioCodec, Some(Video | Audio)) => self
                .codec_names(audio_codec_name)
                .all(|c| any_name(c, values)),
            (Key::AudioBitrate, Some(Audio)) => number(self.bitrate),
            (Key::AudioChannels, Some(Audio)) => number(self.channels),
            (Key::AudioSampleRate, Some(Audio)) => number(self.sample_rate),
            (Key::AudioLanguage, Some(Audio)) => name(self.language.as_deref()),
            (Key::SubtitleLanguage, Some(Subtitle)) => name(self.language.as_deref()),
            (Key::TrickplayHeight, Some(Trickplay)) => number(self.height),
            (Key::TrickplayType, Some(Trickplay)) => name(self.trickplay_type),
            _ => true,
        }
    }

    /// The known MediaPackage names of this stream's codecs, by `namer`.
    fn codec_names(
        &self,
        namer: fn(&str) -> Option<&'static str>,
    ) -> impl Iterator<Item = &'static str> + '_ {
        self.codecs.iter().filter_map(move |c| namer(c))
    }
}

fn in_any_range(n: f64, values: &[Value]) -> bool {
    values
        .iter()
        .any(|v| matches!(v, Value::Range(lo, hi) if (*lo..=*hi).contains(&n)))
}

fn any_name(s: &str, values: &[Value]) -> bool {
    values
        .iter()
        .any(|v| matches!(v, Value::Name(n) if n.eq_ignore_ascii_case(s)))
}

/// A frame rate as HLS (`29.970`) or DASH (`30000/1001`) writes it.
pub fn frame_rate(text: &str) -> Option<f64> {
    match text.split_once('/') {
        Some((n, d)) => {
            let (n, d): (f64, f64) = (n.trim().parse().ok()?, d.trim().parse().ok()?);
            (d != 0.0).then_some(n / d)
        }
        None => text.trim().parse().ok(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn video(bitrate: f64, height: f64, codecs: &[&str]) -> Stream {
        Stream {
            kind: Some(StreamKind::Video),
            bitrate: Some(bitrate),
            height: Some(height),
            codecs: codecs.iter().map(|c| c.to_string()).collect(),
            ..Stream::default()
        }
    }

    #[test]
    fn keys_apply_to_their_kind() {
        let f =
            Filter::parse("video_height:0-720;audio_language:fr;video_codec:h264;audio_codec:aacl")
                .unwrap();
        assert!(video(1e6, 720.0, &["avc1.64001f", "mp4a.40.2"]).passes(&f));
        assert!(!video(1e6, 1080.0, &["avc1.64001f"]).passes(&f));
        assert!(!video(1e6, 720.0, &["hvc1.2.4.L123"]).passes(&f));
        assert!(!video(1e6, 720.0, &["avc1.64001f", "ec-3"]).passes(&f));
        // Undeclared properties do not remove a stream.
        assert!(
            Stream {
                kind: Some(StreamKind::Video),
                ..Stream::default()
            }
            .passes(&f)
        );
        let fr = Stream {
            kind: Some(StreamKind::Audio),
            language: Some("FR".into()),
            ..Stream::default()
        };
        assert!(fr.passes(&f));
        let en = Stream {
            language: Some("en".into()),
            ..fr.clone()
        };
        assert!(!en.passes(&f));
    }

    #[test]
    fn frame_rates() {
        assert_eq!(frame_rate("25"), Some(25.0));
        assert!((frame_rate("30000/1001").unwrap() - 29.97).abs() < 0.01);
        assert_eq!(frame_rate("1/0"), None);
    }
}
