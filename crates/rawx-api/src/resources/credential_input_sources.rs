//! Credential input sources (AWX's `CredentialInputSource`, `/api/v2/credential_input_sources/`
//! and `/credentials/N/input_sources/`): a field of one credential filled at launch by a
//! lookup credential. The checks of AWX's model and serializer, with its messages: the target
//! is no lookup, the source is one, the field is one of the target's, the metadata is what the
//! lookup type defines (`rawx_domain::credentials::validate_metadata`). Access as
//! `CredentialInputSourceAccess`: read with the target credential; create and change as the
//! target's admin who may use the source (`rbac::add_needs`); delete as the target's admin.
//!
//! Also the lookups' tests (`/credentials/N/test/`, `/credential_types/N/test/`, AWX's
//! `CredentialExternalTest`/`CredentialTypeExternalTest`): the lookup is run with the
//! inputs and metadata posted (over the stored inputs for a credential); 202 when it found
//! the secret (never shown), 400 `{"inputs": "<why>"}` otherwise.

use crate::auth::Auth;
use crate::error::{ApiError, ApiResult};
use crate::handlers::{fetch_visible, json_body};
use crate::resource::{ResourceApi, Routes};
use crate::view::Renderer;
use crate::{AppState, Identity};
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Json;
use rawx_domain::credentials::{self, TypeDef};
use rawx_model::resources::{CREDENTIALS, CREDENTIAL_INPUT_SOURCES, CREDENTIAL_TYPES};
use rawx_model::schema::{int, text, Resource};
use rawx_model::Row;
use serde_json::{json, Map, Value};
use std::sync::Arc;

pub struct CredentialInputSources;

fn json_of(row: &Row, key: &str) -> Value {
    match row.get(key) {
        Some(Value::String(s)) => serde_json::from_str(s).unwrap_or(Value::String(s.clone())),
        Some(v) => v.clone(),
        None => json!({}),
    }
}

async fn type_of(state: &AppState, cred: &Row) -> ApiResult<TypeDef> {
    let ctype = state
        .store
        .get(
            &CREDENTIAL_TYPES,
            int(cred, "credential_type").unwrap_or_default(),
        )
        .await?;
    Ok(TypeDef::from_row(&ctype))
}

#[async_trait::async_trait]
impl ResourceApi for CredentialInputSources {
    fn schema(&self) -> &'static Resource {
        &CREDENTIAL_INPUT_SOURCES
    }

    async fn prepare(
        &self,
        state: &AppState,
        _ident: &Identity,
        row: &mut Row,
        existing: Option<&Row>,
    ) -> ApiResult<()> {
        let pick = |k: &str| {
            row.get(k)
                .or_else(|| existing.and_then(|e| e.get(k)))
                .cloned()
        };
        let id_of = |k: &str| pick(k).and_then(|v| v.as_i64());
        let mut errors = Map::new();
        let target = match id_of("target_credential") {
            Some(id) => state.store.get(&CREDENTIALS, id).await.ok(),
            None => None,
        };
        let source = match id_of("source_credential") {
            Some(id) => state.store.get(&CREDENTIALS, id).await.ok(),
            None => None,
        };
        let target_type = match &target {
            Some(t) => Some(type_of(state, t).await?),
            None => None,
        };
        let source_type = match &source {
            Some(s) => Some(type_of(state, s).await?),
            None => None,
        };
        if target_type.as_ref().is_some_and(|t| t.kind == "external") {
            errors.insert(
                "target_credential".into(),
                json!(["Target must be a non-external credential"]),
            );
        }
        if source_type.as_ref().is_some_and(|t| t.kind != "external") {
            errors.insert(
                "source_credential".into(),
                json!(["Source must be an external credential"]),
            );
        }
        if let Some(t) = target_type.as_ref().filter(|t| t.kind != "external") {
            let name = pick("input_field_name")
                .and_then(|v| v.as_str().map(String::from))
                .unwrap_or_default();
            let mut defined: Vec<String> = t
                .fields()
                .iter()
                .filter_map(|f| f["id"].as_str().map(String::from))
                .collect();
            defined.sort();
            if !defined.contains(&name) {
                errors.insert(
                    "input_field_name".into(),
                    json!([format!(
                        "Input field must be defined on target credential (options are {}).",
                        defined.join(", ")
                    )]),
                );
            }
        }
        if let Some(t) = source_type.as_ref().filter(|t| t.kind == "external") {
            let metadata = match (row.get("metadata"), existing) {
                (Some(_), _) => json_of(row, "metadata"),
                (None, Some(e)) => json_of(e, "metadata"),
                (None, None) => json!({}),
            };
            if let Err(e) = credentials::validate_metadata(t, &metadata) {
                errors.insert("metadata".into(), e);
            }
        }
        if !errors.is_empty() {
            return Err(ApiError::Status(
                StatusCode::BAD_REQUEST,
                Value::Object(errors),
            ));
        }
        Ok(())
    }

    async fn can_delete(&self, r: &mut Renderer<'_>, row: &Row) -> ApiResult<bool> {
        // `can_delete`: the target's admin, whatever the source.
        if r.actor.read_only_token {
            return Ok(false);
        }
        if r.actor.is_superuser {
            return Ok(true);
        }
        let target = int(row, "target_credential").unwrap_or_default();
        r.holds(CREDENTIALS.key, target, &["admin_role"]).await
    }

    async fn can_change(&self, r: &mut Renderer<'_>, row: &Row) -> ApiResult<bool> {
        // `can_change`: `can_add` of the new values, and the stored object's target admin and
        // source use.
        if !r.may_add(&CREDENTIAL_INPUT_SOURCES, row).await? {
            return Ok(false);
        }
        r.may_write(&CREDENTIAL_INPUT_SOURCES, row).await
    }

    async fn user_capabilities(
        &self,
        r: &mut Renderer<'_>,
        row: &Row,
        caps: &mut Map<String, Value>,
    ) -> ApiResult<()> {
        // The serializer's `show_capabilities = ['delete']`.
        caps.remove("edit");
        caps.insert("delete".into(), json!(self.can_delete(r, row).await?));
        Ok(())
    }
}

