//! Every playlist and MPD in `tests/corpus/` (ffmpeg output, and playlists shaped like Apple's, MediaPackage's,
//! Shaka Packager's, Bento4's, Unified Origin's, AWS Elemental's and Wowza's) survives a parse and write
//! unchanged; ad markers survive the rewrites and convert per vendor shape; DASH events survive MPD rewrites.

use std::fs;
use std::path::{Path, PathBuf};

use strata_guest_core::ad_markers;
use strata_guest_core::dash::Mpd;
use strata_guest_core::filter::{self, Filter};
use strata_guest_core::hls::{Kind, Playlist, media};
use strata_guest_core::signing::{Token, rewrite};
use strata_guest_core::time_shift::TimeShift;
use strata_guest_core::types::AdMarkersMode;

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

/// The ad-marker lines of `text`: CUE and SCTE-35 tags, and date ranges carrying SCTE-35.
fn markers(text: &str) -> Vec<&str> {
    text.lines()
        .filter(|l| {
            ad_markers::MARKER_TAGS
                .iter()
                .any(|t| l.strip_prefix('#').is_some_and(|l| l.starts_with(t)))
                || (l.starts_with("#EXT-X-DATERANGE") && l.contains("SCTE35-"))
        })
        .collect()
}

fn date_ranges(text: &str) -> Vec<&str> {
    text.lines()
        .filter(|l| l.starts_with("#EXT-X-DATERANGE"))
        .collect()
}

#[test]
fn ad_markers_pass_through_signing_and_time_shift() {
    let token = Token {
        expires: 1,
        signature: "00".into(),
    };
    let mut checked = 0;
    for (path, text) in corpus("hls") {
        let expected = markers(&text);
        if expected.is_empty() {
            continue;
        }
        checked += 1;
        let p = Playlist::parse(&text).unwrap();
        let name = path.display();
        let signed = rewrite::hls(&p, "live/ch1/index.m3u8", "live/", &token).write();
        assert_eq!(markers(&signed), expected, "{name}");
        let whole = TimeShift::from_query("manifest_window_seconds=86400")
            .unwrap()
            .unwrap();
        if let Ok(shifted) = whole.apply(&p) {
            assert_eq!(markers(&shifted.write()), expected, "{name}");
        }
        assert_eq!(
            ad_markers::apply(AdMarkersMode::Passthrough, &p),
            ad_markers::Applied::default()
        );
    }
    assert!(checked >= 7, "{checked}");
}

/// The corpus playlist named `name`, converted to date ranges: its text (`None`: unchanged) and note.
fn converted(name: &str) -> (Option<String>, Option<String>) {
    let (_, text) = corpus("hls")
        .into_iter()
        .find(|(p, _)| p.ends_with(name))
        .unwrap();
    let applied = ad_markers::apply(AdMarkersMode::Daterange, &Playlist::parse(&text).unwrap());
    (applied.playlist.map(|p| p.write()), applied.note)
}

