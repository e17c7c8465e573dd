//! Rendition reports (rfc8216bis §4.4.5.4, §6.2.5): each LL-HLS media playlist served ends with an
//! `EXT-X-RENDITION-REPORT` per sibling rendition giving its newest segment and part, so a player switching
//! renditions can issue its first blocking request for the right point without a plain reload.
//!
//! The origin writes them itself, from the siblings' stored playlists at the moment of the answer: reports
//! an encoder wrote are as old as its last PUT, and most encoders (ffmpeg) write none.

use super::progress::Progress;
use crate::hls::attributes::Attributes;
use crate::hls::{Kind, Line, Playlist, Tag};
use crate::lookup_budget::LookupBudget;
use crate::media_type::file_name;
use crate::objects::Objects;

/// How many HLS playlists of a folder (and the folders below it) are listed when looking for the
/// multivariant playlist.
pub const LIST_LIMIT: u32 = 100;

/// The tag name.
const TAG: &str = "EXT-X-RENDITION-REPORT";

/// The keys of the renditions sharing a stream with media playlist `key` (itself excluded): the URIs of
/// the reports the encoder wrote, else the variants and renditions of the multivariant playlist, in
/// `key`'s folder or the one above, that lists `key`.
pub fn siblings(key: &str, playlist: &Playlist, store: &impl Objects) -> Vec<String> {
    let dir = folder(key);
    let written: Vec<String> = playlist
        .tags()
        .filter(|t| t.name == TAG)
        .filter_map(|t| {
            Attributes::parse(t.value.as_deref()?)
                .get("URI")
                .map(str::to_string)
        })
        .filter_map(|uri| resolve(dir, &uri))
        .collect();
    let candidates = if written.is_empty() {
        [dir, folder(dir.strip_suffix('/').unwrap_or(""))]
            .into_iter()
            .take(if dir.is_empty() { 1 } else { 2 })
            .find_map(|d| multivariant_listing(d, key, store))
            .unwrap_or_default()
    } else {
        written
    };
    let mut out: Vec<String> = Vec::new();
    for candidate in candidates {
        if candidate != key && !out.contains(&candidate) {
            out.push(candidate);
        }
    }
    out
}

/// The media playlists listed by the first multivariant playlist directly in `dir` that lists `key`, among
/// the playlists a [`LookupBudget`] lets it read.
fn multivariant_listing(dir: &str, key: &str, store: &impl Objects) -> Option<Vec<String>> {
    let mut budget = LookupBudget::default();
    store
        .list_ending(dir, &[".m3u8"], LIST_LIMIT)
        .iter()
        .filter(|k| k.strip_prefix(dir).is_some_and(|rest| !rest.contains('/')) && *k != key)
        .filter_map(|k| budget.read(store, k))
        .filter_map(|bytes| Playlist::parse_bytes(&bytes).ok())
        .filter(|p| p.kind() == Kind::Multivariant)
        .map(|p| media_playlists(&p, dir))
        .find(|listed| listed.iter().any(|k| k == key))
}

/// The keys of the media playlists a multivariant playlist in `dir` lists: variant URIs and
/// `EXT-X-MEDIA` URIs (I-frame playlists have no parts and are left out).
fn media_playlists(p: &Playlist, dir: &str) -> Vec<String> {
    let mut uris = Vec::new();
    let mut variant = false;
    for line in &p.lines {
        match line {
            Line::Tag(t) if t.name == "EXT-X-STREAM-INF" => variant = true,
            Line::Tag(t) if t.name == "EXT-X-MEDIA" => {
                if let Some(uri) = t
                    .value
                    .as_deref()
                    .and_then(|v| Attributes::parse(v).get("URI").map(str::to_string))
                {
                    uris.push(uri);
                }
            }
            Line::Uri(uri) if variant => {
                uris.push(uri.clone());
                variant = false;
            }
            _ => {}
        }
    }
    uris.iter().filter_map(|u| resolve(dir, u)).collect()
}

/// Replaces the reports in `p` (a media playlist stored under `key`) with fresh ones for `siblings`,
/// appended at the end. Siblings that cannot be read or have no segment yet are left out.
pub fn refresh(p: &mut Playlist, key: &str, siblings: &[String], store: &impl Objects) {
    p.lines.retain(|l| l.tag(TAG).is_none());
    let dir = folder(key);
    let mut budget = LookupBudget::default();
    for sibling in siblings {
        let Some(last) = budget
            .read(store, sibling)
            .and_then(|bytes| Playlist::parse_bytes(&bytes).ok())
            .and_then(|s| Progress::of(&s).last())
        else {
            continue;
        };
        let mut value = format!("URI=\"{}\",LAST-MSN={}", relative(dir, sibling), last.0);
        if let Some(part) = last.1 {
            value.push_str(&format!(",LAST-PART={part}"));
        }
        p.lines.push(Line::Tag(Tag::new(TAG, value)));
    }
}

/// The folder of `key`, with its trailing `/` (empty at the top).
fn folder(key: &str) -> &str {
    &key[..key.len() - file_name(key).len()]
}

