//! What a key's extension says about an object: its Content-Type and its class.

/// The kinds of object whose caching and availability rules differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ObjectClass {
    /// An HLS or DASH manifest: rewritten in place while a stream is live.
    Playlist,
    /// A media segment, init segment, subtitle segment or key: written once, never changed.
    Segment,
    /// Anything else.
    Other,
}

/// One row of the extension table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MediaType {
    /// Lower-case extension without the dot.
    pub extension: &'static str,
    /// Content-Type to record when the uploader gave none.
    pub content_type: &'static str,
    /// How the object is cached and awaited.
    pub class: ObjectClass,
}

/// Content-Type for objects with an unknown extension.
pub const DEFAULT_CONTENT_TYPE: &str = "application/octet-stream";

const fn row(extension: &'static str, content_type: &'static str, class: ObjectClass) -> MediaType {
    MediaType {
        extension,
        content_type,
        class,
    }
}

/// Every extension Strata knows, from PRODUCT.md's data-plane list.
pub const MEDIA_TYPES: &[MediaType] = &[
    row(
        "m3u8",
        "application/vnd.apple.mpegurl",
        ObjectClass::Playlist,
    ),
    row("mpd", "application/dash+xml", ObjectClass::Playlist),
    row("ts", "video/mp2t", ObjectClass::Segment),
    row("m4s", "video/iso.segment", ObjectClass::Segment),
    row("mp4", "video/mp4", ObjectClass::Segment),
    row("m4v", "video/mp4", ObjectClass::Segment),
    row("cmfv", "video/mp4", ObjectClass::Segment),
    row("init", "video/mp4", ObjectClass::Segment),
    row("m4a", "audio/mp4", ObjectClass::Segment),
    row("cmfa", "audio/mp4", ObjectClass::Segment),
    row("aac", "audio/aac", ObjectClass::Segment),
    row("vtt", "text/vtt", ObjectClass::Segment),
    row("key", "application/octet-stream", ObjectClass::Segment),
];

/// The file name of `key`: its last `/`-separated segment.
pub fn file_name(key: &str) -> &str {
    key.rsplit('/').next().unwrap_or(key)
}

/// The extension of `key`'s file name (after its last dot), as written; `None` without a dot.
pub fn extension(key: &str) -> Option<&str> {
    let name = file_name(key);
    name.rsplit_once('.').map(|(_, ext)| ext)
}

/// The table row for `key`'s extension, compared case-insensitively.
pub fn lookup(key: &str) -> Option<&'static MediaType> {
    let ext = extension(key)?;
    MEDIA_TYPES
        .iter()
        .find(|m| m.extension.eq_ignore_ascii_case(ext))
}

/// Content-Type for `key` by its extension, for uploads that did not say.
pub fn content_type_for(key: &str) -> &'static str {
    lookup(key).map_or(DEFAULT_CONTENT_TYPE, |m| m.content_type)
}

/// Content-Types that HTTP clients send when their user named none: `curl --data-binary` sends a form type,
/// and many upload tools `application/octet-stream`. Neither describes a segment or a playlist.
const CLIENT_DEFAULTS: &[&str] = &[
    "application/x-www-form-urlencoded",
    "application/octet-stream",
];

/// The Content-Type to record for an upload of `key` that sent `given`: what the uploader said, unless it is
/// a client's default and the extension names a media type, which is then recorded instead.
pub fn recorded_content_type<'a>(key: &str, given: Option<&'a str>) -> &'a str {
    let essence = |t: &str| t.split(';').next().unwrap_or_default().trim().to_owned();
    match (given, lookup(key)) {
        (Some(given), Some(known))
            if CLIENT_DEFAULTS
                .iter()
                .any(|d| essence(given).eq_ignore_ascii_case(d)) =>
        {
            known.content_type
        }
        (Some(given), _) => given,
        (None, _) => content_type_for(key),
    }
}

/// Types a browser renders as an active document (scripts, forms, links) when it opens the object.
const ACTIVE_DOCUMENTS: &[&str] = &[
    "text/html",
    "application/xhtml+xml",
    "image/svg+xml",
    "text/xml",
    "application/xml",
    "text/xsl",
];

