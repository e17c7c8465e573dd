//! The object a data-plane request names, decoded once.
//!
//! The path is percent-decoded and checked by the ABI's key rule (`strata_abi::key`, which the default
//! guest uses too), before anything else looks at it. Ingest credentials, the handler a
//! namespace routes to, the manifest-plugin chain and the guest all see this one key: the guest gets its
//! canonical path, which decodes back to the same key, so no encoding of a path can pass one check as one
//! key and reach the guest as another (`docs/decisions/0046-one-key-decided-once.md`).

use std::sync::OnceLock;

use http::Method;
use strata_abi::key::{key_from_path, path_from_key};

/// The key prefix reserved for operator routes: no object may live under it.
const RESERVED: &str = "_strata";

/// A request's object key, decoded and validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The decoded key: what ingest rules, namespaces and chain patterns are matched against.
    key: String,
    /// The canonical, percent-encoded path the guest receives; written when first asked for (a remembered
    /// decision never asks).
    path: OnceLock<String>,
}

impl Target {
    /// The target of `method` on the raw request path `raw`.
    ///
    /// # Errors
    /// The one-line 400 reason when the path does not name a valid key, or names one under `_strata/`. An
    /// `OPTIONS` request (a CORS preflight) needs no key: with a path that names none it gets the bare `/`
    /// target.
    pub fn of(method: &Method, raw: &str) -> Result<Self, String> {
        let key = match key_from_path(raw) {
            Ok(key) => key,
            Err(_) if method == Method::OPTIONS => {
                return Ok(Target {
                    key: String::new(),
                    path: OnceLock::from("/".to_owned()),
                });
            }
            Err(e) => return Err(e.to_string()),
        };
        let first_segment = key.split('/').next().unwrap_or_default();
        if first_segment == RESERVED {
            return Err(format!(
                "bad path: keys under {RESERVED}/ are reserved for the operator API"
            ));
        }
        Ok(Target {
            key,
            path: OnceLock::new(),
        })
    }

    /// The decoded key, without a leading `/` (empty for a bare `OPTIONS`).
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The canonical path handed to guests and plugins.
    pub fn path(&self) -> &str {
        self.path.get_or_init(|| path_from_key(&self.key))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_encoding_of_a_key_gives_one_target() {
        for raw in [
            "/private/s.ts",
            "/%70rivate/s.ts",
            "/private%2Fs.ts",
            "/%70%72%69%76%61%74%65%2F%73%2E%74%73",
        ] {
            let target = Target::of(&Method::GET, raw).unwrap();
            assert_eq!(target.key(), "private/s.ts", "{raw}");
            assert_eq!(target.path(), "/private/s.ts", "{raw}");
        }
        let spaced = Target::of(&Method::GET, "/my%20file.ts").unwrap();
        assert_eq!(
            (spaced.key(), spaced.path()),
            ("my file.ts", "/my%20file.ts")
        );
    }

    #[test]
    fn bad_and_reserved_paths_are_refused_with_a_reason() {
        for raw in ["/a/%2e%2e/b", "/", "//x", "/%5Fstrata/guests", "/_strata"] {
            let reason = Target::of(&Method::GET, raw).unwrap_err();
            assert!(reason.starts_with("bad path: "), "{raw}: {reason}");
        }
        assert!(Target::of(&Method::PUT, "/_strata2/x.ts").is_ok());
    }

    #[test]
    fn a_preflight_needs_no_key() {
        let root = Target::of(&Method::OPTIONS, "/").unwrap();
        assert_eq!((root.path(), root.key()), ("/", ""));
        let keyed = Target::of(&Method::OPTIONS, "/%6Cive/a.ts").unwrap();
        assert_eq!(keyed.path(), "/live/a.ts");
    }
}
