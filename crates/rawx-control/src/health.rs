//! Instances and their capacity: the task role registers this controller and the node it
//! submits work to as `/api/v2/instances/` rows (AWX's `provision_instance` and
//! `register_peers`), learns an execution node's CPUs and memory by running `ansible-runner
//! worker --worker-info` there as a work unit (AWX's health check), and keeps each row's
//! capacity by AWX's formula (`rawx_model::capacity`). The `health` component re-checks
//! periodically and whenever `POST /api/v2/instances/N/health_check/` asks.

use std::time::{Duration, Instant};

use rawx_domain::JobStatus;
use rawx_model::capacity;
use rawx_model::filter::Filter;
use rawx_model::resources::INSTANCES;
use rawx_model::schema::{text, ColumnType};
use rawx_model::Row;
use rawx_store::DynStore;
use rawx_supervisor::{Component, Shutdown};
use serde_json::{json, Value};

use crate::Shared;

/// AWX checks execution nodes about once a minute.
const PERIOD: Duration = Duration::from_secs(60);
/// How soon a requested check (`health_check_started` newer than the last check) is noticed.
const POLL: Duration = Duration::from_secs(1);

/// Whether the jobs run on a node apart from this controller (`rawx receptor`).
pub fn remote(shared: &Shared) -> bool {
    shared.node.node_id() != shared.node_name
}

/// The `/api/v2/instances/` row of `hostname`.
pub(crate) async fn find(store: &DynStore, hostname: &str) -> anyhow::Result<Option<Row>> {
    let f = Filter::eq("hostname", ColumnType::Text, json!(hostname));
    store
        .find(&INSTANCES, &f)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))
}

/// Creates or updates the row of `hostname` with `values`; returns its id.
pub(crate) async fn upsert(store: &DynStore, hostname: &str, values: Value) -> anyhow::Result<i64> {
    let mut row: Row = values.as_object().cloned().unwrap_or_default();
    match find(store, hostname).await? {
        Some(existing) => {
            let id = existing
                .get("id")
                .and_then(Value::as_i64)
                .unwrap_or_default();
            store
                .update(&INSTANCES, id, &row)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            Ok(id)
        }
        None => {
            let defaults = json!({
                "hostname": hostname, "uuid": "", "ip_address": "", "version": "",
                "node_type": "execution", "node_state": "installed", "capacity": 0,
                "consumed_capacity": 0, "percent_capacity_remaining": 0.0, "jobs_running": 0,
                "jobs_total": 0, "cpu": "0.0", "memory": 0, "cpu_capacity": 0, "mem_capacity": 0,
                "capacity_adjustment": "1.00", "enabled": true, "managed_by_policy": true,
                "managed": true, "errors": "",
            });
            for (k, v) in defaults.as_object().into_iter().flatten() {
                row.entry(k.clone()).or_insert_with(|| v.clone());
            }
            store
                .insert(&INSTANCES, &row)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))
        }
    }
}

fn adjustment(row: &Row) -> f64 {
    text(row, "capacity_adjustment").parse().unwrap_or(1.0)
}

/// The figures of a check, with the capacity they give under the row's adjustment.
fn figures(row: Option<&Row>, cpus: f64, mem_bytes: i64, errors: &[String]) -> Value {
    let adj = row.map_or(1.0, adjustment);
    let cpu_cap = capacity::cpu_capacity(cpus);
    let mem_cap = capacity::mem_capacity(mem_bytes);
    let now = rawx_model::now_string();
    json!({
        "cpu": format!("{cpus:.1}"), "memory": mem_bytes, "cpu_capacity": cpu_cap, "mem_capacity": mem_cap,
        "capacity": capacity::instance_capacity(cpu_cap, mem_cap, adj, !errors.is_empty()),
        "errors": errors.join("\n"),
        "node_state": if errors.is_empty() { "ready" } else { "unavailable" },
        "last_health_check": now,
    })
}

fn local_figures() -> (f64, i64) {
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
    let mem = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            let l = s.lines().find(|l| l.starts_with("MemTotal:"))?;
            l.split_whitespace().nth(1)?.parse::<i64>().ok()
        })
        .map_or(0, |kib| kib * 1024);
    (cpus, mem)
}

