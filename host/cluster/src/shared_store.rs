//! The shared durable tier: an S3-compatible object store through `object_store` (AWS S3, R2, GCS's S3
//! API, Garage, MinIO, SeaweedFS). Trusted for durability: a version is acknowledged only once the store
//! has it. Each object is stored under its key, with its Strata metadata (sequence, entity tag, times,
//! placement) as S3 user metadata, so objects other tools put in the bucket are served too (their
//! sequence is their modification time).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant, UNIX_EPOCH};

use bytes::Bytes;
use futures_util::stream::BoxStream;
use futures_util::{StreamExt, TryStreamExt};
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::client::SpawnedReqwestConnector;
use object_store::path::{Path, PathPart};
use object_store::{
    Attribute, AttributeValue, Attributes, BackoffConfig, ClientOptions, GetOptions, GetResult,
    ObjectStore, ObjectStoreExt, PutMultipartOptions, PutOptions, PutPayload, RetryConfig,
    WriteMultipart,
};
use strata_tiers::{ObjectMeta, Placement};

use crate::config::{ClusterConfig, StoreLocation};
use crate::health::Service;

/// Multipart parts: large enough for S3's 5 MiB minimum, small enough to stream big uploads.
pub const PART_BYTES: usize = 8 << 20;

/// Parts uploading at once for one object.
const PARTS_IN_FLIGHT: usize = 4;

/// Prefix of Strata's S3 user metadata; custom `x-strata-meta-*` fields go under `strata-m-`.
const META: &str = "strata-";

/// Content types stores give objects uploaded without one: the guest infers the type from the key instead.
const UNTYPED: &[&str] = &["application/octet-stream", "binary/octet-stream"];

/// The type stores that sniff give text they cannot name.
const SNIFFED: &str = "text/plain";

/// Why the store failed, in one line.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct StoreError(String);

impl From<object_store::Error> for StoreError {
    fn from(e: object_store::Error) -> Self {
        StoreError(one_line(&e.to_string()))
    }
}

fn one_line(text: &str) -> String {
    let line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    line.chars().take(300).collect()
}

/// The bucket, the folder in it, and the client.
pub struct SharedStore {
    client: Arc<AmazonS3>,
    location: StoreLocation,
    /// What the metrics and the health route say of it.
    pub service: Arc<Service>,
}

/// An object read from the store: its version and its bytes as they arrive.
pub struct Fetched {
    /// The version.
    pub meta: Arc<ObjectMeta>,
    /// Its body.
    pub body: BoxStream<'static, Result<Bytes, StoreError>>,
}

/// A new version going to the store: buffered while small, then sent in parts as it arrives.
pub enum Upload {
    /// Kept until commit, then sent in one PUT.
    Buffered {
        /// Where it goes.
        path: Path,
        /// Its metadata.
        attributes: Attributes,
        /// The chunks so far.
        chunks: Vec<Bytes>,
        /// Their length.
        len: usize,
    },
    /// Sent in parts.
    Parts(Box<WriteMultipart>),
}

