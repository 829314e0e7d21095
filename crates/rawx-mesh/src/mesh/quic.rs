//! Service streams: QUIC over the mesh's datagrams, as receptor's `pkg/netceptor/conn.go` runs
//! quic-go over a `PacketConn`. One QUIC packet is one data message between a
//! `(node, service)` pair and another; quinn sees each pair as a made-up socket address.
//!
//! Receptor's settings: ALPN `netceptor`; idle timeout 30 s, the dialer keeps alive every 15 s;
//! the handshake must finish within 15 s; the dialer opens one bidirectional stream and writes
//! `0x00`, which the listener requires before anything else. Without a TLS config the
//! listener presents a throwaway self-signed certificate with CN
//! `netceptor-insecure-common-name`, and the dialer accepts that certificate only.

use std::fmt;
use std::io::{self, IoSliceMut};
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use quinn::udp::{RecvMeta, Transmit};
use quinn::{AsyncUdpSocket, Endpoint, EndpointConfig, UdpPoller};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio::sync::mpsc;

use super::core::{Datagram, Mesh};
use super::datagram::PacketListener;

pub const ALPN: &[u8] = b"netceptor";
pub const INSECURE_COMMON_NAME: &str = "netceptor-insecure-common-name";
const IDLE_TIMEOUT: Duration = Duration::from_secs(30);
const KEEP_ALIVE: Duration = Duration::from_secs(15);
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(15);
const ACCEPT_STREAM_TIMEOUT: Duration = Duration::from_secs(60);
/// Packets per transmit (see `max_transmit_segments`).
const TRANSMIT_SEGMENTS: usize = 10;

/// A bidirectional service stream: what a control session or a remote work unit reads and
/// writes. Dropping it closes the QUIC connection.
pub type ServiceStream = tokio::io::Join<quinn::RecvStream, quinn::SendStream>;

/// The made-up addresses, in a module of their own so the book's lock is private to `Book`.
mod book {
    use std::collections::HashMap;
    use std::net::{IpAddr, Ipv6Addr, SocketAddr};
    use std::sync::Mutex;

    /// Maps `(node, service)` pairs to made-up addresses (`fd00::N`), both ways.
    #[derive(Default)]
    struct AddrBook {
        /// By node, then service: looked up with borrowed names for every packet received.
        by_pair: HashMap<String, HashMap<String, SocketAddr>>,
        by_addr: HashMap<SocketAddr, (String, String)>,
    }

    impl AddrBook {
        fn addr(&mut self, node: &str, service: &str) -> SocketAddr {
            if let Some(a) = self.by_pair.get(node).and_then(|m| m.get(service)) {
                return *a;
            }
            let n = self.by_addr.len() as u128 + 1;
            let ip = Ipv6Addr::from((0xfd00u128 << 112) | n);
            let addr = SocketAddr::new(IpAddr::V6(ip), 1);
            self.by_pair
                .entry(node.to_string())
                .or_default()
                .insert(service.to_string(), addr);
            self.by_addr
                .insert(addr, (node.to_string(), service.to_string()));
            addr
        }
    }

    /// The address book behind its lock, which only these methods take, and none of them calls
    /// anything while holding it: their arguments are plain values, evaluated before the lock is
    /// taken. quinn calls `MeshSocket::try_send` (which reads the book) with a connection's lock
    /// held, so code that held the book while waiting for a connection's lock deadlocked two
    /// workers and froze the node (`accept_loop` did, with `connection.remote_address()` inside
    /// the lookup). With the lock private to these leaf methods that order cannot be written.
    #[derive(Default)]
    pub(super) struct Book(Mutex<AddrBook>);

    impl Book {
        pub(super) fn addr(&self, node: &str, service: &str) -> SocketAddr {
            self.0.lock().expect("book").addr(node, service)
        }

        /// The `(node, service)` pair behind a made-up address.
        pub(super) fn pair(&self, addr: SocketAddr) -> Option<(String, String)> {
            self.0.lock().expect("book").by_addr.get(&addr).cloned()
        }
    }
}
use book::Book;

