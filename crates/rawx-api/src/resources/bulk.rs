//! `/api/v2/bulk/`: AWX's bulk host create and delete (awx/api/views/bulk.py and the
//! `BulkHostCreateSerializer` / `BulkHostDeleteSerializer` of awx/api/serializers.py), with
//! their limits (the `BULK_HOST_MAX_CREATE` / `BULK_HOST_MAX_DELETE` settings), messages and
//! answers. Each host is written through the one write path. `job_launch` is AWX's
//! `BulkJobLaunchSerializer`: a workflow job whose nodes are the jobs, run by the workflow
//! engine.

use crate::auth::Auth;
use crate::error::{ApiError, ApiResult};
use crate::handlers::{db_write_error, json_body};
use crate::view::{url_of, Renderer};
use crate::{write, AppState};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use rawx_domain::settings;
use rawx_model::filter::Filter;
use rawx_model::resources::{HOSTS, INVENTORIES};
use rawx_model::schema::ColumnType;
use rawx_model::validate::{validate, Mode};
use rawx_model::Row;
use serde_json::{json, Map, Value};
use std::sync::Arc;

type Ctx = State<Arc<AppState>>;

/// The fields of AWX's `BulkHostSerializer`.
const HOST_FIELDS: &[&str] = &["name", "enabled", "instance_id", "description", "variables"];

pub async fn root(_auth: Auth) -> Json<Value> {
    Json(json!({
        "host_create": "/api/v2/bulk/host_create/",
        "host_delete": "/api/v2/bulk/host_delete/",
        "job_launch": "/api/v2/bulk/job_launch/",
    }))
}

pub async fn host_create_get(_auth: Auth) -> Json<Value> {
    Json(json!({"detail": "Bulk create hosts with this endpoint"}))
}

pub async fn host_delete_get(_auth: Auth) -> Json<Value> {
    Json(json!({"detail": "Bulk delete hosts with this endpoint"}))
}

pub async fn job_launch_get(_auth: Auth) -> Json<Value> {
    Json(
        json!({"detail": "Specify a list of unified job templates to launch alongside their launchtime parameters"}),
    )
}

fn bad(body: Value) -> ApiError {
    ApiError::Status(StatusCode::BAD_REQUEST, body)
}

fn non_field(msg: impl Into<String>) -> ApiError {
    bad(json!({"non_field_errors": [msg.into()]}))
}

/// DRF's `ListField(allow_empty=False)` of a required field.
fn list_of<'a>(body: &'a Value, field: &str) -> ApiResult<&'a Vec<Value>> {
    match body.get(field) {
        None => Err(bad(json!({field: ["This field is required."]}))),
        Some(Value::Array(a)) if a.is_empty() => {
            Err(bad(json!({field: ["This list may not be empty."]})))
        }
        Some(Value::Array(a)) => Ok(a),
        Some(v) => Err(bad(json!({field: [format!(
            "Expected a list of items but got type \"{}\".",
            match v {
                Value::String(_) => "str",
                Value::Object(_) => "dict",
                Value::Bool(_) => "bool",
                Value::Null => "NoneType",
                _ => "int",
            }
        )]}))),
    }
}

/// Python's repr of a list of names, as AWX's message prints it.
fn py_list(names: &[String]) -> String {
    let quoted: Vec<String> = names
        .iter()
        .map(|n| format!("'{}'", n.replace('\\', "\\\\").replace('\'', "\\'")))
        .collect();
    format!("[{}]", quoted.join(", "))
}

