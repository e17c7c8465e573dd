//! Manifest filters in AWS Elemental MediaPackage's `aws.manifestfilter` syntax, so users keep their URLs:
//! `?aws.manifestfilter=video_bitrate:0-3000000;audio_language:fr,en`.
//!
//! `;` separates keys, `,` separates alternatives (OR), `a-b` is an inclusive range; keys and values are
//! case-insensitive; at most [`MAX_LENGTH`] characters. A filter applies to multivariant playlists and MPDs
//! only. The filtered manifest is a response of its own URL: the filter lives in the query, which is part
//! of every CDN's default cache key, so no `Vary` is needed (docs/decisions/0030-manifest-intelligence.md).

pub mod dash;
pub mod hls;
pub mod stream;

use thiserror::Error;

/// The query parameter MediaPackage reads.
pub const PARAM: &str = "aws.manifestfilter";

/// Longest filter accepted, in characters, after percent-decoding (MediaPackage's limit).
pub const MAX_LENGTH: usize = 1024;

/// Why a filter was refused; each is a 400 with this reason.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum FilterError {
    /// Longer than [`MAX_LENGTH`].
    #[error("aws.manifestfilter is {0} characters, the limit is 1024")]
    TooLong(usize),
    /// A key MediaPackage does not define.
    #[error("aws.manifestfilter: unknown key '{0}'")]
    UnknownKey(String),
    /// The same key twice.
    #[error("aws.manifestfilter: duplicate key '{0}'")]
    DuplicateKey(String),
    /// A value that is not valid for its key, e.g. a reversed range.
    #[error("aws.manifestfilter: bad value '{value}' for {key}")]
    BadValue {
        /// The key.
        key: String,
        /// The offending value.
        value: String,
    },
    /// A piece without `key:values`.
    #[error("aws.manifestfilter: '{0}' is not key:value")]
    Malformed(String),
    /// Filtering a media playlist or a segment.
    #[error("aws.manifestfilter applies to multivariant playlists and MPDs only")]
    NotAManifest,
    /// Nothing playable is left.
    #[error("aws.manifestfilter leaves no playable stream")]
    NothingLeft,
}

/// Every key MediaPackage defines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key {
    AudioBitrate,
    AudioChannels,
    AudioCodec,
    AudioLanguage,
    AudioSampleRate,
    SubtitleLanguage,
    TrickplayHeight,
    TrickplayType,
    VideoBitrate,
    VideoCodec,
    VideoDynamicRange,
    VideoFramerate,
    VideoHeight,
}

/// Key names as written in URLs.
const KEYS: &[(&str, Key)] = &[
    ("audio_bitrate", Key::AudioBitrate),
    ("audio_channels", Key::AudioChannels),
    ("audio_codec", Key::AudioCodec),
    ("audio_language", Key::AudioLanguage),
    ("audio_sample_rate", Key::AudioSampleRate),
    ("subtitle_language", Key::SubtitleLanguage),
    ("trickplay_height", Key::TrickplayHeight),
    ("trickplay_type", Key::TrickplayType),
    ("video_bitrate", Key::VideoBitrate),
    ("video_codec", Key::VideoCodec),
    ("video_dynamic_range", Key::VideoDynamicRange),
    ("video_framerate", Key::VideoFramerate),
    ("video_height", Key::VideoHeight),
];

impl Key {
    /// Whether the key takes numbers and ranges (else names).
    fn is_numeric(self) -> bool {
        !matches!(
            self,
            Key::AudioCodec
                | Key::AudioLanguage
                | Key::SubtitleLanguage
                | Key::TrickplayType
                | Key::VideoCodec
                | Key::VideoDynamicRange
        )
    }

    /// Names accepted by the keys with a closed vocabulary (lower-case); `None` for free text.
    fn vocabulary(self) -> Option<&'static [&'static str]> {
        match self {
            Key::AudioCodec => Some(&["aacl", "aach", "ac-3", "ec-3"]),
            Key::VideoCodec => Some(&["h264", "h265"]),
            Key::VideoDynamicRange => Some(&["sdr", "hdr10", "hlg"]),
            Key::TrickplayType => Some(&["iframe", "image"]),
            _ => None,
        }
    }
}

/// One accepted alternative.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// An inclusive numeric range (a single number is `n-n`).
    Range(f64, f64),
    /// A name, lower-case.
    Name(String),
}

/// A parsed filter: each key with its alternatives; a stream passes when it satisfies every key.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Filter {
    /// `(key, alternatives)` in URL order.
    pub rules: Vec<(Key, Vec<Value>)>,
}

impl Filter {
    /// The filter in `query` (`aws.manifestfilter=…`), if there is one.
    ///
    /// # Errors
    /// [`FilterError`] for a malformed, over-long or invalid filter.
    pub fn from_query(query: &str) -> Result<Option<Self>, FilterError> {
        match crate::query::param(query, PARAM) {
            Some(text) => Self::parse(&text).map(Some),
            None => Ok(None),
        }
    }