impl SharedStore {
    /// A client of the store `config` names. Connects lazily; see [`SharedStore::probe`].
    ///
    /// # Errors
    /// When the settings cannot make a client.
    pub fn new(config: &ClusterConfig) -> Result<Self, StoreError> {
        let location = config.location().map_err(|e| StoreError(e.to_string()))?;
        let mut builder = AmazonS3Builder::from_env()
            .with_bucket_name(&location.bucket)
            .with_virtual_hosted_style_request(config.s3.virtual_hosted_style)
            .with_retry(RetryConfig {
                max_retries: 2,
                retry_timeout: Duration::from_secs(3),
                backoff: BackoffConfig {
                    init_backoff: Duration::from_millis(20),
                    max_backoff: Duration::from_millis(500),
                    base: 2.0,
                },
            })
            .with_client_options(
                ClientOptions::new()
                    .with_connect_timeout(Duration::from_secs(1))
                    .with_timeout(Duration::from_secs(30))
                    .with_pool_idle_timeout(Duration::from_secs(60)),
            );
        // Requests run on the runtime the client was made on (the main one), whichever connection thread
        // asks: a pooled connection is driven by one runtime, and a busy connection thread must not stall
        // the store reads of the others (decision 0059).
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            builder = builder.with_http_connector(SpawnedReqwestConnector::new(runtime));
        }
        let s3 = &config.s3;
        if let Some(endpoint) = &s3.endpoint {
            builder = builder.with_endpoint(endpoint);
        }
        // A plain-HTTP endpoint (a store on the same host or network) is allowed because it was named,
        // in the config or in `AWS_ENDPOINT_URL`; the client options above reset the environment's choice.
        let endpoint = s3
            .endpoint
            .clone()
            .or_else(|| std::env::var("AWS_ENDPOINT_URL").ok())
            .or_else(|| std::env::var("AWS_ENDPOINT").ok());
        if endpoint.is_some_and(|url| url.starts_with("http://")) {
            builder = builder.with_allow_http(true);
        }
        if let Some(region) = &s3.region {
            builder = builder.with_region(region);
        }
        if let Some(id) = &s3.access_key_id {
            builder = builder.with_access_key_id(id);
        }
        if let Some(secret) = &s3.secret_access_key {
            builder = builder.with_secret_access_key(secret);
        }
        if let Some(token) = &s3.session_token {
            builder = builder.with_token(token);
        }
        Ok(SharedStore {
            client: Arc::new(builder.build()?),
            location,
            service: Arc::new(Service::new("store")),
        })
    }

    /// Checks that the bucket answers (one listing of at most one key), within `deadline`.
    ///
    /// # Errors
    /// Why it does not.
    pub async fn probe(&self, deadline: Duration) -> Result<(), StoreError> {
        let prefix = self.folder();
        let listing = async {
            let mut keys = self.client.list(prefix.as_ref());
            keys.next().await.transpose().map(drop)
        };
        let result = match tokio::time::timeout(deadline, listing).await {
            Ok(result) => result.map_err(StoreError::from),
            Err(_) => Err(StoreError(format!("no answer within {deadline:?}"))),
        };
        self.service.record(Instant::now(), result.is_ok());
        result
    }

    /// The version of `key` in the store, without its body.
    ///
    /// # Errors
    /// When the store fails (a missing object is `None`).
    pub async fn head(&self, key: &str) -> Result<Option<Arc<ObjectMeta>>, StoreError> {
        let options = GetOptions {
            head: true,
            ..GetOptions::default()
        };
        let started = Instant::now();
        let result = self.client.get_opts(&self.path_of(key), options).await;
        self.finish(started, result.as_ref().map(drop))?;
        Ok(result.ok().map(|got| Arc::new(meta_of(key, &got))))
    }

    /// As [`SharedStore::head`], failing when the store does not answer within `deadline` (a hung store
    /// must not hold requests that could be answered from what a node knows).
    ///
    /// # Errors
    /// When the store fails or is late.
    pub async fn head_within(
        &self,
        key: &str,
        deadline: Duration,
    ) -> Result<Option<Arc<ObjectMeta>>, StoreError> {
        match tokio::time::timeout(deadline, self.head(key)).await {
            Ok(answer) => answer,
            Err(_) => {
                let why = format!("no answer within {deadline:?}");
                self.service.set_reachable(false, &why);
                Err(StoreError(why))
            }
        }
    }

    /// `key`'s current version and a stream of its body.
    ///
    /// # Errors
    /// When the store fails (a missing object is `None`).
    pub async fn get(&self, key: &str) -> Result<Option<Fetched>, StoreError> {
        let started = Instant::now();
        let result = self
            .client
            .get_opts(&self.path_of(key), GetOptions::default())
            .await;
        self.finish(started, result.as_ref().map(drop))?;
        let Ok(got) = result else {
            return Ok(None);
        };
        let meta = Arc::new(meta_of(key, &got));
        let body = got.into_stream().map_err(StoreError::from).boxed();
        Ok(Some(Fetched { meta, body }))
    }

    /// Starts storing `meta`'s version (its body follows through [`SharedStore::write`]).
    pub fn begin(&self, meta: &ObjectMeta) -> Upload {
        Upload::Buffered {
            path: self.path_of(&meta.key),
            attributes: attributes_of(meta),
            chunks: Vec::new(),
            len: 0,
        }
    }

    /// Adds `chunk` to `upload`; past [`PART_BYTES`] the upload continues in parts.
    ///
    /// # Errors
    /// When the store refuses the upload or a part.
    pub async fn write(&self, upload: &mut Upload, chunk: Bytes) -> Result<(), StoreError> {
        if let Upload::Buffered {
            path,
            attributes,
            chunks,
            len,
        } = upload
        {
            *len += chunk.len();
            chunks.push(chunk);
            if *len <= PART_BYTES {
                return Ok(());
            }
            let options = PutMultipartOptions {
                attributes: attributes.clone(),
                ..PutMultipartOptions::default()
            };
            let started = Instant::now();
            let parts = self.client.put_multipart_opts(path, options).await;
            self.finish(started, parts.as_ref().map(drop))?;
            let mut writer = WriteMultipart::new_with_chunk_size(parts?, PART_BYTES);
            for chunk in std::mem::take(chunks) {
                writer.put(chunk);
            }
            *upload = Upload::Parts(Box::new(writer));
            return Ok(());
        }
        if let Upload::Parts(writer) = upload {
            writer.wait_for_capacity(PARTS_IN_FLIGHT).await?;
            writer.put(chunk);
        }
        Ok(())
    }

    /// Completes `upload`: the version is in the store when this returns `Ok`.
    ///
    /// # Errors
    /// When the store did not take it (nothing is stored then).
    pub async fn finish_upload(&self, upload: Upload) -> Result<(), StoreError> {
        let started = Instant::now();
        let result = match upload {
            Upload::Buffered {
                path,
                attributes,
                chunks,
                ..
            } => {
                let options = PutOptions {
                    attributes,
                    ..PutOptions::default()
                };
                self.client
                    .put_opts(&path, PutPayload::from_iter(chunks), options)
                    .await
                    .map(drop)
            }
            Upload::Parts(writer) => writer.finish().await.map(drop),
        };
        self.finish(started, result.as_ref().map(drop))?;
        Ok(result?)
    }

    /// Removes `key` (a missing key is no error, as in S3).
    ///
    /// # Errors
    /// When the store fails.
    pub async fn delete(&self, key: &str) -> Result<(), StoreError> {
        let started = Instant::now();
        let result = self.client.delete(&self.path_of(key)).await;
        self.finish(started, result.as_ref().map(drop))?;
        Ok(result?)
    }

    /// Up to `limit` keys under `prefix` (a folder of keys or any start of one), in the store's order.
    ///
    /// # Errors
    /// When the store fails.
    pub async fn list(&self, prefix: &str, limit: usize) -> Result<Vec<String>, StoreError> {
        // object_store lists whole folders: list the folder holding `prefix`, keep the keys starting with it.
        let folder = prefix.rsplit_once('/').map_or("", |(folder, _)| folder);
        let path = self.path_of(folder);
        let started = Instant::now();
        let listed: Result<Vec<String>, object_store::Error> = self
            .client
            .list(Some(&path))
            .try_filter_map(|object| {
                std::future::ready(Ok(self
                    .key_of(&object.location)
                    .filter(|key| key.starts_with(prefix))))
            })
            .take(limit)
            .try_collect()
            .await;
        self.finish(started, listed.as_ref().map(drop))?;
        Ok(listed?)
    }

    /// Records a request's outcome; a missing object is an answer, not a failure.
    fn finish(
        &self,
        started: Instant,
        result: Result<(), &object_store::Error>,
    ) -> Result<(), StoreError> {
        match result {
            Err(object_store::Error::NotFound { .. }) | Ok(()) => {
                self.service.record(started, true);
                Ok(())
            }
            Err(e) => {
                self.service.record(started, false);
                let why = one_line(&e.to_string());
                self.service.failed(&why);
                Err(StoreError(why))
            }
        }
    }

    /// The folder of the cluster's objects in the bucket.
    fn folder(&self) -> Option<Path> {
        (!self.location.prefix.is_empty()).then(|| Path::from(self.location.prefix.as_str()))
    }

    /// Where `key` is stored.
    fn path_of(&self, key: &str) -> Path {
        let prefix = self.location.prefix.split('/').filter(|p| !p.is_empty());
        let parts: Vec<&str> = prefix
            .chain(key.split('/').filter(|p| !p.is_empty()))
            .collect();
        // The key is the object's name as it is (`Path::from` would percent-encode `%` and non-ASCII
        // names, so objects other tools uploaded as `ü.ts` or `a%20b.ts` could never be found); only a
        // name that cannot be a path at all is encoded.
        Path::parse(parts.join("/"))
            .unwrap_or_else(|_| Path::from_iter(parts.into_iter().map(PathPart::from)))
    }

    /// The key stored at `path`, if it is under the cluster's folder.
    fn key_of(&self, path: &Path) -> Option<String> {
        let skip = self
            .location
            .prefix
            .split('/')
            .filter(|p| !p.is_empty())
            .count();
        let parts: Vec<String> = path.parts().map(|part| part.as_ref().to_owned()).collect();
        (parts.len() > skip).then(|| parts[skip..].join("/"))
    }
}