/// Whether a browser opening an object of `content_type` would run it as a page. Such objects are served
/// sandboxed: an encoder that stores an HTML page must not get a page on the origin of the console and the
/// admin API.
pub fn is_active_document(content_type: &str) -> bool {
    let essence = content_type.split(';').next().unwrap_or_default().trim();
    ACTIVE_DOCUMENTS
        .iter()
        .any(|t| essence.eq_ignore_ascii_case(t))
}

/// The class of `key` by its extension.
pub fn class_of(key: &str) -> ObjectClass {
    lookup(key).map_or(ObjectClass::Other, |m| m.class)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_are_told_from_media() {
        for t in [
            "text/html",
            "Text/HTML; charset=utf-8",
            "image/svg+xml",
            "application/xml",
        ] {
            assert!(is_active_document(t), "{t}");
        }
        for t in [
            "video/mp2t",
            "application/vnd.apple.mpegurl",
            "text/plain",
            "application/dash+xml",
        ] {
            assert!(!is_active_document(t), "{t}");
        }
    }

    #[test]
    fn client_default_types_give_way_to_the_extension() {
        assert_eq!(
            recorded_content_type("live/s.ts", Some("application/x-www-form-urlencoded")),
            "video/mp2t"
        );
        assert_eq!(
            recorded_content_type("live/i.m3u8", Some("Application/Octet-Stream; x=1")),
            "application/vnd.apple.mpegurl"
        );
        assert_eq!(
            recorded_content_type("blob.bin", Some("application/octet-stream")),
            "application/octet-stream"
        );
        assert_eq!(
            recorded_content_type("live/s.ts", Some("video/MP2T")),
            "video/MP2T"
        );
        assert_eq!(
            recorded_content_type("live/s.m4s", None),
            "video/iso.segment"
        );
    }

    #[test]
    fn known_extensions() {
        assert_eq!(
            content_type_for("a/b.m3u8"),
            "application/vnd.apple.mpegurl"
        );
        assert_eq!(content_type_for("a.mpd"), "application/dash+xml");
        assert_eq!(content_type_for("x/seg1.ts"), "video/mp2t");
        assert_eq!(content_type_for("x/seg1.m4s"), "video/iso.segment");
        for k in ["a.mp4", "a.m4v", "a.cmfv", "a.init"] {
            assert_eq!(content_type_for(k), "video/mp4", "{k}");
        }
        assert_eq!(content_type_for("a.m4a"), "audio/mp4");
        assert_eq!(content_type_for("a.cmfa"), "audio/mp4");
        assert_eq!(content_type_for("a.aac"), "audio/aac");
        assert_eq!(content_type_for("a.vtt"), "text/vtt");
        assert_eq!(content_type_for("a.key"), "application/octet-stream");
    }

    #[test]
    fn case_insensitive() {
        assert_eq!(
            content_type_for("LIVE/INDEX.M3U8"),
            "application/vnd.apple.mpegurl"
        );
        assert_eq!(class_of("x/SEG.Ts"), ObjectClass::Segment);
    }

    #[test]
    fn unknown_or_missing_extension() {
        assert_eq!(content_type_for("readme"), DEFAULT_CONTENT_TYPE);
        assert_eq!(content_type_for("a.txt"), DEFAULT_CONTENT_TYPE);
        assert_eq!(class_of("a.txt"), ObjectClass::Other);
        // A dot in a folder name is not an extension.
        assert_eq!(extension("a.ts/readme"), None);
        assert_eq!(class_of("a.ts/readme"), ObjectClass::Other);
    }

    #[test]
    fn classes() {
        assert_eq!(class_of("a.m3u8"), ObjectClass::Playlist);
        assert_eq!(class_of("a.mpd"), ObjectClass::Playlist);
        assert_eq!(class_of("a.init"), ObjectClass::Segment);
        assert_eq!(class_of("a.key"), ObjectClass::Segment);
    }

    #[test]
    fn file_names() {
        assert_eq!(file_name("a/b/c.ts"), "c.ts");
        assert_eq!(file_name("c.ts"), "c.ts");
    }
}
