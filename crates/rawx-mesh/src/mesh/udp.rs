//! `udp-listener` and `udp-peer`, as receptor v1.4.9 `pkg/backends/udp.go` runs them: one
//! datagram per mesh message, no TLS. The listener makes a session of each new source address;
//! a session ends when the mesh finds it silent (21 s) and the peer then dials again.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use bytes::{Bytes, BytesMut};
use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::backends::{info, spawn_dialer, BackendError};
use super::core::Mesh;
use super::session::Session;
use crate::config::Backend;

/// Go's `utils.NormalBufferSize`: the most a datagram can carry here.
const BUFFER: usize = 65536;

pub async fn start_udp_listener(mesh: &Mesh, b: &Backend) -> Result<SocketAddr, BackendError> {
    let fail = |message: String| BackendError::Setup {
        kind: b.kind,
        endpoint: b.endpoint.clone(),
        message,
    };
    let socket = Arc::new(
        UdpSocket::bind(&b.endpoint)
            .await
            .map_err(|e| fail(e.to_string()))?,
    );
    let addr = socket.local_addr().map_err(|e| fail(e.to_string()))?;
    tracing::info!("Listening on UDP {addr}");
    let (mesh, info, stop) = (mesh.clone(), info(b), mesh.backend_token());
    let sessions: Arc<Mutex<HashMap<SocketAddr, mpsc::Sender<BytesMut>>>> = Arc::default();
    tokio::spawn(async move {
        let mut buf = vec![0u8; BUFFER];
        loop {
            let (n, from) = tokio::select! {
                _ = stop.cancelled() => return,
                r = socket.recv_from(&mut buf) => match r {
                    Ok(r) => r,
                    Err(e) => {
                        tracing::debug!("UDP receive error: {e}");
                        continue;
                    }
                },
            };
            if n == 0 {
                continue;
            }
            let existing = sessions.lock().expect("lock").get(&from).cloned();
            let tx = match existing {
                Some(tx) if !tx.is_closed() => tx,
                _ => {
                    let (session, tx) = listener_session(socket.clone(), from);
                    sessions.lock().expect("lock").insert(from, tx.clone());
                    let (mesh, info, stop, sessions) =
                        (mesh.clone(), info.clone(), stop.clone(), sessions.clone());
                    tokio::spawn(async move {
                        mesh.run_session(session, info, stop).await;
                        // Only this session's entry: a newer one for the address stays.
                        let mut map = sessions.lock().expect("lock");
                        if map.get(&from).is_some_and(|tx| tx.is_closed()) {
                            map.remove(&from);
                        }
                    });
                    tx
                }
            };
            // A full queue drops the datagram, as the network may.
            let _ = tx.try_send(BytesMut::from(&buf[..n]));
        }
    });
    Ok(addr)
}

/// One source address of a listener as a session.
fn listener_session(socket: Arc<UdpSocket>, to: SocketAddr) -> (Session, mpsc::Sender<BytesMut>) {
    let (in_tx, in_rx) = mpsc::channel::<BytesMut>(64);
    let (out_tx, mut out_rx) = mpsc::channel::<Bytes>(1024);
    let cancel = CancellationToken::new();
    let c = cancel.clone();
    let writer = tokio::spawn(async move {
        loop {
            let m = tokio::select! {
                m = out_rx.recv() => m,
                _ = c.cancelled() => break,
            };
            let Some(m) = m else { break };
            if socket.send_to(&m, to).await.is_err() {
                c.cancel();
                break;
            }
        }
    });
    (Session::from_parts(in_rx, out_tx, cancel, writer), in_tx)
}

pub fn start_udp_peer(mesh: &Mesh, b: &Backend) -> Result<(), BackendError> {
    let address = b.endpoint.clone();
    spawn_dialer(mesh, info(b), b.redial, b.endpoint.clone(), move || {
        let address = address.clone();
        async move { dial(&address).await }
    });
    Ok(())
}

async fn dial(address: &str) -> Result<Session, String> {
    let target = tokio::net::lookup_host(address)
        .await
        .map_err(|e| e.to_string())?
        .next()
        .ok_or_else(|| format!("{address}: no address"))?;
    let local = if target.is_ipv4() {
        "0.0.0.0:0"
    } else {
        "[::]:0"
    };
    let socket = Arc::new(UdpSocket::bind(local).await.map_err(|e| e.to_string())?);
    socket.connect(target).await.map_err(|e| e.to_string())?;
    let (in_tx, in_rx) = mpsc::channel::<BytesMut>(64);
    let (out_tx, mut out_rx) = mpsc::channel::<Bytes>(1024);
    let cancel = CancellationToken::new();
    let (r, c) = (socket.clone(), cancel.clone());
    tokio::spawn(async move {
        let mut buf = vec![0u8; BUFFER];
        loop {
            let n = tokio::select! {
                n = r.recv(&mut buf) => n,
                _ = c.cancelled() => return,
            };
            match n {
                Ok(0) => continue,
                Ok(n) => {
                    if in_tx.send(BytesMut::from(&buf[..n])).await.is_err() {
                        return;
                    }
                }
                // Nobody listens there (ICMP port unreachable): the session ends and the
                // peer dials again, as Go's read error does.
                Err(_) => {
                    c.cancel();
                    return;
                }
            }
        }
    });
    let c = cancel.clone();
    let writer = tokio::spawn(async move {
        loop {
            let m = tokio::select! {
                m = out_rx.recv() => m,
                _ = c.cancelled() => break,
            };
            let Some(m) = m else { break };
            if socket.send(&m).await.is_err() {
                c.cancel();
                break;
            }
        }
    });
    Ok(Session::from_parts(in_rx, out_tx, cancel, writer))
}
