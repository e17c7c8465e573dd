//! `[cluster]`: where the shared store and the change feed are, and this node's name. Without the section
//! Strata is one node and needs neither service.

use bytesize::ByteSize;
use serde::Deserialize;
use strata_tiers::InvalidSetting;

/// The `[cluster]` section as written.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterConfig {
    /// The shared durable tier: `s3://BUCKET[/PREFIX]`.
    pub store: String,
    /// The change feed between nodes: `redis://HOST:PORT[/DB]` (Redis or Valkey).
    pub feed: String,
    /// This node's name in logs, metrics and change messages; the host name when absent.
    #[serde(default)]
    pub node_id: Option<String>,
    /// Objects up to this size travel in their change message, so other nodes serve them (playlists,
    /// LL-HLS parts) without a store read.
    #[serde(default = "default_inline_bytes")]
    pub inline_bytes: ByteSize,
    /// How the S3 endpoint is reached; unset keys come from the usual `AWS_*` environment variables.
    #[serde(default)]
    pub s3: S3Config,
}

fn default_inline_bytes() -> ByteSize {
    ClusterConfig::DEFAULT_INLINE_BYTES
}

/// `[cluster.s3]`: the S3 endpoint and credentials.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct S3Config {
    /// The endpoint URL, e.g. `http://127.0.0.1:8333` (SeaweedFS, Garage, MinIO); AWS when absent.
    pub endpoint: Option<String>,
    /// The region (`AWS_REGION`; `us-east-1` when neither is set).
    pub region: Option<String>,
    /// The access key id (`AWS_ACCESS_KEY_ID`).
    pub access_key_id: Option<String>,
    /// The secret access key (`AWS_SECRET_ACCESS_KEY`).
    pub secret_access_key: Option<String>,
    /// A session token for temporary credentials (`AWS_SESSION_TOKEN`).
    pub session_token: Option<String>,
    /// Address buckets as `BUCKET.endpoint` instead of `endpoint/BUCKET` (AWS prefers it; most
    /// self-hosted stores want the default, path style).
    #[serde(default)]
    pub virtual_hosted_style: bool,
}

/// Where objects live in the store: a bucket, and a folder in it (no leading or trailing `/`; may be empty).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreLocation {
    /// The bucket.
    pub bucket: String,
    /// The folder under which keys are stored; empty for the bucket's root.
    pub prefix: String,
}

impl ClusterConfig {
    /// The default of `inline_bytes`: playlists and LL-HLS parts travel whole.
    pub const DEFAULT_INLINE_BYTES: ByteSize = ByteSize::kib(256);

    /// Checks every key, naming the one at fault.
    ///
    /// # Errors
    /// The first key whose value cannot work.
    pub fn validate(&self) -> Result<(), InvalidSetting> {
        self.location()?;
        feed_url(&self.feed)?;
        if self
            .node_id
            .as_deref()
            .is_some_and(|id| id.trim().is_empty())
        {
            return Err(InvalidSetting::new(
                "cluster.node_id",
                "is empty; leave it out to use the host name",
            ));
        }
        if self.inline_bytes.as_u64() > 16 << 20 {
            return Err(InvalidSetting::new(
                "cluster.inline_bytes",
                "must be at most 16 MiB: every node receives every inlined object through the feed",
            ));
        }
        for (key, value) in [
            ("cluster.s3.access_key_id", &self.s3.access_key_id),
            ("cluster.s3.secret_access_key", &self.s3.secret_access_key),
        ] {
            if value.as_deref().is_some_and(str::is_empty) {
                return Err(InvalidSetting::new(
                    key,
                    "is empty; leave it out to use the AWS_* environment variables",
                ));
            }
        }
        if let Some(endpoint) = &self.s3.endpoint
            && !(endpoint.starts_with("http://") || endpoint.starts_with("https://"))
        {
            return Err(InvalidSetting::new(
                "cluster.s3.endpoint",
                &format!("{endpoint:?} is not an http:// or https:// URL"),
            ));
        }
        Ok(())
    }

