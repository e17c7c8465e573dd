//! The clock source live MPDs point players to. dash.js (and other DASH players) must agree with the
//! packager's clock to find the live edge; ffmpeg writes no `UTCTiming`, and without one dash.js falls back
//! to the MPD response's `Date` header, which loses precision to the second. So, as MediaPackage does, a
//! live (`type="dynamic"`) MPD without `UTCTiming` gets one naming the origin's clock, `/_strata/time`.
//!
//! The setting `utc_timing` chooses: `auto` (the default: `/_strata/time`, a path players resolve against
//! the MPD's URL, so through a CDN they ask the CDN, which forwards the uncacheable answer), `off`, or an
//! absolute `http(s)://` URL of another ISO 8601 time source.

use crate::types::Request;

/// The `UTCTiming@schemeIdUri` of an HTTP GET answering ISO 8601 text.
pub const HTTP_ISO_SCHEME: &str = "urn:mpeg:dash:utc:http-iso:2014";

/// The path of the origin's clock.
pub const CLOCK_PATH: &str = "/_strata/time";

/// The setting that chooses the clock source.
pub const SETTING: &str = "utc_timing";

/// The clock URL to write into a live MPD answered to `req`, or `None` when the operator turned it off.
pub fn source_for(req: &Request) -> Option<String> {
    let setting = req
        .settings
        .iter()
        .find(|(name, _)| name == SETTING)
        .map(|(_, value)| value.trim());
    match setting {
        Some(off) if off.eq_ignore_ascii_case("off") => None,
        Some(url) if url.starts_with("http://") || url.starts_with("https://") => {
            Some(url.to_owned())
        }
        _ => Some(CLOCK_PATH.to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::request;

    fn with_setting(value: &str) -> Request {
        Request {
            settings: vec![(SETTING.into(), value.into())],
            ..request("GET", "/live/manifest.mpd", &[])
        }
    }

    #[test]
    fn auto_names_the_origins_clock_relative_to_the_mpd() {
        let req = request("GET", "/live/manifest.mpd", &[]);
        assert_eq!(source_for(&req).as_deref(), Some("/_strata/time"));
    }

    #[test]
    fn the_setting_turns_it_off_or_names_another_source() {
        assert_eq!(source_for(&with_setting("off")), None);
        assert_eq!(
            source_for(&with_setting("https://time.akamai.com/?iso&ms")).as_deref(),
            Some("https://time.akamai.com/?iso&ms")
        );
        assert_eq!(
            source_for(&with_setting("auto")).as_deref(),
            Some("/_strata/time")
        );
    }
}
