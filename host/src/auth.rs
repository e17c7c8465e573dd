//! Credentials: the ingest rules of the data plane (Bearer or Basic, per path prefix) and the parsing
//! both they and the admin token share. Checked by the host before any guest sees the request.

use base64::Engine as _;
use http::{HeaderMap, Method, header};

use crate::config::IngestRule;

/// Why a request was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Denied {
    /// No credentials, or wrong ones: answer 401 with a challenge.
    #[error("{0}")]
    Unauthorized(&'static str),
    /// No rule covers the path, so nobody may write there: answer 403.
    #[error("no ingest credentials are configured for {0}; writes there are refused")]
    Uncovered(String),
}

/// The ingest rules, longest prefix first.
#[derive(Debug, Default)]
pub struct IngestAuth {
    rules: Vec<IngestRule>,
}

impl IngestAuth {
    /// The rules of the config.
    pub fn new(rules: &[IngestRule]) -> Self {
        let mut rules = rules.to_vec();
        rules.sort_by_key(|r| std::cmp::Reverse(r.prefix.len()));
        IngestAuth { rules }
    }

    /// Whether `method` on `rooted`, `/` and the request's decoded key (`http::Target::rooted`), may
    /// proceed with these `headers`. Only writes (PUT, POST, DELETE) and, under `protect_reads`, reads (GET,
    /// HEAD) need credentials; a CORS preflight never carries any and reveals nothing.
    ///
    /// # Errors
    /// [`Denied`] when credentials are required and missing, wrong, or impossible for the key.
    pub fn check(&self, method: &Method, rooted: &str, headers: &HeaderMap) -> Result<(), Denied> {
        if self.rules.is_empty() {
            return Ok(());
        }
        let writes = matches!(*method, Method::PUT | Method::POST | Method::DELETE);
        let reads = matches!(*method, Method::GET | Method::HEAD);
        let rule = self.rules.iter().find(|r| rooted.starts_with(&r.prefix));
        match rule {
            None if writes => Err(Denied::Uncovered(rooted.to_owned())),
            None => Ok(()),
            Some(_) if !writes && !reads => Ok(()),
            Some(rule) if reads && !rule.protect_reads => Ok(()),
            Some(rule) => match authorization(headers) {
                None => Err(Denied::Unauthorized(
                    "credentials required (Bearer token or Basic)",
                )),
                Some(Credential::Bearer(token))
                    if rule.bearer.iter().any(|t| secret_eq(t, token)) =>
                {
                    Ok(())
                }
                Some(Credential::Basic(pair)) if rule.basic.iter().any(|b| secret_eq(b, &pair)) => {
                    Ok(())
                }
                Some(_) => Err(Denied::Unauthorized(
                    "credentials not accepted for this path",
                )),
            },
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

    fn rules() -> IngestAuth {
        IngestAuth::new(&[
            IngestRule {
                prefix: "/live/".into(),
                bearer: vec!["tok".into()],
                basic: vec!["enc:pw".into()],
                protect_reads: false,
            },
            IngestRule {
                prefix: "/private/".into(),
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
            auth.check(&Method::PUT, "/live/a.ts", &none),
            Err(Denied::Unauthorized(_))
        ));
        assert!(
            auth.check(&Method::PUT, "/live/a.ts", &with("Bearer tok"))
                .is_ok()
        );
        assert!(
            auth.check(&Method::PUT, "/live/a.ts", &with("Basic ZW5jOnB3"))
                .is_ok()
        );
        assert!(
            auth.check(&Method::DELETE, "/live/a.ts", &with("Bearer nope"))
                .is_err()
        );
        assert!(
            auth.check(&Method::PUT, "/live/a.ts", &with("Bearer p"))
                .is_err()
        );
        assert!(matches!(
            auth.check(&Method::POST, "/other", &with("Bearer tok")),
            Err(Denied::Uncovered(_))
        ));
    }

    #[test]
    fn reads_stay_public_unless_protected() {
        let auth = rules();
        let none = HeaderMap::new();
        assert!(auth.check(&Method::GET, "/live/a.ts", &none).is_ok());
        assert!(auth.check(&Method::GET, "/elsewhere", &none).is_ok());
        assert!(auth.check(&Method::GET, "/private/x", &none).is_err());
        assert!(
            auth.check(&Method::GET, "/private/x", &with("Bearer p"))
                .is_ok()
        );
    }

    #[test]
    fn a_preflight_passes_a_protected_prefix() {
        assert!(
            rules()
                .check(&Method::OPTIONS, "/private/x", &HeaderMap::new())
                .is_ok()
        );
    }

    #[test]
    fn without_rules_everything_passes() {
        assert!(
            IngestAuth::default()
                .check(&Method::PUT, "/x", &HeaderMap::new())
                .is_ok()
        );
    }
}
