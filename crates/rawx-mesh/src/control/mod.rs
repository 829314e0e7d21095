//! The control service: Receptor's line protocol on a Unix socket (and plain TCP when
//! `tcplisten` has no `tcptls`), so the real `receptorctl` and AWX work unchanged.

mod lines;
mod session;

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};

use tokio::net::{TcpListener, UnixListener};
use tokio::sync::watch;

use crate::config::{Config, ControlService};
use crate::node::Node;
use crate::tls::{server_config, HalfCloseTolerant, TlsError};
pub use session::{serve_session, ConnKind};

#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    #[error("control socket {path}: another node holds {path}.lock; stop it first")]
    Locked { path: String },
    #[error("control socket {path}: {what}: {source}")]
    Socket {
        path: String,
        what: &'static str,
        source: io::Error,
    },
    #[error("control service tcplisten {addr}: {source}")]
    Tcp { addr: String, source: io::Error },
    #[error("control service tcptls: {0}")]
    Tls(#[from] TlsError),
}

/// A bound control-service listener.
pub enum Listener {
    Unix {
        listener: UnixListener,
        path: PathBuf,
        /// Held while the node serves; its flock tells a second node the socket is taken.
        _lock: File,
    },
    Tcp(TcpListener),
    Tls(TcpListener, tokio_rustls::TlsAcceptor),
}

impl Listener {
    pub fn describe(&self) -> String {
        match self {
            Listener::Unix { path, .. } => format!("unix socket {}", path.display()),
            Listener::Tcp(l) => match l.local_addr() {
                Ok(a) => format!("tcp {a}"),
                Err(_) => "tcp".into(),
            },
            Listener::Tls(l, _) => match l.local_addr() {
                Ok(a) => format!("tcp {a} with TLS"),
                Err(_) => "tcp with TLS".into(),
            },
        }
    }
}

/// Binds every listener of one `control-service` section.
pub async fn bind(cs: &ControlService, config: &Config) -> Result<Vec<Listener>, ControlError> {
    let mut out = Vec::new();
    if let Some(path) = &cs.filename {
        out.push(bind_unix(path, cs.permissions)?);
    }
    if let Some(addr) = &cs.tcp_listen {
        // Go accepts a bare port.
        let full = if addr.contains(':') {
            addr.clone()
        } else {
            format!("0.0.0.0:{addr}")
        };
        let l = TcpListener::bind(&full)
            .await
            .map_err(|source| ControlError::Tcp {
                addr: full.clone(),
                source,
            })?;
        match tls_acceptor(cs, config)? {
            Some(acceptor) => out.push(Listener::Tls(l, acceptor)),
            None => out.push(Listener::Tcp(l)),
        }
    }
    Ok(out)
}

/// The TLS acceptor for `tcptls`, if set; also what `--check` uses to validate the files.
pub fn tls_acceptor(
    cs: &ControlService,
    config: &Config,
) -> Result<Option<tokio_rustls::TlsAcceptor>, ControlError> {
    let Some(name) = &cs.tcp_tls else {
        return Ok(None);
    };
    // Config validation guarantees the name exists.
    let Some(ts) = config.tls_servers.iter().find(|t| &t.name == name) else {
        return Ok(None);
    };
    Ok(Some(tokio_rustls::TlsAcceptor::from(server_config(ts)?)))
}

fn bind_unix(path: &Path, permissions: u32) -> Result<Listener, ControlError> {
    use std::os::unix::fs::PermissionsExt;
    let shown = path.display().to_string();
    let err = |what, source| ControlError::Socket {
        path: shown.clone(),
        what,
        source,
    };
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|e| err("create its directory", e))?;
    }
    let lock_path = PathBuf::from(format!("{}.lock", path.display()));
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(|e| err("open the lock file", e))?;
    match lock.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => return Err(ControlError::Locked { path: shown }),
        Err(std::fs::TryLockError::Error(e)) => return Err(err("lock", e)),
    }
    // We hold the lock, so a socket file left here belongs to a node that died.
    match std::fs::remove_file(path) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(err("remove the stale socket", e)),
    }
    let listener = UnixListener::bind(path).map_err(|e| err("bind", e))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(permissions))
        .map_err(|e| err("set permissions", e))?;
    Ok(Listener::Unix {
        listener,
        path: path.to_path_buf(),
        _lock: lock,
    })
}

