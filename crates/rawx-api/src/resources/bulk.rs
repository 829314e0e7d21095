//! `/api/v2/bulk/`: AWX's bulk host create and delete (awx/api/views/bulk.py and the
//! `BulkHostCreateSerializer` / `BulkHostDeleteSerializer` of awx/api/serializers.py), with
//! their limits (the `BULK_HOST_MAX_CREATE` / `BULK_HOST_MAX_DELETE` settings), messages and
//! answers. Each host is written through the one write path. `job_launch` is listed, as AWX
//! lists it, but AWX runs a bulk launch as a workflow job, which rawx does not have: its POST
//! is refused (405).

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
