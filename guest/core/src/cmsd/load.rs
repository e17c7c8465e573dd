//! CMSD-Dynamic `mb` (maximum suggested bitrate) when the host reports load: players such as dash.js and
//! Shaka cap their ABR at it, so a loaded origin can ask for lighter renditions before it falls behind.
//!
//! Policy (decision 0038): at or above the threshold, suggest the bitrate of the object being served scaled
//! by threshold / load. At the threshold that is "do not climb above what you fetch now"; at twice the
//! threshold, half of it. It needs no read beyond the playlist already consulted for `br`, so a loaded
//! origin does no extra work to shed load.

use crate::types::Request;

/// The `[guest.settings]` key of the threshold, in permille of the host's capacity.
pub const THRESHOLD_SETTING: &str = "cmsd_load_threshold_permille";

/// The threshold when the setting is absent or not a whole number from 1 to 65535.
pub const DEFAULT_THRESHOLD_PERMILLE: u16 = 800;

/// The `mb` to suggest, in kbps, for an object of `bitrate_kbps` under the load `req` reports; `None` below
/// the threshold, when the host reports no load (0, as on Spin) or for a bitrate of 0.
pub fn max_bitrate_kbps(req: &Request, bitrate_kbps: u64) -> Option<u64> {
    let load = u64::from(req.load_permille);
    let threshold = u64::from(threshold_permille(req));
    if load == 0 || load < threshold || bitrate_kbps == 0 {
        return None;
    }
    Some((bitrate_kbps.saturating_mul(threshold) / load).max(1))
}

/// The operator's threshold, or the default.
fn threshold_permille(req: &Request) -> u16 {
    req.settings
        .iter()
        .find(|(name, _)| name == THRESHOLD_SETTING)
        .and_then(|(_, value)| value.trim().parse().ok())
        .filter(|t| *t > 0)
        .unwrap_or(DEFAULT_THRESHOLD_PERMILLE)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::request;

    fn loaded(load_permille: u16, threshold: Option<&str>) -> Request {
        let mut req = request("GET", "/v/seg1.ts", &[]);
        req.load_permille = load_permille;
        if let Some(t) = threshold {
            req.settings = vec![(THRESHOLD_SETTING.into(), t.into())];
        }
        req
    }

    #[test]
    fn below_the_threshold_or_without_a_report_suggests_nothing() {
        assert_eq!(max_bitrate_kbps(&loaded(0, None), 3000), None);
        assert_eq!(max_bitrate_kbps(&loaded(799, None), 3000), None);
        assert_eq!(max_bitrate_kbps(&loaded(0, Some("1")), 3000), None);
        assert_eq!(max_bitrate_kbps(&loaded(1000, None), 0), None);
    }

    #[test]
    fn at_and_above_the_threshold_scales_the_bitrate_down() {
        assert_eq!(max_bitrate_kbps(&loaded(800, None), 3000), Some(3000));
        assert_eq!(max_bitrate_kbps(&loaded(1000, None), 3000), Some(2400));
        assert_eq!(max_bitrate_kbps(&loaded(1600, None), 3000), Some(1500));
        assert_eq!(max_bitrate_kbps(&loaded(u16::MAX, None), 1), Some(1));
    }

    #[test]
    fn the_threshold_is_a_setting() {
        assert_eq!(
            max_bitrate_kbps(&loaded(500, Some("500")), 3000),
            Some(3000)
        );
        assert_eq!(max_bitrate_kbps(&loaded(500, Some("600")), 3000), None);
        // Unreadable values keep the default.
        assert_eq!(max_bitrate_kbps(&loaded(700, Some("high")), 3000), None);
        assert_eq!(max_bitrate_kbps(&loaded(700, Some("0")), 3000), None);
        assert_eq!(max_bitrate_kbps(&loaded(900, Some("high")), 900), Some(800));
    }
}
