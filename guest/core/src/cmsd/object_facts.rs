//! CMSD-Static `d`, `br` and `sf` of a segment or part: what the playlist naming it says of its duration,
//! bitrate and streaming format.
//!
//! HLS: `d` is the `EXTINF` (or `EXT-X-PART:DURATION` for a part); `br` is the `EXT-X-BITRATE` in force for
//! that segment, else the object's size over its duration. DASH: `d` is `SegmentTemplate@duration` over
//! `@timescale` and `br` is `Representation@bandwidth`, when the template names the object; a
//! `SegmentTimeline` gives no single duration, so `d` is left out there.

use crate::dash::mpd::Mpd;
use crate::dash::xml::Element;
use crate::hls::attributes::Attributes;
use crate::media_type::file_name;
use crate::naming_playlist::template_matches;

/// What CMSD-Static can say of one object beyond its type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ObjectFacts {
    /// `sf`: `h` when an HLS playlist names it, `d` when an MPD does.
    pub streaming_format: Option<char>,
    /// `d`: playback duration in milliseconds.
    pub duration_ms: Option<u64>,
    /// `br`: encoded bitrate in kbps.
    pub bitrate_kbps: Option<u64>,
}

/// The facts of file `name` (`size` bytes) as playlist `text` gives them; empty when it does not name it.
pub fn of(text: &str, name: &str, size: u64) -> ObjectFacts {
    if text.trim_start().starts_with("#EXTM3U") {
        hls(text, name, size)
    } else {
        dash(text, name).unwrap_or_default()
    }
}

/// Facts from an HLS media playlist: the segment whose URI line, or the part whose `URI`, is `name`.
fn hls(text: &str, name: &str, size: u64) -> ObjectFacts {
    // EXT-X-BITRATE applies to every segment after it until the next one (RFC 8216bis §4.4.4.8).
    let mut bitrate_kbps = None;
    let mut extinf_s = None;
    for line in text.lines().map(str::trim) {
        if let Some(value) = line.strip_prefix("#EXT-X-BITRATE:") {
            bitrate_kbps = value.trim().parse::<u64>().ok();
        } else if let Some(value) = line.strip_prefix("#EXTINF:") {
            extinf_s = value.split(',').next().and_then(|d| d.trim().parse().ok());
        } else if let Some(value) = line
            .strip_prefix("#EXT-X-PART:")
            // LL-HLS playlists list hundreds of parts: parse only the lines that can name this one.
            .filter(|value| value.contains(name))
        {
            let attributes = Attributes::parse(value);
            if attributes.get("URI").is_some_and(|uri| is_named(uri, name)) {
                // A part is a fraction of a segment still being written: its own size tells its bitrate.
                return measured(attributes.number("DURATION"), None, size);
            }
        } else if !line.is_empty() && !line.starts_with('#') {
            if is_named(line, name) {
                return measured(extinf_s, bitrate_kbps, size);
            }
            extinf_s = None;
        }
    }
    ObjectFacts::default()
}

/// `d` from a duration in seconds, `br` as declared or else size × 8 / duration.
fn measured(duration_s: Option<f64>, declared_kbps: Option<u64>, size: u64) -> ObjectFacts {
    let duration_ms = duration_s
        .filter(|s| s.is_finite() && *s > 0.0)
        .map(|s| (s * 1000.0).round() as u64)
        .filter(|ms| *ms > 0);
    let bitrate_kbps =
        declared_kbps.or_else(|| duration_ms.map(|ms| (size.saturating_mul(8) + ms / 2) / ms));
    ObjectFacts {
        streaming_format: Some('h'),
        duration_ms,
        bitrate_kbps,
    }
}

/// Whether URI `uri` (relative or absolute, perhaps with a query) points at file `name`.
fn is_named(uri: &str, name: &str) -> bool {
    let path = uri.split(['?', '#']).next().unwrap_or_default();
    file_name(path) == name
}

/// Facts from an MPD: the Representation whose `SegmentTemplate@media` generates `name`; `None` when the
/// text is no MPD or no template names it.
fn dash(text: &str, name: &str) -> Option<ObjectFacts> {
    let mpd = Mpd::parse(text).ok()?;
    mpd.doc
        .root
        .children_named("Period")
        .flat_map(|period| period.children_named("AdaptationSet"))
        .flat_map(|set| {
            set.children_named("Representation")
                .map(move |rep| (set, rep))
        })
        .find_map(|(set, rep)| representation(set, rep, name))
}

