//! `/api/v2/settings/`: AWX's settings by category, with AWX's names, for the settings rawx
//! acts on. Stored overrides live in the store; everything else reads as its default.

use crate::auth::Auth;
use crate::error::{ApiError, ApiResult};
use crate::handlers::json_body;
use crate::AppState;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use rawx_model::filter::Filter;
use rawx_model::resources::SETTINGS;
use rawx_model::schema::ColumnType;
use rawx_model::validate::FieldErrors;
use rawx_model::Row;
use serde_json::{json, Map, Value};
use std::sync::Arc;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SKind {
    Bool,
    Int,
    Str,
    Dict,
}

struct Setting {
    name: &'static str,
    slug: &'static str,
    kind: SKind,
    default: &'static str,
    label: &'static str,
    help: &'static str,
    read_only: bool,
}

const fn s(
    name: &'static str,
    slug: &'static str,
    kind: SKind,
    default: &'static str,
    label: &'static str,
    help: &'static str,
) -> Setting {
    Setting {
        name,
        slug,
        kind,
        default,
        label,
        help,
        read_only: false,
    }
}

/// The settings rawx has behaviour for. `INSTALL_UUID` is read-only.
static ALL: &[Setting] = &[
    s("TOWER_URL_BASE", "system", SKind::Str, "\"https://towerhost\"", "Base URL of the service",
      "This is used by services like notifications to render a valid url to the service."),
    Setting { read_only: true, ..s("INSTALL_UUID", "system", SKind::Str, "\"\"", "Unique identifier for an installation", "") },
    s("SESSION_COOKIE_AGE", "authentication", SKind::Int, "1800", "Idle Time Force Log Out",
      "Number of seconds that a user is inactive before they will need to login again."),
    s("AUTH_BASIC_ENABLED", "authentication", SKind::Bool, "true", "Enable HTTP Basic Auth",
      "Enable HTTP Basic Auth for the API Browser."),
    s("OAUTH2_PROVIDER", "authentication", SKind::Dict,
      "{\"ACCESS_TOKEN_EXPIRE_SECONDS\": 31536000000, \"AUTHORIZATION_CODE_EXPIRE_SECONDS\": 600, \"REFRESH_TOKEN_EXPIRE_SECONDS\": 2628000}",
      "OAuth 2 Timeout Settings",
      "Dictionary for customizing OAuth 2 timeouts; ACCESS_TOKEN_EXPIRE_SECONDS is how long a new token lives."),
    s("MAX_FORKS", "jobs", SKind::Int, "200", "Maximum number of forks per job",
      "Saving a Job Template with more than this number of forks will result in an error. When set to 0, no limit is applied."),
    s("DEFAULT_JOB_TIMEOUT", "jobs", SKind::Int, "0", "Default Job Timeout",
      "Maximum time in seconds to allow jobs to run. Use value of 0 to indicate that no timeout should be imposed."),
    s("AWX_TASK_ENV", "jobs", SKind::Dict, "{}", "Extra Environment Variables",
      "Additional environment variables set for playbook runs, inventory updates, project updates, and notification sending."),
];

pub const SLUGS: &[&str] = &["all", "system", "jobs", "authentication"];

fn slug_name(slug: &str) -> &'static str {
    match slug {
        "all" => "All",
        "system" => "System",
        "jobs" => "Jobs",
        _ => "Authentication",
    }
}

fn in_slug(slug: &str) -> ApiResult<Vec<&'static Setting>> {
    if !SLUGS.contains(&slug) {
        return Err(ApiError::NotFound);
    }
    Ok(ALL
        .iter()
        .filter(|s| slug == "all" || s.slug == slug)
        .collect())
}

fn default_of(s: &Setting) -> Value {
    serde_json::from_str(s.default).expect("setting defaults are valid JSON")
}

impl AppState {
    pub async fn setting(&self, name: &str) -> Value {
        let Some(def) = ALL.iter().find(|s| s.name == name) else {
            return Value::Null;
        };
        if name == "INSTALL_UUID" {
            return Value::String(self.config.install_uuid.clone());
        }
        let f = Filter::eq("key", ColumnType::Text, Value::String(name.into()));
        match self.store.find(&SETTINGS, &f).await {
            Ok(Some(row)) => row["value"]
                .as_str()
                .and_then(|v| serde_json::from_str(v).ok())
                .unwrap_or_else(|| default_of(def)),
            Ok(None) => default_of(def),
            Err(e) => {
                tracing::warn!(setting = name, error = %e, "cannot read setting; using its default");
                default_of(def)
            }
        }
    }
    pub async fn settings_bool(&self, name: &str) -> bool {
        self.setting(name).await.as_bool().unwrap_or(false)
    }
    pub async fn settings_int(&self, name: &str) -> i64 {
        self.setting(name).await.as_i64().unwrap_or(0)
    }
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
    let results: Vec<Value> = SLUGS
        .iter()
        .map(|s| json!({"url": format!("/api/v2/settings/{s}/"), "slug": s, "name": slug_name(s)}))
        .collect();
    Ok(Json(
        json!({"count": results.len(), "next": null, "previous": null, "results": results}),
    ))
}

