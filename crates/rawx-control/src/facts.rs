//! AWX's fact cache (`awx/main/tasks/facts.py`) for jobs whose template has `use_fact_cache`:
//! before the job, each host's stored facts that have not expired
//! (`ANSIBLE_FACT_CACHE_TIMEOUT`, 0 = never) are written where ansible's `jsonfile` cache
//! plugin reads them (`artifacts/<job>/fact_cache/<host>`, which ansible-runner points
//! `ANSIBLE_CACHE_PLUGIN_CONNECTION` at), and after it the files the artifacts bring back
//! are stored on the hosts: a file ansible wrote again replaces the facts, a file that is gone
//! (ansible's `clear_facts`, or facts never written) clears them, each with
//! `ansible_facts_modified` now.
//!
//! AWX tells a file ansible wrote from its own by its modification time. The artifacts come
//! back as a zip (two-second times), so here it is by content: ours are compact JSON,
//! ansible's jsonfile plugin writes indented JSON, so a file ansible wrote differs.

use anyhow::anyhow;
use rawx_model::resources::HOSTS;
use rawx_model::schema::{int, text};
use rawx_model::Row;
use rawx_runner::ZipEntry;
use rawx_store::DynStore;
use serde_json::{json, Value};
use std::collections::HashMap;

/// What the job's fact cache started with.
#[derive(Debug, Clone, Default)]
pub struct FactCache {
    /// The hosts whose facts the job may change (AWX's `get_hosts_for_fact_cache`).
    pub hosts: Vec<(i64, String)>,
    /// Host name → the bytes written for it.
    pub written: HashMap<String, Vec<u8>>,
}

/// A host name that names a file inside the cache directory (AWX's `realpath` check).
fn safe_name(name: &str) -> bool {
    !name.is_empty() && name != "." && name != ".." && !name.contains('/') && !name.contains('\0')
}

fn facts_of(h: &Row) -> Value {
    match h.get("ansible_facts") {
        Some(Value::String(s)) => serde_json::from_str(s).unwrap_or_else(|_| json!({})),
        Some(v @ Value::Object(_)) => v.clone(),
        _ => json!({}),
    }
}

/// The files to put in the private data dir, and what was written (`start_fact_cache`).
pub fn start(job_id: i64, hosts: &[Row], timeout_secs: i64) -> (Vec<ZipEntry>, FactCache) {
    let oldest = (timeout_secs > 0).then(|| rawx_model::time_after(-timeout_secs));
    let mut files = Vec::new();
    let mut cache = FactCache::default();
    for h in hosts {
        let name = text(h, "name");
        let Some(id) = int(h, "id") else { continue };
        if !safe_name(name) {
            tracing::warn!(host = name, "facts for host could not be cached");
            continue;
        }
        cache.hosts.push((id, name.to_string()));
        let modified = h.get("ansible_facts_modified").and_then(Value::as_str);
        let fresh = match (modified, &oldest) {
            (None, _) => false,
            (Some(m), Some(oldest)) => m >= oldest.as_str(),
            (Some(_), None) => true,
        };
        if !fresh {
            continue;
        }
        let data = facts_of(h).to_string().into_bytes();
        files.push(ZipEntry::file(
            format!("artifacts/{job_id}/fact_cache/{name}"),
            0o600,
            data.clone(),
        ));
        cache.written.insert(name.to_string(), data);
    }
    (files, cache)
}

/// Stores what the job left in its fact cache (`finish_fact_cache`): returns how many hosts
/// were updated, cleared and left as they were.
pub async fn finish(
    store: &DynStore,
    cache: &FactCache,
    returned: &HashMap<String, Vec<u8>>,
) -> anyhow::Result<(usize, usize, usize)> {
    let (mut updated, mut cleared, mut unchanged) = (0, 0, 0);
    let now = rawx_model::now_string();
    for (id, name) in &cache.hosts {
        let facts = match returned.get(name) {
            Some(bytes) if cache.written.get(name) == Some(bytes) => {
                unchanged += 1;
                continue;
            }
            Some(bytes) => match serde_json::from_slice::<Value>(bytes) {
                Ok(v) => {
                    updated += 1;
                    v
                }
                // AWX skips a file it cannot parse.
                Err(_) => continue,
            },
            None => {
                cleared += 1;
                json!({})
            }
        };
        let mut row = Row::new();
        row.insert("ansible_facts".into(), json!(facts.to_string()));
        row.insert("ansible_facts_modified".into(), json!(now));
        store
            .update(&HOSTS, *id, &row)
            .await
            .map_err(|e| anyhow!("storing the facts of host {name}: {e}"))?;
    }
    Ok((updated, cleared, unchanged))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host(id: i64, name: &str, facts: &str, modified: Option<&str>) -> Row {
        let mut h = Row::new();
        h.insert("id".into(), json!(id));
        h.insert("name".into(), json!(name));
        h.insert("ansible_facts".into(), json!(facts));
        h.insert("ansible_facts_modified".into(), json!(modified));
        h
    }

    #[test]
    fn only_fresh_facts_of_safe_names_are_written() {
        let now = rawx_model::now_string();
        let old = rawx_model::time_after(-3600);
        let hosts = [
            host(1, "web1", r#"{"os":"Linux"}"#, Some(&now)),
            host(2, "web2", r#"{"os":"BSD"}"#, Some(&old)),
            host(3, "never", "{}", None),
            host(4, "../etc", r#"{"x":1}"#, Some(&now)),
        ];
        let (files, cache) = start(7, &hosts, 60);
        let paths: Vec<_> = files.iter().map(|f| f.path.as_str()).collect();
        assert_eq!(paths, ["artifacts/7/fact_cache/web1"]);
        assert_eq!(
            cache.hosts.len(),
            3,
            "the unsafe name is not the job's to change"
        );
        let (files, _) = start(7, &hosts, 0);
        assert_eq!(files.len(), 2, "no timeout: every host with facts");
    }
}
