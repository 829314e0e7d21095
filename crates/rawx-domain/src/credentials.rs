//! Credential types as AWX 24.6.1 defines them, and what a credential puts into a job.
//!
//! - [`managed_types`]: AWX's 21 managed types (`awx/main/models/credential/__init__.py`'s
//!   `ManagedCredentialType`s: name, kind, namespace, `inputs`, `injectors`), kept as data in
//!   `credentials/managed_types.json` — the seed writes them and the API shows them from there;
//! - [`inject`]: a credential's environment variables, files and extra vars for a job: AWX's
//!   Python injectors (`injectors.py`: aws, gce, azure_rm, vmware, openstack,
//!   kubernetes_bearer_token, terraform), the templated ones (`CredentialType.inject_credential`:
//!   managed insights/rhv/controller and every custom type), and the network credential's
//!   variables (`RunJob.build_env`);
//! - [`validate_type`]: AWX's checks of a custom type's `inputs` and `injectors`
//!   (`awx/main/fields.py`'s `CredentialTypeInputField` / `CredentialTypeInjectorField`);
//! - [`passwords_needed`], [`unique_hash`], [`missing_required`]: the launch-time rules.
//!
//! Templates are rendered with `minijinja`, a sandboxed Jinja2: injector templates come from
//! users who may create credential types, and AWX renders them in Jinja2's
//! `ImmutableSandboxedEnvironment` for the same reason. Booleans print as Python prints them
//! (`True`/`False`), as in AWX.

use minijinja::value::{Object, Value as JValue};
use minijinja::{Environment, ErrorKind, UndefinedBehavior};
use serde_json::{json, Map, Value};
use std::collections::BTreeSet;
use std::path::Path;
use std::sync::{Arc, OnceLock};

/// One managed credential type.
#[derive(Debug, Clone)]
pub struct ManagedType {
    pub namespace: String,
    pub kind: String,
    pub name: String,
    pub inputs: Value,
    pub injectors: Value,
}

/// AWX's managed credential types, in AWX's order of definition: the 21 of
/// `awx/main/models/credential/__init__.py`, then the 9 lookup plugins' (`kind: external`,
/// `awx/main/credential_plugins/`, registered as managed types the same way; their `inputs`
/// carry the `metadata` an input source gives).
pub fn managed_types() -> &'static [ManagedType] {
    static TYPES: OnceLock<Vec<ManagedType>> = OnceLock::new();
    TYPES.get_or_init(|| {
        let mut raw: Vec<Value> =
            serde_json::from_str(include_str!("credentials/managed_types.json"))
                .expect("managed_types.json is valid");
        let lookups: Vec<Value> =
            serde_json::from_str(include_str!("credentials/lookup_types.json"))
                .expect("lookup_types.json is valid");
        raw.extend(lookups);
        raw.into_iter()
            .map(|t| ManagedType {
                namespace: t["namespace"].as_str().unwrap_or_default().into(),
                kind: t["kind"].as_str().unwrap_or_default().into(),
                name: t["name"].as_str().unwrap_or_default().into(),
                inputs: t["inputs"].clone(),
                injectors: t["injectors"].clone(),
            })
            .collect()
    })
}

/// The managed type with this namespace.
pub fn managed(namespace: &str) -> Option<&'static ManagedType> {
    managed_types().iter().find(|t| t.namespace == namespace)
}

/// A credential type as injection needs it: for a managed type, AWX reads `inputs` and
/// `injectors` from its own definition, whatever the row holds (`CredentialType.from_db`).
#[derive(Debug, Clone)]
pub struct TypeDef {
    pub name: String,
    pub kind: String,
    pub namespace: String,
    pub managed: bool,
    pub inputs: Value,
    pub injectors: Value,
}

impl TypeDef {
    /// From a stored `credential_types` row (`inputs`/`injectors` as JSON text or objects).
    pub fn from_row(row: &Map<String, Value>) -> TypeDef {
        let s = |k: &str| row.get(k).and_then(Value::as_str).unwrap_or_default();
        let json_of = |k: &str| match row.get(k) {
            Some(Value::String(t)) => serde_json::from_str(t).unwrap_or(json!({})),
            Some(v @ Value::Object(_)) => v.clone(),
            _ => json!({}),
        };
        let managed_flag = row.get("managed") == Some(&json!(true));
        let native = managed_flag.then(|| managed(s("namespace"))).flatten();
        TypeDef {
            name: s("name").into(),
            kind: s("kind").into(),
            namespace: s("namespace").into(),
            managed: managed_flag,
            inputs: native.map_or_else(|| json_of("inputs"), |t| t.inputs.clone()),
            injectors: native.map_or_else(|| json_of("injectors"), |t| t.injectors.clone()),
        }
    }

    pub fn fields(&self) -> Vec<Value> {
        self.inputs["fields"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    fn field(&self, id: &str) -> Option<Value> {
        self.fields().into_iter().find(|f| f["id"] == json!(id))
    }

    pub fn secret_fields(&self) -> Vec<String> {
        self.fields()
            .iter()
            .filter(|f| f["secret"] == json!(true))
            .filter_map(|f| f["id"].as_str().map(String::from))
            .collect()
    }

    pub fn askable(&self, id: &str) -> bool {
        self.field(id)
            .is_some_and(|f| f["ask_at_runtime"] == json!(true))
    }
}

/// A credential's inputs, secrets opened, with AWX's `get_input`/`has_input` rules.
pub struct Inputs<'a> {
    pub def: &'a TypeDef,
    pub values: &'a Map<String, Value>,
}

impl Inputs<'_> {
    /// `get_input(name, default=…)`: the stored value, else (for a secret first, for any other
    /// field after the caller's default) the field's own default.
    fn get(&self, name: &str, default: Option<Value>) -> Option<Value> {
        let field_default = || self.def.field(name).and_then(|f| f.get("default").cloned());
        if let Some(v) = self.values.get(name) {
            return Some(v.clone());
        }
        if self.def.secret_fields().iter().any(|s| s == name) {
            return field_default().or(default);
        }
        default.or_else(field_default)
    }

