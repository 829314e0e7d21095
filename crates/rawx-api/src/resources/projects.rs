//! Projects. A manual project's `local_path` is a directory under the projects root, and its
//! `status` reads `ok` or `missing` from the disk. A project from source control (`git`) is
//! checked out by its updates (`project_updates.rs`, run by the task role): creating one or
//! changing its SCM fields starts an update, `…/update/` starts one on request, and its
//! `status`, `last_update_failed` and `last_updated` come from its updates as AWX computes
//! them. Active jobs keep a project from deletion.

use crate::auth::Auth;
use crate::error::{ApiError, ApiResult};
use crate::handlers::fetch_visible;
use crate::resource::{ResourceApi, Routes};
use crate::view::{Renderer, Summary};
use crate::{AppState, Identity};
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Json;
use rawx_domain::projects::{self, UpdateRequest};
use rawx_model::filter::Filter;
use rawx_model::resources::{
    CREDENTIALS, CREDENTIAL_TYPES, JOB_TEMPLATES, PROJECTS, PROJECT_UPDATES,
};
use rawx_model::schema::{int, text, ColumnType, Resource};
use rawx_model::validate::FieldErrors;
use rawx_model::Row;
use serde_json::{json, Map, Value};
use std::sync::Arc;

type Ctx = State<Arc<AppState>>;

pub struct Projects;

