//! Credential types: managed ones (seeded, AWX's) are neither changed nor deleted; a custom
//! one is of kind `cloud` or `net`; one in use is not deleted.

use crate::error::{ApiError, ApiResult};
use crate::resource::ResourceApi;
use crate::{AppState, Identity};
use rawx_model::resources::CREDENTIAL_TYPES;
use rawx_model::schema::Resource;
use rawx_model::Row;
use serde_json::{json, Value};

pub struct CredentialTypes;

#[async_trait::async_trait]
impl ResourceApi for CredentialTypes {
    fn schema(&self) -> &'static Resource {
        &CREDENTIAL_TYPES
    }

    async fn prepare(
        &self,
        _state: &AppState,
        _ident: &Identity,
        row: &mut Row,
        existing: Option<&Row>,
    ) -> ApiResult<()> {
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
                "Deletion of managed credential types is not allowed.".into(),
            ));
        }
        Ok(())
    }

    fn in_use(&self) -> ApiError {
        ApiError::Forbidden("Credential types that are in use cannot be deleted.".into())
    }
}
