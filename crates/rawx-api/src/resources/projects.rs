//! Projects: a manual project's `local_path` is a directory under the projects root, and its
//! `status` reads `ok` or `missing` from the disk; active jobs keep a project from deletion.

use crate::error::{ApiError, ApiResult};
use crate::resource::ResourceApi;
use crate::view::{Renderer, Summary};
use crate::{AppState, Identity};
use rawx_model::resources::PROJECTS;
use rawx_model::schema::{text, Resource};
use rawx_model::Row;
use serde_json::{json, Map, Value};

pub struct Projects;

#[async_trait::async_trait]
impl ResourceApi for Projects {
    fn schema(&self) -> &'static Resource {
        &PROJECTS
    }

    fn routes(&self) -> crate::resource::Routes {
        super::copy::routes(&COPY)
    }

    fn related(&self, row: &Row, related: &mut serde_json::Map<String, serde_json::Value>) {
        super::copy::related(&COPY, row, related);
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
        if text(&m, "scm_type").is_empty() && (row.contains_key("local_path") || existing.is_none())
        {
            check_local_path(state, text(&m, "local_path"))?;
        }
        Ok(())
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

    async fn derived(
        &self,
        r: &mut Renderer<'_>,
        row: &Row,
        out: &mut Map<String, Value>,
    ) -> ApiResult<()> {
        if row.get("scm_type").and_then(Value::as_str) == Some("") {
            let path = row
                .get("local_path")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let present = !path.is_empty() && r.state.config.projects_dir.join(path).is_dir();
            out.insert(
                "status".into(),
                json!(if present { "ok" } else { "missing" }),
            );
        }
        Ok(())
    }
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
