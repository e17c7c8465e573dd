//! Test helpers: an in-memory [`Objects`] and request/meta builders.

use std::cell::RefCell;
use std::collections::BTreeMap;

use crate::objects::{Objects, ReadError, WriteError};
use crate::types::{Headers, Limits, ObjectMeta, Request, Settings, StaleRoute};

/// Objects by key; a `BTreeMap` so listings are in lexical order like the real tiers.
/// `written` holds what decisions wrote through [`Objects::write_state`].
#[derive(Default)]
pub struct MemStore {
    pub objects: BTreeMap<String, (ObjectMeta, Vec<u8>)>,
    pub written: RefCell<BTreeMap<String, (ObjectMeta, Vec<u8>)>>,
}

impl MemStore {
    pub fn with(mut self, key: &str, body: &[u8]) -> Self {
        self.put(key, body);
        self
    }

    pub fn put(&mut self, key: &str, body: &[u8]) {
        let m = meta(key, body.len() as u64);
        self.objects.insert(key.to_string(), (m, body.to_vec()));
    }
}

impl Objects for MemStore {
    fn head(&self, key: &str) -> Option<ObjectMeta> {
        if let Some((m, _)) = self.written.borrow().get(key) {
            return Some(m.clone());
        }
        self.objects.get(key).map(|(m, _)| m.clone())
    }

    fn read(&self, key: &str, max_bytes: u64) -> Result<Vec<u8>, ReadError> {
        if let Some((_, b)) = self.written.borrow().get(key) {
            return Ok(b.clone());
        }
        match self.objects.get(key) {
            None => Err(ReadError::NotFound),
            Some((_, b)) if b.len() as u64 > max_bytes => Err(ReadError::TooLarge(b.len() as u64)),
            Some((_, b)) => Ok(b.clone()),
        }
    }

    fn list_ending(&self, prefix: &str, suffixes: &[&str], limit: u32) -> Vec<String> {
        self.objects
            .keys()
            .filter(|k| k.starts_with(prefix) && crate::objects::ends_with_any(k, suffixes))
            .take(limit as usize)
            .cloned()
            .collect()
    }

    fn write_state(
        &self,
        key: &str,
        expected: Option<&str>,
        body: &[u8],
    ) -> Result<String, WriteError> {
        let mut written = self.written.borrow_mut();
        if written.get(key).map(|(m, _)| m.etag.as_str()) != expected {
            return Err(WriteError::Conflict);
        }
        let mut m = meta(key, body.len() as u64);
        m.etag = format!("\"state-{}\"", crate::manifest::fnv1a(body));
        written.insert(key.to_string(), (m.clone(), body.to_vec()));
        Ok(m.etag)
    }
}

/// 1994-11-06T08:49:37Z, RFC 9110's example date.
pub const LAST_MODIFIED: u64 = 784_111_777;

/// 2024-05-01T12:00:00Z, the request clock of every test request.
pub const NOW_MS: u64 = 1_714_564_800_000;

pub fn meta(key: &str, size: u64) -> ObjectMeta {
    ObjectMeta {
        key: key.to_string(),
        size,
        content_type: crate::media_type::content_type_for(key).to_string(),
        etag: format!("\"etag-{key}\""),
        last_modified: LAST_MODIFIED,
        cache_control: None,
        metadata: Vec::new(),
        complete: true,
    }
}

/// A request at [`NOW_MS`]. Its objects are dated [`LAST_MODIFIED`] (1994), so every live playlist would
/// be stale: test requests never find one stale unless a test clears `settings.stale` (`stale.rs`).
pub fn request(method: &str, path: &str, headers: &[(&str, &str)]) -> Request {
    Request {
        method: method.to_string(),
        key: strata_abi::key::key_from_path(path).unwrap_or_default(),
        path: path.to_string(),
        query: String::new(),
        headers: headers
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect(),
        waited_ms: 0,
        limits: Limits {
            max_object_bytes: 1 << 20,
        },
        settings: Settings {
            stale: vec![never_stale()],
            ..Settings::default()
        },
        now_ms: NOW_MS,
        load_permille: 0,
    }
}

/// Settings from their string form, e.g. `&[("sign:live/", "key")]`, with staleness off as in
/// [`request`].
pub fn settings(pairs: &[(&str, &str)]) -> Settings {
    let pairs: Vec<(String, String)> = pairs
        .iter()
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect();
    let mut settings = Settings::from_pairs(&pairs).expect("valid test settings");
    settings.stale.push(never_stale());
    settings
}

/// A route under which no playlist goes stale, for every key.
fn never_stale() -> StaleRoute {
    StaleRoute {
        prefix: String::new(),
        after_target_durations: 0,
        status: 404,
    }
}

pub fn header<'a>(headers: &'a Headers, name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}