/// The S3 metadata that records `meta`.
fn attributes_of(meta: &ObjectMeta) -> Attributes {
    let mut attributes = Attributes::new();
    if !meta.content_type.is_empty() {
        attributes.insert(Attribute::ContentType, meta.content_type.clone().into());
    }
    if let Some(cache_control) = &meta.cache_control {
        attributes.insert(Attribute::CacheControl, cache_control.clone().into());
    }
    let mut put = |name: &str, value: String| {
        attributes.insert(
            Attribute::Metadata(format!("{META}{name}").into()),
            value.into(),
        );
    };
    put("seq", meta.seq.to_string());
    put("etag", meta.etag.clone());
    put("last-modified", meta.last_modified.to_string());
    put("placement", meta.placement.name().to_owned());
    if let Some(at) = meta.expires_at {
        put("expires-at", at.to_string());
    }
    for (name, value) in &meta.metadata {
        put(&format!("m-{name}"), value.clone());
    }
    attributes
}

/// The version a GET or HEAD of `key` answered with.
fn meta_of(key: &str, got: &GetResult) -> ObjectMeta {
    let mut fields = BTreeMap::new();
    let mut custom = Vec::new();
    let mut content_type = String::new();
    let mut cache_control = None;
    for (attribute, value) in got.attributes.iter() {
        let value: &str = AttributeValue::as_ref(value);
        match attribute {
            Attribute::ContentType if !UNTYPED.contains(&value) => content_type = value.to_owned(),
            Attribute::CacheControl => cache_control = Some(value.to_owned()),
            Attribute::Metadata(name) => {
                let name = name.to_ascii_lowercase();
                if let Some(custom_name) = name.strip_prefix("strata-m-") {
                    custom.push((custom_name.to_owned(), value.to_owned()));
                } else if let Some(field) = name.strip_prefix(META) {
                    fields.insert(field.to_owned(), value.to_owned());
                }
            }
            _ => {}
        }
    }
    // Some stores (SeaweedFS) sniff a type for uploads that carry none, and call a text playlist or a
    // segment `text/plain`: on objects other tools uploaded, that is no type, and the key decides.
    if !fields.contains_key("seq") && content_type.starts_with(SNIFFED) {
        content_type.clear();
    }
    let number = |name: &str| fields.get(name).and_then(|v| v.parse::<u64>().ok());
    let modified = got.meta.last_modified;
    let modified_nanos = modified
        .timestamp_nanos_opt()
        .and_then(|n| u64::try_from(n).ok())
        .unwrap_or(0);
    let seq = number("seq").unwrap_or(modified_nanos);
    let etag = fields
        .get("etag")
        .cloned()
        .or_else(|| got.meta.e_tag.as_deref().map(quoted))
        .unwrap_or_else(|| format!("\"{seq:016x}\""));
    ObjectMeta {
        key: key.to_owned(),
        size: got.meta.size,
        content_type,
        etag,
        last_modified: number("last-modified")
            .unwrap_or_else(|| u64::try_from(modified.timestamp()).unwrap_or(0)),
        cache_control,
        metadata: custom,
        seq,
        // Whatever its metadata claims, an object in the store is not memory-only.
        placement: fields
            .get("placement")
            .and_then(|p| Placement::parse(p))
            .filter(|p| *p != Placement::Memory)
            .unwrap_or(Placement::Durable),
        expires_at: number("expires-at"),
        complete: true,
    }
}

