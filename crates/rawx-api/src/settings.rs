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
    /// A string or null.
    OptStr,
    /// An integer or null.
    OptInt,
    /// One of the values, or null when `nullable`.
    Choice(&'static [&'static str], bool),
    /// A list of some of the values.
    List(&'static [&'static str]),
    /// Stored sealed, read back as `$encrypted$` (`$encrypted$` written back keeps it).
    Password,
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
    s("CLUSTER_NODE_HEARTBEAT_PERIOD", "system", SKind::Int, "60", "Cluster node heartbeat period",
      "Seconds between a task node's heartbeats as AWX counts them; another node is lost after CLUSTER_NODE_HEARTBEAT_PERIOD × CLUSTER_NODE_MISSED_HEARTBEAT_TOLERANCE seconds without one (judged on the database's clock), and its running jobs are failed."),
    s("CLUSTER_NODE_MISSED_HEARTBEAT_TOLERANCE", "system", SKind::Int, "2", "Missed heartbeats tolerated",
      "How many heartbeat periods a task node may miss before another node declares it lost."),
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
    s("LOG_AGGREGATOR_HOST", "logging", SKind::OptStr, "null", "Logging Aggregator",
      "Hostname/IP where external logs will be sent to."),
    s("LOG_AGGREGATOR_PORT", "logging", SKind::OptInt, "null", "Logging Aggregator Port",
      "Port on Logging Aggregator to send logs to (if required and not provided in Logging Aggregator)."),
    s("LOG_AGGREGATOR_TYPE", "logging", SKind::Choice(rawx_logship::TYPES, true), "null", "Logging Aggregator Type",
      "Format messages for the chosen log aggregator."),
    s("LOG_AGGREGATOR_USERNAME", "logging", SKind::Str, "\"\"", "Logging Aggregator Username",
      "Username for external log aggregator (if required; HTTP/s only)."),
    s("LOG_AGGREGATOR_PASSWORD", "logging", SKind::Password, "\"\"", "Logging Aggregator Password/Token",
      "Password or authentication token for external log aggregator (if required; HTTP/s only)."),
    s("LOG_AGGREGATOR_LOGGERS", "logging", SKind::List(rawx_logship::LOGGERS),
      "[\"awx\", \"activity_stream\", \"job_events\", \"system_tracking\", \"broadcast_websocket\"]",
      "Loggers Sending Data to Log Aggregator Form",
      "List of loggers that will send HTTP logs to the collector, these can include any or all of: awx - service logs, activity_stream - activity stream records, job_events - callback data from Ansible job events, system_tracking - facts gathered from scan jobs, broadcast_websocket - errors pertaining to websockets broadcast metrics."),
    s("LOG_AGGREGATOR_INDIVIDUAL_FACTS", "logging", SKind::Bool, "false", "Log System Tracking Facts Individually",
      "If set, system tracking facts will be sent for each package, service, or other item found in a scan, allowing for greater search query granularity. If unset, facts will be sent as a single dictionary, allowing for greater efficiency in fact processing."),
    s("LOG_AGGREGATOR_ENABLED", "logging", SKind::Bool, "false", "Enable External Logging",
      "Enable sending logs to external log aggregator."),
    s("LOG_AGGREGATOR_PROTOCOL", "logging", SKind::Choice(&["https", "tcp", "udp"], false), "\"https\"", "Logging Aggregator Protocol",
      "Protocol used to communicate with log aggregator. HTTPS/HTTP assumes HTTPS unless http:// is explicitly used in the Logging Aggregator hostname."),
    s("LOG_AGGREGATOR_TCP_TIMEOUT", "logging", SKind::Int, "5", "TCP Connection Timeout",
      "Number of seconds for a TCP connection to external log aggregator to timeout. Applies to HTTPS and TCP log aggregator protocols."),
    s("LOG_AGGREGATOR_VERIFY_CERT", "logging", SKind::Bool, "true", "Enable/disable HTTPS certificate verification",
      "Flag to control enable/disable of certificate verification when LOG_AGGREGATOR_PROTOCOL is \"https\". If enabled, the log handler will verify certificate sent by external log aggregator before establishing connection."),
    s("LOG_AGGREGATOR_LEVEL", "logging", SKind::Choice(&["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"], false), "\"INFO\"",
      "Logging Aggregator Level Threshold",
      "Level threshold used by log handler. Severities from lowest to highest are DEBUG, INFO, WARNING, ERROR, CRITICAL. Messages less severe than the threshold will be ignored by log handler. (messages under category awx.anlytics ignore this setting)"),
    s("LOG_AGGREGATOR_ACTION_QUEUE_SIZE", "logging", SKind::Int, "131072", "Maximum number of messages that can be stored in the log action queue",
      "Defines how large the rsyslog action queue can grow in number of messages stored. This can have an impact on memory utilization. When the queue reaches 75% of this number, the queue will start writing to disk (queue.highWatermark in rsyslog). When it reaches 90%, NOTICE, INFO, and DEBUG messages will start to be discarded (queue.discardMark with queue.discardSeverity=5)."),
    s("LOG_AGGREGATOR_ACTION_MAX_DISK_USAGE_GB", "logging", SKind::Int, "1", "Maximum disk persistence for rsyslogd action queuing (in GB)",
      "Amount of data to store (in gigabytes) if an rsyslog action takes time to process an incoming message (defaults to 1). Equivalent to the rsyslogd queue.maxdiskspace setting on the action (e.g. omhttp). It stores files in the directory specified by LOG_AGGREGATOR_MAX_DISK_USAGE_PATH."),
    s("LOG_AGGREGATOR_MAX_DISK_USAGE_PATH", "logging", SKind::Str, "\"/var/lib/awx\"", "File system location for rsyslogd disk persistence",
      "Location to persist logs that should be retried after an outage of the external log aggregator (defaults to /var/lib/awx). Equivalent to the rsyslogd queue.spoolDirectory setting."),
    s("LOG_AGGREGATOR_RSYSLOGD_DEBUG", "logging", SKind::Bool, "false", "Enable rsyslogd debugging",
      "Enabled high verbosity debugging for rsyslogd.  Useful for debugging connection issues for external log aggregation."),
];

