//! `/api/v2/instances/`: read through the generic resource routes; this module adds what AWX
//! lets admins do to an instance — PATCH `capacity_adjustment`, `enabled`, `managed_by_policy`
//! (the capacity follows at once, by `rawx_model::capacity`) — and `health_check/`, which
//! only records the request: the task role runs the check (the API never runs work). Instance
//! groups' figures come from their stored members (`group_figures`), and membership changes by
//! hand follow AWX's rules (`members_post`).

use crate::auth::Auth;
use crate::error::{ApiError, ApiResult};
use crate::handlers::{self, fetch_visible, json_body};
use crate::resource::{ResourceApi, Routes};
use crate::view::Renderer;
use crate::AppState;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::get;
use axum::Json;
use rawx_domain::messages::{publish, Wake};
use rawx_model::filter::Filter;
use rawx_model::resources::{
    INSTANCES, INSTANCE_GROUPS, INSTANCE_GROUP_MEMBERS, INSTANCE_PEERS, JOB_KINDS,
    RECEPTOR_ADDRESSES,
};
use rawx_model::schema::Resource;
use rawx_model::schema::{int, text, ColumnType};
use rawx_model::validate::{validate, FieldErrors, Mode};
use rawx_model::Row;
use serde_json::Map;
use serde_json::{json, Value};
use std::sync::Arc;

type Ctx = State<Arc<AppState>>;

pub struct Instances;
pub struct InstanceGroups;

#[async_trait::async_trait]
impl ResourceApi for Instances {
    fn schema(&self) -> &'static Resource {
        &INSTANCES
    }

    fn related(&self, row: &Row, related: &mut Map<String, Value>) {
        let id = int(row, "id").unwrap_or_default();
        related.insert(
            "health_check".into(),
            json!(format!("/api/v2/instances/{id}/health_check/")),
        );
        // AWX offers a bundle for execution and hop nodes it does not manage itself.
        let node_type = text(row, "node_type");
        if (node_type == "execution" || node_type == "hop")
            && row.get("managed") != Some(&json!(true))
        {
            related.insert(
                "install_bundle".into(),
                json!(format!("/api/v2/instances/{id}/install_bundle/")),
            );
        }
    }

    /// AWX's `peers` (the addresses this node dials), `reverse_peers` (the instances that dial
    /// one of its addresses), and its canonical address's `protocol` and
    /// `peers_from_control_nodes`.
    async fn derived(
        &self,
        r: &mut Renderer<'_>,
        row: &Row,
        out: &mut Map<String, Value>,
    ) -> ApiResult<()> {
        let store = &r.state.store;
        let id = int(row, "id").unwrap_or_default();
        let mut peers = store.linked(&INSTANCE_PEERS, true, id).await?;
        peers.sort_unstable();
        let mine = store
            .list_all(
                &RECEPTOR_ADDRESSES,
                &Filter::eq("instance", ColumnType::Int, json!(id)),
                &[("id", false)],
            )
            .await?;
        let mut reverse = Vec::new();
        for a in &mine {
            for i in store
                .linked(&INSTANCE_PEERS, false, int(a, "id").unwrap_or_default())
                .await?
            {
                if !reverse.contains(&i) {
                    reverse.push(i);
                }
            }
        }
        reverse.sort_unstable();
        let canonical = mine
            .iter()
            .find(|a| a.get("canonical") == Some(&json!(true)));
        out.insert("peers".into(), json!(peers));
        out.insert("reverse_peers".into(), json!(reverse));
        out.insert(
            "protocol".into(),
            json!(canonical.map(|a| text(a, "protocol")).unwrap_or("")),
        );
        out.insert(
            "peers_from_control_nodes".into(),
            json!(
                canonical.is_some_and(|a| a.get("peers_from_control_nodes") == Some(&json!(true)))
            ),
        );
        Ok(())
    }

    fn routes(&self) -> Routes {
        vec![
            (
                "/api/v2/instances/{id}/",
                get(retrieve)
                    .patch(patch)
                    .put(patch)
                    .delete(delete)
                    .options(options),
            ),
            (
                "/api/v2/instances/{id}/install_bundle/",
                get(super::install_bundle::get),
            ),
            (
                "/api/v2/instances/{id}/health_check/",
                get(health_check_get).post(health_check_post),
            ),
            (
                "/api/v2/instances/{id}/instance_groups/",
                get(instance_groups::list)
                    .post(instance_groups::post)
                    .options(instance_groups::options),
            ),
        ]
    }
}

