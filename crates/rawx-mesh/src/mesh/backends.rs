//! `tcp-listener` and `tcp-peer`, optionally inside TLS, as receptor v1.4.9
//! `pkg/backends/tcp.go` runs them: a peer redials 5 s after a failure or a closed link,
//! growing by half each time up to 20 s, and starts again at 5 s after a link that worked.
//!
//! TLS is plain X.509, as Go's `crypto/tls` checks it: a peer verifies the listener's chain
//! against `rootcas` (the system roots without) and its DNS or IP name against the host it
//! dialed; a listener with `clientcas` verifies a client certificate (required with
//! `requireclientcert`), the chain only.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{PrivateKeyDer, ServerName};
use rustls::{ClientConfig, RootCertStore};
use tokio::net::{TcpListener, TcpStream};

use super::core::{BackendInfo, Mesh};
use super::session::Session;
use crate::config::{Backend, Config, TlsClient};

const REDIAL_FIRST: Duration = Duration::from_secs(5);
const REDIAL_MAX: Duration = Duration::from_secs(20);
const TLS_HANDSHAKE: Duration = Duration::from_secs(15);

#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    #[error("{kind} {endpoint}: {message}")]
    Setup {
        kind: &'static str,
        endpoint: String,
        message: String,
    },
}

pub(super) fn info(b: &Backend) -> Arc<BackendInfo> {
    Arc::new(BackendInfo {
        cost: b.cost,
        node_cost: b.node_cost.clone(),
        allowed_peers: b.allowed_peers.clone(),
    })
}

/// Binds a listener and serves it until the mesh stops.
pub async fn start_tcp_listener(
    mesh: &Mesh,
    b: &Backend,
    config: &Config,
) -> Result<std::net::SocketAddr, BackendError> {
    let fail = |message: String| BackendError::Setup {
        kind: b.kind,
        endpoint: b.endpoint.clone(),
        message,
    };
    let acceptor = match &b.tls {
        None => None,
        Some(name) => {
            let ts = config
                .tls_servers
                .iter()
                .find(|t| &t.name == name)
                .ok_or_else(|| fail(format!("unknown TLS config {name}")))?;
            let cfg = crate::tls::server_config(ts).map_err(|e| fail(e.to_string()))?;
            Some(tokio_rustls::TlsAcceptor::from(cfg))
        }
    };
    let listener = bind(&b.endpoint).await.map_err(fail)?;
    let addr = listener.local_addr().map_err(|e| fail(e.to_string()))?;
    tracing::info!("Listening on TCP {addr}");
    spawn_listener(mesh, info(b), listener, move |stream, peer| {
        let acceptor = acceptor.clone();
        async move {
            match acceptor {
                None => Ok(Session::from_stream(stream)),
                Some(acc) => {
                    let tls = tokio::time::timeout(TLS_HANDSHAKE, acc.accept(stream))
                        .await
                        .map_err(|_| format!("TLS handshake with {peer} timed out"))?
                        .map_err(|e| format!("TLS handshake with {peer} failed: {e}"))?;
                    Ok(Session::from_stream(crate::tls::HalfCloseTolerant(tls)))
                }
            }
        }
    });
    Ok(addr)
}

