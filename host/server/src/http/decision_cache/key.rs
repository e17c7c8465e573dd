//! The key a remembered decision is found by: which guest set, method and object (the *primary* key, known
//! before any decision), then the values of the request parts the guest's hint named (known only once a
//! decision for that object said which parts matter: the *spec*). Like HTTP's `Vary`, one spec per object;
//! a later decision with another spec replaces it.

use std::hash::{Hash, Hasher};

use http::{HeaderMap, HeaderName, Method};
use percent_encoding::percent_decode_str;
use quick_cache::Equivalent;
use strata_abi::types::{QueryParts, Reuse};

/// The query parameter players put CMCD in (CTA-5004): never part of a key.
const CMCD_PARAM: &str = "CMCD";
/// The prefix of the headers players put CMCD in: never part of a key.
const CMCD_HEADERS: &str = "cmcd-";

/// A request as the cache looks at it: what the guest would see of it.
#[derive(Debug)]
pub struct Asked<'a> {
    /// The live set of the handler that would decide it (`Handler::generation`).
    pub generation: u64,
    /// Its method.
    pub method: &'a Method,
    /// Its decoded object key.
    pub key: &'a str,
    /// Its query string, without `?`.
    pub query: &'a str,
    /// Its header fields.
    pub headers: &'a HeaderMap,
    /// The host's load for it, in permille (`request.load-permille`).
    pub load_permille: u16,
}

/// Which guest set, method and object: what every request for the object shares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Primary {
    generation: u64,
    method: Method,
    key: Box<str>,
}

/// A [`Primary`] borrowed from a request, to look one up without copying the key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PrimaryRef<'a> {
    generation: u64,
    method: &'a str,
    key: &'a str,
}

impl<'a> PrimaryRef<'a> {
    /// The primary key of `asked`.
    pub fn of(asked: &Asked<'a>) -> PrimaryRef<'a> {
        PrimaryRef {
            generation: asked.generation,
            method: asked.method.as_str(),
            key: asked.key,
        }
    }
}

impl Primary {
    /// The primary key of `asked`, owned.
    pub fn of(asked: &Asked<'_>) -> Primary {
        Primary {
            generation: asked.generation,
            method: asked.method.clone(),
            key: asked.key.into(),
        }
    }

    fn borrowed(&self) -> PrimaryRef<'_> {
        PrimaryRef {
            generation: self.generation,
            method: self.method.as_str(),
            key: &self.key,
        }
    }

    /// Bytes it holds, for the cache's budget.
    pub fn weight(&self) -> usize {
        self.key.len() + 32
    }
}

impl Hash for Primary {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.borrowed().hash(state);
    }
}

impl Equivalent<Primary> for PrimaryRef<'_> {
    fn equivalent(&self, key: &Primary) -> bool {
        *self == key.borrowed()
    }
}

/// The request parts a guest's hint named, checked: header names HTTP can carry, CMCD left out.
#[derive(Debug, PartialEq, Eq)]
pub struct Spec {
    query: QueryParts,
    headers: Vec<HeaderName>,
    load_threshold_permille: Option<u16>,
}

/// The full key of a remembered decision: its primary key and the values of its spec's parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryKey {
    primary: Primary,
    /// The selected query pairs, then each named header's values; `0x00` ends a part, `0x01` a value
    /// (neither can occur in a URI or a header value).
    parts: Box<[u8]>,
    /// Whether the load is at or above the spec's threshold.
    loaded: bool,
}

/// An [`EntryKey`] borrowed from a request, to look one up without copying its primary key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EntryKeyRef<'a> {
    primary: PrimaryRef<'a>,
    parts: &'a [u8],
    loaded: bool,
}

impl EntryKey {
    /// Bytes it holds, for the cache's budget.
    pub fn weight(&self) -> usize {
        self.primary.weight() + self.parts.len()
    }

    fn borrowed(&self) -> EntryKeyRef<'_> {
        EntryKeyRef {
            primary: self.primary.borrowed(),
            parts: &self.parts,
            loaded: self.loaded,
        }
    }
}

