//! Execution environments: the managed ones describe this installation and are not deleted.

use crate::error::{ApiError, ApiResult};
use crate::resource::ResourceApi;
use crate::{AppState, Identity};
use rawx_model::resources::EXECUTION_ENVIRONMENTS;
use rawx_model::schema::Resource;
use rawx_model::Row;
use serde_json::json;

pub struct ExecutionEnvironments;

#[async_trait::async_trait]
impl ResourceApi for ExecutionEnvironments {
    fn schema(&self) -> &'static Resource {
        &EXECUTION_ENVIRONMENTS
    }

    async fn before_delete(
        &self,
        _state: &AppState,
        _ident: &Identity,
        row: &Row,
    ) -> ApiResult<()> {
        if row["managed"] == json!(true) {
            return Err(ApiError::Forbidden(
                "Deletion of managed execution environments is not allowed.".into(),
            ));
        }
        Ok(())
    }
}
