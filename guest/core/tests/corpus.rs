//! Every playlist and MPD in `tests/corpus/` (ffmpeg output, and playlists shaped like Apple's, MediaPackage's,
//! Shaka Packager's, Bento4's, Unified Origin's and Wowza's) survives a parse and write unchanged.

use std::fs;
use std::path::{Path, PathBuf};

use strata_guest_core::dash::Mpd;
use strata_guest_core::hls::{Kind, Playlist, media};

fn corpus(dir: &str) -> Vec<(PathBuf, String)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/corpus")
        .join(dir);
    let mut files: Vec<_> = fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .map(|p| {
            let text = fs::read_to_string(&p).unwrap();
            (p, text)
        })
        .collect();
    files.sort();
    files
}

#[test]
fn corpus_is_large_enough() {
    assert!(corpus("hls").len() + corpus("dash").len() >= 30);
}

#[test]
fn hls_round_trips_exactly() {
    for (path, text) in corpus("hls") {
        let p = Playlist::parse(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let normalised = text.replace("\r\n", "\n");
        assert_eq!(p.write(), normalised, "{}", path.display());
        let tags_in = text.lines().filter(|l| l.starts_with("#EXT")).count();
        assert_eq!(p.tags().count() + 1, tags_in, "{}", path.display());
    }
}

#[test]
fn hls_media_views_count_every_segment() {
    for (path, text) in corpus("hls") {
        let p = Playlist::parse(&text).unwrap();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if name.contains("multivariant") {
            assert_eq!(p.kind(), Kind::Multivariant, "{name}");
            continue;
        }
        assert_eq!(p.kind(), Kind::Media, "{name}");
        let extinf = text.lines().filter(|l| l.starts_with("#EXTINF")).count();
        let view = media::view(&p);
        assert_eq!(view.segments.len(), extinf, "{name}");
        assert!(view.segments.iter().all(|s| s.duration > 0.0), "{name}");
    }
}

#[test]
fn hls_program_date_times_carry_forward() {
    let (_, text) = corpus("hls")
        .into_iter()
        .find(|(p, _)| p.ends_with("discontinuity-ad-insertion.m3u8"))
        .unwrap();
    let view = media::view(&Playlist::parse(&text).unwrap());
    let starts: Vec<_> = view.segments.iter().map(|s| s.start_ms.unwrap()).collect();
    let first = starts[0];
    let offsets: Vec<_> = starts.iter().map(|s| (s - first) / 1000).collect();
    assert_eq!(offsets, [0, 10, 20, 30, 35, 45, 55]);
    assert_eq!(view.discontinuity_sequence, 7);
    assert_eq!(view.segments.iter().filter(|s| s.discontinuity).count(), 2);
}

#[test]
fn dash_round_trips_without_loss() {
    for (path, text) in corpus("dash") {
        let m = Mpd::parse(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let written = m.write();
        let again = Mpd::parse(&written).unwrap();
        assert_eq!(again, m, "{}", path.display());
        assert_eq!(again.write(), written, "{}", path.display());
        // Nothing dropped: every element and attribute of the source is in the output.
        let count = |s: &str, pat: &str| s.matches(pat).count();
        let opening_tags = |s: &str| count(s, "<") - count(s, "</");
        assert_eq!(
            opening_tags(&written),
            opening_tags(&text),
            "{}",
            path.display()
        );
        assert_eq!(
            count(&written, "=\""),
            count(&text, "=\""),
            "{}",
            path.display()
        );
    }
}

#[test]
fn dash_vendor_extensions_survive() {
    let all: String = corpus("dash")
        .into_iter()
        .map(|(_, t)| Mpd::parse(&t).unwrap().write())
        .collect();
    for needle in [
        "<cenc:pssh>",
        "cenc:default_KID=",
        "<scte35:Binary>",
        "<!--Generated with https://github.com/shaka-project/shaka-packager",
        "value=\"https://time.akamai.com/?iso&amp;ms\"",
        "<Resync type=\"0\"",
        "<ProducerReferenceTime",
        "tag:dolby.com,2018:dash:EC3_ExtensionType:2018",
    ] {
        assert!(all.contains(needle), "{needle}");
    }
}
