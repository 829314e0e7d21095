//! The execution mesh: Receptor's "netceptor" network, so a rawx node can stand in for any
//! node of an AWX mesh (hop or execution) and route through others.
//!
//! * [`wire`]: the wire format, pure (framing, message types, node-ID hashes, Go's JSON).
//! * [`core`](Mesh): sessions, the handshake, routing updates, advertisements, data
//!   messages with the firewall on every hop; [`routing`] computes the next hops.
//! * backends: `tcp-listener` / `tcp-peer` and `ws-listener` / `ws-peer`, with TLS, and
//!   `udp-listener` / `udp-peer`.
//! * [`Mesh::ping`] and [`Mesh::traceroute`]: datagrams to the reserved `ping` service.
//! * [`quic`]: service streams, QUIC (quinn) over the mesh's datagrams, as Receptor runs
//!   quic-go: the control service is served to other nodes, and `connect` opens streams.
//!
//! Remote work units (`work submit --node`) use these streams from `work/remote.rs`.

mod backends;
mod certs;
mod core;
mod datagram;
pub mod firewall;
mod ping;
pub mod quic;
pub mod routing;
mod session;
mod tick;
mod udp;
mod websocket;
pub mod wire;

use std::collections::BTreeMap;
use std::time::Duration;

pub use self::core::now_rfc3339;
pub use self::core::{
    BackendInfo, Datagram, LocalAd, Mesh, MeshOptions, MeshStatus, Unreachable,
    MAX_CONNECTION_IDLE_TIME,
};
pub use datagram::PacketListener;
pub use ping::{PingResult, TracerouteHop};

use crate::config::{parse_go_duration, Config};

