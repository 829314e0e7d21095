//! AWX's settings: the registry of every key AWX 24.6.1 serves under `/api/v2/settings/`
//! (`settings/awx.json`, written by `scripts/gen-awx-settings.py` from AWX's `register(...)`
//! calls: category, field kind, validation arguments, label, help text, the one default),
//! the few rawx adds, typed reads for the code that acts on them, and the write rules (AWX's
//! field classes' validation and messages). Stored overrides live in the store (`settings`
//! table, JSON text); everything else reads as its default. The API renders categories and
//! OPTIONS from this registry; the task role and the binary read through `Settings`.

use crate::{DomainError, DomainResult};
use rawx_model::filter::Filter;
use rawx_model::resources::SETTINGS;
use rawx_model::schema::ColumnType;
use rawx_model::secret::SecretKey;
use rawx_model::validate::FieldErrors;
use rawx_model::Row;
use rawx_store::Store;
use serde::Deserialize;
use serde_json::{json, Map, Value};
use std::marker::PhantomData;
use std::sync::LazyLock;

/// How a setting's values are checked: the DRF field class AWX registers it with (AWX's own
/// subclasses are checked as the DRF class they extend).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Bool,
    Int,
    Str,
    Url,
    Choice,
    Dict,
    List,
    Datetime,
    /// An execution environment's id (`DEFAULT_EXECUTION_ENVIRONMENT`).
    Pk,
}

#[derive(Debug, Deserialize)]
pub struct Setting {
    pub name: String,
    pub slug: String,
    pub category: String,
    pub kind: Kind,
    /// AWX's field class, for what its subclass adds (paths, URL schemes).
    pub field: String,
    pub label: String,
    pub help: String,
    pub default: Value,
    #[serde(default)]
    pub min_value: Option<i64>,
    #[serde(default)]
    pub max_value: Option<i64>,
    #[serde(default)]
    pub allow_blank: bool,
    #[serde(default)]
    pub allow_null: bool,
    #[serde(default)]
    pub read_only: bool,
    /// Stored sealed, read back as `$encrypted$` (`$encrypted$` written back keeps it).
    #[serde(default)]
    pub encrypted: bool,
    #[serde(default)]
    pub hidden: bool,
    #[serde(default)]
    pub unit: Option<String>,
    #[serde(default)]
    pub choices: Option<Vec<(Value, String)>>,
    #[serde(default)]
    pub placeholder: Option<Value>,
    #[serde(default)]
    pub schemes: Option<Vec<String>>,
    /// Computed from `TOWER_URL_BASE` at read time (the SSO callback and metadata URLs).
    #[serde(default)]
    pub callback_url: bool,
}

impl Setting {
    /// Whether rawx does something with the value (otherwise it only stores and returns it).
    pub fn acted_on(&self) -> bool {
        ACTED_ON.contains(&self.name.as_str())
    }

    /// AWX's help text; for a setting rawx only keeps, saying so.
    pub fn help_text(&self) -> String {
        if self.acted_on() || self.read_only {
            self.help.clone()
        } else if self.help.is_empty() {
            STORED_ONLY.to_string()
        } else {
            format!("{}\n\n{STORED_ONLY}", self.help)
        }
    }

    /// Whether `v` is one of the choices (DRF compares them as text).
    fn is_choice(&self, v: &Value) -> bool {
        let text = |v: &Value| match v {
            Value::String(s) => s.clone(),
            Value::Null => String::new(),
            v => v.to_string(),
        };
        self.choices
            .iter()
            .flatten()
            .any(|(c, _)| !c.is_null() && text(c) == text(v))
    }
}

const STORED_ONLY: &str =
    "rawx stores this setting and returns it as AWX does, but does not act on it.";

