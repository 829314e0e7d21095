//! `/api/v2/settings/`: every setting AWX serves, by category (`all` and `changed` too), with
//! AWX's names, defaults and OPTIONS. The registry, the write rules and the reads are the
//! domain's (`rawx_domain::settings`); this is their HTTP face.

use crate::auth::Auth;
use crate::error::{ApiError, ApiResult};
use crate::handlers::json_body;
use crate::AppState;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use rawx_domain::settings::{self as registry, categories as slugs, default_of, Kind, Setting};
use serde_json::{json, Map, Value};
use std::sync::Arc;

/// A category's settings, or 404.
fn in_slug(slug: &str) -> ApiResult<Vec<&'static Setting>> {
    registry::in_slug(slug).ok_or(ApiError::NotFound)
}

fn may_read(auth: &Auth) -> ApiResult<()> {
    let a = &auth.0.actor;
    if a.is_superuser || a.is_system_auditor {
        Ok(())
    } else {
        Err(ApiError::forbidden())
    }
}

fn may_write(auth: &Auth) -> ApiResult<()> {
    let a = &auth.0.actor;
    if a.is_superuser && !a.read_only_token {
        Ok(())
    } else {
        Err(ApiError::forbidden())
    }
}

pub async fn categories(auth: Auth) -> ApiResult<Json<Value>> {
    may_read(&auth)?;
    // AWX sorts them by slug.
    let mut all = slugs();
    all.sort_by_key(|(slug, _)| *slug);
    let results: Vec<Value> = all
        .iter()
        .map(|(s, n)| json!({"url": format!("/api/v2/settings/{s}/"), "slug": s, "name": n}))
        .collect();
    Ok(Json(
        json!({"count": results.len(), "next": null, "previous": null, "results": results}),
    ))
}

async fn render(state: &AppState, slug: &str) -> ApiResult<Value> {
    let settings = in_slug(slug)?;
    let mut out = Map::new();
    if slug == "changed" {
        // Only what was stored (AWX's `changed` skips the defaults).
        out = state.settings().changed().await;
    } else {
        for s in settings {
            out.insert(s.name.clone(), state.settings().value(&s.name).await);
        }
    }
    for s in in_slug(slug)?.iter().filter(|s| s.encrypted) {
        if let Some(v) = out.get_mut(&s.name) {
            if v.as_str().is_some_and(|p| !p.is_empty()) {
                *v = Value::String(rawx_model::secret::ENCRYPTED.into());
            }
        }
    }
    Ok(Value::Object(out))
}

pub async fn get_category(
    State(state): State<Arc<AppState>>,
    auth: Auth,
    Path(slug): Path<String>,
) -> ApiResult<Json<Value>> {
    may_read(&auth)?;
    Ok(Json(render(&state, &slug).await?))
}

async fn write(state: &AppState, slug: &str, body: Value, replace: bool) -> ApiResult<Json<Value>> {
    registry::write(
        &*state.store,
        &state.key,
        &state.config.install_uuid,
        slug,
        &body,
        replace,
    )
    .await?;
    Ok(Json(render(state, slug).await?))
}

pub async fn put_category(
    State(state): State<Arc<AppState>>,
    auth: Auth,
    Path(slug): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    may_write(&auth)?;
    write(&state, &slug, json_body(&headers, &body)?, true).await
}

pub async fn patch_category(
    State(state): State<Arc<AppState>>,
    auth: Auth,
    Path(slug): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    may_write(&auth)?;
    write(&state, &slug, json_body(&headers, &body)?, false).await
}