    fn str(&self, name: &str) -> String {
        match self.get(name, Some(json!(""))) {
            Some(Value::String(s)) => s,
            Some(Value::Bool(b)) => py_bool(b).into(),
            Some(Value::Null) | None => String::new(),
            Some(v) => v.to_string(),
        }
    }

    /// `has_input`: present and neither `""` nor null.
    fn has(&self, name: &str) -> bool {
        matches!(self.values.get(name), Some(v) if !v.is_null() && v != &json!(""))
    }

    fn truthy(&self, name: &str, default: Option<Value>) -> bool {
        match self.get(name, default) {
            Some(Value::Bool(b)) => b,
            Some(Value::String(s)) => !s.is_empty(),
            Some(Value::Null) | None => false,
            Some(_) => true,
        }
    }
}

fn py_bool(b: bool) -> &'static str {
    if b {
        "True"
    } else {
        "False"
    }
}

/// A file a credential puts in the private data dir.
#[derive(Debug, Clone, PartialEq)]
pub struct InjectedFile {
    /// Relative to the private data dir (`env/tmpXXXXXXXX`).
    pub path: String,
    pub data: String,
    pub mode: u32,
}

/// What credentials add to a job: environment, files, command-line arguments.
#[derive(Debug, Default)]
pub struct Injected {
    pub env: Map<String, Value>,
    pub files: Vec<InjectedFile>,
    pub args: Vec<String>,
}

impl Injected {
    /// A new file under `env/`, named as `tempfile.mkstemp` names them; returns its path as
    /// the job sees it (`dir` is where the worker unpacks the private data dir).
    fn file(&mut self, dir: &Path, data: String, mode: u32) -> String {
        use rand::Rng;
        const CHARS: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789_";
        let mut rng = rand::thread_rng();
        let name: String = (0..8)
            .map(|_| CHARS[rng.gen_range(0..CHARS.len())] as char)
            .collect();
        let rel = format!("env/tmp{name}");
        self.files.push(InjectedFile {
            path: rel.clone(),
            data,
            mode,
        });
        dir.join(rel).display().to_string()
    }
}

/// Environment variables a credential may not set (AWX's `ENV_BLOCKLIST`; `ANSIBLE_*` too).
const ENV_BLOCKLIST: &[&str] = &[
    "VIRTUAL_ENV",
    "PATH",
    "PYTHONPATH",
    "JOB_ID",
    "INVENTORY_ID",
    "INVENTORY_SOURCE_ID",
    "INVENTORY_UPDATE_ID",
    "AD_HOC_COMMAND_ID",
    "REST_API_URL",
    "REST_API_TOKEN",
    "MAX_EVENT_RES",
    "CALLBACK_QUEUE",
    "CALLBACK_CONNECTION",
    "CACHE",
    "JOB_CALLBACK_DEBUG",
    "INVENTORY_HOSTVARS",
    "AWX_HOST",
    "PROJECT_REVISION",
    "SUPERVISOR_CONFIG_PATH",
];

fn env_var_refused(name: &str) -> Option<String> {
    if name.starts_with("ANSIBLE_") {
        return Some(format!("Environment variable {name} may affect Ansible configuration so its use is not allowed in credentials."));
    }
    ENV_BLOCKLIST
        .contains(&name)
        .then(|| format!("Environment variable {name} is not allowed to be used in credentials."))
}

/// Adds one credential's injection to `out`, as AWX's task does for a job: the network
/// credential's variables (`RunJob.build_env`), a key file for a non-machine credential with
/// `ssh_key_data` (`build_private_data_files`), then `inject_credential`. `dir` is the private
/// data dir as the job sees it. Machine and vault credentials become command-line options and
/// prompts, which the caller handles.
pub fn inject(def: &TypeDef, values: &Map<String, Value>, dir: &Path, out: &mut Injected) {
    let cred = Inputs { def, values };
    let mut key_file = None;
    if cred.has("ssh_key_data") && !matches!(def.namespace.as_str(), "ssh" | "scm") {
        let mut key = cred.str("ssh_key_data");
        if key.contains("OPENSSH PRIVATE KEY") && !key.ends_with('\n') {
            key.push('\n');
        }
        key_file = Some(out.file(dir, key, 0o600));
    }
    if def.kind == "net" {
        let env = &mut out.env;
        env.insert("ANSIBLE_NET_USERNAME".into(), json!(cred.str("username")));
        env.insert("ANSIBLE_NET_PASSWORD".into(), json!(cred.str("password")));
        if let Some(path) = &key_file {
            env.insert("ANSIBLE_NET_SSH_KEYFILE".into(), json!(path));
        }
        let authorize = cred.truthy("authorize", Some(json!(false)));
        env.insert(
            "ANSIBLE_NET_AUTHORIZE".into(),
            json!(if authorize { "1" } else { "0" }),
        );
        if authorize {
            env.insert(
                "ANSIBLE_NET_AUTH_PASS".into(),
                json!(cred.str("authorize_password")),
            );
        }
    }
    let has_injectors = def.injectors.as_object().is_some_and(|m| !m.is_empty());
    if !has_injectors {
        if def.managed {
            builtin(&cred, dir, out);
        }
        return;
    }
    templated(&cred, dir, out);
}

