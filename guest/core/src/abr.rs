//! CMCD-driven variant choice: on routes that ask for it, a multivariant HLS playlist is capped at what the
//! player can sustain and starts with the best variant under that cap.
//!
//! A route opts in with an ABR route of policy `cmcd` (`[[guest.abr]] prefix = "live/"` on the host). The
//! budget is the smaller of the player's requested maximum (`rtp`) and its measured throughput (`mtp`)
//! scaled by how much buffer it has (`bl`): a starving player gets half its throughput, a comfortable one
//! most of it. Variants above the budget are removed (the lowest is always kept), and the best remaining
//! one is listed first, which is the variant players such as AVPlayer start with. The answer then depends
//! on the player, so it is `private` (no shared cache keeps one player's choice for another).

use crate::cmcd::Cmcd;
use crate::hls::attributes::Attributes;
use crate::hls::{Kind, Line, Playlist};
use crate::types::{AbrPolicy, Request};

/// Cache-Control of a playlist chosen for one player.
pub const CACHE_CONTROL: &str = "private, no-cache";

/// Share of measured throughput a player may spend, by buffer: under 3 s, under 10 s, otherwise.
const SHARE_STARVING: f64 = 0.5;
const SHARE_LOW: f64 = 0.7;
const SHARE_COMFORTABLE: f64 = 0.85;

/// The budget in kbps for `req` on `key`, when a setting turns CMCD ordering on for `key` and the player
/// sent `mtp` or `rtp`.
pub fn budget_for(req: &Request, key: &str) -> Option<f64> {
    let on = req
        .settings
        .abr
        .iter()
        .any(|route| route.policy == AbrPolicy::Cmcd && key.starts_with(&route.prefix));
    if !on {
        return None;
    }
    budget(&Cmcd::from_request(req))
}

/// The smaller of `rtp` and `mtp` scaled by the buffer share; `None` without either.
pub fn budget(c: &Cmcd) -> Option<f64> {
    let share = match c.buffer_ms {
        Some(bl) if bl < 3_000.0 => SHARE_STARVING,
        Some(bl) if bl < 10_000.0 => SHARE_LOW,
        _ => SHARE_COMFORTABLE,
    };
    let measured = c.throughput_kbps.map(|mtp| mtp * share);
    match (measured, c.requested_kbps) {
        (Some(m), Some(r)) => Some(m.min(r)),
        (m, r) => m.or(r),
    }
}

