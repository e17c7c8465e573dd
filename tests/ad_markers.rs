//! End-to-end: an AWS Elemental-style live playlist with `EXT-X-CUE-OUT` / `EXT-X-CUE-IN` PUT to a real
//! strata is served with its break as `EXT-X-DATERANGE` on a `daterange` route (the same tags after the
//! window slides past the CUE-OUT, and in a time-shifted view), without markers on a `none` route, and as
//! written elsewhere; a playlist no program date time dates says why it kept its CUE tags (and is counted);
//! a bad mode stops `strata check-config` naming the key.

mod common;

use std::process::Command;
use std::time::Duration;

use common::{Strata, run_with_timeout, strata_bin};

const ELEMENTAL: &str =
    include_str!("../guest/core/tests/corpus/hls/elemental-live-cue-oatcls.m3u8");
/// The same stream three segments later: only `EXT-X-CUE-OUT-CONT` shows the break.
const ELEMENTAL_LATER: &str =
    include_str!("../guest/core/tests/corpus/hls/elemental-live-cue-midbreak.m3u8");
const FFMPEG_NO_PDT: &str =
    include_str!("../guest/core/tests/corpus/hls/ffmpeg-live-cue-no-pdt.m3u8");

const OPEN: &str = "#EXT-X-DATERANGE:ID=\"ad-2024-05-01T12:00:12Z\",START-DATE=\"2024-05-01T12:00:12.012Z\",PLANNED-DURATION=30.030,SCTE35-OUT=0xFC302500000000000000FFF01405000003E77FEFFE0011FB9EFE002932E00001010100004D192A59";
const CLOSE: &str = "#EXT-X-DATERANGE:ID=\"ad-2024-05-01T12:00:12Z\",START-DATE=\"2024-05-01T12:00:12.012Z\",DURATION=30.030";

const CONFIG: &str = "[[guest.ad_markers]]\nprefix = \"live/\"\nmode = \"daterange\"\n\n\
                      [[guest.ad_markers]]\nprefix = \"clean/\"\nmode = \"none\"\n";

fn put(s: &Strata, path: &str, body: &str) {
    let status = s
        .http()
        .put(s.url(path))
        .body(body.to_owned())
        .send()
        .expect("PUT")
        .status();
    assert!(status.is_success(), "PUT {path}: {status}");
}

/// Status, the `x-strata-ad-markers` header and the body of a GET.
fn get(s: &Strata, path: &str) -> (u16, Option<String>, String) {
    let response = s.http().get(s.url(path)).send().expect("GET");
    let status = response.status().as_u16();
    let note = response
        .headers()
        .get("x-strata-ad-markers")
        .map(|v| v.to_str().expect("ASCII").to_owned());
    (status, note, response.text().expect("body"))
}

fn date_ranges(body: &str) -> Vec<&str> {
    body.lines()
        .filter(|l| l.starts_with("#EXT-X-DATERANGE"))
        .collect()
}

fn uris(body: &str) -> Vec<&str> {
    body.lines().filter(|l| !l.starts_with('#')).collect()
}

#[test]
fn cue_breaks_are_served_as_date_ranges_on_their_route() {
    let s = Strata::with_config(CONFIG, &[]);
    for prefix in ["live", "clean", "other"] {
        put(&s, &format!("/{prefix}/ch1/720p.m3u8"), ELEMENTAL);
    }

    let (status, note, body) = get(&s, "/live/ch1/720p.m3u8");
    assert_eq!((status, note), (200, None), "{body}");
    assert_eq!(date_ranges(&body), [OPEN, CLOSE], "{body}");
    assert!(
        !body.contains("#EXT-X-CUE") && !body.contains("OATCLS"),
        "{body}"
    );
    assert_eq!(uris(&body), uris(ELEMENTAL));
    // Replayed by the decision cache: the same answer.
    assert_eq!(get(&s, "/live/ch1/720p.m3u8").2, body);

    // The encoder's next playlists: the window slid past the CUE-OUT, the break is the same date range.
    put(&s, "/live/ch1/720p.m3u8", ELEMENTAL_LATER);
    let (status, _, later) = get(&s, "/live/ch1/720p.m3u8");
    assert_eq!(status, 200);
    assert_eq!(date_ranges(&later), [OPEN, CLOSE], "{later}");
    assert_eq!(uris(&later), uris(ELEMENTAL_LATER));

    // A time-shifted view from 12:00:30Z, inside the break: its date range stays.
    put(&s, "/live/ch1/720p.m3u8", ELEMENTAL);
    let (status, _, shifted) = get(&s, "/live/ch1/720p.m3u8?start=2024-05-01T12:00:30Z");
    assert_eq!(status, 200, "{shifted}");
    assert_eq!(uris(&shifted).first(), Some(&"channel1_720p_1005.ts"));
    assert_eq!(date_ranges(&shifted), [OPEN, CLOSE], "{shifted}");

    let (status, _, clean) = get(&s, "/clean/ch1/720p.m3u8");
    assert_eq!(status, 200);
    for marker in ["#EXT-X-CUE", "OATCLS", "DATERANGE"] {
        assert!(!clean.contains(marker), "{marker}: {clean}");
    }
    assert_eq!(uris(&clean), uris(ELEMENTAL));

    let (status, note, other) = get(&s, "/other/ch1/720p.m3u8");
    assert_eq!((status, note), (200, None));
    assert_eq!(other, ELEMENTAL, "passed through byte for byte");
}

#[test]
fn breaks_nothing_dates_keep_their_cue_tags_and_the_answer_says_why() {
    let s = Strata::with_config(CONFIG, &[]);
    put(&s, "/live/ch2/index.m3u8", FFMPEG_NO_PDT);
    let (status, note, body) = get(&s, "/live/ch2/index.m3u8");
    assert_eq!(status, 200);
    assert_eq!(body, FFMPEG_NO_PDT);
    assert_eq!(
        note.as_deref(),
        Some(
            "1 ad break(s) kept as EXT-X-CUE tags: no EXT-X-PROGRAM-DATE-TIME dates the break's start"
        )
    );
    assert!(s.metric("strata_ad_markers_kept_total") >= 1.0);
}

#[test]
fn an_unknown_mode_stops_check_config_naming_the_key() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("strata.toml");
    std::fs::write(
        &path,
        "[[guest.ad_markers]]\nprefix = \"live/\"\nmode = \"scte35\"\n",
    )
    .expect("write config");
    let mut cmd = Command::new(strata_bin());
    cmd.arg("check-config").arg(&path);
    let (status, _, stderr) = run_with_timeout(cmd, Duration::from_secs(30));
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("guest.ad_markers[0].mode") && stderr.contains("scte35"),
        "{stderr}"
    );
}