/// AWX's `injectors.py`, by namespace.
fn builtin(cred: &Inputs<'_>, dir: &Path, out: &mut Injected) {
    let set = |out: &mut Injected, k: &str, v: String| {
        out.env.insert(k.into(), json!(v));
    };
    match cred.def.namespace.as_str() {
        "aws" => {
            set(out, "AWS_ACCESS_KEY_ID", cred.str("username"));
            set(out, "AWS_SECRET_ACCESS_KEY", cred.str("password"));
            if cred.has("security_token") {
                set(out, "AWS_SECURITY_TOKEN", cred.str("security_token"));
                set(out, "AWS_SESSION_TOKEN", cred.str("security_token"));
            }
        }
        "gce" => {
            let project = cred.str("project");
            let username = cred.str("username");
            // Python's dict order and `json.dump(indent=2)`.
            let doc = json!({
                "type": "service_account",
                "private_key": cred.str("ssh_key_data"),
                "client_email": username,
                "project_id": project,
                "token_uri": "https://oauth2.googleapis.com/token",
            });
            set(out, "GCE_EMAIL", username);
            set(out, "GCE_PROJECT", project.clone());
            let text = serde_json::to_string_pretty(&doc).unwrap_or_default();
            let path = out.file(dir, text, 0o600);
            set(out, "GCE_CREDENTIALS_FILE_PATH", path.clone());
            set(out, "GCP_SERVICE_ACCOUNT_FILE", path.clone());
            set(out, "GOOGLE_APPLICATION_CREDENTIALS", path);
            set(out, "GCP_AUTH_KIND", "serviceaccount".into());
            set(out, "GCP_PROJECT", project);
            set(out, "GCP_ENV_TYPE", "tower".into());
        }
        "azure_rm" => {
            let client = cred.str("client");
            let tenant = cred.str("tenant");
            set(out, "AZURE_SUBSCRIPTION_ID", cred.str("subscription"));
            if !client.is_empty() && !tenant.is_empty() {
                set(out, "AZURE_CLIENT_ID", client);
                set(out, "AZURE_TENANT", tenant);
                set(out, "AZURE_SECRET", cred.str("secret"));
            } else {
                set(out, "AZURE_AD_USER", cred.str("username"));
                set(out, "AZURE_PASSWORD", cred.str("password"));
            }
            if cred.has("cloud_environment") {
                set(
                    out,
                    "AZURE_CLOUD_ENVIRONMENT",
                    cred.str("cloud_environment"),
                );
            }
        }
        "vmware" => {
            set(out, "VMWARE_USER", cred.str("username"));
            set(out, "VMWARE_PASSWORD", cred.str("password"));
            set(out, "VMWARE_HOST", cred.str("host"));
            // `str(settings.VMWARE_VALIDATE_CERTS)`, AWX's default.
            set(out, "VMWARE_VALIDATE_CERTS", "False".into());
        }
        "openstack" => {
            let mut auth = Map::new();
            auth.insert("auth_url".into(), json!(cred.str("host")));
            auth.insert("username".into(), json!(cred.str("username")));
            auth.insert("password".into(), json!(cred.str("password")));
            auth.insert("project_name".into(), json!(cred.str("project")));
            if cred.has("project_domain_name") {
                auth.insert(
                    "project_domain_name".into(),
                    json!(cred.str("project_domain_name")),
                );
            }
            if cred.has("domain") {
                auth.insert("domain_name".into(), json!(cred.str("domain")));
            }
            let verify = cred
                .get("verify_ssl", Some(json!(true)))
                .unwrap_or(json!(true));
            let mut devstack = Map::new();
            devstack.insert("auth".into(), Value::Object(auth));
            devstack.insert("verify".into(), verify);
            if cred.has("region") {
                devstack.insert("region_name".into(), json!(cred.str("region")));
            }
            let doc = json!({"clouds": {"devstack": Value::Object(devstack)}});
            let path = out.file(dir, yaml_sorted(&doc), 0o600);
            set(out, "OS_CLIENT_CONFIG_FILE", path);
        }
        "kubernetes_bearer_token" => {
            set(out, "K8S_AUTH_HOST", cred.str("host"));
            set(out, "K8S_AUTH_API_KEY", cred.str("bearer_token"));
            if cred.truthy("verify_ssl", None) && cred.values.contains_key("ssl_ca_cert") {
                set(out, "K8S_AUTH_VERIFY_SSL", "True".into());
                let path = out.file(dir, cred.str("ssl_ca_cert"), 0o600);
                set(out, "K8S_AUTH_SSL_CA_CERT", path);
            } else {
                set(out, "K8S_AUTH_VERIFY_SSL", "False".into());
            }
        }
        "terraform" => {
            let path = out.file(dir, cred.str("configuration"), 0o600);
            set(out, "TF_BACKEND_CONFIG_FILE", path);
            if cred.values.contains_key("gce_credentials") {
                let path = out.file(dir, cred.str("gce_credentials"), 0o600);
                set(out, "GOOGLE_BACKEND_CREDENTIALS", path);
            }
        }
        _ => {}
    }
}

/// YAML as PyYAML's `safe_dump(default_flow_style=False)` writes it: keys sorted.
fn yaml_sorted(v: &Value) -> String {
    fn sort(v: &Value) -> Value {
        match v {
            Value::Object(m) => {
                let mut keys: Vec<_> = m.keys().collect();
                keys.sort();
                Value::Object(keys.into_iter().map(|k| (k.clone(), sort(&m[k]))).collect())
            }
            Value::Array(a) => Value::Array(a.iter().map(sort).collect()),
            other => other.clone(),
        }
    }
    serde_norway::to_string(&sort(v)).unwrap_or_default()
}

/// `tower.filename`: one path, or one per `template.NAME`.
#[derive(Debug)]
enum Filenames {
    None,
    One(String),
    Many(Map<String, Value>),
}

/// The reserved `tower` namespace of injector templates.
#[derive(Debug)]
struct Tower {
    filename: Filenames,
    /// Validation only: a reference to what is not there fails with AWX's message.
    strict: bool,
}

#[derive(Debug)]
struct Exploding(&'static str);

impl Object for Exploding {
    fn get_value(self: &Arc<Self>, _key: &JValue) -> Option<JValue> {
        None
    }
}

impl Object for Tower {
    fn get_value(self: &Arc<Self>, key: &JValue) -> Option<JValue> {
        if key.as_str() != Some("filename") {
            return None;
        }
        Some(match &self.filename {
            Filenames::One(p) => JValue::from(p.clone()),
            Filenames::Many(m) => JValue::from_serialize(m),
            Filenames::None if self.strict => JValue::from_object(Exploding(
                "Must define unnamed file injector in order to reference `tower.filename`.",
            )),
            Filenames::None => JValue::UNDEFINED,
        })
    }
}

fn environment(strict: bool) -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(if strict {
        UndefinedBehavior::Strict
    } else {
        UndefinedBehavior::Lenient
    });
    env.set_formatter(|out, state, value| {
        if value.downcast_object_ref::<Tower>().is_some() {
            return Err(minijinja::Error::new(
                ErrorKind::UndefinedError,
                "Cannot directly reference reserved `tower` namespace container.",
            ));
        }
        if let Some(e) = value.downcast_object_ref::<Exploding>() {
            return Err(minijinja::Error::new(ErrorKind::UndefinedError, e.0));
        }
        if value.kind() == minijinja::value::ValueKind::Bool {
            out.write_str(py_bool(value.is_true()))?;
            return Ok(());
        }
        minijinja::escape_formatter(out, state, value)
    });
    env
}

