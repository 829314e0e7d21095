//! Projects from source control and their updates (AWX's `Project`/`ProjectUpdate` models):
//! the update a project's creation, an SCM change, `POST …/update/` or a launch needs, the
//! project's status as AWX computes it from its updates, and the launch-time rule of
//! `scm_update_on_launch` with `scm_update_cache_timeout`.

use crate::launch::pending;
use crate::{DomainResult, JobStatus};
use rawx_bus::Bus;
use rawx_model::filter::{Cond, Filter, ListQuery};
use rawx_model::resources::{PROJECTS, PROJECT_UPDATES, PROJECT_UPDATE_KIND};
use rawx_model::schema::{int, text, ColumnType};
use rawx_model::Row;
use rawx_store::Store;
use serde_json::{json, Value};

/// The fields whose change starts an update (AWX's `Project.FIELDS_TRIGGER_UPDATE`).
pub const FIELDS_TRIGGER_UPDATE: &[&str] = &["scm_url", "scm_branch", "scm_type", "scm_refspec"];

/// The project options an update copies (AWX's `ProjectOptions`).
const OPTIONS: &[&str] = &[
    "local_path",
    "scm_type",
    "scm_url",
    "scm_branch",
    "scm_refspec",
    "scm_clean",
    "scm_track_submodules",
    "scm_delete_on_update",
    "credential",
    "timeout",
];

/// The directory (under the projects root) of a project from source control, as AWX names it:
/// `_<id>__<name as a slug with underscores>`.
pub fn scm_local_path(id: i64, name: &str) -> String {
    let mut slug = String::new();
    let mut dash = false;
    for c in name.trim().to_lowercase().chars() {
        if c.is_alphanumeric() || c == '_' {
            slug.push(c);
            dash = false;
        } else if (c.is_whitespace() || c == '-') && !dash && !slug.is_empty() {
            slug.push('_');
            dash = true;
        }
    }
    let slug = slug.trim_end_matches('_');
    format!("_{id}__{slug}")
}

/// Whether a change of `project` from `old` needs an update (AWX's `Project.save`).
pub fn change_needs_update(old: &Row, new: &Row) -> bool {
    !text(new, "scm_type").is_empty()
        && FIELDS_TRIGGER_UPDATE
            .iter()
            .any(|f| old.get(*f).unwrap_or(&Value::Null) != new.get(*f).unwrap_or(&Value::Null))
}

/// After a project is stored (AWX's `Project.save`): a project from source control gets its
/// directory (`_<id>__<name>`), and its creation or a change of its SCM fields starts an
/// update. The update's id when one started.
pub async fn saved(
    store: &dyn Store,
    bus: &dyn Bus,
    id: i64,
    before: Option<&Row>,
    user: Option<i64>,
) -> DomainResult<Option<i64>> {
    let mut project = store.get(&PROJECTS, id).await?;
    if text(&project, "scm_type").is_empty() {
        return Ok(None);
    }
    if !text(&project, "local_path").starts_with('_') {
        let path = scm_local_path(id, text(&project, "name"));
        let mut r = Row::new();
        r.insert("local_path".into(), json!(path));
        store.update(&PROJECTS, id, &r).await?;
        project.insert("local_path".into(), json!(path));
    }
    let start = match before {
        None => true,
        Some(old) => change_needs_update(old, &project),
    };
    if !start {
        return Ok(None);
    }
    let req = UpdateRequest {
        launch_type: "manual",
        user,
        dependent_job: None,
    };
    Ok(Some(start_update(store, bus, &project, req).await?))
}

/// Removes a deleted project's checkout and its requirements cache under `projects_dir`
/// (AWX's `Project.delete` → `delete_project_files`). Only a directory rawx named
/// (`_<id>__<name>`, one path component) is removed: a manual project's directory is its
/// owner's.
pub fn delete_checkout(projects_dir: &std::path::Path, local_path: &str) {
    let mut parts = std::path::Path::new(local_path).components();
    let single = matches!(
        (parts.next(), parts.next()),
        (Some(std::path::Component::Normal(_)), None)
    );
    if !single || !local_path.starts_with('_') {
        return;
    }
    for dir in [
        projects_dir.join(local_path),
        projects_dir.join(".__awx_cache").join(local_path),
    ] {
        match std::fs::remove_dir_all(&dir) {
            Ok(()) => tracing::info!(path = %dir.display(), "deleted project's files removed"),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                tracing::warn!(path = %dir.display(), error = %e, "cannot remove a deleted project's files")
            }
        }
    }
}

/// How an update was asked for.
pub struct UpdateRequest {
    /// `manual`, `dependency`, `scheduled`, …
    pub launch_type: &'static str,
    pub user: Option<i64>,
    /// The job this update runs for (`launch_type: dependency`).
    pub dependent_job: Option<i64>,
}