#[async_trait::async_trait]
impl ResourceApi for InstanceGroups {
    fn schema(&self) -> &'static Resource {
        &INSTANCE_GROUPS
    }

    async fn derived(
        &self,
        r: &mut Renderer<'_>,
        row: &Row,
        out: &mut Map<String, Value>,
    ) -> ApiResult<()> {
        group_figures(r.state, row, out).await
    }

    fn routes(&self) -> Routes {
        vec![(
            "/api/v2/instance_groups/{id}/instances/",
            get(group_instances::list)
                .post(group_instances::post)
                .options(group_instances::options),
        )]
    }
}

pub async fn retrieve(s: Ctx, a: Auth, Path(raw): Path<String>) -> ApiResult<Json<Value>> {
    handlers::retrieve(s, a, Path(("instances".into(), raw))).await
}

pub async fn options(
    s: Ctx,
    a: Auth,
    Path(raw): Path<String>,
) -> ApiResult<axum::response::Response> {
    handlers::detail_options(s, a, Path(("instances".into(), raw))).await
}

pub async fn delete() -> ApiError {
    ApiError::MethodNotAllowed("DELETE".into())
}

/// `capacity_adjustment` as AWX's DecimalField(max_digits=3, decimal_places=2, 0..1).
fn adjustment(v: &Value) -> Result<String, String> {
    let n = match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse::<f64>().ok(),
        _ => None,
    }
    .filter(|n| n.is_finite())
    .ok_or("A valid number is required.")?;
    if n < 0.0 {
        return Err("Ensure this value is greater than or equal to 0.".into());
    }
    if n > 1.0 {
        return Err("Ensure this value is less than or equal to 1.".into());
    }
    if (n * 100.0 - (n * 100.0).round()).abs() > 1e-9 {
        return Err("Ensure that there are no more than 2 decimal places.".into());
    }
    Ok(format!("{n:.2}"))
}

pub async fn patch(
    State(state): Ctx,
    Auth(ident): Auth,
    Path(raw): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    let actor = &ident.actor;
    let existing = fetch_visible(&state, actor, &INSTANCES, &raw).await?;
    if !actor.is_superuser || actor.read_only_token {
        return Err(ApiError::forbidden());
    }
    let mut body = json_body(&headers, &body)?;
    let adj = body
        .as_object_mut()
        .and_then(|m| m.remove("capacity_adjustment"));
    let mut row = validate(&INSTANCES, &body, Mode::Patch).map_err(ApiError::Fields)?;
    if let Some(v) = adj {
        let a = adjustment(&v)
            .map_err(|m| ApiError::Fields(FieldErrors::one("capacity_adjustment", m)))?;
        row.insert("capacity_adjustment".into(), json!(a));
    }
    let mut merged = existing.clone();
    merged.extend(row.clone());
    let adj: f64 = text(&merged, "capacity_adjustment").parse().unwrap_or(1.0);
    let capacity = rawx_model::capacity::instance_capacity(
        int(&merged, "cpu_capacity").unwrap_or(0),
        int(&merged, "mem_capacity").unwrap_or(0),
        adj,
        !text(&merged, "errors").is_empty(),
    );
    row.insert("capacity".into(), json!(capacity));
    row.insert("modified_by".into(), json!(actor.user_id));
    let id = int(&existing, "id").unwrap_or_default();
    crate::write::update(&state, &ident, &INSTANCES, id, &row).await?;
    // The task manager schedules against the new capacity at its next pass.
    publish(&*state.bus, &Wake { job: None });
    let stored = state.store.get(&INSTANCES, id).await?;
    Ok(Json(
        Renderer::new(&state, actor)
            .render(&INSTANCES, &stored)
            .await?,
    ))
}

pub async fn health_check_get(
    State(state): Ctx,
    Auth(ident): Auth,
    Path(raw): Path<String>,
) -> ApiResult<Json<Value>> {
    let row = fetch_visible(&state, &ident.actor, &INSTANCES, &raw).await?;
    let mut out = serde_json::Map::new();
    for k in [
        "uuid",
        "errors",
        "capacity",
        "cpu",
        "memory",
        "cpu_capacity",
        "mem_capacity",
        "version",
        "last_health_check",
        "health_check_started",
    ] {
        out.insert(k.into(), row.get(k).cloned().unwrap_or(Value::Null));
    }
    out.insert("health_check_pending".into(), json!(pending(&row)));
    Ok(Json(Value::Object(out)))
}

fn pending(row: &rawx_model::Row) -> bool {
    let started = text(row, "health_check_started");
    !started.is_empty() && started > text(row, "last_health_check")
}

