//! AWX's external secret lookups ("credential plugins", `awx/main/credential_plugins/` at
//! 24.6.1): given a lookup credential's inputs and an input source's metadata (AWX's
//! `backend(**kwargs)`), fetch one secret from the vendor's vault over its HTTP API.
//!
//! The nine plugins, by the namespace of their credential type: `hashivault_kv` (KV v1 and
//! v2), `hashivault_ssh` (signed SSH keys), `aim` (CyberArk Central Credential Provider),
//! `conjur` (CyberArk Conjur), `azure_kv` (Microsoft Azure Key Vault), `centrify_vault_kv`,
//! `thycotic_dsv` (DevOps Secrets Vault), `thycotic_tss` (Secret Server) and
//! `aws_secretsmanager_credential` (AWS Secrets Manager, signed with SigV4: [`sigv4`]). Each
//! sends the requests AWX's plugin (or the vendor SDK it calls) sends, with the same paths,
//! headers and bodies, and reads the same fields of the answer.
//!
//! **Invariant:** a secret never leaves this crate except as the `Ok` value. Errors name the
//! plugin, the step, the method and the URL without its query (CyberArk puts the application
//! id there), the status and the vendor's own message with every secret input and every token
//! obtained on the way masked; nothing here logs.

mod aws;
mod azure;
mod centrify;
mod cyberark;
mod hashivault;
mod http;
pub mod sigv4;
mod thycotic;

use serde_json::{Map, Value};

/// AWX's `backend(**kwargs)`: the source credential's inputs (secrets in the clear) and the
/// input source's metadata in one map.
pub type Kwargs = Map<String, Value>;

/// The namespaces of the lookup credential types and AWX's names for them.
pub const PLUGINS: &[(&str, &str)] = &[
    ("aim", "CyberArk Central Credential Provider Lookup"),
    ("conjur", "CyberArk Conjur Secrets Manager Lookup"),
    ("hashivault_kv", "HashiCorp Vault Secret Lookup"),
    ("hashivault_ssh", "HashiCorp Vault Signed SSH"),
    ("azure_kv", "Microsoft Azure Key Vault"),
    (
        "centrify_vault_kv",
        "Centrify Vault Credential Provider Lookup",
    ),
    ("thycotic_dsv", "Thycotic DevOps Secrets Vault"),
    ("thycotic_tss", "Thycotic Secret Server"),
    (
        "aws_secretsmanager_credential",
        "AWS Secrets Manager lookup",
    ),
];

/// Inputs that hold secrets in some plugin: masked in any message.
const SECRET_INPUTS: &[&str] = &[
    "token",
    "secret_id",
    "password",
    "client_cert_private",
    "api_key",
    "app_id",
    "client_key",
    "client_cert",
    "secret",
    "client_password",
    "client_secret",
    "aws_secret_key",
];

/// A failed lookup. `message` is safe to show (no secret); `status` is the vault's HTTP status
/// when the failure was an answer (AWX's test endpoints answer `HTTP <status>` then).
#[derive(Debug, Clone, PartialEq)]
pub struct LookupError {
    pub status: Option<u16>,
    pub message: String,
}

impl std::fmt::Display for LookupError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for LookupError {}

impl LookupError {
    pub(crate) fn new(message: impl Into<String>) -> LookupError {
        LookupError {
            status: None,
            message: message.into(),
        }
    }
}

/// Whether `namespace` is one of the nine lookup plugins.
pub fn is_plugin(namespace: &str) -> bool {
    PLUGINS.iter().any(|(ns, _)| *ns == namespace)
}

/// Fetches the secret the lookup credential (`kwargs`: its inputs and the metadata) names.
pub async fn fetch(namespace: &str, kwargs: &Kwargs) -> Result<String, LookupError> {
    let Some((_, name)) = PLUGINS.iter().find(|(ns, _)| *ns == namespace) else {
        return Err(LookupError::new(format!(
            "{namespace} is not an external secret lookup"
        )));
    };
    let mut cx = Cx::new(kwargs);
    let got = match namespace {
        "hashivault_kv" => hashivault::kv(&mut cx, kwargs).await,
        "hashivault_ssh" => hashivault::ssh(&mut cx, kwargs).await,
        "aim" => cyberark::aim(&mut cx, kwargs).await,
        "conjur" => cyberark::conjur(&mut cx, kwargs).await,
        "azure_kv" => azure::key_vault(&mut cx, kwargs).await,
        "centrify_vault_kv" => centrify::centrify(&mut cx, kwargs).await,
        "thycotic_dsv" => thycotic::dsv(&mut cx, kwargs).await,
        "thycotic_tss" => thycotic::tss(&mut cx, kwargs).await,
        _ => aws::secrets_manager(&mut cx, kwargs).await,
    };
    got.map_err(|e| LookupError {
        status: e.status,
        message: cx.mask(&format!("{name}: {}", e.message)),
    })
}

/// One lookup's context: the secrets its messages must not show.
pub(crate) struct Cx {
    secrets: Vec<String>,
}

impl Cx {
    fn new(kwargs: &Kwargs) -> Cx {
        let secrets = SECRET_INPUTS
            .iter()
            .filter_map(|k| kwargs.get(*k).and_then(Value::as_str))
            .map(str::to_string)
            .collect();
        Cx { secrets }
    }

    /// Remembers a value obtained on the way (a token) so that no message shows it.
    pub fn secret(&mut self, s: &str) {
        self.secrets.push(s.to_string());
    }

    pub fn mask(&self, text: &str) -> String {
        let mut out = text.to_string();
        for s in self.secrets.iter().filter(|s| s.len() >= 3) {
            out = out.replace(s.as_str(), "**********");
            // A multi-line secret (a key) may be quoted line by line.
            for line in s.lines().filter(|l| l.len() >= 16) {
                out = out.replace(line, "**********");
            }
        }
        out
    }
}

/// A text input, `""` when absent, null or not text.
pub(crate) fn s<'a>(kw: &'a Kwargs, key: &str) -> &'a str {
    kw.get(key).and_then(Value::as_str).unwrap_or_default()
}

/// A text input, `default` when absent or empty.
pub(crate) fn s_or<'a>(kw: &'a Kwargs, key: &str, default: &'a str) -> &'a str {
    Some(s(kw, key))
        .filter(|v| !v.is_empty())
        .unwrap_or(default)
}

/// A required input (AWX's `kwargs['x']`).
pub(crate) fn need<'a>(kw: &'a Kwargs, key: &str) -> Result<&'a str, LookupError> {
    match kw.get(key) {
        Some(Value::String(v)) => Ok(v),
        _ => Err(LookupError::new(format!("the input {key} is missing"))),
    }
}

/// Python's `quote(s, safe='')`: everything but `A-Za-z0-9_.-~` is escaped.
pub(crate) fn quote(s: &str) -> String {
    const SET: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'_')
        .remove(b'.')
        .remove(b'-')
        .remove(b'~');
    percent_encoding::utf8_percent_encode(s, SET).to_string()
}

/// A JSON value as the text a job receives: a string as is, anything else as JSON.
pub(crate) fn as_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}