/// The stored inputs of a credential, secrets opened.
fn opened(state: &AppState, cred: &Row) -> ApiResult<Map<String, Value>> {
    let stored: Map<String, Value> = serde_json::from_str(text(cred, "inputs")).unwrap_or_default();
    let mut out = Map::new();
    for (k, v) in stored {
        let v = match v.as_str() {
            Some(s) if rawx_model::secret::is_sealed(s) => json!(state
                .key
                .open(s)
                .map_err(|e| ApiError::Internal(format!("a sealed input: {e}")))?),
            _ => v,
        };
        out.insert(k, v);
    }
    Ok(out)
}

/// Runs the lookup: 202 `{}` when it found the secret, 400 `{"inputs": …}` with AWX's
/// `HTTP <status>` for an error answer, else the reason (never a secret).
async fn run_test(def: &TypeDef, kwargs: Map<String, Value>) -> Response {
    if def.kind != "external" || !rawx_lookup::is_plugin(&def.namespace) {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({"inputs": format!("{} is not an external secret lookup", def.name)})),
        )
            .into_response();
    }
    match rawx_lookup::fetch(&def.namespace, &kwargs).await {
        Ok(_) => (StatusCode::ACCEPTED, Json(json!({}))).into_response(),
        Err(e) => {
            tracing::info!(plugin = %def.namespace, error = %e, "a lookup test failed");
            let message = match e.status {
                Some(s) => format!("HTTP {s}"),
                None => e.message,
            };
            (StatusCode::BAD_REQUEST, Json(json!({ "inputs": message }))).into_response()
        }
    }
}

fn object(body: &Value, key: &str) -> Map<String, Value> {
    body.get(key)
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default()
}

/// `POST /credentials/N/test/`: the stored inputs, those posted over them (`$encrypted$`
/// keeps the stored one), the metadata; the caller must be able to use the credential.
async fn test_credential(
    state: Arc<AppState>,
    ident: Identity,
    raw: String,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Response> {
    let cred = fetch_visible(&state, &ident.actor, &CREDENTIALS, &raw).await?;
    let mut r = Renderer::new(&state, &ident.actor);
    let id = int(&cred, "id").unwrap_or_default();
    if !ident.actor.is_superuser && !r.holds(CREDENTIALS.key, id, &["use_role"]).await? {
        return Err(ApiError::forbidden());
    }
    let body = json_body(&headers, &body)?;
    let def = type_of(&state, &cred).await?;
    let stored = opened(&state, &cred)?;
    let mut inputs = Map::new();
    for (k, v) in object(&body, "inputs") {
        if v != json!(rawx_model::secret::ENCRYPTED) {
            inputs.insert(k, v);
        }
    }
    let mut merged = stored;
    merged.extend(inputs);
    let kwargs = credentials::lookup_kwargs(&def, &merged, &object(&body, "metadata"), |s| {
        Ok::<_, ApiError>(s.to_string())
    })?;
    Ok(run_test(&def, kwargs).await)
}

/// `POST /credential_types/N/test/`: only what is posted.
async fn test_type(
    state: Arc<AppState>,
    ident: Identity,
    raw: String,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Response> {
    let ctype = fetch_visible(&state, &ident.actor, &CREDENTIAL_TYPES, &raw).await?;
    let body = json_body(&headers, &body)?;
    let def = TypeDef::from_row(&ctype);
    let kwargs = credentials::lookup_kwargs(
        &def,
        &object(&body, "inputs"),
        &object(&body, "metadata"),
        |s| Ok::<_, ApiError>(s.to_string()),
    )?;
    Ok(run_test(&def, kwargs).await)
}

/// The test routes, attached by the credential and credential type modules.
pub fn credential_test_routes() -> Routes {
    vec![(
        "/api/v2/credentials/{id}/test/",
        get(|State(state): State<Arc<AppState>>, Auth(ident): Auth, Path(raw): Path<String>| async move {
            fetch_visible(&state, &ident.actor, &CREDENTIALS, &raw).await?;
            ApiResult::Ok(Json(json!({})))
        })
        .post(
            |State(state): State<Arc<AppState>>,
             Auth(ident): Auth,
             Path(raw): Path<String>,
             headers: HeaderMap,
             body: Bytes| async move { test_credential(state, ident, raw, headers, body).await },
        ),
    )]
}

pub fn credential_type_test_routes() -> Routes {
    vec![(
        "/api/v2/credential_types/{id}/test/",
        get(|State(state): State<Arc<AppState>>, Auth(ident): Auth, Path(raw): Path<String>| async move {
            fetch_visible(&state, &ident.actor, &CREDENTIAL_TYPES, &raw).await?;
            ApiResult::Ok(Json(json!({})))
        })
        .post(
            |State(state): State<Arc<AppState>>,
             Auth(ident): Auth,
             Path(raw): Path<String>,
             headers: HeaderMap,
             body: Bytes| async move { test_type(state, ident, raw, headers, body).await },
        ),
    )]
}