impl Hash for EntryKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.borrowed().hash(state);
    }
}

impl Equivalent<EntryKey> for EntryKeyRef<'_> {
    fn equivalent(&self, key: &EntryKey) -> bool {
        *self == key.borrowed()
    }
}

/// The values of a request's parts under a spec, to build an [`EntryKeyRef`] from.
#[derive(Debug, PartialEq, Eq)]
pub struct Parts {
    bytes: Vec<u8>,
    loaded: bool,
}

impl Parts {
    /// The borrowed key of these parts for `primary`.
    pub fn key<'a>(&'a self, primary: PrimaryRef<'a>) -> EntryKeyRef<'a> {
        EntryKeyRef {
            primary,
            parts: &self.bytes,
            loaded: self.loaded,
        }
    }
}

impl Spec {
    /// The spec a guest's hint gives; header names HTTP cannot carry cannot be sent, so they are absent
    /// from every request and are left out.
    pub fn new(reuse: &Reuse) -> Spec {
        let query = match &reuse.query {
            QueryParts::Only(names) => QueryParts::Only(
                names
                    .iter()
                    .filter(|name| !is_cmcd_param(name))
                    .cloned()
                    .collect(),
            ),
            other => other.clone(),
        };
        let mut headers: Vec<HeaderName> = reuse
            .headers
            .iter()
            .filter(|name| !name.to_ascii_lowercase().starts_with(CMCD_HEADERS))
            .filter_map(|name| HeaderName::from_bytes(name.as_bytes()).ok())
            .collect();
        headers.dedup();
        Spec {
            query,
            headers,
            load_threshold_permille: reuse.load_threshold_permille,
        }
    }

    /// The key of `asked` under this spec, owned.
    pub fn key(&self, asked: &Asked<'_>) -> EntryKey {
        let parts = self.parts(asked);
        EntryKey {
            primary: Primary::of(asked),
            parts: parts.bytes.into_boxed_slice(),
            loaded: parts.loaded,
        }
    }

    /// The values of `asked`'s parts this spec names.
    pub fn parts(&self, asked: &Asked<'_>) -> Parts {
        let mut parts = Vec::with_capacity(asked.query.len() + 16);
        match &self.query {
            QueryParts::None => {}
            QueryParts::All => {
                for pair in pairs(asked.query).filter(|pair| !is_cmcd_param(name_of(pair))) {
                    parts.extend_from_slice(pair.as_bytes());
                    parts.push(0x01);
                }
            }
            QueryParts::Only(names) => {
                for pair in pairs(asked.query).filter(|pair| {
                    let name = name_of(pair);
                    names.iter().any(|wanted| decoded(name) == wanted.as_str())
                }) {
                    parts.extend_from_slice(pair.as_bytes());
                    parts.push(0x01);
                }
            }
        }
        parts.push(0x00);
        for name in &self.headers {
            for value in asked.headers.get_all(name) {
                parts.extend_from_slice(value.as_bytes());
                parts.push(0x01);
            }
            parts.push(0x00);
        }
        Parts {
            bytes: parts,
            loaded: self
                .load_threshold_permille
                .is_some_and(|threshold| asked.load_permille >= threshold),
        }
    }

    /// Bytes it holds, for the cache's budget.
    pub fn weight(&self) -> usize {
        let query = match &self.query {
            QueryParts::Only(names) => names.iter().map(String::len).sum(),
            QueryParts::None | QueryParts::All => 0,
        };
        query
            + self
                .headers
                .iter()
                .map(|h| h.as_str().len() + 24)
                .sum::<usize>()
            + 64
    }
}

/// The `name=value` pairs of a query string, empty ones skipped.
fn pairs(query: &str) -> impl Iterator<Item = &str> {
    query.split('&').filter(|pair| !pair.is_empty())
}

fn name_of(pair: &str) -> &str {
    pair.split_once('=').map_or(pair, |(name, _)| name)
}