/// Registers this controller (and the separate execution node, if any) as instances. The
/// controller's own figures are this machine's; an execution node's come from its check.
pub async fn register(shared: &Shared) -> anyhow::Result<()> {
    let store = &shared.store;
    let (cpus, mem) = local_figures();
    let me = find(store, &shared.node_name).await?;
    let node_type = if remote(shared) { "control" } else { "hybrid" };
    let mut values = figures(me.as_ref(), cpus, mem, &[]);
    values["node_type"] = json!(node_type);
    values["last_seen"] = json!(rawx_model::now_string());
    values["version"] = json!(env!("CARGO_PKG_VERSION"));
    upsert(store, &shared.node_name, values).await?;
    if remote(shared) {
        let id = shared.node.node_id().to_string();
        // The node this controller is configured with is managed by it, even when the mesh
        // view (reach) saw it first and recorded it as a node learned from the mesh.
        let row = find(store, &id).await?;
        if row.is_none_or(|r| r.get("managed") != Some(&json!(true))) {
            upsert(
                store,
                &id,
                json!({"node_type": "execution", "managed": true}),
            )
            .await?;
        }
        check(shared, &id).await?;
    }
    // A new instance joins the groups whose policies want it (AWX: on_instance_saved).
    crate::groups::apply_policies(store).await?;
    Ok(())
}

/// One health check of `hostname` (AWX's `execution_node_health_check`): worker-info through
/// the node for an execution node, this machine's figures for the controller.
pub async fn check(shared: &Shared, hostname: &str) -> anyhow::Result<()> {
    let store = &shared.store;
    let row = find(store, hostname).await?;
    let is_exec_node = remote(shared) && hostname == shared.node.node_id();
    let started = Instant::now();
    let mut values = if is_exec_node {
        // Bounded (AWX's 20 s): a node that does not answer gets an error on its row and
        // the next check its turn, rather than holding this component for good.
        let info = rawx_mesh::worker_info(
            shared.node.clone(),
            crate::WORK_TYPE,
            rawx_mesh::WORKER_INFO_TIMEOUT,
        );
        match info.await {
            Ok(info) => {
                let mut v = figures(
                    row.as_ref(),
                    info.cpu_count as f64,
                    info.mem_in_bytes,
                    &info.errors,
                );
                v["version"] = json!(format!("ansible-runner-{}", info.runner_version));
                v["uuid"] = json!(info.uuid.unwrap_or_default());
                v["last_seen"] = json!(rawx_model::now_string());
                v
            }
            Err(e) => {
                // AWX keeps the last figures, drops the capacity and records why.
                json!({"capacity": 0, "errors": e, "node_state": "unavailable",
                       "last_health_check": rawx_model::now_string()})
            }
        }
    } else {
        let (cpus, mem) = local_figures();
        let mut v = figures(row.as_ref(), cpus, mem, &[]);
        v["last_seen"] = json!(rawx_model::now_string());
        v
    };
    if values["errors"].as_str().is_some_and(|e| !e.is_empty()) {
        tracing::warn!(instance = hostname, errors = %values["errors"], "health check found errors");
    } else {
        tracing::info!(instance = hostname, capacity = %values["capacity"], ms = started.elapsed().as_millis() as u64, "health check");
    }
    // A check asked for while this one ran stays pending: its start is left as it was.
    values
        .as_object_mut()
        .map(|m| m.remove("health_check_started"));
    upsert(store, hostname, values).await?;
    Ok(())
}

/// The capacity the task manager schedules against: the execution node's row. `None` when
/// there is no row (the controller's own figure applies).
pub async fn node_capacity(shared: &Shared) -> Option<(String, i64, f64)> {
    let row = find(&shared.store, shared.node.node_id()).await.ok()??;
    let enabled = row.get("enabled") != Some(&json!(false));
    let cap = row.get("capacity").and_then(Value::as_i64).unwrap_or(0);
    Some((
        text(&row, "hostname").to_string(),
        if enabled { cap } else { 0 },
        adjustment(&row),
    ))
}

