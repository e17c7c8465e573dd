//! Credentials: the ingest rules of the data plane (Bearer or Basic, per key pattern, first match wins), the
//! CDN rules (reads only with the CDN's shared secret), and the parsing the rules and the admin token share.
//! Checked by the host, on the request's decoded key, before any guest sees the request.

use base64::Engine as _;
use http::{HeaderMap, Method, header};

use http::HeaderName;

use crate::config::{CdnRule, IngestRule};

/// Why a request was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Denied {
    /// No credentials, or wrong ones: answer 401 with a challenge.
    #[error("{0}")]
    Unauthorized(&'static str),
    /// No rule covers the key, so nobody may write there: answer 403.
    #[error("no ingest credentials are configured for {0}; writes there are refused")]
    Uncovered(String),
}

/// The ingest rules, in the order written.
#[derive(Debug, Default)]
pub struct IngestAuth {
    rules: Vec<IngestRule>,
}

impl IngestAuth {
    /// The rules of the config (checked: every rule has a pattern).
    pub fn new(rules: &[IngestRule]) -> Self {
        IngestAuth {
            rules: rules.to_vec(),
        }
    }

    /// Whether `method` on `key`, the request's decoded key (`http::Target::key`), may
    /// proceed with these `headers`. Deny by default: under a rule, every method needs its credentials but
    /// GET and HEAD (only under `protect_reads`) and a CORS preflight (`OPTIONS` with
    /// `Access-Control-Request-Method`, which never carries credentials and is answered without content);
    /// outside every rule, only those may proceed.
    ///
    /// # Errors
    /// [`Denied`] when credentials are required and missing, wrong, or impossible for the key.
    pub fn check(&self, method: &Method, key: &str, headers: &HeaderMap) -> Result<(), Denied> {
        if self.rules.is_empty() {
            return Ok(());
        }
        let access = Access::of(method, headers);
        let rule = self
            .rules
            .iter()
            .find(|r| r.pattern.as_ref().is_some_and(|p| p.matches(key)));
        match (rule, access) {
            (_, Access::Preflight) => Ok(()),
            (None, Access::Read) => Ok(()),
            (None, Access::Write) => Err(Denied::Uncovered(key.to_owned())),
            (Some(rule), Access::Read) if !rule.protect_reads => Ok(()),
            (Some(rule), _) => rule.admits(headers),
        }
    }
}

/// The CDN rules, in the order written, each with its header parsed once.
#[derive(Debug, Default)]
pub struct CdnAuth {
    rules: Vec<(CdnRule, Option<HeaderName>)>,
}

/// Why a read was refused: it did not come from the CDN.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("reads of this path must come through the CDN (missing or wrong {0} header)")]
pub struct NotFromCdn(pub String);

impl CdnAuth {
    /// The CDN rules of the config (checked: each has a pattern, a valid header name and secrets).
    pub fn new(rules: &[CdnRule]) -> Self {
        CdnAuth {
            rules: rules
                .iter()
                .map(|rule| {
                    let header = HeaderName::from_bytes(rule.header_name().as_bytes()).ok();
                    (rule.clone(), header)
                })
                .collect(),
        }
    }

    /// Whether a request of `method` for `key`, the request's decoded key, may proceed with these
    /// `headers`: reads (GET, HEAD, an OPTIONS that is not a preflight) under the first rule matching `key`
    /// must carry one of its secrets, compared in constant time; other requests are the ingest rules'.
    ///
    /// # Errors
    /// [`NotFromCdn`] naming the header, when a covered read lacks the secret.
    pub fn check(&self, method: &Method, key: &str, headers: &HeaderMap) -> Result<(), NotFromCdn> {
        if self.rules.is_empty() || Access::of(method, headers) != Access::Read {
            return Ok(());
        }
        let Some((rule, header)) = self
            .rules
            .iter()
            .find(|(rule, _)| rule.pattern.as_ref().is_some_and(|p| p.matches(key)))
        else {
            return Ok(());
        };
        let given = header
            .as_ref()
            .and_then(|name| headers.get(name))
            .map(http::HeaderValue::as_bytes);
        // Every secret is compared, so the time taken does not tell which one came close.
        let matched = given.is_some_and(|given| {
            rule.secrets.iter().fold(false, |any, secret| {
                any | constant_time_eq::constant_time_eq(secret.as_bytes(), given)
            })
        });
        if matched {
            Ok(())
        } else {
            Err(NotFromCdn(rule.header_name()))
        }
    }
}

