//! The execution mesh: Receptor's "netceptor" network, so a rawx node can stand in for any
//! node of an AWX mesh (hop or execution) and route through others.
//!
//! * [`wire`]: the wire format, pure (framing, message types, node-ID hashes, Go's JSON).
//! * [`core`](Mesh): sessions, the handshake, routing updates, advertisements, data
//!   messages with the firewall on every hop; [`routing`] computes the next hops.
//! * backends: `tcp-listener` / `tcp-peer` with TLS.
//! * [`Mesh::ping`] and [`Mesh::traceroute`]: datagrams to the reserved `ping` service.
//!
//! Not yet: websocket and UDP backends, and service streams (QUIC over the mesh's
//! datagrams), so `control` across hops and remote work are still refused.

mod backends;
mod core;
mod datagram;
pub mod firewall;
mod ping;
pub mod routing;
mod session;
mod tick;
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
    #[error("{0} is not implemented by rawx yet")]
    Unsupported(String),
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
            tags: BTreeMap::from([("type".to_string(), "Control Service".to_string())]),
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

/// Starts the mesh with the config's listeners and peers. Listeners are bound before this
/// returns, so a taken port fails the start.
pub async fn start(config: &Config, opts: MeshOptions) -> Result<Mesh, MeshError> {
    let mesh = Mesh::new(opts);
    for b in &config.backends {
        match b.kind {
            "tcp-listener" => {
                backends::start_tcp_listener(&mesh, b, config).await?;
            }
            "tcp-peer" => backends::start_tcp_peer(&mesh, b, config)?,
            other => {
                mesh.shutdown();
                return Err(MeshError::Unsupported(format!("{other} {}", b.endpoint)));
            }
        }
    }
    Ok(mesh)
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