pub async fn host_create(
    State(state): Ctx,
    Auth(ident): Auth,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let body = json_body(&headers, &body)?;
    let inv_id = match body.get("inventory") {
        None | Some(Value::Null) => {
            return Err(bad(json!({"inventory": ["This field is required."]})))
        }
        Some(v) => v.as_i64().ok_or_else(|| {
            bad(json!({"inventory": [format!("Incorrect type. Expected pk value, received {}.", if v.is_string() { "str" } else { "dict" })]}))
        })?,
    };
    let hosts = list_of(&body, "hosts")?;
    let Ok(inv) = state.store.get(&INVENTORIES, inv_id).await else {
        return Err(bad(
            json!({"inventory": [format!("Invalid pk \"{inv_id}\" - object does not exist.")]}),
        ));
    };
    // Each host as AWX's BulkHostSerializer (a HostSerializer of five fields) checks it.
    let mut rows = Vec::new();
    let mut errors = Map::new();
    for (i, h) in hosts.iter().enumerate() {
        let Some(obj) = h.as_object() else {
            errors.insert(
                i.to_string(),
                json!({"non_field_errors": ["Invalid data. Expected a dictionary, but got list."]}),
            );
            continue;
        };
        let mut host: Map<String, Value> = obj
            .iter()
            .filter(|(k, _)| HOST_FIELDS.contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        host.insert("inventory".into(), json!(inv_id));
        match validate(&HOSTS, &Value::Object(host), Mode::Create) {
            Ok(row) => rows.push(row),
            Err(e) => {
                errors.insert(i.to_string(), json!(e.0));
            }
        }
    }
    if !errors.is_empty() {
        return Err(bad(json!({"hosts": errors})));
    }
    if inv["kind"].as_str().is_some_and(|k| !k.is_empty()) {
        return Err(non_field(
            "Hosts can only be created in manual inventories (not smart or constructed types).",
        ));
    }
    let max = state.settings().get(settings::BULK_HOST_MAX_CREATE).await;
    if rows.len() as i64 > max {
        return Err(non_field(
            "Number of hosts exceeds system setting BULK_HOST_MAX_CREATE",
        ));
    }
    let mut r = Renderer::new(&state, &ident.actor);
    let visible =
        crate::handlers::fetch_visible(&state, &ident.actor, &INVENTORIES, &inv_id.to_string())
            .await
            .is_ok();
    if !ident.actor.is_superuser
        && (!visible
            || ident.actor.read_only_token
            || !state.api(&INVENTORIES).can_change(&mut r, &inv).await?)
    {
        return Err(non_field(format!(
            "Inventory with id {inv_id} not found or lack permissions to add hosts."
        )));
    }
    let of_inv = Filter::eq("inventory", ColumnType::Int, json!(inv_id));
    let current: Vec<String> = state
        .store
        .list_all(&HOSTS, &of_inv, &[("id", false)])
        .await?
        .iter()
        .filter_map(|h| h["name"].as_str().map(str::to_string))
        .collect();
    let new: Vec<String> = rows
        .iter()
        .filter_map(|h| h.get("name").and_then(Value::as_str).map(str::to_string))
        .collect();
    let dups: Vec<String> = new
        .iter()
        .filter(|n| current.contains(n) || new.iter().filter(|m| m == n).count() > 1)
        .cloned()
        .collect();
    if !dups.is_empty() {
        return Err(non_field(format!(
            "Hostnames must be unique in an inventory. Duplicates found: {}",
            py_list(&dups)
        )));
    }
    let inv_url = url_of(&INVENTORIES, inv_id);
    let mut made = Vec::new();
    for mut row in rows {
        row.insert("created_by".into(), json!(ident.actor.user_id));
        row.insert("modified_by".into(), json!(ident.actor.user_id));
        let id = write::create(&state, &ident, &HOSTS, &row)
            .await
            .map_err(|e| db_write_error(&HOSTS, e))?;
        let stored = state.store.get(&HOSTS, id).await?;
        let mut item = Map::new();
        for f in HOST_FIELDS {
            item.insert((*f).into(), stored.get(*f).cloned().unwrap_or(Value::Null));
        }
        item.insert("id".into(), json!(id));
        item.insert("url".into(), json!(url_of(&HOSTS, id)));
        item.insert("inventory".into(), json!(inv_url));
        made.push(Value::Object(item));
    }
    Ok((
        StatusCode::CREATED,
        Json(json!({"url": inv_url, "hosts": made})),
    ))
}

pub async fn host_delete(
    State(state): Ctx,
    Auth(ident): Auth,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let body = json_body(&headers, &body)?;
    let ids = list_of(&body, "hosts")?;
    let max = state.settings().get(settings::BULK_HOST_MAX_DELETE).await;
    if ids.len() as i64 > max {
        return Err(bad(json!({
            "ERROR": "Number of hosts exceeds system setting BULK_HOST_MAX_DELETE",
            "BULK_HOST_MAX_DELETE": max,
            "Hosts_count": ids.len(),
        })));
    }
    // AWX looks the ids up without a permission filter; those not found are named.
    let mut found: Vec<Row> = Vec::new();
    let mut missing = Map::new();
    for v in ids {
        let row = match v.as_i64() {
            Some(id) => state.store.get(&HOSTS, id).await.ok(),
            None => None,
        };
        match row {
            Some(row) if !found.iter().any(|f| f["id"] == row["id"]) => found.push(row),
            Some(_) => {}
            None => {
                let key = v.as_str().map_or_else(|| v.to_string(), str::to_string);
                missing.insert(
                    key,
                    json!("Hosts do not exist or you lack permission to delete it"),
                );
            }
        }
    }
    if !missing.is_empty() {
        return Err(bad(json!({"hosts": missing})));
    }
    let mut inventories: Vec<i64> = found
        .iter()
        .filter_map(|h| h["inventory"].as_i64())
        .collect();
    inventories.sort_unstable();
    inventories.dedup();
    let mut invs = Vec::new();
    for id in &inventories {
        invs.push(state.store.get(&INVENTORIES, *id).await?);
    }
    let mut r = Renderer::new(&state, &ident.actor);
    let mut denied = Map::new();
    for inv in &invs {
        let may = ident.actor.is_superuser
            || (!ident.actor.read_only_token
                && state.api(&INVENTORIES).can_change(&mut r, inv).await?);
        if !may {
            denied.insert(
                inv["name"].as_str().unwrap_or_default().into(),
                json!("Lack permissions to delete hosts from this inventory."),
            );
        }
    }
    if !denied.is_empty() {
        return Err(ApiError::Status(
            StatusCode::FORBIDDEN,
            json!({"inventories": denied}),
        ));
    }
    let not_manual: Map<String, Value> = invs
        .iter()
        .filter(|i| i["kind"].as_str().is_some_and(|k| !k.is_empty()))
        .map(|i| {
            (
                i["name"].as_str().unwrap_or_default().to_string(),
                json!("Hosts can only be deleted from manual inventories."),
            )
        })
        .collect();
    if !not_manual.is_empty() {
        return Err(bad(json!({"inventories": not_manual})));
    }
    let mut result = Map::new();
    for h in &found {
        let id = h["id"].as_i64().unwrap_or_default();
        write::delete(&state, &ident, &HOSTS, id)
            .await
            .map_err(|e| db_write_error(&HOSTS, e))?;
        result.insert(
            id.to_string(),
            json!(format!(
                "The host {} was deleted",
                h["name"].as_str().unwrap_or_default()
            )),
        );
    }
    Ok((StatusCode::CREATED, Json(json!({"hosts": result}))))
}

/// The node fields a bulk job may set (AWX's `BulkJobNodeSerializer`), beyond its template.
const BULK_NODE_FIELDS: &[&str] = &[
    "identifier",
    "extra_data",
    "inventory",
    "scm_branch",
    "job_type",
    "job_tags",
    "skip_tags",
    "limit",
    "diff_mode",
    "verbosity",
    "forks",
    "job_slice_count",
    "timeout",
    "all_parents_must_converge",
];

/// `POST /api/v2/bulk/job_launch/` (AWX's `BulkJobLaunchSerializer`): checks the list, each
/// template's type and the caller's right to run it (`execute_role`, `update_role` for
/// projects and inventory sources), the inventories and credentials it may use, then makes
/// one workflow job with a node per job and answers it.
pub async fn job_launch(
    State(state): Ctx,
    Auth(ident): Auth,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<(StatusCode, Json<Value>)> {
    use rawx_model::resources::{CREDENTIALS, TYPE_COLUMN, UNIFIED_JOB_TEMPLATES, WORKFLOW_JOBS};
    let actor = &ident.actor;
    let body = json_body(&headers, &body)?;
    let jobs = list_of(&body, "jobs")?;
    let max = state.settings().get(settings::BULK_JOB_MAX_LAUNCH).await;
    if jobs.len() as i64 > max {
        return Err(non_field(
            "Number of requested jobs exceeds system setting BULK_JOB_MAX_LAUNCH",
        ));
    }
    let mut r = Renderer::new(&state, actor);
    let mut identifiers = std::collections::HashSet::new();
    let mut nodes = Vec::new();
    let mut not_allowed: std::collections::BTreeMap<&str, Vec<i64>> = Default::default();
    for (i, job) in jobs.iter().enumerate() {
        let Some(obj) = job.as_object() else {
            return Err(bad(
                json!({"jobs": [format!("Item {i}: Invalid data. Expected a dictionary.")]}),
            ));
        };
        let Some(ujt) = obj.get("unified_job_template").and_then(Value::as_i64) else {
            return Err(bad(
                json!({"jobs": [{"unified_job_template": ["This field is required."]}]}),
            ));
        };
        let mut node = Row::new();
        for f in BULK_NODE_FIELDS {
            if let Some(v) = obj.get(*f) {
                node.insert((*f).into(), v.clone());
            }
        }
        if let Some(Value::Object(m)) = node.get("extra_data") {
            let s = Value::Object(m.clone()).to_string();
            node.insert("extra_data".into(), json!(s));
        }
        match obj.get("identifier").and_then(Value::as_str) {
            Some(id) => {
                if !identifiers.insert(id.to_string()) {
                    return Err(non_field(format!("Identifier {id} not unique")));
                }
            }
            None => {
                node.insert(
                    "identifier".into(),
                    json!(format!("bulk-{i}-{}", rand::random::<u64>())),
                );
            }
        }
        node.insert("unified_job_template".into(), json!(ujt));
        // The template: a kind bulk jobs run, that the caller may run.
        let allowed = match state.store.get(&UNIFIED_JOB_TEMPLATES, ujt).await {
            Ok(t) => {
                let (ct, role) = match rawx_model::schema::text(&t, TYPE_COLUMN) {
                    "job_template" => ("job_templates", "execute_role"),
                    "workflow_job_template" => ("workflow_job_templates", "execute_role"),
                    "project" => ("projects", "update_role"),
                    "inventory_source" => ("inventories", "update_role"),
                    other => {
                        return Err(non_field(format!(
                            "Template types {} not allowed in bulk jobs",
                            other.replace('_', " ")
                        )))
                    }
                };
                let on = if ct == "inventories" {
                    rawx_model::schema::int(
                        &state
                            .store
                            .get(&rawx_model::resources::INVENTORY_SOURCES, ujt)
                            .await?,
                        "inventory",
                    )
                    .unwrap_or_default()
                } else {
                    ujt
                };
                !actor.read_only_token && r.holds(ct, on, &[role]).await?
            }
            Err(_) => false,
        };
        if !allowed {
            not_allowed
                .entry("Unified Job Templates")
                .or_default()
                .push(ujt);
        }
        if let Some(inv) = obj.get("inventory").and_then(Value::as_i64) {
            if state.store.get(&INVENTORIES, inv).await.is_err()
                || !r.holds("inventories", inv, &["use_role"]).await?
            {
                not_allowed.entry("Inventories").or_default().push(inv);
            }
        }
        let mut creds = Vec::new();
        for c in obj
            .get("credentials")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_i64)
        {
            if state.store.get(&CREDENTIALS, c).await.is_err()
                || !r.holds("credentials", c, &["use_role"]).await?
            {
                not_allowed.entry("Credentials").or_default().push(c);
            }
            creds.push(c);
        }
        // AWX's `BulkJobNodeSerializer.instance_groups`: groups the caller can see, given to
        // the job as its launch prompt.
        let mut groups = Vec::new();
        for g in obj
            .get("instance_groups")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_i64)
        {
            if !matches!(
                rawx_domain::access::visible(
                    &*state.store,
                    actor,
                    &rawx_model::resources::INSTANCE_GROUPS,
                    g
                )
                .await,
                Ok(Some(_))
            ) {
                not_allowed.entry("Instance Groups").or_default().push(g);
            }
            groups.push(g);
        }
        nodes.push((node, creds, groups));
    }
    if let Some((model, ids)) = not_allowed.into_iter().next() {
        let set: Vec<String> = ids.iter().map(i64::to_string).collect();
        return Err(non_field(format!(
            "{model} {{{}}} not found or you don't have permissions to access it",
            set.join(", ")
        )));
    }
    // The organization whose permissions the job inherits: the one given, else one the
    // caller belongs to (AWX's `check_organization_permission`).
    let org = match body.get("organization").and_then(Value::as_i64) {
        Some(o) => {
            if !actor.is_superuser && !actor.member_of.contains(&o) {
                return Err(non_field(format!(
                    "Organizations {{{o}}} not found or you don't have permissions to access it"
                )));
            }
            Some(o)
        }
        None if actor.is_superuser => None,
        None => match actor.member_of.first() {
            Some(o) => Some(*o),
            None => {
                return Err(non_field(
                    "User not part of any organization, please assign an organization to assign to the job",
                ))
            }
        },
    };
    let mut wj = Row::new();
    let name = body
        .get("name")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .unwrap_or("Bulk Job Launch");
    wj.insert("name".into(), json!(name));
    wj.insert(
        "description".into(),
        body.get("description").cloned().unwrap_or(json!("")),
    );
    wj.insert("organization".into(), json!(org));
    for k in ["inventory", "limit", "scm_branch", "skip_tags", "job_tags"] {
        if let Some(v) = body.get(k) {
            wj.insert(k.into(), v.clone());
        }
    }
    let vars = match body.get("extra_vars") {
        Some(Value::Object(m)) => Value::Object(m.clone()).to_string(),
        Some(Value::String(s)) if !s.trim().is_empty() => {
            match rawx_model::validate::parse_vars(s) {
                Ok(m) => Value::Object(m).to_string(),
                Err(e) => return Err(bad(json!({"extra_vars": [e]}))),
            }
        }
        _ => String::new(),
    };
    wj.insert("extra_vars".into(), json!(vars));
    wj.insert("launch_type".into(), json!("manual"));
    wj.insert("launched_by_user".into(), json!(actor.user_id));
    wj.insert("created_by".into(), json!(actor.user_id));
    let id =
        rawx_domain::workflows::create_bulk_workflow_job(&*state.store, &*state.bus, wj, nodes)
            .await?;
    let stored = state.store.get(&WORKFLOW_JOBS, id).await?;
    let out = Renderer::new(&state, actor)
        .render(&WORKFLOW_JOBS, &stored)
        .await?;
    tracing::info!(
        workflow_job = id,
        user = ident.username(),
        "bulk job launch"
    );
    Ok((StatusCode::CREATED, Json(out)))
}
