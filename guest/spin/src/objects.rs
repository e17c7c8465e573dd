//! Objects in a key-value store: a metadata record under `obj:<key>` and the body in chunks under
//! `chunk:<version>:<n>`, because Spin documents key-value values up to 1 MB and segments are larger.
//!
//! Writes put every chunk of the new version first, then the record (the commit point), then remove the
//! previous version's chunks, so a reader holding either record finds whole chunks under it. Spin's store
//! has no transactions: a reader that read the old record just before the old chunks went gets a missing
//! chunk, answered as a 503 the player retries.

use guest_core::objects::{Objects, ReadError, WriteError, ends_with_any};
use guest_core::types::{Headers, ObjectMeta, StorePlan};
use serde::{Deserialize, Serialize};
use strata_guest_core as guest_core;

use crate::kv::{Kv, KvError};

/// Largest chunk written, in bytes: under the 1 MB Spin documents for a key-value value.
pub const CHUNK_BYTES: usize = 1_000_000;

/// Prefix of the metadata records' keys.
const RECORD_PREFIX: &str = "obj:";

/// Prefix of the chunks' keys.
const CHUNK_PREFIX: &str = "chunk:";

/// Why an object operation failed.
#[derive(Debug, thiserror::Error)]
pub enum ObjectError {
    /// The store refused a call.
    #[error(transparent)]
    Kv(#[from] KvError),
    /// A record is not the JSON this module writes.
    #[error("metadata of {key} is unreadable: {reason}")]
    BadRecord { key: String, reason: String },
    /// A chunk a record names is missing (replaced or removed meanwhile).
    #[error("chunk {index} of {key} is missing")]
    MissingChunk { key: String, index: u64 },
}

/// What is kept under `obj:<key>`.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Record {
    size: u64,
    content_type: String,
    etag: String,
    last_modified: u64,
    cache_control: Option<String>,
    metadata: Headers,
    /// Names this write's chunks, so a new write never touches the chunks of the current one.
    version: String,
    /// Unix seconds after which the object no longer exists (`?ttl=` / `x-strata-ttl` on PUT).
    expires_at: Option<u64>,
}

/// The objects kept in a [`Kv`], as guest/core's [`Objects`] sees them and as the outcomes change them.
pub struct KvObjects<'a, K: Kv> {
    kv: &'a K,
    /// The wall clock, Unix seconds, for Last-Modified and TTL expiry.
    now: u64,
}

impl<'a, K: Kv> KvObjects<'a, K> {
    /// The objects in `kv`, seen at wall-clock time `now` (Unix seconds).
    pub fn new(kv: &'a K, now: u64) -> Self {
        KvObjects { kv, now }
    }

    /// The record under `key`, expired or not.
    fn stored(&self, key: &str) -> Result<Option<Record>, ObjectError> {
        let Some(bytes) = self.kv.get(&record_key(key))? else {
            return Ok(None);
        };
        serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| ObjectError::BadRecord {
                key: key.into(),
                reason: e.to_string(),
            })
    }

    /// The live record of `key`, if any: expired ones are absent.
    fn record(&self, key: &str) -> Result<Option<Record>, ObjectError> {
        Ok(self
            .stored(key)?
            .filter(|r| r.expires_at.is_none_or(|at| at > self.now)))
    }

    /// Bytes `first..=last` of `key` as its entity tag `etag` names them; `None` if the object is gone or
    /// changed. The caller keeps the range within the object.
    pub fn read_range(
        &self,
        key: &str,
        etag: &str,
        first: u64,
        last: u64,
    ) -> Result<Option<Vec<u8>>, ObjectError> {
        let Some(record) = self.record(key)?.filter(|r| r.etag == etag) else {
            return Ok(None);
        };
        let chunk = CHUNK_BYTES as u64;
        let mut out = Vec::with_capacity((last + 1 - first) as usize);
        for index in first / chunk..=last / chunk {
            let bytes = self
                .kv
                .get(&chunk_key(&record.version, index))?
                .ok_or_else(|| ObjectError::MissingChunk {
                    key: key.into(),
                    index,
                })?;
            let start = index * chunk;
            let from = first.saturating_sub(start) as usize;
            let to = ((last + 1 - start) as usize).min(bytes.len());
            out.extend_from_slice(bytes.get(from..to).unwrap_or_default());
        }
        Ok(Some(out))
    }

    /// Stores `body` as the object `plan` describes, replacing any object under its key; answers its
    /// metadata (with the new entity tag, blake3 of the body like the Strata host's).
    pub fn write(&self, plan: &StorePlan, body: &[u8]) -> Result<ObjectMeta, ObjectError> {
        let hash = blake3::hash(body).to_hex();
        let previous = self.stored(&plan.key).ok().flatten();
        let mut hasher = blake3::Hasher::new();
        hasher.update(plan.key.as_bytes());
        hasher.update(&self.now.to_le_bytes());
        hasher.update(hash.as_bytes());
        if let Some(previous) = &previous {
            hasher.update(previous.version.as_bytes());
        }
        let version = hasher.finalize().to_hex()[..32].to_string();
        for (index, chunk) in body.chunks(CHUNK_BYTES).enumerate() {
            self.kv.set(&chunk_key(&version, index as u64), chunk)?;
        }
        let record = Record {
            size: body.len() as u64,
            content_type: plan.content_type.clone(),
            etag: format!("\"{}\"", &hash[..32]),
            last_modified: self.now,
            cache_control: plan.cache_control.clone(),
            metadata: plan.metadata.clone(),
            version,
            expires_at: plan.ttl_seconds.map(|ttl| self.now.saturating_add(ttl)),
        };
        let json = serde_json::to_vec(&record).map_err(|e| ObjectError::BadRecord {
            key: plan.key.clone(),
            reason: e.to_string(),
        })?;
        self.kv.set(&record_key(&plan.key), &json)?;
        if let Some(previous) = previous {
            self.remove_chunks(&previous)?;
        }
        Ok(meta(&plan.key, record))
    }

    /// Removes the object under `key` (an expired or unreadable one too, with its chunks); `false` if no
    /// live object was there.
    pub fn remove(&self, key: &str) -> Result<bool, ObjectError> {
        let stored = match self.stored(key) {
            Ok(None) => return Ok(false),
            Ok(Some(record)) => Some(record),
            Err(ObjectError::BadRecord { .. }) => None,
            Err(e) => return Err(e),
        };
        self.kv.delete(&record_key(key))?;
        match stored {
            Some(record) => {
                self.remove_chunks(&record)?;
                Ok(record.expires_at.is_none_or(|at| at > self.now))
            }
            None => Ok(true),
        }
    }

    fn remove_chunks(&self, record: &Record) -> Result<(), KvError> {
        for index in 0..record.size.div_ceil(CHUNK_BYTES as u64) {
            self.kv.delete(&chunk_key(&record.version, index))?;
        }
        Ok(())
    }
}

