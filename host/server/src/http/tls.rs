//! TLS termination: the certificate chain and key loaded from PEM files, ALPN offering `h2` then `http/1.1`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arc_swap::ArcSwap;

use rustls::InconsistentKeys;
use rustls::ServerConfig;
use rustls::crypto::CryptoProvider;
use rustls::server::{ClientHello, ResolvesServerCert};
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

/// The certificate served, replaceable while the listener runs: renewed certificates (ACME every 60-90
/// days) take effect on [`Certificates::reload`] without a restart or a dropped connection.
#[derive(Debug)]
pub struct Certificates {
    files: TlsConfig,
    provider: Arc<CryptoProvider>,
    current: ArcSwap<CertifiedKey>,
}

impl Certificates {
    /// Reads and checks the certificate chain and key named by `files`.
    ///
    /// # Errors
    /// A [`TlsError`] naming the file and the problem.
    pub fn load(files: &TlsConfig) -> Result<Arc<Certificates>, TlsError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let current = certified_key(files, &provider)?;
        Ok(Arc::new(Certificates {
            files: files.clone(),
            provider,
            current: ArcSwap::from_pointee(current),
        }))
    }

    /// Reads the files again and serves them to new connections; on an error the previous certificate
    /// keeps serving.
    ///
    /// # Errors
    /// A [`TlsError`] naming the file and the problem.
    pub fn reload(&self) -> Result<(), TlsError> {
        let fresh = certified_key(&self.files, &self.provider)?;
        self.current.store(Arc::new(fresh));
        Ok(())
    }

    /// The acceptor for the listener: ALPN `h2` then `http/1.1`, the current certificate for every
    /// handshake.
    ///
    /// # Errors
    /// A [`TlsError`] when rustls refuses the protocol versions of the provider.
    pub fn acceptor(self: &Arc<Self>) -> Result<TlsAcceptor, TlsError> {
        let mut config = ServerConfig::builder_with_provider(Arc::clone(&self.provider))
            .with_safe_default_protocol_versions()
            .map_err(|e| TlsError::Invalid {
                what: "certificate",
                path: self.files.cert.clone(),
                reason: e.to_string(),
            })?
            .with_no_client_auth()
            .with_cert_resolver(Arc::clone(self) as Arc<dyn ResolvesServerCert>);
        config.alpn_protocols = ALPN.iter().map(|p| p.to_vec()).collect();
        Ok(TlsAcceptor::from(Arc::new(config)))
    }
}

impl ResolvesServerCert for Certificates {
    fn resolve(&self, _client_hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.current.load_full())
    }
}

/// The chain and key named by `files`, checked to belong together.
fn certified_key(files: &TlsConfig, provider: &CryptoProvider) -> Result<CertifiedKey, TlsError> {
    let chain = certificates(&files.cert)?;
    let key = private_key(&files.key)?;
    let signing_key =
        provider
            .key_provider
            .load_private_key(key)
            .map_err(|e| TlsError::Invalid {
                what: "private key",
                path: files.key.clone(),
                reason: e.to_string(),
            })?;
    let certified = CertifiedKey::new(chain, signing_key);
    match certified.keys_match() {
        Ok(()) | Err(rustls::Error::InconsistentKeys(InconsistentKeys::Unknown)) => Ok(certified),
        Err(rustls::Error::InconsistentKeys(InconsistentKeys::KeyMismatch)) => {
            Err(TlsError::KeyMismatch {
                cert: files.cert.clone(),
                key: files.key.clone(),
            })
        }
        Err(e) => Err(TlsError::Invalid {
            what: "certificate",
            path: files.cert.clone(),
            reason: e.to_string(),
        }),
    }
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
        Certificates::load(tls).map(|_| ()).unwrap_err().to_string()
    }

    #[test]
    fn a_matching_pair_gives_an_acceptor_offering_h2_then_http1() {
        let dir = tempfile::tempdir().expect("temp dir");
        let acceptor = Certificates::load(&pair(dir.path(), ""))
            .and_then(|certificates| certificates.acceptor())
            .expect("acceptor");
        assert_eq!(
            acceptor.config().alpn_protocols,
            vec![b"h2".to_vec(), b"http/1.1".to_vec()]
        );
    }

    #[test]
    fn a_reload_serves_the_new_files_and_a_failed_one_keeps_the_old() {
        let dir = tempfile::tempdir().expect("temp dir");
        let served = pair(dir.path(), "");
        let certificates = Certificates::load(&served).expect("load");
        let first = certificates.current.load_full().cert[0].clone();
        let renewed = pair(dir.path(), "renewed-");
        std::fs::rename(&renewed.cert, &served.cert).expect("renew cert");
        std::fs::rename(&renewed.key, &served.key).expect("renew key");
        certificates.reload().expect("reload");
        let second = certificates.current.load_full().cert[0].clone();
        assert_ne!(first, second);
        std::fs::write(&served.key, "not a key\n").expect("break the key");
        assert!(certificates.reload().is_err());
        assert_eq!(certificates.current.load_full().cert[0], second);
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
