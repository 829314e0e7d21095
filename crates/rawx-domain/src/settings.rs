//! AWX's settings rawx acts on: the registry (name, category, type, the one default, label,
//! help), typed reads for the code that acts on them, and the write rules. Stored overrides
//! live in the store (`settings` table, JSON text); everything else reads as its default.
//! The API renders categories and OPTIONS from this registry; the task role and the binary
//! read through `Settings`.

use crate::{DomainError, DomainResult};
use rawx_model::filter::Filter;
use rawx_model::resources::SETTINGS;
use rawx_model::schema::ColumnType;
use rawx_model::secret::SecretKey;
use rawx_model::validate::FieldErrors;
use rawx_model::Row;
use rawx_store::Store;
use serde_json::{json, Map, Value};
use std::marker::PhantomData;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SKind {
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

pub struct Setting {
    pub name: &'static str,
    pub slug: &'static str,
    pub kind: SKind,
    pub default: &'static str,
    pub label: &'static str,
    pub help: &'static str,
    pub read_only: bool,
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
pub static ALL: &[Setting] = &[
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

/// A category's display name.
pub fn slug_name(slug: &str) -> &'static str {
    match slug {
        "all" => "All",
        "system" => "System",
        "jobs" => "Jobs",
        "logging" => "Logging",
        _ => "Authentication",
    }
}

/// The settings of a category; `None` for a category that does not exist.
pub fn in_slug(slug: &str) -> Option<Vec<&'static Setting>> {
    if !SLUGS.contains(&slug) {
        return None;
    }
    Some(
        ALL.iter()
            .filter(|s| slug == "all" || s.slug == slug)
            .collect(),
    )
}

pub fn default_of(s: &Setting) -> Value {
    serde_json::from_str(s.default).expect("setting defaults are valid JSON")
}

fn def(name: &str) -> Option<&'static Setting> {
    ALL.iter().find(|s| s.name == name)
}

/// A setting read as a Rust type: its name in the registry, and the type it is read as.
pub struct Key<T> {
    pub name: &'static str,
    _t: PhantomData<fn() -> T>,
}

impl<T> Clone for Key<T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T> Copy for Key<T> {}

const fn key<T>(name: &'static str) -> Key<T> {
    Key {
        name,
        _t: PhantomData,
    }
}

/// How a stored JSON value reads as a type (`None`: it does not, and the default applies).
pub trait FromSetting: Sized {
    fn from_setting(v: &Value) -> Option<Self>;
}
impl FromSetting for bool {
    fn from_setting(v: &Value) -> Option<Self> {
        v.as_bool()
    }
}
impl FromSetting for i64 {
    fn from_setting(v: &Value) -> Option<Self> {
        v.as_i64()
    }
}
impl FromSetting for String {
    fn from_setting(v: &Value) -> Option<Self> {
        v.as_str().map(str::to_string)
    }
}
impl FromSetting for Option<String> {
    fn from_setting(v: &Value) -> Option<Self> {
        match v {
            Value::Null => Some(None),
            v => v.as_str().map(|s| Some(s.to_string())),
        }
    }
}
impl FromSetting for Option<u64> {
    fn from_setting(v: &Value) -> Option<Self> {
        match v {
            Value::Null => Some(None),
            v => v.as_u64().map(Some),
        }
    }
}
impl FromSetting for Map<String, Value> {
    fn from_setting(v: &Value) -> Option<Self> {
        v.as_object().cloned()
    }
}
impl FromSetting for Vec<String> {
    fn from_setting(v: &Value) -> Option<Self> {
        v.as_array().map(|a| {
            a.iter()
                .filter_map(|i| i.as_str().map(str::to_string))
                .collect()
        })
    }
}