/// The key a playlist URI in folder `dir` names; `None` for absolute URLs (other hosts).
pub fn resolve(dir: &str, uri: &str) -> Option<String> {
    let path = uri.split(['?', '#']).next().unwrap_or("");
    if path.is_empty() || path.contains("://") {
        return None;
    }
    let joined = match path.strip_prefix('/') {
        Some(absolute) => absolute.to_string(),
        None => format!("{dir}{path}"),
    };
    let mut segments: Vec<&str> = Vec::new();
    for segment in joined.split('/') {
        match segment {
            "" | "." => {}
            ".." => {
                segments.pop()?;
            }
            s => segments.push(s),
        }
    }
    Some(segments.join("/"))
}

/// The URI of `key` relative to folder `dir`.
fn relative(dir: &str, key: &str) -> String {
    let from: Vec<&str> = dir.split('/').filter(|s| !s.is_empty()).collect();
    let to: Vec<&str> = key.split('/').collect();
    let common = from
        .iter()
        .zip(&to)
        .take_while(|(a, b)| a == b)
        .count()
        .min(to.len().saturating_sub(1));
    let mut out = "../".repeat(from.len() - common);
    out.push_str(&to[common..].join("/"));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::llhls::fixtures::LIVE;
    use crate::test_support::MemStore;

    const MASTER: &str = "#EXTM3U
#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"a\",NAME=\"en\",URI=\"audio/index.m3u8\"
#EXT-X-STREAM-INF:BANDWIDTH=800000,AUDIO=\"a\"
low/index.m3u8
#EXT-X-STREAM-INF:BANDWIDTH=2000000,AUDIO=\"a\"
high/index.m3u8?token=1
#EXT-X-I-FRAME-STREAM-INF:BANDWIDTH=100000,URI=\"low/iframes.m3u8\"
";

    fn stream() -> MemStore {
        MemStore::default()
            .with("live/master.m3u8", MASTER.as_bytes())
            .with("live/low/index.m3u8", LIVE.as_bytes())
            .with(
                "live/high/index.m3u8",
                LIVE.replace("part12.1", "x").as_bytes(),
            )
            .with(
                "live/audio/index.m3u8",
                b"#EXTM3U\n#EXT-X-MEDIA-SEQUENCE:7\n#EXTINF:4,\na7.m4s\n",
            )
    }

    #[test]
    fn siblings_from_the_multivariant_playlist_above() {
        let store = stream();
        let p = Playlist::parse(LIVE).unwrap();
        assert_eq!(
            siblings("live/low/index.m3u8", &p, &store),
            vec!["live/audio/index.m3u8", "live/high/index.m3u8"]
        );
        // Not listed by any multivariant playlist: no siblings.
        assert!(siblings("other/index.m3u8", &p, &store).is_empty());
    }

    #[test]
    fn siblings_from_reports_the_encoder_wrote() {
        let p = Playlist::parse(&format!(
            "{LIVE}#EXT-X-RENDITION-REPORT:URI=\"../high/index.m3u8\",LAST-MSN=1\n"
        ))
        .unwrap();
        assert_eq!(
            siblings("live/low/index.m3u8", &p, &stream()),
            vec!["live/high/index.m3u8"]
        );
    }

    #[test]
    fn fresh_reports_replace_old_ones() {
        let store = stream();
        let mut p = Playlist::parse(&format!(
            "{LIVE}#EXT-X-RENDITION-REPORT:URI=\"../high/index.m3u8\",LAST-MSN=1\n"
        ))
        .unwrap();
        let siblings = vec![
            "live/audio/index.m3u8".to_string(),
            "live/high/index.m3u8".to_string(),
            "live/missing/index.m3u8".to_string(),
        ];
        refresh(&mut p, "live/low/index.m3u8", &siblings, &store);
        let text = p.write();
        assert!(
            text.ends_with(
                "#EXT-X-RENDITION-REPORT:URI=\"../audio/index.m3u8\",LAST-MSN=7\n\
             #EXT-X-RENDITION-REPORT:URI=\"../high/index.m3u8\",LAST-MSN=12,LAST-PART=1\n"
            ),
            "{text}"
        );
        assert_eq!(text.matches(TAG).count(), 2);
    }

    #[test]
    fn uris_and_keys() {
        assert_eq!(
            resolve("live/", "v1/a.m3u8?x=1").as_deref(),
            Some("live/v1/a.m3u8")
        );
        assert_eq!(
            resolve("live/v0/", "../v1/a.m3u8").as_deref(),
            Some("live/v1/a.m3u8")
        );
        assert_eq!(resolve("live/", "/top.m3u8").as_deref(), Some("top.m3u8"));
        assert_eq!(resolve("", "../a.m3u8"), None);
        assert_eq!(resolve("live/", "https://cdn/a.m3u8"), None);
        assert_eq!(
            relative("live/low/", "live/high/index.m3u8"),
            "../high/index.m3u8"
        );
        assert_eq!(relative("live/", "live/b.m3u8"), "b.m3u8");
        assert_eq!(relative("", "live/b.m3u8"), "live/b.m3u8");
        assert_eq!(relative("a/b/", "c.m3u8"), "../../c.m3u8");
        assert_eq!(folder("live/low/index.m3u8"), "live/low/");
        assert_eq!(folder("index.m3u8"), "");
    }
}
