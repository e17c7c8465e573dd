//! Example manifest plugin: `?max_bandwidth=N` on a multivariant HLS playlist drops every variant whose
//! `BANDWIDTH` is above `N`. Other playlists pass through unchanged; text that is not HLS is refused.
//!
//! The rewrite is plain Rust ([`cap_variants`]), tested natively; the component export is three lines.
//! Attribute lists are read with `strata-guest-core`'s parser, which knows quoted values (`CODECS="a,b"`)
//! that a split on commas would cut: copy that, not a hand-written split.

#[cfg(not(feature = "abi-v0-1"))]
wit_bindgen::generate!({ path: "../../../wit", world: "manifest-filter" });

// The same plugin against the frozen first ABI, for the host's compatibility test.
#[cfg(feature = "abi-v0-1")]
wit_bindgen::generate!({ path: "../../../wit/v0.1.0", world: "manifest-filter" });

use exports::strata::origin::filter::{Context, Guest};
use strata_guest_core::hls::attributes::Attributes;

struct VariantCap;

impl Guest for VariantCap {
    fn rewrite(ctx: Context, playlist: String) -> Result<String, String> {
        cap_variants(&ctx.query, &playlist)
    }
}

export!(VariantCap);

/// The playlist without the variants above the query's `max_bandwidth`.
///
/// # Errors
/// A one-line reason when the text is not an HLS playlist or the cap is not a number.
pub fn cap_variants(query: &str, playlist: &str) -> Result<String, String> {
    if !playlist.starts_with("#EXTM3U") {
        return Err("not an HLS playlist: it does not start with #EXTM3U".into());
    }
    let Some(cap) = query
        .split('&')
        .find_map(|pair| pair.strip_prefix("max_bandwidth="))
    else {
        return Ok(playlist.to_owned());
    };
    let cap: u64 = cap
        .parse()
        .map_err(|_| format!("max_bandwidth={cap} is not a whole number"))?;
    let mut out = String::with_capacity(playlist.len());
    let mut dropping = false;
    for line in playlist.lines() {
        if let Some(attributes) = line.strip_prefix("#EXT-X-STREAM-INF:") {
            dropping = bandwidth(attributes).is_some_and(|b| b > cap);
        } else if dropping && !line.starts_with('#') && !line.trim().is_empty() {
            // The URI line that closes a dropped variant.
            dropping = false;
            continue;
        }
        if !dropping {
            out.push_str(line);
            out.push('\n');
        }
    }
    Ok(out)
}

/// The `BANDWIDTH` attribute of an `EXT-X-STREAM-INF` attribute list.
fn bandwidth(attributes: &str) -> Option<u64> {
    Attributes::parse(attributes)
        .get("BANDWIDTH")
        .and_then(|b| b.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    const MASTER: &str = "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=800000,RESOLUTION=640x360\nlow.m3u8\n#EXT-X-STREAM-INF:BANDWIDTH=5000000,RESOLUTION=1920x1080\nhigh.m3u8\n";

    #[test]
    fn variants_above_the_cap_are_dropped_with_their_uri() {
        let out = cap_variants("max_bandwidth=1000000", MASTER).unwrap();
        assert!(out.contains("low.m3u8"), "{out}");
        assert!(
            !out.contains("high.m3u8") && !out.contains("5000000"),
            "{out}"
        );
    }

    #[test]
    fn without_a_cap_the_playlist_is_unchanged() {
        assert_eq!(cap_variants("", MASTER).unwrap(), MASTER);
    }

    #[test]
    fn text_that_is_not_hls_is_refused() {
        assert!(cap_variants("", "<MPD/>").is_err());
        assert!(cap_variants("max_bandwidth=lots", MASTER).is_err());
    }
}