/// Facts of `rep` (in `set`) if its template, its own or its AdaptationSet's, generates `name`.
fn representation(set: &Element, rep: &Element, name: &str) -> Option<ObjectFacts> {
    let template = rep
        .child("SegmentTemplate")
        .or_else(|| set.child("SegmentTemplate"))?;
    let media = template.attr("media")?;
    let media = match rep.attr("id") {
        Some(id) => media.replace("$RepresentationID$", &id),
        None => media,
    };
    if !template_matches(file_name(&media), name) {
        return None;
    }
    let timescale = template
        .attr("timescale")
        .and_then(|t| t.trim().parse::<u64>().ok())
        .filter(|t| *t > 0)
        .unwrap_or(1);
    let duration_ms = template
        .attr("duration")
        .and_then(|d| d.trim().parse::<u64>().ok())
        .map(|d| d.saturating_mul(1000) / timescale)
        .filter(|ms| *ms > 0);
    let bitrate_kbps = rep
        .attr("bandwidth")
        .and_then(|b| b.trim().parse::<u64>().ok())
        .map(|bps| bps / 1000);
    Some(ObjectFacts {
        streaming_format: Some('d'),
        duration_ms,
        bitrate_kbps,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(duration_ms: Option<u64>, bitrate_kbps: Option<u64>) -> ObjectFacts {
        ObjectFacts {
            streaming_format: Some('h'),
            duration_ms,
            bitrate_kbps,
        }
    }

    const MEDIA: &str = "#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXT-X-MEDIA-SEQUENCE:1\n\
        #EXTINF:4.004,\nseg1.ts\n\
        #EXT-X-BITRATE:2500\n#EXTINF:3.5,\nseg2.ts\n#EXTINF:4,\nhttps://cdn.example/v/seg3.ts?tok=1\n";

    fn dash_facts(duration_ms: Option<u64>, bitrate_kbps: Option<u64>) -> ObjectFacts {
        ObjectFacts {
            streaming_format: Some('d'),
            ..facts(duration_ms, bitrate_kbps)
        }
    }

    #[test]
    fn extinf_and_size_give_d_and_br() {
        // 500 500 bytes over 4.004 s: 4 004 000 bits / 4004 ms = 1000 kbps.
        assert_eq!(of(MEDIA, "seg1.ts", 500_500), facts(Some(4004), Some(1000)));
    }

    #[test]
    fn ext_x_bitrate_applies_to_the_segments_after_it() {
        assert_eq!(of(MEDIA, "seg2.ts", 1), facts(Some(3500), Some(2500)));
        assert_eq!(of(MEDIA, "seg3.ts", 1), facts(Some(4000), Some(2500)));
    }

    #[test]
    fn ll_hls_parts_use_their_own_duration_and_size() {
        let text = "#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXT-X-BITRATE:9000\n\
            #EXT-X-PART:DURATION=0.5,URI=\"seg4.0.m4s\",INDEPENDENT=YES\n\
            #EXT-X-PART:DURATION=0.25,URI=\"seg4.1.m4s\"\n";
        // 62 500 bytes over 500 ms: 1000 kbps.
        assert_eq!(of(text, "seg4.0.m4s", 62_500), facts(Some(500), Some(1000)));
        assert_eq!(of(text, "seg4.1.m4s", 0), facts(Some(250), Some(0)));
    }

    #[test]
    fn unnamed_or_durationless_objects_give_nothing_invented() {
        assert_eq!(of(MEDIA, "seg9.ts", 100), ObjectFacts::default());
        assert_eq!(of(MEDIA, "eg1.ts", 100), ObjectFacts::default());
        let no_extinf = "#EXTM3U\nseg1.ts\n";
        assert_eq!(of(no_extinf, "seg1.ts", 100), facts(None, None));
        let zero = "#EXTM3U\n#EXTINF:0,\nseg1.ts\n";
        assert_eq!(of(zero, "seg1.ts", 100), facts(None, None));
    }

    #[test]
    fn extinf_does_not_leak_to_the_next_segment() {
        let text = "#EXTM3U\n#EXTINF:4,\nseg1.ts\nseg2.ts\n";
        assert_eq!(of(text, "seg2.ts", 100), facts(None, None));
    }

    #[test]
    fn dash_segment_template_duration_and_bandwidth() {
        let mpd = r#"<MPD type="static"><Period><AdaptationSet>
            <SegmentTemplate timescale="1000" duration="2000" media="chunk-$RepresentationID$-$Number%05d$.m4s"/>
            <Representation id="hi" bandwidth="3000000"/>
            <Representation id="lo" bandwidth="800000"/></AdaptationSet></Period></MPD>"#;
        assert_eq!(
            of(mpd, "chunk-lo-00007.m4s", 1),
            dash_facts(Some(2000), Some(800))
        );
        assert_eq!(
            of(mpd, "chunk-hi-00001.m4s", 1),
            dash_facts(Some(2000), Some(3000))
        );
        assert_eq!(of(mpd, "chunk-mid-00001.m4s", 1), ObjectFacts::default());
    }

    #[test]
    fn dash_timeline_gives_bandwidth_only() {
        let mpd = r#"<MPD><Period><AdaptationSet><Representation id="a" bandwidth="128000">
            <SegmentTemplate media="a-$Time$.m4s"><SegmentTimeline><S d="1"/></SegmentTimeline>
            </SegmentTemplate></Representation></AdaptationSet></Period></MPD>"#;
        assert_eq!(of(mpd, "a-96000.m4s", 1), dash_facts(None, Some(128)));
        assert_eq!(of("not xml", "a-1.m4s", 1), ObjectFacts::default());
    }
}