/// The mesh as a UDP socket for quinn: our side is one local service.
struct MeshSocket {
    mesh: Mesh,
    service: String,
    rx: Mutex<mpsc::Receiver<Datagram>>,
    book: Book,
    /// Keeps the service registered as long as the socket lives.
    _listener: Mutex<Option<PacketListener>>,
}

impl fmt::Debug for MeshSocket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MeshSocket({}:{})", self.mesh.node_id(), self.service)
    }
}

impl MeshSocket {
    fn new(mesh: &Mesh, mut listener: PacketListener) -> MeshSocket {
        let (_, dummy) = mpsc::channel(1);
        let rx = std::mem::replace(&mut listener.rx, dummy);
        MeshSocket {
            mesh: mesh.clone(),
            service: listener.service.clone(),
            rx: Mutex::new(rx),
            book: Book::default(),
            _listener: Mutex::new(Some(listener)),
        }
    }

    fn addr(&self, node: &str, service: &str) -> SocketAddr {
        self.book.addr(node, service)
    }
}

#[derive(Debug)]
struct AlwaysWritable;

impl UdpPoller for AlwaysWritable {
    fn poll_writable(self: Pin<&mut Self>, _cx: &mut Context) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

impl AsyncUdpSocket for MeshSocket {
    fn create_io_poller(self: Arc<Self>) -> Pin<Box<dyn UdpPoller>> {
        Box::pin(AlwaysWritable)
    }

    fn try_send(&self, transmit: &Transmit) -> io::Result<()> {
        let Some((node, service)) = self.book.pair(transmit.destination) else {
            return Err(io::Error::new(
                io::ErrorKind::AddrNotAvailable,
                "no mesh address for this destination",
            ));
        };
        let size = transmit
            .segment_size
            .unwrap_or(transmit.contents.len())
            .max(1);
        for chunk in transmit.contents.chunks(size) {
            // A datagram that cannot go on is lost, as on a network; QUIC sends it again.
            if let Err(e) = self
                .mesh
                .send_datagram(&self.service, &node, &service, chunk)
            {
                tracing::debug!(to = %node, service = %service, error = %e, "QUIC datagram dropped");
            }
        }
        Ok(())
    }