/// Makes a pending update of `project` (AWX's `Project.update()` → `create_unified_job`) and
/// wakes the task managers. Its options are the project's as they are now.
pub async fn start_update(
    store: &dyn Store,
    bus: &dyn Bus,
    project: &Row,
    req: UpdateRequest,
) -> DomainResult<i64> {
    let pid = int(project, "id").unwrap_or_default();
    let mut row = update_row(store, project, req.launch_type).await;
    for (k, v) in [
        ("job_type", json!("check")),
        ("status", json!(JobStatus::Pending.as_str())),
        ("launched_by_user", json!(req.user)),
        ("dependent_job", json!(req.dependent_job)),
    ] {
        row.insert(k.into(), v);
    }
    let id = store.insert(&PROJECT_UPDATES, &row).await?;
    let mut p = Row::new();
    p.insert("current_job".into(), json!(id));
    store.update(&PROJECTS, pid, &p).await?;
    pending(bus, &PROJECT_UPDATE_KIND, id, Value::Null);
    Ok(id)
}

/// An update of `project` made `running` on task node `node` to check out `revision` there
/// before a job runs (AWX's `SourceControlMixin.spawn_project_sync`: `launch_type: sync`,
/// `job_type: run`, the tags of the source and the requirements only), or the head of `branch`
/// when a launch chose one (then `scm_clean`, as AWX's). No task manager claims it: the node
/// that makes it runs it at once.
pub async fn sync_update(
    store: &dyn Store,
    project: &Row,
    node: &str,
    controller: &str,
    revision: &str,
    branch: Option<&str>,
) -> DomainResult<i64> {
    let mut row = update_row(store, project, "sync").await;
    if let Some(b) = branch {
        row.insert("scm_branch".into(), json!(b));
        row.insert("scm_clean".into(), json!(true));
    }
    let tags = format!(
        "update_{},install_roles,install_collections",
        text(project, "scm_type")
    );
    for (k, v) in [
        ("job_type", json!("run")),
        ("job_tags", json!(tags)),
        ("status", json!(JobStatus::Running.as_str())),
        ("started", json!(rawx_model::now_string())),
        ("execution_node", json!(node)),
        ("controller_node", json!(controller)),
        ("scm_revision", json!(revision)),
    ] {
        row.insert(k.into(), v);
    }
    Ok(store.insert(&PROJECT_UPDATES, &row).await?)
}

/// What every update of `project` copies from it (AWX's `ProjectOptions` and the unified job's
/// template fields).
async fn update_row(store: &dyn Store, project: &Row, launch_type: &str) -> Row {
    let pid = int(project, "id").unwrap_or_default();
    let mut row = Row::new();
    for f in OPTIONS {
        row.insert((*f).into(), project.get(*f).cloned().unwrap_or(Value::Null));
    }
    for (k, v) in [
        ("name", json!(text(project, "name"))),
        ("description", json!(text(project, "description"))),
        ("project", json!(pid)),
        ("unified_job_template", json!(pid)),
        (
            "organization",
            project.get("organization").cloned().unwrap_or(Value::Null),
        ),
        (
            "job_tags",
            json!(job_tags(
                project,
                validation_namespace(store, project).await
            )),
        ),
        ("launch_type", json!(launch_type)),
    ] {
        row.insert(k.into(), v);
    }
    row
}

/// The namespace of the type of a project's `signature_validation_credential` (`gpg_public_key`
/// for AWX's "GPG Public Key"), when it has one.
async fn validation_namespace(store: &dyn Store, project: &Row) -> Option<String> {
    let cred = store
        .get(
            &rawx_model::resources::CREDENTIALS,
            int(project, "signature_validation_credential")?,
        )
        .await
        .ok()?;
    let ctype = store
        .get(
            &rawx_model::resources::CREDENTIAL_TYPES,
            int(&cred, "credential_type")?,
        )
        .await
        .ok()?;
    Some(text(&ctype, "namespace").to_string())
}

/// AWX's `ProjectUpdate.save`: the parts of its playbook an update runs. A signature
/// validation credential adds `validation_<its type's namespace>` and
/// `validation_checksum_manifest` (AWX does not check the credential's kind: only
/// `validation_gpg_public_key` names a step, so another kind verifies the manifest alone).
fn job_tags(project: &Row, validation: Option<String>) -> String {
    let mut tags = vec![
        format!("update_{}", text(project, "scm_type")),
        "install_roles".into(),
        "install_collections".into(),
    ];
    if let Some(ns) = validation {
        tags.push(format!("validation_{ns}"));
        tags.push("validation_checksum_manifest".into());
    }
    if project.get("scm_delete_on_update") == Some(&json!(true)) {
        tags.push("delete".into());
    }
    tags.join(",")
}

/// The newest update of a project, and the newest that ended.
pub struct Updates {
    pub newest: Option<Row>,
    pub last_finished: Option<Row>,
}

