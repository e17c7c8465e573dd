//! The served media playlist of a redundant route: an input's playlist renumbered into the served
//! sequence, after the tail served before the last switch, and what a switch to another input remembers.

use super::state::{Served, State};
use crate::hls::attributes::Attributes;
use crate::hls::media;
use crate::hls::playlist::{Line, Playlist};
use crate::signing::rewrite::{URI_TAGS, resolve};
use strata_abi::key::path_from_key;

/// Most tail segments remembered at a switch.
const MAX_TAIL: usize = 64;

/// Tags the served playlist writes itself, or leaves out: the served stream is plain live HLS (no
/// LL-HLS parts, blocking reload or delta updates; those name one input's parts).
const DROPPED: &[&str] = &[
    "EXT-X-MEDIA-SEQUENCE",
    "EXT-X-DISCONTINUITY-SEQUENCE",
    "EXT-X-TARGETDURATION",
    "EXT-X-ENDLIST",
    "EXT-X-SERVER-CONTROL",
    "EXT-X-PART-INF",
    "EXT-X-PART",
    "EXT-X-PRELOAD-HINT",
    "EXT-X-RENDITION-REPORT",
    "EXT-X-SKIP",
];

/// Where an input's playlist is and how its URIs are served.
pub struct Place<'a> {
    /// Index of the input in the route.
    pub input: usize,
    /// The input's folder.
    pub prefix: &'a str,
    /// The playlist's key in the input.
    pub key: &'a str,
    /// Folders between the route's `serve` and the served playlist.
    pub depth: usize,
}

/// One input's media playlist, its segments in its own numbering.
#[derive(Debug, Clone)]
pub struct InputPlaylist {
    /// Header lines the served playlist keeps.
    pub header: Vec<String>,
    /// Segments: `seq` and `disc` are the input's.
    pub segments: Vec<Served>,
    /// `EXT-X-TARGETDURATION`.
    pub target: u64,
    /// Whether it ends with `EXT-X-ENDLIST`.
    pub ended: bool,
}

/// Reads an input's media playlist at `place`; `None` for a multivariant playlist or one without a
/// target duration.
pub fn read_input(text: &str, place: &Place<'_>) -> Option<InputPlaylist> {
    let p = Playlist::parse(text).ok()?;
    if p.has_tag("EXT-X-STREAM-INF") {
        return None;
    }
    let target = p.target_duration()?;
    let view = media::view(&p);
    let header = p.lines[..view.header_end]
        .iter()
        .filter_map(|line| match line {
            Line::Tag(t) if DROPPED.contains(&t.name.as_str()) => None,
            Line::Tag(t) => Some(t.to_line()),
            _ => None,
        })
        .collect();
    let (mut map, mut key, mut disc) = (None, None, view.discontinuity_sequence);
    let mut segments = Vec::with_capacity(view.segments.len());
    for seg in &view.segments {
        if seg.discontinuity {
            disc += 1;
        }
        let mut tags = Vec::new();
        for line in &p.lines[seg.first_line..seg.uri_line] {
            let Line::Tag(t) = line else { continue };
            match t.name.as_str() {
                "EXT-X-DISCONTINUITY" => {}
                "EXT-X-MAP" => map = Some(served_tag(t, place)),
                "EXT-X-KEY" => {
                    key = (!t.value.as_deref().unwrap_or("").contains("METHOD=NONE"))
                        .then(|| served_tag(t, place));
                }
                name if DROPPED.contains(&name) => {}
                _ => tags.push(served_tag(t, place)),
            }
        }
        let Line::Uri(uri) = &p.lines[seg.uri_line] else {
            continue;
        };
        segments.push(Served {
            seq: seg.msn,
            disc,
            map: map.clone(),
            key: key.clone(),
            tags,
            uri: served_uri(uri, place),
            source: resolve(place.key, uri)
                .and_then(|k| k.strip_prefix(place.prefix).map(str::to_owned))
                .unwrap_or_else(|| uri.clone()),
        });
    }
    Some(InputPlaylist {
        header,
        segments,
        target,
        ended: p.is_final(),
    })
}