/// What a request does, as far as credentials go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Access {
    /// GET, HEAD, or an OPTIONS that is not a preflight.
    Read,
    /// A CORS preflight.
    Preflight,
    /// Everything else: PUT, POST, DELETE, and methods no rule foresaw (methods are case-sensitive).
    Write,
}

impl Access {
    /// What `method` with `headers` does.
    pub(crate) fn of(method: &Method, headers: &HeaderMap) -> Self {
        match *method {
            Method::GET | Method::HEAD => Access::Read,
            Method::OPTIONS if headers.contains_key(header::ACCESS_CONTROL_REQUEST_METHOD) => {
                Access::Preflight
            }
            Method::OPTIONS => Access::Read,
            _ => Access::Write,
        }
    }
}

impl IngestRule {
    /// Whether the request's credential is one this rule accepts.
    fn admits(&self, headers: &HeaderMap) -> Result<(), Denied> {
        match authorization(headers) {
            None => Err(Denied::Unauthorized(
                "credentials required (Bearer token or Basic)",
            )),
            Some(Credential::Bearer(token)) if self.bearer.iter().any(|t| secret_eq(t, token)) => {
                Ok(())
            }
            Some(Credential::Basic(pair)) if self.basic.iter().any(|b| secret_eq(b, &pair)) => {
                Ok(())
            }
            Some(_) => Err(Denied::Unauthorized(
                "credentials not accepted for this path",
            )),
        }
    }
}

/// What an `Authorization` header carries.
#[derive(Debug, PartialEq, Eq)]
pub enum Credential<'a> {
    /// `Bearer <token>`.
    Bearer(&'a str),
    /// `Basic <base64(user:password)>`, decoded to `user:password`.
    Basic(String),
}

/// The request's credential, if it carries a well-formed one.
pub fn authorization(headers: &HeaderMap) -> Option<Credential<'_>> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, rest) = value.split_once(' ')?;
    let rest = rest.trim();
    if scheme.eq_ignore_ascii_case("bearer") {
        Some(Credential::Bearer(rest))
    } else if scheme.eq_ignore_ascii_case("basic") {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(rest)
            .ok()?;
        String::from_utf8(decoded).ok().map(Credential::Basic)
    } else {
        None
    }
}

