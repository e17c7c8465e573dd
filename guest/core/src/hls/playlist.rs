//! A playlist as its lines: tags, URIs, comments and blanks, written back exactly as read.

use thiserror::Error;

/// Why bytes are not an HLS playlist.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ParseError {
    /// The bytes are not UTF-8 (RFC 8216bis §4.1 requires it).
    #[error("playlist is not UTF-8")]
    NotUtf8,
    /// The first line is not `#EXTM3U`.
    #[error("playlist does not start with #EXTM3U")]
    MissingHeader,
}

/// One tag line, `#NAME` or `#NAME:VALUE`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tag {
    /// The name without `#`, e.g. `EXT-X-STREAM-INF`.
    pub name: String,
    /// Everything after the first `:`, if there is one.
    pub value: Option<String>,
}

impl Tag {
    /// A tag with a value.
    pub fn new(name: &str, value: impl Into<String>) -> Self {
        Self {
            name: name.to_string(),
            value: Some(value.into()),
        }
    }

    /// The tag's text, `#` included.
    pub fn to_line(&self) -> String {
        match &self.value {
            Some(v) => format!("#{}:{v}", self.name),
            None => format!("#{}", self.name),
        }
    }
}

/// One line of a playlist.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Line {
    /// A line starting with `#EXT`.
    Tag(Tag),
    /// A URI line: a segment or a variant playlist.
    Uri(String),
    /// A line starting with `#` that is not a tag.
    Comment(String),
    /// An empty (or all-whitespace) line, kept as it was.
    Blank(String),
}

impl Line {
    /// The tag on this line, if it is one named `name`.
    pub fn tag(&self, name: &str) -> Option<&Tag> {
        match self {
            Line::Tag(t) if t.name == name => Some(t),
            _ => None,
        }
    }
}

/// Whether a playlist lists variants or media segments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A multivariant (master) playlist: `EXT-X-STREAM-INF` and renditions.
    Multivariant,
    /// A media playlist: segments.
    Media,
}

/// A parsed playlist: every line in order. [`Playlist::write`] gives back the text it was parsed from,
/// with line endings normalised to `\n` and a final newline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Playlist {
    /// The lines after `#EXTM3U`.
    pub lines: Vec<Line>,
}

/// The header line every playlist starts with.
pub const HEADER: &str = "#EXTM3U";

impl Playlist {
    /// Parses playlist bytes.
    ///
    /// # Errors
    /// [`ParseError`] when the bytes are not UTF-8 or do not start with `#EXTM3U` (a byte-order mark is
    /// allowed before it).
    pub fn parse_bytes(bytes: &[u8]) -> Result<Self, ParseError> {
        std::str::from_utf8(bytes)
            .map_err(|_| ParseError::NotUtf8)
            .and_then(Self::parse)
    }