impl<K: Kv> Objects for KvObjects<'_, K> {
    fn head(&self, key: &str) -> Option<ObjectMeta> {
        self.record(key).ok().flatten().map(|r| meta(key, r))
    }

    fn read(&self, key: &str, max_bytes: u64) -> Result<Vec<u8>, ReadError> {
        let record = match self.record(key) {
            Ok(Some(record)) => record,
            Ok(None) => return Err(ReadError::NotFound),
            Err(e) => return Err(ReadError::Io(e.to_string())),
        };
        if record.size > max_bytes {
            return Err(ReadError::TooLarge(record.size));
        }
        if record.size == 0 {
            return Ok(Vec::new());
        }
        match self.read_range(key, &record.etag, 0, record.size - 1) {
            Ok(Some(bytes)) => Ok(bytes),
            Ok(None) => Err(ReadError::NotFound),
            Err(e) => Err(ReadError::Io(e.to_string())),
        }
    }

    /// A redundant route's state, compared then written: Spin's store has no compare-and-set, so two
    /// decisions racing to switch may both write (the later wins; both chose from the same inputs).
    fn write_state(
        &self,
        key: &str,
        expected: Option<&str>,
        body: &[u8],
    ) -> Result<String, WriteError> {
        if !key.starts_with(strata_abi::settings::REDUNDANT_STATE_ROOT) {
            return Err(WriteError::Denied);
        }
        if self.head(key).map(|m| m.etag).as_deref() != expected {
            return Err(WriteError::Conflict);
        }
        let plan = StorePlan {
            key: key.to_owned(),
            content_type: "text/plain; charset=utf-8".into(),
            cache_control: None,
            metadata: Vec::new(),
            status: 204,
            headers: Vec::new(),
            ttl_seconds: None,
        };
        self.write(&plan, body)
            .map(|meta| meta.etag)
            .map_err(|e| WriteError::Io(e.to_string()))
    }

    /// Spin's store lists every key at once: this filters them, so it costs one pass over the store.
    fn list_ending(&self, prefix: &str, suffixes: &[&str], limit: u32) -> Vec<String> {
        let mut keys: Vec<String> = self
            .kv
            .keys()
            .unwrap_or_default()
            .into_iter()
            .filter_map(|k| k.strip_prefix(RECORD_PREFIX).map(str::to_string))
            .filter(|k| k.starts_with(prefix) && ends_with_any(k, suffixes))
            .collect();
        keys.sort_unstable();
        keys.truncate(limit as usize);
        keys
    }
}

fn record_key(key: &str) -> String {
    format!("{RECORD_PREFIX}{key}")
}

fn chunk_key(version: &str, index: u64) -> String {
    format!("{CHUNK_PREFIX}{version}:{index}")
}

fn meta(key: &str, record: Record) -> ObjectMeta {
    ObjectMeta {
        key: key.into(),
        size: record.size,
        content_type: record.content_type,
        etag: record.etag,
        last_modified: record.last_modified,
        cache_control: record.cache_control,
        metadata: record.metadata,
        complete: true,
    }
}
