//! Whether the execution node behind the mesh can still be reached, and what happens to its
//! jobs when it cannot (called by the `heartbeat` component every `TICK`).
//!
//! When jobs run on a node behind the node this controller talks to (`--receptor-work-node`:
//! control → hop → execution), losing the path between them does not end the work: the remote
//! unit at the control node retries (Receptor's remote work), and the job's results stream
//! waits. AWX decides when to give up through its heartbeat: an execution node is lost once
//! its last advertisement is older than `CLUSTER_NODE_HEARTBEAT_PERIOD` ×
//! `CLUSTER_NODE_MISSED_HEARTBEAT_TOLERANCE` + `RECEPTOR_SERVICE_ADVERTISEMENT_PERIOD`
//! (60 × 2 + 60 = 180 s; `Instance.is_lost`), and the reaper then fails its running jobs.
//! rawx keeps that window and reads the mesh more precisely than an advertisement's age: the
//! node's `last_seen` is renewed at every pass while the control node's routing table has a
//! route to it, so the window counts from the moment the route went away. Within it, a route
//! that comes back (another path, or the hop restarted) lets the remote unit reconnect and the
//! job carry on from the byte it had reached; after it, the job ends `failed`, its explanation
//! naming the node that became unreachable and the neighbour its route went through, and the
//! instance is marked unavailable (capacity 0) until the route is back and a health check
//! passes. `RAWX_NODE_LOST_AFTER`, when set, is the whole window.

use crate::{health, jobs_in, run, Shared};
use rawx_model::resources::INSTANCES;
use rawx_model::schema::text;
use rawx_model::Row;
use serde_json::{json, Value};
use std::sync::Mutex;
use std::time::Duration;

/// AWX's `RECEPTOR_SERVICE_ADVERTISEMENT_PERIOD`: Receptor re-advertises every 60 s.
const ADVERTISEMENT_PERIOD: Duration = Duration::from_secs(60);

/// The end of the `errors` the watch writes on an execution node it lost (and clears when the
/// route is back).
pub const NO_ROUTE: &str = "has no route to this node on the mesh";

/// What the watch remembers between passes.
#[derive(Default)]
pub(crate) struct Watch {
    /// The neighbour of the control node that the route to the execution node went through,
    /// last time there was one.
    via: Mutex<Option<String>>,
}

impl Watch {
    /// One pass: renew `last_seen` while the execution node is routed to; otherwise, once the
    /// window is over, end its jobs.
    pub(crate) async fn pass(&self, shared: &Shared, window: Duration) -> anyhow::Result<()> {
        if !health::remote(shared) {
            return Ok(());
        }
        let exec = shared.node.node_id().to_string();
        let view = match shared.node.mesh_view().await {
            None => return Ok(()),
            Some(Ok(v)) => v,
            // The control node itself is down: the results stream's own retries cover it.
            Some(Err(e)) => {
                tracing::debug!(error = %e, "cannot read the mesh's status");
                return Ok(());
            }
        };
        if view.node_id == exec {
            return Ok(());
        }
        let Some(row) = health::find(&shared.store, &exec).await? else {
            return Ok(());
        };
        let id = row.get("id").and_then(Value::as_i64).unwrap_or_default();
        let store = &shared.store;
        let now = store.db_now().await.map_err(|e| anyhow::anyhow!("{e}"))?;
        if view.reachable(&exec) {
            let hop = view.next_hop(&exec).map(str::to_string);
            let before = std::mem::replace(&mut *self.via.lock().unwrap(), hop.clone());
            if before != hop {
                tracing::info!(node = %exec, via = ?hop, "route to the execution node");
            }
            let mut r = Row::new();
            r.insert("last_seen".into(), json!(now));
            if text(&row, "errors").ends_with(NO_ROUTE) {
                tracing::warn!(node = %exec, "the execution node is reachable again; checking its health");
                r.insert("errors".into(), json!(""));
                r.insert(
                    "health_check_started".into(),
                    json!(rawx_model::now_string()),
                );
            }
            return store
                .update(&INSTANCES, id, &r)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"));
        }
        let last = text(&row, "last_seen").to_string();
        let cutoff = crate::heartbeat::shift(&now, -window.as_secs_f64())?;
        if last.as_str() >= cutoff.as_str() {
            return Ok(());
        }
        let ctl = &view.node_id;
        if !text(&row, "errors").ends_with(NO_ROUTE) {
            tracing::error!(node = %exec, last_seen = %last, "execution node lost: no route to it on the mesh");
            let mut r = Row::new();
            r.insert("errors".into(), json!(format!("{ctl} {NO_ROUTE}")));
            r.insert("node_state".into(), json!("unavailable"));
            r.insert("capacity".into(), json!(0));
            r.insert("cpu_capacity".into(), json!(0));
            r.insert("mem_capacity".into(), json!(0));
            store
                .update(&INSTANCES, id, &r)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
        }
        let via = self.via.lock().unwrap().clone();
        let path = match via.as_deref() {
            Some(hop) if hop != exec && !view.reachable(hop) => {
                format!(" Its route went through {hop}, which is unreachable too.")
            }
            Some(hop) if hop != exec => format!(" Its route went through {hop}."),
            _ => String::new(),
        };
        let me = &shared.node_name;
        for (kind, job) in jobs_in(store, &["waiting", "running"]).await? {
            if text(&job, "execution_node") != exec || text(&job, "controller_node") != me {
                continue;
            }
            let jid = job.get("id").and_then(Value::as_i64).unwrap_or_default();
            let why = format!(
                "The execution node {exec} became unreachable: {ctl} has had no route to it on \
                 the mesh since {last}, longer than the {}s a node may be away.{path} The events \
                 stored before are kept; launch it again once {exec} is back.",
                window.as_secs()
            );
            tracing::warn!(job = jid, node = %exec, "ending a job whose execution node is unreachable");
            run::reap(shared, kind, jid, &why).await;
        }
        Ok(())
    }
}

/// How long the execution node may be unreachable: `RAWX_NODE_LOST_AFTER` when set, else
/// AWX's `is_lost` for execution nodes (heartbeat window + advertisement period).
pub(crate) fn window(task_node_window: Duration, fixed: bool) -> Duration {
    if fixed {
        task_node_window
    } else {
        task_node_window + ADVERTISEMENT_PERIOD
    }
}