    fn poll_recv(
        &self,
        cx: &mut Context,
        bufs: &mut [IoSliceMut<'_>],
        meta: &mut [RecvMeta],
    ) -> Poll<io::Result<usize>> {
        let mut rx = self.rx.lock().expect("rx");
        let mut n = 0;
        while n < bufs.len().min(meta.len()) {
            let d = if n == 0 {
                match rx.poll_recv(cx) {
                    Poll::Ready(Some(d)) => d,
                    Poll::Ready(None) => {
                        return Poll::Ready(Err(io::Error::other("the mesh service closed")))
                    }
                    Poll::Pending => return Poll::Pending,
                }
            } else {
                match rx.try_recv() {
                    Ok(d) => d,
                    Err(_) => break,
                }
            };
            let len = d.data.len().min(bufs[n].len());
            bufs[n][..len].copy_from_slice(&d.data[..len]);
            meta[n] = RecvMeta {
                addr: self.addr(&d.from_node, &d.from_service),
                len,
                stride: len,
                ..RecvMeta::default()
            };
            n += 1;
        }
        Poll::Ready(Ok(n))
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        Ok(SocketAddr::new(IpAddr::V6(Ipv6Addr::UNSPECIFIED), 1))
    }

    fn may_fragment(&self) -> bool {
        false
    }

    /// quinn hands over a burst of same-size packets at once (as for GSO); each still goes
    /// as a mesh message of its own, but the connection is driven once per burst.
    fn max_transmit_segments(&self) -> usize {
        TRANSMIT_SEGMENTS
    }
}

/// The largest QUIC packet rawx sends between rawx nodes: a whole data message (header and
/// packet) within Receptor's 16 KiB netceptor MTU, which Go's hops forward as they are. Each
/// packet costs a mesh message on every hop, so the packet size bounds a stream's throughput;
/// quinn starts at 1200 bytes and finds the size by path MTU discovery, as quic-go does. A
/// Receptor end advertises quic-go's 1452-byte `max_udp_payload_size`, which quinn honours,
/// so its streams keep packets it can read.
pub const MAX_QUIC_PACKET: u16 = (super::wire::MTU - super::wire::DATA_HEADER_LEN) as u16;

/// How much of one stream may be in flight: the mesh's round trip is short, but a busy node
/// delays acknowledgements by milliseconds, and quinn's 1.25 MB default window then caps a
/// result stream well below what a hop can carry. quic-go grows its windows up to 6 MB.
const STREAM_WINDOW: u32 = 8 << 20;

fn transport() -> quinn::TransportConfig {
    let mut t = quinn::TransportConfig::default();
    t.max_idle_timeout(Some(
        IDLE_TIMEOUT
            .try_into()
            .expect("30 s is a valid idle timeout"),
    ));
    let mut mtu = quinn::MtuDiscoveryConfig::default();
    mtu.upper_bound(MAX_QUIC_PACKET);
    // A queue that overflowed on a busy hop looks like a black hole; search again soon.
    mtu.black_hole_cooldown(Duration::from_secs(5));
    t.mtu_discovery_config(Some(mtu));
    t.stream_receive_window(STREAM_WINDOW.into());
    t.send_window(2 * STREAM_WINDOW as u64);
    t
}

/// The endpoint accepts packets up to [`MAX_QUIC_PACKET`] (and says so to the other end).
fn endpoint_config() -> EndpointConfig {
    let mut c = EndpointConfig::default();
    c.max_udp_payload_size(MAX_QUIC_PACKET)
        .expect("a valid UDP payload size");
    c
}

/// A service listening for streams on this node.
pub struct StreamListener {
    endpoint: Endpoint,
    accepted: mpsc::Receiver<Accepted>,
    pub service: String,
}

/// A stream accepted by a [`StreamListener`], and who opened it.
pub struct Accepted {
    pub stream: ServiceStream,
    pub from_node: String,
    /// Keeps the QUIC connection open while the stream is in use.
    pub connection: quinn::Connection,
}

impl Mesh {
    /// Listens for service streams on `service`. `tls` is the server's rustls config from a
    /// `tls-server` (`None`: the throwaway insecure certificate, as Go does).
    pub fn listen_stream(
        &self,
        service: &str,
        tls: Option<rustls::ServerConfig>,
    ) -> Result<StreamListener, String> {
        let mut tls = match tls {
            Some(t) => t,
            None => insecure_server_config()?,
        };
        tls.alpn_protocols = vec![ALPN.to_vec()];
        tls.max_early_data_size = 0;
        let crypto = quinn::crypto::rustls::QuicServerConfig::try_from(Arc::new(tls))
            .map_err(|e| format!("service {service}: the TLS config cannot serve QUIC: {e}"))?;
        let mut server = quinn::ServerConfig::with_crypto(Arc::new(crypto));
        server.transport_config(Arc::new(transport()));
        let listener = self.listen(Some(service))?;
        let socket = Arc::new(MeshSocket::new(self, listener));
        let endpoint = Endpoint::new_with_abstract_socket(
            endpoint_config(),
            Some(server),
            socket.clone(),
            Arc::new(quinn::TokioRuntime),
        )
        .map_err(|e| e.to_string())?;
        let (tx, accepted) = mpsc::channel(16);
        tokio::spawn(accept_loop(
            endpoint.clone(),
            socket,
            service.to_string(),
            tx,
        ));
        Ok(StreamListener {
            endpoint,
            accepted,
            service: service.to_string(),
        })
    }

