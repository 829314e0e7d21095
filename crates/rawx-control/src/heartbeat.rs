//! The supervised component `heartbeat`: says this task node is alive, and ends the active
//! jobs of task nodes that are not (AWX's `cluster_node_heartbeat` and reaper).
//!
//! A node is lost after `CLUSTER_NODE_HEARTBEAT_PERIOD` × `CLUSTER_NODE_MISSED_HEARTBEAT_TOLERANCE`
//! seconds without a heartbeat (AWX's settings and rule; `RAWX_NODE_LOST_AFTER` overrides).
//! What makes the judgement robust where AWX's is not:
//!
//! - **one clock:** `last_seen` is written, and compared, in the database's time
//!   (`Store::db_now`), so a reaper whose clock runs ahead never sees a live node as silent;
//! - **a beat load cannot starve:** it is written from an OS thread of its own, with its own
//!   single-threaded runtime and its own database connection (`Store::separate`), so neither
//!   a runtime busy ingesting nor a pool drained by long queries delays it; it needs a few
//!   milliseconds of CPU every two seconds, which a fair scheduler gives even a saturated
//!   machine;
//! - **a judge that was awake:** a silence counts only over a window the reaper itself watched
//!   without a gap (`Awake`). When the reaper's own passes stop for a while — its machine or
//!   VM stalled, the clock stepped forward — every node looks silent at once on the first
//!   pass after; judging then would fail the jobs of nodes that were exactly as stalled as the
//!   judge and beat again a moment later. So a gap restarts the window (CI saw this: a VM
//!   stall of about 20 s, wall time jumping past the limit between two passes);
//! - **told so:** the reaper marks the node it declared lost (`errors`, `node_state`
//!   unavailable, as AWX's `mark_offline`); a node that comes back sees that at its next beat,
//!   says so in its log, clears it (it is ready again) and cancels the units of its jobs that
//!   were failed meanwhile, so nothing of them runs on.

use crate::{health, jobs_in, Shared, TICK};
use rawx_domain::JobStatus;
use rawx_model::filter::Filter;
use rawx_model::resources::{INSTANCES, JOB_KINDS};
use rawx_model::schema::{text, ColumnType};
use rawx_model::Row;
use rawx_store::DynStore;
use rawx_supervisor::{Component, Shutdown};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

/// What the reaper writes on the instance it declares lost: AWX's words.
pub const LOST_ERROR: &str = "Another cluster node has determined this instance to be unresponsive";

pub(crate) struct Heartbeat {
    pub(crate) shared: Shared,
    /// `RAWX_NODE_LOST_AFTER`, when set; else AWX's settings decide.
    pub(crate) lost_after: Option<Duration>,
    /// The execution node behind the mesh (`reach.rs`).
    pub(crate) watch: crate::reach::Watch,
}

#[async_trait::async_trait]
impl Component for Heartbeat {
    fn name(&self) -> &'static str {
        "heartbeat"
    }

    async fn run(&self, mut shutdown: Shutdown) -> anyhow::Result<()> {
        let store = self.shared.store.clone();
        let rejoined = Arc::new(Notify::new());
        let (stop, stopped) = std::sync::mpsc::channel::<()>();
        let beat = {
            let me = self.shared.node_name.clone();
            let rejoined = rejoined.clone();
            std::thread::Builder::new()
                .name("rawx-heartbeat".into())
                .spawn(move || beat_thread(store, me, rejoined, stopped))?
        };
        let mut t = tokio::time::interval(TICK);
        let mut awake = Awake::default();
        let result = loop {
            tokio::select! {
                _ = shutdown.wait() => break Ok(()),
                _ = t.tick() => {
                    if let Err(e) = reap(&self.shared, self.lost_after, &mut awake).await {
                        tracing::warn!(error = %e, "reaper pass failed");
                    }
                    let window = crate::reach::window(
                        lost_after(&self.shared, self.lost_after).await,
                        self.lost_after.is_some(),
                    );
                    if let Err(e) = self.watch.pass(&self.shared, window).await {
                        tracing::warn!(error = %e, "mesh reachability pass failed");
                    }
                }
                _ = rejoined.notified() => stop_reaped_units(&self.shared).await,
            }
            if beat.is_finished() {
                break Err(anyhow::anyhow!("the heartbeat thread ended"));
            }
        };
        let _ = stop.send(());
        result
    }
}

