//! The server's part of the configuration: `[http]`, `[tls]`, `[admin]`, `[auth]` and `[[filters]]`, and the
//! [`ServerConfig`] the `strata` binary assembles from them and the settings of the other crates the
//! server reads. Every key pattern is a [`KeyPattern`]: a glob over the decoded key, first match wins.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;
use strata_runtime::PluginConfig;
use strata_tiers::{InvalidSetting, KeyPattern};

/// What the server reads at run time, assembled by the binary.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Deadlines and caps on connections.
    pub http: HttpConfig,
    /// Who may use the admin API.
    pub admin: AdminConfig,
    /// Ingest credentials.
    pub auth: AuthConfig,
    /// Manifest-plugin chains, first match wins.
    pub filters: Vec<FilterChain>,
    /// Each plugin's sandbox, by name; unnamed plugins get the defaults.
    pub plugins: BTreeMap<String, PluginConfig>,
    /// Largest object a PUT or POST may store, in bytes.
    pub max_object_bytes: u64,
    /// Largest playlist a plugin chain reads to rewrite, in bytes (the guests' own read limit).
    pub max_playlist_bytes: u64,
    /// The memory tier's budget, in bytes, reported in the metrics beside its use.
    pub memory_budget_bytes: u64,
    /// Memory for remembered guest decisions, in bytes; 0 turns the decision cache off.
    pub decision_cache_bytes: u64,
}

/// Deadlines and caps on connections, so no client (silent, slow or stalled) holds the origin's resources
/// for long.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HttpConfig {
    /// Time a client has to send a request's head, from the connection's start or the end of the previous
    /// response (for HTTP/1.1 this is also how long a kept-alive connection may sit idle), in milliseconds.
    pub header_timeout_ms: u64,
    /// A connection with no request in flight that makes no progress for this long is closed, in
    /// milliseconds.
    pub idle_timeout_ms: u64,
    /// Most client connections open at once; more wait in the listen backlog.
    pub max_connections: u32,
    /// An upload whose body sends no byte for this long is aborted and stores nothing, in milliseconds.
    pub body_idle_timeout_ms: u64,
    /// On SIGTERM or SIGINT, how long open requests may take to finish before the process exits, in
    /// milliseconds; parked requests are answered 503 with `Retry-After` at once.
    pub shutdown_grace_ms: u64,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            header_timeout_ms: 10_000,
            idle_timeout_ms: 60_000,
            max_connections: 10_000,
            body_idle_timeout_ms: 30_000,
            shutdown_grace_ms: 10_000,
        }
    }
}

impl HttpConfig {
    /// Checks the values, naming the first key at fault.
    ///
    /// # Errors
    /// [`InvalidSetting`] naming `http.<key>`.
    pub fn validate(&self) -> Result<(), InvalidSetting> {
        let at_least = |key: &str, value: u64, min: u64, unit: &str| {
            if value < min {
                Err(InvalidSetting::new(
                    &format!("http.{key}"),
                    &format!("must be at least {min} {unit}"),
                ))
            } else {
                Ok(())
            }
        };
        at_least("header_timeout_ms", self.header_timeout_ms, 100, "ms")?;
        at_least("idle_timeout_ms", self.idle_timeout_ms, 100, "ms")?;
        at_least("body_idle_timeout_ms", self.body_idle_timeout_ms, 100, "ms")?;
        at_least("max_connections", u64::from(self.max_connections), 1, "")?;
        Ok(())
    }

    /// [`HttpConfig::header_timeout_ms`] as a duration.
    pub fn header_timeout(&self) -> Duration {
        Duration::from_millis(self.header_timeout_ms)
    }

    /// [`HttpConfig::idle_timeout_ms`] as a duration.
    pub fn idle_timeout(&self) -> Duration {
        Duration::from_millis(self.idle_timeout_ms)
    }

    /// [`HttpConfig::body_idle_timeout_ms`] as a duration.
    pub fn body_idle_timeout(&self) -> Duration {
        Duration::from_millis(self.body_idle_timeout_ms)
    }

    /// [`HttpConfig::shutdown_grace_ms`] as a duration.
    pub fn shutdown_grace(&self) -> Duration {
        Duration::from_millis(self.shutdown_grace_ms)
    }
}

/// The certificate and key of the listener; once set, it speaks TLS only, offering HTTP/2 through ALPN.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// PEM file of the certificate chain, leaf first.
    pub cert: PathBuf,
    /// PEM file of the leaf's private key (PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
}

