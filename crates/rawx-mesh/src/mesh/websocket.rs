//! `ws-listener` and `ws-peer`, as receptor v1.4.9 `pkg/backends/websockets.go` runs them: one
//! binary websocket message per mesh message, the listener answering on `path` (default
//! `/`), over TLS when `tls` names a `tls-server`; the peer dials a `ws://` or `wss://` URL,
//! sending `extraheader` and an `Origin` of the URL's scheme (`http`/`https`) and host.

use std::time::Duration;

use bytes::{Bytes, BytesMut};
use futures_util::{SinkExt, StreamExt};
use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http;
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tokio_tungstenite::WebSocketStream;
use tokio_util::sync::CancellationToken;

use super::backends::{bind, client_config, info, spawn_dialer, spawn_listener, BackendError};
use super::core::Mesh;
use super::session::Session;
use crate::config::{Backend, Config};

const HANDSHAKE: Duration = Duration::from_secs(15);

pub async fn start_ws_listener(
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
    let path = b.path.clone().unwrap_or_else(|| "/".into());
    let listener = bind(&b.endpoint).await.map_err(fail)?;
    let addr = listener.local_addr().map_err(|e| fail(e.to_string()))?;
    tracing::info!("Listening on Websocket {addr} path {path}");
    spawn_listener(mesh, info(b), listener, move |stream, peer| {
        let (acceptor, path) = (acceptor.clone(), path.clone());
        async move {
            let work = async {
                match acceptor {
                    None => upgrade(stream, &path).await,
                    Some(acc) => {
                        let tls = acc.accept(stream).await.map_err(|e| e.to_string())?;
                        upgrade(crate::tls::HalfCloseTolerant(tls), &path).await
                    }
                }
            };
            tokio::time::timeout(HANDSHAKE, work)
                .await
                .map_err(|_| format!("websocket handshake with {peer} timed out"))?
                .map_err(|e| format!("websocket connection from {peer} refused: {e}"))
        }
    });
    Ok(addr)
}

/// The server side of the upgrade; only `path` is served (Go's `ServeMux` pattern: a path
/// ending in `/` also serves what is below it).
// The refusal is tungstenite's own callback type (an HTTP response), not ours to box.
#[allow(clippy::result_large_err)]
async fn upgrade<S>(stream: S, path: &str) -> Result<Session, String>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let check = |req: &http::Request<()>, resp| {
        let p = req.uri().path();
        let ok = p == path || (path.ends_with('/') && p.starts_with(path));
        if ok {
            Ok(resp)
        } else {
            let mut nf = http::Response::new(Some("404 page not found".to_string()));
            *nf.status_mut() = http::StatusCode::NOT_FOUND;
            Err(nf)
        }
    };
    let ws = tokio_tungstenite::accept_hdr_async(stream, check)
        .await
        .map_err(|e| e.to_string())?;
    Ok(from_websocket(ws))
}