async fn render(state: &AppState, slug: &str) -> ApiResult<Value> {
    let mut out = Map::new();
    for s in in_slug(slug)? {
        out.insert(s.name.into(), state.setting(s.name).await);
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

fn check(s: &Setting, v: &Value) -> Result<(), String> {
    let ok = match s.kind {
        SKind::Bool => v.is_boolean(),
        SKind::Int => v.as_i64().is_some(),
        SKind::Str => v.is_string(),
        SKind::Dict => v.is_object(),
    };
    if ok {
        Ok(())
    } else {
        Err(match s.kind {
            SKind::Bool => "Must be a valid boolean.".into(),
            SKind::Int => "A valid integer is required.".into(),
            SKind::Str => "Not a valid string.".into(),
            SKind::Dict => format!(
                "Expected a dictionary of items but got type \"{}\".",
                type_name(v)
            ),
        })
    }
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Array(_) => "list",
        Value::String(_) => "str",
        Value::Number(_) => "int",
        Value::Bool(_) => "bool",
        Value::Null => "NoneType",
        Value::Object(_) => "dict",
    }
}

async fn write(state: &AppState, slug: &str, body: Value, replace: bool) -> ApiResult<Json<Value>> {
    let settings = in_slug(slug)?;
    let obj = body
        .as_object()
        .ok_or_else(|| ApiError::field("__all__", "Invalid data. Expected a dictionary."))?;
    let mut errors = FieldErrors::default();
    for key in obj.keys() {
        if !settings.iter().any(|s| s.name == key) {
            errors.add(key, format!("Unknown setting for category {slug}."));
        }
    }
    let mut writes = Vec::new();
    for s in settings.iter().filter(|s| !s.read_only) {
        match obj.get(s.name) {
            Some(v) => match check(s, v) {
                Ok(()) => writes.push((s.name, Some(v.clone()))),
                Err(m) => errors.add(s.name, m),
            },
            None if replace => writes.push((s.name, None)),
            None => {}
        }
    }
    if !errors.is_empty() {
        return Err(ApiError::Fields(errors));
    }
    for (name, value) in writes {
        put_one(state, name, value).await?;
    }
    Ok(Json(render(state, slug).await?))
}

/// Stores an override, or removes it (`None`) so the default shows again.
async fn put_one(state: &AppState, name: &'static str, value: Option<Value>) -> ApiResult<()> {
    let f = Filter::eq("key", ColumnType::Text, Value::String(name.into()));
    let existing = state.store.find(&SETTINGS, &f).await?;
    match (existing, value) {
        (Some(row), None) => {
            state
                .store
                .delete(&SETTINGS, row["id"].as_i64().unwrap_or_default())
                .await?
        }
        (None, None) => {}
        (Some(row), Some(v)) => {
            let mut r = Row::new();
            r.insert("value".into(), Value::String(v.to_string()));
            state
                .store
                .update(&SETTINGS, row["id"].as_i64().unwrap_or_default(), &r)
                .await?;
        }
        (None, Some(v)) => {
            let mut r = Row::new();
            r.insert("key".into(), Value::String(name.into()));
            r.insert("value".into(), Value::String(v.to_string()));
            state.store.insert(&SETTINGS, &r).await?;
        }
    }
    Ok(())
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
    for s in in_slug(&slug)?.into_iter().filter(|s| !s.read_only) {
        put_one(&state, s.name, None).await?;
    }
    Ok(StatusCode::NO_CONTENT)
}

pub async fn options_category(auth: Auth, Path(slug): Path<String>) -> ApiResult<Response> {
    may_read(&auth)?;
    let settings = in_slug(&slug)?;
    let meta = |s: &Setting, write: bool| {
        let t = match s.kind {
            SKind::Bool => "boolean",
            SKind::Int => "integer",
            SKind::Str => "string",
            SKind::Dict => "nested object",
        };
        let mut m = json!({
            "type": t, "label": s.label, "help_text": s.help,
            "category": slug_name(s.slug), "category_slug": s.slug, "defined_in_file": false,
        });
        if write {
            m["required"] = json!(false);
            m["default"] = default_of(s);
        }
        m
    };
    let get: Map<String, Value> = settings
        .iter()
        .map(|s| (s.name.to_string(), meta(s, false)))
        .collect();
    let mut actions = json!({"GET": get});
    let superuser = auth.0.actor.is_superuser;
    if superuser {
        let put: Map<String, Value> = settings
            .iter()
            .filter(|s| !s.read_only)
            .map(|s| (s.name.to_string(), meta(s, true)))
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