/// The beat, on its own thread until told to stop (or its component is gone). Its connection
/// is made here, so it belongs to this thread's runtime and nothing else drives it.
fn beat_thread(
    main: DynStore,
    me: String,
    rejoined: Arc<Notify>,
    stopped: std::sync::mpsc::Receiver<()>,
) {
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return tracing::error!(error = %e, "cannot start the heartbeat's runtime"),
    };
    let mut store: Option<DynStore> = None;
    loop {
        let started = std::time::Instant::now();
        let result = rt.block_on(async {
            if store.is_none() {
                store = Some(main.separate(1).await.map_err(|e| {
                    anyhow::anyhow!("a database connection for the heartbeat: {e}")
                })?);
            }
            match &store {
                Some(s) => beat(s, &me, &rejoined).await,
                None => Ok(()),
            }
        });
        if let Err(e) = result {
            tracing::warn!(error = %e, "heartbeat failed");
        }
        match stopped.recv_timeout(TICK.saturating_sub(started.elapsed())) {
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
            _ => return,
        }
    }
}

/// One heartbeat: `last_seen` in the database's time; a node that was declared lost is ready
/// again and says so.
async fn beat(store: &DynStore, me: &str, rejoined: &Notify) -> anyhow::Result<()> {
    let now = store.db_now().await.map_err(|e| anyhow::anyhow!("{e}"))?;
    let Some(row) = health::find(store, me).await? else {
        return Ok(());
    };
    let mut r = Row::new();
    r.insert("last_seen".into(), json!(now));
    if text(&row, "errors") == LOST_ERROR {
        tracing::warn!(
            instance = me,
            last_seen = text(&row, "last_seen"),
            "another node declared this node lost while it did not beat; rejoining the cluster (its jobs were failed; their units are stopped)"
        );
        r.insert("errors".into(), json!(""));
        r.insert("node_state".into(), json!("ready"));
        rejoined.notify_one();
    }
    let id = row.get("id").and_then(Value::as_i64).unwrap_or_default();
    store
        .update(&INSTANCES, id, &r)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))
}

/// How long another task node may be silent: `RAWX_NODE_LOST_AFTER`, else AWX's rule.
async fn lost_after(shared: &Shared, fixed: Option<Duration>) -> Duration {
    if let Some(d) = fixed {
        return d;
    }
    use rawx_domain::settings::{
        CLUSTER_NODE_HEARTBEAT_PERIOD, CLUSTER_NODE_MISSED_HEARTBEAT_TOLERANCE,
    };
    let positive =
        |n: i64, default: u64| u64::try_from(n).ok().filter(|n| *n > 0).unwrap_or(default);
    let settings = shared.settings();
    let period = positive(settings.get(CLUSTER_NODE_HEARTBEAT_PERIOD).await, 60);
    let tolerance = positive(
        settings.get(CLUSTER_NODE_MISSED_HEARTBEAT_TOLERANCE).await,
        2,
    );
    // Never below a few of rawx's own beats.
    Duration::from_secs((period * tolerance).max(3 * TICK.as_secs()))
}

/// The reaper's watch over itself: since when it has been passing without a gap.
#[derive(Default)]
struct Awake {
    since: Option<time::OffsetDateTime>,
    last: Option<time::OffsetDateTime>,
}

impl Awake {
    /// Records a pass at `now` (the database's time); true once the reaper has passed for a
    /// whole `lost_after` with no gap over half of it (nor the clock going back), so that a
    /// silence it judges is one it watched. A fresh node waits one window before judging.
    fn watched(&mut self, now: time::OffsetDateTime, lost_after: Duration) -> bool {
        let gap_limit = lost_after / 2;
        let steady = self
            .last
            .is_some_and(|last| now >= last && (now - last) <= gap_limit);
        if !steady || self.since.is_none() {
            self.since = Some(now);
        }
        self.last = Some(now);
        self.since.is_some_and(|since| now - since >= lost_after)
    }
}

