//! `/api/v2/ping/`, `/api/v2/config/`, `/api/v2/me/`: the controller describing itself (its
//! subscription endpoints are `license.rs`).

use crate::auth::Auth;
use crate::error::ApiResult;
use crate::view::Renderer;
use crate::{AppState, AWX_VERSION};
use axum::extract::State;
use axum::Json;
use rawx_model::rbac;
use rawx_model::resources::{ORGANIZATIONS, USERS};
use serde_json::{json, Value};
use std::sync::Arc;

fn capacity() -> i64 {
    rawx_model::capacity::local_capacity()
}

/// Answers without authentication, as AWX's does: load balancers and `awx ping` use it.
pub async fn ping(State(state): State<Arc<AppState>>) -> Json<Value> {
    let node = &state.config.node_name;
    let now = rawx_model::now_string();
    let db_ok = state.store.ping().await.is_ok();
    // rawx's addition: what the supervisor knows of each component of this process, so a
    // load balancer or an operator sees a role that is restarting or has failed.
    let components: serde_json::Map<String, Value> = state
        .ops
        .components
        .snapshot()
        .into_iter()
        .map(|c| {
            (
                c.name.to_string(),
                json!({"state": c.state, "restarts": c.restarts, "last_error": c.last_error}),
            )
        })
        .collect();
    Json(json!({
        "ha": false,
        "version": AWX_VERSION,
        "rawx_version": env!("CARGO_PKG_VERSION"),
        "active_node": node,
        "install_uuid": state.config.install_uuid,
        "database": {"backend": state.store.backend(), "ok": db_ok},
        "instances": [{
            "node": node,
            "node_type": "hybrid",
            "uuid": state.config.install_uuid,
            "heartbeat": now,
            "capacity": capacity(),
            "version": AWX_VERSION,
        }],
        "instance_groups": crate::resources::ping_groups(&state).await.unwrap_or_else(|| json!([
            {"name": "controlplane", "capacity": capacity(), "instances": [node]},
            {"name": "default", "capacity": capacity(), "instances": [node]},
        ])),
        "components": components,
    }))
}

/// AWX's `ApiV2ConfigView.get`: the project directory and its local paths only for those who
/// may make manual projects or see them (system administrators and auditors, an
/// organization's admins, auditors and project admins).
pub async fn config(
    State(state): State<Arc<AppState>>,
    Auth(ident): Auth,
) -> ApiResult<Json<Value>> {
    let mut out = json!({
        "time_zone": "UTC",
        "version": AWX_VERSION,
        "rawx_version": env!("CARGO_PKG_VERSION"),
        "license_info": crate::license::open_license(),
        "eula": "",
        "analytics_status": "off",
        "analytics_collectors": {},
        "become_methods": [["sudo", "Sudo"], ["su", "Su"], ["pbrun", "Pbrun"], ["pfexec", "Pfexec"],
                           ["dzdo", "DZDO"], ["pmrun", "Pmrun"], ["runas", "Runas"], ["enable", "Enable"],
                           ["doas", "Doas"], ["ksu", "Ksu"], ["machinectl", "Machinectl"], ["sesu", "Sesu"]],
        "ui_next": false,
    });
    let actor = &ident.actor;
    let org_roles = rbac::holds(
        "id",
        "organization",
        &["admin_role", "auditor_role", "project_admin_role"],
        actor.user_id,
    );
    if actor.sees_all() || state.store.count(&ORGANIZATIONS, &org_roles).await? > 0 {
        let dir = &state.config.projects_dir;
        let local_paths = rawx_domain::projects::local_path_choices(dir);
        out["project_base_dir"] = json!(dir.display().to_string());
        out["project_local_paths"] = json!(local_paths);
        out["custom_virtualenvs"] = json!([]);
    }
    Ok(Json(out))
}

pub async fn me(State(state): State<Arc<AppState>>, Auth(ident): Auth) -> ApiResult<Json<Value>> {
    let user = Renderer::new(&state, &ident.actor)
        .render(&USERS, &ident.user)
        .await?;
    Ok(Json(
        json!({"count": 1, "next": null, "previous": null, "results": [user]}),
    ))
}
