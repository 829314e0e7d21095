//! Groups: a host joins only groups of its own inventory; none is made in a smart or
//! constructed inventory; the views over a group's hosts, children and variables
//! (`inventory_views`).

use crate::error::{ApiError, ApiResult};
use crate::resource::ResourceApi;
use crate::{AppState, Identity};
use rawx_model::resources::{GROUPS, GROUP_HOSTS, HOSTS};
use rawx_model::schema::{Relation, Resource};
use rawx_model::Row;
use serde_json::{Map, Value};

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

    fn routes(&self) -> crate::resource::Routes {
        super::inventory_views::group_routes()
    }

    fn related(&self, row: &Row, related: &mut Map<String, Value>) {
        super::inventory_views::group_related(row, related);
    }

    async fn prepare(
        &self,
        state: &AppState,
        _ident: &Identity,
        row: &mut Row,
        existing: Option<&Row>,
    ) -> ApiResult<()> {
        super::hosts::refuse_generated_inventory(state, row, existing, "Group").await
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
