//! Inventory updates: a source's run made pending (AWX's `InventorySource.update()`), whoever
//! asks (`/inventory_sources/N/update/`, `/inventories/N/update_inventory_sources/`, a
//! schedule, a launch waiting for its inventory), and what the import is told from the
//! update's own copy of the source's options.

use crate::inventory_import::ImportOptions;
use crate::{DomainResult, JobStatus};
use rawx_bus::Bus;
use rawx_model::resources::{
    INVENTORY_SOURCES, INVENTORY_SOURCE_CREDENTIALS, INVENTORY_UPDATES,
    INVENTORY_UPDATE_CREDENTIALS, INVENTORY_UPDATE_KIND,
};
use rawx_model::schema::{int, text};
use rawx_model::Row;
use rawx_store::Store;
use serde_json::{json, Value};

/// The source fields an update copies (AWX's `_get_unified_job_field_names`: the options,
/// name, description, organization, inventory).
const COPIED: &[&str] = &[
    "description",
    "source",
    "source_path",
    "source_vars",
    "scm_branch",
    "credential",
    "enabled_var",
    "enabled_value",
    "host_filter",
    "overwrite",
    "overwrite_vars",
    "timeout",
    "verbosity",
    "limit",
    "inventory",
    "organization",
    "execution_environment",
];

/// AWX's `InventorySource._can_update`: a file source is never run; an SCM one needs its
/// project.
pub fn can_update(source: &Row) -> bool {
    match text(source, "source") {
        "" | "file" => false,
        "scm" => int(source, "source_project").is_some(),
        _ => true,
    }
}

/// Writes a pending update of `source` (its options copied, its credentials linked), marks
/// the source pending and wakes the task managers. `user` launched it (`None`: the system, a
/// schedule); `launch_type` is AWX's (`manual`, `scheduled`, `dependency`).
pub async fn create_update(
    store: &dyn Store,
    bus: &dyn Bus,
    source: &Row,
    user: Option<i64>,
    launch_type: &str,
    inventory_name: &str,
) -> DomainResult<i64> {
    let source_id = int(source, "id").unwrap_or_default();
    let mut row = Row::new();
    rawx_model::validate::with_defaults(&INVENTORY_UPDATES, &mut row);
    for f in COPIED {
        if let Some(v) = source.get(*f) {
            row.insert((*f).into(), v.clone());
        }
    }
    // AWX names an update `<inventory> - <source>`, cut to the field's length.
    let name: String = format!("{inventory_name} - {}", text(source, "name"))
        .chars()
        .take(512)
        .collect();
    row.insert("name".into(), json!(name));
    row.insert("inventory_source".into(), json!(source_id));
    row.insert("unified_job_template".into(), json!(source_id));
    row.insert("status".into(), json!(JobStatus::Pending.as_str()));
    row.insert("launch_type".into(), json!(launch_type));
    row.insert("launched_by_user".into(), json!(user));
    row.insert("created_by".into(), json!(user));
    row.insert("modified_by".into(), json!(user));
    let id = store.insert(&INVENTORY_UPDATES, &row).await?;
    let mut creds = store
        .linked(&INVENTORY_SOURCE_CREDENTIALS, true, source_id)
        .await?;
    if let Some(c) = int(source, "credential") {
        if !creds.contains(&c) {
            creds.insert(0, c);
        }
    }
    for c in creds {
        store.link(&INVENTORY_UPDATE_CREDENTIALS, id, c).await?;
    }
    let mut s = Row::new();
    s.insert("status".into(), json!(JobStatus::Pending.as_str()));
    s.insert("last_job_run".into(), json!(rawx_model::now_string()));
    let _ = store.update(&INVENTORY_SOURCES, source_id, &s).await;
    crate::launch::pending(bus, &INVENTORY_UPDATE_KIND, id, json!(source_id));
    Ok(id)
}

