//! Writing a job's state: the one place a status is set (a final one only while the job is
//! still active, so a job ends once whoever gets there first), published on the bus, handed
//! to the notifier, and carried to the job's template. Used by every runner of a unified job
//! (`run.rs`, the in-process project update in `scm.rs`), the dispatcher, the dependency
//! manager and the reapers.

use crate::Shared;
use anyhow::anyhow;
use rawx_domain::messages::{publish, StatusChanged};
use rawx_domain::JobStatus;
use rawx_model::resources::{JobKind, JOB_KIND, JOB_TEMPLATES};
use rawx_model::Row;
use serde_json::{json, Value};

/// Writes `fields` to the job and publishes a status change. A final status is written only
/// while the job is still active: a job ends once, whoever (its task node, a cancel before it
/// started, the reaper on another node) gets there first.
pub async fn set(shared: &Shared, kind: &JobKind, job: i64, fields: Value) -> anyhow::Result<()> {
    let row: Row = fields.as_object().cloned().unwrap_or_default();
    let ending = JobStatus::of(&row).is_some_and(JobStatus::is_final);
    if ending {
        let active = crate::status_in(JobStatus::ALL.into_iter().filter(|s| !s.is_final()));
        let ended = shared
            .store
            .update_if(kind.resource, job, &active, &row)
            .await
            .map_err(|e| anyhow!("updating {} {job}: {e}", kind.resource.type_name))?;
        if !ended {
            tracing::info!(
                job,
                kind = kind.resource.type_name,
                "the job had already ended; its final state stays"
            );
            return Ok(());
        }
    } else {
        shared
            .store
            .update(kind.resource, job, &row)
            .await
            .map_err(|e| anyhow!("updating {} {job}: {e}", kind.resource.type_name))?;
    }
    if let Some(status) = row
        .get("status")
        .and_then(Value::as_str)
        .and_then(JobStatus::parse)
    {
        let jt = shared
            .store
            .get(kind.resource, job)
            .await
            .ok()
            .and_then(|j| j.get("job_template").cloned())
            .unwrap_or(Value::Null);
        let mut msg = StatusChanged::new(kind, job, status).template(jt);
        msg.finished = row.get("finished").cloned();
        publish(&*shared.bus, &msg);
        crate::notify::job_status(shared, kind, job, status).await;
    }
    Ok(())
}

/// Ends a job that did not run to its own end (it could not run, its run was lost, it was
/// canceled before it started, its task node died) in `status`, with the reason.
pub(crate) async fn end(
    shared: &Shared,
    kind: &JobKind,
    job: i64,
    status: JobStatus,
    explanation: &str,
    traceback: &str,
) {
    let r = set(
        shared,
        kind,
        job,
        json!({
            "status": status.as_str(), "failed": true, "finished": rawx_model::now_string(), "start_args": "",
            "job_explanation": explanation, "result_traceback": traceback,
            "event_processing_finished": true,
        }),
    )
    .await;
    if let Err(e) = r {
        tracing::error!(job, %status, error = %e, "cannot record the job's end");
    }
    finish_template(shared, kind, job, status, true).await;
}

/// Ends a job that could not run (or whose run was lost) in `error`, with the reason.
pub async fn fail(shared: &Shared, kind: &JobKind, job: i64, explanation: &str, traceback: &str) {
    tracing::warn!(
        job,
        kind = kind.resource.type_name,
        explanation,
        "job error"
    );
    end(shared, kind, job, JobStatus::Error, explanation, traceback).await;
}

/// Ends a job of a lost task node `failed`, as AWX's reaper does, with the reason.
pub async fn reap(shared: &Shared, kind: &JobKind, job: i64, explanation: &str) {
    end(shared, kind, job, JobStatus::Failed, explanation, "").await;
}

pub(crate) async fn finish_template(
    shared: &Shared,
    kind: &JobKind,
    job: i64,
    status: JobStatus,
    failed: bool,
) {
    if std::ptr::eq(kind, &rawx_model::resources::INVENTORY_UPDATE_KIND) {
        return crate::inventory_run::finish_source(shared, job, status, failed).await;
    }
    if !std::ptr::eq(kind, &JOB_KIND) {
        return;
    }
    let Ok(j) = shared.store.get(kind.resource, job).await else {
        return;
    };
    let Some(jt) = j.get("job_template").and_then(Value::as_i64) else {
        return;
    };
    let mut row = Row::new();
    row.insert("status".into(), json!(status.as_str()));
    row.insert("last_job_failed".into(), json!(failed));
    row.insert("last_job_run".into(), json!(rawx_model::now_string()));
    let _ = shared.store.update(&JOB_TEMPLATES, jt, &row).await;
}
