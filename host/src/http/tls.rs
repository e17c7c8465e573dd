//! TLS termination: the certificate chain and key loaded from PEM files, ALPN offering `h2` then `http/1.1`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::InconsistentKeys;
use rustls::ServerConfig;
use rustls::crypto::CryptoProvider;
use rustls::sign::CertifiedKey;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::TlsAcceptor;

use crate::config::TlsConfig;

/// ALPN protocols in the server's order of preference: HTTP/2 for players that speak it (LL-HLS over
/// HTTPS), HTTP/1.1 for the rest.
const ALPN: [&[u8]; 2] = [b"h2", b"http/1.1"];

/// Why the TLS settings cannot be used; each message names the file and the problem on one line.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A file could not be read.
    #[error("cannot read TLS {what} {}: {error}", path.display())]
    Read {
        /// "certificate" or "private key".
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// Why (not a `source`: the message already says it, and anyhow would print it twice).
        error: std::io::Error,
    },
    /// A file holds no usable PEM section of the expected kind, or a section that does not decode.
    #[error("invalid TLS {what} {}: {reason}", path.display())]
    Invalid {
        /// "certificate" or "private key".
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// The private key is not the one of the certificate's public key.
    #[error("TLS private key {} does not match the certificate {}", key.display(), cert.display())]
    KeyMismatch {
        /// The certificate file.
        cert: PathBuf,
        /// The key file.
        key: PathBuf,
    },
}

/// Builds the acceptor of the listener from the PEM files `tls` names, refusing a pair that cannot work.
///
/// # Errors
/// A file that cannot be read, holds no certificate or key, does not decode, or a key that is not the
/// certificate's.
pub fn acceptor(tls: &TlsConfig) -> Result<TlsAcceptor, TlsError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let chain = certificates(&tls.cert)?;
    let key = private_key(&tls.key)?;
    check_pair(&provider, &chain, &key, tls)?;
    let invalid_cert = |reason: String| TlsError::Invalid {
        what: "certificate",
        path: tls.cert.clone(),
        reason,
    };
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| invalid_cert(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|e| invalid_cert(e.to_string()))?;
    config.alpn_protocols = ALPN.iter().map(|p| p.to_vec()).collect();
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// The certificate chain of a PEM file, leaf first.
fn certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let chain = CertificateDer::pem_file_iter(path)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|e| pem_error("certificate", path, e))?;
    if chain.is_empty() {
        return Err(pem_error(
            "certificate",
            path,
            rustls_pki_types::pem::Error::NoItemsFound,
        ));
    }
    Ok(chain)
}

/// The first private key (PKCS#8, PKCS#1 or SEC1) of a PEM file.
fn private_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    PrivateKeyDer::from_pem_file(path).map_err(|e| pem_error("private key", path, e))
}

/// Refuses a key rustls cannot sign with, a leaf certificate that does not parse, or a key that is not
/// the leaf's, each with the file at fault (rustls's own check reports them all as one error).
fn check_pair(
    provider: &CryptoProvider,
    chain: &[CertificateDer<'static>],
    key: &PrivateKeyDer<'static>,
    tls: &TlsConfig,
) -> Result<(), TlsError> {
    let signing_key = provider
        .key_provider
        .load_private_key(key.clone_key())
        .map_err(|e| TlsError::Invalid {
            what: "private key",
            path: tls.key.clone(),
            reason: e.to_string(),
        })?;
    match CertifiedKey::new(chain.to_vec(), signing_key).keys_match() {
        Ok(()) | Err(rustls::Error::InconsistentKeys(InconsistentKeys::Unknown)) => Ok(()),
        Err(rustls::Error::InconsistentKeys(InconsistentKeys::KeyMismatch)) => {
            Err(TlsError::KeyMismatch {
                cert: tls.cert.clone(),
                key: tls.key.clone(),
            })
        }
        Err(e) => Err(TlsError::Invalid {
            what: "certificate",
            path: tls.cert.clone(),
            reason: e.to_string(),
        }),
    }
}

fn pem_error(what: &'static str, path: &Path, error: rustls_pki_types::pem::Error) -> TlsError {
    use rustls_pki_types::pem::Error;
    let reason = match error {
        Error::Io(error) => {
            return TlsError::Read {
                what,
                path: path.to_owned(),
                error,
            };
        }
        Error::NoItemsFound => format!("no PEM {what} found in the file"),
        Error::MissingSectionEnd { .. } => "a PEM section has no END line".to_owned(),
        Error::IllegalSectionStart { .. } => "a PEM BEGIN line is malformed".to_owned(),
        other => other.to_string(),
    };
    TlsError::Invalid {
        what,
        path: path.to_owned(),
        reason,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, text).expect("write PEM file");
        path
    }

    fn pair(dir: &Path, prefix: &str) -> TlsConfig {
        let certified =
            rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).expect("rcgen");
        TlsConfig {
            cert: write(dir, &format!("{prefix}cert.pem"), &certified.cert.pem()),
            key: write(
                dir,
                &format!("{prefix}key.pem"),
                &certified.signing_key.serialize_pem(),
            ),
        }
    }

    fn error(tls: &TlsConfig) -> String {
        acceptor(tls).map(|_| ()).unwrap_err().to_string()
    }

    #[test]
    fn a_matching_pair_gives_an_acceptor_offering_h2_then_http1() {
        let dir = tempfile::tempdir().expect("temp dir");
        let acceptor = acceptor(&pair(dir.path(), "")).expect("acceptor");
        assert_eq!(
            acceptor.config().alpn_protocols,
            vec![b"h2".to_vec(), b"http/1.1".to_vec()]
        );
    }

    #[test]
    fn each_unusable_file_is_named_with_its_problem() {
        let dir = tempfile::tempdir().expect("temp dir");
        let good = pair(dir.path(), "a-");
        let other = pair(dir.path(), "b-");
        let missing = dir.path().join("missing.pem");
        let garbage = write(dir.path(), "garbage.pem", "not a certificate\n");
        let truncated = write(
            dir.path(),
            "truncated.pem",
            "-----BEGIN CERTIFICATE-----\nMIIB\n",
        );
        let bad_der = write(
            dir.path(),
            "bad-der.pem",
            "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
        );
        let bad_key = write(
            dir.path(),
            "bad-key.pem",
            "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
        );
        let cases: [(&Path, &Path, &str, &Path); 8] = [
            (&missing, &good.key, "cannot read TLS certificate", &missing),
            (
                &good.cert,
                &missing,
                "cannot read TLS private key",
                &missing,
            ),
            (&garbage, &good.key, "no PEM certificate", &garbage),
            (&good.cert, &good.cert, "no PEM private key", &good.cert),
            (&truncated, &good.key, "no END line", &truncated),
            (&bad_der, &good.key, "invalid TLS certificate", &bad_der),
            (&good.cert, &bad_key, "invalid TLS private key", &bad_key),
            (&good.cert, &other.key, "does not match", &other.key),
        ];
        for (cert, key, problem, named) in cases {
            let message = error(&TlsConfig {
                cert: cert.to_owned(),
                key: key.to_owned(),
            });
            assert!(message.contains(problem), "{message}");
            assert!(message.contains(&*named.to_string_lossy()), "{message}");
            assert!(!message.contains('\n'), "{message}");
        }
    }
}