/// AWX's per-source defaults when a source names no `enabled_var`, and the instance id
/// variable (`<SOURCE>_ENABLED_VAR`, `_ENABLED_VALUE`, `_INSTANCE_ID_VAR`,
/// `_EXCLUDE_EMPTY_GROUPS` in `awx/settings/defaults.py`).
fn source_defaults(
    source: &str,
) -> (
    Option<&'static str>,
    Option<&'static str>,
    Option<&'static str>,
    bool,
) {
    match source {
        "ec2" => (
            Some("ec2_state"),
            Some("running"),
            Some("instance_id"),
            true,
        ),
        "vmware" => (
            Some("guest.gueststate"),
            Some("running"),
            Some("config.instanceUuid, config.instanceuuid"),
            true,
        ),
        "gce" => (Some("status"), Some("running"), Some("gce_id"), true),
        "azure_rm" => (Some("powerstate"), Some("running"), Some("id"), true),
        "openstack" => (Some("status"), Some("ACTIVE"), Some("openstack.id"), true),
        "rhv" => (Some("status"), Some("up"), Some("id"), true),
        "controller" => (
            Some("remote_tower_enabled"),
            Some("true"),
            Some("remote_tower_id"),
            true,
        ),
        "satellite6" => (
            Some("foreman_enabled,foreman.enabled"),
            Some("True"),
            Some("foreman_id,foreman.id"),
            true,
        ),
        "insights" => (None, None, Some("insights_id"), false),
        "terraform" => (None, None, Some("id"), true),
        "openshift_virtualization" => (None, None, None, true),
        "constructed" => (None, None, Some("remote_tower_id"), false),
        _ => (None, None, None, false),
    }
}

/// The import's options for `update` (AWX's `RunInventoryUpdate.post_run_hook`).
pub fn import_options(update: &Row) -> ImportOptions {
    let source = text(update, "source");
    let (dvar, dvalue, iid, exclude) = source_defaults(source);
    let mut o = ImportOptions {
        overwrite: update.get("overwrite") == Some(&json!(true)),
        overwrite_vars: update.get("overwrite_vars") == Some(&json!(true)),
        exclude_empty_groups: exclude,
        instance_id_var: iid.map(str::to_string),
        verbosity: int(update, "verbosity").unwrap_or(1).clamp(0, 2) as u8,
        ..ImportOptions::default()
    };
    if !text(update, "enabled_var").is_empty() {
        o.enabled_var = Some(text(update, "enabled_var").to_string());
        o.enabled_value = Some(text(update, "enabled_value").to_string());
    } else {
        o.enabled_var = dvar.map(str::to_string);
        o.enabled_value = dvalue.map(str::to_string);
    }
    if !text(update, "host_filter").is_empty() {
        o.host_filter = Some(text(update, "host_filter").to_string());
    }
    o
}

/// AWX's `Inventory._enforce_constructed_source`: a constructed inventory always has exactly
/// one source, `constructed`, made with it. Returns the source's id.
pub async fn ensure_constructed_source(
    store: &dyn Store,
    inventory: &Row,
    user: Option<i64>,
) -> DomainResult<i64> {
    use rawx_model::filter::Filter;
    use rawx_model::schema::ColumnType;
    let inv = int(inventory, "id").unwrap_or_default();
    let by_inv = Filter::eq("inventory", ColumnType::Int, json!(inv));
    if let Some(s) = store.find(&INVENTORY_SOURCES, &by_inv).await? {
        return Ok(int(&s, "id").unwrap_or_default());
    }
    let name: String = format!("Auto-created source for: {}", text(inventory, "name"))
        .chars()
        .take(512)
        .collect();
    let mut row = Row::new();
    rawx_model::validate::with_defaults(&INVENTORY_SOURCES, &mut row);
    for (k, v) in [
        ("name", json!(name)),
        ("source", json!("constructed")),
        ("overwrite", json!(true)),
        ("overwrite_vars", json!(true)),
        ("update_on_launch", json!(true)),
        ("inventory", json!(inv)),
        (
            "organization",
            inventory
                .get("organization")
                .cloned()
                .unwrap_or(Value::Null),
        ),
        ("created_by", json!(user)),
        ("modified_by", json!(user)),
    ] {
        row.insert(k.into(), v);
    }
    Ok(store.insert(&INVENTORY_SOURCES, &row).await?)
}