/// Writes what the active jobs take of the execution node onto its row, when it changed.
pub async fn record_consumed(shared: &Shared, consumed: i64, running: usize) {
    let Ok(Some(row)) = find(&shared.store, shared.node.node_id()).await else {
        return;
    };
    let cap = row.get("capacity").and_then(Value::as_i64).unwrap_or(0);
    let pct = capacity::percent_remaining(cap, consumed);
    if row.get("consumed_capacity").and_then(Value::as_i64) == Some(consumed)
        && row.get("jobs_running").and_then(Value::as_i64) == Some(running as i64)
        && row
            .get("percent_capacity_remaining")
            .and_then(Value::as_f64)
            == Some(pct)
    {
        return;
    }
    let id = row.get("id").and_then(Value::as_i64).unwrap_or_default();
    let mut r = Row::new();
    r.insert("consumed_capacity".into(), json!(consumed));
    r.insert("jobs_running".into(), json!(running));
    r.insert("percent_capacity_remaining".into(), json!(pct));
    let total = shared
        .store
        .count(
            &rawx_model::resources::JOBS,
            &Filter::eq(
                "execution_node",
                ColumnType::Text,
                json!(shared.node.node_id()),
            ),
        )
        .await
        .unwrap_or(0);
    r.insert("jobs_total".into(), json!(total));
    if let Err(e) = shared.store.update(&INSTANCES, id, &r).await {
        tracing::warn!(error = %e, "cannot record the instance's consumed capacity");
    }
}

/// AWX-like reason a pending job waits: which instance, what it needs, what is free.
pub fn wait_explanation(
    hostname: &str,
    need: i64,
    consumed: i64,
    capacity: i64,
    adjustment: f64,
) -> String {
    if capacity <= 0 {
        return format!(
            "Waiting for capacity: instance {hostname} has none (disabled, not yet checked, or its last health check found errors)."
        );
    }
    format!(
        "Waiting for capacity: this job needs {need} of instance {hostname}'s capacity; {consumed} of {capacity} is in use (capacity_adjustment {adjustment:.2})."
    )
}

/// The `health` component: periodic and requested health checks.
pub struct Health {
    shared: Shared,
}

impl Health {
    pub fn new(shared: Shared) -> Self {
        Health { shared }
    }

    async fn requested(&self) -> anyhow::Result<Vec<String>> {
        let rows = self
            .shared
            .store
            .list_all(&INSTANCES, &Filter::All(vec![]), &[("id", false)])
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        Ok(rows
            .iter()
            .filter(|r| {
                let started = text(r, "health_check_started");
                !started.is_empty() && started > text(r, "last_health_check")
            })
            .map(|r| text(r, "hostname").to_string())
            .collect())
    }
}

#[async_trait::async_trait]
impl Component for Health {
    fn name(&self) -> &'static str {
        "health"
    }

    async fn run(&self, mut shutdown: Shutdown) -> anyhow::Result<()> {
        register(&self.shared).await?;
        let mut last_round = Instant::now();
        loop {
            tokio::select! {
                _ = shutdown.wait() => return Ok(()),
                _ = tokio::time::sleep(POLL) => {}
            }
            let mut due = self.requested().await?;
            if last_round.elapsed() >= PERIOD {
                last_round = Instant::now();
                due.push(self.shared.node_name.clone());
                if remote(&self.shared) {
                    due.push(self.shared.node.node_id().to_string());
                }
                due.dedup();
            }
            for hostname in due {
                if hostname == self.shared.node_name || hostname == self.shared.node.node_id() {
                    check(&self.shared, &hostname).await?;
                }
            }
        }
    }
}

/// Records why a pending job waits, once (a pass that finds the same reason writes nothing).
pub async fn explain_wait(
    shared: &Shared,
    kind: &rawx_model::resources::JobKind,
    job: &Row,
    why: String,
) {
    if text(job, "job_explanation") == why {
        return;
    }
    let id = job.get("id").and_then(Value::as_i64).unwrap_or_default();
    let mut r = Row::new();
    r.insert("job_explanation".into(), json!(why));
    let pending = Filter::eq(
        "status",
        ColumnType::Text,
        json!(JobStatus::Pending.as_str()),
    );
    if let Err(e) = shared
        .store
        .update_if(kind.resource, id, &pending, &r)
        .await
    {
        tracing::warn!(job = id, error = %e, "cannot record why the job waits");
    }
}
