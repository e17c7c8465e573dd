//! CMSD-Dynamic `mb` (maximum suggested bitrate) when the host reports load: players such as dash.js and
//! Shaka cap their ABR at it, so a loaded origin can ask for lighter renditions before it falls behind.
//!
//! Policy (decision 0038): at or above the threshold, suggest the bitrate of the object being served scaled
//! by threshold / load. At the threshold that is "do not climb above what you fetch now"; at twice the
//! threshold, half of it. It needs no read beyond the playlist already consulted for `br`, so a loaded
//! origin does no extra work to shed load.

use crate::types::Request;

/// The `mb` to suggest, in kbps, for an object of `bitrate_kbps` under the load `req` reports; `None` below
/// the threshold, when the host reports no load (0, as on Spin) or for a bitrate of 0.
pub fn max_bitrate_kbps(req: &Request, bitrate_kbps: u64) -> Option<u64> {
    let load = u64::from(req.load_permille);
    let threshold = u64::from(req.settings.cmsd_load_threshold_permille.max(1));
    if load == 0 || load < threshold || bitrate_kbps == 0 {
        return None;
    }
    Some((bitrate_kbps.saturating_mul(threshold) / load).max(1))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::request;

    fn loaded(load_permille: u16, threshold: Option<u16>) -> Request {
        let mut req = request("GET", "/v/seg1.ts", &[]);
        req.load_permille = load_permille;
        if let Some(t) = threshold {
            req.settings.cmsd_load_threshold_permille = t;
        }
        req
    }

    #[test]
    fn below_the_threshold_or_without_a_report_suggests_nothing() {
        assert_eq!(max_bitrate_kbps(&loaded(0, None), 3000), None);
        assert_eq!(max_bitrate_kbps(&loaded(799, None), 3000), None);
        assert_eq!(max_bitrate_kbps(&loaded(0, Some(1)), 3000), None);
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
        assert_eq!(max_bitrate_kbps(&loaded(500, Some(500)), 3000), Some(3000));
        assert_eq!(max_bitrate_kbps(&loaded(500, Some(600)), 3000), None);
        assert_eq!(max_bitrate_kbps(&loaded(900, None), 900), Some(800));
    }
}
