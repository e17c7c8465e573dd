//! Playlist URIs ⇄ object keys: which stored object a URI in a playlist names (the key a player's request
//! for it would decode to), and the relative URI that names a copied object from a copied playlist.

use strata_abi::key::{key_from_path, path_from_key};

/// What a playlist URI names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// An object of this origin, by key.
    Key(String),
    /// Something elsewhere (`https://…`, `skd://…`, `data:…`): not copied.
    Elsewhere,
}

/// Why a URI names no object.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("URI {uri:?} in {playlist} names no valid key: {reason}")]
pub struct BadUri {
    /// The URI as written.
    pub uri: String,
    /// The playlist it is in.
    pub playlist: String,
    /// Why.
    pub reason: String,
}

/// What `uri`, written in the playlist stored at `playlist`, names: resolved against the playlist's folder
/// (RFC 3986 §5.2: `.`, `..`, a leading `/` from the root), query and fragment dropped, then decoded and
/// checked exactly as the data plane decodes a request path.
///
/// # Errors
/// [`BadUri`] when `..` climbs above the root or the path breaks the key rules.
pub fn resolve(playlist: &str, uri: &str) -> Result<Target, BadUri> {
    let uri = uri.trim();
    let bad = |reason: &str| BadUri {
        uri: uri.to_owned(),
        playlist: playlist.to_owned(),
        reason: reason.to_owned(),
    };
    if has_scheme(uri) {
        return Ok(Target::Elsewhere);
    }
    let path = uri.split(['?', '#']).next().unwrap_or_default();
    if path.is_empty() {
        return Err(bad("empty URI"));
    }
    let mut segments: Vec<&str> = match path.strip_prefix('/') {
        Some(_) => Vec::new(),
        None => folder(playlist)
            .split('/')
            .filter(|s| !s.is_empty())
            .collect(),
    };
    for segment in path.split('/') {
        match segment {
            "" | "." => {}
            ".." => {
                segments
                    .pop()
                    .ok_or_else(|| bad("'..' climbs above the root"))?;
            }
            s => segments.push(s),
        }
    }
    key_from_path(&format!("/{}", segments.join("/")))
        .map(Target::Key)
        .map_err(|e| bad(&e.to_string()))
}

/// Whether `uri` starts with a URI scheme (`name:` before any `/`, `?` or `#`, RFC 3986 §3.1).
fn has_scheme(uri: &str) -> bool {
    let end = uri.find([':', '/', '?', '#']);
    end.is_some_and(|at| {
        uri.as_bytes()[at] == b':'
            && at > 0
            && uri.as_bytes()[0].is_ascii_alphabetic()
            && uri[..at]
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'))
    })
}

/// The folder of `key`, with its trailing `/` (empty at the top).
pub fn folder(key: &str) -> &str {
    key.rfind('/').map_or("", |at| &key[..=at])
}

/// The URI a playlist stored at `playlist` writes to name the object `key`: relative, percent-encoded so
/// it decodes back to `key`.
pub fn relative(playlist: &str, key: &str) -> String {
    let from: Vec<&str> = folder(playlist)
        .split('/')
        .filter(|s| !s.is_empty())
        .collect();
    let to: Vec<&str> = key.split('/').collect();
    let common = from
        .iter()
        .zip(&to[..to.len() - 1])
        .take_while(|(a, b)| a == b)
        .count();
    let down = to[common..].join("/");
    let encoded = &path_from_key(&down)[1..];
    let up = "../".repeat(from.len() - common);
    // A first segment with a colon would read as a scheme.
    if up.is_empty() && encoded.split('/').next().is_some_and(|s| s.contains(':')) {
        format!("./{encoded}")
    } else {
        format!("{up}{encoded}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(playlist: &str, uri: &str) -> String {
        match resolve(playlist, uri) {
            Ok(Target::Key(k)) => k,
            other => panic!("{uri}: {other:?}"),
        }
    }

    #[test]
    fn resolves_like_a_player_request() {
        assert_eq!(key("live/ch1/index.m3u8", "seg1.ts"), "live/ch1/seg1.ts");
        assert_eq!(
            key("live/ch1/index.m3u8", "seg1.ts?token=x#t"),
            "live/ch1/seg1.ts"
        );
        assert_eq!(key("live/ch1/index.m3u8", "../ch2/./a.ts"), "live/ch2/a.ts");
        assert_eq!(key("live/ch1/index.m3u8", "/other/a.ts"), "other/a.ts");
        assert_eq!(
            key("live/ch1/index.m3u8", "my%20seg.ts"),
            "live/ch1/my seg.ts"
        );
        assert_eq!(key("index.m3u8", "v/a.ts"), "v/a.ts");
        assert_eq!(key("live/index.m3u8", "./a:b.ts"), "live/a:b.ts");
    }

    #[test]
    fn elsewhere_and_escapes() {
        for uri in [
            "https://cdn.example/a.ts",
            "skd://key",
            "data:text/plain,x",
            "HTTP://x/y",
        ] {
            assert_eq!(
                resolve("live/index.m3u8", uri),
                Ok(Target::Elsewhere),
                "{uri}"
            );
        }
        for uri in ["../../a.ts", "%2e%2e/a.ts", "a%00.ts", "", "/"] {
            assert!(resolve("live/index.m3u8", uri).is_err(), "{uri}");
        }
        let e = resolve("live/index.m3u8", "../../a.ts").unwrap_err();
        assert!(e.to_string().contains("climbs above the root"), "{e}");
    }

    #[test]
    fn relative_uris_decode_back_to_the_key() {
        for (playlist, target, uri) in [
            ("vod/c/index.m3u8", "vod/c/seg1.ts", "seg1.ts"),
            (
                "vod/c/master.m3u8",
                "vod/c/720p/index.m3u8",
                "720p/index.m3u8",
            ),
            (
                "vod/c/720p/index.m3u8",
                "vod/c/audio/a.aac",
                "../audio/a.aac",
            ),
            ("vod/c/index.m3u8", "vod/c/my seg?.ts", "my%20seg%3F.ts"),
            ("vod/c/index.m3u8", "vod/c/a:b.ts", "./a:b.ts"),
            ("index.m3u8", "a.ts", "a.ts"),
        ] {
            assert_eq!(relative(playlist, target), uri);
            assert_eq!(key(playlist, uri), target, "{uri}");
        }
    }
}