/// A parameter name as a guest reads it: percent-decoded.
fn decoded(name: &str) -> std::borrow::Cow<'_, str> {
    percent_decode_str(name).decode_utf8_lossy()
}

/// Whether a query parameter name is CMCD's, however it is spelled or escaped.
fn is_cmcd_param(name: &str) -> bool {
    decoded(name).eq_ignore_ascii_case(CMCD_PARAM)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reuse(query: QueryParts, headers: &[&str], threshold: Option<u16>) -> Reuse {
        Reuse {
            query,
            headers: headers.iter().map(|h| (*h).to_owned()).collect(),
            max_age_ms: 1_000,
            load_threshold_permille: threshold,
        }
    }

    fn key_of(spec: &Spec, query: &str, headers: &[(&str, &str)], load: u16) -> EntryKey {
        let mut map = HeaderMap::new();
        for (name, value) in headers {
            map.append(
                HeaderName::from_bytes(name.as_bytes()).unwrap(),
                value.parse().unwrap(),
            );
        }
        let asked = Asked {
            generation: 1,
            method: &Method::GET,
            key: "live/index.m3u8",
            query,
            headers: &map,
            load_permille: load,
        };
        let key = spec.key(&asked);
        assert_eq!(
            key.borrowed(),
            spec.parts(&asked).key(PrimaryRef::of(&asked)),
            "the owned and the borrowed key agree"
        );
        key
    }

    #[test]
    fn cmcd_never_splits_a_key() {
        let spec = Spec::new(&reuse(QueryParts::All, &["range", "cmcd-request"], None));
        let plain = key_of(&spec, "_HLS_msn=3", &[], 0);
        for (query, headers) in [
            ("_HLS_msn=3&CMCD=bl%3D300%2Csid%3D%22a%22", vec![]),
            (
                "CMCD=br%3D900&_HLS_msn=3",
                vec![("cmcd-request", "bl=21300")],
            ),
            ("%43MCD=x&_HLS_msn=3", vec![("cmcd-session", "sid=\"b\"")]),
        ] {
            assert_eq!(key_of(&spec, query, &headers, 0), plain, "{query}");
        }
        let only = Spec::new(&reuse(QueryParts::Only(vec!["CMCD".into()]), &[], None));
        assert_eq!(
            key_of(&only, "CMCD=a", &[], 0),
            key_of(&only, "CMCD=b", &[], 0)
        );
    }

    #[test]
    fn named_parts_split_a_key_and_others_do_not() {
        let spec = Spec::new(&reuse(
            QueryParts::Only(vec!["aws.manifestfilter".into()]),
            &["if-none-match"],
            None,
        ));
        let base = key_of(&spec, "aws.manifestfilter=video_height:1-720", &[], 0);
        assert_eq!(
            key_of(&spec, "aws.manifestfilter=video_height:1-720&x=1", &[], 0),
            base
        );
        assert_ne!(
            key_of(&spec, "aws.manifestfilter=video_height:1-1080", &[], 0),
            base
        );
        assert_ne!(
            key_of(
                &spec,
                "aws.manifestfilter=video_height:1-720",
                &[("if-none-match", "\"e\"")],
                0
            ),
            base
        );
        // An empty header is a value, not an absence.
        assert_ne!(
            key_of(
                &spec,
                "aws.manifestfilter=video_height:1-720",
                &[("if-none-match", "")],
                0
            ),
            base
        );
    }

    #[test]
    fn the_load_splits_a_key_only_across_the_threshold() {
        let spec = Spec::new(&reuse(QueryParts::None, &[], Some(800)));
        assert_eq!(key_of(&spec, "", &[], 0), key_of(&spec, "", &[], 799));
        assert_ne!(key_of(&spec, "", &[], 799), key_of(&spec, "", &[], 800));
        assert_eq!(key_of(&spec, "", &[], 800), key_of(&spec, "", &[], 4000));
        let unloaded = Spec::new(&reuse(QueryParts::None, &[], None));
        assert_eq!(
            key_of(&unloaded, "", &[], 0),
            key_of(&unloaded, "", &[], 4000)
        );
    }
}