/// An entity tag in quotes, as HTTP writes it.
fn quoted(etag: &str) -> String {
    match etag.starts_with('"') || etag.starts_with("W/") {
        true => etag.to_owned(),
        false => format!("\"{etag}\""),
    }
}

/// Seconds since the Unix epoch now.
pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strata_metadata_round_trips_through_s3_attributes() {
        let meta = ObjectMeta {
            key: "live/a.ts".into(),
            size: 3,
            content_type: "video/mp2t".into(),
            etag: "\"0000000000000007\"".into(),
            last_modified: 1_700_000_000,
            cache_control: Some("max-age=1".into()),
            metadata: vec![("rendition".into(), "720p".into())],
            seq: 7,
            placement: Placement::Disk,
            expires_at: Some(1_700_000_060),
            complete: true,
        };
        let got = GetResult {
            payload: object_store::GetResultPayload::Stream(futures_util::stream::empty().boxed()),
            meta: object_store::ObjectMeta {
                location: Path::from("live/a.ts"),
                last_modified: chrono::DateTime::from_timestamp(1_700_000_001, 0)
                    .unwrap_or_default(),
                size: 3,
                e_tag: Some("\"md5\"".into()),
                version: None,
            },
            range: 0..3,
            attributes: attributes_of(&meta),
            extensions: Default::default(),
        };
        assert_eq!(meta_of("live/a.ts", &got), meta);
    }

    #[test]
    fn objects_other_tools_put_take_their_store_identity() {
        let got = GetResult {
            payload: object_store::GetResultPayload::Stream(futures_util::stream::empty().boxed()),
            meta: object_store::ObjectMeta {
                location: Path::from("vod/a.mp4"),
                last_modified: chrono::DateTime::from_timestamp(1_700_000_001, 5)
                    .unwrap_or_default(),
                size: 9,
                e_tag: Some("abc".into()),
                version: None,
            },
            range: 0..9,
            attributes: Attributes::from_iter([(
                Attribute::ContentType,
                AttributeValue::from("binary/octet-stream"),
            )]),
            extensions: Default::default(),
        };
        let meta = meta_of("vod/a.mp4", &got);
        assert_eq!(meta.etag, "\"abc\"");
        assert_eq!(meta.seq, 1_700_000_001_000_000_005);
        assert_eq!(meta.last_modified, 1_700_000_001);
        assert_eq!(meta.content_type, "");
        assert_eq!(meta.placement, Placement::Durable);
    }
}
