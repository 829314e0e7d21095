//! Ad hoc commands: one module run on an inventory's hosts. Created through the generic create
//! path (schema validation, these rules, the permission check), which also starts them; run by
//! the task role exactly as jobs are (`rawx_model::resources::AD_HOC_KIND`).
//!
//! AWX's rules: an ad hoc command is never changed after it is made; `command` and `shell`
//! need arguments; only a machine credential; no `ansible_*` extra vars; running one on a host
//! or a group targets that host or group of its inventory.

use super::unified;
use crate::auth::Auth;
use crate::error::{ApiError, ApiResult};
use crate::handlers::{create_row, fetch_visible, json_body, page_response};
use crate::resource::{ResourceApi, Routes};
use crate::view::Renderer;
use crate::{AppState, Identity};
use axum::body::Bytes;
use axum::extract::{OriginalUri, Path, RawQuery, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::{get, post};
use axum::Json;
use rawx_model::filter::Filter;
use rawx_model::resources::{
    AD_HOC_COMMANDS, AD_HOC_KIND, CREDENTIALS, CREDENTIAL_TYPES, GROUPS, HOSTS, INVENTORIES,
};
use rawx_model::schema::Resource;
use rawx_model::schema::{int, text, ColumnType};
use rawx_model::validate::{parse_vars, FieldErrors};
use rawx_model::Row;
use serde_json::{json, Map, Value};
use std::sync::Arc;

type Ctx = State<Arc<AppState>>;

/// The fields a relaunch copies (AWX's `AdHocCommandRelaunch`).
const RELAUNCH_FIELDS: &[&str] = &[
    "job_type",
    "inventory",
    "limit",
    "credential",
    "module_name",
    "module_args",
    "forks",
    "verbosity",
    "extra_vars",
    "become_enabled",
    "diff_mode",
];

pub struct AdHocCommands;

#[async_trait::async_trait]
impl ResourceApi for AdHocCommands {
    fn schema(&self) -> &'static Resource {
        &AD_HOC_COMMANDS
    }

    /// `AdHocCommandAccess.can_cancel`: the inventory's admins.
    async fn can_cancel(&self, r: &mut Renderer<'_>, job: &Row) -> ApiResult<bool> {
        match int(job, "inventory") {
            Some(inv) if !r.actor.read_only_token => {
                r.holds("inventories", inv, &["admin_role"]).await
            }
            _ => Ok(false),
        }
    }

    /// `start` (relaunch): `AdHocCommandAccess.can_add` of the same command, the inventory's
    /// ad hoc role and the credential's use role.
    async fn user_capabilities(
        &self,
        r: &mut Renderer<'_>,
        row: &Row,
        caps: &mut Map<String, Value>,
    ) -> ApiResult<()> {
        let inv = rawx_model::schema::int(row, "inventory");
        let cred = rawx_model::schema::int(row, "credential");
        let mut start = !r.actor.read_only_token && inv.is_some();
        if let (true, Some(i)) = (start, inv) {
            start = r.holds("inventories", i, &["adhoc_role"]).await?;
        }
        if let (true, Some(c)) = (start, cred) {
            start = r.holds("credentials", c, &["use_role"]).await?;
        }
        caps.insert("start".into(), json!(start));
        Ok(())
    }

    fn clean_body(&self, body: &mut Value) {
        drop_client_options(body);
    }

    async fn prepare(
        &self,
        state: &AppState,
        ident: &Identity,
        row: &mut Row,
        existing: Option<&Row>,
    ) -> ApiResult<()> {
        prepare(state, ident, row, existing).await
    }

    /// A created ad hoc command starts at once.
    fn created(&self, state: &AppState, id: i64) {
        rawx_domain::launch::pending(&*state.bus, &AD_HOC_KIND, id, Value::Null);
    }

    async fn before_delete(
        &self,
        _state: &AppState,
        _ident: &Identity,
        row: &Row,
    ) -> ApiResult<()> {
        unified::before_delete(row)
    }

    fn related(&self, row: &Row, related: &mut Map<String, Value>) {
        unified::related("/api/v2/ad_hoc_commands/", row, related);
    }

    async fn derived(
        &self,
        r: &mut Renderer<'_>,
        row: &Row,
        out: &mut Map<String, Value>,
    ) -> ApiResult<()> {
        unified::derived(r, row, out).await
    }

    fn routes(&self) -> Routes {
        let mut routes = unified::routes(&AD_HOC_KIND, "/api/v2/ad_hoc_commands/", post(relaunch));
        routes.push((
            "/api/v2/hosts/{id}/ad_hoc_commands/",
            get(host::list).post(host::create),
        ));
        routes.push((
            "/api/v2/groups/{id}/ad_hoc_commands/",
            get(group::list).post(group::create),
        ));
        routes
    }
}

