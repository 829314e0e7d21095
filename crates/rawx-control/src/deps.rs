//! A job's dependency on its project's update (AWX's `DependencyManager` and the task
//! manager's `process_job_dep_failures`): a job whose project has `scm_update_on_launch` is
//! given the update it waits for once — the newest update when it is still active or
//! finished within `scm_update_cache_timeout`, else a new one (`launch_type: dependency`) —
//! then starts when that update succeeded, running the revision it checked out, or fails
//! naming it.

use crate::Shared;
use rawx_domain::projects::{self, UpdateRequest};
use rawx_domain::JobStatus;
use rawx_model::resources::{JobKind, JOBS, JOB_KIND, PROJECTS, PROJECT_UPDATES};
use rawx_model::schema::{int, text};
use rawx_model::Row;
use serde_json::{json, Value};

/// The `Store::exclusive` key under which task managers give jobs their dependencies, so two
/// of them never make two updates for one job.
const DEPENDENCY_LOCK: i64 = 727_380;

/// Whether `job` may start as far as its project goes; `false` while it waits for an update.
/// A job whose update failed is ended here, `failed`, with AWX's explanation.
pub(crate) async fn ready(shared: &Shared, kind: &JobKind, job: &Row) -> anyhow::Result<bool> {
    if !std::ptr::eq(kind, &JOB_KIND) {
        return Ok(true);
    }
    let (Some(id), Some(pid)) = (int(job, "id"), int(job, "project")) else {
        return Ok(true);
    };
    let store = &shared.store;
    let Ok(project) = store.get(&PROJECTS, pid).await else {
        return Ok(true);
    };
    if text(&project, "scm_type").is_empty() {
        return Ok(true);
    }
    let revision = if project.get("scm_update_on_launch") == Some(&json!(true)) {
        match dependency(shared, kind, id, job, &project).await? {
            Some(rev) => rev,
            None => return Ok(false),
        }
    } else {
        text(&project, "scm_revision").to_string()
    };
    // A branch the launch chose (`allow_override`): its commit as the project's last update
    // fetched it (every branch and tag of the remote).
    let branch = text(job, "scm_branch");
    let revision = if !branch.is_empty() && branch != text(&project, "scm_branch") {
        let dir = shared.projects_dir.join(text(&project, "local_path"));
        match crate::scm::resolve(&dir, branch).await {
            Some(r) => r,
            None => {
                let why = format!(
                    "The branch {branch:?} is not in the project's repository (as of its last update)."
                );
                crate::run::end(shared, kind, id, JobStatus::Failed, &why, "").await;
                return Ok(false);
            }
        }
    } else {
        revision
    };
    if text(job, "scm_revision") != revision {
        set(shared, id, "scm_revision", json!(revision)).await?;
    }
    Ok(true)
}

/// The revision of the update a job waits for, once it succeeded; `None` while it runs (or
/// when it failed, and the job with it).
async fn dependency(
    shared: &Shared,
    kind: &JobKind,
    id: i64,
    job: &Row,
    project: &Row,
) -> anyhow::Result<Option<String>> {
    let store = &shared.store;
    let pid = int(project, "id").unwrap_or_default();
    let dep = match int(job, "project_update") {
        Some(d) => d,
        None => {
            let _lock = store
                .exclusive(DEPENDENCY_LOCK)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            let fresh = store
                .get(&JOBS, id)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            if int(&fresh, "project_update").is_some() {
                return Ok(None);
            }
            let updates = projects::updates_of(&**store, pid)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            let timeout = int(project, "scm_update_cache_timeout").unwrap_or(0);
            let now = time::OffsetDateTime::now_utc();
            let dep = match updates.newest {
                Some(u) if !projects::should_update_again(Some(&u), timeout, now) => {
                    int(&u, "id").unwrap_or_default()
                }
                _ => projects::start_update(
                    &**store,
                    &*shared.bus,
                    project,
                    UpdateRequest {
                        launch_type: "dependency",
                        user: None,
                        dependent_job: Some(id),
                    },
                )
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?,
            };
            set(shared, id, "project_update", json!(dep)).await?;
            tracing::info!(
                job = id,
                project_update = dep,
                "job depends on a project update"
            );
            dep
        }
    };
    let update = store
        .get(&PROJECT_UPDATES, dep)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    match JobStatus::of(&update) {
        Some(JobStatus::Successful) => Ok(Some(text(&update, "scm_revision").to_string())),
        Some(s) if s.is_final() => {
            // AWX's words (`process_job_dep_failures`).
            let why = format!(
                "Previous Task Failed: {{\"job_type\": \"project_update\", \"job_name\": {}, \"job_id\": \"{dep}\"}}",
                json!(text(&update, "name"))
            );
            tracing::warn!(
                job = id,
                project_update = dep,
                "the job's project update did not succeed"
            );
            crate::run::end(shared, kind, id, JobStatus::Failed, &why, "").await;
            Ok(None)
        }
        _ => Ok(None),
    }
}

async fn set(shared: &Shared, job: i64, field: &str, v: Value) -> anyhow::Result<()> {
    let mut r = Row::new();
    r.insert(field.into(), v);
    shared
        .store
        .update(&JOBS, job, &r)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))
}
