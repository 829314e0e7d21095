//! rawx's test kit (dev-only, never published): what every suite needs and none should write
//! again.
//!
//! - [`Server`] / [`lab::Lab`]: a real `rawx serve` (or one role: `web`, `task`) in a fresh data
//!   dir, SQLite or a fresh PostgreSQL database ([`PgDb`]), with or without Redis
//!   ([`Redis`]); [`lab`] builds what jobs need and waits for them.
//! - The real clients: `awx` ([`Server::awx`]), `receptorctl` ([`clients::receptorctl`]),
//!   `ansible-playbook` ([`clients::ansible_playbook`]), `rawx manage` ([`manage`]).
//! - [`eventually`] instead of hand-written poll loops.
//! - Cleanup that leaves nothing running, even when a test panics: every process the kit
//!   starts gets a process group of its own, killed on drop and by a panic hook, and a data
//!   dir ([`DataDir`]) kills every process still naming it (orphaned work units) when dropped.
//! - `api::Api` (feature `api`): AWX's API in process over a fresh seeded SQLite store, called
//!   through its router (the API's own suites, the task role's fast tests).
//! - [`fake_node::FakeNode`]: a `WorkNode` that replays captured runner result streams, for
//!   in-process tests of the task role.
//!
//! Everything that talks to a server shells out on purpose: end-to-end suites must see exactly
//! what a user sees, so no in-process shortcuts and no HTTP client crate that might be more
//! forgiving than the CLI.

#[cfg(feature = "api")]
pub mod api;
pub mod awx_roles;
pub mod clients;
pub mod collection;
mod eventually;
pub mod fake_http;
pub mod fake_node;
pub mod git;
pub mod lab;
pub mod leftovers;
pub mod ops;
mod pg;
pub mod plays;
pub mod procs;
mod server;
pub mod sshd;
mod tools;
pub mod vaults;
pub mod wsclient;

pub use clients::{manage, rawx, sh, sqlite, yaml_to_json, Out, Redis};
pub use eventually::{eventually, eventually_async, eventually_every, Attempt};
pub use pg::PgDb;
pub use procs::{free_port, DataDir, Proc};
pub use server::{curl, names, tail, Opts, Resp, Server, ADMIN_PW, PLAYBOOK};
pub use tools::{rawx_bin, venv, venv_path, workspace_root};