/// Rules after schema validation: reject changes, check the module, credential and vars, and
/// fill what the server sets (status, name, owner organization, who launched it).
async fn prepare(
    state: &AppState,
    ident: &Identity,
    row: &mut Row,
    existing: Option<&Row>,
) -> ApiResult<()> {
    if existing.is_some() {
        return Err(ApiError::MethodNotAllowed("PUT".into()));
    }
    let mut errors = FieldErrors::default();
    let module = match text(row, "module_name") {
        "" => "command".to_string(),
        m => m.to_string(),
    };
    if matches!(module.as_str(), "command" | "shell") && text(row, "module_args").trim().is_empty()
    {
        errors.add(
            "module_args",
            format!("No argument passed to {module} module."),
        );
    }
    if let Some(cid) = int(row, "credential") {
        let cred = state.store.get(&CREDENTIALS, cid).await?;
        let ctype = state
            .store
            .get(
                &CREDENTIAL_TYPES,
                int(&cred, "credential_type").unwrap_or_default(),
            )
            .await?;
        if text(&ctype, "kind") != "ssh" {
            errors.add("credential", "You must provide a machine / SSH credential.");
        }
    }
    let vars = parse_vars(text(row, "extra_vars")).unwrap_or_default();
    let mut banned: Vec<&str> = vars
        .keys()
        .map(String::as_str)
        .filter(|k| k.starts_with("ansible_"))
        .collect();
    if !banned.is_empty() {
        banned.sort_unstable_by(|a, b| b.cmp(a));
        errors.add(
            "extra_vars",
            format!(
                "{} are prohibited from use in ad hoc commands.",
                banned.join(", ")
            ),
        );
    }
    if !errors.is_empty() {
        return Err(ApiError::Fields(errors));
    }
    let inventory = match int(row, "inventory") {
        Some(i) => state.store.get(&INVENTORIES, i).await?,
        None => return Err(ApiError::field("inventory", "No valid inventory.")),
    };
    for (k, v) in [
        ("module_name", json!(module)),
        ("name", json!(module)),
        ("status", json!(rawx_domain::JobStatus::Pending.as_str())),
        ("launch_type", json!("manual")),
        ("launched_by_user", json!(ident.actor.user_id)),
        (
            "organization",
            inventory
                .get("organization")
                .cloned()
                .unwrap_or(Value::Null),
        ),
    ] {
        row.insert(k.into(), v);
    }
    Ok(())
}

/// `awx ad_hoc_commands create --monitor` posts its own polling options (`interval`,
/// `action_timeout`) in the body; AWX ignores them, and so does rawx — only these, since an
/// unknown field is otherwise an error.
fn drop_client_options(body: &mut Value) {
    if let Some(obj) = body.as_object_mut() {
        obj.remove("interval");
        obj.remove("action_timeout");
    }
}

/// 201 with the command, and its id under `ad_hoc_command` as AWX adds it.
fn created(id: i64, mut body: Value) -> Response {
    body["ad_hoc_command"] = json!(id);
    crate::handlers::created(&AD_HOC_COMMANDS, id, body)
}

