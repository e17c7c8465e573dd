//! DASH: parsing never panics, writing is stable, and filters and token rewriting never panic on what parses.
#![no_main]

use libfuzzer_sys::fuzz_target;
use strata_guest_core::dash::Mpd;
use strata_guest_core::filter::{self, Filter};
use strata_guest_core::signing::{Token, rewrite};

fuzz_target!(|data: &[u8]| {
    let Ok(m) = Mpd::parse_bytes(data) else { return };
    let text = m.write();
    let again = Mpd::parse(&text).expect("written MPDs parse");
    assert_eq!(again.write(), text);
    let _ = strata_guest_core::cache_control::for_playlist(&text);
    if let Ok(f) = Filter::parse("video_height:0-720;audio_language:en") {
        let _ = filter::dash::apply(&f, &m);
    }
    let token = Token { expires: 1, signature: "00".into() };
    let _ = rewrite::dash(&m, "a/manifest.mpd", "a/", &token).write();
});
