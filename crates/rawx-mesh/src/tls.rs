//! TLS for the control service's TCP listener (`control-service` `tcplisten` + `tcptls`),
//! built from a `tls-server` section. Plain X.509 as Python's ssl module (receptorctl) checks
//! it: the certificate must name the host the client dials.

use std::io;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::config::TlsServer;

#[derive(Debug, thiserror::Error)]
#[error("tls-server {name}: {message}")]
pub struct TlsError {
    name: String,
    message: String,
}

/// rustls's *ring* provider with TLS 1.3's AES-128-GCM first, as Go's `crypto/tls` orders
/// its suites on a CPU with AES instructions (AES-128, AES-256, ChaCha20). rustls puts
/// AES-256 first; ten rounds instead of fourteen make every QUIC packet and TLS record of a
/// link cheaper, for the same security margin Receptor settles on. The client's order picks
/// the suite (rustls and Go servers both follow it), so both ends agree.
pub fn provider() -> rustls::crypto::CryptoProvider {
    let mut p = rustls::crypto::ring::default_provider();
    p.cipher_suites
        .sort_by_key(|s| s.suite() != rustls::CipherSuite::TLS13_AES_128_GCM_SHA256);
    p
}

pub fn server_config(ts: &TlsServer) -> Result<Arc<ServerConfig>, TlsError> {
    let fail = |message: String| TlsError {
        name: ts.name.clone(),
        message,
    };
    let certs = load_certs(&ts.cert).map_err(|e| fail(format!("cert: {e}")))?;
    let key = PrivateKeyDer::from_pem_file(&ts.key)
        .map_err(|e| fail(format!("key {}: {e}", ts.key.display())))?;
    let provider = Arc::new(crate::tls::provider());
    let versions: &[&rustls::SupportedProtocolVersion] = if ts.min_tls13 {
        &[&rustls::version::TLS13]
    } else {
        rustls::DEFAULT_VERSIONS
    };
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(versions)
        .map_err(|e| fail(e.to_string()))?;
    let builder = match (&ts.client_cas, ts.require_client_cert) {
        (None, true) => {
            return Err(fail(
                "requireclientcert needs clientcas (the CAs that sign client certificates)".into(),
            ))
        }
        (None, false) => builder.with_no_client_auth(),
        (Some(cas), require) => {
            let mut roots = RootCertStore::empty();
            for ca in load_certs(cas).map_err(|e| fail(format!("clientcas: {e}")))? {
                roots
                    .add(ca)
                    .map_err(|e| fail(format!("clientcas {}: {e}", cas.display())))?;
            }
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider);
            // Go verifies a client certificate when one is offered even if none is required.
            let verifier = if require {
                verifier
            } else {
                verifier.allow_unauthenticated()
            };
            builder.with_client_cert_verifier(verifier.build().map_err(|e| fail(e.to_string()))?)
        }
    };
    let config = builder
        .with_single_cert(certs, key)
        .map_err(|e| fail(format!("cert and key do not fit: {e}")))?;
    Ok(Arc::new(config))
}

fn load_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs = CertificateDer::pem_file_iter(path)
        .and_then(|it| it.collect::<Result<Vec<_>, _>>())
        .map_err(|e| format!("{}: {e}", path.display()))?;
    if certs.is_empty() {
        return Err(format!("{}: no PEM certificate in it", path.display()));
    }
    Ok(certs)
}

/// receptorctl half-closes a TLS connection at the TCP level, without a TLS close_notify,
/// to end a payload. rustls reports that as an unexpected EOF; here it is the end of input.
pub struct HalfCloseTolerant<S>(pub S);

impl<S: AsyncRead + Unpin> AsyncRead for HalfCloseTolerant<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match Pin::new(&mut self.0).poll_read(cx, buf) {
            Poll::Ready(Err(e)) if e.kind() == io::ErrorKind::UnexpectedEof => Poll::Ready(Ok(())),
            other => other,
        }
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for HalfCloseTolerant<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}

/// The PEM certificates of a file (a CA bundle, a node's chain), refused when it has none.
pub(crate) fn certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs = CertificateDer::pem_file_iter(path)
        .and_then(|it| it.collect::<Result<Vec<_>, _>>())
        .map_err(|e| format!("{}: {e}", path.display()))?;
    if certs.is_empty() {
        return Err(format!("{}: no PEM certificate in it", path.display()));
    }
    Ok(certs)
}

/// How a verifier judges a server's certificate (its chain, its names): everything but the
/// handshake's signature, which [`Verifier`] checks the same way for every kind.
type CertCheck = dyn Fn(
        &CertificateDer<'_>,
        &[CertificateDer<'_>],
        rustls::pki_types::UnixTime,
    ) -> Result<(), rustls::Error>
    + Send
    + Sync;

/// A server-certificate verifier for the checks Receptor makes that rustls's WebPKI verifier
/// does not: none at all (receptorctl's `--insecureskipverify`), the insecure CN of a service
/// stream without TLS config, a Receptor node ID among the otherName SANs. The signature over
/// the handshake is always checked.
pub(crate) struct Verifier {
    provider: Arc<rustls::crypto::CryptoProvider>,
    /// What it checks, for `Debug`.
    what: &'static str,
    check: Box<CertCheck>,
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Verifier({})", self.what)
    }
}

impl Verifier {
    pub(crate) fn new(
        provider: Arc<rustls::crypto::CryptoProvider>,
        what: &'static str,
        check: impl Fn(
                &CertificateDer<'_>,
                &[CertificateDer<'_>],
                rustls::pki_types::UnixTime,
            ) -> Result<(), rustls::Error>
            + Send
            + Sync
            + 'static,
    ) -> Arc<Verifier> {
        Arc::new(Verifier {
            provider,
            what,
            check: Box::new(check),
        })
    }

    /// receptorctl's `--insecureskipverify`: the certificate chain and name are not checked.
    pub(crate) fn skip(provider: Arc<rustls::crypto::CryptoProvider>) -> Arc<Verifier> {
        Verifier::new(provider, "--insecureskipverify", |_, _, _| Ok(()))
    }
}

impl rustls::client::danger::ServerCertVerifier for Verifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        (self.check)(end_entity, intermediates, now)?;
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use rustls::CipherSuite::*;

    /// A rawx client offers TLS 1.3's suites in Go's order, so rawx-to-rawx streams settle
    /// on AES-128-GCM as Receptor's do; the TLS 1.2 suites keep rustls's order behind them.
    #[test]
    fn tls13_suites_in_gos_order() {
        let suites: Vec<_> = super::provider()
            .cipher_suites
            .iter()
            .map(|s| s.suite())
            .collect();
        assert_eq!(
            suites[..3],
            [
                TLS13_AES_128_GCM_SHA256,
                TLS13_AES_256_GCM_SHA384,
                TLS13_CHACHA20_POLY1305_SHA256
            ]
        );
        assert_eq!(
            suites.len(),
            rustls::crypto::ring::default_provider().cipher_suites.len()
        );
    }
}
