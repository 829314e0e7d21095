//! What running jobs consume of capacity, computed in one place for every view of it (the
//! instance groups' figures, `/api/v2/metrics/`). The formula per job is AWX's
//! (`rawx_model::capacity::job_impact`); this adds which jobs count: every kind of job that is
//! `waiting` or `running`.

use crate::status::JobStatus;
use crate::DomainResult;
use rawx_model::filter::{Cond, Filter};
use rawx_model::resources::{HOSTS, JOB_KINDS};
use rawx_model::schema::{int, ColumnType};
use rawx_model::Row;
use rawx_store::Store;
use serde_json::json;
use std::collections::HashMap;

/// Consumed capacity and the jobs that hold it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Consumed {
    pub capacity: i64,
    /// Jobs of every kind holding capacity.
    pub jobs: usize,
}

/// Jobs' impacts (AWX's `task_impact`: `min(forks, hosts) + 1`) over one pass: an inventory's
/// host count is read once however many jobs use it.
#[derive(Debug, Default)]
pub struct Impacts {
    hosts: HashMap<i64, i64>,
}

impl Impacts {
    /// What `job` takes of a node's capacity.
    pub async fn of(&mut self, store: &dyn Store, job: &Row) -> DomainResult<i64> {
        // An inventory update takes 1, whatever its inventory (AWX's `_get_task_impact`).
        if job.contains_key("inventory_source") {
            return Ok(1);
        }
        let n = match int(job, "inventory") {
            Some(inv) => match self.hosts.get(&inv) {
                Some(n) => *n,
                None => {
                    let mut f = Filter::eq("inventory", ColumnType::Int, json!(inv));
                    // A smart inventory's hosts are its filter's (AWX's `total_hosts`).
                    let row = store.get(&rawx_model::resources::INVENTORIES, inv).await?;
                    if row.get("kind").and_then(|k| k.as_str()) == Some("smart") {
                        let hf = row
                            .get("host_filter")
                            .and_then(|h| h.as_str())
                            .unwrap_or("");
                        let org = int(&row, "organization");
                        f = rawx_model::smart::inventory_hosts(hf, org)
                            .unwrap_or(Filter::Any(vec![]));
                    }
                    let n = store.count(&HOSTS, &f).await? as i64;
                    self.hosts.insert(inv, n);
                    n
                }
            },
            None => 1,
        };
        Ok(rawx_model::capacity::job_impact(
            int(job, "forks").unwrap_or(0),
            n,
        ))
    }

    /// `of`, or the impact of a one-host run when the host count cannot be read (the task
    /// manager schedules on rather than stop).
    pub async fn of_or_one_host(&mut self, store: &dyn Store, job: &Row) -> i64 {
        match self.of(store, job).await {
            Ok(n) => n,
            Err(_) => rawx_model::capacity::job_impact(int(job, "forks").unwrap_or(0), 1),
        }
    }
}

/// What the jobs holding capacity take, over every kind of job, on the named execution nodes
/// (`None`: wherever they run).
pub async fn consumed(store: &dyn Store, on_nodes: Option<&[String]>) -> DomainResult<Consumed> {
    let mut filter = vec![Filter::On {
        path: vec![],
        column: "status",
        ctype: ColumnType::Text,
        cond: Cond::In(
            JobStatus::names(JobStatus::holds_capacity)
                .into_iter()
                .map(|s| json!(s))
                .collect(),
        ),
    }];
    if let Some(nodes) = on_nodes {
        filter.push(Filter::On {
            path: vec![],
            column: "execution_node",
            ctype: ColumnType::Text,
            cond: Cond::In(nodes.iter().map(|n| json!(n)).collect()),
        });
    }
    let filter = Filter::All(filter);
    let mut out = Consumed::default();
    let mut impacts = Impacts::default();
    for kind in JOB_KINDS {
        let active = store
            .list_all(kind.resource, &filter, &[("id", false)])
            .await?;
        for j in &active {
            out.capacity += impacts.of(store, j).await?;
        }
        out.jobs += active.len();
    }
    Ok(out)
}
