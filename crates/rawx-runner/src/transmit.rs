//! The transmit stream: what `ansible-runner worker` reads on stdin.
//!
//! ```text
//! {"kwargs": {...}}\n
//! {"zipfile": N}\n<base64 of the N-byte zip, unwrapped, no newline after it>{"eof": true}\n
//! ```
//!
//! The zip frame is optional (same-node work reads a shared directory instead). The base64 must
//! be followed directly by the next frame: a newline after it makes the worker read an empty
//! line and fail with a JSON error.

use std::io::Write;

use base64::engine::general_purpose::STANDARD;
use base64::write::EncoderWriter;
use serde_json::{json, Map, Value};

use crate::zipdata::{write_zip, ZipEntry};
use crate::{pyjson, RunnerError};

/// The ansible-runner version whose RunnerConfig accepts [`ACCEPTED_KWARGS`].
pub const RUNNER_VERSION: &str = "2.4.3";

/// Keyword arguments `ansible-runner worker` 2.4.3 accepts inside `{"kwargs": …}`. Any other
/// key makes the worker crash with a TypeError, exit 1 and no output, so the encoder refuses it.
pub const ACCEPTED_KWARGS: &[&str] = &[
    "host_cwd",
    "envvars",
    "passwords",
    "settings",
    "project_dir",
    "artifact_dir",
    "fact_cache_type",
    "fact_cache",
    "process_isolation",
    "process_isolation_executable",
    "container_image",
    "container_volume_mounts",
    "container_options",
    "container_workdir",
    "container_auth_data",
    "ident",
    "rotate_artifacts",
    "timeout",
    "ssh_key",
    "quiet",
    "json_mode",
    "check_job_event_data",
    "suppress_env_files",
    "playbook",
    "inventory",
    "roles_path",
    "limit",
    "module",
    "module_args",
    "verbosity",
    "host_pattern",
    "binary",
    "extravars",
    "suppress_output_file",
    "suppress_ansible_output",
    "process_isolation_path",
    "process_isolation_hide_paths",
    "process_isolation_show_paths",
    "process_isolation_ro_paths",
    "tags",
    "skip_tags",
    "directory_isolation_base_path",
    "forks",
    "cmdline",
    "omit_event_data",
    "only_failed_event_data",
];

/// Keys RunnerConfig knows but that ansible-runner's own transmit strips before sending: they
/// describe the controller side (or the worker's CLI), not the job.
const STRIPPED_KWARGS: &[(&str, &str)] = &[
    (
        "private_data_dir",
        "the worker uses its own directory (Receptor param --private-data-dir)",
    ),
    (
        "keepalive_seconds",
        "pass --keepalive-seconds to the worker command instead",
    ),
    (
        "only_transmit_kwargs",
        "call TransmitWriter::finish without a zip instead",
    ),
];

/// Checks kwargs against what the worker accepts, so a typo fails here, loudly, and not as a
/// silent worker crash on the execution node.
pub fn check_kwargs(kwargs: &Map<String, Value>) -> Result<(), RunnerError> {
    for key in kwargs.keys() {
        if let Some((_, why)) = STRIPPED_KWARGS.iter().find(|(k, _)| k == key) {
            return Err(RunnerError::ForbiddenKwarg {
                key: key.clone(),
                why,
            });
        }
        if !ACCEPTED_KWARGS.contains(&key.as_str()) {
            return Err(RunnerError::UnknownKwarg {
                key: key.clone(),
                runner: RUNNER_VERSION,
            });
        }
    }
    Ok(())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    Start,
    Kwargs,
    Zip,
    Done,
}

/// Writes a transmit stream frame by frame, refusing out-of-order frames.
pub struct TransmitWriter<W: Write> {
    out: W,
    stage: Stage,
}

impl<W: Write> TransmitWriter<W> {
    pub fn new(out: W) -> Self {
        TransmitWriter {
            out,
            stage: Stage::Start,
        }
    }

