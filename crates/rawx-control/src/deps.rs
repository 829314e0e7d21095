//! What a job or an inventory update waits for before it starts (AWX's `DependencyManager`
//! and the task manager's `process_job_dep_failures`):
//! - a job whose project has `scm_update_on_launch` is given the update it waits for once —
//!   the newest update when it is still active or finished within `scm_update_cache_timeout`,
//!   else a new one (`launch_type: dependency`) — and runs the revision it checked out;
//! - a job whose inventory has sources with `update_on_launch` is given, once, an inventory
//!   update of each: the newest when active or within the source's `update_cache_timeout`,
//!   else a new one;
//! - an update of an SCM inventory source waits for its project's update: the project's
//!   update-on-launch rule when it has one, else an update (`launch_type: sync`, as AWX's
//!   `spawn_project_sync`) only when the project has no checkout yet.
//!
//! Each starts when every dependency succeeded, or fails naming the first that did not.

use crate::Shared;
use rawx_domain::projects::{self, UpdateRequest};
use rawx_domain::{inventory_updates, JobStatus};
use rawx_model::filter::Filter;
use rawx_model::resources::{
    JobKind, INVENTORIES, INVENTORY_SOURCES, INVENTORY_UPDATES, INVENTORY_UPDATE_KIND, JOBS,
    JOB_KIND, PROJECTS, PROJECT_UPDATES,
};
use rawx_model::schema::{int, text, ColumnType};
use rawx_model::Row;
use serde_json::{json, Value};

/// The `Store::exclusive` key under which task managers give jobs their dependencies, so two
/// of them never make two updates for one job.
const DEPENDENCY_LOCK: i64 = 727_380;

/// Whether `job` may start as far as its dependencies go; `false` while it waits. A job whose
/// dependency failed is ended here, `failed`, with AWX's explanation.
pub(crate) async fn ready(shared: &Shared, kind: &JobKind, job: &Row) -> anyhow::Result<bool> {
    if std::ptr::eq(kind, &INVENTORY_UPDATE_KIND) {
        return source_project_ready(shared, kind, job).await;
    }
    if !std::ptr::eq(kind, &JOB_KIND) {
        return Ok(true);
    }
    // Both kinds of dependency are made before either is waited for, so they run together.
    let inventory = match inventory_ready(shared, kind, job).await? {
        Wait::Failed => return Ok(false),
        w => w == Wait::Ready,
    };
    Ok(project_ready(shared, kind, job).await? && inventory)
}

#[derive(PartialEq)]
enum Wait {
    Ready,
    Pending,
    /// A dependency did not succeed: the waiting job was ended.
    Failed,
}

/// The inventory updates a job waits for, made on its first pass.
async fn inventory_ready(shared: &Shared, kind: &JobKind, job: &Row) -> anyhow::Result<Wait> {
    let (Some(id), Some(inv)) = (int(job, "id"), int(job, "inventory")) else {
        return Ok(Wait::Ready);
    };
    let store = &shared.store;
    let deps: Vec<i64> = match job.get("inventory_dependencies") {
        Some(Value::String(s)) if !s.is_empty() => serde_json::from_str(s).unwrap_or_default(),
        _ => {
            let _lock = store.exclusive(DEPENDENCY_LOCK).await.map_err(ae)?;
            let fresh = store.get(&JOBS, id).await.map_err(ae)?;
            let known = text(&fresh, "inventory_dependencies");
            if !known.is_empty() {
                // Another task manager gave them meanwhile: judge by those. (Answering
                // "pending" instead let this pass start a later job first, out of launch
                // order, while this one had nothing to wait for.)
                serde_json::from_str(known).unwrap_or_default()
            } else {
                new_inventory_dependencies(shared, kind, id, inv).await?
            }
        }
    };
    for dep in deps {
        let update = store.get(&INVENTORY_UPDATES, dep).await.map_err(ae)?;
        match JobStatus::of(&update) {
            Some(JobStatus::Successful) => {}
            Some(s) if s.is_final() => {
                fail(shared, kind, id, "inventory_update", &update, dep).await;
                return Ok(Wait::Failed);
            }
            _ => return Ok(Wait::Pending),
        }
    }
    Ok(Wait::Ready)
}