/// `POST …/relaunch/`: the same command again, validated again as the caller (the module may no
/// longer be allowed, the caller may not have the rights the first launcher had).
pub async fn relaunch(
    State(state): Ctx,
    Auth(ident): Auth,
    Path(raw): Path<String>,
) -> ApiResult<Response> {
    let old = fetch_visible(&state, &ident.actor, &AD_HOC_COMMANDS, &raw).await?;
    // `AdHocCommandAccess.can_start` is asked before the serializer sees the command: 403,
    // not a 400 about a credential the caller cannot see.
    let mut r = Renderer::new(&state, &ident.actor);
    let may = !ident.actor.read_only_token
        && match int(&old, "inventory") {
            Some(inv) => r.holds("inventories", inv, &["adhoc_role"]).await?,
            None => false,
        }
        && match int(&old, "credential") {
            Some(c) => r.holds("credentials", c, &["use_role"]).await?,
            None => true,
        };
    if !may {
        return Err(ApiError::forbidden());
    }
    let body: Map<String, Value> = RELAUNCH_FIELDS
        .iter()
        .filter_map(|f| Some((f.to_string(), old.get(*f)?.clone())))
        .filter(|(_, v)| !v.is_null())
        .collect();
    let (id, out) = create_row(&state, &ident, &AD_HOC_COMMANDS, Value::Object(body)).await?;
    Ok(created(id, out))
}

/// The host or group an ad hoc command is run on from `/hosts/N/` or `/groups/N/`.
async fn target(state: &AppState, ident: &Identity, on: &str, raw: &str) -> ApiResult<Row> {
    let res = if on == "hosts" { &HOSTS } else { &GROUPS };
    fetch_visible(state, &ident.actor, res, raw).await
}

/// `POST /hosts/N/ad_hoc_commands/` and `/groups/N/…`: inventory and limit come from the
/// host or group, whatever the body says.
pub async fn create_on(
    on: &'static str,
    State(state): Ctx,
    Auth(ident): Auth,
    Path(raw): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Response> {
    let parent = target(&state, &ident, on, &raw).await?;
    let mut body = json_body(&headers, &body)?;
    drop_client_options(&mut body);
    if let Some(obj) = body.as_object_mut() {
        obj.insert("inventory".into(), parent["inventory"].clone());
        obj.insert("limit".into(), json!(text(&parent, "name")));
    }
    let (id, out) = create_row(&state, &ident, &AD_HOC_COMMANDS, body).await?;
    Ok(created(id, out))
}

/// `GET /hosts/N/ad_hoc_commands/` and `/groups/N/…`: the commands run on that host or group.
pub async fn list_on(
    on: &'static str,
    State(state): Ctx,
    Auth(ident): Auth,
    Path(raw): Path<String>,
    uri: OriginalUri,
    RawQuery(q): RawQuery,
) -> ApiResult<Json<Value>> {
    let parent = target(&state, &ident, on, &raw).await?;
    let base = Filter::eq("inventory", ColumnType::Int, parent["inventory"].clone()).and(
        Filter::eq("limit", ColumnType::Text, json!(text(&parent, "name"))),
    );
    page_response(&state, &ident.actor, &AD_HOC_COMMANDS, base, &uri, &q).await
}

macro_rules! on_parent {
    ($m:ident, $on:literal) => {
        pub mod $m {
            use super::*;
            pub async fn create(
                s: Ctx,
                a: Auth,
                p: Path<String>,
                h: HeaderMap,
                b: Bytes,
            ) -> ApiResult<Response> {
                super::create_on($on, s, a, p, h, b).await
            }
            pub async fn list(
                s: Ctx,
                a: Auth,
                p: Path<String>,
                u: OriginalUri,
                q: RawQuery,
            ) -> ApiResult<Json<Value>> {
                super::list_on($on, s, a, p, u, q).await
            }
        }
    };
}
on_parent!(host, "hosts");
on_parent!(group, "groups");
