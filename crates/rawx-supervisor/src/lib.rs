//! rawx's supervision skeleton: every role (API server, task manager, dispatcher, event
//! ingester, execution node, log shipper) runs as a named [`Component`] under one
//! [`Supervisor`], the in-process replacement for the supervisord + superwatcher pair AWX
//! relies on. Each component runs in its own tokio task so a panic is caught and treated as a
//! failure; failures are restarted with exponential backoff until a crash-loop limit (or,
//! for [`Restart::Never`], not at all) turns them into an error from [`Supervisor::run`]. One
//! [`ShutdownHandle`] stops everything, each component getting a grace period before abort.
//! Background loops can be written as a [`Worker`] and wrapped with [`WorkerComponent`].
//!
//! Architecture invariant: this crate depends on no other rawx crate and knows nothing of
//! HTTP, the store, the bus or Ansible. Every role depends on it, so anything more would make
//! the lowest layer of the process aware of the things it is supposed to keep alive.
//!
//! API boundary: the binary builds a [`Supervisor`], `add`s components and calls
//! [`Supervisor::run_until_signal`]; health and metrics read [`StatusHandle::snapshot`].
//!
//! ```no_run
//! use std::sync::Arc;
//! use rawx_supervisor::{Component, Restart, Shutdown, Supervisor};
//!
//! struct Api;
//!
//! #[async_trait::async_trait]
//! impl Component for Api {
//!     fn name(&self) -> &'static str {
//!         "api"
//!     }
//!     async fn run(&self, mut shutdown: Shutdown) -> anyhow::Result<()> {
//!         // Serve until asked to stop; an Err here gets the component restarted.
//!         shutdown.wait().await;
//!         Ok(())
//!     }
//! }
//!
//! # async fn serve() -> anyhow::Result<()> {
//! let mut supervisor = Supervisor::new();
//! supervisor.add(Arc::new(Api), Restart::Always);
//! let health = supervisor.status_handle(); // hand to the health endpoint
//! supervisor.run_until_signal().await
//! # }
//! ```

#![forbid(unsafe_code)]

mod error;
mod fault;
mod shutdown;
mod slot;
mod status;
mod supervisor;
mod worker;

pub use error::SupervisorError;
pub use fault::Faults;
pub use shutdown::{Shutdown, ShutdownHandle};
pub use status::{ComponentState, ComponentStatus, StatusHandle};
pub use supervisor::{Restart, Supervisor};
pub use worker::{Worker, WorkerComponent, WorkerState};

/// One supervised role or background loop.
#[async_trait::async_trait]
pub trait Component: Send + Sync + 'static {
    /// A short, stable name: it is the `component` field of every log line about this
    /// component and its key in [`StatusHandle::snapshot`].
    fn name(&self) -> &'static str;

    /// Runs until `shutdown` fires (then returns `Ok`) or until it fails (`Err`, or a panic):
    /// the supervisor then restarts it per its [`Restart`] policy. Returning `Ok` before
    /// shutdown means "my work is finished": the component is marked stopped and not
    /// restarted. `run` may be called again after a failure, so it must not assume it runs once.
    async fn run(&self, shutdown: Shutdown) -> anyhow::Result<()>;
}