pub async fn reset_category(
    State(state): State<Arc<AppState>>,
    auth: Auth,
    Path(slug): Path<String>,
) -> ApiResult<StatusCode> {
    may_write(&auth)?;
    registry::reset(&*state.store, &slug).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn options_category(auth: Auth, Path(slug): Path<String>) -> ApiResult<Response> {
    may_read(&auth)?;
    let settings = in_slug(&slug)?;
    let meta = |s: &Setting, _write: bool| {
        // AWX's Metadata.get_field_info, with DRF's label_lookup for the type.
        let t = match s.kind {
            Kind::Bool => "boolean",
            Kind::Int => "integer",
            Kind::Str => "string",
            Kind::Url => "url",
            Kind::Choice => "choice",
            Kind::Dict => "nested object",
            Kind::List => "list",
            Kind::Datetime => "datetime",
            Kind::Pk => "field",
        };
        let mut m = json!({
            "type": t, "required": false, "hidden": s.hidden, "read_only": s.read_only,
            "label": s.label, "help_text": s.help_text(),
            "category": s.category, "category_slug": s.slug, "defined_in_file": false,
        });
        if let Some(u) = &s.unit {
            m["unit"] = json!(u);
        }
        if let Some(v) = s.min_value {
            m["min_value"] = json!(v);
        }
        if let Some(v) = s.max_value {
            m["max_value"] = json!(v);
        }
        if let Some(p) = &s.placeholder {
            m["placeholder"] = p.clone();
        }
        if !s.callback_url && s.name != "INSTALL_UUID" {
            m["default"] = default_of(s);
        }
        if let Some(c) = &s.choices {
            let mut choices: Vec<Value> = c.iter().map(|(v, n)| json!([v, n])).collect();
            if !c.iter().any(|(v, _)| v.is_null() || v == "") {
                if s.allow_blank {
                    choices.insert(0, json!(["", "---------"]));
                }
                if s.allow_null {
                    choices.insert(0, json!([null, "---------"]));
                }
            }
            m["choices"] = json!(choices);
        }
        if s.kind == Kind::List && s.field.starts_with("StringList") {
            m["child"] =
                json!({"type": "string", "required": true, "hidden": false, "read_only": false});
        }
        m
    };
    let get: Map<String, Value> = settings
        .iter()
        .map(|s| (s.name.clone(), meta(s, false)))
        .collect();
    let mut actions = json!({"GET": get});
    let superuser = auth.0.actor.is_superuser;
    if superuser {
        let put: Map<String, Value> = settings
            .iter()
            .filter(|s| !s.read_only)
            .map(|s| (s.name.clone(), meta(s, true)))
            .collect();
        actions["PUT"] = Value::Object(put);
    }
    let body = json!({
        "name": "Setting Detail",
        "description": "",
        "renders": ["application/json", "text/html"],
        "parses": ["application/json"],
        "actions": actions,
    });
    let allow = if superuser {
        "GET, PUT, PATCH, DELETE, HEAD, OPTIONS"
    } else {
        "GET, HEAD, OPTIONS"
    };
    Ok(([(header::ALLOW, allow)], Json(body)).into_response())
}

/// `OPTIONS /api/v2/settings/`: the category list (the CLI reads it to build `settings`).
pub async fn options_categories(auth: Auth) -> ApiResult<Response> {
    may_read(&auth)?;
    let get = json!({
        "url": {"type": "string", "label": "Url", "filterable": false},
        "slug": {"type": "string", "label": "Slug", "filterable": false},
        "name": {"type": "string", "label": "Name", "filterable": false},
    });
    let body = json!({
        "name": "Setting Categories", "description": "",
        "renders": ["application/json", "text/html"], "parses": ["application/json"],
        "actions": {"GET": get},
    });
    Ok(([(header::ALLOW, "GET, HEAD, OPTIONS")], Json(body)).into_response())
}

/// `GET` of the test endpoint: nothing to show but that it is there (administrators only).
pub async fn logging_test_get(auth: Auth) -> ApiResult<Json<Value>> {
    may_write(&auth)?;
    Ok(Json(json!({})))
}

/// `POST /api/v2/settings/logging/test/`, as AWX's: 409 while external logging is off; a
/// test message logged at ERROR to the first configured logger; 202 when the aggregator can be
/// reached with the stored settings, 400 with the reason when not.
pub async fn logging_test(State(state): State<Arc<AppState>>, auth: Auth) -> ApiResult<Response> {
    may_write(&auth)?;
    if !state.settings().get(registry::LOG_AGGREGATOR_ENABLED).await {
        return Ok((
            StatusCode::CONFLICT,
            Json(json!({"error": "Logging not enabled"})),
        )
            .into_response());
    }
    let cfg = registry::log_config(
        &state.settings(),
        &state.key,
        &state.config.node_name,
        std::path::Path::new(""),
    )
    .await;
    match registry::logging_test(&cfg).await {
        Ok(()) => Ok(StatusCode::ACCEPTED.into_response()),
        Err(e) => Ok((StatusCode::BAD_REQUEST, Json(json!({"error": e}))).into_response()),
    }
}
