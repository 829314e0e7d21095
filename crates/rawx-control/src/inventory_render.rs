//! A job's inventory as AWX renders it for ansible (`get_script_data`): the hosts an inventory
//! answers with, and the script JSON of a regular or smart inventory. Used by a job's build and
//! by a constructed inventory's update (which renders its input inventories).

use crate::prepare::all_rows;
use anyhow::{anyhow, Context};
use rawx_model::filter::Filter;
use rawx_model::resources::{GROUPS, GROUP_CHILDREN, GROUP_HOSTS, HOSTS};
use rawx_model::schema::{int, text, ColumnType};
use rawx_model::validate::parse_vars;
use rawx_model::Row;
use rawx_store::DynStore;
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, HashMap};

pub(crate) fn vars(s: &str) -> Map<String, Value> {
    parse_vars(s).unwrap_or_default()
}

/// The hosts an inventory answers with: its own, or a smart inventory's filter (within its
/// organization, one per name).
pub async fn inventory_hosts(store: &DynStore, inventory: &Row) -> anyhow::Result<Vec<Row>> {
    let inv_id = int(inventory, "id").context("inventory without id")?;
    let f = if text(inventory, "kind") == "smart" {
        let hf = inventory
            .get("host_filter")
            .and_then(Value::as_str)
            .unwrap_or("");
        if hf.is_empty() {
            return Ok(Vec::new());
        }
        rawx_model::smart::inventory_hosts(hf, int(inventory, "organization"))
            .map_err(|e| anyhow!("the smart inventory's host_filter: {e}"))?
    } else {
        Filter::eq("inventory", ColumnType::Int, json!(inv_id))
    };
    all_rows(store, &HOSTS, f).await
}

/// A smart inventory's script (AWX's `get_script_data` for `kind == 'smart'`): every enabled
/// host under `all`, no groups.
fn render_smart(inventory: &Row, hosts: &[Row]) -> (Value, HashMap<String, i64>) {
    let mut names = HashMap::new();
    let mut listed = Vec::new();
    let mut hostvars = Map::new();
    for h in hosts {
        let name = text(h, "name").to_string();
        names.insert(name.clone(), int(h, "id").unwrap_or_default());
        if h.get("enabled") == Some(&json!(false)) {
            continue;
        }
        listed.push(json!(name));
        hostvars.insert(name, Value::Object(vars(text(h, "variables"))));
    }
    let inv = json!({
        "all": {"hosts": listed, "vars": Value::Object(vars(text(inventory, "variables")))},
        "_meta": {"hostvars": hostvars},
    });
    (inv, names)
}

/// AWX's inventory script JSON: `all` with its children and vars, each group with its enabled
/// hosts, children and vars, `ungrouped`, and `_meta.hostvars`. Disabled hosts are left out.
pub async fn render_inventory(
    store: &DynStore,
    inventory: &Row,
    hosts: &[Row],
) -> anyhow::Result<(Value, HashMap<String, i64>)> {
    if text(inventory, "kind") == "smart" {
        return Ok(render_smart(inventory, hosts));
    }
    let inv_id = int(inventory, "id").context("inventory without id")?;
    let by_inv = Filter::eq("inventory", ColumnType::Int, json!(inv_id));
    let groups = all_rows(store, &GROUPS, by_inv).await?;
    let enabled: BTreeMap<i64, &Row> = hosts
        .iter()
        .filter(|h| h.get("enabled") != Some(&json!(false)))
        .filter_map(|h| int(h, "id").map(|i| (i, h)))
        .collect();
    let mut out = Map::new();
    let mut hostvars = Map::new();
    let mut names = HashMap::new();
    for h in hosts.iter() {
        names.insert(
            text(h, "name").to_string(),
            int(h, "id").unwrap_or_default(),
        );
    }
    for h in enabled.values() {
        hostvars.insert(
            text(h, "name").into(),
            Value::Object(vars(text(h, "variables"))),
        );
    }
    let mut grouped = std::collections::HashSet::new();
    let mut child_ids = std::collections::HashSet::new();
    let group_names: HashMap<i64, String> = groups
        .iter()
        .filter_map(|g| int(g, "id").map(|i| (i, text(g, "name").to_string())))
        .collect();
    for g in &groups {
        let gid = int(g, "id").unwrap_or_default();
        let members: Vec<Value> = store
            .linked(&GROUP_HOSTS, true, gid)
            .await
            .map_err(|e| anyhow!("{e}"))?
            .into_iter()
            .filter_map(|hid| {
                grouped.insert(hid);
                enabled.get(&hid).map(|h| json!(text(h, "name")))
            })
            .collect();
        let children: Vec<Value> = store
            .linked(&GROUP_CHILDREN, true, gid)
            .await
            .map_err(|e| anyhow!("{e}"))?
            .into_iter()
            .filter_map(|cid| {
                child_ids.insert(cid);
                group_names.get(&cid).map(|n| json!(n))
            })
            .collect();
        out.insert(
            text(g, "name").into(),
            json!({"hosts": members, "children": children, "vars": Value::Object(vars(text(g, "variables")))}),
        );
    }
    let ungrouped: Vec<Value> = enabled
        .iter()
        .filter(|(id, _)| !grouped.contains(id))
        .map(|(_, h)| json!(text(h, "name")))
        .collect();
    let mut top: Vec<Value> = groups
        .iter()
        .filter(|g| !child_ids.contains(&int(g, "id").unwrap_or_default()))
        .map(|g| json!(text(g, "name")))
        .collect();
    top.push(json!("ungrouped"));
    out.insert("ungrouped".into(), json!({"hosts": ungrouped}));
    out.insert(
        "all".into(),
        json!({"children": top, "vars": Value::Object(vars(text(inventory, "variables")))}),
    );
    out.insert("_meta".into(), json!({"hostvars": hostvars}));
    Ok((Value::Object(out), names))
}
