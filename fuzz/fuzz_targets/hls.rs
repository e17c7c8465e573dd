//! HLS: parsing never panics, writing is stable (parse ∘ write is the identity on parsed playlists), and the
//! views, filters, time shift, ad-marker modes and token rewriting never panic on what parses. Converting
//! ad breaks to date ranges, or removing markers, a second time changes nothing.
#![no_main]

use libfuzzer_sys::fuzz_target;
use strata_guest_core::ad_markers;
use strata_guest_core::filter::{self, Filter};
use strata_guest_core::hls::{Playlist, media};
use strata_guest_core::signing::{Token, rewrite};
use strata_guest_core::time_shift::TimeShift;
use strata_guest_core::types::AdMarkersMode;

fuzz_target!(|data: &[u8]| {
    let Ok(p) = Playlist::parse_bytes(data) else { return };
    let text = p.write();
    let again = Playlist::parse(&text).expect("written playlists parse");
    assert_eq!(again.write(), text);
    let _ = media::view(&p);
    let _ = strata_guest_core::cache_control::for_playlist(&text);
    if let Ok(f) = Filter::parse("video_height:0-720;audio_language:en,fr") {
        let _ = filter::hls::apply(&f, &p);
    }
    let shift = TimeShift::from_query("time_delay=4&manifest_window_seconds=20");
    if let Ok(Some(t)) = &shift {
        let _ = t.apply(&p);
    }
    for mode in [AdMarkersMode::Daterange, AdMarkersMode::None] {
        let Some(changed) = ad_markers::apply(mode, &p).playlist else { continue };
        let written = changed.write();
        assert_eq!(Playlist::parse(&written).expect("parses").write(), written);
        assert_eq!(ad_markers::apply(mode, &changed).playlist, None, "{mode:?} twice");
        if let Ok(Some(t)) = &shift {
            let _ = t.apply(&changed);
        }
    }
    let token = Token { expires: 1, signature: "00".into() };
    let _ = rewrite::hls(&p, "a/b/index.m3u8", "a/", &token).write();
});
