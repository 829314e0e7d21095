//! What a node can run, as AWX's health check learns it: `ansible-runner worker --worker-info`
//! run as a work unit on that node (so the figures are the node's, wherever it is), its one
//! YAML mapping read back.

use tokio::io::AsyncReadExt;
use yaml_rust2::{Yaml, YamlLoader};

use crate::node::SubmitRequest;
use crate::work_node::WorkNode;

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
/// AWX records that as the instance's errors.
pub async fn worker_info(node: &dyn WorkNode, work_type: &str) -> Result<WorkerInfo, String> {
    let req = SubmitRequest::new(work_type).param("params", "--worker-info");
    let unit = node
        .submit(&req, b"")
        .await
        .map_err(|e| format!("cannot run {work_type} --worker-info: {e}"))?;
    let mut out = Vec::new();
    let read = async {
        let mut results = node.results(&unit, 0).await?;
        results
            .read_to_end(&mut out)
            .await
            .map_err(|e| crate::WorkError::Refused(e.to_string()))
    };
    let read = read.await;
    let status = node.status(&unit).await;
    if let Err(e) = node.release(&unit).await {
        tracing::warn!(unit = %unit, error = %e, "cannot release the worker-info unit");
    }
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
