//! The three ways AWX reaches an aggregator: a TCP stream of JSON lines, one UDP datagram per
//! document, or one HTTP(S) POST per document (AWX's rsyslog `omhttp` without batching).

use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, bail, Context as _};
use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use tokio::io::AsyncWriteExt as _;
use tokio::net::{TcpStream, UdpSocket};
use tokio::task::JoinHandle;

use crate::config::{LogConfig, Protocol};
use crate::document::Lines;

/// An open way to the aggregator.
pub(crate) enum Conn {
    /// With `LOG_AGGREGATOR_TCP_TIMEOUT`, which bounds each write as well as the connect.
    Tcp(TcpStream, Duration),
    Udp(UdpSocket),
    Http(HttpConn),
}

pub(crate) struct HttpConn {
    sender: SendRequest<Full<Bytes>>,
    /// Drives the connection; aborted with it so no task outlives the connection.
    driver: JoinHandle<()>,
    authority: String,
    path: String,
    auth: Option<String>,
    /// `LOG_AGGREGATOR_TCP_TIMEOUT`, bounding each request.
    timeout: Duration,
}

impl Drop for HttpConn {
    fn drop(&mut self) {
        self.driver.abort();
    }
}

/// Where an HTTP(S) aggregator is: scheme, host, port, path. `host` may be a bare name or a
/// URL; an explicit `LOG_AGGREGATOR_PORT` wins over the URL's.
pub(crate) fn http_target(cfg: &LogConfig) -> anyhow::Result<(bool, String, u16, String)> {
    let (tls, rest) = if let Some(r) = cfg.host.strip_prefix("https://") {
        (true, r)
    } else if let Some(r) = cfg.host.strip_prefix("http://") {
        (false, r)
    } else {
        (true, cfg.host.as_str())
    };
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let (host, url_port) = match authority.rsplit_once(':') {
        Some((h, p)) if !h.ends_with(']') || h.starts_with('[') => match p.parse::<u16>() {
            Ok(p) => (h, Some(p)),
            Err(_) => (authority, None),
        },
        _ => (authority, None),
    };
    if host.is_empty() {
        bail!("LOG_AGGREGATOR_HOST is empty");
    }
    let port = cfg.port.or(url_port).unwrap_or(if tls { 443 } else { 80 });
    Ok((
        tls,
        host.trim_matches(['[', ']']).to_string(),
        port,
        path.to_string(),
    ))
}

fn need_port(cfg: &LogConfig) -> anyhow::Result<u16> {
    cfg.port
        .ok_or_else(|| anyhow!("LOG_AGGREGATOR_PORT is required for {:?}", cfg.protocol))
}

fn auth_header(cfg: &LogConfig) -> Option<String> {
    use base64::Engine as _;
    if !cfg.username.is_empty() {
        let pair = format!("{}:{}", cfg.username, cfg.password);
        Some(format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(pair)
        ))
    } else if !cfg.password.is_empty() {
        // A token alone: Splunk's HTTP Event Collector wants its own scheme.
        let scheme = if cfg.kind == "splunk" {
            "Splunk"
        } else {
            "Bearer"
        };
        Some(format!("{scheme} {}", cfg.password))
    } else {
        None
    }
}

pub(crate) async fn connect(cfg: &LogConfig) -> anyhow::Result<Conn> {
    let timeout = cfg.tcp_timeout.max(Duration::from_millis(100));
    match cfg.protocol {
        Protocol::Tcp => {
            let port = need_port(cfg)?;
            let stream =
                tokio::time::timeout(timeout, TcpStream::connect((cfg.host.as_str(), port)))
                    .await
                    .map_err(|_| {
                        anyhow!(
                            "connecting to {}:{port} timed out after {timeout:?}",
                            cfg.host
                        )
                    })?
                    .with_context(|| format!("connecting to {}:{port}", cfg.host))?;
            stream.set_nodelay(true)?;
            Ok(Conn::Tcp(stream, timeout))
        }
        Protocol::Udp => {
            let port = need_port(cfg)?;
            let addr = tokio::net::lookup_host((cfg.host.as_str(), port))
                .await
                .with_context(|| format!("resolving {}", cfg.host))?
                .next()
                .ok_or_else(|| anyhow!("{} has no address", cfg.host))?;
            let local = if addr.is_ipv4() {
                "0.0.0.0:0"
            } else {
                "[::]:0"
            };
            let sock = UdpSocket::bind(local).await?;
            // Connected, so a refused port shows up as an error on a later send.
            sock.connect(addr).await?;
            Ok(Conn::Udp(sock))
        }
        Protocol::Https => {
            let (tls, host, port, path) = http_target(cfg)?;
            let tcp = tokio::time::timeout(timeout, TcpStream::connect((host.as_str(), port)))
                .await
                .map_err(|_| anyhow!("connecting to {host}:{port} timed out after {timeout:?}"))?
                .with_context(|| format!("connecting to {host}:{port}"))?;
            tcp.set_nodelay(true)?;
            let authority = if (tls && port == 443) || (!tls && port == 80) {
                host.clone()
            } else {
                format!("{host}:{port}")
            };
            let (sender, driver) = if tls {
                let connector = tokio_rustls::TlsConnector::from(tls_config(cfg.verify_cert)?);
                let name = rustls::pki_types::ServerName::try_from(host.clone())
                    .with_context(|| format!("{host} is not a valid TLS server name"))?;
                let stream = tokio::time::timeout(timeout, connector.connect(name, tcp))
                    .await
                    .map_err(|_| anyhow!("TLS handshake with {host}:{port} timed out"))?
                    .with_context(|| format!("TLS handshake with {host}:{port}"))?;
                let (sender, conn) =
                    hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
                (
                    sender,
                    tokio::spawn(async move {
                        let _ = conn.await;
                    }),
                )
            } else {
                let (sender, conn) =
                    hyper::client::conn::http1::handshake(TokioIo::new(tcp)).await?;
                (
                    sender,
                    tokio::spawn(async move {
                        let _ = conn.await;
                    }),
                )
            };
            Ok(Conn::Http(HttpConn {
                sender,
                driver,
                authority,
                path,
                auth: auth_header(cfg),
                timeout,
            }))
        }
    }
}

