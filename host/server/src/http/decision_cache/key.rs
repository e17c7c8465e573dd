//! The key a remembered decision is found by: which guest set, method and object (the *primary* key, known
//! before any decision), then the values of the request parts the guest's hint named (known only once a
//! decision for that object said which parts matter: the *spec*). Like HTTP's `Vary`, one spec per object;
//! a later decision with another spec replaces it. Specs and decisions share one cache ([`Key`]), so one
//! budget and one eviction policy weigh them against each other.

use std::hash::{Hash, Hasher};

use http::{HeaderMap, HeaderName, Method};
use percent_encoding::percent_decode_str;
use quick_cache::Equivalent;
use strata_abi::types::{QueryParts, Reuse};

use super::front::Retired;

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
}

/// What the cache holds an item under: the spec of an object, or one decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Key {
    /// The spec the last decision for an object gave.
    Spec(Primary),
    /// A decision.
    Decision(EntryKey),
}

/// A [`Key`] borrowed from a request, to look an item up without copying.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyRef<'a> {
    /// See [`Key::Spec`].
    Spec(PrimaryRef<'a>),
    /// See [`Key::Decision`].
    Decision(EntryKeyRef<'a>),
}

impl Key {
    fn borrowed(&self) -> KeyRef<'_> {
        match self {
            Key::Spec(primary) => KeyRef::Spec(primary.borrowed()),
            Key::Decision(key) => KeyRef::Decision(key.borrowed()),
        }
    }

    /// Bytes it holds, for the cache's budget.
    pub fn weight(&self) -> usize {
        let heap = match self {
            Key::Spec(primary) => primary.key.len(),
            Key::Decision(key) => key.primary.key.len() + key.parts.len(),
        };
        std::mem::size_of::<Key>() + heap
    }
}

impl Hash for Key {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.borrowed().hash(state);
    }
}

impl Equivalent<Key> for KeyRef<'_> {
    fn equivalent(&self, key: &Key) -> bool {
        *self == key.borrowed()
    }
}

/// The request parts a guest's hint named, checked: header names HTTP can carry, CMCD left out.
#[derive(Debug, PartialEq, Eq)]
pub struct Spec {
    query: QueryParts,
    headers: Vec<HeaderName>,
    load_threshold_permille: Option<u16>,
    /// Bytes [`Spec::parts`] writes whatever the request holds (tags, counts, names), so its buffer is
    /// allocated once (derived from the fields above, so equal specs agree on it).
    fixed_bytes: usize,
    /// Set when it leaves the cache, for the fronts that keep it (`front.rs`); not part of what it is.
    pub(super) retired: Retired,
}

/// The full key of a remembered decision: its primary key, the spec it was decided under and the values of
/// the spec's parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryKey {
    primary: Primary,
    /// The spec's parts and their values, each length-prefixed (see [`Spec::parts`]): two requests have the
    /// same bytes only if they agree on every part of the same spec.
    parts: Box<[u8]>,
    /// The spec's load threshold.
    threshold: Option<u16>,
    /// Whether the load is at or above it.
    loaded: bool,
}

/// An [`EntryKey`] borrowed from a request, to look one up without copying its primary key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EntryKeyRef<'a> {
    primary: PrimaryRef<'a>,
    parts: &'a [u8],
    threshold: Option<u16>,
    loaded: bool,
}

impl EntryKey {
    fn borrowed(&self) -> EntryKeyRef<'_> {
        EntryKeyRef {
            primary: self.primary.borrowed(),
            parts: &self.parts,
            threshold: self.threshold,
            loaded: self.loaded,
        }
    }
}

/// The values of a request's parts under a spec, to build an [`EntryKeyRef`] from.
#[derive(Debug, PartialEq, Eq)]
pub struct Parts {
    bytes: Vec<u8>,
    threshold: Option<u16>,
    loaded: bool,
}

impl Parts {
    /// The borrowed key of these parts for `primary`.
    pub fn key<'a>(&'a self, primary: PrimaryRef<'a>) -> EntryKeyRef<'a> {
        EntryKeyRef {
            primary,
            parts: &self.bytes,
            threshold: self.threshold,
            loaded: self.loaded,
        }
    }
}

/// Tags of the query part in [`Spec::parts`].
const QUERY_NONE: u8 = 0;
const QUERY_ALL: u8 = 1;
const QUERY_ONLY: u8 = 2;