pub const SLUGS: &[&str] = &["all", "system", "jobs", "authentication", "logging"];

fn slug_name(slug: &str) -> &'static str {
    match slug {
        "all" => "All",
        "system" => "System",
        "jobs" => "Jobs",
        "logging" => "Logging",
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
        let mut v = state.setting(s.name).await;
        if s.kind == SKind::Password && v.as_str().is_some_and(|p| !p.is_empty()) {
            v = Value::String(rawx_model::secret::ENCRYPTED.into());
        }
        out.insert(s.name.into(), v);
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
        SKind::OptStr => v.is_string() || v.is_null(),
        SKind::OptInt => v.as_i64().is_some() || v.is_null(),
        SKind::Choice(choices, nullable) => {
            (nullable && v.is_null()) || v.as_str().is_some_and(|c| choices.contains(&c))
        }
        SKind::List(choices) => v.as_array().is_some_and(|a| {
            a.iter()
                .all(|i| i.as_str().is_some_and(|c| choices.contains(&c)))
        }),
        SKind::Password => v.is_string(),
    };
    if ok {
        Ok(())
    } else {
        Err(match s.kind {
            SKind::Bool => "Must be a valid boolean.".into(),
            SKind::Int => "A valid integer is required.".into(),
            SKind::Str | SKind::OptStr | SKind::Password => "Not a valid string.".into(),
            SKind::OptInt => "A valid integer is required.".into(),
            SKind::Choice(..) => format!(
                "\"{}\" is not a valid choice.",
                v.as_str().map_or_else(|| v.to_string(), str::to_string)
            ),
            SKind::List(choices) => match v.as_array() {
                Some(a) => {
                    let bad = a
                        .iter()
                        .find(|i| !i.as_str().is_some_and(|c| choices.contains(&c)))
                        .map(|i| i.as_str().map_or_else(|| i.to_string(), str::to_string))
                        .unwrap_or_default();
                    format!("\"{bad}\" is not a valid choice.")
                }
                None => format!(
                    "Expected a list of items but got type \"{}\".",
                    type_name(v)
                ),
            },
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
            // Writing back what a read showed keeps the stored secret.
            Some(Value::String(p))
                if s.kind == SKind::Password && p == rawx_model::secret::ENCRYPTED => {}
            Some(v) => match check(s, v) {
                Ok(()) if s.kind == SKind::Password => {
                    let plain = v.as_str().unwrap_or_default();
                    let sealed = if plain.is_empty() {
                        String::new()
                    } else {
                        state.key.seal(plain)
                    };
                    writes.push((s.name, Some(Value::String(sealed))));
                }
                Ok(()) => writes.push((s.name, Some(v.clone()))),
                Err(m) => errors.add(s.name, m),
            },
            None if replace => writes.push((s.name, None)),
            None => {}
        }
    }
    if errors.is_empty() {
        logging_rules(state, &writes, &mut errors).await;
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
            SKind::OptStr | SKind::Password => "string",
            SKind::OptInt => "integer",
            SKind::Choice(..) => "choice",
            SKind::List(_) => "list",
        };
        let mut m = json!({
            "type": t, "label": s.label, "help_text": s.help,
            "category": slug_name(s.slug), "category_slug": s.slug, "defined_in_file": false,
        });
        if write {
            m["required"] = json!(false);
            m["default"] = default_of(s);
        }
        match s.kind {
            SKind::Choice(c, nullable) => {
                m["choices"] = json!(c.iter().map(|c| [c, c]).collect::<Vec<_>>());
                m["allow_null"] = json!(nullable);
            }
            SKind::List(c) => {
                m["child"] = json!({"type": "choice", "choices": c.iter().map(|c| [c, c]).collect::<Vec<_>>()});
            }
            SKind::OptStr | SKind::OptInt => m["allow_null"] = json!(true),
            _ => {}
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

/// AWX's rule for the logging category: external logging cannot be on without a host and a
/// type (the values after this write, stored ones filling in what it leaves out).
async fn logging_rules(
    state: &AppState,
    writes: &[(&'static str, Option<Value>)],
    errors: &mut FieldErrors,
) {
    if !writes.iter().any(|(n, _)| n.starts_with("LOG_AGGREGATOR_")) {
        return;
    }
    let after = |name: &'static str| async move {
        match writes.iter().find(|(n, _)| *n == name) {
            Some((_, Some(v))) => v.clone(),
            Some((_, None)) => ALL
                .iter()
                .find(|s| s.name == name)
                .map_or(Value::Null, default_of),
            None => state.setting(name).await,
        }
    };
    if after("LOG_AGGREGATOR_ENABLED").await != json!(true) {
        return;
    }
    if after("LOG_AGGREGATOR_HOST")
        .await
        .as_str()
        .is_none_or(str::is_empty)
    {
        errors.add(
            "LOG_AGGREGATOR_ENABLED",
            "Cannot enable log aggregator without providing host.",
        );
    }
    if after("LOG_AGGREGATOR_TYPE").await.is_null() {
        errors.add(
            "LOG_AGGREGATOR_ENABLED",
            "Cannot enable log aggregator without providing type.",
        );
    }
}

/// The stored logging settings as the shipper's configuration (password opened). `node` and
/// `disk_fallback` come from the process: the buffer goes to `disk_fallback` while the path
/// setting is AWX's default, which rawx does not own.
pub async fn log_config(
    state: &AppState,
    disk_fallback: &std::path::Path,
) -> rawx_logship::LogConfig {
    let d = rawx_logship::LogConfig::default();
    let str_of = |v: Value| v.as_str().map(str::to_string);
    let sealed = str_of(state.setting("LOG_AGGREGATOR_PASSWORD").await).unwrap_or_default();
    let password = if sealed.is_empty() {
        String::new()
    } else {
        state.key.open(&sealed).unwrap_or_else(|e| {
            tracing::warn!(error = %e, "cannot open LOG_AGGREGATOR_PASSWORD; shipping without it");
            String::new()
        })
    };
    let path =
        str_of(state.setting("LOG_AGGREGATOR_MAX_DISK_USAGE_PATH").await).unwrap_or_default();
    let disk_path = if path.is_empty() || path == "/var/lib/awx" {
        disk_fallback.to_path_buf()
    } else {
        std::path::PathBuf::from(path)
    };
    rawx_logship::LogConfig {
        enabled: state.settings_bool("LOG_AGGREGATOR_ENABLED").await,
        host: str_of(state.setting("LOG_AGGREGATOR_HOST").await).unwrap_or_default(),
        port: state
            .setting("LOG_AGGREGATOR_PORT")
            .await
            .as_u64()
            .and_then(|p| u16::try_from(p).ok()),
        kind: str_of(state.setting("LOG_AGGREGATOR_TYPE").await).unwrap_or_else(|| "other".into()),
        protocol: str_of(state.setting("LOG_AGGREGATOR_PROTOCOL").await)
            .and_then(|p| rawx_logship::Protocol::parse(&p))
            .unwrap_or(d.protocol),
        username: str_of(state.setting("LOG_AGGREGATOR_USERNAME").await).unwrap_or_default(),
        password,
        loggers: state
            .setting("LOG_AGGREGATOR_LOGGERS")
            .await
            .as_array()
            .map(|a| a.iter().filter_map(|v| str_of(v.clone())).collect())
            .unwrap_or(d.loggers),
        level: str_of(state.setting("LOG_AGGREGATOR_LEVEL").await)
            .and_then(|l| rawx_logship::parse_level(&l))
            .unwrap_or(d.level),
        tcp_timeout: std::time::Duration::from_secs(
            state
                .settings_int("LOG_AGGREGATOR_TCP_TIMEOUT")
                .await
                .max(1) as u64,
        ),
        verify_cert: state.settings_bool("LOG_AGGREGATOR_VERIFY_CERT").await,
        queue_size: state
            .settings_int("LOG_AGGREGATOR_ACTION_QUEUE_SIZE")
            .await
            .max(1) as usize,
        max_disk_bytes: (state
            .settings_int("LOG_AGGREGATOR_ACTION_MAX_DISK_USAGE_GB")
            .await
            .max(0) as u64)
            << 30,
        disk_path,
        node: state.config.node_name.clone(),
        install_uuid: state.config.install_uuid.clone(),
    }
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
    if !state.settings_bool("LOG_AGGREGATOR_ENABLED").await {
        return Ok((
            StatusCode::CONFLICT,
            Json(json!({"error": "Logging not enabled"})),
        )
            .into_response());
    }
    let cfg = log_config(&state, std::path::Path::new("")).await;
    match cfg.loggers.first().map(String::as_str) {
        Some("job_events") => {
            tracing::error!(target: "awx.analytics.job_events", "AWX Connection Test Message")
        }
        Some("activity_stream") => {
            tracing::error!(target: "awx.analytics.activity_stream", "AWX Connection Test Message")
        }
        Some("system_tracking") => {
            tracing::error!(target: "awx.analytics.system_tracking", "AWX Connection Test Message")
        }
        Some("broadcast_websocket") => tracing::error!(
            target: "awx.analytics.broadcast_websocket",
            "AWX Connection Test Message"
        ),
        _ => tracing::error!(target: "awx", "AWX Connection Test Message"),
    }
    let port_needed = matches!(
        cfg.protocol,
        rawx_logship::Protocol::Tcp | rawx_logship::Protocol::Udp
    );
    if port_needed && cfg.port.is_none() {
        let p = if cfg.protocol == rawx_logship::Protocol::Tcp {
            "tcp"
        } else {
            "udp"
        };
        return Ok((
            StatusCode::BAD_REQUEST,
            Json(json!({"error": format!("Port required for {p}")})),
        )
            .into_response());
    }
    match rawx_logship::check_connection(&cfg).await {
        Ok(()) => Ok(StatusCode::ACCEPTED.into_response()),
        Err(e) => Ok((
            StatusCode::BAD_REQUEST,
            Json(json!({"error": format!("{e:#}")})),
        )
            .into_response()),
    }
}
