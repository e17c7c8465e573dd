//! Carrying a token into the child URIs of a playlist or MPD, for children under the signed prefix.

use super::Token;
use crate::dash::{Element, Mpd, Node};
use crate::hls::attributes::Attributes;
use crate::hls::{Line, Playlist, Tag};

/// `uri` with the token appended if `uri`, resolved against the folder of `base_key`, is under `prefix`.
pub fn child_uri(uri: &str, base_key: &str, prefix: &str, token: &Token) -> String {
    let trimmed = uri.trim();
    let covered = !trimmed.is_empty()
        && !trimmed.contains("://")
        && !trimmed.starts_with("data:")
        && resolve(base_key, trimmed).is_some_and(|k| k.starts_with(prefix));
    if !covered {
        return uri.to_string();
    }
    let sep = if trimmed.contains('?') { '&' } else { '?' };
    format!("{trimmed}{sep}{}", token.query())
}

/// The object key a relative (or `/`-absolute) reference from `base_key` names; `None` if it climbs out.
pub(crate) fn resolve(base_key: &str, uri: &str) -> Option<String> {
    let path = uri.split(['?', '#']).next().unwrap_or(uri);
    let mut parts: Vec<&str> = if let Some(abs) = path.strip_prefix('/') {
        return Some(abs.to_string());
    } else {
        base_key.split('/').collect()
    };
    parts.pop();
    for seg in path.split('/') {
        match seg {
            "." | "" => {}
            ".." => {
                parts.pop()?;
            }
            s => parts.push(s),
        }
    }
    Some(parts.join("/"))
}

/// Tags whose `URI` attribute names a child.
pub(crate) const URI_TAGS: &[&str] = &[
    "EXT-X-MAP",
    "EXT-X-KEY",
    "EXT-X-MEDIA",
    "EXT-X-I-FRAME-STREAM-INF",
    "EXT-X-IMAGE-STREAM-INF",
    "EXT-X-PART",
    "EXT-X-PRELOAD-HINT",
    "EXT-X-RENDITION-REPORT",
    "EXT-X-SESSION-DATA",
];

/// `p` (stored at `key`) with the token on every child URI under `prefix`.
pub fn hls(p: &Playlist, key: &str, prefix: &str, token: &Token) -> Playlist {
    let lines = p
        .lines
        .iter()
        .map(|line| match line {
            Line::Uri(u) => Line::Uri(child_uri(u, key, prefix, token)),
            Line::Tag(t) if URI_TAGS.contains(&t.name.as_str()) => {
                let mut a = Attributes::parse(t.value.as_deref().unwrap_or(""));
                match a.get("URI").map(str::to_string) {
                    Some(uri) => {
                        a.set("URI", &child_uri(&uri, key, prefix, token), true);
                        Line::Tag(Tag::new(&t.name, a.write()))
                    }
                    None => line.clone(),
                }
            }
            _ => line.clone(),
        })
        .collect();
    Playlist { lines }
}

/// Attributes of DASH elements that hold child URLs or URL templates.
const URL_ATTRIBUTES: &[(&str, &str)] = &[
    ("SegmentTemplate", "media"),
    ("SegmentTemplate", "initialization"),
    ("SegmentTemplate", "index"),
    ("SegmentURL", "media"),
    ("SegmentURL", "index"),
    ("Initialization", "sourceURL"),
    ("RepresentationIndex", "sourceURL"),
];

/// `m` (stored at `key`) with the token on every child URL under `prefix`: segment templates and lists, and
/// `BaseURL`s.
pub fn dash(m: &Mpd, key: &str, prefix: &str, token: &Token) -> Mpd {
    let mut out = m.clone();
    walk(&mut out.doc.root, &mut |e| {
        let local = crate::dash::xml::local(&e.name).to_string();
        for (el, attr) in URL_ATTRIBUTES {
            if *el == local
                && let Some(v) = e.attr(attr)
            {
                e.set_attr(attr, &child_uri(&v, key, prefix, token));
            }
        }
        if local == "BaseURL"
            && let [Node::Text(t)] = e.children.as_mut_slice()
        {
            *t = child_uri(t, key, prefix, token).replace('&', "&amp;");
        }
    });
    out
}

fn walk(e: &mut Element, f: &mut impl FnMut(&mut Element)) {
    f(e);
    for c in &mut e.children {
        if let Node::Element(child) = c {
            walk(child, f);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token() -> Token {
        Token {
            expires: 9,
            signature: "ab".into(),
        }
    }

    #[test]
    fn child_uris_under_the_prefix_only() {
        let t = token();
        let c = |u: &str| child_uri(u, "premium/show/master.m3u8", "premium/", &t);
        assert_eq!(c("v1/index.m3u8"), "v1/index.m3u8?st_exp=9&st_sig=ab");
        assert_eq!(c("a.ts?x=1"), "a.ts?x=1&st_exp=9&st_sig=ab");
        assert_eq!(c("../other/a.ts"), "../other/a.ts?st_exp=9&st_sig=ab");
        assert_eq!(c("../../free/a.ts"), "../../free/a.ts");
        assert_eq!(c("../../../x.ts"), "../../../x.ts");
        assert_eq!(c("/premium/b.ts"), "/premium/b.ts?st_exp=9&st_sig=ab");
        assert_eq!(c("https://cdn.example/a.ts"), "https://cdn.example/a.ts");
        assert_eq!(c("data:text/plain;base64,AA"), "data:text/plain;base64,AA");
    }

    #[test]
    fn hls_uris_and_uri_attributes() {
        let p = Playlist::parse("#EXTM3U\n#EXT-X-MAP:URI=\"init.mp4\"\n#EXT-X-KEY:METHOD=AES-128,URI=\"https://k/1\"\n#EXTINF:4,\ns1.m4s\n#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"p2.m4s\"\n").unwrap();
        let out = hls(&p, "premium/index.m3u8", "premium/", &token()).write();
        assert!(out.contains("#EXT-X-MAP:URI=\"init.mp4?st_exp=9&st_sig=ab\"\n"));
        assert!(out.contains("URI=\"https://k/1\"\n"));
        assert!(out.contains("\ns1.m4s?st_exp=9&st_sig=ab\n"));
        assert!(out.contains("TYPE=PART,URI=\"p2.m4s?st_exp=9&st_sig=ab\""));
    }

    #[test]
    fn dash_templates_and_base_urls() {
        let m = Mpd::parse("<MPD><Period><BaseURL>media/</BaseURL><AdaptationSet><SegmentTemplate media=\"$Number$.m4s\" initialization=\"init.mp4\"/><Representation><BaseURL>https://x/</BaseURL></Representation></AdaptationSet></Period></MPD>").unwrap();
        let out = dash(&m, "premium/manifest.mpd", "premium/", &token()).write();
        assert!(
            out.contains("media=\"$Number$.m4s?st_exp=9&amp;st_sig=ab\""),
            "{out}"
        );
        assert!(out.contains("initialization=\"init.mp4?st_exp=9&amp;st_sig=ab\""));
        assert!(out.contains("<BaseURL>media/?st_exp=9&amp;st_sig=ab</BaseURL>"));
        assert!(out.contains("<BaseURL>https://x/</BaseURL>"));
        assert!(Mpd::parse(&out).is_ok());
    }
}