#[async_trait::async_trait]
impl ResourceApi for Projects {
    fn schema(&self) -> &'static Resource {
        &PROJECTS
    }

    fn routes(&self) -> Routes {
        let mut routes = super::copy::routes(&COPY);
        routes.push((
            "/api/v2/projects/{id}/update/",
            get(update_get).post(update_post),
        ));
        routes
    }

    fn related(&self, row: &Row, related: &mut Map<String, Value>) {
        super::copy::related(&COPY, row, related);
        let id = int(row, "id").unwrap_or_default();
        for name in ["update", "playbooks"] {
            related.insert(name.into(), json!(format!("/api/v2/projects/{id}/{name}/")));
        }
        related.insert(
            "inventory_files".into(),
            json!(format!("/api/v2/projects/{id}/inventories/")),
        );
        if let Some(u) = int(row, "current_job") {
            let url = json!(format!("/api/v2/project_updates/{u}/"));
            related.insert("current_update".into(), url.clone());
            related.insert("current_job".into(), url);
        }
        if let Some(u) = int(row, "last_job") {
            let url = json!(format!("/api/v2/project_updates/{u}/"));
            related.insert("last_update".into(), url.clone());
            related.insert("last_job".into(), url);
        }
    }

    /// `start`/`schedule`: the update role, for a project with a source (a manual project
    /// is never updated, nor copied, as AWX's `get_user_capabilities` says).
    async fn user_capabilities(
        &self,
        r: &mut Renderer<'_>,
        row: &Row,
        caps: &mut Map<String, Value>,
    ) -> ApiResult<()> {
        let scm = !text(row, "scm_type").is_empty();
        let id = row.get("id").and_then(Value::as_i64).unwrap_or_default();
        let start =
            scm && !r.actor.read_only_token && r.holds("projects", id, &["update_role"]).await?;
        caps.insert("start".into(), json!(start));
        caps.insert("schedule".into(), json!(start));
        let copy = scm && super::copy::may_copy(r, &COPY, row).await?;
        caps.insert("copy".into(), json!(copy));
        Ok(())
    }

    async fn prepare(
        &self,
        state: &AppState,
        _ident: &Identity,
        row: &mut Row,
        existing: Option<&Row>,
    ) -> ApiResult<()> {
        let mut m = existing.cloned().unwrap_or_default();
        m.extend(row.clone());
        let scm_type = text(&m, "scm_type").to_string();
        let mut errors = FieldErrors::default();
        // AWX's `ProjectOptionsSerializer.validate`.
        if let Some(old) = existing {
            if !scm_type.is_empty()
                && row.contains_key("local_path")
                && text(row, "local_path") != text(old, "local_path")
            {
                errors.add(
                    "local_path",
                    format!("Cannot change local_path for {scm_type}-based projects"),
                );
            }
        }
        if !scm_type.is_empty() {
            row.remove("local_path");
        }
        if !text(row, "scm_branch").is_empty() && scm_type == "archive" {
            errors.add(
                "scm_branch",
                "SCM branch cannot be used with archive projects.",
            );
        }
        if !text(row, "scm_refspec").is_empty() && scm_type != "git" {
            errors.add(
                "scm_refspec",
                "SCM refspec can only be used with git projects.",
            );
        }
        if row.get("scm_track_submodules") == Some(&json!(true)) && scm_type != "git" {
            errors.add(
                "scm_track_submodules",
                "SCM track_submodules can only be used with git projects.",
            );
        }
        if !errors.is_empty() {
            return Err(ApiError::Fields(errors));
        }
        // `ProjectSerializer.validate`.
        if scm_type.is_empty() {
            for f in [
                "scm_update_on_launch",
                "scm_delete_on_update",
                "scm_track_submodules",
                "scm_clean",
            ] {
                if m.get(f) == Some(&json!(true)) {
                    return Err(ApiError::field(
                        f,
                        "Update options must be set to false for manual projects.",
                    ));
                }
            }
        }
        if let Some(old) = existing {
            if old.get("allow_override") == Some(&json!(true))
                && row.get("allow_override") == Some(&json!(false))
            {
                let id = int(old, "id").unwrap_or_default();
                let used_by: Vec<String> = state
                    .store
                    .list_all(
                        &JOB_TEMPLATES,
                        &Filter::eq("project", ColumnType::Int, json!(id)),
                        &[("id", false)],
                    )
                    .await?
                    .iter()
                    .filter(|t| {
                        t.get("ask_scm_branch_on_launch") == Some(&json!(true))
                            || !text(t, "scm_branch").is_empty()
                    })
                    .filter_map(|t| int(t, "id").map(|i| i.to_string()))
                    .collect();
                if !used_by.is_empty() {
                    return Err(ApiError::field(
                        "allow_override",
                        format!(
                            "One or more job templates depend on branch override behavior for this project (ids: {}).",
                            used_by.join(" ")
                        ),
                    ));
                }
            }
        }
        // `ProjectOptions.clean_scm_url` / `clean_credential`.
        if !scm_type.is_empty() {
            if text(&m, "scm_url").trim().is_empty() {
                return Err(ApiError::field("scm_url", "SCM URL is required."));
            }
            if let Some(cid) = int(&m, "credential") {
                let cred = state.store.get(&CREDENTIALS, cid).await?;
                let ctype = state
                    .store
                    .get(
                        &CREDENTIAL_TYPES,
                        int(&cred, "credential_type").unwrap_or_default(),
                    )
                    .await?;
                if text(&ctype, "kind") != "scm" {
                    return Err(ApiError::field(
                        "credential",
                        "Credential kind must be 'scm'.",
                    ));
                }
            }
        } else if row.contains_key("local_path") || existing.is_none() {
            check_local_path(state, text(&m, "local_path"))?;
        }
        Ok(())
    }

    /// AWX's `Project.save`: a new project from source control, or a change of its SCM
    /// fields, starts an update.
    async fn saved(
        &self,
        state: &AppState,
        ident: &Identity,
        id: i64,
        existing: Option<&Row>,
    ) -> ApiResult<()> {
        projects::saved(
            &*state.store,
            &*state.bus,
            id,
            existing,
            Some(ident.actor.user_id),
        )
        .await?;
        Ok(())
    }

    fn deleted(&self, state: &AppState, row: &Row) {
        if text(row, "scm_type").is_empty() {
            return;
        }
        // In the background, as AWX's `delete_project_files.delay`: the answer does not wait
        // for a large tree to go.
        let root = state.config.projects_dir.clone();
        let local = text(row, "local_path").to_string();
        tokio::task::spawn_blocking(move || projects::delete_checkout(&root, &local));
    }

    fn used_by_jobs_as(&self) -> Option<&'static str> {
        Some("project")
    }

    fn summary(&self) -> Summary {
        Summary {
            fields: &[
                "name",
                "description",
                "status",
                "scm_type",
                "allow_override",
            ],
            ids: &[],
        }
    }

    async fn summary_fields(
        &self,
        r: &mut Renderer<'_>,
        row: &Row,
        summary: &mut Map<String, Value>,
    ) -> ApiResult<()> {
        if let Some(u) = int(row, "current_job") {
            if let Some(j) = r.lookup("project_updates", u).await? {
                if rawx_domain::JobStatus::of(&j).is_some_and(rawx_domain::JobStatus::is_active) {
                    let s = json!({"id": u, "name": j["name"], "description": j["description"],
                                   "status": j["status"], "failed": j["failed"], "license_error": false});
                    summary.insert("current_update".into(), s.clone());
                    summary.insert("current_job".into(), s);
                }
            }
        }
        if let Some(u) = int(row, "last_job") {
            if let Some(j) = r.lookup("project_updates", u).await? {
                summary.insert(
                    "last_update".into(),
                    json!({"id": u, "name": j["name"], "description": j["description"],
                           "status": j["status"], "failed": j["failed"], "license_error": false}),
                );
                summary.insert(
                    "last_job".into(),
                    json!({"id": u, "name": j["name"], "description": j["description"],
                           "finished": j["finished"], "status": j["status"], "failed": j["failed"],
                           "license_error": false, "canceled_on": j["canceled_on"]}),
                );
            }
        }
        Ok(())
    }

    async fn derived(
        &self,
        r: &mut Renderer<'_>,
        row: &Row,
        out: &mut Map<String, Value>,
    ) -> ApiResult<()> {
        if text(row, "scm_type").is_empty() {
            let path = text(row, "local_path");
            let present = !path.is_empty() && r.state.config.projects_dir.join(path).is_dir();
            out.insert(
                "status".into(),
                json!(if present { "ok" } else { "missing" }),
            );
            // AWX's `ProjectSerializer.to_representation`.
            out.insert("scm_revision".into(), json!(""));
            return Ok(());
        }
        let id = int(row, "id").unwrap_or_default();
        let updates = projects::updates_of(&*r.state.store, id).await?;
        // A project made without an update keeps the status it was made with (AWX's
        // `_skip_update`: the preload Demo Project is `successful` before any update).
        let status = match (&updates.newest, text(row, "status")) {
            (None, "successful") => "successful".to_string(),
            _ => updates.status(),
        };
        out.insert("status".into(), json!(status));
        if let Some(last) = &updates.last_finished {
            let failed = last.get("failed") == Some(&json!(true));
            let finished = last.get("finished").cloned().unwrap_or(Value::Null);
            out.insert("last_update_failed".into(), json!(failed));
            out.insert("last_job_failed".into(), json!(failed));
            out.insert("last_updated".into(), finished.clone());
            out.insert("last_job_run".into(), finished);
        }
        Ok(())
    }
}