/// `playlist` with its variants over `budget_kbps` removed (never the lowest) and the best remaining one
/// first; media playlists and playlists without variants come back unchanged.
pub fn apply(playlist: &Playlist, budget_kbps: f64) -> Playlist {
    if playlist.kind() != Kind::Multivariant {
        return playlist.clone();
    }
    let lines = &playlist.lines;
    // Each variant: its lines (the EXT-X-STREAM-INF through its URI) and its bandwidth in kbps.
    let mut variants: Vec<(std::ops::Range<usize>, f64)> = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        if let Some(tag) = lines[i].tag("EXT-X-STREAM-INF")
            && let Some(uri) = lines[i + 1..]
                .iter()
                .position(|l| matches!(l, Line::Uri(_)))
        {
            let a = Attributes::parse(tag.value.as_deref().unwrap_or(""));
            let kbps = a.number("BANDWIDTH").unwrap_or(0.0) / 1000.0;
            variants.push((i..i + 2 + uri, kbps));
            i += 2 + uri;
        } else {
            i += 1;
        }
    }
    let Some(lowest) = variants
        .iter()
        .enumerate()
        .min_by(|a, b| a.1.1.total_cmp(&b.1.1))
        .map(|(n, _)| n)
    else {
        return playlist.clone();
    };
    let mut kept: Vec<usize> = (0..variants.len())
        .filter(|n| *n == lowest || variants[*n].1 <= budget_kbps)
        .collect();
    if let Some(best) = kept
        .iter()
        .copied()
        .max_by(|a, b| variants[*a].1.total_cmp(&variants[*b].1))
    {
        kept.retain(|n| *n != best);
        kept.insert(0, best);
    }
    let first = variants[0].0.start;
    let mut out = Vec::with_capacity(lines.len());
    let mut i = 0;
    while i < lines.len() {
        if i == first {
            for n in &kept {
                out.extend(lines[variants[*n].0.clone()].iter().cloned());
            }
        }
        match variants.iter().find(|(range, _)| range.start == i) {
            Some((range, _)) => i = range.end,
            None => {
                out.push(lines[i].clone());
                i += 1;
            }
        }
    }
    Playlist { lines: out }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::request;
    use crate::types::AbrRoute;

    const MASTER: &str = "#EXTM3U\n#EXT-X-VERSION:6\n\
        #EXT-X-STREAM-INF:BANDWIDTH=800000,RESOLUTION=640x360\nlow.m3u8\n\
        #EXT-X-STREAM-INF:BANDWIDTH=2500000,RESOLUTION=1280x720\nmid.m3u8\n\
        #EXT-X-STREAM-INF:BANDWIDTH=6000000,RESOLUTION=1920x1080\nhigh.m3u8\n\
        #EXT-X-I-FRAME-STREAM-INF:BANDWIDTH=200000,URI=\"iframes.m3u8\"\n";

    fn uris(p: &Playlist) -> Vec<&str> {
        p.lines
            .iter()
            .filter_map(|l| match l {
                Line::Uri(u) => Some(u.as_str()),
                _ => None,
            })
            .collect()
    }

    fn cmcd(text: &str) -> Cmcd {
        let mut req = request("GET", "/a/master.m3u8", &[]);
        req.query = format!(
            "CMCD={}",
            percent_encoding::utf8_percent_encode(text, percent_encoding::NON_ALPHANUMERIC)
        );
        Cmcd::from_request(&req)
    }

    #[test]
    fn caps_and_puts_the_best_fitting_variant_first() {
        let p = Playlist::parse(MASTER).expect("parses");
        let out = apply(&p, 3_000.0);
        assert_eq!(uris(&out), ["mid.m3u8", "low.m3u8"]);
        let text = out.write();
        assert!(
            text.contains("#EXT-X-VERSION:6") && text.contains("iframes.m3u8"),
            "{text}"
        );
    }

    #[test]
    fn never_removes_the_lowest_variant() {
        let p = Playlist::parse(MASTER).expect("parses");
        assert_eq!(uris(&apply(&p, 100.0)), ["low.m3u8"]);
        assert_eq!(uris(&apply(&p, 1e9)), ["high.m3u8", "low.m3u8", "mid.m3u8"]);
    }

    #[test]
    fn budget_takes_the_buffer_into_account_and_rtp_caps_it() {
        assert_eq!(budget(&cmcd("mtp=10000,bl=1000")), Some(5_000.0));
        assert_eq!(budget(&cmcd("mtp=10000,bl=5000")), Some(7_000.0));
        assert_eq!(budget(&cmcd("mtp=10000,bl=30000")), Some(8_500.0));
        assert_eq!(budget(&cmcd("mtp=10000,rtp=2000")), Some(2_000.0));
        assert_eq!(budget(&cmcd("rtp=2000")), Some(2_000.0));
        assert_eq!(budget(&cmcd("bl=2000")), None);
    }

    #[test]
    fn only_routes_that_ask_for_it_get_it() {
        let mut req = request("GET", "/live/master.m3u8", &[("cmcd-request", "mtp=4000")]);
        assert_eq!(budget_for(&req, "live/master.m3u8"), None);
        req.settings.abr = vec![AbrRoute {
            prefix: "live/".into(),
            policy: AbrPolicy::Cmcd,
        }];
        assert_eq!(budget_for(&req, "live/master.m3u8"), Some(3_400.0));
        assert_eq!(budget_for(&req, "vod/master.m3u8"), None);
    }
}
