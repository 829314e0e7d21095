//! What differs by resource, on top of the generic handlers: password hashing for users,
//! sealed inputs for credentials, the project/inventory/playbook rules of job templates,
//! manual projects' directories, token issue, named URLs and delete rules.

use crate::auth::{hash_password, random_token, sha256_hex};
use crate::error::{ApiError, ApiResult};
use crate::render::Renderer;
use crate::{AppState, Identity};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use rawx_model::filter::{Cond, Filter};
use rawx_model::resources::{
    by_key, CREDENTIALS, CREDENTIAL_TYPES, GROUPS, HOSTS, JT_CREDENTIALS, PROJECTS, TOKENS,
};
use rawx_model::schema::{int, text};
use rawx_model::schema::{ColumnType, Kind, Relation, Resource};
use rawx_model::secret::{is_sealed, ENCRYPTED};
use rawx_model::validate::{validate, FieldErrors, Mode};
use rawx_model::Row;
use serde_json::{json, Map, Value};

/// A named URL (`Lab++Default`, `admin`, `key++Machine+ssh++Ops`) to the object's id.
pub async fn resolve_named(
    state: &AppState,
    res: &'static Resource,
    raw: &str,
) -> ApiResult<Option<i64>> {
    let Some(name_field) = res.name_field else {
        return Ok(None);
    };
    let mut parts = raw.splitn(2, "++");
    let mut name = parts.next().unwrap_or_default().to_string();
    let mut rest = parts.next();
    let mut filter = Filter::All(vec![]);
    let fk_parents: Vec<&str> = res
        .named_url_parents
        .iter()
        .copied()
        .filter(|p| matches!(res.field(p).map(|f| f.kind), Some(Kind::Fk(_))))
        .collect();
    for p in res
        .named_url_parents
        .iter()
        .filter(|p| !fk_parents.contains(p))
    {
        // A plain column joins the name with one `+`.
        let Some((n, v)) = name.rsplit_once('+') else {
            return Ok(None);
        };
        filter = filter.and(Filter::eq(
            p,
            ColumnType::Text,
            json!(v.replace("[+]", "+")),
        ));
        name = n.to_string();
    }
    for (i, p) in fk_parents.iter().enumerate() {
        let Some(Kind::Fk(target)) = res.field(p).map(|f| f.kind) else {
            continue;
        };
        let segment = if i + 1 == fk_parents.len() {
            rest.take().unwrap_or_default().to_string()
        } else {
            let mut it = rest.unwrap_or_default().splitn(2, "++");
            let seg = it.next().unwrap_or_default().to_string();
            rest = it.next();
            seg
        };
        if segment.is_empty() {
            filter = filter.and(Filter::On {
                path: vec![],
                column: p,
                ctype: ColumnType::Int,
                cond: Cond::IsNull(true),
            });
            continue;
        }
        let tres = by_key(target).expect("fk target");
        let Some(pid) = Box::pin(resolve_named(state, tres, &segment)).await? else {
            return Ok(None);
        };
        filter = filter.and(Filter::eq(p, ColumnType::Int, json!(pid)));
    }
    if rest.is_some_and(|r| !r.is_empty()) {
        return Ok(None);
    }
    filter = filter.and(Filter::eq(
        name_field,
        ColumnType::Text,
        json!(name.replace("[+]", "+")),
    ));
    Ok(state
        .store
        .find(res, &filter)
        .await?
        .and_then(|r| int(&r, "id")))
}

