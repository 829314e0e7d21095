//! Inventories: `total_hosts` and `total_groups` counted, AWX's singular `inventory` key in
//! `/api/v2/`, and active jobs keep one from deletion. A smart inventory's `host_filter` is
//! checked as AWX's serializer checks it; its hosts are the filter's (`inventory_views`).

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
        let mut r = super::copy::routes(&COPY);
        r.extend(super::inventory_views::inventory_routes());
        r.extend(super::constructed_inventories::routes());
        r
    }

    fn related(&self, row: &Row, related: &mut serde_json::Map<String, serde_json::Value>) {
        super::copy::related(&COPY, row, related);
        super::inventory_views::inventory_related(row, related);
    }

    /// AWX's `InventorySerializer.validate_host_filter`/`validate`, `SmartFilterField`
    /// (stored percent-decoded, blank as null) and `InventoryDetail.update` (no change of kind).
    async fn prepare(
        &self,
        _state: &AppState,
        _ident: &Identity,
        row: &mut Row,
        existing: Option<&Row>,
    ) -> ApiResult<()> {
        if let (Some(old), Some(new)) = (existing, row.get("kind").and_then(Value::as_str)) {
            if rawx_model::schema::text(old, "kind") != new {
                return Err(ApiError::Status(
                    StatusCode::METHOD_NOT_ALLOWED,
                    json!({"error": "You cannot turn a regular inventory into a \"smart\" or \"constructed\" inventory."}),
                ));
            }
        }
        if let Some(Value::String(hf)) = row.get("host_filter").cloned() {
            if hf.is_empty() {
                row.insert("host_filter".into(), Value::Null);
            } else {
                rawx_model::smart::parse(&hf).map_err(super::inventory_views::host_filter_error)?;
                let decoded = percent_encoding::percent_decode_str(&hf)
                    .decode_utf8_lossy()
                    .into_owned();
                rawx_model::smart::parse(&decoded)
                    .map_err(super::inventory_views::host_filter_error)?;
                row.insert("host_filter".into(), json!(decoded));
            }
        }
        let pick = |f: &str| {
            row.get(f)
                .or_else(|| existing.and_then(|e| e.get(f)))
                .cloned()
                .unwrap_or(Value::Null)
        };
        let kind = pick("kind");
        let hf = pick("host_filter");
        if kind == json!("smart") && hf.as_str().is_none_or(str::is_empty) {
            return Err(ApiError::field(
                "host_filter",
                "Smart inventories must specify host_filter",
            ));
        }
        Ok(())
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
        let (hosts, groups) = match super::inventory_views::smart_hosts(row) {
            // A smart inventory counts what its filter answers and has no groups; a filter
            // stored before it was checked counts nothing rather than failing the object.
            Some(f) => match f {
                Ok(f) => (r.state.store.count(&HOSTS, &f).await?, 0),
                Err(_) => (0, 0),
            },
            None => (
                r.state.store.count(&HOSTS, &by_inv).await?,
                r.state.store.count(&GROUPS, &by_inv).await?,
            ),
        };
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
