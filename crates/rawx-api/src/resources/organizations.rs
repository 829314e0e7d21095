//! Organizations: only Galaxy credentials go in `galaxy_credentials/` (AWX's
//! `OrganizationGalaxyCredentialsList.is_valid_relation`); their execution environments go
//! with them (AWX's `on_delete=CASCADE`; the column is nullable, as a global one has none, so
//! the database alone would make them global).

use crate::error::{ApiError, ApiResult};
use crate::resource::ResourceApi;
use crate::{write, AppState, Identity};
use rawx_model::filter::Filter;
use rawx_model::resources::{
    CREDENTIALS, CREDENTIAL_TYPES, EXECUTION_ENVIRONMENTS, ORGANIZATIONS, ORG_GALAXY_CREDENTIALS,
};
use rawx_model::schema::{int, text, ColumnType, Relation, Resource};
use rawx_model::Row;

pub struct Organizations;

#[async_trait::async_trait]
impl ResourceApi for Organizations {
    fn schema(&self) -> &'static Resource {
        &ORGANIZATIONS
    }

    async fn before_delete(&self, state: &AppState, ident: &Identity, row: &Row) -> ApiResult<()> {
        let Some(id) = int(row, "id") else {
            return Ok(());
        };
        let mine = Filter::eq("organization", ColumnType::Int, serde_json::json!(id));
        for ee in state
            .store
            .list_all(&EXECUTION_ENVIRONMENTS, &mine, &[("id", false)])
            .await?
        {
            if let Some(ee) = int(&ee, "id") {
                write::delete(state, ident, &EXECUTION_ENVIRONMENTS, ee).await?;
            }
        }
        Ok(())
    }

    async fn check_link(
        &self,
        state: &AppState,
        relation: &'static Relation,
        _left: i64,
        right: i64,
    ) -> ApiResult<()> {
        if !std::ptr::eq(relation, &ORG_GALAXY_CREDENTIALS) {
            return Ok(());
        }
        let cred = state.store.get(&CREDENTIALS, right).await?;
        let ctype = state
            .store
            .get(
                &CREDENTIAL_TYPES,
                int(&cred, "credential_type").unwrap_or_default(),
            )
            .await?;
        // AWX checks the credential's kind, its type's namespace `galaxy_api_token`: the one
        // managed type of kind `galaxy`.
        if text(&ctype, "kind") == "galaxy" {
            Ok(())
        } else {
            Err(ApiError::Msg(format!(
                "Credential must be a Galaxy credential, not {}.",
                text(&ctype, "name")
            )))
        }
    }
}
