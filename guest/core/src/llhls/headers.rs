//! The caching and CMSD headers of LL-HLS playlist responses (rfc8216bis Appendix B, CTA-5006).
//!
//! A blocking response names a future point of the stream in its URL (`_HLS_msn`, `_HLS_part` are in the
//! CDN's cache key) and never changes once given, so CDNs may keep it long; a plain reload of a live
//! LL-HLS playlist changes every part, so it is kept one second. A request that asked for too much is
//! refused the same way for a while (a CDN may keep that 400: four target durations when the request
//! blocked, one otherwise); one that timed out is transient: `no-store`, so a CDN asks again. Segments and
//! parts a request was held for are covered by [`crate::segment_wait`].

use super::progress::Progress;
use crate::types::Headers;

/// How many target durations a CDN may keep a blocking response (Appendix B).
pub const BLOCKING_TARGET_DURATIONS: u64 = 6;

/// How many target durations a CDN may keep a failed blocking request (Appendix B).
pub const BLOCKING_FAILURE_TARGET_DURATIONS: u64 = 4;

/// How many target durations a CDN may keep a failed non-blocking request (Appendix B).
pub const NON_BLOCKING_FAILURE_TARGET_DURATIONS: u64 = 1;

/// Cache-Control of a plain (non-blocking) reload of a live LL-HLS playlist, as MediaPackage sends it.
pub const NON_BLOCKING: &str = "max-age=1";

/// The Cache-Control of a playlist response: `blocking` is whether the request carried `_HLS_msn`.
pub fn cache_control(progress: &Progress, blocking: bool) -> String {
    if blocking {
        max_age(progress, BLOCKING_TARGET_DURATIONS)
    } else {
        NON_BLOCKING.to_string()
    }
}

/// The Cache-Control of a refused playlist request (bad or unreachable directives): `blocking` is whether
/// the request carried `_HLS_msn`.
pub fn failure_cache_control(progress: &Progress, blocking: bool) -> String {
    let target_durations = if blocking {
        BLOCKING_FAILURE_TARGET_DURATIONS
    } else {
        NON_BLOCKING_FAILURE_TARGET_DURATIONS
    };
    max_age(progress, target_durations)
}

/// `max-age` of `target_durations` target durations (whole seconds, at least one).
fn max_age(progress: &Progress, target_durations: u64) -> String {
    let seconds = (progress.target_duration_ms / 1000).max(1) * target_durations;
    format!("max-age={seconds}")
}

/// The headers of a 503 for a blocking request not satisfied in time: `no-store` comes with the error;
/// `Retry-After` is one target duration, when the next segment is due.
pub fn retry_after(progress: &Progress) -> Headers {
    let seconds = (progress.target_duration_ms / 1000).max(1);
    vec![("retry-after".into(), seconds.to_string())]
}

/// `CMSD-Static` of a live playlist response: object type manifest, stream type live, and for a request
/// that was held, `ht`, the milliseconds it was held.
pub fn cmsd_static(held_ms: Option<u32>) -> (String, String) {
    let mut value = String::from("ot=m,st=l");
    if let Some(ms) = held_ms {
        value.push_str(&format!(",ht={ms}"));
    }
    ("cmsd-static".into(), value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hls::Playlist;
    use crate::llhls::fixtures::LIVE;

    #[test]
    fn blocking_responses_are_kept_six_target_durations() {
        let p = Progress::of(&Playlist::parse(LIVE).unwrap());
        assert_eq!(cache_control(&p, true), "max-age=24");
        assert_eq!(cache_control(&p, false), "max-age=1");
        assert_eq!(retry_after(&p), vec![("retry-after".into(), "4".into())]);
    }

    #[test]
    fn refusals_are_kept_four_target_durations_when_blocking_else_one() {
        let p = Progress::of(&Playlist::parse(LIVE).unwrap());
        assert_eq!(failure_cache_control(&p, true), "max-age=16");
        assert_eq!(failure_cache_control(&p, false), "max-age=4");
    }

    #[test]
    fn cmsd_carries_the_time_held() {
        assert_eq!(cmsd_static(None).1, "ot=m,st=l");
        assert_eq!(cmsd_static(Some(480)).1, "ot=m,st=l,ht=480");
    }
}
