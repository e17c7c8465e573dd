//! CMSD (CTA-5006): the `CMSD-Static` header the origin sets on playlists and segments, so players and CDNs
//! learn what an object is without parsing it. Players such as Shaka read it; no open-source origin set it.

use crate::media_type::{extension, file_name};

/// The response header.
pub const STATIC_HEADER: &str = "cmsd-static";

/// The response header for per-request values (`mb`), set when the host reports load.
pub const DYNAMIC_HEADER: &str = "cmsd-dynamic";

/// This origin's identifier (`n`).
pub const ORIGIN_ID: &str = "strata";

/// What a playlist response says of its stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlaylistFacts {
    /// HLS (`h`) or DASH (`d`).
    pub dash: bool,
    /// Live (`st=l`) or VOD (`st=v`).
    pub live: bool,
}

/// `CMSD-Static` of a playlist: `ot=m`, `sf`, `st` and `n`.
pub fn for_playlist(facts: PlaylistFacts) -> String {
    format!(
        "ot=m,sf={},st={},n=\"{ORIGIN_ID}\"",
        if facts.dash { 'd' } else { 'h' },
        if facts.live { 'l' } else { 'v' }
    )
}

/// `CMSD-Static` of a segment, init segment, key or subtitle: `ot` by its name and extension, `sf` for
/// MPEG-TS (always HLS), `n`.
pub fn for_segment(key: &str) -> String {
    let ext = extension(key)
        .map(str::to_ascii_lowercase)
        .unwrap_or_default();
    let name = file_name(key).to_ascii_lowercase();
    let ot = match ext.as_str() {
        "init" => "i",
        "mp4" | "m4s" | "cmfv" | "m4v" if name.contains("init") => "i",
        "vtt" | "webvtt" => "c",
        "key" => "k",
        "m4a" | "aac" | "cmfa" => "a",
        "cmfv" | "m4v" => "v",
        "ts" | "mp4" | "m4s" => "av",
        _ => "o",
    };
    let sf = if ext == "ts" { ",sf=h" } else { "" };
    format!("ot={ot}{sf},n=\"{ORIGIN_ID}\"")
}

/// `CMSD-Dynamic` with `mb`: the highest bitrate (kbps) the origin suggests under its current load.
pub fn dynamic(max_bitrate_kbps: u64) -> String {
    format!("\"{ORIGIN_ID}\";mb={max_bitrate_kbps}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn playlists() {
        assert_eq!(
            for_playlist(PlaylistFacts {
                dash: false,
                live: true
            }),
            "ot=m,sf=h,st=l,n=\"strata\""
        );
        assert_eq!(
            for_playlist(PlaylistFacts {
                dash: true,
                live: false
            }),
            "ot=m,sf=d,st=v,n=\"strata\""
        );
    }

    #[test]
    fn segments() {
        for (key, ot) in [
            ("v/seg1.ts", "ot=av,sf=h"),
            ("v/init.mp4", "ot=i"),
            ("v/init-stream0.m4s", "ot=i"),
            ("v/a.init", "ot=i"),
            ("v/chunk-1.m4s", "ot=av"),
            ("v/x.cmfv", "ot=v"),
            ("a/x.m4a", "ot=a"),
            ("s/en.vtt", "ot=c"),
            ("k/1.key", "ot=k"),
            ("x.bin", "ot=o"),
        ] {
            assert_eq!(for_segment(key), format!("{ot},n=\"strata\""), "{key}");
        }
        assert_eq!(dynamic(3000), "\"strata\";mb=3000");
    }
}