/// The settings rawx has behaviour for; every other key is stored and returned only (the
/// README lists both).
pub static ACTED_ON: &[&str] = &[
    "TOWER_URL_BASE",
    "ANSIBLE_FACT_CACHE_TIMEOUT",
    "AWX_ROLES_ENABLED",
    "AWX_COLLECTIONS_ENABLED",
    "INSTALL_UUID",
    "CLUSTER_NODE_HEARTBEAT_PERIOD",
    "CLUSTER_NODE_MISSED_HEARTBEAT_TOLERANCE",
    "SESSION_COOKIE_AGE",
    "AUTH_BASIC_ENABLED",
    "OAUTH2_PROVIDER",
    "MAX_FORKS",
    "AWX_TASK_ENV",
    "LOG_AGGREGATOR_HOST",
    "LOG_AGGREGATOR_PORT",
    "LOG_AGGREGATOR_TYPE",
    "LOG_AGGREGATOR_USERNAME",
    "LOG_AGGREGATOR_PASSWORD",
    "LOG_AGGREGATOR_LOGGERS",
    "LOG_AGGREGATOR_ENABLED",
    "LOG_AGGREGATOR_PROTOCOL",
    "LOG_AGGREGATOR_TCP_TIMEOUT",
    "LOG_AGGREGATOR_VERIFY_CERT",
    "LOG_AGGREGATOR_LEVEL",
    "LOG_AGGREGATOR_ACTION_QUEUE_SIZE",
    "LOG_AGGREGATOR_ACTION_MAX_DISK_USAGE_GB",
    "LOG_AGGREGATOR_MAX_DISK_USAGE_PATH",
    "BULK_HOST_MAX_CREATE",
    "BULK_HOST_MAX_DELETE",
];

/// Settings rawx has that AWX does not register: the reaper's rule is AWX's, but AWX reads
/// these two from its settings file only.
const RAWX_SETTINGS: &str = r#"[
 {"name": "CLUSTER_NODE_HEARTBEAT_PERIOD", "slug": "system", "category": "System", "kind": "int",
  "field": "IntegerField", "default": 60, "min_value": 1, "label": "Cluster node heartbeat period",
  "help": "Seconds between a task node's heartbeats as AWX counts them; another node is lost after CLUSTER_NODE_HEARTBEAT_PERIOD × CLUSTER_NODE_MISSED_HEARTBEAT_TOLERANCE seconds without one (judged on the database's clock), and its running jobs are failed."},
 {"name": "CLUSTER_NODE_MISSED_HEARTBEAT_TOLERANCE", "slug": "system", "category": "System", "kind": "int",
  "field": "IntegerField", "default": 2, "min_value": 1, "label": "Missed heartbeats tolerated",
  "help": "How many heartbeat periods a task node may miss before another node declares it lost."}
]"#;

/// Every setting, in AWX's registration order, rawx's own after.
pub static ALL: LazyLock<Vec<Setting>> = LazyLock::new(|| {
    let mut all: Vec<Setting> =
        serde_json::from_str(include_str!("settings/awx.json")).expect("awx.json is the registry");
    all.extend(
        serde_json::from_str::<Vec<Setting>>(RAWX_SETTINGS).expect("rawx's settings are valid"),
    );
    all
});

/// The categories AWX lists (`get_registered_categories`): `all`, `changed`, then each
/// registered slug with the name its first setting gives it.
pub fn categories() -> Vec<(&'static str, &'static str)> {
    let mut out = vec![("all", "All"), ("changed", "Changed")];
    for s in ALL.iter() {
        if !out.iter().any(|(slug, _)| *slug == s.slug) {
            out.push((s.slug.as_str(), s.category.as_str()));
        }
    }
    out
}

/// A category's display name.
pub fn slug_name(slug: &str) -> &'static str {
    categories()
        .into_iter()
        .find(|(s, _)| *s == slug)
        .map_or("", |(_, n)| n)
}

/// The settings of a category; `None` for a category that does not exist.
pub fn in_slug(slug: &str) -> Option<Vec<&'static Setting>> {
    if !categories().iter().any(|(s, _)| *s == slug) {
        return None;
    }
    let every = slug == "all" || slug == "changed";
    Some(ALL.iter().filter(|s| every || s.slug == slug).collect())
}