/// A tag line with its `URI` attribute served.
fn served_tag(t: &crate::hls::playlist::Tag, place: &Place<'_>) -> String {
    match t.value.as_deref() {
        Some(value) if URI_TAGS.contains(&t.name.as_str()) => {
            let mut attrs = Attributes::parse(value);
            if let Some(uri) = attrs.get("URI").map(str::to_owned) {
                attrs.set("URI", &served_uri(&uri, place), true);
            }
            format!("#{}:{}", t.name, attrs.write())
        }
        _ => t.to_line(),
    }
}

/// The URI under `serve` that names what `uri` names in the input: `@<n>/<key in the input>` relative to
/// the served playlist; a URI outside the input becomes `/`-absolute, an absolute URL stays.
pub fn served_uri(uri: &str, place: &Place<'_>) -> String {
    if uri.contains("://") || uri.starts_with("data:") {
        return uri.to_owned();
    }
    let query = uri.find('?').map_or("", |i| &uri[i..]);
    let decoded = percent_encoding::percent_decode_str(uri.split(['?', '#']).next().unwrap_or(uri))
        .decode_utf8_lossy()
        .into_owned();
    let Some(key) = resolve(place.key, &decoded) else {
        return uri.to_owned();
    };
    match key.strip_prefix(place.prefix) {
        Some(rel) => format!(
            "{}{}{}",
            "../".repeat(place.depth),
            &path_from_key(&format!("{}{rel}", input_tag(place.input)))[1..],
            query
        ),
        None => format!("{}{query}", path_from_key(&key)),
    }
}

/// The folder under `serve` naming input `index`'s objects: `@1/` for the first.
pub fn input_tag(index: usize) -> String {
    format!("@{}/", index + 1)
}

/// The input a key relative to `serve` names through its tag, and the key in that input.
pub fn tagged(rest: &str) -> Option<(usize, &str)> {
    let (tag, key) = rest.strip_prefix('@')?.split_once('/')?;
    let n: usize = tag.parse().ok()?;
    (n >= 1 && !key.is_empty()).then_some((n - 1, key))
}

/// The segments served now from `input` under `state`: the tail before the boundary, then the input's
/// segments renumbered from the boundary on, the last `state.window` of them while a tail exists.
pub fn served(state: &State, input: &InputPlaylist) -> Vec<Served> {
    let renumbered = input.segments.iter().filter_map(|s| {
        let seq = u64::try_from(i128::from(s.seq) + i128::from(state.offset)).ok()?;
        let disc = u64::try_from(i128::from(s.disc) + i128::from(state.disc_offset)).ok()?;
        (seq >= state.boundary).then(|| Served {
            seq,
            disc,
            ..s.clone()
        })
    });
    if state.tail.is_empty() {
        return renumbered.collect();
    }
    let mut all: Vec<Served> = state
        .tail
        .iter()
        .filter(|s| s.seq < state.boundary)
        .cloned()
        .chain(renumbered)
        .collect();
    let extra = all.len().saturating_sub(state.window.max(1));
    all.drain(..extra);
    all
}