/// Who may use the admin API.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AdminConfig {
    /// Bearer token the admin API requires; without one it answers loopback clients only.
    pub token: Option<String>,
}

impl AdminConfig {
    /// Refuses an empty token.
    ///
    /// # Errors
    /// [`InvalidSetting`] naming `admin.token`.
    pub fn validate(&self) -> Result<(), InvalidSetting> {
        if self.token.as_deref().is_some_and(|t| t.trim().is_empty()) {
            return Err(empty_secret("admin.token", "the admin token"));
        }
        Ok(())
    }
}

/// Access control of the data plane.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthConfig {
    /// Credential rules, first match wins; once any exists, every write needs credentials.
    pub ingest: Vec<IngestRule>,
    /// Keys only a CDN may read: reads must carry its shared secret, first match wins.
    pub cdn: Vec<CdnRule>,
}

/// The header a CDN sends its shared secret in, unless a rule names another.
pub const DEFAULT_CDN_HEADER: &str = "x-strata-cdn-secret";

/// Most secrets a CDN rule accepts at once: the current one and the next, while the CDN rotates.
pub const MAX_CDN_SECRETS: usize = 2;

/// Reads of the keys a pattern matches must come from the CDN: they carry one of its secrets in a header
/// the CDN adds to every origin request (MediaPackage's CDN authorization).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CdnRule {
    /// The keys it covers, e.g. `live/**`.
    pub pattern: Option<KeyPattern>,
    /// The request header carrying the secret (default `x-strata-cdn-secret`).
    #[serde(default)]
    pub header: Option<String>,
    /// The accepted secrets: one, or two while rotating.
    #[serde(default)]
    pub secrets: Vec<String>,
}

impl CdnRule {
    /// The header it reads, lower-case.
    pub fn header_name(&self) -> String {
        self.header
            .as_deref()
            .unwrap_or(DEFAULT_CDN_HEADER)
            .to_ascii_lowercase()
    }
}

/// Credentials accepted for the keys a pattern matches.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IngestRule {
    /// The keys it covers, e.g. `live/**`.
    pub pattern: Option<KeyPattern>,
    /// Read only to say how to write it now: older configurations gave a path prefix such as `/live/`.
    #[serde(default)]
    pub prefix: Option<String>,
    /// Accepted `Authorization: Bearer` tokens.
    #[serde(default)]
    pub bearer: Vec<String>,
    /// Accepted `Authorization: Basic` credentials, each `user:password`.
    #[serde(default)]
    pub basic: Vec<String>,
    /// Whether GET and HEAD under the pattern need the same credentials.
    #[serde(default)]
    pub protect_reads: bool,
}

impl AuthConfig {
    /// Checks every rule: a pattern, credentials that are not empty.
    ///
    /// # Errors
    /// [`InvalidSetting`] naming `auth.ingest[<i>]...`.
    pub fn validate(&self) -> Result<(), InvalidSetting> {
        self.validate_cdn()?;
        for (i, rule) in self.ingest.iter().enumerate() {
            let key = |field: &str| format!("auth.ingest[{i}]{field}");
            if let Some(prefix) = &rule.prefix {
                let folder = prefix.trim_start_matches('/').trim_end_matches('/');
                return Err(InvalidSetting::new(
                    &key(".prefix"),
                    &format!(
                        "prefix = {prefix:?} is no longer read: write pattern = \"{folder}/**\" (rules are taken \
                         in the order written, the first that matches applies)"
                    ),
                ));
            }
            if rule.pattern.is_none() {
                return Err(InvalidSetting::new(
                    &key(".pattern"),
                    "each rule needs the pattern of the keys it covers, e.g. \"live/**\"",
                ));
            }
            if rule.bearer.is_empty() && rule.basic.is_empty() {
                return Err(InvalidSetting::new(
                    &key(""),
                    "each rule needs at least one bearer token or basic user",
                ));
            }
            if rule.bearer.iter().any(|t| t.trim().is_empty()) {
                return Err(empty_secret(&key(".bearer"), "a bearer token"));
            }
            for basic in &rule.basic {
                match basic.split_once(':') {
                    Some((user, password))
                        if !user.trim().is_empty() && !password.trim().is_empty() => {}
                    _ => {
                        return Err(InvalidSetting::new(
                            &key(".basic"),
                            "each entry must be user:password, neither empty",
                        ));
                    }
                }
            }
        }
        Ok(())
    }
}

