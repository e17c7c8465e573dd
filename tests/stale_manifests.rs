//! End-to-end: a live playlist (HLS media without `EXT-X-ENDLIST`, or a dynamic MPD) that its encoder stopped
//! updating answers 404 (or the route's 5xx) with `no-store` and a reason once it is stale, so a CDN with
//! origin failover moves on; the refusals are counted in the metrics; a new write makes it fresh again; a
//! remembered decision is never replayed past the moment the playlist went stale.

mod common;

use common::{Strata, sleep_until_second, unix_now};

/// A live media playlist of one-second segments.
const LIVE: &str = "#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXT-X-MEDIA-SEQUENCE:1\n#EXTINF:1,\na.ts\n";

fn put(s: &Strata, path: &str, body: &str) -> u64 {
    let status = s
        .http()
        .put(s.url(path))
        .body(body.to_owned())
        .send()
        .expect("PUT")
        .status();
    assert!(status.is_success(), "PUT {path}: {status}");
    unix_now()
}

fn get(s: &Strata, path: &str) -> (u16, Option<String>, String) {
    let response = s.http().get(s.url(path)).send().expect("GET");
    let status = response.status().as_u16();
    let cache = response
        .headers()
        .get("cache-control")
        .map(|v| v.to_str().expect("ASCII").to_owned());
    (status, cache, response.text().expect("body"))
}

#[test]
fn a_live_playlist_nobody_updates_goes_stale_and_comes_back_with_a_write() {
    let s = Strata::with_config(
        "[[guest.stale]]\nprefix = \"ch2/\"\nafter_target_durations = 2\nstatus = 503\n\n\
         [[guest.stale]]\nprefix = \"archive/\"\nafter_target_durations = 0\n",
        &[],
    );
    let written = put(&s, "/ch1/index.m3u8", LIVE);
    put(&s, "/ch2/index.m3u8", LIVE);
    put(&s, "/archive/index.m3u8", LIVE);
    put(&s, "/vod/index.m3u8", &format!("{LIVE}#EXT-X-ENDLIST\n"));
    // Fresh, and remembered by the decision cache.
    assert_eq!(get(&s, "/ch1/index.m3u8").0, 200);
    assert_eq!(get(&s, "/ch1/index.m3u8").0, 200);

    // ch2: 2 target durations (2 s) and 1 s of slack for the write time's whole seconds.
    sleep_until_second(written + 4);
    let (status, cache, body) = get(&s, "/ch2/index.m3u8");
    assert_eq!(
        (status, cache.as_deref()),
        (503, Some("no-store")),
        "{body}"
    );
    assert!(body.contains("stale after 2 target durations"), "{body}");
    // ch1: the default 3 target durations.
    sleep_until_second(written + 5);
    let (status, cache, body) = get(&s, "/ch1/index.m3u8");
    assert_eq!(
        (status, cache.as_deref()),
        (404, Some("no-store")),
        "{body}"
    );
    assert!(
        body.starts_with("live playlist ch1/index.m3u8 was last updated"),
        "{body}"
    );
    let blocking = get(&s, "/ch1/index.m3u8?_HLS_msn=1");
    assert_eq!(
        blocking.0, 404,
        "a blocking reload of a stale playlist: {}",
        blocking.2
    );
    assert_eq!(
        get(&s, "/archive/index.m3u8").0,
        200,
        "a route may turn it off"
    );
    assert_eq!(
        get(&s, "/vod/index.m3u8").0,
        200,
        "an ended playlist is never stale"
    );
    assert!(s.metric("strata_stale_manifests_total") >= 3.0);

    put(&s, "/ch1/index.m3u8", LIVE);
    assert_eq!(
        get(&s, "/ch1/index.m3u8").0,
        200,
        "a write makes it fresh again"
    );
}

#[test]
fn a_dynamic_mpd_goes_stale_by_its_update_period() {
    let s = Strata::start(&[]);
    let mpd = r#"<?xml version="1.0"?>
<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" type="dynamic" minimumUpdatePeriod="PT1S" availabilityStartTime="2024-05-01T12:00:00Z" profiles="urn:mpeg:dash:profile:isoff-live:2011"><Period id="1" start="PT0S"/></MPD>
"#;
    let written = put(&s, "/live/manifest.mpd", mpd);
    put(&s, "/vod/manifest.mpd", &mpd.replace("dynamic", "static"));
    assert_eq!(get(&s, "/live/manifest.mpd").0, 200);
    // 3 x 1 s and 1 s of slack.
    sleep_until_second(written + 5);
    let (status, _, body) = get(&s, "/live/manifest.mpd");
    assert_eq!(status, 404, "{body}");
    assert_eq!(
        get(&s, "/vod/manifest.mpd").0,
        200,
        "a static MPD is never stale"
    );
}