/// The served playlist's text.
pub fn render(state: &State, input: &InputPlaylist) -> String {
    let segments = served(state, input);
    let target = input.target.max(state.target);
    let mut out = String::from("#EXTM3U\n");
    for line in &input.header {
        out.push_str(line);
        out.push('\n');
    }
    let (first_seq, first_disc) = segments.first().map_or((0, 0), |s| (s.seq, s.disc));
    out.push_str(&format!(
        "#EXT-X-TARGETDURATION:{target}\n#EXT-X-MEDIA-SEQUENCE:{first_seq}\n"
    ));
    if first_disc > 0 {
        out.push_str(&format!("#EXT-X-DISCONTINUITY-SEQUENCE:{first_disc}\n"));
    }
    let mut previous: Option<&Served> = None;
    for s in &segments {
        if previous.is_some_and(|p| p.disc != s.disc) {
            out.push_str("#EXT-X-DISCONTINUITY\n");
        }
        if let Some(map) = s
            .map
            .as_ref()
            .filter(|m| previous.and_then(|p| p.map.as_ref()) != Some(*m))
        {
            out.push_str(map);
            out.push('\n');
        }
        if s.key != previous.and_then(|p| p.key.clone()) {
            out.push_str(s.key.as_deref().unwrap_or("#EXT-X-KEY:METHOD=NONE"));
            out.push('\n');
        }
        for tag in &s.tags {
            out.push_str(tag);
            out.push('\n');
        }
        out.push_str(&s.uri);
        out.push('\n');
        previous = Some(s);
    }
    if input.ended {
        out.push_str("#EXT-X-ENDLIST\n");
    }
    out
}

/// The state after switching from what `state` serves (`from`: its input's playlist, if still readable)
/// to input `to`, whose playlist was written about `new_segments` target durations after the old one's.
/// With the same segment names at the same numbers on both and live edges that agree (epoch-locked
/// encoders) the numbering carries on; otherwise the new input's last `new_segments` segments follow the
/// last served one after a discontinuity.
pub fn switch(
    state: &State,
    from: Option<&InputPlaylist>,
    to: usize,
    playlist: &InputPlaylist,
    new_segments: usize,
) -> State {
    let now = from.map_or_else(
        || served(state, &InputPlaylist::empty()),
        |from| served(state, from),
    );
    let target = from.map_or(state.target, |f| f.target.max(state.target));
    let Some(last) = now.last() else {
        return State {
            input: to,
            ..State::default()
        };
    };
    // Locked: a segment of the same name at the same number, and the new input's live edge where the
    // old one's would be now (encoders numbering from their own start name segments alike too).
    let aligned = playlist.segments.last().is_some_and(|edge| {
        let expected = i128::from(last.seq) + i128::try_from(new_segments).unwrap_or(i128::MAX);
        (i128::from(edge.seq) + i128::from(state.offset) - expected).abs() <= 1
    });
    let locked = playlist.segments.iter().filter(|_| aligned).find_map(|s| {
        now.iter()
            .find(|t| {
                t.source == s.source
                    && i128::from(t.seq) == i128::from(s.seq) + i128::from(state.offset)
            })
            .map(|t| (s, t))
    });
    let (offset, disc_offset) = match locked {
        Some((s, t)) => (
            state.offset,
            i128_to_i64(i128::from(t.disc) - i128::from(s.disc)),
        ),
        None => {
            let count = playlist.segments.len();
            let (first_seq, first_disc) = playlist
                .segments
                .get(count.saturating_sub(new_segments.max(1)))
                .map_or((0, 0), |s| (s.seq, s.disc));
            (
                i128_to_i64(i128::from(last.seq) + 1 - i128::from(first_seq)),
                i128_to_i64(i128::from(last.disc) + 1 - i128::from(first_disc)),
            )
        }
    };
    let keep = now.len().min(MAX_TAIL);
    State {
        input: to,
        offset,
        disc_offset,
        boundary: last.seq + 1,
        window: now.len().max(playlist.segments.len()).min(MAX_TAIL),
        target,
        tail: now[now.len() - keep..].to_vec(),
    }
}

fn i128_to_i64(n: i128) -> i64 {
    i64::try_from(n).unwrap_or(if n < 0 { i64::MIN } else { i64::MAX })
}

impl InputPlaylist {
    /// A playlist with no segments (an input whose playlist is gone).
    fn empty() -> Self {
        InputPlaylist {
            header: Vec::new(),
            segments: Vec::new(),
            target: 0,
            ended: false,
        }
    }
}