#[derive(Debug, thiserror::Error)]
pub enum MeshError {
    #[error("node firewallrules: {0}")]
    Firewall(String),
    #[error("node maxidleconnectiontimeout: {0}")]
    IdleTimeout(String),
    #[error(transparent)]
    Backend(#[from] backends::BackendError),
}

/// The mesh options a config gives, checked (firewall rules compile, the idle timeout is a
/// duration no shorter than Go's 21 s).
pub fn options(
    config: &Config,
    work_commands: Vec<wire::WorkCommand>,
) -> Result<MeshOptions, MeshError> {
    let firewall =
        firewall::parse_rules(&config.node.firewall_rules).map_err(MeshError::Firewall)?;
    let max_idle = match &config.node.max_idle_connection_timeout {
        None => MAX_CONNECTION_IDLE_TIME,
        Some(t) => {
            let d = parse_go_duration(t).ok_or_else(|| {
                MeshError::IdleTimeout(format!(
                    "failed to parse `{t}` -- valid examples include '1.5h', '30m', '30m10s'"
                ))
            })?;
            if d < MAX_CONNECTION_IDLE_TIME {
                return Err(MeshError::IdleTimeout(format!(
                    "{t} is less than the default timeout of 21s"
                )));
            }
            d
        }
    };
    let ads = config
        .control_services
        .iter()
        .map(|cs| LocalAd {
            service: cs.service.clone(),
            // The control service listens for streams over the mesh: TLS when `tls` is set.
            conn_type: if cs.tls.is_some() {
                wire::CONN_TYPE_STREAM_TLS
            } else {
                wire::CONN_TYPE_STREAM
            },
            tags: control_tags(config),
        })
        .collect();
    Ok(MeshOptions {
        node_id: config.node.id.clone(),
        max_idle,
        firewall,
        ads,
        work_commands,
    })
}

/// The tags of a control service's advertisement: Receptor's `type`, and (rawx's addition,
/// which other nodes keep as an opaque tag) `listeners`, where this node takes links, so a
/// controller can show its receptor addresses.
fn control_tags(config: &Config) -> BTreeMap<String, String> {
    let mut tags = BTreeMap::from([("type".to_string(), "Control Service".to_string())]);
    let listeners: Vec<String> = config
        .backends
        .iter()
        .filter_map(|b| {
            let scheme = match (b.kind, b.tls.is_some()) {
                ("tcp-listener", _) => "tcp",
                ("ws-listener", false) => "ws",
                ("ws-listener", true) => "wss",
                _ => return None,
            };
            let (host, port) = b.endpoint.rsplit_once(':')?;
            // A wildcard bind is reached by the node's name, as AWX's canonical address is.
            let host = match host.trim_matches(['[', ']']) {
                "" | "0.0.0.0" | "::" => config.node.id.as_str(),
                h => h,
            };
            let path = match b.path.as_deref() {
                Some(p) if scheme != "tcp" => format!("/{}", p.trim_start_matches('/')),
                _ => String::new(),
            };
            Some(format!("{scheme}://{host}:{port}{path}"))
        })
        .collect();
    if !listeners.is_empty() {
        tags.insert(LISTENERS_TAG.to_string(), listeners.join(" "));
    }
    // And the addresses it dials, so the controller knows which end of a link is the peer.
    let peers: Vec<String> = config
        .backends
        .iter()
        .filter_map(|b| match b.kind {
            "tcp-peer" => Some(format!("tcp://{}", b.endpoint)),
            "ws-peer" => Some(b.endpoint.clone()),
            _ => None,
        })
        .collect();
    if !peers.is_empty() {
        tags.insert(PEERS_TAG.to_string(), peers.join(" "));
    }
    tags
}

/// The tag a rawx node lists the addresses it dials in.
pub const PEERS_TAG: &str = "peers";

/// The tag a rawx node lists its listeners in.
pub const LISTENERS_TAG: &str = "listeners";

/// Starts the mesh with the config's listeners and peers. Listeners are bound before this
/// returns, so a taken port fails the start.
pub async fn start(config: &Config, opts: MeshOptions) -> Result<Mesh, MeshError> {
    let mesh = Mesh::new(opts);
    if let Err(e) = start_backends(&mesh, config).await {
        mesh.shutdown();
        return Err(e);
    }
    Ok(mesh)
}

async fn start_backends(mesh: &Mesh, config: &Config) -> Result<(), MeshError> {
    for b in &config.backends {
        match b.kind {
            "tcp-listener" => {
                backends::start_tcp_listener(mesh, b, config).await?;
            }
            "ws-listener" => {
                websocket::start_ws_listener(mesh, b, config).await?;
            }
            "ws-peer" => websocket::start_ws_peer(mesh, b, config)?,
            "udp-listener" => {
                udp::start_udp_listener(mesh, b).await?;
            }
            "udp-peer" => udp::start_udp_peer(mesh, b)?,
            _ => backends::start_tcp_peer(mesh, b, config)?,
        }
    }
    Ok(())
}

impl Mesh {
    /// Receptor's `reload` of peers and listeners: every backend and its links stop, and
    /// the ones `config` lists start again.
    pub async fn reload_backends(&self, config: &Config) -> Result<(), MeshError> {
        self.cancel_backends();
        start_backends(self, config).await
    }
}

/// Go's `fmt.Sprint(time.Duration)` for the times ping and traceroute report.
pub fn go_duration(d: Duration) -> String {
    let ns = d.as_nanos() as u64;
    let trim = |v: f64| {
        let s = format!("{v:.9}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    };
    match ns {
        0 => "0s".into(),
        n if n < 1_000 => format!("{n}ns"),
        n if n < 1_000_000 => format!("{}µs", trim(n as f64 / 1e3)),
        n if n < 1_000_000_000 => format!("{}ms", trim(n as f64 / 1e6)),
        n => format!("{}s", trim(n as f64 / 1e9)),
    }
}

/// The client TLS config for a service stream to `node` with the named `tls-client`
/// (Go's `GetClientTLSConfig` with a Receptor node ID expected): the chain against the
/// `rootcas` (system roots without), then the node ID in the certificate's otherName SAN;
/// `insecureskipverify` checks nothing. The client certificate goes along.
pub fn receptor_client_config(
    config: &Config,
    name: &str,
    node: &str,
) -> Result<rustls::ClientConfig, String> {
    use rustls::pki_types::pem::PemObject;
    let tc = config
        .tls_clients
        .iter()
        .find(|t| t.name == name)
        .ok_or_else(|| format!("unknown TLS config {name}"))?;
    let provider = std::sync::Arc::new(crate::tls::provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(|e| e.to_string())?
        .dangerous();
    let builder = if tc.insecure_skip_verify {
        builder.with_custom_certificate_verifier(crate::tls::Verifier::skip(provider))
    } else {
        let system = std::path::Path::new("/etc/ssl/certs/ca-certificates.crt");
        let cas = tc.root_cas.as_deref().unwrap_or(system);
        let mut roots = Vec::new();
        for ca in crate::tls::certs(cas)? {
            roots.push(
                webpki::anchor_from_trusted_cert(&ca)
                    .map_err(|e| format!("{}: {e}", cas.display()))?
                    .to_owned(),
            );
        }
        builder.with_custom_certificate_verifier(certs::node_id_verifier(
            roots,
            node.to_string(),
            provider,
        ))
    };
    match (&tc.cert, &tc.key) {
        (Some(cert), Some(key)) => {
            let key = rustls::pki_types::PrivateKeyDer::from_pem_file(key)
                .map_err(|e| format!("{}: {e}", key.display()))?;
            builder
                .with_client_auth_cert(crate::tls::certs(cert)?, key)
                .map_err(|e| format!("client cert and key do not fit: {e}"))
        }
        _ => Ok(builder.with_no_client_auth()),
    }
}

/// The node IDs in a peer's certificate (its otherName SANs), for a listener that requires
/// client certificates: Go checks them against the node the datagrams come from.
pub fn peer_node_ids(connection: &quinn::Connection) -> Vec<String> {
    let Some(identity) = connection.peer_identity() else {
        return Vec::new();
    };
    let Ok(certs) = identity.downcast::<Vec<rustls::pki_types::CertificateDer<'static>>>() else {
        return Vec::new();
    };
    certs
        .first()
        .and_then(|c| certs::receptor_names(c).ok())
        .unwrap_or_default()
}