/// Accepts connections until `shutdown` turns true; each session runs on its own task so a
/// slow or hostile client never holds up another.
pub async fn serve(node: Node, listener: Listener, mut shutdown: watch::Receiver<bool>) {
    let mut sessions = tokio::task::JoinSet::new();
    loop {
        tokio::select! {
            changed = shutdown.changed() => {
                if changed.is_err() || *shutdown.borrow() {
                    break;
                }
            }
            accepted = accept(&listener) => match accepted {
                Ok(conn) => {
                    let node = node.clone();
                    sessions.spawn(async move { conn.serve(&node).await });
                }
                Err(e) => {
                    tracing::warn!(error = %e, "control service: accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                }
            },
            Some(_) = sessions.join_next(), if !sessions.is_empty() => {}
        }
    }
    if let Listener::Unix { path, .. } = &listener {
        let _ = std::fs::remove_file(path);
    }
    // Open sessions (a results stream, say) end with the node.
    sessions.shutdown().await;
}

enum Conn {
    Unix(tokio::net::UnixStream),
    Tcp(tokio::net::TcpStream),
    Tls(tokio::net::TcpStream, tokio_rustls::TlsAcceptor),
}

impl Conn {
    async fn serve(self, node: &Node) {
        let result = match self {
            Conn::Unix(s) => {
                let probe = rustix::io::dup(&s).ok();
                serve_session(node, s, ConnKind::Unix(probe)).await
            }
            Conn::Tcp(s) => serve_session(node, s, ConnKind::Tcp).await,
            Conn::Tls(s, acceptor) => {
                // The handshake runs here, on the session's task, so that a stalled client
                // never holds up the accept loop.
                let handshake =
                    tokio::time::timeout(std::time::Duration::from_secs(15), acceptor.accept(s));
                match handshake.await {
                    Ok(Ok(tls)) => serve_session(node, HalfCloseTolerant(tls), ConnKind::Tcp).await,
                    Ok(Err(e)) => Err(e),
                    Err(_) => Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        "TLS handshake timed out",
                    )),
                }
            }
        };
        if let Err(e) = result {
            tracing::debug!(error = %e, "control session ended with an error");
        }
    }
}

async fn accept(listener: &Listener) -> io::Result<Conn> {
    match listener {
        Listener::Unix { listener, .. } => Ok(Conn::Unix(listener.accept().await?.0)),
        Listener::Tcp(l) => {
            let (s, _) = l.accept().await?;
            let _ = s.set_nodelay(true);
            Ok(Conn::Tcp(s))
        }
        Listener::Tls(l, acceptor) => {
            let (s, _) = l.accept().await?;
            let _ = s.set_nodelay(true);
            Ok(Conn::Tls(s, acceptor.clone()))
        }
    }
}

/// The rest of a `work results` into a QUIC stream, each buffer read from the stdout file
/// handed to quinn as it is (`write_chunk`), which keeps it until acknowledged instead of
/// copying it into a buffer of its own.
async fn send_results(
    mut results: crate::work::ResultsReader,
    send: &mut quinn::SendStream,
) -> io::Result<()> {
    loop {
        let chunk = results.next_chunk(RESULTS_CHUNK).await?;
        if chunk.is_empty() {
            return Ok(());
        }
        send.write_chunk(chunk).await.map_err(io::Error::from)?;
    }
}

/// Bytes per buffer of a results stream over the mesh.
const RESULTS_CHUNK: usize = 256 * 1024;

/// Serves the control service to other nodes, over QUIC streams on the mesh. A request that
/// arrives this way is a network request: signed work is checked, as on TCP.
///
/// With `require_node_id` (a `tls` server config with `requireclientcert`), the client's
/// certificate must name, in its otherName SAN, the node the stream comes from.
pub async fn serve_mesh(
    node: Node,
    mut listener: crate::mesh::quic::StreamListener,
    require_node_id: bool,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut sessions = tokio::task::JoinSet::new();
    loop {
        tokio::select! {
            changed = shutdown.changed() => {
                if changed.is_err() || *shutdown.borrow() {
                    break;
                }
            }
            accepted = listener.accept() => match accepted {
                Some(acc) => {
                    if require_node_id && !crate::mesh::peer_node_ids(&acc.connection).contains(&acc.from_node) {
                        tracing::warn!(from = %acc.from_node, "control stream refused: the client certificate does not name the node it comes from");
                        acc.connection.close(500u32.into(), b"certificate does not match the node");
                        continue;
                    }
                    let node = node.clone();
                    sessions.spawn(async move {
                        tracing::debug!(from = %acc.from_node, "control session over the mesh");
                        let mut stream = acc.stream;
                        let served = serve_session(&node, &mut stream, ConnKind::Quic).await;
                        let (_, mut send) = stream.into_inner();
                        let served = match served {
                            Ok(Some(results)) => send_results(results, &mut send).await,
                            Ok(None) => Ok(()),
                            Err(e) => Err(e),
                        };
                        if let Err(e) = served {
                            tracing::debug!(error = %e, "mesh control session ended with an error");
                        }
                        let _ = send.finish();
                        // Let what was written reach the other side before the connection goes.
                        let wait = async {
                            let _ = send.stopped().await;
                            acc.connection.closed().await;
                        };
                        let _ = tokio::time::timeout(std::time::Duration::from_secs(10), wait).await;
                        crate::mesh::quic::log_stats("accepted", &acc.connection);
                    });
                }
                None => break,
            },
            Some(_) = sessions.join_next(), if !sessions.is_empty() => {}
        }
    }
    listener.close();
    sessions.shutdown().await;
}