pub fn default_of(s: &Setting) -> Value {
    s.default.clone()
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
/// Whether the API records its changes in the activity stream.
pub const ACTIVITY_STREAM_ENABLED: Key<bool> = key("ACTIVITY_STREAM_ENABLED");
pub const OAUTH2_PROVIDER: Key<Map<String, Value>> = key("OAUTH2_PROVIDER");
pub const MAX_FORKS: Key<i64> = key("MAX_FORKS");
/// How long stored facts are handed to jobs with a fact cache (0: always).
pub const ANSIBLE_FACT_CACHE_TIMEOUT: Key<i64> = key("ANSIBLE_FACT_CACHE_TIMEOUT");
/// Whether project updates install `roles/requirements.yml` (and jobs get those roles).
pub const AWX_ROLES_ENABLED: Key<bool> = key("AWX_ROLES_ENABLED");
/// Whether project updates install `collections/requirements.yml` (and jobs get them).
pub const AWX_COLLECTIONS_ENABLED: Key<bool> = key("AWX_COLLECTIONS_ENABLED");
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
pub const BULK_HOST_MAX_CREATE: Key<i64> = key("BULK_HOST_MAX_CREATE");
pub const BULK_HOST_MAX_DELETE: Key<i64> = key("BULK_HOST_MAX_DELETE");
pub const BULK_JOB_MAX_LAUNCH: Key<i64> = key("BULK_JOB_MAX_LAUNCH");

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

    /// The stored override of a setting, if there is one.
    async fn stored(&self, name: &str) -> Option<Value> {
        let f = Filter::eq("key", ColumnType::Text, Value::String(name.into()));
        match self.store.find(&SETTINGS, &f).await {
            Ok(Some(row)) => row["value"]
                .as_str()
                .and_then(|v| serde_json::from_str(v).ok()),
            Ok(None) => None,
            Err(e) => {
                tracing::warn!(setting = name, error = %e, "cannot read setting; using its default");
                None
            }
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
        if def.callback_url {
            return Value::String(self.callback_url(def).await);
        }
        self.stored(name).await.unwrap_or_else(|| default_of(def))
    }

    /// AWX's `SocialAuthCallbackURL` (and SAML's metadata URL): a path of the SSO views joined
    /// to `TOWER_URL_BASE`.
    async fn callback_url(&self, setting: &Setting) -> String {
        let base = self
            .stored(TOWER_URL_BASE.name)
            .await
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_else(|| {
                def(TOWER_URL_BASE.name).map_or_else(String::new, |d| {
                    d.default.as_str().unwrap_or_default().to_string()
                })
            });
        let path = if setting.name.ends_with("_METADATA_URL") {
            "/sso/metadata/saml/".to_string()
        } else {
            format!("/sso/complete/{}/", setting.slug)
        };
        format!("{}{path}", base.trim_end_matches('/'))
    }

    /// The stored overrides of a category (AWX's `changed`).
    pub async fn changed(&self) -> Map<String, Value> {
        let mut out = Map::new();
        for s in ALL.iter().filter(|s| !s.read_only && !s.callback_url) {
            if let Some(v) = self.stored(&s.name).await {
                out.insert(s.name.clone(), v);
            }
        }
        out
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

/// `v` as `s` stores it (DRF's `to_internal_value` then `to_representation`: `"1"` for an
/// integer is 1, `"yes"` for a boolean is true), or AWX's message saying why it is refused.
pub fn check(s: &Setting, v: &Value) -> Result<Value, String> {
    const NOT_NULL: &str = "This field may not be null.";
    if v.is_null() {
        return if s.allow_null {
            Ok(Value::Null)
        } else {
            Err(NOT_NULL.into())
        };
    }
    match s.kind {
        Kind::Bool => as_bool(v)
            .map(Value::Bool)
            .ok_or_else(|| "Must be a valid boolean.".into()),
        Kind::Int => {
            let n = as_int(v).ok_or("A valid integer is required.")?;
            if let Some(min) = s.min_value.filter(|m| n < *m) {
                return Err(format!(
                    "Ensure this value is greater than or equal to {min}."
                ));
            }
            if let Some(max) = s.max_value.filter(|m| n > *m) {
                return Err(format!("Ensure this value is less than or equal to {max}."));
            }
            Ok(json!(n))
        }
        Kind::Str | Kind::Url => {
            let text = as_text(v).ok_or("Not a valid string.")?;
            if text.is_empty() {
                return if s.allow_blank {
                    Ok(json!(""))
                } else {
                    Err("This field may not be blank.".into())
                };
            }
            if s.kind == Kind::Url && !valid_url(s, &text) {
                return Err("Enter a valid URL".into());
            }
            Ok(Value::String(text))
        }
        Kind::Choice => {
            if v.as_str() == Some("") && s.allow_blank {
                return Ok(json!(""));
            }
            if s.is_choice(v) {
                Ok(v.clone())
            } else {
                Err(format!(
                    "\"{}\" is not a valid choice.",
                    as_text(v).unwrap_or_else(|| v.to_string())
                ))
            }
        }
        Kind::Dict => match v {
            Value::Object(_) => Ok(v.clone()),
            v => Err(format!(
                "Expected a dictionary of items but got type \"{}\".",
                type_name(v)
            )),
        },
        Kind::List => match v {
            Value::Array(items)
                if s.field.starts_with("StringList")
                    || s.field == "AuthenticationBackendsField" =>
            {
                let mut out = Vec::new();
                for i in items {
                    match as_text(i) {
                        Some(t) => out.push(Value::String(t)),
                        None => return Err("Not a valid string.".into()),
                    }
                }
                if s.field == "StringListIsolatedPathField" {
                    if let Some(bad) = out
                        .iter()
                        .filter_map(Value::as_str)
                        .find(|p| !p.starts_with('/'))
                    {
                        return Err(format!(
                            "{bad} is not a valid path choice. You must provide an absolute path."
                        ));
                    }
                }
                Ok(Value::Array(out))
            }
            Value::Array(_) => Ok(v.clone()),
            v if s.field.starts_with("StringListPath")
                || s.field == "StringListIsolatedPathField" =>
            {
                Err(format!(
                    "Expected list of strings but got <class '{}'> instead.",
                    type_name(v)
                ))
            }
            v => Err(format!(
                "Expected a list of items but got type \"{}\".",
                type_name(v)
            )),
        },
        Kind::Datetime => {
            let text = v.as_str().unwrap_or_default();
            let rfc = &time::format_description::well_known::Rfc3339;
            match time::OffsetDateTime::parse(text, rfc) {
                Ok(_) => Ok(v.clone()),
                Err(_) => Err("Datetime has wrong format. Use one of these formats instead: YYYY-MM-DDThh:mm[:ss[.uuuuuu]][+HH:MM|-HH:MM|Z].".into()),
            }
        }
        Kind::Pk => match v.as_i64() {
            Some(n) => Ok(json!(n)),
            None => Err(format!(
                "Incorrect type. Expected pk value, received {}.",
                type_name(v)
            )),
        },
    }
}

/// DRF's `BooleanField`: its TRUE_VALUES and FALSE_VALUES.
fn as_bool(v: &Value) -> Option<bool> {
    match v {
        Value::Bool(b) => Some(*b),
        Value::Number(n) => match n.as_f64() {
            Some(1.0) => Some(true),
            Some(0.0) => Some(false),
            _ => None,
        },
        Value::String(s) => match s.as_str() {
            "y" | "Y" | "yes" | "Yes" | "YES" | "true" | "True" | "TRUE" | "on" | "On" | "ON"
            | "1" | "t" | "T" => Some(true),
            "n" | "N" | "no" | "No" | "NO" | "false" | "False" | "FALSE" | "off" | "Off"
            | "OFF" | "0" | "f" | "F" => Some(false),
            _ => None,
        },
        _ => None,
    }
}

/// DRF's `IntegerField`: an integer, a float with no fraction, or text of one.
fn as_int(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n
            .as_i64()
            .or_else(|| n.as_f64().filter(|x| x.fract() == 0.0).map(|x| x as i64)),
        Value::String(s) => {
            let t = s.trim();
            let t = match t.split_once('.') {
                Some((int, frac)) if frac.chars().all(|c| c == '0') => int,
                _ => t,
            };
            t.parse().ok()
        }
        _ => None,
    }
}

/// DRF's `CharField`: text, numbers as text (trimmed); never booleans, lists or objects.
fn as_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.trim().to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// AWX's `URLField`: a scheme it allows (Django's http, https, ftp, ftps unless the setting
/// names its own), then a host; a plain host name (no dot) only where the setting allows it,
/// which every URL setting AWX registers does in effect (`localhost`, a TLD of digits).
fn valid_url(s: &Setting, url: &str) -> bool {
    static RE: LazyLock<regex::Regex> = LazyLock::new(|| {
        regex::Regex::new(
            r"(?i)^([a-z0-9.+-]*)://([^\s:@/]+(:[^\s:@/]*)?@)?(\[[0-9a-f:.]+\]|[^\s:/?#\[\]@]+)(:\d{2,5})?([/?#]\S*)?$",
        )
        .expect("a valid pattern")
    });
    let default = ["http", "https", "ftp", "ftps"];
    let Some(c) = RE.captures(url) else {
        return false;
    };
    let scheme = c[1].to_ascii_lowercase();
    match &s.schemes {
        Some(allowed) => allowed.contains(&scheme),
        None => default.contains(&scheme.as_str()),
    }
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Array(_) => "list",
        Value::String(_) => "str",
        Value::Number(n) if n.is_f64() => "float",
        Value::Number(_) => "int",
        Value::Bool(_) => "bool",
        Value::Null => "NoneType",
        Value::Object(_) => "dict",
    }
}

/// Writes a category: `body` sets settings of `slug`; with `replace`, those it leaves out go
/// back to their defaults. As AWX's serializer does, keys that are no writable setting of the
/// category (unknown, read-only, `LICENSE`) are ignored. Encrypted values are sealed with
/// `key` (`$encrypted$…` written back keeps the stored one). Nothing is written when any value
/// is wrong.
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
            "non_field_errors",
            "Invalid data. Expected a dictionary, but got list.",
        ))
    })?;
    let mut errors = FieldErrors::default();
    let mut writes = Vec::new();
    let writable = settings
        .iter()
        .filter(|s| !s.read_only && !s.callback_url && s.name != "LICENSE");
    for s in writable {
        let name = s.name.as_str();
        match obj.get(name) {
            // Writing back what a read showed keeps the stored secret.
            Some(Value::String(p))
                if s.encrypted && p.starts_with(rawx_model::secret::ENCRYPTED) => {}
            Some(v) => match check(s, v) {
                Ok(Value::String(plain)) if s.encrypted => {
                    let sealed = if plain.is_empty() {
                        String::new()
                    } else {
                        key.seal(&plain)
                    };
                    writes.push((name, Some(Value::String(sealed))));
                }
                Ok(v) => writes.push((name, Some(v))),
                Err(m) => errors.add(name, m),
            },
            None if replace => writes.push((name, None)),
            None => {}
        }
    }
    if errors.is_empty() {
        for (name, v) in &writes {
            if let (Some(s), Some(Value::Number(n))) = (def(name), v) {
                if s.kind == Kind::Pk && !ee_exists(store, n.as_i64().unwrap_or_default()).await? {
                    errors.add(name, format!("Invalid pk \"{n}\" - object does not exist."));
                }
            }
        }
        logging_rules(&Settings::new(store, install_uuid), &writes, &mut errors).await;
        origins_rule(&writes, &mut errors);
    }
    if !errors.is_empty() {
        return Err(DomainError::Fields(errors));
    }
    for (name, value) in writes {
        put_one(store, name, value).await?;
    }
    Ok(())
}