/// `GET /projects/N/update/`: `can_update` (AWX's `ProjectUpdateView`).
async fn update_get(
    State(state): Ctx,
    Auth(ident): Auth,
    Path(raw): Path<String>,
) -> ApiResult<Json<Value>> {
    let project = fetch_visible(&state, &ident.actor, &PROJECTS, &raw).await?;
    Ok(Json(
        json!({"can_update": !text(&project, "scm_type").is_empty()}),
    ))
}

async fn may_update(state: &AppState, ident: &Identity, project: &Row) -> ApiResult<()> {
    let id = int(project, "id").unwrap_or_default();
    let mut r = Renderer::new(state, &ident.actor);
    if ident.actor.read_only_token || !r.holds("projects", id, &["update_role"]).await? {
        return Err(ApiError::forbidden());
    }
    Ok(())
}

/// `POST /projects/N/update/`: a new update, 202 with it and its id under `project_update`;
/// 405 for a manual project, which nothing updates.
async fn update_post(
    State(state): Ctx,
    Auth(ident): Auth,
    Path(raw): Path<String>,
) -> ApiResult<Response> {
    let project = fetch_visible(&state, &ident.actor, &PROJECTS, &raw).await?;
    may_update(&state, &ident, &project).await?;
    if text(&project, "scm_type").is_empty() {
        return Err(ApiError::MethodNotAllowed("POST".into()));
    }
    let id = projects::start_update(
        &*state.store,
        &*state.bus,
        &project,
        UpdateRequest {
            launch_type: "manual",
            user: Some(ident.actor.user_id),
            dependent_job: None,
        },
    )
    .await?;
    let row = state.store.get(&PROJECT_UPDATES, id).await?;
    let mut body = Renderer::new(&state, &ident.actor)
        .render(&PROJECT_UPDATES, &row)
        .await?;
    let mut out = Map::new();
    out.insert("project_update".into(), json!(id));
    if let Value::Object(m) = body.take() {
        out.extend(m);
    }
    let location = format!("/api/v2/project_updates/{id}/");
    Ok((
        StatusCode::ACCEPTED,
        [(header::LOCATION, location)],
        Json(Value::Object(out)),
    )
        .into_response())
}

fn check_local_path(state: &AppState, path: &str) -> ApiResult<()> {
    let root = &state.config.projects_dir;
    let valid = !path.is_empty()
        && !path.contains('/')
        && !path.starts_with('.')
        && root.join(path).is_dir();
    if valid {
        return Ok(());
    }
    let choices = rawx_domain::projects::local_path_choices(root);
    let msg = if choices.is_empty() {
        format!(
            "Invalid path choice. No project directories exist in {}: create one there first.",
            root.display()
        )
    } else {
        format!(
            "Invalid path choice. Choose one of the directories in {}: {}.",
            root.display(),
            choices.join(", ")
        )
    };
    Err(ApiError::field("local_path", msg))
}

/// Projects: AWX discards `local_path` (a copy of a manual project names its own directory).
static COPY: super::copy::CopySpec = super::copy::CopySpec {
    res: &PROJECTS,
    path: "/api/v2/projects/{id}/copy/",
    discard: &["local_path"],
    links: &[],
    hosts_and_groups: false,
};