pub fn start_ws_peer(mesh: &Mesh, b: &Backend, config: &Config) -> Result<(), BackendError> {
    let fail = |message: String| BackendError::Setup {
        kind: b.kind,
        endpoint: b.endpoint.clone(),
        message,
    };
    let url = b.endpoint.clone();
    let request = url
        .as_str()
        .into_client_request()
        .map_err(|e| fail(format!("not a websocket URL: {e}")))?;
    let secure = match request.uri().scheme_str() {
        Some("ws") => false,
        Some("wss") => true,
        _ => return Err(fail("the address must be a ws:// or wss:// URL".into())),
    };
    let host = request
        .uri()
        .host()
        .ok_or_else(|| fail("the URL has no host".into()))?
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_string();
    let port = request
        .uri()
        .port_u16()
        .unwrap_or(if secure { 443 } else { 80 });
    let origin = format!("{}://{}", if secure { "https" } else { "http" }, host);
    let extra = match &b.extra_header {
        None => None,
        Some(h) => {
            let (name, value) = h
                .split_once(':')
                .ok_or_else(|| fail(format!("extraheader `{h}` is not `Name: value`")))?;
            Some((
                http::HeaderName::from_bytes(name.trim().as_bytes())
                    .map_err(|e| fail(format!("extraheader: {e}")))?,
                http::HeaderValue::from_str(value.trim())
                    .map_err(|e| fail(format!("extraheader: {e}")))?,
            ))
        }
    };
    let tls = if secure {
        // `wss` without `tls` (or with Go's `default`) trusts the system roots.
        let tc = b
            .tls
            .as_ref()
            .and_then(|name| config.tls_clients.iter().find(|t| &t.name == name));
        let cfg = client_config(tc).map_err(fail)?;
        let server_name = ServerName::try_from(host.clone())
            .map_err(|e| fail(format!("{host} is not a host name or IP address: {e}")))?;
        Some((tokio_rustls::TlsConnector::from(cfg), server_name))
    } else {
        None
    };
    let address = format!("{host}:{port}");
    spawn_dialer(mesh, info(b), b.redial, url.clone(), move || {
        let (address, url, origin) = (address.clone(), url.clone(), origin.clone());
        let (tls, extra) = (tls.clone(), extra.clone());
        async move {
            let mut req = url
                .as_str()
                .into_client_request()
                .map_err(|e| e.to_string())?;
            if let Some((n, v)) = extra {
                req.headers_mut().append(n, v);
            }
            req.headers_mut().insert(
                http::header::ORIGIN,
                http::HeaderValue::from_str(&origin).map_err(|e| e.to_string())?,
            );
            let stream = TcpStream::connect(&address)
                .await
                .map_err(|e| e.to_string())?;
            let _ = stream.set_nodelay(true);
            let work = async {
                match tls {
                    None => {
                        let (ws, _) = tokio_tungstenite::client_async(req, stream)
                            .await
                            .map_err(|e| e.to_string())?;
                        Ok(from_websocket(ws))
                    }
                    Some((connector, name)) => {
                        let tls = connector
                            .connect(name, stream)
                            .await
                            .map_err(|e| e.to_string())?;
                        let (ws, _) = tokio_tungstenite::client_async(
                            req,
                            crate::tls::HalfCloseTolerant(tls),
                        )
                        .await
                        .map_err(|e| e.to_string())?;
                        Ok(from_websocket(ws))
                    }
                }
            };
            tokio::time::timeout(HANDSHAKE, work)
                .await
                .map_err(|_| "websocket handshake timed out".to_string())?
        }
    });
    Ok(())
}

/// A websocket as a session: each message is one mesh message.
fn from_websocket<S>(ws: WebSocketStream<S>) -> Session
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (mut sink, mut stream) = ws.split();
    let cancel = CancellationToken::new();
    let (in_tx, in_rx) = mpsc::channel::<BytesMut>(64);
    let (out_tx, mut out_rx) = mpsc::channel::<Bytes>(1024);
    let c = cancel.clone();
    tokio::spawn(async move {
        loop {
            let m = tokio::select! {
                m = stream.next() => m,
                _ = c.cancelled() => return,
            };
            let data = match m {
                Some(Ok(WsMessage::Binary(b))) => BytesMut::from(b),
                Some(Ok(WsMessage::Text(t))) => BytesMut::from(t.as_bytes()),
                Some(Ok(WsMessage::Close(_))) | Some(Err(_)) | None => {
                    c.cancel();
                    return;
                }
                Some(Ok(_)) => continue,
            };
            if data.is_empty() {
                continue;
            }
            tokio::select! {
                r = in_tx.send(data) => if r.is_err() { return },
                _ = c.cancelled() => return,
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
            if sink.send(WsMessage::Binary(m)).await.is_err() {
                c.cancel();
                break;
            }
        }
        let _ = sink.close().await;
    });
    Session::from_parts(in_rx, out_tx, cancel, writer)
}
