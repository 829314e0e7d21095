//! The artifacts zip that closes a result stream: the contents of the worker's
//! `artifacts/<ident>/`. The job's exit code travels only here, as the `rc` file.

use serde_json::Value;

use crate::zipdata::{read_zip, ZipEntry};
use crate::RunnerError;

/// What a controller reads out of the artifacts zip.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Artifacts {
    /// `rc`: the playbook's exit code (254 for canceled/timeout); `None` if absent or unreadable.
    pub rc: Option<i32>,
    /// `status`: the final status, as in the last status frame.
    pub status: Option<String>,
    /// `stdout`: the job's whole output (absent with `suppress_output_file`).
    pub stdout: Option<String>,
    pub stderr: Option<String>,
    /// `command`: `{"command": [argv], "cwd": …, "env": {…}}` (env holds secrets).
    pub command: Option<Value>,
    /// Every member, paths relative to `artifacts/<ident>/` (e.g. `fact_cache/web1`).
    pub entries: Vec<ZipEntry>,
}

impl Artifacts {
    pub fn from_zip(zip: &[u8]) -> Result<Self, RunnerError> {
        let entries = read_zip(zip)?;
        let text = |name: &str| {
            entries
                .iter()
                .find(|e| e.path == name && !e.is_dir())
                .map(|e| String::from_utf8_lossy(&e.data).into_owned())
        };
        Ok(Artifacts {
            rc: text("rc").and_then(|s| s.trim().parse().ok()),
            status: text("status").map(|s| s.trim().to_string()),
            stdout: text("stdout"),
            stderr: text("stderr"),
            command: text("command").and_then(|s| serde_json::from_str(&s).ok()),
            entries,
        })
    }

    /// Files under `fact_cache/` (host name → JSON bytes), for a controller that keeps facts.
    pub fn fact_cache(&self) -> impl Iterator<Item = (&str, &[u8])> {
        self.entries.iter().filter_map(|e| {
            let host = e.path.strip_prefix("fact_cache/")?;
            (!e.is_dir() && !host.is_empty()).then_some((host, e.data.as_slice()))
        })
    }
}
