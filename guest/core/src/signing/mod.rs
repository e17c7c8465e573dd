//! Signed URLs: HMAC-SHA256 tokens with an expiry, required on the path prefixes the operator configures,
//! checked by the guest (403 with the reason), and carried into every child URI of a playlist it serves so
//! players keep a valid token without knowing the scheme.
//!
//! A token grants one prefix until its expiry: `?st_exp=<unix seconds>&st_sig=<hex HMAC-SHA256(key,
//! "<exp>:<prefix>")>`. Scoping to the prefix rather than one path is what lets a playlist hand the same
//! token to all its segments (as CDN tokens with an ACL of `/prefix/*` do). Keys come from the settings'
//! signed prefixes (`[[guest.signing]]` in the host's TOML).

pub mod rewrite;

use hmac::{Hmac, Mac};
use sha2::Sha256;
use strata_abi::settings::Settings;

/// Query parameter with the expiry, Unix seconds.
pub const EXPIRES: &str = "st_exp";
/// Query parameter with the hex signature.
pub const SIGNATURE: &str = "st_sig";
/// A prefix that requires a token, with its key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedPrefix {
    /// Object-key prefix, e.g. `premium/`.
    pub prefix: String,
    /// The HMAC key.
    pub key: Vec<u8>,
}

/// A valid token for one prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    /// Expiry, Unix seconds.
    pub expires: u64,
    /// Hex HMAC.
    pub signature: String,
}

impl Token {
    /// The query pairs to append to a child URI.
    pub fn query(&self) -> String {
        format!("{EXPIRES}={}&{SIGNATURE}={}", self.expires, self.signature)
    }
}

/// The signed prefix that covers `key` (the longest), if any.
pub fn covering(settings: &Settings, key: &str) -> Option<SignedPrefix> {
    settings
        .signing
        .iter()
        .filter(|s| key.starts_with(&s.prefix))
        .max_by_key(|s| s.prefix.len())
        .map(|s| SignedPrefix {
            prefix: s.prefix.clone(),
            key: s.key.as_bytes().to_vec(),
        })
}

/// The signature of `prefix` until `expires`, in hex.
pub fn sign(key: &[u8], prefix: &str, expires: u64) -> String {
    let mut mac = mac(key);
    mac.update(format!("{expires}:{prefix}").as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// An HMAC-SHA256 instance; any key length is valid for HMAC.
fn mac(key: &[u8]) -> Hmac<Sha256> {
    match Hmac::<Sha256>::new_from_slice(key) {
        Ok(m) => m,
        Err(_) => unreachable!("HMAC accepts keys of every length"),
    }
}

/// Checks the token in `query` for `signed` at `now` (Unix seconds).
///
/// # Errors
/// The one-line reason for the 403: missing parameters, an expired token, or a wrong signature.
pub fn verify(signed: &SignedPrefix, query: &str, now: u64) -> Result<Token, String> {
    let expires =
        crate::query::param(query, EXPIRES).ok_or("signed URL required: st_exp missing")?;
    let signature =
        crate::query::param(query, SIGNATURE).ok_or("signed URL required: st_sig missing")?;
    let expires: u64 = expires
        .trim()
        .parse()
        .map_err(|_| format!("signed URL: st_exp '{expires}' is not Unix seconds"))?;
    if expires <= now {
        return Err(format!(
            "signed URL expired at {}",
            crate::http_date::format(expires)
        ));
    }
    let bytes = hex::decode(&signature).map_err(|_| "signed URL: st_sig is not hex")?;
    let mut mac = mac(&signed.key);
    mac.update(format!("{expires}:{}", signed.prefix).as_bytes());
    mac.verify_slice(&bytes)
        .map_err(|_| "signed URL: signature does not match".to_string())?;
    Ok(Token {
        expires,
        signature: signature.to_ascii_lowercase(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> Settings {
        Settings::from_pairs(&[
            ("sign:premium/".into(), "k1".into()),
            ("sign:premium/4k/".into(), "k2".into()),
            ("other".into(), "x".into()),
        ])
        .unwrap()
    }

    #[test]
    fn longest_prefix_covers() {
        assert_eq!(
            covering(&settings(), "premium/4k/a.m3u8").unwrap().key,
            b"k2"
        );
        assert_eq!(
            covering(&settings(), "premium/a.m3u8").unwrap().prefix,
            "premium/"
        );
        assert_eq!(covering(&settings(), "free/a.m3u8"), None);
    }

    #[test]
    fn verify_accepts_and_refuses() {
        let p = covering(&settings(), "premium/a.m3u8").unwrap();
        let sig = sign(b"k1", "premium/", 2000);
        let q = format!("x=1&st_exp=2000&st_sig={sig}");
        assert_eq!(
            verify(&p, &q, 1999).unwrap(),
            Token {
                expires: 2000,
                signature: sig.clone()
            }
        );
        assert_eq!(
            verify(
                &p,
                &q.to_uppercase().replace("ST_", "st_").replace("X=", "x="),
                1999
            )
            .map(|t| t.expires),
            Ok(2000)
        );
        let reasons = [
            (String::new(), "st_exp missing"),
            ("st_exp=2000".into(), "st_sig missing"),
            (format!("st_exp=abc&st_sig={sig}"), "not Unix seconds"),
            (q.clone(), "expired"),
            (format!("st_exp=2001&st_sig={sig}"), "does not match"),
            ("st_exp=2001&st_sig=zz".into(), "not hex"),
        ];
        for (query, reason) in reasons {
            let e = verify(&p, &query, 2000).unwrap_err();
            assert!(e.contains(reason), "{query}: {e}");
        }
        let other_prefix = SignedPrefix {
            prefix: "premium/4k/".into(),
            key: b"k1".to_vec(),
        };
        assert!(
            verify(&other_prefix, &q, 1).is_err(),
            "a token is bound to its prefix"
        );
    }
}
