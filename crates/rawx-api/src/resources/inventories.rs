//! Inventories: `total_hosts` and `total_groups` counted, AWX's singular `inventory` key in
//! `/api/v2/`, and active jobs keep one from deletion.

use crate::error::{ApiError, ApiResult};
use crate::resource::ResourceApi;
use crate::view::{Renderer, Summary};
use crate::{AppState, Identity};
use axum::http::StatusCode;
use axum::response::Response;
use rawx_model::filter::Filter;
use rawx_model::resources::{
    GROUPS, HOSTS, INVENTORIES, INVENTORY_INPUT_INVENTORIES, INVENTORY_SOURCES,
};
use rawx_model::schema::{int, text, ColumnType, Relation, Resource};
use rawx_model::Row;
use serde_json::{json, Map, Value};

pub struct Inventories;

#[async_trait::async_trait]
impl ResourceApi for Inventories {
    fn schema(&self) -> &'static Resource {
        &INVENTORIES
    }

    fn routes(&self) -> crate::resource::Routes {
        super::copy::routes(&COPY)
    }

    fn related(&self, row: &Row, related: &mut serde_json::Map<String, serde_json::Value>) {
        super::copy::related(&COPY, row, related);
    }

    fn used_by_jobs_as(&self) -> Option<&'static str> {
        Some("inventory")
    }

    /// A constructed inventory is made with its one `constructed` source (AWX's
    /// `_enforce_constructed_source`).
    async fn create(
        &self,
        state: &AppState,
        ident: &Identity,
        parent: Option<&Row>,
        body: &Value,
    ) -> ApiResult<Option<Response>> {
        if parent.is_some() || body.get("kind").and_then(Value::as_str) != Some("constructed") {
            return Ok(None);
        }
        let (id, _) = crate::handlers::create_row(state, ident, &INVENTORIES, body.clone()).await?;
        let inv = state.store.get(&INVENTORIES, id).await?;
        rawx_domain::inventory_updates::ensure_constructed_source(
            &*state.store,
            &inv,
            Some(ident.actor.user_id),
        )
        .await?;
        let out = Renderer::new(state, &ident.actor)
            .render(&INVENTORIES, &inv)
            .await?;
        Ok(Some(crate::handlers::created(&INVENTORIES, id, out)))
    }

    /// `InventoryInputInventoriesList.is_valid_relation`.
    async fn check_link(
        &self,
        state: &AppState,
        relation: &'static Relation,
        _left: i64,
        right: i64,
    ) -> ApiResult<()> {
        if std::ptr::eq(relation, &INVENTORY_INPUT_INVENTORIES) {
            let input = state.store.get(&INVENTORIES, right).await?;
            if text(&input, "kind") == "constructed" {
                return Err(ApiError::Status(
                    StatusCode::BAD_REQUEST,
                    json!({"error": "You cannot add a constructed inventory to another constructed inventory."}),
                ));
            }
        }
        Ok(())
    }

    /// `adhoc`: the inventory's ad hoc role (`can_run_ad_hoc_commands`); `copy`: the right
    /// to create the copy.
    async fn user_capabilities(
        &self,
        r: &mut Renderer<'_>,
        row: &Row,
        caps: &mut Map<String, Value>,
    ) -> ApiResult<()> {
        let id = int(row, "id").unwrap_or_default();
        let adhoc = !r.actor.read_only_token && r.holds("inventories", id, &["adhoc_role"]).await?;
        caps.insert("adhoc".into(), json!(adhoc));
        let copy = super::copy::may_copy(r, &COPY, row).await?;
        caps.insert("copy".into(), json!(copy));
        Ok(())
    }

    fn summary(&self) -> Summary {
        Summary {
            fields: &[
                "name",
                "description",
                "has_active_failures",
                "total_hosts",
                "hosts_with_active_failures",
                "total_groups",
                "has_inventory_sources",
                "total_inventory_sources",
                "inventory_sources_with_failures",
                "kind",
            ],
            ids: &[("organization_id", "organization")],
        }
    }

    async fn derived(
        &self,
        r: &mut Renderer<'_>,
        row: &Row,
        out: &mut Map<String, Value>,
    ) -> ApiResult<()> {
        let id = int(row, "id").unwrap_or_default();
        let by_inv = Filter::eq("inventory", ColumnType::Int, json!(id));
        let hosts = r.state.store.count(&HOSTS, &by_inv).await?;
        let groups = r.state.store.count(&GROUPS, &by_inv).await?;
        out.insert("total_hosts".into(), json!(hosts));
        out.insert("total_groups".into(), json!(groups));
        let sources = r.state.store.count(&INVENTORY_SOURCES, &by_inv).await?;
        out.insert("total_inventory_sources".into(), json!(sources));
        out.insert("has_inventory_sources".into(), json!(sources > 0));
        Ok(())
    }

    /// AWX lists inventories under the singular key, and the CLI's `inventory` command and its
    /// `--inventory` lookups depend on that.
    fn root_key(&self) -> &'static str {
        "inventory"
    }
}

/// Inventories: their instance groups, hosts and groups.
static COPY: super::copy::CopySpec = super::copy::CopySpec {
    res: &INVENTORIES,
    path: "/api/v2/inventories/{id}/copy/",
    discard: &[],
    links: &[&rawx_model::resources::INVENTORY_INSTANCE_GROUPS],
    hosts_and_groups: true,
};
