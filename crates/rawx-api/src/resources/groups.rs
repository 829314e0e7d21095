//! Groups: a host joins only groups of its own inventory.

use crate::error::{ApiError, ApiResult};
use crate::resource::ResourceApi;
use crate::AppState;
use rawx_model::resources::{GROUPS, GROUP_HOSTS, HOSTS};
use rawx_model::schema::{Relation, Resource};

pub struct Groups;

#[async_trait::async_trait]
impl ResourceApi for Groups {
    fn schema(&self) -> &'static Resource {
        &GROUPS
    }

    /// AWX: a group's `copy` is its `edit`.
    async fn user_capabilities(
        &self,
        _r: &mut crate::view::Renderer<'_>,
        _row: &rawx_model::Row,
        caps: &mut serde_json::Map<String, serde_json::Value>,
    ) -> ApiResult<()> {
        let edit = caps
            .get("edit")
            .cloned()
            .unwrap_or(serde_json::Value::Bool(false));
        caps.insert("copy".into(), edit);
        Ok(())
    }

    async fn check_link(
        &self,
        state: &AppState,
        relation: &'static Relation,
        left: i64,
        right: i64,
    ) -> ApiResult<()> {
        if std::ptr::eq(relation, &GROUP_HOSTS) {
            let g = state.store.get(&GROUPS, left).await?;
            let h = state.store.get(&HOSTS, right).await?;
            if g["inventory"] != h["inventory"] {
                return Err(ApiError::Msg(
                    "A host can only join groups of its own inventory.".into(),
                ));
            }
        }
        Ok(())
    }
}
