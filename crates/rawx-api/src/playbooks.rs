//! `/api/v2/projects/N/playbooks/` and `inventories/`: what the UI's template and inventory
//! source forms offer (`rawx_domain::project_files`). A source-control project answers from what
//! its last update recorded (AWX's `playbook_files` / `inventory_files`), so a web node needs no
//! checkout of its own; a manual project (or one no update has recorded yet) from its directory.

use crate::auth::Auth;
use crate::error::ApiResult;
use crate::handlers::fetch_visible;
use crate::AppState;
use axum::extract::{Path, State};
use axum::Json;
use rawx_domain::project_files;
use rawx_model::resources::PROJECTS;
use rawx_model::schema::text;
use rawx_model::Row;
use std::sync::Arc;

pub async fn list(
    State(state): State<Arc<AppState>>,
    auth: Auth,
    Path(raw): Path<String>,
) -> ApiResult<Json<Vec<String>>> {
    let project = fetch_visible(&state, &auth.0.actor, &PROJECTS, &raw).await?;
    Ok(Json(files(&state, &project, Kind::Playbooks).await))
}

/// Files of the project that could be an inventory (named `inventory` or `hosts`, `.ini`,
/// executable, or extension-less with an inventory-looking line among the first eleven); at
/// most 51. What an SCM inventory source's `source_path` offers.
pub async fn inventories(
    State(state): State<Arc<AppState>>,
    auth: Auth,
    Path(raw): Path<String>,
) -> ApiResult<Json<Vec<String>>> {
    let project = fetch_visible(&state, &auth.0.actor, &PROJECTS, &raw).await?;
    Ok(Json(files(&state, &project, Kind::Inventories).await))
}

#[derive(Clone, Copy)]
pub(crate) enum Kind {
    Playbooks,
    Inventories,
}

/// The project's playbooks or inventories: recorded by its last update (a source-control
/// project, AWX's `playbook_files if obj.scm_type else obj.playbooks`), else found in its
/// directory.
pub(crate) async fn files(state: &AppState, project: &Row, kind: Kind) -> Vec<String> {
    let column = match kind {
        Kind::Playbooks => "playbook_files",
        Kind::Inventories => "inventory_files",
    };
    if !text(project, "scm_type").is_empty() {
        if let Some(recorded) = project_files::recorded(project.get(column)) {
            return recorded;
        }
    }
    let local = text(project, "local_path");
    if local.is_empty() {
        return Vec::new();
    }
    let root = state.config.projects_dir.join(local);
    tokio::task::spawn_blocking(move || match kind {
        Kind::Playbooks => project_files::playbooks(&root),
        Kind::Inventories => project_files::inventories(&root),
    })
    .await
    .unwrap_or_default()
}