fn tls_config(verify: bool) -> anyhow::Result<Arc<rustls::ClientConfig>> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()?;
    let config = if verify {
        let mut roots = rustls::RootCertStore::empty();
        // The system's trust store (SSL_CERT_FILE / SSL_CERT_DIR honoured), as rsyslog uses.
        for cert in rustls_native_certs::load_native_certs().certs {
            let _ = roots.add(cert);
        }
        builder.with_root_certificates(roots).with_no_client_auth()
    } else {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(NoVerify(provider)))
            .with_no_client_auth()
    };
    Ok(Arc::new(config))
}

/// `LOG_AGGREGATOR_VERIFY_CERT=false`: accept any certificate (still checking the handshake's
/// signatures), as AWX's `allowunsignedcerts`/`skipverifyhost` do.
#[derive(Debug)]
struct NoVerify(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for NoVerify {
    fn verify_server_cert(
        &self,
        _: &rustls::pki_types::CertificateDer<'_>,
        _: &[rustls::pki_types::CertificateDer<'_>],
        _: &rustls::pki_types::ServerName<'_>,
        _: &[u8],
        _: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }
    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }
    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

impl Conn {
    /// Sends `docs` in order. On failure, says how many went out before it (those need not
    /// be sent again) and why; the connection is then to be dropped.
    pub(crate) async fn send(&mut self, docs: &Lines) -> Result<(), (usize, anyhow::Error)> {
        match self {
            Conn::Tcp(stream, timeout) => {
                // A peer that closed shows as a readable EOF: find out before writing into a
                // connection the kernel would accept bytes for and then lose.
                let mut probe = [0u8; 256];
                if let Ok(0) = stream.try_read(&mut probe) {
                    return Err((0, anyhow!("the aggregator closed the connection")));
                }
                // The documents are already JSON lines, back to back: one write for the batch.
                // An aggregator that accepts but never reads would hold it forever once the
                // socket buffers fill: bounded, and the batch goes to the disk buffer (the
                // start of it may then arrive twice, never lost).
                match tokio::time::timeout(*timeout, stream.write_all(docs.from(0))).await {
                    Ok(r) => r.map_err(|e| (0, anyhow!("writing to the aggregator: {e}"))),
                    Err(_) => Err((
                        0,
                        anyhow!("the aggregator took no data for {timeout:?} (LOG_AGGREGATOR_TCP_TIMEOUT)"),
                    )),
                }
            }
            Conn::Udp(sock) => {
                for i in 0..docs.len() {
                    sock.send(docs.doc(i))
                        .await
                        .map_err(|e| (i, anyhow!("sending a datagram to the aggregator: {e}")))?;
                }
                Ok(())
            }
            Conn::Http(http) => {
                for i in 0..docs.len() {
                    match tokio::time::timeout(http.timeout, http.post(docs.doc(i))).await {
                        Ok(r) => r.map_err(|e| (i, e))?,
                        Err(_) => {
                            return Err((
                                i,
                                anyhow!(
                                    "the aggregator did not answer within {:?} (LOG_AGGREGATOR_TCP_TIMEOUT)",
                                    http.timeout
                                ),
                            ))
                        }
                    }
                }
                Ok(())
            }
        }
    }
}

impl HttpConn {
    async fn post(&mut self, doc: &[u8]) -> anyhow::Result<()> {
        self.sender
            .ready()
            .await
            .context("the aggregator's connection closed")?;
        let mut req = hyper::Request::post(self.path.as_str())
            .header(hyper::header::HOST, self.authority.as_str())
            .header(hyper::header::CONTENT_TYPE, "application/json");
        if let Some(a) = &self.auth {
            req = req.header(hyper::header::AUTHORIZATION, a.as_str());
        }
        let req = req.body(Full::new(Bytes::copy_from_slice(doc)))?;
        let resp = self
            .sender
            .send_request(req)
            .await
            .context("posting to the aggregator")?;
        let status = resp.status();
        // Read the body so the connection can carry the next request.
        let _ = resp.into_body().collect().await;
        if !status.is_success() {
            bail!("the aggregator answered {status}");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_host(host: &str, port: Option<u16>) -> LogConfig {
        LogConfig {
            host: host.into(),
            port,
            ..LogConfig::default()
        }
    }

    #[test]
    fn http_targets() {
        assert_eq!(
            http_target(&with_host("logs.example", None)).unwrap(),
            (true, "logs.example".into(), 443, "/".into())
        );
        assert_eq!(
            http_target(&with_host("http://h:8080/services/collector", None)).unwrap(),
            (false, "h".into(), 8080, "/services/collector".into())
        );
        assert_eq!(
            http_target(&with_host("https://h:8080/x", Some(9000))).unwrap(),
            (true, "h".into(), 9000, "/x".into())
        );
    }

    #[test]
    fn auth_headers() {
        let mut c = with_host("h", None);
        assert_eq!(auth_header(&c), None);
        c.password = "tok".into();
        assert_eq!(auth_header(&c).unwrap(), "Bearer tok");
        c.kind = "splunk".into();
        assert_eq!(auth_header(&c).unwrap(), "Splunk tok");
        c.username = "u".into();
        assert!(auth_header(&c).unwrap().starts_with("Basic "));
    }
}