fn render(env: &Environment<'_>, tmpl: &str, ctx: &JValue) -> Result<String, minijinja::Error> {
    env.render_str(tmpl, ctx.clone())
}

/// `CredentialType.inject_credential` for a type with `injectors`.
fn templated(cred: &Inputs<'_>, dir: &Path, out: &mut Injected) {
    let def = cred.def;
    let mut ns = Map::new();
    for (k, v) in cred.values {
        match v {
            Value::Bool(_) => {
                ns.insert(k.clone(), v.clone());
            }
            Value::String(s) if !s.is_empty() => {
                ns.insert(k.clone(), v.clone());
            }
            Value::String(_) | Value::Null => {}
            other => {
                ns.insert(k.clone(), other.clone());
            }
        }
    }
    for f in def.fields() {
        let id = f["id"].as_str().unwrap_or_default().to_string();
        if f["type"] == json!("boolean") && !cred.values.contains_key(&id) {
            ns.insert(id.clone(), json!(false));
        }
        if f["format"] == json!("ssh_private_key") {
            if let Some(Value::String(s)) = ns.get_mut(&id) {
                if !s.ends_with('\n') {
                    s.push('\n');
                }
            }
        }
    }
    let env = environment(false);
    let ctx_with = |tower: Tower| {
        let mut m: std::collections::BTreeMap<String, JValue> = ns
            .iter()
            .map(|(k, v)| (k.clone(), JValue::from_serialize(v)))
            .collect();
        m.insert("tower".into(), JValue::from_object(tower));
        JValue::from(m)
    };
    let mut filename = Filenames::None;
    if let Some(files) = def.injectors["file"].as_object() {
        let ctx = ctx_with(Tower {
            filename: Filenames::None,
            strict: false,
        });
        for (label, tmpl) in files {
            let data = render(&env, tmpl.as_str().unwrap_or_default(), &ctx).unwrap_or_default();
            let path = out.file(dir, data, 0o600);
            match label.split_once('.') {
                None => filename = Filenames::One(path),
                Some((_, name)) => {
                    if !matches!(filename, Filenames::Many(_)) {
                        filename = Filenames::Many(Map::new());
                    }
                    if let Filenames::Many(m) = &mut filename {
                        m.insert(name.into(), json!(path));
                    }
                }
            }
        }
    }
    let ctx = ctx_with(Tower {
        filename,
        strict: false,
    });
    if let Some(vars) = def.injectors["env"].as_object() {
        for (k, tmpl) in vars {
            if let Some(why) = env_var_refused(k) {
                tracing::error!("Ignoring prohibited env var {k}, reason: {why}");
                continue;
            }
            let v = render(&env, tmpl.as_str().unwrap_or_default(), &ctx).unwrap_or_default();
            out.env.insert(k.clone(), json!(v));
        }
    }
    let extra = &def.injectors["extra_vars"];
    if extra.as_object().is_some_and(|m| !m.is_empty()) {
        let vars = render_vars(&env, extra, &ctx);
        let path = out.file(dir, unsafe_yaml(&vars), 0o400);
        out.args.push("-e".into());
        out.args.push(format!("@{path}"));
    }
}

fn render_vars(env: &Environment<'_>, node: &Value, ctx: &JValue) -> Value {
    match node {
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, v)| {
                    (
                        render(env, k, ctx).unwrap_or_default(),
                        render_vars(env, v, ctx),
                    )
                })
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(|x| render_vars(env, x, ctx)).collect()),
        Value::String(s) => json!(render(env, s, ctx).unwrap_or_default()),
        other => json!(render(env, &other.to_string(), ctx).unwrap_or_default()),
    }
}

