//! What an update of a constructed inventory reads: its input inventories, in the order they
//! were given, each rendered with AWX's `towervars` (`remote_tower_enabled`, `remote_tower_id`
//! on every host) so the import can tell which input host a constructed host came from.

use anyhow::anyhow;
use rawx_model::filter::Filter;
use rawx_model::resources::{HOSTS, INVENTORIES, INVENTORY_INPUT_INVENTORIES};
use rawx_model::schema::{int, text, ColumnType};
use rawx_model::Row;
use rawx_store::DynStore;
use serde_json::{json, Value};

/// The input inventories of a constructed inventory, in the order they were linked.
pub async fn input_inventories(store: &DynStore, inventory: &Row) -> anyhow::Result<Vec<Row>> {
    let id = int(inventory, "id").unwrap_or_default();
    let mut out = Vec::new();
    for i in store
        .linked(&INVENTORY_INPUT_INVENTORIES, true, id)
        .await
        .map_err(|e| anyhow!("{e}"))?
    {
        out.push(
            store
                .get(&INVENTORIES, i)
                .await
                .map_err(|e| anyhow!("input inventory {i}: {e}"))?,
        );
    }
    Ok(out)
}

/// Adds AWX's `towervars` to a rendered inventory's `_meta.hostvars`.
pub async fn add_towervars(
    store: &DynStore,
    inventory: &Row,
    rendered: &mut Value,
) -> anyhow::Result<()> {
    let id = int(inventory, "id").unwrap_or_default();
    let hosts = store
        .project(
            &HOSTS,
            &Filter::eq("inventory", ColumnType::Int, json!(id)),
            &["id", "name", "enabled"],
            &[("id", false)],
        )
        .await
        .map_err(|e| anyhow!("{e}"))?;
    let Some(hostvars) = rendered
        .get_mut("_meta")
        .and_then(|m| m.get_mut("hostvars"))
        .and_then(Value::as_object_mut)
    else {
        return Ok(());
    };
    for h in hosts {
        if let Some(Value::Object(vars)) = hostvars.get_mut(text(&h, "name")) {
            let enabled = h.get("enabled") != Some(&json!(false));
            vars.insert(
                "remote_tower_enabled".into(),
                json!(if enabled { "true" } else { "false" }),
            );
            vars.insert("remote_tower_id".into(), h["id"].clone());
        }
    }
    Ok(())
}