pub async fn health_check_post(
    State(state): Ctx,
    Auth(ident): Auth,
    Path(raw): Path<String>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let actor = &ident.actor;
    let row = fetch_visible(&state, actor, &INSTANCES, &raw).await?;
    if !actor.is_superuser || actor.read_only_token {
        return Err(ApiError::forbidden());
    }
    let host = text(&row, "hostname").to_string();
    if text(&row, "node_type") == "hop" {
        return Err(ApiError::BadRequest(format!(
            "Cannot run a health check on {host}: hop nodes run no work."
        )));
    }
    if pending(&row) {
        return Ok((
            StatusCode::OK,
            Json(json!({"msg": format!("Health check was already in progress for {host}.")})),
        ));
    }
    let mut r = rawx_model::Row::new();
    r.insert(
        "health_check_started".into(),
        json!(rawx_model::now_string()),
    );
    let id = int(&row, "id").unwrap_or_default();
    crate::write::update(&state, &ident, &INSTANCES, id, &r).await?;
    Ok((
        StatusCode::OK,
        Json(json!({"msg": format!("Health check is running for {host}.")})),
    ))
}

/// An instance group's figures, from its members (AWX's task-manager view: members that are
/// enabled and ready): `capacity`, what the jobs running on them take, `jobs_running`,
/// `instances`; `jobs_total` counts the jobs that ran in the group; `policy_instance_list` as
/// the list it is. Before any instance is registered the group shows this machine.
pub async fn group_figures(
    state: &AppState,
    row: &rawx_model::Row,
    out: &mut serde_json::Map<String, Value>,
) -> ApiResult<()> {
    let id = int(row, "id").unwrap_or_default();
    let store = &state.store;
    let instances = store
        .list_all(&INSTANCES, &Filter::All(vec![]), &[("id", false)])
        .await?;
    let members = store.linked(&INSTANCE_GROUP_MEMBERS, true, id).await?;
    let counted: Vec<&rawx_model::Row> = instances
        .iter()
        .filter(|i| int(i, "id").is_some_and(|i| members.contains(&i)))
        .filter(|i| i.get("enabled") != Some(&json!(false)) && text(i, "node_state") == "ready")
        .collect();
    let alone = instances.is_empty();
    let capacity = if alone {
        rawx_model::capacity::local_capacity()
    } else {
        counted.iter().filter_map(|i| int(i, "capacity")).sum()
    };
    let nodes: Vec<String> = counted
        .iter()
        .map(|i| text(i, "hostname").to_string())
        .collect();
    let used = rawx_domain::capacity::consumed(&**store, (!alone).then_some(&nodes[..])).await?;
    let (consumed, running) = (used.capacity, used.jobs);
    let mut total = 0;
    for kind in JOB_KINDS {
        if kind.resource.field("instance_group").is_some() {
            let ran_here = Filter::eq("instance_group", ColumnType::Int, json!(id));
            total += store.count(kind.resource, &ran_here).await?;
        }
    }
    out.insert("capacity".into(), json!(capacity));
    out.insert("consumed_capacity".into(), json!(consumed));
    out.insert(
        "percent_capacity_remaining".into(),
        json!(rawx_model::capacity::percent_remaining(capacity, consumed)),
    );
    out.insert("jobs_running".into(), json!(running));
    out.insert("jobs_total".into(), json!(total));
    out.insert(
        "instances".into(),
        json!(if alone { 1 } else { counted.len() }),
    );
    out.insert(
        "policy_instance_list".into(),
        json!(rawx_model::resources::policy_list(row)),
    );
    Ok(())
}

/// Ping's `instance_groups`: each group's name, capacity and member hostnames; `None` before
/// any instance is registered (or when the store cannot say).
pub async fn ping_groups(state: &AppState) -> Option<Value> {
    let all = Filter::All(vec![]);
    let instances = state
        .store
        .list_all(&INSTANCES, &all, &[("id", false)])
        .await
        .ok()?;
    if instances.is_empty() {
        return None;
    }
    let groups = state
        .store
        .list_all(&INSTANCE_GROUPS, &all, &[("id", false)])
        .await
        .ok()?;
    let mut out = Vec::new();
    for g in &groups {
        let ids = state
            .store
            .linked(&INSTANCE_GROUP_MEMBERS, true, int(g, "id")?)
            .await
            .ok()?;
        let members: Vec<&rawx_model::Row> = instances
            .iter()
            .filter(|i| int(i, "id").is_some_and(|i| ids.contains(&i)))
            .collect();
        let capacity: i64 = members
            .iter()
            .filter(|i| i.get("enabled") != Some(&json!(false)))
            .filter_map(|i| int(i, "capacity"))
            .sum();
        let hosts: Vec<&str> = members.iter().map(|i| text(i, "hostname")).collect();
        out.push(json!({"name": text(g, "name"), "capacity": capacity, "instances": hosts}));
    }
    Some(Value::Array(out))
}

