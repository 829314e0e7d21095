//! What every build of a private data dir shares — the job's and the inventory update's
//! (`build.rs`, `inventory_build.rs`), the project update run in-process (`scm.rs`) and the
//! ingester: the build's context and result, the refusal before start, and the masking of
//! secrets in everything stored afterwards.

use crate::Shared;
use anyhow::anyhow;
use rawx_model::filter::Filter;
use rawx_model::resources::JobKind;
use rawx_model::secret::SecretKey;
use rawx_model::Row;
use rawx_runner::PrivateDataDir;
use rawx_store::DynStore;
use serde_json::{json, Map, Value};
use std::collections::HashMap;
use std::path::Path;

/// A job that may not start (AWX's `pre_start`): it ends `failed` with this explanation.
#[derive(Debug)]
pub struct PreStart(pub String);

impl std::fmt::Display for PreStart {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for PreStart {}

pub struct Built {
    pub kwargs: Map<String, Value>,
    pub dir: PrivateDataDir,
    /// Every secret value handed to the job, to mask in what is stored.
    pub secrets: Vec<String>,
    /// Host name → host id in the job's inventory, to link events and summaries.
    pub hosts: HashMap<String, i64>,
    /// The fact cache the job started with, when its template keeps one.
    pub facts: Option<crate::facts::FactCache>,
}

pub async fn all_rows(
    store: &DynStore,
    res: &'static rawx_model::Resource,
    filter: Filter,
) -> anyhow::Result<Vec<Row>> {
    store
        .list_all(res, &filter, &[("id", false)])
        .await
        .map_err(|e| anyhow!("{e}"))
}

pub struct Context_<'a> {
    pub store: &'a DynStore,
    pub key: &'a SecretKey,
    pub projects_dir: &'a Path,
    pub node_name: &'a str,
    pub task_env: Map<String, Value>,
    pub url_base: String,
    /// The directory the worker unpacks this job into (removed when it ends): per-job state
    /// such as ssh's control sockets lives there, never shared between jobs.
    pub job_dir: std::path::PathBuf,
    /// `ANSIBLE_FACT_CACHE_TIMEOUT`: facts older than this many seconds are not handed to a
    /// job (0: no limit).
    pub fact_cache_timeout: i64,
}

/// The execution environment the job is recorded as running in, as AWX resolves it when the
/// job starts (`BaseTask.run`: only when the job has none yet). The job itself runs in the
/// node's environment whatever this says: rawx runs no containers (`rawx_domain::ee`).
pub async fn resolved_environment(shared: &Shared, kind: &JobKind, job: &Row) -> Value {
    match rawx_domain::ee::resolve(&*shared.store, kind.resource.key, job).await {
        Ok(ee) => json!(ee),
        Err(e) => {
            tracing::warn!(error = %e, "cannot resolve the job's execution environment");
            job.get("execution_environment")
                .cloned()
                .unwrap_or(Value::Null)
        }
    }
}

/// Masks what a stored copy of the job's environment or command line must not show.
pub fn mask(value: &str, secrets: &[String]) -> String {
    let mut out = value.to_string();
    for s in secrets.iter().filter(|s| s.len() >= 3) {
        out = out.replace(s.as_str(), "**********");
    }
    out
}

/// Masks a stored copy of the job's environment as AWX's `build_safe_env` does: names that look
/// secret (`API`, `TOKEN`, `KEY`, `SECRET`, `PASS`) are hidden except ansible's own settings,
/// a password inside a URL is hidden, and any value holding a known secret is masked.
pub fn mask_env(env: &Map<String, Value>, secrets: &[String]) -> Map<String, Value> {
    const HIDDEN: &str = "**********";
    let looks_secret = |k: &str| {
        let u = k.to_uppercase();
        ["API", "TOKEN", "KEY", "SECRET", "PASS"]
            .iter()
            .any(|w| u.contains(w))
    };
    let ansible_own = |k: &str| {
        k.starts_with("ANSIBLE_")
            && !k.starts_with("ANSIBLE_NET")
            && !k.starts_with("ANSIBLE_GALAXY_SERVER")
    };
    env.iter()
        .map(|(k, v)| {
            let v = match v {
                Value::String(_) if k == "AWS_ACCESS_KEY_ID" || ansible_own(k) => {
                    json!(mask(v.as_str().unwrap_or_default(), secrets))
                }
                Value::String(_) if looks_secret(k) => json!(HIDDEN),
                Value::String(s) => json!(mask(&hide_url_password(s), secrets)),
                other => other.clone(),
            };
            (k.clone(), v)
        })
        .collect()
}

/// `https://user:pw@host/…` → `https://user:**********@host/…`.
fn hide_url_password(s: &str) -> String {
    let Some(scheme_end) = s.find("://") else {
        return s.to_string();
    };
    let rest = &s[scheme_end + 3..];
    let Some(at) = rest.find('@') else {
        return s.to_string();
    };
    let userinfo = &rest[..at];
    match userinfo.split_once(':') {
        Some((user, pw)) if !pw.is_empty() && !user.contains('/') => {
            format!("{}://{}:**********{}", &s[..scheme_end], user, &rest[at..])
        }
        _ => s.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_is_masked_as_awx_masks_it() {
        let env: Map<String, Value> = serde_json::from_value(json!({
            "ANSIBLE_HOST_KEY_CHECKING": "False", "SMTP_PASS": "p1", "VENDOR_API": "a1",
            "MIRROR": "https://deploy:pw9@mirror.example/simple", "PLAIN": "has s3cret inside",
            "ANSIBLE_NET_PASSWORD": "n1",
        }))
        .unwrap();
        let m = mask_env(&env, &["s3cret".into()]);
        assert_eq!(m["ANSIBLE_HOST_KEY_CHECKING"], "False");
        assert_eq!(m["SMTP_PASS"], "**********");
        assert_eq!(m["VENDOR_API"], "**********");
        assert_eq!(m["ANSIBLE_NET_PASSWORD"], "**********");
        assert_eq!(
            m["MIRROR"],
            "https://deploy:**********@mirror.example/simple"
        );
        assert_eq!(m["PLAIN"], "has ********** inside");
    }
}