    /// Parses playlist text.
    ///
    /// # Errors
    /// [`ParseError::MissingHeader`] when the first line is not `#EXTM3U`.
    pub fn parse(text: &str) -> Result<Self, ParseError> {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let mut raw = text.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l));
        if raw.next().map(str::trim_end) != Some(HEADER) {
            return Err(ParseError::MissingHeader);
        }
        let mut lines: Vec<Line> = raw.map(parse_line).collect();
        // The final newline is not an extra blank line.
        if matches!(lines.last(), Some(Line::Blank(b)) if b.is_empty()) {
            lines.pop();
        }
        Ok(Self { lines })
    }

    /// The playlist's text.
    pub fn write(&self) -> String {
        let mut out = String::with_capacity(64 * (self.lines.len() + 1));
        out.push_str(HEADER);
        out.push('\n');
        for line in &self.lines {
            match line {
                Line::Tag(t) => {
                    out.push('#');
                    out.push_str(&t.name);
                    if let Some(v) = &t.value {
                        out.push(':');
                        out.push_str(v);
                    }
                }
                Line::Uri(s) | Line::Comment(s) | Line::Blank(s) => out.push_str(s),
            }
            out.push('\n');
        }
        out
    }

    /// Multivariant when it has a variant or rendition tag, else media.
    pub fn kind(&self) -> Kind {
        let multivariant = self.tags().any(|t| {
            matches!(
                t.name.as_str(),
                "EXT-X-STREAM-INF" | "EXT-X-MEDIA" | "EXT-X-I-FRAME-STREAM-INF"
            )
        });
        if multivariant {
            Kind::Multivariant
        } else {
            Kind::Media
        }
    }

    /// Every tag, in order.
    pub fn tags(&self) -> impl Iterator<Item = &Tag> {
        self.lines.iter().filter_map(|l| match l {
            Line::Tag(t) => Some(t),
            _ => None,
        })
    }

    /// The first tag named `name`.
    pub fn tag(&self, name: &str) -> Option<&Tag> {
        self.tags().find(|t| t.name == name)
    }

    /// Whether a tag named `name` is present.
    pub fn has_tag(&self, name: &str) -> bool {
        self.tag(name).is_some()
    }

    /// `EXT-X-TARGETDURATION`, in seconds.
    pub fn target_duration(&self) -> Option<u64> {
        self.tag("EXT-X-TARGETDURATION")?
            .value
            .as_deref()?
            .trim()
            .parse()
            .ok()
    }

    /// Whether the playlist will not change again: `EXT-X-ENDLIST` or `EXT-X-PLAYLIST-TYPE:VOD`.
    pub fn is_final(&self) -> bool {
        self.has_tag("EXT-X-ENDLIST")
            || self
                .tag("EXT-X-PLAYLIST-TYPE")
                .and_then(|t| t.value.as_deref())
                .is_some_and(|v| v.trim() == "VOD")
    }

    /// Whether it is a Low-Latency HLS playlist (it advertises parts).
    pub fn is_low_latency(&self) -> bool {
        self.has_tag("EXT-X-PART-INF")
    }
}

/// Classifies one line (without its line ending).
fn parse_line(line: &str) -> Line {
    if line.trim().is_empty() {
        Line::Blank(line.to_string())
    } else if let Some(tag) = line.strip_prefix("#EXT") {
        let (name, value) = match tag.split_once(':') {
            Some((n, v)) => (n, Some(v.to_string())),
            None => (tag, None),
        };
        Line::Tag(Tag {
            name: format!("EXT{name}"),
            value,
        })
    } else if line.starts_with('#') {
        Line::Comment(line.to_string())
    } else {
        Line::Uri(line.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MEDIA: &str = "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:6\n# a comment\n\n#EXT-X-CUE-OUT:30\n#EXTINF:6.000,\nseg0.ts\n#EXT-X-ENDLIST\n";

    #[test]
    fn round_trip_keeps_every_line() {
        let p = Playlist::parse(MEDIA).unwrap();
        assert_eq!(p.write(), MEDIA);
        assert_eq!(p.lines.len(), 8);
        assert_eq!(p.tag("EXT-X-CUE-OUT").unwrap().value.as_deref(), Some("30"));
        assert_eq!(p.lines[2], Line::Comment("# a comment".into()));
        assert_eq!(p.lines[6], Line::Uri("seg0.ts".into()));
    }

    #[test]
    fn crlf_bom_and_missing_final_newline() {
        let p = Playlist::parse("\u{feff}#EXTM3U\r\n#EXT-X-ENDLIST").unwrap();
        assert_eq!(p.write(), "#EXTM3U\n#EXT-X-ENDLIST\n");
    }

    #[test]
    fn header_required() {
        assert_eq!(
            Playlist::parse("#EXT-X-VERSION:3\n"),
            Err(ParseError::MissingHeader)
        );
        assert_eq!(Playlist::parse(""), Err(ParseError::MissingHeader));
        assert_eq!(
            Playlist::parse_bytes(b"#EXTM3U\n\xff"),
            Err(ParseError::NotUtf8)
        );
    }

    #[test]
    fn kind_and_properties() {
        let p = Playlist::parse(MEDIA).unwrap();
        assert_eq!(p.kind(), Kind::Media);
        assert_eq!(p.target_duration(), Some(6));
        assert!(p.is_final());
        assert!(!p.is_low_latency());
        let m = Playlist::parse("#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\nv.m3u8\n").unwrap();
        assert_eq!(m.kind(), Kind::Multivariant);
        assert!(!m.is_final());
    }
}