/// Resource rules applied after schema validation, before the permission check and the
/// write. `existing` is the stored object on update. Returns extra response fields.
pub async fn prepare(
    state: &AppState,
    ident: &Identity,
    res: &'static Resource,
    row: &mut Row,
    existing: Option<&Row>,
) -> ApiResult<Option<Map<String, Value>>> {
    let actor = &ident.actor;
    let merged = |row: &Row| {
        let mut m = existing.cloned().unwrap_or_default();
        m.extend(row.clone());
        m
    };
    match res.key {
        "users" => {
            if let Some(u) = row.get("username").and_then(Value::as_str) {
                if !u
                    .chars()
                    .all(|c| c.is_alphanumeric() || "@.+-_".contains(c))
                {
                    return Err(ApiError::field(
                        "username",
                        "Enter a valid username. This value may contain only letters, numbers, and @/./+/-/_ characters.",
                    ));
                }
            }
            for flag in ["is_superuser", "is_system_auditor"] {
                let now = existing
                    .and_then(|e| e.get(flag))
                    .and_then(Value::as_bool)
                    .unwrap_or(false);
                if row
                    .get(flag)
                    .and_then(Value::as_bool)
                    .is_some_and(|v| v != now)
                    && !actor.is_superuser
                {
                    return Err(ApiError::forbidden());
                }
            }
            match row.get("password").and_then(Value::as_str) {
                Some(p) if !p.is_empty() => {
                    let p = p.to_string();
                    let hashed = tokio::task::spawn_blocking(move || hash_password(&p))
                        .await
                        .map_err(|e| ApiError::Internal(e.to_string()))?;
                    row.insert("password".into(), json!(hashed));
                }
                // An empty password leaves the stored one alone (AWX's edit form sends "").
                Some(_) if existing.is_some() => {
                    row.remove("password");
                }
                _ => {}
            }
        }
        "credential_types" => {
            if existing.is_some_and(|e| e["managed"] == json!(true)) {
                return Err(ApiError::Forbidden(
                    "Modifications to managed credential types are not allowed.".into(),
                ));
            }
            if let Some(k) = row.get("kind").and_then(Value::as_str) {
                if !matches!(k, "cloud" | "net") {
                    return Err(ApiError::field(
                        "kind",
                        "Must be 'cloud' or 'net', not ".to_string() + k,
                    ));
                }
            }
        }
        "credentials" => prepare_credential(state, ident, row, existing).await?,
        "projects" => {
            let m = merged(row);
            if text(&m, "scm_type").is_empty()
                && (row.contains_key("local_path") || existing.is_none())
            {
                check_local_path(state, text(&m, "local_path"))?;
            }
        }
        "job_templates" => {
            let m = merged(row);
            let mut errors = FieldErrors::default();
            match int(&m, "project") {
                None => errors.add("project", "Job Templates must have a project assigned."),
                Some(pid) => {
                    let project = state.store.get(&PROJECTS, pid).await?;
                    row.insert(
                        "organization".into(),
                        project.get("organization").cloned().unwrap_or(Value::Null),
                    );
                    let playbook = text(&m, "playbook");
                    if playbook.is_empty() {
                        errors.add("playbook", "This field is required.");
                    } else if text(&project, "scm_type").is_empty() {
                        let dir = state.config.projects_dir.join(text(&project, "local_path"));
                        if !playbook_in(&dir, playbook) {
                            errors.add("playbook", "Playbook not found for project.");
                        }
                    }
                }
            }
            if int(&m, "inventory").is_none()
                && m.get("ask_inventory_on_launch") != Some(&json!(true))
            {
                errors.add(
                    "inventory",
                    "Job Template must provide 'inventory' or allow prompting for it.",
                );
            }
            let max = state.settings().get(rawx_domain::settings::MAX_FORKS).await;
            if max > 0 && int(&m, "forks").unwrap_or(0) > max {
                errors.add(
                    "forks",
                    format!("Maximum number of forks ({max}) exceeded."),
                );
            }
            if !errors.is_empty() {
                return Err(ApiError::Fields(errors));
            }
        }
        "tokens" => {
            row.insert("user".into(), json!(actor.user_id));
        }
        "ad_hoc_commands" => crate::adhoc::prepare(state, ident, row, existing).await?,
        "schedules" => crate::schedules::prepare(state, row, existing).await?,
        _ => {}
    }
    Ok(None)
}

/// A playbook path inside a project directory: relative, no `..`, an existing file.
fn playbook_in(dir: &std::path::Path, playbook: &str) -> bool {
    let p = std::path::Path::new(playbook);
    p.is_relative()
        && !p
            .components()
            .any(|c| matches!(c, std::path::Component::ParentDir))
        && dir.join(p).is_file()
}