/// Ends the active jobs of task nodes that are not alive: their runs are on a node nobody
/// follows any more. (A node that comes back stops their units; see `stop_reaped_units`.)
async fn reap(shared: &Shared, fixed: Option<Duration>, awake: &mut Awake) -> anyhow::Result<()> {
    let store = &shared.store;
    let me = &shared.node_name;
    let lost_after = lost_after(shared, fixed).await;
    let now = store.db_now().await.map_err(|e| anyhow::anyhow!("{e}"))?;
    if !awake.watched(crate::parse_stored(&now)?, lost_after) {
        return Ok(());
    }
    let cutoff = crate::shift(&now, -(lost_after.as_secs_f64()))?;
    let mut seen: HashMap<String, Option<Row>> = HashMap::new();
    for (kind, job) in jobs_in(store, &[JobStatus::Waiting, JobStatus::Running]).await? {
        let ctl = text(&job, "controller_node").to_string();
        if ctl.is_empty() || &ctl == me {
            continue;
        }
        if !seen.contains_key(&ctl) {
            let inst = health::find(store, &ctl).await?;
            // Told so: marked lost only if no beat came in meanwhile.
            if let Some(inst) = inst
                .as_ref()
                .filter(|i| text(i, "last_seen") < cutoff.as_str())
            {
                mark_lost(store, inst).await;
            }
            seen.insert(ctl.clone(), inst);
        }
        let Some(Some(inst)) = seen.get(&ctl) else {
            continue;
        };
        let last = text(inst, "last_seen");
        if last >= cutoff.as_str() {
            continue;
        }
        let id = job.get("id").and_then(Value::as_i64).unwrap_or_default();
        let why = format!(
            "The task node {ctl} that ran this job stopped responding (last seen {last}, no \
             heartbeat for {}s by the database's clock), so {me} ended it. The events stored \
             before are kept; launch it again.",
            lost_after.as_secs()
        );
        tracing::warn!(job = id, lost = %ctl, "reaping a job of a lost task node");
        crate::job_state::reap(shared, kind, id, &why).await;
    }
    Ok(())
}

async fn mark_lost(store: &DynStore, inst: &Row) {
    let id = inst.get("id").and_then(Value::as_i64).unwrap_or_default();
    let unchanged = Filter::eq(
        "last_seen",
        ColumnType::Text,
        json!(text(inst, "last_seen")),
    );
    let mut r = Row::new();
    r.insert("errors".into(), json!(LOST_ERROR));
    r.insert("node_state".into(), json!("unavailable"));
    match store.update_if(&INSTANCES, id, &unchanged, &r).await {
        Ok(true) => tracing::error!(
            instance = text(inst, "hostname"),
            last_seen = text(inst, "last_seen"),
            "task node marked as lost"
        ),
        Ok(false) => {}
        Err(e) => tracing::warn!(error = %e, "cannot mark a lost instance"),
    }
}

/// After this node was declared lost: its jobs were failed by another node, but their units
/// may still run here. Nothing of a failed job may go on changing hosts.
async fn stop_reaped_units(shared: &Shared) {
    let me = &shared.node_name;
    let marker = format!("The task node {me} that ran this job stopped responding");
    for kind in JOB_KINDS {
        let f = Filter::eq("controller_node", ColumnType::Text, json!(me))
            .and(Filter::eq(
                "status",
                ColumnType::Text,
                json!(JobStatus::Failed.as_str()),
            ))
            .and(Filter::eq(
                "execution_node",
                ColumnType::Text,
                json!(shared.node.node_id()),
            ));
        let Ok(rows) = crate::prepare::all_rows(&shared.store, kind.resource, f).await else {
            continue;
        };
        for job in rows {
            let unit = text(&job, "work_unit_id").to_string();
            if unit.is_empty() || !text(&job, "job_explanation").starts_with(&marker) {
                continue;
            }
            let final_state = shared
                .node
                .status(&unit)
                .await
                .map(|s| s.is_final())
                .unwrap_or(true);
            if final_state {
                continue;
            }
            let id = job.get("id").and_then(|v| v.as_i64()).unwrap_or_default();
            tracing::warn!(job = id, unit = %unit, "stopping the unit of a job failed while this node was lost");
            let node = shared.node.clone();
            tokio::spawn(async move {
                let _ = node.cancel(&unit).await;
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Awake;
    use std::time::Duration;
    use time::macros::datetime;

    #[test]
    fn the_reaper_judges_only_a_window_it_watched_without_a_gap() {
        let lost_after = Duration::from_secs(6);
        let at = |s: i64| datetime!(2026-12-07 16:25:00 UTC) + time::Duration::seconds(s);
        let mut awake = Awake::default();
        // A fresh reaper waits one whole window.
        assert!(!awake.watched(at(0), lost_after));
        assert!(!awake.watched(at(2), lost_after));
        assert!(!awake.watched(at(4), lost_after));
        assert!(awake.watched(at(6), lost_after));
        assert!(
            awake.watched(at(9), lost_after),
            "a 3 s gap is within half the window"
        );
        // Stalled itself (or the clock jumped): everyone looks silent; no judgement until it
        // has watched a whole window again.
        assert!(!awake.watched(at(40), lost_after));
        assert!(!awake.watched(at(42), lost_after));
        assert!(!awake.watched(at(44), lost_after));
        assert!(awake.watched(at(46), lost_after));
        // The clock going back restarts the watch too.
        assert!(!awake.watched(at(30), lost_after));
    }
}