/// One side of the membership: listed like any sub-list, changed by `members_post`.
macro_rules! membership_side {
    ($(#[$doc:meta])* $side:ident, $parent:literal, $child:literal, $from_group:literal) => {
        $(#[$doc])*
        pub mod $side {
            use super::*;

            pub async fn list(
                s: Ctx,
                a: Auth,
                Path(raw): Path<String>,
                uri: axum::extract::OriginalUri,
                q: axum::extract::RawQuery,
            ) -> ApiResult<Json<Value>> {
                let path = Path(($parent.into(), raw, $child.into()));
                handlers::sub_list(s, a, path, uri, q).await
            }

            pub async fn options(
                s: Ctx,
                a: Auth,
                Path(raw): Path<String>,
            ) -> ApiResult<axum::response::Response> {
                let path = Path(($parent.into(), raw, $child.into()));
                handlers::sub_options(s, a, path).await
            }

            pub async fn post(
                s: Ctx,
                a: Auth,
                Path(raw): Path<String>,
                headers: HeaderMap,
                body: Bytes,
            ) -> ApiResult<StatusCode> {
                members_post(s, a, $from_group, raw, headers, body).await
            }
        }
    };
}

membership_side!(
    /// `/api/v2/instance_groups/N/instances/`.
    group_instances, "instance_groups", "instances", true
);
membership_side!(
    /// `/api/v2/instances/N/instance_groups/`: the same membership seen from the instance.
    instance_groups, "instances", "instance_groups", false
);

/// POST `{"id": N}` (associate) or `{"id": N, "disassociate": true}` to either side of a
/// membership: AWX's rules — superusers only, hop and control-only nodes are never moved by
/// hand, a hybrid node stays in `controlplane` — and, as AWX does, the instance's hostname is
/// added to (or taken from) the group's `policy_instance_list`, so the policies keep it (or
/// may place it again: a 100% group takes it back). The task role re-applies the policies on
/// its next pass, which this request asks for.
async fn members_post(
    State(state): Ctx,
    Auth(ident): Auth,
    from_group: bool,
    raw: String,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<StatusCode> {
    let actor = &ident.actor;
    let (parent_res, other_res) = if from_group {
        (&INSTANCE_GROUPS, &INSTANCES)
    } else {
        (&INSTANCES, &INSTANCE_GROUPS)
    };
    let parent = fetch_visible(&state, actor, parent_res, &raw).await?;
    if !actor.is_superuser || actor.read_only_token {
        return Err(ApiError::forbidden());
    }
    let body = json_body(&headers, &body)?;
    let other_id = body
        .get("id")
        .ok_or_else(|| {
            ApiError::Msg(format!(
                "Send {{\"id\": N}} to associate an existing {} (add \"disassociate\": true to remove it).",
                other_res.verbose.to_lowercase()
            ))
        })?
        .as_i64()
        .ok_or_else(|| ApiError::Msg("\"id\" must be an integer.".into()))?;
    let other = fetch_visible(&state, actor, other_res, &other_id.to_string())
        .await
        .map_err(|e| match e {
            ApiError::NotFound | ApiError::Forbidden(_) => ApiError::Msg(format!(
                "{} with id {other_id} does not exist.",
                other_res.verbose
            )),
            e => e,
        })?;
    let (group, instance) = if from_group {
        (parent, other)
    } else {
        (other, parent)
    };
    let host = text(&instance, "hostname").to_string();
    let group_name = text(&group, "name").to_string();
    rawx_model::resources::may_join(&host, text(&instance, "node_type")).map_err(ApiError::Msg)?;
    let disassociate = body
        .get("disassociate")
        .is_some_and(|v| v.as_bool() != Some(false));
    if disassociate
        && text(&instance, "node_type") == "hybrid"
        && group_name == rawx_model::resources::CONTROL_PLANE
    {
        return Err(ApiError::Msg(format!(
            "Cannot disassociate hybrid instance {host} from {group_name}."
        )));
    }
    let gid = int(&group, "id").unwrap_or_default();
    let iid = int(&instance, "id").unwrap_or_default();
    // The list first: a task-manager pass between the two writes then agrees with the link.
    let mut list = rawx_model::resources::policy_list(&group);
    if disassociate {
        list.retain(|h| *h != host);
    } else if !list.contains(&host) {
        list.push(host);
    }
    if list != rawx_model::resources::policy_list(&group) {
        let mut r = rawx_model::Row::new();
        r.insert(
            "policy_instance_list".into(),
            json!(serde_json::to_string(&list).unwrap_or_else(|_| "[]".into())),
        );
        crate::write::update(&state, &ident, &INSTANCE_GROUPS, gid, &r).await?;
    }
    crate::write::link(
        &state,
        &ident,
        &INSTANCE_GROUP_MEMBERS,
        gid,
        iid,
        !disassociate,
    )
    .await?;
    publish(&*state.bus, &Wake { job: None });
    Ok(StatusCode::NO_CONTENT)
}