    /// Opens a stream to `service` on `node` (Go's `DialContext`). `tls` is a client config
    /// from a `tls-client`; `None` accepts only the insecure certificate.
    pub async fn dial_stream(
        &self,
        node: &str,
        service: &str,
        tls: Option<rustls::ClientConfig>,
    ) -> Result<(ServiceStream, quinn::Connection), String> {
        let node = if node.eq_ignore_ascii_case("localhost") {
            self.node_id().to_string()
        } else {
            node.to_string()
        };
        // Go's dial fails at its first packet when there is no route (the mesh refuses the
        // write); quinn would wait out the handshake timeout for a lost packet instead.
        if node != self.node_id() && !self.lock().routes.next_hop.contains_key(&node) {
            return Err("no route to node".into());
        }
        self.add_name(&node);
        let listener = self.listen(None)?;
        let socket = Arc::new(MeshSocket::new(self, listener));
        let remote = socket.addr(&node, service);
        let mut tls = match tls {
            Some(t) => t,
            None => insecure_client_config()?,
        };
        tls.alpn_protocols = vec![ALPN.to_vec()];
        let crypto = quinn::crypto::rustls::QuicClientConfig::try_from(Arc::new(tls))
            .map_err(|e| format!("the TLS config cannot be used for QUIC: {e}"))?;
        let mut client = quinn::ClientConfig::new(Arc::new(crypto));
        let mut t = transport();
        t.keep_alive_interval(Some(KEEP_ALIVE));
        client.transport_config(Arc::new(t));
        let mut endpoint = Endpoint::new_with_abstract_socket(
            endpoint_config(),
            None,
            socket,
            Arc::new(quinn::TokioRuntime),
        )
        .map_err(|e| e.to_string())?;
        endpoint.set_default_client_config(client);
        // The name only matters to a verifier that checks it; Receptor's check the node ID.
        let server_name = ServerName::try_from(node.clone())
            .map(|_| node.clone())
            .unwrap_or_else(|_| "netceptor".into());
        let mut unreach = self.subscribe_unreachable();
        let connecting = endpoint
            .connect(remote, &server_name)
            .map_err(|e| e.to_string())?;
        let me = self.node_id().to_string();
        let unknown = async {
            // Go gives up at once when the far end says the service is unknown.
            loop {
                match unreach.recv().await {
                    Ok(u)
                        if u.message.from_node == me
                            && u.message.to_node == node
                            && u.message.to_service == service =>
                    {
                        return u.message.problem;
                    }
                    Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                    Err(_) => return "netceptor shutdown".to_string(),
                }
            }
        };
        let connection = tokio::select! {
            c = tokio::time::timeout(HANDSHAKE_TIMEOUT, connecting) => match c {
                Ok(Ok(c)) => c,
                Ok(Err(e)) => return Err(e.to_string()),
                Err(_) => return Err("timeout: no recent network activity".into()),
            },
            problem = unknown => return Err(problem),
        };
        let (mut send, recv) = connection.open_bi().await.map_err(|e| e.to_string())?;
        send.write_all(&[0]).await.map_err(|e| e.to_string())?;
        // The endpoint lives as long as the connection: keep it with the connection's task.
        tokio::spawn({
            let connection = connection.clone();
            async move {
                connection.closed().await;
                log_stats("dialed", &connection);
                endpoint.wait_idle().await;
            }
        });
        Ok((tokio::io::join(recv, send), connection))
    }
}

impl StreamListener {
    /// The next stream opened to this service; `None` once the listener is closed.
    /// Cancel-safe: handshakes run on their own tasks.
    pub async fn accept(&mut self) -> Option<Accepted> {
        self.accepted.recv().await
    }

