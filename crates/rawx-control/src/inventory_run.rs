//! After `ansible-inventory` ran: the import of its `output.json` into the inventory (AWX's
//! `RunInventoryUpdate.post_run_hook`), whose log lines become the update's last events, and
//! the source's status once its update ended.

use crate::Shared;
use rawx_domain::{inventory_import, inventory_updates, JobStatus};
use rawx_model::resources::{JobKind, INVENTORY_SOURCES};
use rawx_model::schema::{int, text};
use rawx_model::Row;
use serde_json::{json, Value};

/// Imports the update's output; `Err((explanation, traceback))` ends it in `error`.
pub async fn import(
    shared: &Shared,
    kind: &JobKind,
    update: &Row,
    artifacts: Option<&rawx_runner::Artifacts>,
    final_counter: &mut i64,
    last_line: u64,
) -> Result<(), (String, String)> {
    let id = int(update, "id").unwrap_or_default();
    let failed = |tb: String| {
        (
            "Error occured while saving inventory data, see traceback or server logs".to_string(),
            tb,
        )
    };
    let output = artifacts
        .and_then(|a| {
            a.entries
                .iter()
                .find(|e| e.path == "output.json" && !e.is_dir())
        })
        .ok_or_else(|| failed("ansible-inventory wrote no output.json".into()))?;
    let data: Value = serde_json::from_slice(&output.data)
        .map_err(|e| failed(format!("output.json is not JSON: {e}")))?;
    let (Some(inventory), Some(source)) =
        (int(update, "inventory"), int(update, "inventory_source"))
    else {
        return Err(failed("the update has no inventory or source".into()));
    };
    let opts = inventory_updates::import_options(update);
    let t0 = std::time::Instant::now();
    let report = inventory_import::import(&*shared.store, inventory, source, &data, &opts)
        .await
        .map_err(|e| failed(e.to_string()))?;
    // `import_ms` is what bench/inventory_import.sh reads: rawx's part of a sync.
    tracing::info!(
        update = id,
        import_ms = t0.elapsed().as_millis() as u64,
        hosts = report.hosts,
        groups = report.groups,
        added = report.hosts_added,
        deleted = report.hosts_deleted,
        "inventory imported"
    );
    // The import's log, numbered after the command's own events.
    let mut line = last_line;
    let mut rows = Vec::new();
    for msg in report.log {
        *final_counter += 1;
        let stdout = format!("{msg}\r\n");
        let mut r = Row::new();
        r.insert(kind.event_parent.into(), json!(id));
        r.insert("event".into(), json!("verbose"));
        r.insert("counter".into(), json!(*final_counter));
        r.insert("event_data".into(), json!("{}"));
        r.insert("uuid".into(), json!(""));
        r.insert("stdout".into(), json!(stdout));
        r.insert("start_line".into(), json!(line));
        line += 1;
        r.insert("end_line".into(), json!(line));
        rows.push(r);
    }
    if !rows.is_empty() {
        if let Err(e) = shared.store.insert_many(kind.events, &rows).await {
            tracing::warn!(update = id, error = %e, "cannot store the import's log");
        }
    }
    Ok(())
}

/// The source's status follows its last update (AWX's `_get_current_status`,
/// `last_update_failed`, `last_updated`).
pub async fn finish_source(shared: &Shared, update: i64, status: JobStatus, failed: bool) {
    let Ok(u) = shared
        .store
        .get(&rawx_model::resources::INVENTORY_UPDATES, update)
        .await
    else {
        return;
    };
    let Some(source) = int(&u, "inventory_source") else {
        return;
    };
    let now = rawx_model::now_string();
    let mut row = Row::new();
    row.insert("status".into(), json!(status.as_str()));
    row.insert("last_job_failed".into(), json!(failed));
    row.insert("last_update_failed".into(), json!(failed));
    row.insert("last_updated".into(), json!(now));
    let finished = text(&u, "finished");
    row.insert(
        "last_job_run".into(),
        json!(if finished.is_empty() {
            now.as_str()
        } else {
            finished
        }),
    );
    let _ = shared.store.update(&INVENTORY_SOURCES, source, &row).await;
}
