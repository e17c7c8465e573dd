//! HLS: parsing never panics, writing is stable (parse ∘ write is the identity on parsed playlists), and the
//! views, filters, time shift and token rewriting never panic on what parses.
#![no_main]

use libfuzzer_sys::fuzz_target;
use strata_guest_core::filter::{self, Filter};
use strata_guest_core::hls::{Playlist, media};
use strata_guest_core::signing::{Token, rewrite};
use strata_guest_core::time_shift::TimeShift;

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
    if let Ok(Some(t)) = TimeShift::from_query("time_delay=4&manifest_window_seconds=20") {
        let _ = t.apply(&p);
    }
    let token = Token { expires: 1, signature: "00".into() };
    let _ = rewrite::hls(&p, "a/b/index.m3u8", "a/", &token).write();
});