impl Spec {
    /// The spec a guest's hint gives; header names HTTP cannot carry cannot be sent, so they are absent
    /// from every request and are left out.
    pub fn new(reuse: &Reuse) -> Spec {
        let query = match &reuse.query {
            QueryParts::Only(names) => {
                let mut names: Vec<String> = names
                    .iter()
                    .filter(|name| !is_cmcd_param(name))
                    .cloned()
                    .collect();
                names.sort();
                names.dedup();
                QueryParts::Only(names)
            }
            other => other.clone(),
        };
        let mut headers: Vec<HeaderName> = reuse
            .headers
            .iter()
            .filter(|name| !name.to_ascii_lowercase().starts_with(CMCD_HEADERS))
            .filter_map(|name| HeaderName::from_bytes(name.as_bytes()).ok())
            .collect();
        headers.sort_by(|a, b| a.as_str().cmp(b.as_str()));
        headers.dedup();
        // A tag and a count per list, a length (at most 10 bytes of LEB128) before each name.
        let named =
            |names: &mut dyn Iterator<Item = usize>| names.map(|len| 10 + len).sum::<usize>();
        let query_names = match &query {
            QueryParts::Only(names) => named(&mut names.iter().map(String::len)),
            QueryParts::None | QueryParts::All => 0,
        };
        let fixed_bytes =
            1 + 8 + query_names + 10 + named(&mut headers.iter().map(|h| h.as_str().len() + 4));
        Spec {
            query,
            headers,
            load_threshold_permille: reuse.load_threshold_permille,
            fixed_bytes,
            retired: Retired::default(),
        }
    }

    /// The key of `asked` under this spec, owned.
    pub fn key(&self, asked: &Asked<'_>) -> EntryKey {
        let parts = self.parts(asked);
        EntryKey {
            primary: Primary::of(asked),
            parts: parts.bytes.into_boxed_slice(),
            threshold: parts.threshold,
            loaded: parts.loaded,
        }
    }

    /// The values of `asked`'s parts this spec names, with the spec itself: the query's kind (and the names
    /// of `only`), then the selected query pairs; each header's name, then its values. Every name, pair and
    /// value is length-prefixed and every list counted, so no two different specs or values give the same
    /// bytes whatever the guest named or the client sent.
    pub fn parts(&self, asked: &Asked<'_>) -> Parts {
        let mut bytes = Vec::with_capacity(self.fixed_bytes + 2 * asked.query.len() + 64);
        match &self.query {
            QueryParts::None => bytes.push(QUERY_NONE),
            QueryParts::All => {
                bytes.push(QUERY_ALL);
                // Empty pairs are kept: a guest may read the query string as it is.
                fields(
                    &mut bytes,
                    asked
                        .query
                        .split('&')
                        .filter(|pair| !is_cmcd_param(name_of(pair)))
                        .map(str::as_bytes),
                );
            }
            QueryParts::Only(names) => {
                bytes.push(QUERY_ONLY);
                fields(&mut bytes, names.iter().map(String::as_bytes));
                fields(
                    &mut bytes,
                    pairs(asked.query)
                        .filter(|pair| {
                            let name = name_of(pair);
                            names.iter().any(|wanted| may_name(name, wanted))
                        })
                        .map(str::as_bytes),
                );
            }
        }
        length(&mut bytes, self.headers.len());
        for name in &self.headers {
            field(&mut bytes, name.as_str().as_bytes());
            fields(
                &mut bytes,
                asked.headers.get_all(name).iter().map(|v| v.as_bytes()),
            );
        }
        Parts {
            bytes,
            threshold: self.load_threshold_permille,
            loaded: self
                .load_threshold_permille
                .is_some_and(|threshold| asked.load_permille >= threshold),
        }
    }

    /// Bytes it holds, for the cache's budget.
    pub fn weight(&self) -> usize {
        let query = match &self.query {
            QueryParts::Only(names) => names
                .iter()
                .map(|name| std::mem::size_of::<String>() + name.len())
                .sum(),
            QueryParts::None | QueryParts::All => 0,
        };
        std::mem::size_of::<Spec>()
            + query
            + self
                .headers
                .iter()
                .map(|h| std::mem::size_of::<HeaderName>() + h.as_str().len())
                .sum::<usize>()
    }
}

/// Appends `n` as LEB128.
fn length(out: &mut Vec<u8>, mut n: usize) {
    loop {
        let low = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            out.push(low);
            return;
        }
        out.push(low | 0x80);
    }
}

/// Appends `bytes`, length first.
fn field(out: &mut Vec<u8>, bytes: &[u8]) {
    length(out, bytes.len());
    out.extend_from_slice(bytes);
}

