//! The clock source live MPDs point players to. dash.js (and other DASH players) must agree with the
//! packager's clock to find the live edge; ffmpeg writes no `UTCTiming`, and without one dash.js falls back
//! to the MPD response's `Date` header, which loses precision to the second. So, as MediaPackage does, a
//! live (`type="dynamic"`) MPD without `UTCTiming` gets one naming the origin's clock, `/_strata/time`.
//!
//! The operator chooses with the settings' [`ClockSource`]: the origin's clock (the default: a path
//! players resolve against the MPD's URL, so through a CDN they ask the CDN, which forwards the
//! uncacheable answer), none, or an absolute `http(s)://` URL of another ISO 8601 time source.

use strata_abi::clock::CLOCK_PATH;
use strata_abi::settings::ClockSource;

use crate::types::Request;

/// The `UTCTiming@schemeIdUri` of an HTTP GET answering ISO 8601 text.
pub const HTTP_ISO_SCHEME: &str = "urn:mpeg:dash:utc:http-iso:2014";

/// The clock URL to write into a live MPD answered to `req`, or `None` when the operator turned it off.
pub fn source_for(req: &Request) -> Option<String> {
    match &req.settings.clock {
        ClockSource::Origin => Some(CLOCK_PATH.to_owned()),
        ClockSource::Off => None,
        ClockSource::Url(url) => Some(url.clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::request;

    fn with_clock(clock: ClockSource) -> Request {
        let mut req = request("GET", "/live/manifest.mpd", &[]);
        req.settings.clock = clock;
        req
    }

    #[test]
    fn the_settings_choose_the_source() {
        assert_eq!(
            source_for(&with_clock(ClockSource::Origin)).as_deref(),
            Some("/_strata/time")
        );
        assert_eq!(source_for(&with_clock(ClockSource::Off)), None);
        assert_eq!(
            source_for(&with_clock(ClockSource::Url(
                "https://time.example/?iso".into()
            )))
            .as_deref(),
            Some("https://time.example/?iso")
        );
    }
}
