//! rawx-mesh: a Receptor-compatible execution node, usable on its own.
//!
//! It loads Receptor's YAML config as is ([`config`]), serves Receptor's control protocol on a
//! Unix socket so the real `receptorctl` and AWX work unchanged ([`control`]), and runs
//! durable work units whose commands outlive the node process ([`work`]).
//!
//! **Architecture invariant:** this crate depends on no other rawx crate. It knows nothing of
//! jobs, the store, the bus or HTTP; it runs commands and streams their output.
//!
//! # API boundary
//!
//! * The command line: [`ReceptorArgs`] and [`run`] (what `rawx receptor` calls), or the
//!   standalone `rawx-receptor` binary.
//! * The in-process node, for a controller that runs work without a socket. It is the very
//!   code the control service calls, so local and socket-driven work behave the same:
//!
//! ```no_run
//! # async fn demo(config_path: &std::path::Path) -> anyhow::Result<()> {
//! use rawx_mesh::{Config, Node, SubmitRequest, WorkOptions};
//! let config = Config::load(config_path)?;
//! let node = Node::start(&config, WorkOptions::default())?;
//! // The payload is the unit's stdin: for a job, ansible-runner's transmit stream.
//! let mut payload: &[u8] = b"...";
//! let req = SubmitRequest::new("local").param("params", "--private-data-dir=/tmp/job1");
//! let id = node.submit(&req, &mut payload).await?;
//! // Follow stdout from any offset, e.g. after a controller restart. The reader is an
//! // `AsyncRead` that ends once the unit is complete (wrap it in a `BufReader` for lines).
//! let mut results = node.results(&id, 0)?;
//! let mut out = Vec::new();
//! results.copy_to(&mut out).await?;      // returns once the unit is complete
//! let status = node.status(&id)?;        // State, Detail ("exit status 0"), StdoutSize
//! node.release(&id).await?;              // cancels if running, deletes the unit dir
//! # let _ = (status, node.cancel("x").await); Ok(()) }
//! ```
//!
//! Units live in `<datadir>/<nodeid>/<unitid>/`; [`Node::start`] adopts the units found
//! there, so a controller that restarts re-attaches to running work by unit ID.
//!
//! * [`WorkNode`]: the one interface a controller drives, implemented by [`Node`] and by
//!   [`RemoteNode`], the control-protocol client for a separate node (Unix socket, TCP, TLS;
//!   signed work), whose results streams resume across a node restart. [`worker_info`] runs
//!   `ansible-runner worker --worker-info` on either (AWX's health check).

#![forbid(unsafe_code)]

mod cli;
mod client;
pub mod config;
pub mod control;
pub mod mesh;
mod mesh_view;
mod node;
pub mod signing;
mod tls;
pub mod work;
mod work_node;
mod worker_info;

pub use cli::{plan, run, ReceptorArgs};
pub use client::{Address, ClientError, RemoteNode, RemoteOptions};
pub use config::{Config, ConfigError};
pub use mesh_view::{MeshView, ViewAd, ViewConnection, ViewListener};
pub use node::{Node, NodeError, SubmitRequest, RECEPTOR_VERSION};
pub use tls::TlsError;
pub use work::BoxFuture;
pub use work::{
    unit_runner_main, PendingUnit, ResultsReader, UnitStatus, WorkError, WorkOptions, WorkState,
};
pub use work_node::{ResultsStream, WorkNode};
pub use worker_info::{worker_info, WorkerInfo, WORKER_INFO_TIMEOUT};