    /// The bucket and folder `store` names.
    ///
    /// # Errors
    /// When `store` is not `s3://BUCKET[/PREFIX]`.
    pub fn location(&self) -> Result<StoreLocation, InvalidSetting> {
        let invalid = |why: &str| {
            InvalidSetting::new(
                "cluster.store",
                &format!(
                    "{:?} {why} (write s3://BUCKET or s3://BUCKET/PREFIX)",
                    self.store
                ),
            )
        };
        let rest = self
            .store
            .strip_prefix("s3://")
            .ok_or_else(|| invalid("is not an s3:// URL"))?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        let bucket_ok = (3..=63).contains(&bucket.len())
            && bucket
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.');
        if !bucket_ok {
            return Err(invalid(
                "does not name a bucket (3 to 63 lower-case letters, digits, '-' or '.')",
            ));
        }
        let prefix = prefix.trim_end_matches('/');
        if prefix.split('/').any(|part| matches!(part, "." | ".."))
            || prefix.contains("//")
            || prefix.starts_with('/')
        {
            return Err(invalid("has an empty, '.' or '..' folder in its prefix"));
        }
        Ok(StoreLocation {
            bucket: bucket.to_owned(),
            prefix: prefix.to_owned(),
        })
    }

    /// This node's name: `node_id`, else the host name.
    pub fn node_name(&self) -> String {
        self.node_id.clone().unwrap_or_else(|| {
            hostname::get()
                .ok()
                .and_then(|name| name.into_string().ok())
                .unwrap_or_else(|| "strata".into())
        })
    }
}

/// `feed` checked: a `redis://` URL (Valkey speaks the same protocol).
///
/// # Errors
/// When it is not one.
pub fn feed_url(feed: &str) -> Result<&str, InvalidSetting> {
    if feed.starts_with("rediss://") {
        return Err(InvalidSetting::new(
            "cluster.feed",
            "rediss:// (TLS) is not supported yet; reach Redis over a private network or a TLS tunnel",
        ));
    }
    let Some(rest) = feed.strip_prefix("redis://") else {
        return Err(InvalidSetting::new(
            "cluster.feed",
            &format!(
                "{feed:?} is not a redis:// URL (write redis://HOST:PORT or redis://HOST:PORT/DB)"
            ),
        ));
    };
    if rest.is_empty() || rest.starts_with('/') {
        return Err(InvalidSetting::new(
            "cluster.feed",
            &format!("{feed:?} names no host"),
        ));
    }
    Ok(feed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(store: &str, feed: &str) -> ClusterConfig {
        ClusterConfig {
            store: store.into(),
            feed: feed.into(),
            node_id: None,
            inline_bytes: default_inline_bytes(),
            s3: S3Config::default(),
        }
    }

    #[test]
    fn the_store_names_a_bucket_and_an_optional_folder() {
        let at = |store| config(store, "redis://127.0.0.1:6379").location();
        assert_eq!(
            at("s3://media").unwrap(),
            StoreLocation {
                bucket: "media".into(),
                prefix: String::new()
            }
        );
        assert_eq!(at("s3://media/origin/eu/").unwrap().prefix, "origin/eu");
        for bad in [
            "media",
            "s3://",
            "s3://A_b",
            "s3://media/../x",
            "s3://media//x",
            "http://x",
        ] {
            let error = at(bad).unwrap_err().to_string();
            assert!(error.contains("cluster.store"), "{bad}: {error}");
        }
    }

    #[test]
    fn the_feed_is_a_redis_url() {
        assert!(feed_url("redis://127.0.0.1:6379/2").is_ok());
        for bad in ["127.0.0.1:6379", "redis://", "rediss://h:1", "nats://h:1"] {
            assert!(
                feed_url(bad)
                    .unwrap_err()
                    .to_string()
                    .contains("cluster.feed"),
                "{bad}"
            );
        }
    }

    #[test]
    fn every_bad_key_is_named() {
        let mut c = config("s3://media", "redis://h:1");
        c.node_id = Some(" ".into());
        assert!(
            c.validate()
                .unwrap_err()
                .to_string()
                .contains("cluster.node_id")
        );
        let mut c = config("s3://media", "redis://h:1");
        c.s3.secret_access_key = Some(String::new());
        assert!(
            c.validate()
                .unwrap_err()
                .to_string()
                .contains("cluster.s3.secret_access_key")
        );
        let mut c = config("s3://media", "redis://h:1");
        c.s3.endpoint = Some("127.0.0.1:8333".into());
        assert!(
            c.validate()
                .unwrap_err()
                .to_string()
                .contains("cluster.s3.endpoint")
        );
    }
}
