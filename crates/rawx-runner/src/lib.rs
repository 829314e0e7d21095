//! ansible-runner's streaming protocol, pure: rawx runs every job as `ansible-runner worker`
//! (a Receptor work unit), and this crate makes the bytes that go in and understands the bytes
//! that come out.
//!
//! - [`transmit`]: the input stream (`{"kwargs"}`, `{"zipfile": N}` + base64 zip, `{"eof"}`),
//!   with the private data dir built in memory by [`PrivateDataDir`].
//! - [`results`]: an incremental decoder of the worker's output into [`Frame`]s (statuses,
//!   events, keepalives, the artifacts zip, eof), tolerant of chunking, precise about errors.
//! - [`events`], [`stats`], [`stdout`]: the fields AWX derives and stores from events (failed,
//!   changed, level, display name, host summaries, stdout text).
//! - [`argv`]: the ansible-playbook command line from a template's options.
//!
//! Architecture invariant: this crate depends on no other rawx crate and does no network or
//! database I/O; it never spawns a process. Its only file-system access is reading a project
//! directory to pack it ([`entries_from_dir`]). Everything else is bytes in, values out, so it
//! can be fuzzed and tested on captured streams (`tests/data/`, captured from ansible-runner
//! 2.4.3 with ansible-core 2.19).
//!
//! # Where secrets travel
//!
//! AWX sends envvars (credential secrets among them), passwords and the SSH key as *kwargs*
//! with `suppress_env_files: true`, so they cross the wire in clear text on the first line of
//! the stream. rawx instead puts every job input in the zip as `env/` files (mode 0600):
//! `env/envvars`, `env/passwords`, `env/ssh_key`, `env/extravars`, `env/settings`,
//! `env/cmdline`, and keeps kwargs to non-secret keys (`ident`, `playbook`, `inventory`, …).
//! The worker honours these files whatever `suppress_env_files` says (its RunnerConfig loads
//! `env/*` from the unpacked directory; the round-trip tests in `tests/worker.rs` prove each
//! one with the real worker). Why:
//!
//! - the kwargs line stays free of secrets, so it can be logged and shown when debugging a
//!   unit, and nothing secret sits at a fixed, greppable place in the stream;
//! - one channel for all job inputs, with file modes we choose;
//! - the worker unpacks into its private data dir, which rawx's node runs with `--delete`
//!   (wiped before unpacking and removed at exit).
//!
//! What this does *not* change: deflate + base64 is encoding, not encryption, so the unit's
//! stdin on the node still holds the secrets and must be protected and removed like AWX's;
//! and the worker's `starting` status ([`StatusFrame::env`]) and the artifacts' `command` file
//! echo the full job environment, envvars included, so a controller must mask them before
//! storing `job_env`.

pub mod argv;
pub mod artifacts;
mod error;
pub mod events;
pub mod privdir;
mod pyjson;
pub mod results;
pub mod stats;
pub mod stdout;
pub mod transmit;
mod zipdata;

pub use argv::{args_to_cmdline, build_args, build_cmdline, quote, CmdlineOptions};
pub use artifacts::Artifacts;
pub use error::{Position, RunnerError};
pub use events::RunnerEvent;
pub use privdir::{inventory_script, PrivateDataDir, INVENTORY_PATH};
pub use results::{Frame, ResultDecoder, RunnerStatus, StatusFrame};
pub use stats::{host_stats, host_status_counts, HostStats};
pub use stdout::{join_stdout, stdout_ansi, stdout_txt, strip_ansi};
pub use transmit::{
    check_kwargs, encode_kwargs_only, encode_transmit, TransmitWriter, ACCEPTED_KWARGS,
    RUNNER_VERSION,
};
pub use zipdata::{entries_from_dir, read_zip, write_zip, ZipEntry};

/// Python-style JSON (`", "`/`": "` separators, ASCII only), as ansible-runner writes it.
pub fn python_json(value: &serde_json::Value) -> String {
    pyjson::to_string(value)
}