impl AuthConfig {
    /// Checks every CDN rule: a pattern, a header name HTTP can carry, one or two secrets, none empty.
    fn validate_cdn(&self) -> Result<(), InvalidSetting> {
        for (i, rule) in self.cdn.iter().enumerate() {
            let key = |field: &str| format!("auth.cdn[{i}]{field}");
            if rule.pattern.is_none() {
                return Err(InvalidSetting::new(
                    &key(".pattern"),
                    "each rule needs the pattern of the keys only the CDN may read, e.g. \"live/**\"",
                ));
            }
            if http::HeaderName::from_bytes(rule.header_name().as_bytes()).is_err() {
                return Err(InvalidSetting::new(
                    &key(".header"),
                    "not a valid HTTP header name",
                ));
            }
            if rule.secrets.is_empty() || rule.secrets.len() > MAX_CDN_SECRETS {
                return Err(InvalidSetting::new(
                    &key(".secrets"),
                    "give one secret, or two while the CDN rotates from one to the other",
                ));
            }
            if rule.secrets.iter().any(|s| s.trim().is_empty()) {
                return Err(empty_secret(&key(".secrets"), "a CDN secret"));
            }
            if rule
                .secrets
                .iter()
                .any(|s| http::HeaderValue::from_str(s).is_err())
            {
                return Err(InvalidSetting::new(
                    &key(".secrets"),
                    "a secret must be printable ASCII, as a header value",
                ));
            }
        }
        Ok(())
    }
}

/// One chain of manifest plugins.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FilterChain {
    /// The keys whose playlists it rewrites, e.g. `live/**/*.m3u8`.
    pub pattern: KeyPattern,
    /// Plugin (guest) names, run in order, each on the previous one's output.
    pub plugins: Vec<String>,
    /// What a failing plugin does to the response.
    #[serde(default)]
    pub on_error: OnError,
}

/// What a failing manifest plugin does to its response.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OnError {
    /// Answer 502 with the plugin's reason (fail closed).
    #[default]
    Fail,
    /// Send the playlist as it was before this plugin.
    Skip,
}

/// Checks every chain has a plugin.
///
/// # Errors
/// [`InvalidSetting`] naming `filters[<i>].plugins`.
pub fn validate_filters(filters: &[FilterChain]) -> Result<(), InvalidSetting> {
    for (i, chain) in filters.iter().enumerate() {
        if chain.plugins.is_empty() {
            return Err(InvalidSetting::new(
                &format!("filters[{i}].plugins"),
                "a chain needs at least one plugin",
            ));
        }
    }
    Ok(())
}

/// The refusal of an empty secret, which would match a request sending an empty one, or none.
pub fn empty_secret(key: &str, what: &str) -> InvalidSetting {
    InvalidSetting::new(
        key,
        &format!("{what} is empty; give a secret or remove the key"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn auth(text: &str) -> AuthConfig {
        toml::from_str(text).unwrap()
    }

    #[test]
    fn old_prefix_rules_say_how_to_write_them_now() {
        let error = auth("[[ingest]]\nprefix = \"/live/\"\nbearer = [\"t\"]\n")
            .validate()
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("auth.ingest[0].prefix") && error.contains("pattern = \"live/**\""),
            "{error}"
        );
    }

    #[test]
    fn empty_secrets_are_refused_naming_the_key() {
        for (text, key) in [
            (
                "[[ingest]]\npattern = \"live/**\"\nbearer = [\"\"]\n",
                "auth.ingest[0].bearer",
            ),
            (
                "[[ingest]]\npattern = \"live/**\"\nbasic = [\"enc: \"]\n",
                "auth.ingest[0].basic",
            ),
        ] {
            let error = auth(text).validate().unwrap_err().to_string();
            assert!(error.contains(key), "{error}");
        }
        let token = AdminConfig {
            token: Some(" ".into()),
        };
        assert!(
            token
                .validate()
                .unwrap_err()
                .to_string()
                .contains("admin.token")
        );
    }

    #[test]
    fn filter_patterns_are_key_patterns() {
        let chain: FilterChain =
            toml::from_str("pattern = \"live/**/*.m3u8\"\nplugins = [\"cap\"]\n").unwrap();
        assert!(chain.pattern.matches("live/a/index.m3u8"));
        let error =
            toml::from_str::<FilterChain>("pattern = \"/live/*.m3u8\"\nplugins = [\"cap\"]\n")
                .unwrap_err()
                .to_string();
        assert!(error.contains("no leading '/'"), "{error}");
    }
}
