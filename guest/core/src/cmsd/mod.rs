//! CMSD (CTA-5006): the `CMSD-Static` header the origin sets on playlists and segments, so players and CDNs
//! learn what an object is without parsing it. Players such as Shaka read it; no open-source origin set it.
//! Segment responses also carry `d` and `br` when a playlist in their folder gives them ([`object_facts`]),
//! and `CMSD-Dynamic` `mb` when the host reports load ([`load`]).

pub mod load;
pub mod object_facts;

use crate::media_type::{ObjectClass, class_of, extension, file_name};
use crate::types::{Headers, Request};
use object_facts::ObjectFacts;

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

/// The CMSD fields of a response serving object `key` of `size` bytes (not a playlist): `CMSD-Static`, with
/// `d` and `br` when `naming`, the playlist naming a segment ([`crate::naming_playlist::find`]), gives them, and `CMSD-Dynamic` `mb` when `req` reports
/// load at or above the threshold and `br` is known.
pub fn for_object_response(req: &Request, key: &str, size: u64, naming: Option<&str>) -> Headers {
    let facts = match naming {
        Some(text) if class_of(key) == ObjectClass::Segment => {
            object_facts::of(text, file_name(key), size)
        }
        _ => ObjectFacts::default(),
    };
    let mut headers = vec![(STATIC_HEADER.to_string(), for_segment(key, facts))];
    if let Some(mb) = facts
        .bitrate_kbps
        .and_then(|br| load::max_bitrate_kbps(req, br))
    {
        headers.push((DYNAMIC_HEADER.to_string(), dynamic(mb)));
    }
    headers
}

/// `CMSD-Static` of a segment, init segment, key or subtitle: `ot` by its name and extension, `sf` from
/// `facts` or for MPEG-TS (always HLS), `d` and `br` from `facts`, `n`.
pub fn for_segment(key: &str, facts: ObjectFacts) -> String {
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
    let mut value = format!("ot={ot}");
    if let Some(sf) = facts
        .streaming_format
        .or_else(|| (ext == "ts").then_some('h'))
    {
        value.push_str(&format!(",sf={sf}"));
    }
    if let Some(d) = facts.duration_ms {
        value.push_str(&format!(",d={d}"));
    }
    if let Some(br) = facts.bitrate_kbps {
        value.push_str(&format!(",br={br}"));
    }
    value.push_str(&format!(",n=\"{ORIGIN_ID}\""));
    value
}

/// `CMSD-Dynamic` with `mb`: the highest bitrate (kbps) the origin suggests under its current load.
pub fn dynamic(max_bitrate_kbps: u64) -> String {
    format!("\"{ORIGIN_ID}\";mb={max_bitrate_kbps}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::naming_playlist;
    use crate::objects::Objects;
    use crate::test_support::{MemStore, header, request};

    fn naming(key: &str, store: &impl Objects) -> Option<String> {
        naming_playlist::find(key, store)
    }

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
            assert_eq!(
                for_segment(key, ObjectFacts::default()),
                format!("{ot},n=\"strata\""),
                "{key}"
            );
        }
        assert_eq!(dynamic(3000), "\"strata\";mb=3000");
    }

    fn loaded(load_permille: u16) -> Request {
        let mut req = request("GET", "/v/seg1.ts", &[]);
        req.load_permille = load_permille;
        req
    }

    #[test]
    fn segment_responses_carry_d_and_br_from_their_playlist() {
        let store = MemStore::default()
            .with("v/index.m3u8", b"#EXTM3U\n#EXTINF:4,\nseg1.ts\n")
            .with("v/seg1.ts", &[0; 500_000]);
        let h = for_object_response(
            &loaded(0),
            "v/seg1.ts",
            500_000,
            naming("v/seg1.ts", &store).as_deref(),
        );
        assert_eq!(
            h,
            vec![(
                STATIC_HEADER.to_string(),
                "ot=av,sf=h,d=4000,br=1000,n=\"strata\"".to_string()
            )]
        );
        // fMP4 says nothing of its format; the naming playlist does.
        let mpd = r#"<MPD><Period><AdaptationSet><SegmentTemplate timescale="90000" duration="180000"
            media="v-$Number$.m4s"/><Representation id="1" bandwidth="2000000"/></AdaptationSet></Period></MPD>"#;
        let store = store.with("d/manifest.mpd", mpd.as_bytes());
        let h = for_object_response(
            &loaded(0),
            "d/v-3.m4s",
            1,
            naming("d/v-3.m4s", &store).as_deref(),
        );
        assert_eq!(
            header(&h, STATIC_HEADER),
            Some("ot=av,sf=d,d=2000,br=2000,n=\"strata\"")
        );
    }

    #[test]
    fn without_a_naming_playlist_d_br_and_mb_are_left_out() {
        let store = MemStore::default().with("v/seg1.ts", b"x");
        let h = for_object_response(
            &loaded(1000),
            "v/seg1.ts",
            1,
            naming("v/seg1.ts", &store).as_deref(),
        );
        assert_eq!(header(&h, STATIC_HEADER), Some("ot=av,sf=h,n=\"strata\""));
        assert_eq!(header(&h, DYNAMIC_HEADER), None);
        // Not a segment: no lookup, no facts.
        let store = store.with("v/index.m3u8", b"#EXTM3U\n#EXTINF:4,\nnotes.txt\n");
        let h = for_object_response(
            &loaded(1000),
            "v/notes.txt",
            1,
            naming("v/notes.txt", &store).as_deref(),
        );
        assert_eq!(header(&h, STATIC_HEADER), Some("ot=o,n=\"strata\""));
    }

    #[test]
    fn mb_only_under_load_and_with_a_known_br() {
        let store = MemStore::default().with(
            "v/index.m3u8",
            b"#EXTM3U\n#EXT-X-BITRATE:3000\n#EXTINF:4,\nseg1.ts\n",
        );
        let mb = |load| {
            header(
                &for_object_response(
                    &loaded(load),
                    "v/seg1.ts",
                    1,
                    naming("v/seg1.ts", &store).as_deref(),
                ),
                DYNAMIC_HEADER,
            )
            .map(str::to_string)
        };
        assert_eq!(mb(0), None);
        assert_eq!(mb(799), None);
        assert_eq!(mb(800).as_deref(), Some("\"strata\";mb=3000"));
        assert_eq!(mb(1200).as_deref(), Some("\"strata\";mb=2000"));
    }
}
