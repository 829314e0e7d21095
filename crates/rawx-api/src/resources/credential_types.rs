//! Credential types: managed ones (seeded, AWX's) are neither changed nor deleted; a custom
//! one is of kind `cloud` or `net`, its `inputs` and `injectors` pass AWX's checks
//! (`rawx_domain::credentials::validate_type`), it asks nothing at launch, its inputs stay as
//! they are while credentials use it, and one in use is not deleted.

use crate::error::{ApiError, ApiResult};
use crate::resource::ResourceApi;
use crate::{AppState, Identity};
use axum::http::StatusCode;
use rawx_model::filter::Filter;
use rawx_model::resources::{CREDENTIALS, CREDENTIAL_TYPES};
use rawx_model::schema::{ColumnType, Resource};
use rawx_model::Row;
use serde_json::{json, Value};

pub struct CredentialTypes;

fn json_of(row: &Row, key: &str) -> Option<Value> {
    match row.get(key)? {
        Value::String(s) => Some(serde_json::from_str(s).unwrap_or(Value::String(s.clone()))),
        other => Some(other.clone()),
    }
}

#[async_trait::async_trait]
impl ResourceApi for CredentialTypes {
    fn schema(&self) -> &'static Resource {
        &CREDENTIAL_TYPES
    }

    async fn prepare(
        &self,
        state: &AppState,
        _ident: &Identity,
        row: &mut Row,
        existing: Option<&Row>,
    ) -> ApiResult<()> {
        if existing.is_some_and(|e| e["managed"] == json!(true)) {
            return Err(ApiError::Forbidden(
                "Modifications not allowed for managed credential types".into(),
            ));
        }
        if let Some(e) = existing {
            let id = e["id"].as_i64().unwrap_or_default();
            let used = Filter::eq("credential_type", ColumnType::Int, json!(id));
            if row.get("inputs").is_some()
                && json_of(row, "inputs") != json_of(e, "inputs")
                && state.store.find(&CREDENTIALS, &used).await?.is_some()
            {
                return Err(ApiError::Forbidden(
                    "Modifications to inputs are not allowed for credential types that are in use"
                        .into(),
                ));
            }
        }
        if let Some(k) = row.get("kind").and_then(Value::as_str) {
            if !matches!(k, "cloud" | "net") {
                return Err(ApiError::field(
                    "kind",
                    "Must be 'cloud' or 'net', not ".to_string() + k,
                ));
            }
        }
        let pick = |k: &str| {
            json_of(row, k)
                .or_else(|| existing.and_then(|e| json_of(e, k)))
                .unwrap_or(json!({}))
        };
        let (inputs, injectors) = (pick("inputs"), pick("injectors"));
        if let Err(errors) = rawx_domain::credentials::validate_type(&inputs, &injectors) {
            return Err(ApiError::Status(
                StatusCode::BAD_REQUEST,
                Value::Object(errors),
            ));
        }
        let asks = inputs["fields"]
            .as_array()
            .is_some_and(|f| f.iter().any(|f| f["ask_at_runtime"] == json!(true)));
        if asks {
            return Err(ApiError::Status(
                StatusCode::BAD_REQUEST,
                json!({"inputs": ["'ask_at_runtime' is not supported for custom credentials."]}),
            ));
        }
        // AWX stores a field without `type` as a string one.
        if let Some(Value::Array(fields)) = row
            .get("inputs")
            .is_some()
            .then(|| inputs["fields"].clone())
        {
            let mut inputs = inputs.clone();
            inputs["fields"] = Value::Array(
                fields
                    .into_iter()
                    .map(|mut f| {
                        if f.get("type").is_none() {
                            f["type"] = json!("string");
                        }
                        f
                    })
                    .collect(),
            );
            row.insert("inputs".into(), json!(inputs.to_string()));
        }
        Ok(())
    }

    async fn before_delete(
        &self,
        _state: &AppState,
        _ident: &Identity,
        row: &Row,
    ) -> ApiResult<()> {
        if row["managed"] == json!(true) {
            return Err(ApiError::Forbidden(
                "Deletion not allowed for managed credential types".into(),
            ));
        }
        Ok(())
    }

    fn routes(&self) -> crate::resource::Routes {
        super::credential_input_sources::credential_type_test_routes()
    }

    fn in_use(&self) -> ApiError {
        ApiError::Forbidden("Credential types that are in use cannot be deleted".into())
    }
}
