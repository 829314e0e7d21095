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

use crate::{health, jobs_in, Shared};
use rawx_model::resources::{INSTANCES, INSTANCE_PEERS, RECEPTOR_ADDRESSES};
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
    /// What the last recorded mesh looked like (nodes, links, listeners, reachability).
    synced: Mutex<String>,
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
        if let Err(e) = self.sync(shared, &view).await {
            tracing::warn!(error = %e, "cannot record the mesh's nodes and links");
        }
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
        let cutoff = crate::shift(&now, -window.as_secs_f64())?;
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
        for (kind, job) in jobs_in(
            store,
            &[
                rawx_domain::JobStatus::Waiting,
                rawx_domain::JobStatus::Running,
            ],
        )
        .await?
        {
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
            crate::job_state::reap(shared, kind, jid, &why).await;
        }
        Ok(())
    }
}

impl Watch {
    /// Records the mesh as `/api/v2/instances/`, `receptor_addresses` and `peers` show it
    /// (AWX's admins write those and AWX configures the mesh from them; here the mesh is
    /// configured in each node's receptor.conf and the controller learns it): every node the
    /// control node knows of becomes an instance (`hop`, or `execution` when it advertises
    /// work commands), each listener a node advertises one of its receptor addresses (the
    /// first canonical), and each link a peer of the node that dialed. The control node the
    /// controller talks to stands for this controller's own instance. Written only when what
    /// the mesh shows changed.
    async fn sync(&self, shared: &Shared, view: &rawx_mesh::MeshView) -> anyhow::Result<()> {
        let nodes = view.nodes();
        let links = view.links();
        let reachable: Vec<&str> = nodes
            .iter()
            .copied()
            .filter(|n| view.reachable(n))
            .collect();
        let ads: Vec<_> = view
            .advertisements
            .iter()
            .map(|a| (&a.node_id, &a.tags, !a.work_commands.is_empty()))
            .collect();
        let signature = format!("{nodes:?}{links:?}{reachable:?}{ads:?}");
        if *self.synced.lock().unwrap() == signature {
            return Ok(());
        }
        let store = &shared.store;
        let err = |e: rawx_store::DbError| anyhow::anyhow!("{e}");
        let hostname = |n: &str| {
            if n == view.node_id {
                shared.node_name.clone()
            } else {
                n.to_string()
            }
        };
        let now = store.db_now().await.map_err(err)?;
        let mut ids = std::collections::HashMap::new();
        let mut unregistered = false;
        for n in &nodes {
            let host = hostname(n);
            let row = health::find(store, &host).await?;
            if row.is_none() && *n == view.node_id {
                // This node registers itself with its own type (control, hybrid); making its
                // row here first would record it as the hop its mesh view shows. The next
                // pass, after it registered, fills in its addresses and peers.
                unregistered = true;
                continue;
            }
            let mut values = serde_json::Map::new();
            if row.is_none() {
                let node_type = if view.runs_work(n) {
                    "execution"
                } else {
                    "hop"
                };
                values.insert("node_type".into(), json!(node_type));
                values.insert("managed".into(), json!(false));
            }
            let is_hop = row
                .as_ref()
                .map_or(!view.runs_work(n), |r| text(r, "node_type") == "hop");
            // A hop's state is its reachability (it runs nothing to health-check); an
            // execution node's comes from its checks and the window above.
            if is_hop {
                let up = view.reachable(n);
                values.insert(
                    "node_state".into(),
                    json!(if up { "ready" } else { "unavailable" }),
                );
                if up {
                    values.insert("last_seen".into(), json!(now));
                }
            }
            let listeners = view.listeners(n);
            if let Some(first) = listeners.first() {
                values.insert("listener_port".into(), json!(first.port));
            }
            let id = if values.is_empty() {
                row.as_ref()
                    .and_then(|r| r.get("id"))
                    .and_then(Value::as_i64)
                    .unwrap_or_default()
            } else {
                health::upsert(store, &host, Value::Object(values)).await?
            };
            ids.insert(*n, id);
            // Its addresses, when it advertises any (a node that went quiet keeps its own).
            if listeners.is_empty() {
                continue;
            }
            let f = rawx_model::filter::Filter::eq(
                "instance",
                rawx_model::schema::ColumnType::Int,
                json!(id),
            );
            let stored = store
                .list_all(&RECEPTOR_ADDRESSES, &f, &[("id", false)])
                .await
                .map_err(err)?;
            for (i, l) in listeners.iter().enumerate() {
                let same = |a: &&Row| {
                    text(a, "address") == l.address
                        && a.get("port").and_then(Value::as_i64) == Some(i64::from(l.port))
                        && text(a, "protocol") == l.protocol
                };
                let mut r = Row::new();
                r.insert("websocket_path".into(), json!(l.path));
                r.insert("canonical".into(), json!(i == 0));
                match stored.iter().find(same) {
                    Some(a) => {
                        let aid = a.get("id").and_then(Value::as_i64).unwrap_or_default();
                        store
                            .update(&RECEPTOR_ADDRESSES, aid, &r)
                            .await
                            .map_err(err)?;
                    }
                    None => {
                        r.insert("address".into(), json!(l.address));
                        r.insert("port".into(), json!(l.port));
                        r.insert("protocol".into(), json!(l.protocol));
                        r.insert("is_internal".into(), json!(false));
                        r.insert("peers_from_control_nodes".into(), json!(false));
                        r.insert("instance".into(), json!(id));
                        store.insert(&RECEPTOR_ADDRESSES, &r).await.map_err(err)?;
                    }
                }
            }
            for a in &stored {
                let gone = !listeners.iter().any(|l| {
                    text(a, "address") == l.address
                        && a.get("port").and_then(Value::as_i64) == Some(i64::from(l.port))
                        && text(a, "protocol") == l.protocol
                });
                if gone {
                    let aid = a.get("id").and_then(Value::as_i64).unwrap_or_default();
                    store.delete(&RECEPTOR_ADDRESSES, aid).await.map_err(err)?;
                }
            }
        }
        // A hop the mesh no longer names at all is away too.
        let hops = store
            .list_all(
                &INSTANCES,
                &rawx_model::filter::Filter::eq(
                    "node_type",
                    rawx_model::schema::ColumnType::Text,
                    json!("hop"),
                ),
                &[("id", false)],
            )
            .await
            .map_err(err)?;
        for h in hops {
            if !nodes.contains(text(&h, "hostname")) && text(&h, "node_state") != "unavailable" {
                let mut r = Row::new();
                r.insert("node_state".into(), json!("unavailable"));
                let hid = h.get("id").and_then(Value::as_i64).unwrap_or_default();
                store.update(&INSTANCES, hid, &r).await.map_err(err)?;
            }
        }
        // Links: the dialing end peers to the other end's canonical address.
        let canonical = |id: i64| async move {
            let f = rawx_model::filter::Filter::eq(
                "instance",
                rawx_model::schema::ColumnType::Int,
                json!(id),
            )
            .and(rawx_model::filter::Filter::eq(
                "canonical",
                rawx_model::schema::ColumnType::Bool,
                json!(true),
            ));
            store.find(&RECEPTOR_ADDRESSES, &f).await
        };
        let mut want: Vec<(i64, i64)> = Vec::new();
        for (a, b) in &links {
            let Some((src, dst)) = view.direction(a, b) else {
                continue;
            };
            let (Some(&s), Some(&d)) = (ids.get(src), ids.get(dst)) else {
                continue;
            };
            if let Some(addr) = canonical(d).await.map_err(err)? {
                want.push((
                    s,
                    addr.get("id").and_then(Value::as_i64).unwrap_or_default(),
                ));
            }
        }
        for &s in ids.values() {
            let have = store.linked(&INSTANCE_PEERS, true, s).await.map_err(err)?;
            for t in &have {
                if !want.contains(&(s, *t)) {
                    store.unlink(&INSTANCE_PEERS, s, *t).await.map_err(err)?;
                }
            }
            for (_, t) in want.iter().filter(|(x, _)| *x == s) {
                if !have.contains(t) {
                    store.link(&INSTANCE_PEERS, s, *t).await.map_err(err)?;
                }
            }
        }
        crate::groups::apply_policies(store).await?;
        if !unregistered {
            *self.synced.lock().unwrap() = signature;
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
