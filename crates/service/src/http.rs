//! The HTTP client for outgoing calls (Xendit, the simulated provider's callbacks): rustls
//! with the ring crypto provider, trusting the Mozilla roots built into the binary
//! (`webpki-roots`, so a slim container without a system trust store works the same) plus
//! the CA certificates of `--extra-ca-file`, if any.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;

/// Makes ring the process's default rustls crypto provider, for HTTP clients built without
/// [`client`] (reqwest has no provider of its own in this build). Harmless when one is
/// already installed.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// The shared client: HTTPS with the built-in roots and `extra_ca_file`'s certificates,
/// HTTP/1.1, and a 20 s limit per request.
pub fn client(extra_ca_file: Option<&Path>) -> anyhow::Result<reqwest::Client> {
    install_crypto_provider();
    let mut roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    if let Some(path) = extra_ca_file {
        let certs = extra_certificates(path)
            .map_err(|e| anyhow::anyhow!("--extra-ca-file {}: {e}", path.display()))?;
        for cert in certs {
            roots
                .add(cert)
                .map_err(|e| anyhow::anyhow!("--extra-ca-file {}: {e}", path.display()))?;
        }
    }
    let mut tls = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| anyhow::anyhow!("TLS: {e}"))?
    .with_root_certificates(roots)
    .with_no_client_auth();
    tls.alpn_protocols = vec![b"http/1.1".to_vec()];
    reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .timeout(Duration::from_secs(20))
        .build()
        .map_err(|e| anyhow::anyhow!("HTTP client: {e}"))
}

/// Every certificate in a PEM file; at least one.
fn extra_certificates(path: &Path) -> anyhow::Result<Vec<CertificateDer<'static>>> {
    let certs = CertificateDer::pem_file_iter(path)?.collect::<Result<Vec<_>, _>>()?;
    anyhow::ensure!(!certs.is_empty(), "no PEM certificate in the file");
    Ok(certs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_extra_ca_file_must_hold_a_certificate() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing.pem");
        let err = client(Some(&missing)).unwrap_err().to_string();
        assert!(err.starts_with("--extra-ca-file"), "{err}");
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "not a certificate\n").unwrap();
        let err = client(Some(&empty)).unwrap_err().to_string();
        assert!(err.contains("no PEM certificate"), "{err}");
        assert!(client(None).is_ok());
    }
}
