//! Organizations: only Galaxy credentials go in `galaxy_credentials/` (AWX's
//! `OrganizationGalaxyCredentialsList.is_valid_relation`).

use crate::error::{ApiError, ApiResult};
use crate::resource::ResourceApi;
use crate::AppState;
use rawx_model::resources::{CREDENTIALS, CREDENTIAL_TYPES, ORGANIZATIONS, ORG_GALAXY_CREDENTIALS};
use rawx_model::schema::{int, text, Relation, Resource};

pub struct Organizations;

#[async_trait::async_trait]
impl ResourceApi for Organizations {
    fn schema(&self) -> &'static Resource {
        &ORGANIZATIONS
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
