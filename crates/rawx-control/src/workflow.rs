//! The workflow engine (AWX's `WorkflowManager`): on each pass it starts pending workflow
//! jobs, and for each running one marks the nodes that will not run, spawns the jobs of the
//! nodes whose parents allow it, ends the workflow (successful, or failed when a node failed
//! with no failure or always path) and carries a cancel to the jobs it spawned.
//!
//! Everything it decides from is in the store (the nodes' `job` and `do_not_run`, the jobs'
//! statuses), so a restart of the task role resumes every workflow where it was. Passes of
//! several task nodes are serialized by a database-wide lock, so a node's job is made once.

use crate::{status_in, Shared};
use rawx_bus::Received;
use rawx_domain::approvals;
use rawx_domain::launch;
use rawx_domain::messages::{publish, StatusChanged};
use rawx_domain::workflows::{self, NO_ERROR_PATH};
use rawx_domain::JobStatus;
use rawx_model::resources::{
    job_kind, TYPE_COLUMN, UNIFIED_JOBS, WORKFLOW_APPROVAL_KIND, WORKFLOW_JOBS, WORKFLOW_JOB_KIND,
    WORKFLOW_JOB_NODES, WORKFLOW_JOB_TEMPLATES,
};
use rawx_model::schema::{int, text};
use rawx_model::Row;
use rawx_supervisor::{Component, Shutdown};
use serde_json::{json, Value};
use std::time::Duration;

/// The `Store::exclusive` key of a workflow pass.
const WORKFLOW_LOCK: i64 = 727_380;
const TICK: Duration = Duration::from_secs(1);

pub(crate) struct WorkflowManager {
    pub shared: Shared,
}

#[async_trait::async_trait]
impl Component for WorkflowManager {
    fn name(&self) -> &'static str {
        "workflow-manager"
    }

    async fn run(&self, mut shutdown: Shutdown) -> anyhow::Result<()> {
        // Any job's status change may let a node run; a launch wakes the task managers.
        let mut sub = self
            .shared
            .bus
            .subscribe(&[rawx_bus::SCHEDULE, rawx_bus::JOB_STATUS]);
        let mut tick = tokio::time::interval(TICK);
        loop {
            tokio::select! {
                _ = shutdown.wait() => return Ok(()),
                _ = tick.tick() => {}
                msg = sub.recv() => if let Received::Closed = msg { return Ok(()) },
            }
            // Let a burst of messages settle into one pass (what arrives meanwhile wakes
            // one more pass at most).
            tokio::time::sleep(Duration::from_millis(20)).await;
            if let Err(e) = self.pass().await {
                tracing::warn!(error = %e, "workflow pass failed");
            }
        }
    }
}

fn err(e: impl std::fmt::Display) -> anyhow::Error {
    anyhow::anyhow!("{e}")
}

impl WorkflowManager {
    async fn pass(&self) -> anyhow::Result<()> {
        let store = &*self.shared.store;
        let active = status_in([JobStatus::Pending, JobStatus::Running]);
        let jobs = store
            .list_all(&WORKFLOW_JOBS, &active, &[("id", false)])
            .await
            .map_err(err)?;
        if jobs.is_empty() {
            return Ok(());
        }
        let _lock = store.exclusive(WORKFLOW_LOCK).await.map_err(err)?;
        // Approvals wait in running workflows only; their timeouts are checked here each
        // pass (AWX's task manager does it each run), and the failure reaches their nodes
        // in this same pass.
        approvals::expire_due(store, &*self.shared.bus)
            .await
            .map_err(err)?;
        let mut running_templates: Vec<Value> = jobs
            .iter()
            .filter(|j| JobStatus::of(j) == Some(JobStatus::Running))
            .map(|j| j["workflow_job_template"].clone())
            .collect();
        for wj in jobs {
            let id = int(&wj, "id").unwrap_or_default();
            // Read again under the lock: another node's pass may have moved it.
            let Ok(wj) = store.get(&WORKFLOW_JOBS, id).await else {
                continue;
            };
            match JobStatus::of(&wj) {
                Some(JobStatus::Pending) => {
                    let wfjt = wj["workflow_job_template"].clone();
                    let one_at_a_time = wj.get("allow_simultaneous") != Some(&json!(true));
                    if one_at_a_time && !wfjt.is_null() && running_templates.contains(&wfjt) {
                        continue;
                    }
                    if self.start(&wj).await? {
                        running_templates.push(wfjt);
                        let wj = store.get(&WORKFLOW_JOBS, id).await.map_err(err)?;
                        self.advance(&wj).await?;
                    }
                }
                Some(JobStatus::Running) => self.advance(&wj).await?,
                _ => {}
            }
        }
        Ok(())
    }

    /// AWX's task manager starts a workflow job by moving it to `running` (no capacity).
    async fn start(&self, wj: &Row) -> anyhow::Result<bool> {
        let id = int(wj, "id").unwrap_or_default();
        let mut row = Row::new();
        row.insert("status".into(), json!(JobStatus::Running.as_str()));
        row.insert("started".into(), json!(rawx_model::now_string()));
        row.insert("controller_node".into(), json!(self.shared.node_name));
        let moved = self
            .shared
            .store
            .update_if(&WORKFLOW_JOBS, id, &status_in([JobStatus::Pending]), &row)
            .await
            .map_err(err)?;
        if moved {
            self.template_status(wj, JobStatus::Running).await;
            publish(
                &*self.shared.bus,
                &StatusChanged::new(&WORKFLOW_JOB_KIND, id, JobStatus::Running)
                    .template(wj["workflow_job_template"].clone()),
            );
            crate::notify::job_status(&self.shared, &WORKFLOW_JOB_KIND, id, JobStatus::Running)
                .await;
        }
        Ok(moved)
    }

