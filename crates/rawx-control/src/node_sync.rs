//! A job's (or an SCM inventory update's) project on the task node that runs it (AWX's
//! `SourceControlMixin.sync_and_copy`, `launch_type: sync`). Each task node has its own projects
//! directory: an update checks out on the node that ran it, and a job may be claimed by another.
//! Before a job of a project from source control is built, the node that runs it makes sure its
//! own checkout has the job's revision (an SCM inventory update: has it checked out, since it
//! reads the files); when it has not (no checkout yet, an older one, another branch's), the
//! node runs a `sync` update of its own at once — a `job_type: run` update pinned to that
//! revision, listed with the project's updates, the project itself left as it was — then
//! builds from it. A failed sync fails the job with AWX's `Previous Task Failed` explanation.
//!
//! Unlike AWX, whose sync checks out the project's revision of the moment, the sync fetches
//! the job's own revision (`scm_revision`, which the task manager set from the update the job
//! waited for), so a job runs what its update recorded on any node. A branch chosen at launch
//! that the task manager could not resolve is fetched by the sync itself.

use crate::Shared;
use rawx_domain::JobStatus;
use rawx_model::resources::{
    JobKind, INVENTORY_SOURCES, INVENTORY_UPDATE_KIND, JOB_KIND, PROJECTS, PROJECT_UPDATES,
};
use rawx_model::schema::{int, text};
use rawx_model::Row;
use serde_json::json;
use std::path::Path;
use std::process::Stdio;

/// Makes this node's checkout of `job`'s project hold the job's revision, syncing when it does
/// not; whether it synced (the job's row may have changed). `Err` is the explanation the job
/// fails with.
pub(crate) async fn ensure(shared: &Shared, kind: &JobKind, job: &Row) -> Result<bool, String> {
    // A job runs `git archive` of its revision (any commit the checkout has will do); an SCM
    // inventory update reads the checkout's files, so its HEAD must be the revision.
    let (pid, head) = if std::ptr::eq(kind, &JOB_KIND) {
        (int(job, "project"), false)
    } else if std::ptr::eq(kind, &INVENTORY_UPDATE_KIND) {
        let source = match int(job, "inventory_source") {
            Some(s) => shared.store.get(&INVENTORY_SOURCES, s).await.ok(),
            None => None,
        };
        match source {
            Some(s) if text(&s, "source") == "scm" => (int(&s, "source_project"), true),
            _ => return Ok(false),
        }
    } else {
        return Ok(false);
    };
    let Some(pid) = pid else {
        return Ok(false);
    };
    let Ok(project) = shared.store.get(&PROJECTS, pid).await else {
        return Ok(false);
    };
    let scm_type = text(&project, "scm_type");
    if scm_type.is_empty() || text(&project, "local_path").is_empty() {
        return Ok(false);
    }
    // A branch the launch chose whose commit the task manager could not resolve: the sync
    // fetches and checks out that branch (AWX's sync with `scm_branch`, `scm_clean`).
    let branch = if head { "" } else { text(job, "scm_branch") };
    let override_branch = (!branch.is_empty() && branch != text(&project, "scm_branch"))
        .then_some(branch)
        .filter(|_| text(job, "scm_revision").is_empty());
    let revision = if override_branch.is_some() {
        String::new()
    } else {
        [text(job, "scm_revision"), text(&project, "scm_revision")]
            .into_iter()
            .find(|r| !r.is_empty())
            .unwrap_or_default()
            .to_string()
    };
    let dir = shared.projects_dir.join(text(&project, "local_path"));
    let _sync = crate::checkouts::sync(&dir).await;
    if has_revision(scm_type, &dir, &revision, head).await {
        return Ok(false);
    }
    let id = rawx_domain::projects::sync_update(
        &*shared.store,
        &project,
        shared.node.node_id(),
        &shared.node_name,
        &revision,
        override_branch,
    )
    .await
    .map_err(|e| format!("The project could not be synced to this node: {e}"))?;
    let job_id = int(job, "id").unwrap_or_default();
    tracing::info!(
        job = job_id,
        project_update = id,
        revision,
        "syncing the job's project to this node"
    );
    crate::scm::run(shared.clone(), id).await;
    let update = shared
        .store
        .get(&PROJECT_UPDATES, id)
        .await
        .map_err(|e| format!("The project sync {id} vanished: {e}"))?;
    if JobStatus::of(&update) == Some(JobStatus::Successful) {
        // The job runs what the sync checked out (its branch, or the project's when it had no
        // revision yet).
        if text(job, "scm_revision").is_empty() {
            let mut r = Row::new();
            r.insert("scm_revision".into(), json!(text(&update, "scm_revision")));
            let _ = shared.store.update(kind.resource, job_id, &r).await;
        }
        return Ok(true);
    }
    Err(format!(
        "Previous Task Failed: {{\"job_type\": \"project_update\", \"job_name\": {}, \"job_id\": \"{id}\"}}",
        json!(text(&update, "name"))
    ))
}

/// Whether this node's checkout `dir` has `revision`: the commit for git (checked out, with
/// `head`), the archive of that checksum for `archive`.
async fn has_revision(scm_type: &str, dir: &Path, revision: &str, head: bool) -> bool {
    if revision.is_empty() {
        return false;
    }
    match scm_type {
        "git" if head => {
            dir.join(".git").exists()
                && tokio::process::Command::new("git")
                    .arg("-C")
                    .arg(dir)
                    .args(["rev-parse", "--verify", "--quiet", "HEAD"])
                    .stdin(Stdio::null())
                    .stderr(Stdio::null())
                    .output()
                    .await
                    .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == revision)
        }
        "git" => {
            dir.join(".git").exists()
                && tokio::process::Command::new("git")
                    .arg("-C")
                    .arg(dir)
                    .args(["cat-file", "-e", &format!("{revision}^{{commit}}")])
                    .stdin(Stdio::null())
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .status()
                    .await
                    .is_ok_and(|s| s.success())
        }
        "archive" => std::fs::read_dir(dir.join(".archive"))
            .into_iter()
            .flatten()
            .flatten()
            .any(|e| std::fs::read(e.path()).is_ok_and(|b| crate::scm::sha1_hex(&b) == revision)),
        // Other kinds (svn) are synced only when there is no checkout at all.
        _ => dir.is_dir(),
    }
}