#[test]
fn daterange_mode_on_each_vendors_breaks() {
    let (elemental, note) = converted("elemental-live-cue-oatcls.m3u8");
    let elemental = elemental.unwrap();
    let open = "#EXT-X-DATERANGE:ID=\"ad-2024-05-01T12:00:12Z\",START-DATE=\"2024-05-01T12:00:12.012Z\",PLANNED-DURATION=30.030,SCTE35-OUT=0xFC302500000000000000FFF01405000003E77FEFFE0011FB9EFE002932E00001010100004D192A59";
    let close = "#EXT-X-DATERANGE:ID=\"ad-2024-05-01T12:00:12Z\",START-DATE=\"2024-05-01T12:00:12.012Z\",DURATION=30.030";
    assert_eq!(date_ranges(&elemental), [open, close], "{elemental}");
    assert!(elemental.contains(&format!("{close}\n#EXTINF:6.006,\nchannel1_720p_1007.ts\n")));
    assert!(
        markers(&elemental)
            .iter()
            .all(|m| m.starts_with("#EXT-X-DATERANGE"))
    );
    assert_eq!(note, None);
    // The same stream two reloads later, the CUE-OUT gone: the same date range.
    let (later, _) = converted("elemental-live-cue-midbreak.m3u8");
    let later = later.unwrap();
    assert_eq!(date_ranges(&later), [open, close], "{later}");

    let (wowza, _) = converted("wowza-chunklist-cue.m3u8");
    assert_eq!(
        date_ranges(&wowza.unwrap()),
        [
            "#EXT-X-DATERANGE:ID=\"ad-2024-05-01T12:00:10Z\",START-DATE=\"2024-05-01T12:00:10.000Z\",PLANNED-DURATION=20.000",
            "#EXT-X-DATERANGE:ID=\"ad-2024-05-01T12:00:10Z\",START-DATE=\"2024-05-01T12:00:10.000Z\",DURATION=20.000",
        ]
    );
    let (ffmpeg, _) = converted("ffmpeg-live-cue-pdt.m3u8");
    assert_eq!(
        date_ranges(&ffmpeg.unwrap()),
        [
            "#EXT-X-DATERANGE:ID=\"ad-2024-05-01T12:00:08Z\",START-DATE=\"2024-05-01T12:00:08.000Z\",PLANNED-DURATION=8.000",
            "#EXT-X-DATERANGE:ID=\"ad-2024-05-01T12:00:08Z\",START-DATE=\"2024-05-01T12:00:08.000Z\",DURATION=8.000",
        ]
    );
    let (unchanged, note) = converted("ffmpeg-live-cue-no-pdt.m3u8");
    assert_eq!(unchanged, None);
    assert!(note.unwrap().contains("no EXT-X-PROGRAM-DATE-TIME"));
    // MediaPackage writes the break as a date range beside its CUE tags: the CUE tags go, nothing is added.
    let (mediapackage, _) = converted("mediapackage-live-media-scte.m3u8");
    let mediapackage = mediapackage.unwrap();
    assert_eq!(date_ranges(&mediapackage).len(), 1, "{mediapackage}");
    assert!(!mediapackage.contains("#EXT-X-CUE"), "{mediapackage}");
    // Native date ranges and splice points are not CUE breaks: as written.
    for name in [
        "elemental-daterange-scte35.m3u8",
        "adobe-splicepoint-scte35.m3u8",
    ] {
        assert_eq!(converted(name), (None, None), "{name}");
    }
}

#[test]
fn none_mode_leaves_no_marker_and_every_segment() {
    for (path, text) in corpus("hls") {
        let p = Playlist::parse(&text).unwrap();
        let out = ad_markers::apply(AdMarkersMode::None, &p)
            .playlist
            .map_or(text.clone(), |p| p.write());
        assert!(markers(&out).is_empty(), "{}: {out}", path.display());
        let uris = |t: &str| t.lines().filter(|l| !l.starts_with('#')).count();
        assert_eq!(uris(&out), uris(&text), "{}", path.display());
    }
}

#[test]
fn dash_events_survive_filters_signing_and_clock_sources() {
    let count = |s: &str| {
        ["<EventStream", "<Event ", "<InbandEventStream", "<scte35:"]
            .map(|needle| s.matches(needle).count())
    };
    let keep_all = Filter::parse("video_height:0-100000").unwrap();
    let token = Token {
        expires: 1,
        signature: "00".into(),
    };
    let mut events = 0;
    for (path, text) in corpus("dash") {
        let mut mpd = Mpd::parse(&text).unwrap();
        let before = count(&mpd.write());
        events += before.iter().sum::<usize>();
        mpd = filter::dash::apply(&keep_all, &mpd).unwrap_or(mpd);
        mpd = rewrite::dash(&mpd, "live/ch1/manifest.mpd", "live/", &token);
        mpd.add_utc_timing("urn:mpeg:dash:utc:http-iso:2014", "/_strata/time");
        assert_eq!(count(&mpd.write()), before, "{}", path.display());
    }
    assert!(events >= 4, "{events}");
}

#[test]
fn every_window_of_every_playlist_converts_once_and_for_all() {
    // Each corpus playlist cut as a live window would be (any first and last line): the modes never
    // panic, write playlists that parse back unchanged, and a second pass changes nothing.
    for (path, text) in corpus("hls") {
        let lines: Vec<&str> = text.lines().skip(1).collect();
        for from in 0..lines.len() {
            for to in (from + 1..=lines.len()).step_by(3) {
                let window = format!("#EXTM3U\n{}\n", lines[from..to].join("\n"));
                let p = Playlist::parse(&window).unwrap();
                for mode in [AdMarkersMode::Daterange, AdMarkersMode::None] {
                    let Some(changed) = ad_markers::apply(mode, &p).playlist else {
                        continue;
                    };
                    let written = changed.write();
                    assert_eq!(Playlist::parse(&written).unwrap().write(), written);
                    assert_eq!(
                        ad_markers::apply(mode, &changed).playlist,
                        None,
                        "{} lines {from}..{to}, {mode:?}:\n{window}",
                        path.display()
                    );
                }
            }
        }
    }
}
