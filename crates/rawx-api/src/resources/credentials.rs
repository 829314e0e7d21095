//! Credentials: the type decides `kind`, `cloud`, `kubernetes`; a credential without an
//! organization is its creator's own; inputs are checked against the type's fields, secrets
//! sealed (`$encrypted$` sent back keeps the stored one), and an encrypted SSH key needs its
//! passphrase.

use crate::error::{ApiError, ApiResult};
use crate::resource::ResourceApi;
use crate::view::Summary;
use crate::{AppState, Identity};
use axum::http::StatusCode;
use rawx_model::resources::{CREDENTIALS, CREDENTIAL_TYPES};
use rawx_model::schema::{int, text, Resource};
use rawx_model::secret::{is_sealed, ENCRYPTED};
use rawx_model::Row;
use serde_json::{json, Map, Value};

pub struct Credentials;

#[async_trait::async_trait]
impl ResourceApi for Credentials {
    fn schema(&self) -> &'static Resource {
        &CREDENTIALS
    }

    fn routes(&self) -> crate::resource::Routes {
        let mut routes = super::copy::routes(&COPY);
        routes.extend(super::credential_input_sources::credential_test_routes());
        routes
    }

    fn related(&self, row: &Row, related: &mut serde_json::Map<String, serde_json::Value>) {
        super::copy::related(&COPY, row, related);
    }

    /// `CredentialAccess.get_user_capabilities`: `use` (the use role, or the owner of a
    /// credential without an organization), `copy`; a managed credential is never edited.
    async fn user_capabilities(
        &self,
        r: &mut crate::view::Renderer<'_>,
        row: &Row,
        caps: &mut Map<String, Value>,
    ) -> ApiResult<()> {
        let id = int(row, "id").unwrap_or_default();
        let owner = int(row, "user").is_some_and(|u| u == r.actor.user_id);
        let usable = !r.actor.read_only_token
            && (owner || r.holds("credentials", id, &["use_role"]).await?);
        caps.insert("use".into(), json!(usable));
        let copy = super::copy::may_copy(r, &COPY, row).await?;
        caps.insert("copy".into(), json!(copy));
        if row.get("managed").and_then(Value::as_bool).unwrap_or(false) {
            caps.insert("edit".into(), json!(false));
            caps.insert("delete".into(), json!(false));
        }
        Ok(())
    }

    async fn prepare(
        &self,
        state: &AppState,
        ident: &Identity,
        row: &mut Row,
        existing: Option<&Row>,
    ) -> ApiResult<()> {
        prepare_credential(state, ident, row, existing).await
    }

    fn summary(&self) -> Summary {
        Summary {
            fields: &["name", "description", "kind", "cloud", "kubernetes"],
            ids: &[("credential_type_id", "credential_type")],
        }
    }
}