pub const TOWER_URL_BASE: Key<String> = key("TOWER_URL_BASE");
pub const CLUSTER_NODE_HEARTBEAT_PERIOD: Key<i64> = key("CLUSTER_NODE_HEARTBEAT_PERIOD");
pub const CLUSTER_NODE_MISSED_HEARTBEAT_TOLERANCE: Key<i64> =
    key("CLUSTER_NODE_MISSED_HEARTBEAT_TOLERANCE");
pub const SESSION_COOKIE_AGE: Key<i64> = key("SESSION_COOKIE_AGE");
pub const AUTH_BASIC_ENABLED: Key<bool> = key("AUTH_BASIC_ENABLED");
pub const OAUTH2_PROVIDER: Key<Map<String, Value>> = key("OAUTH2_PROVIDER");
pub const MAX_FORKS: Key<i64> = key("MAX_FORKS");
pub const AWX_TASK_ENV: Key<Map<String, Value>> = key("AWX_TASK_ENV");
pub const LOG_AGGREGATOR_HOST: Key<Option<String>> = key("LOG_AGGREGATOR_HOST");
pub const LOG_AGGREGATOR_PORT: Key<Option<u64>> = key("LOG_AGGREGATOR_PORT");
pub const LOG_AGGREGATOR_TYPE: Key<Option<String>> = key("LOG_AGGREGATOR_TYPE");
pub const LOG_AGGREGATOR_USERNAME: Key<String> = key("LOG_AGGREGATOR_USERNAME");
pub const LOG_AGGREGATOR_PASSWORD: Key<String> = key("LOG_AGGREGATOR_PASSWORD");
pub const LOG_AGGREGATOR_LOGGERS: Key<Vec<String>> = key("LOG_AGGREGATOR_LOGGERS");
pub const LOG_AGGREGATOR_ENABLED: Key<bool> = key("LOG_AGGREGATOR_ENABLED");
pub const LOG_AGGREGATOR_PROTOCOL: Key<String> = key("LOG_AGGREGATOR_PROTOCOL");
pub const LOG_AGGREGATOR_TCP_TIMEOUT: Key<i64> = key("LOG_AGGREGATOR_TCP_TIMEOUT");
pub const LOG_AGGREGATOR_VERIFY_CERT: Key<bool> = key("LOG_AGGREGATOR_VERIFY_CERT");
pub const LOG_AGGREGATOR_LEVEL: Key<String> = key("LOG_AGGREGATOR_LEVEL");
pub const LOG_AGGREGATOR_ACTION_QUEUE_SIZE: Key<i64> = key("LOG_AGGREGATOR_ACTION_QUEUE_SIZE");
pub const LOG_AGGREGATOR_ACTION_MAX_DISK_USAGE_GB: Key<i64> =
    key("LOG_AGGREGATOR_ACTION_MAX_DISK_USAGE_GB");
pub const LOG_AGGREGATOR_MAX_DISK_USAGE_PATH: Key<String> =
    key("LOG_AGGREGATOR_MAX_DISK_USAGE_PATH");

/// Reads settings from the store: stored overrides, else the registry's default.
pub struct Settings<'a> {
    store: &'a dyn Store,
    install_uuid: &'a str,
}

impl<'a> Settings<'a> {
    pub fn new(store: &'a dyn Store, install_uuid: &'a str) -> Self {
        Settings {
            store,
            install_uuid,
        }
    }