/// Makes (or reuses) the inventory updates job `id` waits for and records them; called under
/// `DEPENDENCY_LOCK`.
async fn new_inventory_dependencies(
    shared: &Shared,
    kind: &JobKind,
    id: i64,
    inv: i64,
) -> anyhow::Result<Vec<i64>> {
    let store = &shared.store;
    let on_launch = Filter::eq("inventory", ColumnType::Int, json!(inv)).and(Filter::eq(
        "update_on_launch",
        ColumnType::Bool,
        json!(true),
    ));
    let sources = store
        .list_all(&INVENTORY_SOURCES, &on_launch, &[("id", false)])
        .await
        .map_err(ae)?;
    let mut deps = Vec::new();
    if !sources.is_empty() {
        let inventory_name = store
            .get(&INVENTORIES, inv)
            .await
            .map(|r| text(&r, "name").to_string())
            .unwrap_or_default();
        let now = time::OffsetDateTime::now_utc();
        for source in &sources {
            let sid = int(source, "id").unwrap_or_default();
            let latest = newest(shared, &INVENTORY_UPDATES, "inventory_source", sid).await?;
            let timeout = int(source, "update_cache_timeout").unwrap_or(0);
            let dep = match latest {
                Some(u) if !projects::should_update_again(Some(&u), timeout, now) => {
                    int(&u, "id").unwrap_or_default()
                }
                _ => inventory_updates::create_update(
                    &**store,
                    &*shared.bus,
                    source,
                    None,
                    "dependency",
                    &inventory_name,
                )
                .await
                .map_err(ae)?,
            };
            deps.push(dep);
        }
        tracing::info!(job = id, inventory_updates = ?deps, "job depends on inventory updates");
    }
    set(
        shared,
        kind,
        id,
        "inventory_dependencies",
        json!(json!(deps).to_string()),
    )
    .await?;
    Ok(deps)
}

/// An SCM inventory update's project update (AWX's `gen_dep_for_inventory_update` and, for a
/// project that does not update on launch, `sync_and_copy`'s sync when nothing is checked out).
async fn source_project_ready(
    shared: &Shared,
    kind: &JobKind,
    update: &Row,
) -> anyhow::Result<bool> {
    if text(update, "source") != "scm" {
        return Ok(true);
    }
    let store = &shared.store;
    let Some(id) = int(update, "id") else {
        return Ok(true);
    };
    let dep = match int(update, "source_project_update") {
        Some(d) => d,
        None => {
            // A missing project or source is the build's to explain.
            let Some(source) = int(update, "inventory_source") else {
                return Ok(true);
            };
            let Ok(source) = store.get(&INVENTORY_SOURCES, source).await else {
                return Ok(true);
            };
            let Some(pid) = int(&source, "source_project") else {
                return Ok(true);
            };
            let Ok(project) = store.get(&PROJECTS, pid).await else {
                return Ok(true);
            };
            if text(&project, "scm_type").is_empty() {
                return Ok(true);
            }
            let _lock = store.exclusive(DEPENDENCY_LOCK).await.map_err(ae)?;
            let fresh = store.get(&INVENTORY_UPDATES, id).await.map_err(ae)?;
            if int(&fresh, "source_project_update").is_some() {
                return Ok(false);
            }
            let latest = newest(shared, &PROJECT_UPDATES, "project", pid).await?;
            let launch_type = if project.get("scm_update_on_launch") == Some(&json!(true)) {
                let timeout = int(&project, "scm_update_cache_timeout").unwrap_or(0);
                let now = time::OffsetDateTime::now_utc();
                projects::should_update_again(latest.as_ref(), timeout, now).then_some("dependency")
            } else {
                let checkout = shared.projects_dir.join(text(&project, "local_path"));
                let checked_out = !text(&project, "scm_revision").is_empty() && checkout.is_dir();
                let active = latest
                    .as_ref()
                    .and_then(JobStatus::of)
                    .is_some_and(JobStatus::is_active);
                if checked_out && !active {
                    return Ok(true);
                }
                (!active).then_some("sync")
            };
            let dep = match (launch_type, latest) {
                (None, Some(u)) => int(&u, "id").unwrap_or_default(),
                (launch_type, _) => projects::start_update(
                    &**store,
                    &*shared.bus,
                    &project,
                    UpdateRequest {
                        launch_type: launch_type.unwrap_or("dependency"),
                        user: None,
                        dependent_job: None,
                    },
                )
                .await
                .map_err(ae)?,
            };
            set(shared, kind, id, "source_project_update", json!(dep)).await?;
            tracing::info!(
                inventory_update = id,
                project_update = dep,
                "inventory update depends on a project update"
            );
            dep
        }
    };
    let pu = store.get(&PROJECT_UPDATES, dep).await.map_err(ae)?;
    match JobStatus::of(&pu) {
        Some(JobStatus::Successful) => {
            let rev = text(&pu, "scm_revision");
            if text(update, "scm_revision") != rev {
                set(shared, kind, id, "scm_revision", json!(rev)).await?;
            }
            Ok(true)
        }
        Some(s) if s.is_final() => {
            fail(shared, kind, id, "project_update", &pu, dep).await;
            Ok(false)
        }
        _ => Ok(false),
    }
}

