//! The playlist that names a segment: the HLS media playlist or DASH MPD stored in the segment's own folder
//! whose URIs or `SegmentTemplate` patterns produce its file name.
//!
//! Waiting for an announced segment ([`crate::segment_wait`]) and describing a served one in CMSD
//! ([`crate::cmsd`]) both need it; the lookup is bounded (one listing of at most [`LIST_LIMIT`] playlists,
//! then reads within a [`LookupBudget`], the likeliest playlist first) so its cost per request stays small
//! whatever the folder holds.

use crate::lookup_budget::LookupBudget;
use crate::media_type::{ObjectClass, class_of, file_name};
use crate::objects::Objects;

/// How many playlists of the segment's folder (and the folders below it) are listed.
pub const LIST_LIMIT: u32 = 100;

/// The endings of playlist keys: HLS playlists and DASH MPDs.
pub const PLAYLIST_SUFFIXES: &[&str] = &[".m3u8", ".mpd"];

/// The text of the first playlist directly in `key`'s folder that names `key`'s file, trying first the
/// playlists whose names share the longest start with the segment's (`stream_2.m3u8` for
/// `stream_2_15.ts`); playlists that cannot be read, or do not fit the budget, are skipped.
pub fn find(key: &str, store: &impl Objects) -> Option<String> {
    let name = file_name(key);
    let dir = &key[..key.len() - name.len()];
    let mut candidates: Vec<String> = store
        .list_ending(dir, PLAYLIST_SUFFIXES, LIST_LIMIT)
        .into_iter()
        .filter(|k| is_playlist_in(k, dir))
        .collect();
    candidates.sort_by_key(|k| std::cmp::Reverse(shared_start(file_name(k), name)));
    let mut budget = LookupBudget::default();
    candidates
        .iter()
        .filter_map(|k| budget.read(store, k))
        .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
        .find(|text| names(text, name))
}

/// How many leading bytes `a` and `b` share.
fn shared_start(a: &str, b: &str) -> usize {
    a.bytes().zip(b.bytes()).take_while(|(x, y)| x == y).count()
}

/// Whether `candidate` is an HLS or DASH playlist directly in folder `dir` (which ends in `/` or is empty).
fn is_playlist_in(candidate: &str, dir: &str) -> bool {
    candidate
        .strip_prefix(dir)
        .is_some_and(|rest| !rest.contains('/'))
        && class_of(candidate) == ObjectClass::Playlist
}

/// Whether playlist `text` names file `name`: as a whole word in a URI or attribute (HLS lines,
/// `EXT-X-PART`/`PRELOAD-HINT` URIs, DASH `SegmentList`/`BaseURL`), or by a DASH `SegmentTemplate`
/// `media`/`initialization` pattern.
pub fn names(text: &str, name: &str) -> bool {
    mentions(text, name) || dash_templates(text).any(|t| template_matches(file_name(t), name))
}

/// `name` appears in `text` not as part of a longer file name (`seg1.ts` is not in `seg11.ts`).
fn mentions(text: &str, name: &str) -> bool {
    if name.is_empty() {
        return false;
    }
    let is_name_byte = |b: u8| b.is_ascii_alphanumeric() || b"-_.~%".contains(&b);
    text.match_indices(name).any(|(at, _)| {
        let before = text.as_bytes().get(at.wrapping_sub(1)).copied();
        let after = text.as_bytes().get(at + name.len()).copied();
        !before.is_some_and(is_name_byte) && !after.is_some_and(is_name_byte)
    })
}

/// The values of `media="…"` and `initialization="…"` attributes.
fn dash_templates(text: &str) -> impl Iterator<Item = &str> {
    ["media=\"", "initialization=\""]
        .into_iter()
        .flat_map(move |attr| {
            text.match_indices(attr).filter_map(move |(at, _)| {
                let value = &text[at + attr.len()..];
                value.find('"').map(|end| &value[..end])
            })
        })
}

/// One piece of a DASH `SegmentTemplate` pattern.
enum Piece<'a> {
    Literal(&'a [u8]),
    /// `$Identifier[%format]$`: digits for `$Number$`, `$Time$`, …; any non-`/` for `$RepresentationID$`.
    Variable {
        digits_only: bool,
    },
}