/// Binds a listener's port. After a reload the old listener may take a moment to let go of
/// it, so a taken port is tried again for two seconds.
pub(super) async fn bind(endpoint: &str) -> Result<TcpListener, String> {
    let mut tries = 0;
    loop {
        match TcpListener::bind(endpoint).await {
            Ok(l) => return Ok(l),
            Err(e) if e.kind() == std::io::ErrorKind::AddrInUse && tries < 20 => {
                tries += 1;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => return Err(e.to_string()),
        }
    }
}

/// Starts dialing a peer, with redial as Go does it.
pub fn start_tcp_peer(mesh: &Mesh, b: &Backend, config: &Config) -> Result<(), BackendError> {
    let fail = |message: String| BackendError::Setup {
        kind: b.kind,
        endpoint: b.endpoint.clone(),
        message,
    };
    let (host, _) = b
        .endpoint
        .rsplit_once(':')
        .ok_or_else(|| fail("the address must be host:port".into()))?;
    let host = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_string();
    let tls = match &b.tls {
        None => None,
        Some(name) => {
            let tc = config.tls_clients.iter().find(|t| &t.name == name);
            let cfg = client_config(tc).map_err(fail)?;
            let server_name = ServerName::try_from(host.clone())
                .map_err(|e| fail(format!("{host} is not a host name or IP address: {e}")))?;
            Some((tokio_rustls::TlsConnector::from(cfg), server_name))
        }
    };
    let address = b.endpoint.clone();
    spawn_dialer(mesh, info(b), b.redial, b.endpoint.clone(), move || {
        let address = address.clone();
        let tls = tls.clone();
        async move { dial(&address, tls.as_ref()).await }
    });
    Ok(())
}

/// Accepts connections until the backends stop; `handshake` turns each into a session
/// (TLS, a websocket upgrade) on its own task.
pub(super) fn spawn_listener<F, Fut>(
    mesh: &Mesh,
    info: Arc<BackendInfo>,
    listener: TcpListener,
    handshake: F,
) where
    F: Fn(TcpStream, std::net::SocketAddr) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = Result<Session, String>> + Send + 'static,
{
    let mesh = mesh.clone();
    let stop = mesh.backend_token();
    tokio::spawn(async move {
        loop {
            let accepted = tokio::select! {
                _ = stop.cancelled() => return,
                a = listener.accept() => a,
            };
            let (stream, peer) = match accepted {
                Ok(a) => a,
                Err(e) => {
                    tracing::error!("Error accepting connection: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            };
            let _ = stream.set_nodelay(true);
            let (mesh, info, stop) = (mesh.clone(), info.clone(), stop.clone());
            let handshake = handshake(stream, peer);
            tokio::spawn(async move {
                match handshake.await {
                    Ok(session) => mesh.run_session(session, info, stop).await,
                    Err(e) => tracing::warn!("{e}"),
                }
            });
        }
    });
}

/// Dials until the backends stop, with Go's redial: 5 s after a failure or a closed link,
/// growing by half up to 20 s, back to 5 s after a link that worked.
pub(super) fn spawn_dialer<F, Fut>(
    mesh: &Mesh,
    info: Arc<BackendInfo>,
    redial: bool,
    address: String,
    dial: F,
) where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = Result<Session, String>> + Send,
{
    let mesh = mesh.clone();
    let stop = mesh.backend_token();
    tokio::spawn(async move {
        let mut delay = REDIAL_FIRST;
        loop {
            let dialed = tokio::select! {
                _ = stop.cancelled() => return,
                d = dial() => d,
            };
            match dialed {
                Ok(session) => {
                    delay = REDIAL_FIRST;
                    mesh.run_session(session, info.clone(), stop.clone()).await;
                    if stop.is_cancelled() {
                        return;
                    }
                    if redial {
                        tracing::warn!("Backend connection to {address} exited (will retry)");
                    }
                }
                Err(e) if redial => {
                    tracing::warn!("Backend connection to {address} failed (will retry): {e}")
                }
                Err(e) => tracing::error!("Backend connection to {address} failed: {e}"),
            }
            if !redial {
                return;
            }
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tokio::time::sleep(delay) => {}
            }
            delay = delay.mul_f64(1.5).min(REDIAL_MAX);
        }
    });
}

async fn dial(
    address: &str,
    tls: Option<&(tokio_rustls::TlsConnector, ServerName<'static>)>,
) -> Result<Session, String> {
    let stream = TcpStream::connect(address)
        .await
        .map_err(|e| e.to_string())?;
    let _ = stream.set_nodelay(true);
    match tls {
        None => Ok(Session::from_stream(stream)),
        Some((connector, name)) => {
            let tls = tokio::time::timeout(TLS_HANDSHAKE, connector.connect(name.clone(), stream))
                .await
                .map_err(|_| "TLS handshake timed out".to_string())?
                .map_err(|e| e.to_string())?;
            Ok(Session::from_stream(crate::tls::HalfCloseTolerant(tls)))
        }
    }
}

/// A `tls-client` as Go builds it; `None` is Go's `default` config: system roots, no
/// client certificate.
pub fn client_config(tc: Option<&TlsClient>) -> Result<Arc<ClientConfig>, String> {
    let provider = Arc::new(crate::tls::provider());
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?;
    let builder = if tc.is_some_and(|t| t.insecure_skip_verify) {
        builder
            .dangerous()
            .with_custom_certificate_verifier(crate::tls::Verifier::skip(provider))
    } else {
        let mut roots = RootCertStore::empty();
        let system = Path::new("/etc/ssl/certs/ca-certificates.crt");
        let cas = tc.and_then(|t| t.root_cas.as_deref()).unwrap_or(system);
        for ca in crate::tls::certs(cas)? {
            roots
                .add(ca)
                .map_err(|e| format!("{}: {e}", cas.display()))?;
        }
        builder.with_root_certificates(roots)
    };
    let config = match tc.map(|t| (&t.cert, &t.key)) {
        Some((Some(cert), Some(key))) => {
            let key =
                PrivateKeyDer::from_pem_file(key).map_err(|e| format!("{}: {e}", key.display()))?;
            builder
                .with_client_auth_cert(crate::tls::certs(cert)?, key)
                .map_err(|e| format!("client cert and key do not fit: {e}"))?
        }
        _ => builder.with_no_client_auth(),
    };
    Ok(Arc::new(config))
}