/// The newest row of `res` whose `column` is `id`.
async fn newest(
    shared: &Shared,
    res: &'static rawx_model::Resource,
    column: &'static str,
    id: i64,
) -> anyhow::Result<Option<Row>> {
    let q = rawx_model::filter::ListQuery {
        filter: Filter::eq(column, ColumnType::Int, json!(id)),
        order: vec![("id", true)],
        page: 1,
        page_size: 1,
    };
    Ok(shared
        .store
        .list(res, &q)
        .await
        .map_err(ae)?
        .rows
        .into_iter()
        .next())
}

/// Ends `id` as AWX's `process_job_dep_failures` does, naming the dependency.
async fn fail(shared: &Shared, kind: &JobKind, id: i64, dep_type: &str, dep: &Row, dep_id: i64) {
    let why = format!(
        "Previous Task Failed: {{\"job_type\": \"{dep_type}\", \"job_name\": {}, \"job_id\": \"{dep_id}\"}}",
        json!(text(dep, "name"))
    );
    tracing::warn!(
        job = id,
        dependency = dep_id,
        dep_type,
        "a dependency did not succeed"
    );
    crate::job_state::end(shared, kind, id, JobStatus::Failed, &why, "").await;
}

fn ae(e: impl std::fmt::Display) -> anyhow::Error {
    anyhow::anyhow!("{e}")
}

/// Whether `job` may start as far as its project goes; `false` while it waits for an update.
/// A job whose update failed is ended here, `failed`, with AWX's explanation.
async fn project_ready(shared: &Shared, kind: &JobKind, job: &Row) -> anyhow::Result<bool> {
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
    // A branch the launch chose (`allow_override`): its commit as this node's checkout knows it
    // (every branch and tag of the remote as of its last update). A branch it does not know (made
    // since, or no checkout on this node) is left to the node that runs the job, whose own sync
    // fetches it (`node_sync.rs`, AWX's `sync_and_copy` with the branch) or fails the job.
    let branch = text(job, "scm_branch");
    let revision = if !branch.is_empty() && branch != text(&project, "scm_branch") {
        let dir = shared.projects_dir.join(text(&project, "local_path"));
        crate::scm::resolve(&dir, branch).await.unwrap_or_default()
    } else {
        revision
    };
    if text(job, "scm_revision") != revision {
        set(shared, kind, id, "scm_revision", json!(revision)).await?;
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
            set(shared, kind, id, "project_update", json!(dep)).await?;
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
            fail(shared, kind, id, "project_update", &update, dep).await;
            Ok(None)
        }
        _ => Ok(None),
    }
}

async fn set(
    shared: &Shared,
    kind: &JobKind,
    job: i64,
    field: &str,
    v: Value,
) -> anyhow::Result<()> {
    let mut r = Row::new();
    r.insert(field.into(), v);
    shared
        .store
        .update(kind.resource, job, &r)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))
}
