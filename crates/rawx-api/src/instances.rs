//! `/api/v2/instances/`: read through the generic resource routes; this module adds what AWX
//! lets admins do to an instance — PATCH `capacity_adjustment`, `enabled`, `managed_by_policy`
//! (the capacity follows at once, by `rawx_model::capacity`) — and `health_check/`, which
//! only records the request: the task role runs the check (the API never runs work).

use crate::auth::Auth;
use crate::error::{ApiError, ApiResult};
use crate::handlers::{self, fetch_visible, json_body};
use crate::render::Renderer;
use crate::AppState;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use rawx_model::resources::INSTANCES;
use rawx_model::schema::{int, text};
use rawx_model::validate::{validate, FieldErrors, Mode};
use serde_json::{json, Value};
use std::sync::Arc;

type Ctx = State<Arc<AppState>>;

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
    state.store.update(&INSTANCES, id, &row).await?;
    // The task manager schedules against the new capacity at its next pass.
    state.bus.publish(rawx_bus::SCHEDULE, json!({}));
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
    state
        .store
        .update(&INSTANCES, int(&row, "id").unwrap_or_default(), &r)
        .await?;
    Ok((
        StatusCode::OK,
        Json(json!({"msg": format!("Health check is running for {host}.")})),
    ))
}
