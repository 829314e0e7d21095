//! Hosts: none is made in a smart or constructed inventory (their hosts come from elsewhere),
//! and the views over a host's groups, smart inventories, facts and variables
//! (`inventory_views`).

use crate::error::{ApiError, ApiResult};
use crate::resource::ResourceApi;
use crate::{AppState, Identity};
use axum::http::StatusCode;
use rawx_model::resources::{HOSTS, INVENTORIES};
use rawx_model::schema::{int, text, Resource};
use rawx_model::Row;
use serde_json::{json, Map, Value};

pub struct Hosts;

/// AWX's `validate_inventory` of hosts and groups: `{"inventory": {"detail": …}}`.
pub(crate) async fn refuse_generated_inventory(
    state: &AppState,
    row: &Row,
    existing: Option<&Row>,
    what: &str,
) -> ApiResult<()> {
    let Some(inv) = row
        .get("inventory")
        .and_then(Value::as_i64)
        .or_else(|| existing.and_then(|e| int(e, "inventory")))
    else {
        return Ok(());
    };
    let inv = state.store.get(&INVENTORIES, inv).await?;
    if matches!(text(&inv, "kind"), "smart" | "constructed") {
        return Err(ApiError::Status(
            StatusCode::BAD_REQUEST,
            json!({"inventory": {"detail": format!("Cannot create {what} for Smart or Constructed Inventories")}}),
        ));
    }
    Ok(())
}

#[async_trait::async_trait]
impl ResourceApi for Hosts {
    fn schema(&self) -> &'static Resource {
        &HOSTS
    }

    fn routes(&self) -> crate::resource::Routes {
        super::inventory_views::host_routes()
    }

    fn related(&self, row: &Row, related: &mut Map<String, Value>) {
        super::inventory_views::host_related(row, related);
    }

    async fn prepare(
        &self,
        state: &AppState,
        _ident: &Identity,
        row: &mut Row,
        existing: Option<&Row>,
    ) -> ApiResult<()> {
        refuse_generated_inventory(state, row, existing, "Host").await
    }
}