/// Appends how many `items` there are (4 bytes), then each as a [`field`].
fn fields<'a>(out: &mut Vec<u8>, items: impl Iterator<Item = &'a [u8]>) {
    let at = out.len();
    out.extend_from_slice(&[0; 4]);
    let mut count: u32 = 0;
    for item in items {
        field(out, item);
        count = count.saturating_add(1);
    }
    out[at..at + 4].copy_from_slice(&count.to_le_bytes());
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

/// Whether a guest that asked for parameter `wanted` may read the pair named `name` as it: by the name as
/// sent, percent-decoded, or form-decoded (`+` as a space), in any ASCII case. Guests parse queries in
/// different ways; a pair kept needlessly only splits a key, a pair left out would replay an answer decided
/// for another value.
fn may_name(name: &str, wanted: &str) -> bool {
    name.eq_ignore_ascii_case(wanted)
        || decoded(name).eq_ignore_ascii_case(wanted)
        || (name.contains('+') && decoded(&name.replace('+', " ")).eq_ignore_ascii_case(wanted))
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
    fn keys_under_different_specs_never_meet() {
        // A decision for a request without If-None-Match (whatever its Range) must not answer a request
        // without Range (whatever its If-None-Match) that a later spec looks up: the values alone agree.
        let by_inm = Spec::new(&reuse(QueryParts::All, &["if-none-match"], None));
        let by_range = Spec::new(&reuse(QueryParts::All, &["range"], None));
        assert_ne!(
            key_of(&by_inm, "", &[("range", "bytes=0-1")], 0),
            key_of(&by_range, "", &[("if-none-match", "\"e\"")], 0)
        );
        // Nor the same value under two header names.
        assert_ne!(
            key_of(&by_inm, "", &[("if-none-match", "x")], 0),
            key_of(&by_range, "", &[("range", "x")], 0)
        );
        // Nor decisions split at two thresholds (load 850: below 900, at or above 800).
        let at_800 = Spec::new(&reuse(QueryParts::None, &[], Some(800)));
        let at_900 = Spec::new(&reuse(QueryParts::None, &[], Some(900)));
        let unloaded = Spec::new(&reuse(QueryParts::None, &[], None));
        assert_ne!(key_of(&at_800, "", &[], 700), key_of(&at_900, "", &[], 850));
        assert_ne!(key_of(&unloaded, "", &[], 0), key_of(&at_800, "", &[], 0));
        // Nor the query kinds, nor values that would run into each other without their lengths.
        let none = Spec::new(&reuse(QueryParts::None, &[], None));
        let all = Spec::new(&reuse(QueryParts::All, &[], None));
        assert_ne!(key_of(&none, "", &[], 0), key_of(&all, "", &[], 0));
        let two = Spec::new(&reuse(QueryParts::All, &["a", "b"], None));
        assert_ne!(
            key_of(&two, "", &[("a", "x"), ("b", "y")], 0),
            key_of(&two, "", &[("a", "x"), ("a", "y")], 0)
        );
    }

    #[test]
    fn only_keeps_every_pair_a_guest_may_read_under_the_name() {
        let spec = Spec::new(&reuse(
            QueryParts::Only(vec!["aws.manifestfilter".into(), "a b".into()]),
            &[],
            None,
        ));
        let plain = key_of(&spec, "aws.manifestfilter=v1", &[], 0);
        for query in [
            "AWS.ManifestFilter=v1",
            "aws%2Emanifestfilter=v1",
            "%61ws.manifestfilter=v1",
        ] {
            assert_ne!(
                key_of(&spec, query, &[], 0),
                key_of(&spec, "", &[], 0),
                "{query}"
            );
            assert_ne!(
                key_of(&spec, query, &[], 0),
                key_of(&spec, &query.replace("v1", "v2"), &[], 0),
                "{query}"
            );
        }
        assert_ne!(plain, key_of(&spec, "aws.manifestfilter=v2", &[], 0));
        for query in ["a+b=1", "a%20b=1", "A+B=1"] {
            assert_ne!(
                key_of(&spec, query, &[], 0),
                key_of(&spec, &query.replace('1', "2"), &[], 0),
                "{query}"
            );
        }
        // Parameters it did not name still do not split the key.
        assert_eq!(key_of(&spec, "aws.manifestfilter=v1&x=1", &[], 0), plain);
    }

    #[test]
    fn all_keeps_the_query_as_sent_but_cmcd() {
        let all = Spec::new(&reuse(QueryParts::All, &[], None));
        assert_ne!(
            key_of(&all, "a=1&&b=2", &[], 0),
            key_of(&all, "a=1&b=2", &[], 0)
        );
        assert_ne!(
            key_of(&all, "a=1&b=2", &[], 0),
            key_of(&all, "b=2&a=1", &[], 0)
        );
        assert_eq!(
            key_of(&all, "a=1&cmcd=x", &[], 0),
            key_of(&all, "a=1&CMCD=y", &[], 0)
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