async fn ee_exists(store: &dyn Store, id: i64) -> DomainResult<bool> {
    match store
        .get(&rawx_model::resources::EXECUTION_ENVIRONMENTS, id)
        .await
    {
        Ok(_) => Ok(true),
        Err(rawx_store::DbError::NotFound) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// AWX's `csrf_trusted_origins_validate` (the system category): each origin names a scheme.
fn origins_rule(writes: &[(&str, Option<Value>)], errors: &mut FieldErrors) {
    let Some((_, Some(Value::Array(origins)))) =
        writes.iter().find(|(n, _)| *n == "CSRF_TRUSTED_ORIGINS")
    else {
        return;
    };
    let bad: Vec<String> = origins
        .iter()
        .filter_map(Value::as_str)
        .filter(|o| !o.contains("://"))
        .map(|o| format!("As of Django 4.0, the values in the CSRF_TRUSTED_ORIGINS setting must start with a scheme (usually http:// or https://) but found {o}. See the release notes for details."))
        .collect();
    if !bad.is_empty() {
        errors.add("non_field_errors", bad.join("\n"));
    }
}

/// Puts every writable setting of `slug` back to its default.
pub async fn reset(store: &dyn Store, slug: &str) -> DomainResult<()> {
    for s in in_slug(slug)
        .ok_or(DomainError::NotFound)?
        .into_iter()
        .filter(|s| !s.read_only && !s.callback_url && s.name != "LICENSE")
    {
        put_one(store, &s.name, None).await?;
    }
    Ok(())
}

/// Stores an override, or removes it (`None`) so the default shows again.
async fn put_one(store: &dyn Store, name: &str, value: Option<Value>) -> DomainResult<()> {
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
    writes: &[(&str, Option<Value>)],
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
        reads(BULK_HOST_MAX_CREATE);
        reads(BULK_HOST_MAX_DELETE);
    }

    #[test]
    fn the_registry_is_awx_s() {
        let names: std::collections::HashSet<_> = ALL.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names.len(), ALL.len(), "a name registered twice");
        for n in ACTED_ON {
            assert!(names.contains(n), "{n} is acted on but not registered");
        }
        let slugs: Vec<_> = categories().into_iter().map(|(s, _)| s).collect();
        for s in [
            "all",
            "changed",
            "system",
            "jobs",
            "logging",
            "ui",
            "authentication",
            "ldap",
            "saml",
            "github",
            "oidc",
            "radius",
            "tacacsplus",
            "bulk",
            "debug",
        ] {
            assert!(slugs.contains(&s), "{s}");
        }
        // Every default is a value its own check takes back unchanged (AWX shows `null` for
        // SOCIAL_AUTH_OIDC_KEY, registered with default None, yet refuses null written back).
        let bad: Vec<_> = ALL
            .iter()
            .filter(|s| !s.read_only && !s.callback_url && s.kind != Kind::Pk)
            .filter(|s| !s.default.is_null())
            .filter(|s| check(s, &s.default).as_ref() != Ok(&s.default))
            .map(|s| (s.name.as_str(), check(s, &s.default)))
            .collect();
        assert!(bad.is_empty(), "{bad:?}");
    }

    #[test]
    fn values_are_checked_as_awx_s_fields() {
        let s = |n| def(n).unwrap();
        assert_eq!(
            check(s("SESSION_COOKIE_AGE"), &json!("120")),
            Ok(json!(120))
        );
        assert_eq!(
            check(s("SESSION_COOKIE_AGE"), &json!(5)),
            Err("Ensure this value is greater than or equal to 60.".into())
        );
        assert_eq!(
            check(s("ACTIVITY_STREAM_ENABLED"), &json!("yes")),
            Ok(json!(true))
        );
        assert_eq!(
            check(s("ACTIVITY_STREAM_ENABLED"), &json!("maybe")),
            Err("Must be a valid boolean.".into())
        );
        assert_eq!(
            check(s("TOWER_URL_BASE"), &json!("towerhost")),
            Err("Enter a valid URL".into())
        );
        assert!(check(s("TOWER_URL_BASE"), &json!("http://awx:8013")).is_ok());
        assert_eq!(
            check(s("REMOTE_HOST_HEADERS"), &json!("REMOTE_ADDR")),
            Err("Expected a list of items but got type \"str\".".into())
        );
        assert_eq!(
            check(s("PENDO_TRACKING_STATE"), &json!("loud")),
            Err("\"loud\" is not a valid choice.".into())
        );
        assert_eq!(
            check(s("AWX_TASK_ENV"), &json!([1])),
            Err("Expected a dictionary of items but got type \"list\".".into())
        );
        assert_eq!(
            check(s("MAX_FORKS"), &Value::Null),
            Err("This field may not be null.".into())
        );
        assert_eq!(
            check(s("LOG_AGGREGATOR_HOST"), &Value::Null),
            Ok(Value::Null)
        );
        assert_eq!(
            check(s("AUTOMATION_ANALYTICS_URL"), &json!("")),
            Err("This field may not be blank.".into())
        );
    }
}
