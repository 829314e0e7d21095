//! What a node can run, as AWX's health check learns it: `ansible-runner worker --worker-info`
//! run as a work unit on that node (so the figures are the node's, wherever it is), its one
//! YAML mapping read back.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::AsyncReadExt;
use yaml_rust2::{Yaml, YamlLoader};

use crate::node::SubmitRequest;
use crate::work::state_name;
use crate::work_node::WorkNode;

/// How long a health check's unit may take, submission to last byte: AWX's
/// `run_until_complete` gives up after 20 s ("Receptor job timeout on NODE after N seconds,
/// state remains in STATE"), so a node that does not answer never holds the check.
pub const WORKER_INFO_TIMEOUT: Duration = Duration::from_secs(20);

/// How long the status of an overrun unit is waited for, for the error message.
const STATUS_TIMEOUT: Duration = Duration::from_secs(5);

/// `--worker-info`'s mapping. `errors` are the worker's own complaints (AWX keeps them on the
/// instance and gives it no capacity).
#[derive(Debug, Clone, PartialEq)]
pub struct WorkerInfo {
    pub cpu_count: i64,
    pub mem_in_bytes: i64,
    pub runner_version: String,
    pub errors: Vec<String>,
    pub uuid: Option<String>,
}

/// Runs `work_type` (whose command is `ansible-runner worker`) with `--worker-info` on `node`.
/// A unit that cannot run, or output that lacks a figure, is an `Err` naming what was wrong:
/// AWX records that as the instance's errors. So is a unit not done within `limit`
/// ([`WORKER_INFO_TIMEOUT`] as AWX has it), or a node that does not answer the submission in
/// that time; the unit is then released in the background (its cancel may take the node's
/// grace period), so the caller gets its answer at the limit.
pub async fn worker_info(
    node: Arc<dyn WorkNode>,
    work_type: &str,
    limit: Duration,
) -> Result<WorkerInfo, String> {
    let started = Instant::now();
    let deadline = tokio::time::Instant::now() + limit;
    let timeout = |what: &str| {
        format!(
            "Receptor job timeout on {} after {:.1} seconds, {what}",
            node.node_id(),
            started.elapsed().as_secs_f64()
        )
    };
    let req = SubmitRequest::new(work_type).param("params", "--worker-info");
    let unit = match tokio::time::timeout_at(deadline, node.submit(&req, b"")).await {
        Ok(r) => r.map_err(|e| format!("cannot run {work_type} --worker-info: {e}"))?,
        // Nothing to release: the node never said which unit it made.
        Err(_) => return Err(timeout("the work submission was not answered")),
    };
    let mut out = Vec::new();
    let read = tokio::time::timeout_at(deadline, async {
        let mut results = node.results(&unit, 0).await?;
        results
            .read_to_end(&mut out)
            .await
            .map_err(|e| crate::WorkError::Refused(e.to_string()))
    })
    .await;
    let status = tokio::time::timeout(STATUS_TIMEOUT, node.status(&unit)).await;
    tokio::spawn({
        let (node, unit) = (node.clone(), unit.clone());
        async move {
            if let Err(e) = node.release(&unit).await {
                tracing::warn!(unit = %unit, error = %e, "cannot release the worker-info unit");
            }
        }
    });
    let read = match read {
        Ok(r) => r,
        Err(_) => {
            let state = match status {
                Ok(Ok(st)) => state_name(st.state),
                Ok(Err(e)) => format!("unknown ({e})"),
                Err(_) => "unknown (the node did not answer)".to_string(),
            };
            return Err(timeout(&format!("state remains in {state}")));
        }
    };
    let status = status.map_err(|_| ()).and_then(|s| s.map_err(|_| ()));
    read.map_err(|e| format!("reading --worker-info output: {e}"))?;
    let text = String::from_utf8_lossy(&out);
    parse(&text).map_err(|e| match status {
        Ok(st) if st.detail != "exit status 0" => {
            format!(
                "{work_type} --worker-info ended with {}: {}",
                st.detail,
                text.trim()
            )
        }
        _ => e,
    })
}

/// Parses the mapping; the three figures AWX requires must be there.
pub fn parse(text: &str) -> Result<WorkerInfo, String> {
    let docs = YamlLoader::load_from_str(text)
        .map_err(|e| format!("--worker-info output is not YAML ({e}): {}", text.trim()))?;
    let doc = docs.first().cloned().unwrap_or(Yaml::Null);
    let get = |k: &str| doc[k].clone();
    let int = |k: &str| match get(k) {
        Yaml::Integer(n) => Ok(n),
        _ => Err(format!("--worker-info output lacks {k}: {}", text.trim())),
    };
    let runner_version = match get("runner_version") {
        Yaml::String(s) => s,
        Yaml::Real(s) => s,
        Yaml::Integer(n) => n.to_string(),
        _ => {
            return Err(format!(
                "--worker-info output lacks runner_version: {}",
                text.trim()
            ))
        }
    };
    let errors = match get("errors") {
        Yaml::Array(a) => a
            .iter()
            .map(|e| match e {
                Yaml::String(s) => s.clone(),
                other => format!("{other:?}"),
            })
            .collect(),
        _ => Vec::new(),
    };
    Ok(WorkerInfo {
        cpu_count: int("cpu_count")?,
        mem_in_bytes: int("mem_in_bytes")?,
        runner_version,
        errors,
        uuid: get("uuid").as_str().map(str::to_string),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_real_output() {
        // shared/samples/runner/worker-info.txt, captured from ansible-runner 2.4.3.
        let sample = "{cpu_count: 2, errors: [], mem_in_bytes: 25276063744, runner_version: 2.4.3, uuid: 45db07a8-70a1-462f-8c6a-b9091989b760}\n\n";
        let info = parse(sample).unwrap();
        assert_eq!(info.cpu_count, 2);
        assert_eq!(info.mem_in_bytes, 25276063744);
        assert_eq!(info.runner_version, "2.4.3");
        assert!(info.errors.is_empty());
    }

    #[test]
    fn names_what_is_missing() {
        let e = parse("{cpu_count: 2, errors: [], runner_version: 2.4.3}").unwrap_err();
        assert!(e.contains("mem_in_bytes"), "{e}");
        assert!(parse("Traceback (most recent call last):").is_err());
    }
}