fn check_local_path(state: &AppState, path: &str) -> ApiResult<()> {
    let root = &state.config.projects_dir;
    let valid = !path.is_empty()
        && !path.contains('/')
        && !path.starts_with('.')
        && root.join(path).is_dir();
    if valid {
        return Ok(());
    }
    let mut choices: Vec<String> = std::fs::read_dir(root)
        .map(|d| {
            d.filter_map(Result::ok)
                .filter(|e| e.path().is_dir())
                .filter_map(|e| e.file_name().into_string().ok())
                .filter(|n| !n.starts_with('.'))
                .collect()
        })
        .unwrap_or_default();
    choices.sort();
    let msg = if choices.is_empty() {
        format!(
            "Invalid path choice. No project directories exist in {}: create one there first.",
            root.display()
        )
    } else {
        format!(
            "Invalid path choice. Choose one of the directories in {}: {}.",
            root.display(),
            choices.join(", ")
        )
    };
    Err(ApiError::field("local_path", msg))
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
    row.insert("kind".into(), ctype["kind"].clone());
    row.insert("cloud".into(), json!(ctype["kind"] == json!("cloud")));
    row.insert(
        "kubernetes".into(),
        json!(ctype["namespace"] == json!("kubernetes_bearer_token")),
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
        if fspec["secret"] == json!(true) && v.is_string() {
            let s = v.as_str().unwrap_or_default();
            if s == ENCRYPTED {
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
            _ => {}
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

/// Issues a token for `user` (POST `/tokens/` or `/users/N/personal_tokens/`). The token
/// string is shown in this answer only; the store keeps its hash.
pub async fn create_token(
    state: &AppState,
    ident: &Identity,
    user: Row,
    body: Value,
) -> ApiResult<Response> {
    let actor = &ident.actor;
    if actor.read_only_token {
        return Err(ApiError::forbidden());
    }
    let uid = int(&user, "id").unwrap_or_default();
    if uid != actor.user_id && !actor.is_superuser {
        return Err(ApiError::forbidden());
    }
    let mut body = body;
    if let Some(o) = body.as_object_mut() {
        o.remove("user");
    }
    let mut row = validate(&TOKENS, &body, Mode::Create).map_err(ApiError::Fields)?;
    let token = random_token(30);
    let ttl = state
        .settings()
        .get(rawx_domain::settings::OAUTH2_PROVIDER)
        .await
        .get("ACCESS_TOKEN_EXPIRE_SECONDS")
        .and_then(Value::as_i64)
        .unwrap_or(31_536_000_000);
    row.insert("user".into(), json!(uid));
    row.insert("token".into(), json!(""));
    row.insert("token_hash".into(), json!(sha256_hex(&token)));
    row.insert(
        "expires".into(),
        json!(rawx_model::time_after(ttl.min(31_536_000_000))),
    );
    row.insert("created_by".into(), json!(actor.user_id));
    row.insert("modified_by".into(), json!(actor.user_id));
    let id = state.store.insert(&TOKENS, &row).await?;
    let stored = state.store.get(&TOKENS, id).await?;
    let mut out = Renderer::new(state, actor).render(&TOKENS, &stored).await?;
    out["token"] = json!(token);
    out["refresh_token"] = Value::Null;
    tracing::info!(token_id = id, user = uid, "token issued");
    let loc = format!("/api/v2/tokens/{id}/");
    Ok((StatusCode::CREATED, [(header::LOCATION, loc)], Json(out)).into_response())
}

pub async fn before_delete(
    state: &AppState,
    ident: &Identity,
    res: &Resource,
    row: &Row,
) -> ApiResult<()> {
    if matches!(res.key, "jobs" | "ad_hoc_commands") && !crate::jobs::is_final(text(row, "status"))
    {
        return Err(ApiError::Forbidden(
            "Cannot delete running job resource.".into(),
        ));
    }
    let active =
        crate::jobs::active_jobs_using(state, res, int(row, "id").unwrap_or_default()).await?;
    if !active.is_empty() {
        let jobs: Vec<Value> = active
            .iter()
            .map(|id| json!({"type": "job", "id": id}))
            .collect();
        return Err(ApiError::Status(
            StatusCode::CONFLICT,
            json!({"error": "Resource is being used by running jobs.", "active_jobs": jobs}),
        ));
    }
    if let ("schedules", Some(jt)) = (res.key, int(row, "unified_job_template")) {
        rawx_domain::schedules::template_next_run(&*state.store, jt, int(row, "id"), None).await?;
    }
    if res.key == "credential_types" && row["managed"] == json!(true) {
        return Err(ApiError::Forbidden(
            "Deletion of managed credential types is not allowed.".into(),
        ));
    }
    if res.key == "execution_environments" && row["managed"] == json!(true) {
        return Err(ApiError::Forbidden(
            "Deletion of managed execution environments is not allowed.".into(),
        ));
    }
    if res.key == "users" && int(row, "id") == Some(ident.actor.user_id) {
        return Err(ApiError::Forbidden(
            "You cannot delete your own user.".into(),
        ));
    }
    Ok(())
}

/// A delete the database refused because something still uses the object.
pub fn in_use(res: &Resource) -> ApiError {
    if res.key == "credential_types" {
        ApiError::Forbidden("Credential types that are in use cannot be deleted.".into())
    } else {
        ApiError::Status(
            StatusCode::CONFLICT,
            json!({"error": format!("{} is in use by other objects and cannot be deleted.", res.verbose)}),
        )
    }
}

/// Rules of a link beyond both objects being visible and the owner writable.
pub async fn check_link(
    state: &AppState,
    relation: &'static Relation,
    left: i64,
    right: i64,
) -> ApiResult<()> {
    if std::ptr::eq(relation, &rawx_model::resources::GROUP_HOSTS) {
        let g = state.store.get(&GROUPS, left).await?;
        let h = state.store.get(&HOSTS, right).await?;
        if g["inventory"] != h["inventory"] {
            return Err(ApiError::Msg(
                "A host can only join groups of its own inventory.".into(),
            ));
        }
    }
    if std::ptr::eq(relation, &JT_CREDENTIALS) {
        let new = state.store.get(&CREDENTIALS, right).await?;
        for cid in state.store.linked(&JT_CREDENTIALS, true, left).await? {
            if cid == right {
                continue;
            }
            let c = state.store.get(&CREDENTIALS, cid).await?;
            if c["credential_type"] == new["credential_type"] && c["kind"] != json!("vault") {
                return Err(ApiError::Msg(format!(
                    "Cannot assign multiple {} credentials.",
                    text(
                        &state
                            .store
                            .get(
                                &CREDENTIAL_TYPES,
                                int(&c, "credential_type").unwrap_or_default()
                            )
                            .await?,
                        "name"
                    )
                )));
            }
        }
    }
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