    /// The value as AWX shows it (`null` for a name rawx does not know).
    pub async fn value(&self, name: &str) -> Value {
        let Some(def) = def(name) else {
            return Value::Null;
        };
        if name == "INSTALL_UUID" {
            return Value::String(self.install_uuid.to_string());
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

    /// The setting as its type; a stored value of another type reads as the default.
    pub async fn get<T: FromSetting>(&self, key: Key<T>) -> T {
        let fallback = || {
            T::from_setting(&default_of(def(key.name).expect("a key names a setting")))
                .expect("a key's type reads its default")
        };
        T::from_setting(&self.value(key.name).await).unwrap_or_else(fallback)
    }
}

/// Whether `v` is a valid value of `s`, or AWX's message saying why not.
pub fn check(s: &Setting, v: &Value) -> Result<(), String> {
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

/// Writes a category: `body` sets settings of `slug`; with `replace`, those it leaves out go
/// back to their defaults. Passwords are sealed with `key` (`$encrypted$` written back keeps
/// the stored one). Nothing is written when any value is wrong.
pub async fn write(
    store: &dyn Store,
    key: &SecretKey,
    install_uuid: &str,
    slug: &str,
    body: &Value,
    replace: bool,
) -> DomainResult<()> {
    let settings = in_slug(slug).ok_or(DomainError::NotFound)?;
    let obj = body.as_object().ok_or_else(|| {
        DomainError::Fields(FieldErrors::one(
            "__all__",
            "Invalid data. Expected a dictionary.",
        ))
    })?;
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
                        key.seal(plain)
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
        logging_rules(&Settings::new(store, install_uuid), &writes, &mut errors).await;
    }
    if !errors.is_empty() {
        return Err(DomainError::Fields(errors));
    }
    for (name, value) in writes {
        put_one(store, name, value).await?;
    }
    Ok(())
}

/// Puts every writable setting of `slug` back to its default.
pub async fn reset(store: &dyn Store, slug: &str) -> DomainResult<()> {
    for s in in_slug(slug)
        .ok_or(DomainError::NotFound)?
        .into_iter()
        .filter(|s| !s.read_only)
    {
        put_one(store, s.name, None).await?;
    }
    Ok(())
}

/// Stores an override, or removes it (`None`) so the default shows again.
async fn put_one(store: &dyn Store, name: &'static str, value: Option<Value>) -> DomainResult<()> {
    let f = Filter::eq("key", ColumnType::Text, Value::String(name.into()));
    let existing = store.find(&SETTINGS, &f).await?;
    match (existing, value) {
        (Some(row), None) => {
            store
                .delete(&SETTINGS, row["id"].as_i64().unwrap_or_default())
                .await?
        }
        (None, None) => {}
        (Some(row), Some(v)) => {
            let mut r = Row::new();
            r.insert("value".into(), Value::String(v.to_string()));
            store
                .update(&SETTINGS, row["id"].as_i64().unwrap_or_default(), &r)
                .await?;
        }
        (None, Some(v)) => {
            let mut r = Row::new();
            r.insert("key".into(), Value::String(name.into()));
            r.insert("value".into(), Value::String(v.to_string()));
            store.insert(&SETTINGS, &r).await?;
        }
    }
    Ok(())
}

/// AWX's rule for the logging category: external logging cannot be on without a host and a
/// type (the values after this write, stored ones filling in what it leaves out).
async fn logging_rules(
    settings: &Settings<'_>,
    writes: &[(&'static str, Option<Value>)],
    errors: &mut FieldErrors,
) {
    if !writes.iter().any(|(n, _)| n.starts_with("LOG_AGGREGATOR_")) {
        return;
    }
    let after = |name: &'static str| async move {
        match writes.iter().find(|(n, _)| *n == name) {
            Some((_, Some(v))) => v.clone(),
            Some((_, None)) => def(name).map_or(Value::Null, default_of),
            None => settings.value(name).await,
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
    settings: &Settings<'_>,
    key: &SecretKey,
    node: &str,
    disk_fallback: &std::path::Path,
) -> rawx_logship::LogConfig {
    let d = rawx_logship::LogConfig::default();
    let sealed = settings.get(LOG_AGGREGATOR_PASSWORD).await;
    let password = if sealed.is_empty() {
        String::new()
    } else {
        key.open(&sealed).unwrap_or_else(|e| {
            tracing::warn!(error = %e, "cannot open LOG_AGGREGATOR_PASSWORD; shipping without it");
            String::new()
        })
    };
    let path = settings.get(LOG_AGGREGATOR_MAX_DISK_USAGE_PATH).await;
    let disk_path = if path.is_empty() || path == "/var/lib/awx" {
        disk_fallback.to_path_buf()
    } else {
        std::path::PathBuf::from(path)
    };
    rawx_logship::LogConfig {
        enabled: settings.get(LOG_AGGREGATOR_ENABLED).await,
        host: settings.get(LOG_AGGREGATOR_HOST).await.unwrap_or_default(),
        port: settings
            .get(LOG_AGGREGATOR_PORT)
            .await
            .and_then(|p| u16::try_from(p).ok()),
        kind: settings
            .get(LOG_AGGREGATOR_TYPE)
            .await
            .unwrap_or_else(|| "other".into()),
        protocol: rawx_logship::Protocol::parse(&settings.get(LOG_AGGREGATOR_PROTOCOL).await)
            .unwrap_or(d.protocol),
        username: settings.get(LOG_AGGREGATOR_USERNAME).await,
        password,
        loggers: settings.get(LOG_AGGREGATOR_LOGGERS).await,
        level: rawx_logship::parse_level(&settings.get(LOG_AGGREGATOR_LEVEL).await)
            .unwrap_or(d.level),
        tcp_timeout: std::time::Duration::from_secs(
            settings.get(LOG_AGGREGATOR_TCP_TIMEOUT).await.max(1) as u64,
        ),
        verify_cert: settings.get(LOG_AGGREGATOR_VERIFY_CERT).await,
        queue_size: settings.get(LOG_AGGREGATOR_ACTION_QUEUE_SIZE).await.max(1) as usize,
        max_disk_bytes: (settings
            .get(LOG_AGGREGATOR_ACTION_MAX_DISK_USAGE_GB)
            .await
            .max(0) as u64)
            << 30,
        disk_path,
        node: node.to_string(),
        install_uuid: settings.install_uuid.to_string(),
    }
}

/// AWX's logging test (`/api/v2/settings/logging/test/`): a test message at ERROR to the first
/// configured logger, then whether the aggregator answers with these settings (`Err`: why not,
/// in AWX's words).
pub async fn logging_test(cfg: &rawx_logship::LogConfig) -> Result<(), String> {
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
        return Err(format!("Port required for {p}"));
    }
    rawx_logship::check_connection(cfg)
        .await
        .map_err(|e| format!("{e:#}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_default_reads_as_its_key_type() {
        fn reads<T: FromSetting>(k: Key<T>) {
            let d = default_of(def(k.name).expect("registered"));
            assert!(T::from_setting(&d).is_some(), "{}", k.name);
        }
        reads(TOWER_URL_BASE);
        reads(CLUSTER_NODE_HEARTBEAT_PERIOD);
        reads(CLUSTER_NODE_MISSED_HEARTBEAT_TOLERANCE);
        reads(SESSION_COOKIE_AGE);
        reads(AUTH_BASIC_ENABLED);
        reads(OAUTH2_PROVIDER);
        reads(MAX_FORKS);
        reads(AWX_TASK_ENV);
        reads(LOG_AGGREGATOR_HOST);
        reads(LOG_AGGREGATOR_PORT);
        reads(LOG_AGGREGATOR_TYPE);
        reads(LOG_AGGREGATOR_USERNAME);
        reads(LOG_AGGREGATOR_PASSWORD);
        reads(LOG_AGGREGATOR_LOGGERS);
        reads(LOG_AGGREGATOR_ENABLED);
        reads(LOG_AGGREGATOR_PROTOCOL);
        reads(LOG_AGGREGATOR_TCP_TIMEOUT);
        reads(LOG_AGGREGATOR_VERIFY_CERT);
        reads(LOG_AGGREGATOR_LEVEL);
        reads(LOG_AGGREGATOR_ACTION_QUEUE_SIZE);
        reads(LOG_AGGREGATOR_ACTION_MAX_DISK_USAGE_GB);
        reads(LOG_AGGREGATOR_MAX_DISK_USAGE_PATH);
    }
}