/// Extra vars as AWX's `safe_dump` marks them: every string `!unsafe`, so ansible never
/// templates what a credential holds. Strings are written as JSON strings, which YAML reads
/// as double-quoted scalars.
fn unsafe_yaml(v: &Value) -> String {
    fn scalar(v: &Value) -> String {
        match v {
            Value::String(s) => format!("!unsafe {}", Value::String(s.clone())),
            Value::Object(m) => format!(
                "{{{}}}",
                m.iter()
                    .map(|(k, v)| format!("{}: {}", scalar(&json!(k)), scalar(v)))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Value::Array(a) => format!("[{}]", a.iter().map(scalar).collect::<Vec<_>>().join(", ")),
            other => other.to_string(),
        }
    }
    match v {
        Value::Object(m) => m
            .iter()
            .map(|(k, v)| format!("{}: {}\n", scalar(&json!(k)), scalar(v)))
            .collect(),
        other => format!("{}\n", scalar(other)),
    }
}

/// AWX's `Credential.passwords_needed`: the launch-time passwords a credential asks for
/// (`"ASK"` as its value).
pub fn passwords_needed(def: &TypeDef, values: &Map<String, Value>) -> Vec<String> {
    let ask = |k: &str| values.get(k) == Some(&json!("ASK"));
    let mut out = Vec::new();
    if def.kind == "ssh" {
        for (field, name) in [
            ("password", "ssh_password"),
            ("become_password", "become_password"),
            ("ssh_key_unlock", "ssh_key_unlock"),
        ] {
            if ask(field) {
                out.push(name.to_string());
            }
        }
    }
    if def.kind == "vault" && ask("vault_password") {
        match values.get("vault_id").and_then(Value::as_str) {
            Some(id) if !id.is_empty() => out.push(format!("vault_password.{id}")),
            _ => out.push("vault_password".into()),
        }
    }
    out
}

/// AWX's `Credential.unique_hash(display=True)`: what may appear once on a template (a type,
/// or a vault type with its `vault_id`), as its error messages name it.
pub fn unique_hash(def: &TypeDef, type_id: i64, values: &Map<String, Value>) -> (String, String) {
    match values.get("vault_id").and_then(Value::as_str) {
        Some(id) if def.kind == "vault" && !id.is_empty() => {
            (format!("{type_id}_{id}"), format!("{} (id={id})", def.name))
        }
        _ => (type_id.to_string(), def.name.clone()),
    }
}

/// The kinds a job template takes (`JobTemplateCredentialsList.is_valid_relation`).
pub const JOB_KINDS: &[&str] = &["ssh", "vault", "cloud", "net", "kubernetes"];

/// The type's `required` inputs the credential lacks (`UnifiedJob.pre_start`), sorted.
pub fn missing_required(def: &TypeDef, values: &Map<String, Value>) -> Vec<String> {
    let defined: BTreeSet<String> = def
        .fields()
        .iter()
        .filter_map(|f| f["id"].as_str().map(String::from))
        .collect();
    let cred = Inputs { def, values };
    let mut out: Vec<String> = def.inputs["required"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .filter(|r| defined.contains(*r) && !cred.has(r))
        .map(String::from)
        .collect();
    out.sort();
    out
}

/// AWX's checks of a custom type's `inputs` and `injectors`: `Err` holds the messages for
/// each of the two fields (`{"inputs": [...]}`, `{"injectors": [...]}`).
pub fn validate_type(inputs: &Value, injectors: &Value) -> Result<(), Map<String, Value>> {
    let mut errors = Map::new();
    let input_errors = validate_inputs(inputs);
    if !input_errors.is_empty() {
        errors.insert("inputs".into(), json!(input_errors));
    } else {
        let inj = validate_injectors(inputs, injectors);
        if !inj.is_empty() {
            errors.insert("injectors".into(), json!(inj));
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

fn py_type(v: &Value) -> &'static str {
    match v {
        Value::String(_) => "str",
        Value::Bool(_) => "bool",
        Value::Number(n) if n.is_f64() => "float",
        Value::Number(_) => "int",
        Value::Array(_) => "list",
        Value::Object(_) => "dict",
        Value::Null => "NoneType",
    }
}

fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn validate_inputs(inputs: &Value) -> Vec<String> {
    let mut errors = Vec::new();
    let Some(top) = inputs.as_object() else {
        return vec![format!("{} provided, expected dict", py_type(inputs))];
    };
    if top.contains_key("dependencies") {
        return vec!["'dependencies' is not supported for custom credentials.".into()];
    }
    for k in top.keys() {
        if !matches!(k.as_str(), "fields" | "required") {
            errors.push(format!(
                "Schema validation error in relative path [] (Additional properties are not allowed ('{k}' was unexpected))"
            ));
        }
    }
    if let Some(r) = top.get("required") {
        match r.as_array() {
            Some(a) => {
                for (i, x) in a.iter().enumerate() {
                    if !x.is_string() {
                        errors.push(format!(
                            "{} provided in relative path ['required', {i}], expected string",
                            py_type(x)
                        ));
                    }
                }
            }
            None => errors.push(format!(
                "{} provided in relative path ['required'], expected array",
                py_type(r)
            )),
        }
    }
    let fields = match top.get("fields") {
        None => Vec::new(),
        Some(Value::Array(a)) => a.clone(),
        Some(other) => {
            errors.push(format!(
                "{} provided in relative path ['fields'], expected array",
                py_type(other)
            ));
            Vec::new()
        }
    };
    const KEYS: &[&str] = &[
        "type",
        "format",
        "choices",
        "id",
        "label",
        "help_text",
        "multiline",
        "secret",
        "ask_at_runtime",
        "default",
    ];
    for (i, f) in fields.iter().enumerate() {
        let Some(m) = f.as_object() else {
            errors.push(format!(
                "{} provided in relative path ['fields', {i}], expected dict",
                py_type(f)
            ));
            continue;
        };
        for k in m.keys().filter(|k| !KEYS.contains(&k.as_str())) {
            errors.push(format!("Schema validation error in relative path ['fields', {i}] (Additional properties are not allowed ('{k}' was unexpected))"));
        }
        for req in ["id", "label"] {
            if !m.contains_key(req) {
                errors.push(format!("'{req}' is a required property"));
            }
        }
        if let Some(t) = m.get("type") {
            if t != "string" && t != "boolean" {
                errors.push(format!("{t} is not one of ['string', 'boolean']"));
            }
        }
        if let Some(t) = m.get("format") {
            if t != "ssh_private_key" && t != "url" {
                errors.push(format!("{t} is not one of ['ssh_private_key', 'url']"));
            }
        }
        match m.get("id") {
            Some(Value::String(id)) if !is_identifier(id) => {
                errors.push(format!("{id} is an invalid variable name"))
            }
            Some(Value::String(_)) | None => {}
            Some(other) => errors.push(format!(
                "{} provided in relative path ['fields', {i}, 'id'], expected string",
                py_type(other)
            )),
        }
        for k in ["label", "help_text"] {
            if let Some(v) = m.get(k).filter(|v| !v.is_string()) {
                errors.push(format!(
                    "{} provided in relative path ['fields', {i}, '{k}'], expected string",
                    py_type(v)
                ));
            }
        }
        for k in ["multiline", "secret", "ask_at_runtime"] {
            if let Some(v) = m.get(k).filter(|v| !v.is_boolean()) {
                errors.push(format!(
                    "{} provided in relative path ['fields', {i}, '{k}'], expected boolean",
                    py_type(v)
                ));
            }
        }
        if let Some(c) = m.get("choices") {
            match c.as_array() {
                Some(a) if a.is_empty() => errors.push("[] is too short".into()),
                Some(a) if a.iter().any(|x| !x.is_string()) => errors.push(format!(
                    "{} provided in relative path ['fields', {i}, 'choices'], expected string",
                    py_type(a.iter().find(|x| !x.is_string()).unwrap_or(&Value::Null))
                )),
                Some(a) => {
                    let set: BTreeSet<&str> = a.iter().filter_map(Value::as_str).collect();
                    if set.len() != a.len() {
                        errors.push(format!("{c} has non-unique elements"));
                    }
                }
                None => errors.push(format!(
                    "{} provided in relative path ['fields', {i}, 'choices'], expected array",
                    py_type(c)
                )),
            }
        }
    }
    if !errors.is_empty() {
        return errors;
    }
    let mut ids = BTreeSet::new();
    for f in &fields {
        let id = f["id"].as_str().unwrap_or_default();
        if id == "tower" {
            return vec!["\"tower\" is a reserved field name".into()];
        }
        if !ids.insert(id.to_string()) {
            return vec![format!("field IDs must be unique ({id})")];
        }
        let ty = f["type"].as_str().unwrap_or("string");
        if let Some(d) = f.get("default") {
            let ok = match ty {
                "boolean" => d.is_boolean(),
                _ => d.is_string(),
            };
            if !ok {
                let shown = match d {
                    Value::String(s) => s.clone(),
                    Value::Bool(b) => py_bool(*b).into(),
                    other => other.to_string(),
                };
                return vec![format!("{shown} is not a {ty}")];
            }
        }
        for key in ["choices", "multiline", "format", "secret"] {
            if f.get(key).is_some() && ty != "string" {
                return vec![format!("{key} not allowed for {ty} type ({id})")];
            }
        }
    }
    errors
}

fn validate_injectors(inputs: &Value, injectors: &Value) -> Vec<String> {
    let Some(top) = injectors.as_object() else {
        return vec![format!("{} provided, expected dict", py_type(injectors))];
    };
    let mut errors = Vec::new();
    for (k, v) in top {
        if !matches!(k.as_str(), "file" | "env" | "extra_vars") {
            errors.push(format!("Schema validation error in relative path [] (Additional properties are not allowed ('{k}' was unexpected))"));
            continue;
        }
        let Some(m) = v.as_object() else {
            errors.push(format!(
                "{} provided in relative path ['{k}'], expected dict",
                py_type(v)
            ));
            continue;
        };
        for (name, val) in m {
            let name_ok = match k.as_str() {
                "file" => {
                    name == "template" || name.strip_prefix("template.").is_some_and(is_identifier)
                }
                "env" => is_identifier(name),
                _ => {
                    let mut c = name.chars();
                    matches!(c.next(), Some(x) if x.is_ascii_alphabetic() || "_{}".contains(x))
                        && c.all(|x| x.is_ascii_alphanumeric() || "_{}".contains(x))
                }
            };
            if !name_ok {
                errors.push(format!("Schema validation error in relative path ['{k}'] (Additional properties are not allowed ('{name}' was unexpected))"));
                continue;
            }
            if k != "extra_vars" && !val.is_string() {
                errors.push(format!(
                    "{} provided in relative path ['{k}', '{name}'], expected string",
                    py_type(val)
                ));
            }
            if k == "env" && val.as_str().is_some_and(|s| !s.is_ascii()) {
                errors.push(format!("{val} does not match '^[\\x00-\\x7f]*$'"));
            }
        }
    }
    if !errors.is_empty() {
        return errors;
    }
    let defined: Vec<String> = inputs["fields"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|f| f["id"].as_str().map(String::from))
        .collect();
    let files: Vec<&String> = top
        .get("file")
        .and_then(Value::as_object)
        .map(|m| m.keys().filter(|k| k.starts_with("template")).collect())
        .unwrap_or_default();
    let filename = if files.iter().any(|f| *f == "template") {
        if files.len() > 1 {
            return vec!["Must use multi-file syntax when injecting multiple files".into()];
        }
        Filenames::One("EXAMPLE_FILENAME".into())
    } else if files.is_empty() {
        Filenames::None
    } else {
        Filenames::Many(
            files
                .iter()
                .filter_map(|f| f.split_once('.'))
                .map(|(_, n)| (n.to_string(), json!("EXAMPLE_FILENAME")))
                .collect(),
        )
    };
    let mut ns: std::collections::BTreeMap<String, JValue> = defined
        .iter()
        .map(|f| (f.clone(), JValue::from("EXAMPLE")))
        .collect();
    ns.insert(
        "tower".into(),
        JValue::from_object(Tower {
            filename,
            strict: true,
        }),
    );
    let ctx = JValue::from(ns);
    let env = environment(true);
    let check = |type_: &str, key: &str, tmpl: &str| -> Result<(), String> {
        let parsed = env.template_from_str(tmpl).map_err(|e| {
            format!(
                "Syntax error rendering template for {key} inside of {type_} ({})",
                e.detail().unwrap_or(&e.to_string())
            )
        })?;
        for name in parsed.undeclared_variables(false) {
            if name != "tower" && !defined.contains(&name) {
                return Err(format!(
                    "{key} uses an undefined field ('{name}' is undefined)"
                ));
            }
        }
        match parsed.render(ctx.clone()) {
            Ok(_) => Ok(()),
            Err(e) if e.kind() == ErrorKind::UndefinedError => Err(format!(
                "{key} uses an undefined field ({})",
                e.detail().unwrap_or("undefined value")
            )),
            Err(e) => Err(format!(
                "Syntax error rendering template for {key} inside of {type_} ({})",
                e.detail().unwrap_or(&e.to_string())
            )),
        }
    };
    fn walk(
        check: &dyn Fn(&str, &str, &str) -> Result<(), String>,
        key: Option<&str>,
        node: &Value,
    ) -> Result<(), String> {
        match node {
            Value::Object(m) => {
                for (k, v) in m {
                    check("extra_vars", key.unwrap_or("a key"), k)?;
                    let sub = match key {
                        None => k.clone(),
                        Some(p) => format!("{p}.{k}"),
                    };
                    walk(check, Some(&sub), v)?;
                }
                Ok(())
            }
            Value::Array(a) => {
                for (i, x) in a.iter().enumerate() {
                    walk(check, Some(&format!("{}[{i}]", key.unwrap_or(""))), x)?;
                }
                Ok(())
            }
            Value::String(s) => check("extra_vars", key.unwrap_or(""), s),
            other => check("extra_vars", key.unwrap_or(""), &other.to_string()),
        }
    }
    for (type_, inj) in top {
        let m = inj.as_object().cloned().unwrap_or_default();
        if type_ == "env" {
            for key in m.keys() {
                if let Some(why) = env_var_refused(key) {
                    return vec![why];
                }
            }
        }
        let result = if type_ == "extra_vars" {
            walk(&check, None, inj)
        } else {
            m.iter()
                .try_for_each(|(key, t)| check(type_, key, t.as_str().unwrap_or_default()))
        };
        if let Err(e) = result {
            return vec![e];
        }
    }
    Vec::new()
}

/// Python's `repr` of a JSON value, as jsonschema's messages quote it.
fn py_repr(v: &Value) -> String {
    match v {
        Value::String(s) => format!("'{s}'"),
        Value::Bool(b) => py_bool(*b).into(),
        Value::Null => "None".into(),
        Value::Array(a) => format!("[{}]", a.iter().map(py_repr).collect::<Vec<_>>().join(", ")),
        Value::Object(o) => format!(
            "{{{}}}",
            o.iter()
                .map(|(k, v)| format!("'{k}': {}", py_repr(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Value::Number(n) => n.to_string(),
    }
}

/// AWX's `DynamicCredentialInputField`: an input source's `metadata` checked against the
/// lookup type's `inputs.metadata`. `Err` is the value of the `metadata` key of the 400: a
/// list for a fault of the whole (a key the type does not define), else messages by field
/// (a wrong type, a value outside `choices`, a `required` one missing).
pub fn validate_metadata(source: &TypeDef, metadata: &Value) -> Result<(), Value> {
    let Some(given) = metadata.as_object() else {
        return Err(json!([format!(
            "{} is not of type 'object'",
            py_repr(metadata)
        )]));
    };
    let defined: Vec<Value> = source.inputs["metadata"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let spec = |k: &str| defined.iter().find(|f| f["id"] == json!(k));
    let mut errors = Map::new();
    for (k, v) in given {
        let Some(f) = spec(k) else { continue };
        let want_bool = f["type"] == json!("boolean");
        let msg = if want_bool && !v.is_boolean() {
            Some(format!("{} is not of type 'boolean'", py_repr(v)))
        } else if !want_bool && f.get("type").is_some() && !v.is_string() {
            Some(format!("{} is not of type 'string'", py_repr(v)))
        } else if let Some(choices) = f["choices"].as_array().filter(|c| !c.is_empty()) {
            (!choices.contains(v)).then(|| {
                format!(
                    "{} is not one of [{}]",
                    py_repr(v),
                    choices.iter().map(py_repr).collect::<Vec<_>>().join(", ")
                )
            })
        } else {
            None
        };
        if let Some(m) = msg {
            errors.insert(k.clone(), json!([m]));
        }
    }
    // jsonschema's `additionalProperties` fault is about the whole and is raised at once.
    let unexpected: Vec<String> = given
        .keys()
        .filter(|k| spec(k).is_none())
        .map(|k| format!("'{k}'"))
        .collect();
    if !unexpected.is_empty() {
        return Err(json!([format!(
            "Additional properties are not allowed ({} {} unexpected)",
            unexpected.join(", "),
            if unexpected.len() == 1 { "was" } else { "were" }
        )]));
    }
    for r in source.inputs["required"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
    {
        let falsy = match given.get(r) {
            None | Some(Value::Null) | Some(Value::Bool(false)) => true,
            Some(Value::String(s)) => s.is_empty(),
            _ => false,
        };
        if spec(r).is_some() && falsy {
            errors.insert(r.into(), json!([format!("required for {}", source.name)]));
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(Value::Object(errors))
    }
}

/// AWX's `get_input_value`'s arguments for a lookup: the source credential's inputs (secrets
/// opened by `open`) with the fields' defaults for those it lacks, then the metadata over
/// them (AWX's `backend(**kwargs)`).
pub fn lookup_kwargs<E>(
    source: &TypeDef,
    stored: &Map<String, Value>,
    metadata: &Map<String, Value>,
    open: impl Fn(&str) -> Result<String, E>,
) -> Result<Map<String, Value>, E> {
    let mut kwargs = Map::new();
    for f in source.fields() {
        if let (Some(id), Some(d)) = (f["id"].as_str(), f.get("default")) {
            kwargs.insert(id.into(), d.clone());
        }
    }
    for f in source.inputs["metadata"].as_array().into_iter().flatten() {
        if let (Some(id), Some(d)) = (f["id"].as_str(), f.get("default")) {
            kwargs.insert(id.into(), d.clone());
        }
    }
    for (k, v) in stored {
        let v = match v.as_str() {
            Some(s) if rawx_model::secret::is_sealed(s) => Value::String(open(s)?),
            _ => v.clone(),
        };
        kwargs.insert(k.clone(), v);
    }
    for (k, v) in metadata {
        kwargs.insert(k.clone(), v.clone());
    }
    Ok(kwargs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lookup_type(ns: &str) -> TypeDef {
        let t = managed(ns).expect("a lookup type");
        TypeDef {
            name: t.name.clone(),
            kind: t.kind.clone(),
            namespace: ns.into(),
            managed: true,
            inputs: t.inputs.clone(),
            injectors: t.injectors.clone(),
        }
    }

    /// jsonschema's messages as AWX's `DynamicCredentialInputField` gives them.
    #[test]
    fn metadata_is_checked_against_the_lookup_type() {
        let dsv = lookup_type("thycotic_dsv");
        assert_eq!(
            validate_metadata(
                &dsv,
                &json!({"path": "/a", "secret_field": "f", "secret_decoding": "No Decoding"})
            ),
            Ok(())
        );
        assert_eq!(
            validate_metadata(&dsv, &json!({"path": "/a", "x": 1, "y": 2})),
            Err(json!([
                "Additional properties are not allowed ('x', 'y' were unexpected)"
            ]))
        );
        assert_eq!(
            validate_metadata(
                &dsv,
                &json!({"path": true, "secret_field": "f", "secret_decoding": "Maybe"})
            ),
            Err(json!({
                "path": ["True is not of type 'string'"],
                "secret_decoding": ["'Maybe' is not one of ['No Decoding', 'Decode Base64']"],
            }))
        );
        assert_eq!(
            validate_metadata(
                &dsv,
                &json!({"path": "", "secret_field": "f", "secret_decoding": "No Decoding"})
            ),
            Err(json!({"path": ["required for Thycotic DevOps Secrets Vault"]}))
        );
        assert_eq!(
            validate_metadata(&dsv, &json!("path")),
            Err(json!(["'path' is not of type 'object'"]))
        );
    }

    /// The lookup's arguments: defaults, opened secrets, then the metadata over them.
    #[test]
    fn lookup_kwargs_open_secrets_and_take_the_metadata() {
        let aim = lookup_type("aim");
        let stored = json!({"url": "https://ccp", "app_id": "$encrypted$AESGCM$c2VhbGVk"});
        let kw = lookup_kwargs(
            &aim,
            stored.as_object().unwrap(),
            json!({"object_query": "Safe=A"}).as_object().unwrap(),
            |s: &str| Ok::<_, ()>(format!("opened:{s}")),
        )
        .unwrap();
        assert_eq!(kw["url"], "https://ccp");
        assert_eq!(kw["object_query"], "Safe=A");
        assert_eq!(kw["verify"], true, "the field's default");
        assert_eq!(kw["object_query_format"], "Exact", "the metadata's default");
        assert_eq!(kw["app_id"], "opened:$encrypted$AESGCM$c2VhbGVk");
    }

    #[test]
    fn awx_has_21_managed_types_and_9_lookups_with_unique_namespaces() {
        let t = managed_types();
        assert_eq!(t.iter().filter(|t| t.kind != "external").count(), 21);
        assert_eq!(t.iter().filter(|t| t.kind == "external").count(), 9);
        let ns: BTreeSet<_> = t.iter().map(|t| t.namespace.as_str()).collect();
        assert_eq!(ns.len(), 30);
        assert_eq!(managed("aws").unwrap().name, "Amazon Web Services");
    }

    fn custom(inputs: Value, injectors: Value) -> TypeDef {
        TypeDef {
            name: "Custom".into(),
            kind: "cloud".into(),
            namespace: String::new(),
            managed: false,
            inputs,
            injectors,
        }
    }

    #[test]
    fn templates_render_as_jinja2_renders_them() {
        let def = custom(
            json!({"fields": [{"id": "api", "label": "A", "secret": true}, {"id": "on", "label": "On", "type": "boolean"}, {"id": "off", "label": "Off", "type": "boolean"}]}),
            json!({"file": {"template.one": "[x]\nkey={{ api }}", "template.two": "{% if on %}yes{% endif %}"},
                   "env": {"ONE": "{{ tower.filename.one }}", "ON": "{{ on }}", "OFF": "{{off}}", "ANSIBLE_X": "no"},
                   "extra_vars": {"api_{{ on }}": "{{ api }}", "nested": {"k": ["{{ api }}", "lit"]}}}),
        );
        let values: Map<String, Value> =
            serde_json::from_value(json!({"api": "s3cr'et\"", "on": true})).unwrap();
        let mut out = Injected::default();
        inject(&def, &values, Path::new("/pd"), &mut out);
        assert_eq!(out.files.len(), 3);
        assert_eq!(out.files[0].data, "[x]\nkey=s3cr'et\"");
        assert_eq!(out.files[1].data, "yes");
        assert_eq!(out.env["ONE"], json!(format!("/pd/{}", out.files[0].path)));
        assert_eq!(out.env["ON"], "True");
        assert_eq!(out.env["OFF"], "False");
        assert!(!out.env.contains_key("ANSIBLE_X"));
        assert_eq!(out.files[2].mode, 0o400);
        assert!(
            out.files[2]
                .data
                .starts_with("!unsafe \"api_True\": !unsafe "),
            "{}",
            out.files[2].data
        );
        let parsed: Value =
            serde_norway::from_str(&out.files[2].data.replace("!unsafe ", "")).unwrap();
        assert_eq!(
            parsed,
            json!({"api_True": "s3cr'et\"", "nested": {"k": ["s3cr'et\"", "lit"]}}),
            "{}",
            out.files[2].data
        );
        assert_eq!(
            out.args,
            vec!["-e".to_string(), format!("@/pd/{}", out.files[2].path)]
        );
    }

    #[test]
    fn bad_types_get_awx_messages() {
        let ok = json!({"fields": [{"id": "a", "label": "A"}]});
        for (inputs, injectors, field, msg) in [
            (json!({"fields": [{"id": "1a", "label": "A"}]}), json!({}), "inputs", "1a is an invalid variable name"),
            (json!({"fields": [{"id": "tower", "label": "A"}]}), json!({}), "inputs", "\"tower\" is a reserved field name"),
            (json!({"fields": [{"id": "a", "label": "A"}, {"id": "a", "label": "B"}]}), json!({}), "inputs", "field IDs must be unique (a)"),
            (json!({"fields": [{"id": "a", "label": "A", "type": "boolean", "secret": true}]}), json!({}), "inputs", "secret not allowed for boolean type (a)"),
            (json!({"fields": [{"id": "a"}]}), json!({}), "inputs", "'label' is a required property"),
            (json!({"fields": [{"id": "a", "label": "A", "type": "int"}]}), json!({}), "inputs", "\"int\" is not one of ['string', 'boolean']"),
            (ok.clone(), json!({"env": {"X": "{{ b }}"}}), "injectors", "X uses an undefined field ('b' is undefined)"),
            (ok.clone(), json!({"env": {"X": "{{ tower.filename }}"}}), "injectors", "X uses an undefined field (Must define unnamed file injector in order to reference `tower.filename`.)"),
            (ok.clone(), json!({"env": {"ANSIBLE_X": "{{ a }}"}}), "injectors", "Environment variable ANSIBLE_X may affect Ansible configuration so its use is not allowed in credentials."),
            (ok.clone(), json!({"env": {"PATH": "{{ a }}"}}), "injectors", "Environment variable PATH is not allowed to be used in credentials."),
            (ok.clone(), json!({"file": {"template": "x", "template.b": "y"}}), "injectors", "Must use multi-file syntax when injecting multiple files"),
        ] {
            let e = validate_type(&inputs, &injectors).expect_err(msg);
            assert_eq!(e[field], json!([msg]), "{inputs} {injectors}: {e:?}");
        }
        let e = validate_type(&ok, &json!({"env": {"X": "{{ a "}})).unwrap_err();
        assert!(
            e["injectors"][0]
                .as_str()
                .unwrap()
                .starts_with("Syntax error rendering template for X inside of env ("),
            "{e:?}"
        );
        validate_type(&ok, &json!({"file": {"template.x": "{{ a }}"}, "env": {"F": "{{ tower.filename.x }}"}, "extra_vars": {"v": "{{ a }}"}})).unwrap();
    }
}