    /// `{"kwargs": …}`, first and once.
    pub fn kwargs(&mut self, kwargs: &Map<String, Value>) -> Result<(), RunnerError> {
        if self.stage != Stage::Start {
            return Err(RunnerError::TransmitOrder(
                "kwargs must be the first frame, written once",
            ));
        }
        check_kwargs(kwargs)?;
        let mut frame = Map::new();
        frame.insert("kwargs".into(), Value::Object(kwargs.clone()));
        pyjson::write(&mut self.out, &Value::Object(frame))?;
        self.out.write_all(b"\n")?;
        self.stage = Stage::Kwargs;
        Ok(())
    }

    /// `{"zipfile": N}` and the base64 of an already built archive.
    pub fn zip_bytes(&mut self, zip: &[u8]) -> Result<(), RunnerError> {
        if self.stage != Stage::Kwargs {
            return Err(RunnerError::TransmitOrder(
                "the zip follows kwargs, at most once",
            ));
        }
        pyjson::write(&mut self.out, &json!({ "zipfile": zip.len() }))?;
        self.out.write_all(b"\n")?;
        // Unwrapped base64 straight into the output; nothing may follow it but the next frame.
        let mut enc = EncoderWriter::new(&mut self.out, &STANDARD);
        enc.write_all(zip)?;
        enc.finish()?;
        self.stage = Stage::Zip;
        Ok(())
    }

    /// Archives `entries` and writes them as the zip frame.
    pub fn zip_entries(
        &mut self,
        entries: impl IntoIterator<Item = ZipEntry>,
    ) -> Result<(), RunnerError> {
        let zip = write_zip(entries)?;
        self.zip_bytes(&zip)
    }

    /// `{"eof": true}`, flushes, and hands the writer back.
    pub fn finish(mut self) -> Result<W, RunnerError> {
        if self.stage == Stage::Start {
            // The worker crashes (no output at all) on eof without kwargs.
            return Err(RunnerError::TransmitOrder("eof without kwargs"));
        }
        self.out.write_all(b"{\"eof\": true}\n")?;
        self.out.flush()?;
        self.stage = Stage::Done;
        Ok(self.out)
    }
}

/// The whole stream in one call: kwargs, a zip of `entries`, eof.
pub fn encode_transmit(
    kwargs: &Map<String, Value>,
    entries: impl IntoIterator<Item = ZipEntry>,
    out: &mut impl Write,
) -> Result<(), RunnerError> {
    let mut w = TransmitWriter::new(out);
    w.kwargs(kwargs)?;
    w.zip_entries(entries)?;
    w.finish()?;
    Ok(())
}

/// Kwargs and eof only, for a worker that reads a directory it shares with the controller
/// (AWX's `only_transmit_kwargs`).
pub fn encode_kwargs_only(
    kwargs: &Map<String, Value>,
    out: &mut impl Write,
) -> Result<(), RunnerError> {
    let mut w = TransmitWriter::new(out);
    w.kwargs(kwargs)?;
    w.finish()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_unknown_and_stripped_kwargs() {
        let mut m = Map::new();
        m.insert("playbok".into(), json!("site.yml"));
        let e = encode_kwargs_only(&m, &mut Vec::new()).unwrap_err();
        assert!(e.to_string().contains("\"playbok\""), "{e}");
        let mut m = Map::new();
        m.insert("private_data_dir".into(), json!("/tmp/x"));
        assert!(matches!(
            encode_kwargs_only(&m, &mut Vec::new()),
            Err(RunnerError::ForbiddenKwarg { .. })
        ));
    }

    #[test]
    fn frames_are_glued_like_the_worker_expects() {
        let mut m = Map::new();
        m.insert("ident".into(), json!(7));
        let mut out = Vec::new();
        let mut w = TransmitWriter::new(&mut out);
        w.kwargs(&m).unwrap();
        w.zip_bytes(b"abcd").unwrap();
        w.finish().unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "{\"kwargs\": {\"ident\": 7}}\n{\"zipfile\": 4}\nYWJjZA=={\"eof\": true}\n"
        );
    }

    #[test]
    fn out_of_order_frames_are_refused() {
        let mut w = TransmitWriter::new(Vec::new());
        assert!(w.zip_bytes(b"x").is_err());
        assert!(TransmitWriter::new(Vec::new()).finish().is_err());
    }
}