    async fn advance(&self, wj: &Row) -> anyhow::Result<()> {
        let store = &*self.shared.store;
        let id = int(wj, "id").unwrap_or_default();
        let (mut dag, rows) = workflows::job_dag(store, id).await.map_err(err)?;
        let canceled = wj.get("canceled_on").is_some_and(|v| !v.is_null());
        if canceled {
            // `cancel_flag`: nodes not yet run never will; spawned jobs are cancelled; the
            // workflow ends once they have.
            let mut all_done = true;
            for n in &dag.nodes {
                if n.job.is_none() && !n.do_not_run {
                    self.mark_dnr(n.id).await?;
                }
                if let Some(job) = n.job {
                    if n.status.is_some_and(JobStatus::can_cancel) {
                        all_done = false;
                        self.cancel_job(job).await?;
                    }
                }
            }
            if all_done {
                self.finish(wj, JobStatus::Canceled, "").await?;
            }
            return Ok(());
        }
        for n in dag.mark_do_not_run() {
            self.mark_dnr(n).await?;
        }
        if dag.is_done() {
            let failed = dag.has_failed();
            let (status, why) = if failed {
                (JobStatus::Failed, NO_ERROR_PATH)
            } else {
                (JobStatus::Successful, "")
            };
            return self.finish(wj, status, why).await;
        }
        for node_id in dag.nodes_to_run() {
            let Some(node) = rows.get(&node_id) else {
                continue;
            };
            let job =
                workflows::spawn_node_job(store, &*self.shared.bus, &self.shared.key, wj, node)
                    .await
                    .map_err(err)?;
            let mut row = Row::new();
            match job {
                Some(job) => row.insert("job".into(), json!(job)),
                // Its template is gone: the node is treated as one without a template.
                None => row.insert("unified_job_template".into(), Value::Null),
            };
            store
                .update(&WORKFLOW_JOB_NODES, node_id, &row)
                .await
                .map_err(err)?;
            tracing::info!(workflow_job = id, node = node_id, job = ?job, "workflow node spawned");
        }
        Ok(())
    }

    async fn mark_dnr(&self, node: i64) -> anyhow::Result<()> {
        let mut row = Row::new();
        row.insert("do_not_run".into(), json!(true));
        self.shared
            .store
            .update(&WORKFLOW_JOB_NODES, node, &row)
            .await
            .map_err(err)
    }

    /// Cancels a spawned job of any kind (a nested workflow job too) as its cancel endpoint
    /// would.
    async fn cancel_job(&self, job: i64) -> anyhow::Result<()> {
        let store = &*self.shared.store;
        let Ok(parent) = store.get(&UNIFIED_JOBS, job).await else {
            return Ok(());
        };
        if parent.get("canceled_on").is_some_and(|v| !v.is_null()) {
            return Ok(());
        }
        let Some(kind) = job_kind(text(&parent, TYPE_COLUMN)) else {
            return Ok(());
        };
        let row = store.get(kind.resource, job).await.map_err(err)?;
        if std::ptr::eq(kind, &WORKFLOW_APPROVAL_KIND) {
            // Nothing runs an approval: it ends canceled at once.
            approvals::cancel(store, &*self.shared.bus, &row)
                .await
                .map_err(err)?;
            return Ok(());
        }
        launch::request_cancel(store, &*self.shared.bus, kind, &row)
            .await
            .map_err(err)?;
        Ok(())
    }

    async fn finish(&self, wj: &Row, status: JobStatus, why: &str) -> anyhow::Result<()> {
        let id = int(wj, "id").unwrap_or_default();
        let now = rawx_model::now_string();
        let mut row = Row::new();
        row.insert("status".into(), json!(status.as_str()));
        row.insert("failed".into(), json!(status != JobStatus::Successful));
        row.insert("finished".into(), json!(now));
        row.insert("elapsed".into(), json!(elapsed(wj, &now)));
        row.insert("start_args".into(), json!(""));
        if !why.is_empty() {
            row.insert("job_explanation".into(), json!(why));
        }
        let done = self
            .shared
            .store
            .update_if(&WORKFLOW_JOBS, id, &status_in([JobStatus::Running]), &row)
            .await
            .map_err(err)?;
        if !done {
            return Ok(());
        }
        self.template_status(wj, status).await;
        let mut msg = StatusChanged::new(&WORKFLOW_JOB_KIND, id, status)
            .template(wj["workflow_job_template"].clone());
        msg.finished = Some(json!(now));
        publish(&*self.shared.bus, &msg);
        crate::notify::job_status(&self.shared, &WORKFLOW_JOB_KIND, id, status).await;
        tracing::info!(
            workflow_job = id,
            status = status.as_str(),
            "workflow job finished"
        );
        Ok(())
    }

    /// The template's `status`, `last_job_run`, `last_job_failed` follow its newest job.
    async fn template_status(&self, wj: &Row, status: JobStatus) {
        let Some(t) = int(wj, "workflow_job_template") else {
            return;
        };
        let mut row = Row::new();
        row.insert("status".into(), json!(status.as_str()));
        if status.is_final() {
            row.insert(
                "last_job_failed".into(),
                json!(status != JobStatus::Successful),
            );
            row.insert("last_job_run".into(), json!(rawx_model::now_string()));
        }
        let _ = self
            .shared
            .store
            .update(&WORKFLOW_JOB_TEMPLATES, t, &row)
            .await;
    }
}

fn elapsed(wj: &Row, now: &str) -> f64 {
    rawx_model::elapsed_secs(rawx_model::schema::text(wj, "started"), now)
}