    /// Parses the decoded value of `aws.manifestfilter`.
    ///
    /// # Errors
    /// [`FilterError`] for a malformed, over-long or invalid filter.
    pub fn parse(text: &str) -> Result<Self, FilterError> {
        let length = text.chars().count();
        if length > MAX_LENGTH {
            return Err(FilterError::TooLong(length));
        }
        let mut rules: Vec<(Key, Vec<Value>)> = Vec::new();
        for piece in text.split(';').map(str::trim).filter(|p| !p.is_empty()) {
            let (name, values) = piece
                .split_once(':')
                .ok_or_else(|| FilterError::Malformed(piece.to_string()))?;
            let name = name.trim().to_ascii_lowercase();
            let key = KEYS
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, k)| *k)
                .ok_or_else(|| FilterError::UnknownKey(name.clone()))?;
            if rules.iter().any(|(k, _)| *k == key) {
                return Err(FilterError::DuplicateKey(name));
            }
            let values = values
                .split(',')
                .map(str::trim)
                .map(|v| parse_value(key, v).ok_or_else(|| bad(&name, v)))
                .collect::<Result<Vec<_>, _>>()?;
            rules.push((key, values));
        }
        if rules.is_empty() {
            return Err(FilterError::Malformed(text.to_string()));
        }
        Ok(Self { rules })
    }
}

fn bad(key: &str, value: &str) -> FilterError {
    FilterError::BadValue {
        key: key.to_string(),
        value: value.to_string(),
    }
}

/// One alternative of `key`, or `None` if it is not valid for it.
fn parse_value(key: Key, v: &str) -> Option<Value> {
    if v.is_empty() {
        return None;
    }
    if !key.is_numeric() {
        let name = v.to_ascii_lowercase();
        return match key.vocabulary() {
            Some(words) if !words.contains(&name.as_str()) => None,
            _ => Some(Value::Name(name)),
        };
    }
    let number = |s: &str| {
        s.trim()
            .parse::<f64>()
            .ok()
            .filter(|n| n.is_finite() && *n >= 0.0 && *n <= 2_147_483_647.0)
    };
    let (lo, hi) = match v.split_once('-') {
        Some((a, b)) => (number(a)?, number(b)?),
        None => (number(v)?, number(v)?),
    };
    (lo <= hi).then_some(Value::Range(lo, hi))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_mediapackage_examples() {
        let f = Filter::parse("audio_sample_rate:0-44100;video_bitrate:0-2147483647;video_codec:h265;audio_language:fr,en-US,de").unwrap();
        assert_eq!(f.rules.len(), 4);
        assert_eq!(
            f.rules[0],
            (Key::AudioSampleRate, vec![Value::Range(0.0, 44100.0)])
        );
        assert_eq!(
            f.rules[2],
            (Key::VideoCodec, vec![Value::Name("h265".into())])
        );
        assert_eq!(f.rules[3].1.len(), 3);
        let f = Filter::parse(
            "VIDEO_HEIGHT:240-360,1080;audio_codec:AACL,AC-3;video_framerate:23.976-30",
        )
        .unwrap();
        assert_eq!(
            f.rules[0].1,
            vec![Value::Range(240.0, 360.0), Value::Range(1080.0, 1080.0)]
        );
        assert_eq!(f.rules[2].1, vec![Value::Range(23.976, 30.0)]);
    }

    #[test]
    fn refusals() {
        let cases = [
            (
                "video_height:720;video_height:1080",
                "duplicate key 'video_height'",
            ),
            (
                "video_height:1080-720",
                "bad value '1080-720' for video_height",
            ),
            ("video_height:abc", "bad value 'abc'"),
            ("video_height:", "bad value ''"),
            ("video_codec:vp9", "bad value 'vp9'"),
            ("colour:red", "unknown key 'colour'"),
            ("video_height", "'video_height' is not key:value"),
            ("", "is not key:value"),
            ("audio_bitrate:0-2147483648", "bad value"),
        ];
        for (text, reason) in cases {
            let e = Filter::parse(text).unwrap_err().to_string();
            assert!(e.contains(reason), "{text}: {e}");
        }
        let long = format!("audio_language:{}", "a,".repeat(510));
        assert_eq!(Filter::parse(&long), Err(FilterError::TooLong(1035)));
        let at_limit = format!("audio_language:{}", "a".repeat(1024 - 15));
        assert!(Filter::parse(&at_limit).is_ok());
    }

    #[test]
    fn from_query_decodes() {
        let f = Filter::from_query(
            "x=1&aws.manifestfilter=video_height%3A720%3Baudio_language%3Afr%2Cen",
        )
        .unwrap()
        .unwrap();
        assert_eq!(f.rules.len(), 2);
        assert_eq!(Filter::from_query("x=1").unwrap(), None);
    }
}