/// Compares secrets in time independent of where they differ.
pub fn secret_eq(expected: &str, given: &str) -> bool {
    constant_time_eq::constant_time_eq(expected.as_bytes(), given.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;
    use strata_tiers::KeyPattern;

    fn cdn() -> CdnAuth {
        CdnAuth::new(&[CdnRule {
            pattern: Some(KeyPattern::new("live/**").unwrap()),
            header: None,
            secrets: vec!["old-secret".into(), "new-secret".into()],
        }])
    }

    fn one_header(name: &str, value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(
            HeaderName::from_bytes(name.as_bytes()).unwrap(),
            HeaderValue::from_str(value).unwrap(),
        );
        headers
    }

    #[test]
    fn covered_reads_need_either_secret() {
        let cdn = cdn();
        let none = HeaderMap::new();
        assert!(cdn.check(&Method::GET, "live/a.m3u8", &none).is_err());
        assert!(
            cdn.check(
                &Method::HEAD,
                "live/a.m3u8",
                &one_header("x-strata-cdn-secret", "nope")
            )
            .is_err()
        );
        assert!(cdn.check(&Method::OPTIONS, "live/a.m3u8", &none).is_err());
        for secret in ["old-secret", "new-secret"] {
            let headers = one_header("X-Strata-CDN-Secret", secret);
            assert_eq!(cdn.check(&Method::GET, "live/a.m3u8", &headers), Ok(()));
        }
        // A prefix of a secret, or one with more after it, is not the secret.
        assert!(
            cdn.check(
                &Method::GET,
                "live/a",
                &one_header("x-strata-cdn-secret", "new-secre")
            )
            .is_err()
        );
        assert!(
            cdn.check(
                &Method::GET,
                "live/a",
                &one_header("x-strata-cdn-secret", "new-secret2")
            )
            .is_err()
        );
    }

    #[test]
    fn other_keys_writes_and_preflights_are_not_the_cdn_rules() {
        let cdn = cdn();
        let none = HeaderMap::new();
        assert_eq!(cdn.check(&Method::GET, "vod/a.m3u8", &none), Ok(()));
        assert_eq!(cdn.check(&Method::PUT, "live/a.m3u8", &none), Ok(()));
        let preflight = one_header("access-control-request-method", "GET");
        assert_eq!(
            cdn.check(&Method::OPTIONS, "live/a.m3u8", &preflight),
            Ok(())
        );
    }

    fn rules() -> IngestAuth {
        IngestAuth::new(&[
            IngestRule {
                pattern: Some(KeyPattern::new("live/**").unwrap()),
                prefix: None,
                bearer: vec!["tok".into()],
                basic: vec!["enc:pw".into()],
                protect_reads: false,
            },
            IngestRule {
                pattern: Some(KeyPattern::new("private/**").unwrap()),
                prefix: None,
                bearer: vec!["p".into()],
                basic: vec![],
                protect_reads: true,
            },
        ])
    }

    fn with(auth: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::AUTHORIZATION, HeaderValue::from_str(auth).unwrap());
        headers
    }

    #[test]
    fn writes_need_the_rules_credentials() {
        let auth = rules();
        let none = HeaderMap::new();
        assert!(matches!(
            auth.check(&Method::PUT, "live/a.ts", &none),
            Err(Denied::Unauthorized(_))
        ));
        assert!(
            auth.check(&Method::PUT, "live/a.ts", &with("Bearer tok"))
                .is_ok()
        );
        assert!(
            auth.check(&Method::PUT, "live/a.ts", &with("Basic ZW5jOnB3"))
                .is_ok()
        );
        assert!(
            auth.check(&Method::DELETE, "live/a.ts", &with("Bearer nope"))
                .is_err()
        );
        assert!(
            auth.check(&Method::PUT, "live/a.ts", &with("Bearer p"))
                .is_err()
        );
        assert!(matches!(
            auth.check(&Method::POST, "other", &with("Bearer tok")),
            Err(Denied::Uncovered(_))
        ));
    }

    #[test]
    fn reads_stay_public_unless_protected() {
        let auth = rules();
        let none = HeaderMap::new();
        assert!(auth.check(&Method::GET, "live/a.ts", &none).is_ok());
        assert!(auth.check(&Method::GET, "elsewhere", &none).is_ok());
        assert!(auth.check(&Method::GET, "private/x", &none).is_err());
        assert!(
            auth.check(&Method::GET, "private/x", &with("Bearer p"))
                .is_ok()
        );
    }

    #[test]
    fn only_a_preflight_passes_a_protected_prefix_without_credentials() {
        let auth = rules();
        let mut preflight = HeaderMap::new();
        preflight.insert(
            header::ACCESS_CONTROL_REQUEST_METHOD,
            HeaderValue::from_static("GET"),
        );
        assert!(
            auth.check(&Method::OPTIONS, "private/x", &preflight)
                .is_ok()
        );
        let none = HeaderMap::new();
        assert!(auth.check(&Method::OPTIONS, "private/x", &none).is_err());
        assert!(auth.check(&Method::OPTIONS, "live/x", &none).is_ok());
        for odd in ["PATCH", "PROPFIND", "get", "XGET"] {
            let method = Method::from_bytes(odd.as_bytes()).unwrap();
            assert!(auth.check(&method, "live/x", &none).is_err(), "{odd}");
            assert!(
                matches!(
                    auth.check(&method, "uncovered", &none),
                    Err(Denied::Uncovered(_))
                ),
                "{odd}"
            );
        }
    }

    #[test]
    fn without_rules_everything_passes() {
        assert!(
            IngestAuth::default()
                .check(&Method::PUT, "x", &HeaderMap::new())
                .is_ok()
        );
    }
}