async fn prepare_credential(
    state: &AppState,
    ident: &Identity,
    row: &mut Row,
    existing: Option<&Row>,
) -> ApiResult<()> {
    let actor = &ident.actor;
    let type_id =
        int(row, "credential_type").or_else(|| existing.and_then(|e| int(e, "credential_type")));
    let ctype = state
        .store
        .get(&CREDENTIAL_TYPES, type_id.unwrap_or_default())
        .await?;
    // AWX's `Credential.kind` is the type's namespace (a custom type has none).
    row.insert(
        "kind".into(),
        json!(ctype["namespace"].as_str().unwrap_or_default()),
    );
    row.insert("cloud".into(), json!(ctype["kind"] == json!("cloud")));
    row.insert(
        "kubernetes".into(),
        json!(ctype["kind"] == json!("kubernetes")),
    );
    if existing.is_none() && row.get("organization").is_none_or(Value::is_null) {
        // Without an organization the credential is someone's own.
        match int(row, "user") {
            Some(u) if u != actor.user_id && !actor.is_superuser => {
                return Err(ApiError::forbidden())
            }
            Some(_) => {}
            None => {
                row.insert("user".into(), json!(actor.user_id));
            }
        }
    }
    let Some(inputs) = row.get("inputs").and_then(Value::as_str) else {
        return Ok(());
    };
    let inputs: Map<String, Value> = serde_json::from_str(inputs).unwrap_or_default();
    let spec: Value = serde_json::from_str(text(&ctype, "inputs")).unwrap_or(json!({}));
    let fields = spec["fields"].as_array().cloned().unwrap_or_default();
    let old: Map<String, Value> = existing
        .and_then(|e| e.get("inputs"))
        .and_then(Value::as_str)
        .and_then(|s| serde_json::from_str(s).ok())
        .unwrap_or_default();
    let mut errors = Map::new();
    let mut sealed = Map::new();
    // Secrets given in this request, in the clear, for checks that need to read them.
    let mut plain_inputs: std::collections::HashMap<String, String> = Default::default();
    for (k, v) in inputs {
        let Some(fspec) = fields.iter().find(|f| f["id"] == json!(k)) else {
            errors.insert(
                k.clone(),
                json!([format!(
                    "'{k}' is not an input of credential type {}.",
                    text(&ctype, "name")
                )]),
            );
            continue;
        };
        let want_bool = fspec["type"] == json!("boolean");
        if (want_bool && !v.is_boolean()) || (!want_bool && !v.is_string()) {
            errors.insert(
                k.clone(),
                json!([if want_bool {
                    "Must be a boolean."
                } else {
                    "Must be a string."
                }]),
            );
            continue;
        }
        if let (Some(choices), Some(s)) = (fspec["choices"].as_array(), v.as_str()) {
            if !choices.iter().any(|c| c == &json!(s)) {
                let listed: Vec<String> = choices
                    .iter()
                    .map(|c| format!("'{}'", c.as_str().unwrap_or_default()))
                    .collect();
                errors.insert(
                    k.clone(),
                    json!([format!("'{s}' is not one of [{}]", listed.join(", "))]),
                );
                continue;
            }
        }
        if fspec["ask_at_runtime"] == json!(true) && v == json!("ASK") {
            // Asked at launch (`passwords_needed_to_start`): kept as the marker, as AWX does.
            sealed.insert(k, v);
        } else if fspec["secret"] == json!(true) && v.is_string() {
            let s = v.as_str().unwrap_or_default();
            if s == ENCRYPTED && existing.is_none() {
                return Err(ApiError::Status(
                    StatusCode::BAD_REQUEST,
                    json!({"inputs": [format!("$encrypted$ is a reserved keyword, and cannot be used for {k}.")]}),
                ));
            } else if s == ENCRYPTED {
                // AWX: sending `$encrypted$` back keeps what is stored.
                match old.get(&k) {
                    Some(prev) => sealed.insert(k, prev.clone()),
                    None => {
                        errors.insert(k.clone(), json!(["$encrypted$ stands for a stored secret, and none is stored yet: send the value."]));
                        continue;
                    }
                };
            } else if is_sealed(s) {
                errors.insert(
                    k.clone(),
                    json!(["Send the secret itself, not a sealed value."]),
                );
            } else {
                plain_inputs.insert(k.clone(), s.to_string());
                sealed.insert(k, json!(state.key.seal(s)));
            }
        } else {
            sealed.insert(k, v);
        }
    }
    // The type's `dependencies` (Network: `authorize_password` needs `authorize`), with AWX's
    // message naming the field depended on by its label.
    if let Some(deps) = spec["dependencies"].as_object() {
        for (field, needs) in deps {
            if !sealed.contains_key(field) {
                continue;
            }
            for need in needs
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
            {
                if !sealed.contains_key(need) {
                    let label = fields
                        .iter()
                        .find(|f| f["id"] == json!(need))
                        .and_then(|f| f["label"].as_str())
                        .unwrap_or(need);
                    errors.insert(
                        field.clone(),
                        json!([format!("cannot be set unless \"{label}\" is set")]),
                    );
                }
            }
        }
    }
    // A key the job could not use is refused now: an encrypted key without its passphrase
    // would leave ssh-add waiting at a prompt nobody answers.
    for f in fields
        .iter()
        .filter(|f| f["format"] == json!("ssh_private_key"))
    {
        let id = f["id"].as_str().unwrap_or_default();
        let Some(key) = plain_inputs.get(id) else {
            continue;
        };
        match ssh_key_encrypted(key) {
            None => {
                errors.insert(id.into(), json!(["Invalid certificate or key: no private key (-----BEGIN … PRIVATE KEY-----) found."]));
            }
            Some(true) if id == "ssh_key_data" && !sealed.contains_key("ssh_key_unlock") => {
                errors.insert(
                    "ssh_key_unlock".into(),
                    json!(["must be set when SSH key is encrypted."]),
                );
            }
            Some(false)
                if id == "ssh_key_data"
                    && ctype["managed"] == json!(true)
                    && sealed
                        .get("ssh_key_unlock")
                        .is_some_and(|v| v != &json!("")) =>
            {
                errors.insert(
                    "ssh_key_unlock".into(),
                    json!(["should not be set when SSH key is not encrypted."]),
                );
            }
            _ => {}
        }
    }
    if let Some(e) = existing.filter(|_| ctype["kind"] == json!("vault")) {
        let before = old.get("vault_id").cloned().unwrap_or(json!(""));
        if sealed.get("vault_id").is_some_and(|v| v != &before) && e.get("id").is_some() {
            return Err(ApiError::Status(
                StatusCode::BAD_REQUEST,
                json!({"inputs": ["Vault IDs cannot be changed once they have been created."]}),
            ));
        }
    }
    if !errors.is_empty() {
        return Err(ApiError::Status(
            StatusCode::BAD_REQUEST,
            json!({"inputs": errors}),
        ));
    }
    row.insert("inputs".into(), json!(Value::Object(sealed).to_string()));
    Ok(())
}

/// Whether a private key is passphrase-protected; `None` when the text holds no private key.
fn ssh_key_encrypted(text: &str) -> Option<bool> {
    use base64::Engine;
    let begin = text.find("-----BEGIN ")?;
    let header_end = text[begin..]
        .find("-----\n")
        .or_else(|| text[begin..].find("-----\r\n"))?
        + begin;
    let label = &text[begin + 11..header_end];
    if !label.ends_with("PRIVATE KEY") {
        return None;
    }
    if label == "ENCRYPTED PRIVATE KEY" || text.contains("Proc-Type: 4,ENCRYPTED") {
        return Some(true);
    }
    if label != "OPENSSH PRIVATE KEY" {
        return Some(false);
    }
    // openssh-key-v1: magic, then the cipher name as a length-prefixed string.
    let body: String = text[header_end + 5..]
        .lines()
        .take_while(|l| !l.starts_with("-----END"))
        .collect();
    let raw = base64::engine::general_purpose::STANDARD
        .decode(body.trim())
        .ok()?;
    let magic = b"openssh-key-v1\0";
    let rest = raw.strip_prefix(magic.as_slice())?;
    let len = u32::from_be_bytes(rest.get(..4)?.try_into().ok()?) as usize;
    let cipher = rest.get(4..4 + len)?;
    Some(cipher != b"none")
}

/// Credentials: inputs copied as stored (secrets stay sealed); `input_sources` are not served yet.
static COPY: super::copy::CopySpec = super::copy::CopySpec {
    res: &CREDENTIALS,
    path: "/api/v2/credentials/{id}/copy/",
    discard: &[],
    links: &[],
    hosts_and_groups: false,
};