/// The pieces of `template`; `None` if a `$` is unterminated.
fn pieces(template: &str) -> Option<Vec<Piece<'_>>> {
    let mut out = Vec::new();
    let mut rest = template;
    while let Some(at) = rest.find('$') {
        out.push(Piece::Literal(&rest.as_bytes()[..at]));
        let after = &rest[at + 1..];
        let end = after.find('$')?;
        let ident = &after[..end];
        if ident.is_empty() {
            out.push(Piece::Literal(b"$"));
        } else {
            out.push(Piece::Variable {
                digits_only: !ident.starts_with("RepresentationID"),
            });
        }
        rest = &after[end + 1..];
    }
    out.push(Piece::Literal(rest.as_bytes()));
    Some(out)
}

/// Whether `name` is one of the names `template` generates; linear in `name` per piece, so hostile
/// templates cannot blow up.
pub fn template_matches(template: &str, name: &str) -> bool {
    let Some(pieces) = pieces(template) else {
        return false;
    };
    let n = name.as_bytes();
    // reach[i]: the pieces so far can produce exactly n[..i].
    let mut reach = vec![false; n.len() + 1];
    reach[0] = true;
    for piece in pieces {
        let mut next = vec![false; n.len() + 1];
        match piece {
            Piece::Literal(lit) => {
                for (i, _) in reach.iter().enumerate().filter(|(_, r)| **r) {
                    if n[i..].starts_with(lit) {
                        next[i + lit.len()] = true;
                    }
                }
            }
            Piece::Variable { digits_only } => {
                let mut open = false;
                for j in 1..=n.len() {
                    let b = n[j - 1];
                    let allowed = if digits_only {
                        b.is_ascii_digit()
                    } else {
                        b != b'/'
                    };
                    open = allowed && (open || reach[j - 1]);
                    next[j] = open;
                }
            }
        }
        reach = next;
    }
    reach[n.len()]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::MemStore;

    #[test]
    fn finds_the_naming_playlist_in_the_folder_only() {
        let text = "#EXTM3U\n#EXTINF:4,\nseg1.ts\n";
        let store = MemStore::default()
            .with("live/a.m3u8", b"#EXTM3U\n#EXTINF:4,\nother.ts\n")
            .with("live/b.m3u8", text.as_bytes())
            .with("live/sub/c.m3u8", b"#EXTM3U\n#EXTINF:4,\nseg2.ts\n");
        assert_eq!(find("live/seg1.ts", &store).as_deref(), Some(text));
        assert_eq!(find("live/seg2.ts", &store), None);
    }

    #[test]
    fn the_likeliest_playlists_are_read_first_within_the_budget() {
        let mut store = MemStore::default();
        // Many other playlists come first in key order; the rendition's own comes last.
        for i in 0..30 {
            store = store.with(
                &format!("live/a{i:02}.m3u8"),
                b"#EXTM3U\n#EXTINF:4,\nx.ts\n",
            );
        }
        let own = "#EXTM3U\n#EXTINF:4,\nstream_2_15.ts\n";
        store = store.with("live/stream_2.m3u8", own.as_bytes());
        assert_eq!(find("live/stream_2_15.ts", &store).as_deref(), Some(own));
    }

    #[test]
    fn template_matching() {
        assert!(template_matches("seg-$Number$.m4s", "seg-1.m4s"));
        assert!(!template_matches("seg-$Number$.m4s", "seg-.m4s"));
        assert!(template_matches(
            "$RepresentationID$/$Time$.m4s",
            "v1/1000.m4s"
        ));
        assert!(template_matches("a$$b-$Number$.ts", "a$b-3.ts"));
        assert!(!template_matches("seg-$Number.m4s", "seg-1.m4s"));
        assert!(template_matches("plain.m4s", "plain.m4s"));
        // Many variables over a long name stay fast.
        let hostile = "$RepresentationID$".repeat(200) + "x";
        assert!(!template_matches(&hostile, &"a".repeat(1024)));
    }
}