    pub fn close(&self) {
        self.endpoint.close(0u32.into(), b"listener closed");
    }
}

/// Accepts QUIC connections and hands on each one's first stream once it has sent the
/// `0x00` preamble; each handshake on its own task (Go's `acceptLoop`).
async fn accept_loop(
    endpoint: Endpoint,
    socket: Arc<MeshSocket>,
    service: String,
    tx: mpsc::Sender<Accepted>,
) {
    while let Some(incoming) = endpoint.accept().await {
        let (socket, service, tx) = (socket.clone(), service.clone(), tx.clone());
        tokio::spawn(async move {
            let handshake = async {
                let connection = incoming.await.map_err(|e| e.to_string())?;
                let (send, mut recv) = connection.accept_bi().await.map_err(|e| e.to_string())?;
                let mut first = [0u8; 1];
                recv.read_exact(&mut first)
                    .await
                    .map_err(|e| e.to_string())?;
                if first[0] != 0 {
                    connection.close(500u32.into(), b"Read Data Error");
                    return Err("stream failed to initialize".to_string());
                }
                Ok::<_, String>((connection, send, recv))
            };
            match tokio::time::timeout(ACCEPT_STREAM_TIMEOUT, handshake).await {
                Ok(Ok((connection, send, recv))) => {
                    // `remote_address` takes the connection's lock; it runs before the
                    // book's is taken (see `Book`).
                    let from_node = socket
                        .book
                        .pair(connection.remote_address())
                        .map(|(node, _)| node)
                        .unwrap_or_default();
                    let _ = tx
                        .send(Accepted {
                            stream: tokio::io::join(recv, send),
                            from_node,
                            connection,
                        })
                        .await;
                }
                Ok(Err(e)) => {
                    tracing::debug!(service = %service, error = %e, "service stream not opened")
                }
                Err(_) => tracing::debug!(service = %service, "service stream not opened in time"),
            }
        });
    }
}

/// What a closed connection's transport went through (packets, losses, congestion events,
/// the path MTU it found, how often flow control held the sender): where a slow stream's
/// time went. Debug level (`RUST_LOG=rawx_mesh::mesh::quic=debug`).
pub fn log_stats(side: &str, connection: &quinn::Connection) {
    tracing::debug!(side, stats = ?connection.stats(), "QUIC connection closed");
}

/// Go's `generateServerTLSConfig`: a throwaway self-signed certificate, CN
/// `netceptor-insecure-common-name`.
fn insecure_server_config() -> Result<rustls::ServerConfig, String> {
    let key = rcgen::KeyPair::generate().map_err(|e| e.to_string())?;
    let mut params =
        rcgen::CertificateParams::new(Vec::<String>::new()).map_err(|e| e.to_string())?;
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, INSECURE_COMMON_NAME);
    let cert = params.self_signed(&key).map_err(|e| e.to_string())?;
    let provider = Arc::new(crate::tls::provider());
    rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(|e| e.to_string())?
        .with_no_client_auth()
        .with_single_cert(
            vec![CertificateDer::from(cert.der().to_vec())],
            PrivateKeyDer::try_from(key.serialize_der()).map_err(|e| e.to_string())?,
        )
        .map_err(|e| e.to_string())
}

/// Go's `generateClientTLSConfig`: no chain check, but the certificate must carry the
/// insecure CN (so a secure service is never used insecurely).
fn insecure_client_config() -> Result<rustls::ClientConfig, String> {
    let provider = Arc::new(crate::tls::provider());
    Ok(
        rustls::ClientConfig::builder_with_provider(provider.clone())
            .with_protocol_versions(&[&rustls::version::TLS13])
            .map_err(|e| e.to_string())?
            .dangerous()
            .with_custom_certificate_verifier(crate::tls::Verifier::new(
                provider,
                "the insecure CN",
                |end_entity, intermediates, _| {
                    let insecure = std::iter::once(end_entity).chain(intermediates).any(|c| {
                        super::certs::common_name(c).as_deref() == Some(INSECURE_COMMON_NAME)
                    });
                    if insecure {
                        Ok(())
                    } else {
                        Err(rustls::Error::General(
                            "insecure connection to secure service".into(),
                        ))
                    }
                },
            ))
            .with_no_client_auth(),
    )
}

/// A service stream that owns its QUIC connection, closed when the stream is dropped: what a
/// remote work unit holds for one control session with another node.
pub struct OwnedStream {
    stream: ServiceStream,
    connection: quinn::Connection,
}

impl OwnedStream {
    pub fn new(stream: ServiceStream, connection: quinn::Connection) -> OwnedStream {
        OwnedStream { stream, connection }
    }
}

impl crate::work::ControlConn for OwnedStream {
    fn quic_recv(&mut self) -> Option<&mut quinn::RecvStream> {
        Some(self.stream.reader_mut())
    }
}

impl Drop for OwnedStream {
    fn drop(&mut self) {
        self.connection.close(0u32.into(), b"normal close");
    }
}

impl tokio::io::AsyncRead for OwnedStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl tokio::io::AsyncWrite for OwnedStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}