pub async fn updates_of(store: &dyn Store, project: i64) -> DomainResult<Updates> {
    // A node's own `sync` (`job_type: run`) is not the project's update (AWX's status and
    // dependencies read `job_type='check'` updates only).
    let of_project = Filter::eq("project", ColumnType::Int, json!(project)).and(Filter::eq(
        "job_type",
        ColumnType::Text,
        json!("check"),
    ));
    let newest = |filter: Filter| ListQuery {
        filter,
        order: vec![("id", true)],
        page: 1,
        page_size: 1,
    };
    let n = store
        .list(&PROJECT_UPDATES, &newest(of_project.clone()))
        .await?
        .rows
        .into_iter()
        .next();
    let done = match &n {
        Some(r) if JobStatus::of(r).is_some_and(JobStatus::is_final) => n.clone(),
        None => None,
        Some(_) => {
            let finals = Filter::On {
                path: vec![],
                column: "status",
                ctype: ColumnType::Text,
                cond: Cond::In(
                    JobStatus::names(JobStatus::is_final)
                        .into_iter()
                        .map(|s| json!(s))
                        .collect(),
                ),
            };
            store
                .list(&PROJECT_UPDATES, &newest(of_project.and(finals)))
                .await?
                .rows
                .into_iter()
                .next()
        }
    };
    Ok(Updates {
        newest: n,
        last_finished: done,
    })
}

impl Updates {
    /// AWX's `Project._get_current_status` for a project from source control: the running
    /// update's status, else the last one's, else `never updated`.
    pub fn status(&self) -> String {
        match (&self.newest, &self.last_finished) {
            (Some(n), _) if JobStatus::of(n).is_some_and(JobStatus::is_active) => {
                text(n, "status").to_string()
            }
            (_, Some(l)) => text(l, "status").to_string(),
            _ => "never updated".into(),
        }
    }
    /// The update running now (AWX's `current_job`).
    pub fn current(&self) -> Option<&Row> {
        self.newest
            .as_ref()
            .filter(|n| JobStatus::of(n).is_some_and(JobStatus::is_active))
    }
}

/// Whether a job launched on a project with `scm_update_on_launch` needs a new update, given
/// the project's newest update (AWX's `DependencyManager.should_update_again`): none yet, or
/// the last one failed, or it finished more than `cache_timeout` seconds ago. An update that
/// is still active is waited for instead.
pub fn should_update_again(
    latest: Option<&Row>,
    cache_timeout: i64,
    now: time::OffsetDateTime,
) -> bool {
    let Some(latest) = latest else {
        return true;
    };
    match JobStatus::of(latest) {
        Some(JobStatus::Failed | JobStatus::Canceled | JobStatus::Error) | None => return true,
        Some(s) if s.is_active() => return false,
        _ => {}
    }
    let finished = latest
        .get("finished")
        .and_then(Value::as_str)
        .and_then(rawx_model::parse_time);
    match finished {
        Some(f) => f + time::Duration::seconds(cache_timeout) < now,
        None => true,
    }
}

/// AWX's `Project.get_local_path_choices`: the directories of the projects dir a manual
/// project may name (hidden ones left out), sorted.
pub fn local_path_choices(root: &std::path::Path) -> Vec<String> {
    let mut choices: Vec<String> = std::fs::read_dir(root)
        .map(|d| {
            d.filter_map(Result::ok)
                .filter(|e| e.path().is_dir())
                .filter_map(|e| e.file_name().into_string().ok())
                .filter(|n| !n.starts_with('.'))
                .collect()
        })
        .unwrap_or_default();
    choices.sort();
    choices
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_path_is_awx_slug() {
        assert_eq!(scm_local_path(8, "My Git Project"), "_8__my_git_project");
        assert_eq!(scm_local_path(12, "a-b  c!"), "_12__a_b_c");
    }

    #[test]
    fn cache_timeout_decides_update_on_launch() {
        let done: Row = serde_json::from_value(
            json!({"status": "successful", "finished": "2026-01-01T00:00:00Z"}),
        )
        .unwrap();
        let failed: Row =
            serde_json::from_value(json!({"status": "failed", "finished": "2026-01-01T00:00:00Z"}))
                .unwrap();
        let running: Row = serde_json::from_value(json!({"status": "running"})).unwrap();
        let t = |s: &str| {
            time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).unwrap()
        };
        assert!(!should_update_again(
            Some(&done),
            60,
            t("2026-01-01T00:01:00Z")
        ));
        assert!(should_update_again(
            Some(&done),
            60,
            t("2026-01-01T00:01:01Z")
        ));
        assert!(should_update_again(
            Some(&failed),
            60,
            t("2026-01-01T00:00:01Z")
        ));
        assert!(!should_update_again(
            Some(&running),
            0,
            t("2026-01-01T00:00:01Z")
        ));
        assert!(should_update_again(None, 60, t("2026-01-01T00:00:00Z")));
        let never = Updates {
            newest: None,
            last_finished: None,
        };
        assert_eq!(never.status(), "never updated");
    }
}
