//! The dispatcher (the supervised component `dispatcher`): runs each job the task manager
//! claimed as a task it owns (`run::run`), re-attaches at start to the jobs this node was
//! running (an earlier process's, or its own before a restart of the component), forwards
//! cancels to the node, and drains on shutdown.
//!
//! Invariant: a job claimed by this process is started once. The task manager marks a job
//! claimed (`Claims::reserve`) before its compare-and-set, and the mark is cleared when the
//! dispatcher takes the job from the queue; recovery leaves marked jobs alone, so a claim is
//! never mistaken for a job an earlier process left behind.

use crate::{ingest, jobs_in, key, run, status_in, JobKey, Shared};
use rawx_bus::Received;
use rawx_domain::messages::{publish, CancelRequested, Message, StatusChanged};
use rawx_domain::JobStatus;
use rawx_model::resources::JobKind;
use rawx_model::Row;
use rawx_supervisor::{Component, Shutdown};
use serde_json::{json, Value};
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex as SyncMutex};
use std::time::Duration;
use tokio::sync::{mpsc, Mutex, Notify};
use tokio::task::JoinSet;

type Claim = (&'static JobKind, i64);

/// The task manager's end of the queue of claimed jobs.
pub(crate) struct Claims {
    tx: mpsc::UnboundedSender<Claim>,
    claimed: Arc<SyncMutex<HashSet<JobKey>>>,
}

/// The dispatcher's end; it outlives restarts of the component, so no claim is lost.
pub(crate) struct Queue {
    rx: Mutex<mpsc::UnboundedReceiver<Claim>>,
    claimed: Arc<SyncMutex<HashSet<JobKey>>>,
}

pub(crate) fn channel() -> (Claims, Queue) {
    let (tx, rx) = mpsc::unbounded_channel();
    let claimed = Arc::new(SyncMutex::new(HashSet::new()));
    (
        Claims {
            tx,
            claimed: claimed.clone(),
        },
        Queue {
            rx: Mutex::new(rx),
            claimed,
        },
    )
}

impl Claims {
    /// Marks a job as being claimed; `send` it once the claim succeeded, or drop the ticket.
    pub(crate) fn reserve(&self, kind: &'static JobKind, id: i64) -> Ticket<'_> {
        self.claimed.lock().unwrap().insert(key(kind, id));
        Ticket {
            claims: self,
            claim: Some((kind, id)),
        }
    }
}

pub(crate) struct Ticket<'a> {
    claims: &'a Claims,
    claim: Option<Claim>,
}

impl Ticket<'_> {
    pub(crate) fn send(mut self) {
        if let Some(c) = self.claim.take() {
            if self.claims.tx.send(c).is_err() {
                self.claims.claimed.lock().unwrap().remove(&key(c.0, c.1));
            }
        }
    }
}

impl Drop for Ticket<'_> {
    fn drop(&mut self) {
        if let Some((kind, id)) = self.claim.take() {
            self.claims.claimed.lock().unwrap().remove(&key(kind, id));
        }
    }
}

/// The job tasks this dispatcher owns, and which job each is.
#[derive(Default)]
struct Jobs {
    set: JoinSet<()>,
    ids: HashMap<tokio::task::Id, Claim>,
}

impl Jobs {
    fn spawn(
        &mut self,
        claim: Claim,
        task: impl std::future::Future<Output = ()> + Send + 'static,
    ) {
        let handle = self.set.spawn(task);
        self.ids.insert(handle.id(), claim);
    }
}

pub(crate) struct Dispatcher {
    shared: Shared,
    queue: Queue,
    /// Told when a job ends: its capacity is free for the task manager's next pass.
    done: Arc<Notify>,
    /// On shutdown, how long running jobs may take to finish before they are handed back.
    drain: Duration,
    faults: rawx_supervisor::Faults,
}

impl Dispatcher {
    pub(crate) fn new(
        shared: Shared,
        queue: Queue,
        done: Arc<Notify>,
        drain: Duration,
        faults: rawx_supervisor::Faults,
    ) -> Self {
        Dispatcher {
            shared,
            queue,
            done,
            drain,
            faults,
        }
    }

    fn start(&self, jobs: &mut Jobs, (kind, id): Claim) {
        let shared = self.shared.clone();
        let faults = self.faults.clone();
        jobs.spawn((kind, id), async move {
            faults.point("dispatcher@job");
            run::run(shared, kind, id).await
        });
    }

    /// Jobs left `waiting` or `running` by an earlier process, or by this component before it
    /// restarted: re-attach to their work unit
    /// when it still exists, else end them in `error` with the reason.
    async fn recover(&self, jobs: &mut Jobs) -> anyhow::Result<()> {
        for (kind, job) in jobs_in(
            &self.shared.store,
            &[JobStatus::Waiting, JobStatus::Running],
        )
        .await?
        {
            let id = job.get("id").and_then(Value::as_i64).unwrap_or_default();
            // Claimed by this process's task manager and on its way here: started, not
            // recovered.
            if self.queue.claimed.lock().unwrap().contains(&key(kind, id)) {
                continue;
            }
            // Another task node's job is that node's to follow (or the reaper's, if it died).
            if rawx_model::schema::text(&job, "execution_node") != self.shared.node.node_id() {
                continue;
            }
            let unit = job
                .get("work_unit_id")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string();
            if unit.is_empty() {
                // Claimed but never started (waiting for the execution environment, say):
                // nothing ran, so it goes back in the queue instead of failing.
                let mut r = Row::new();
                r.insert("status".into(), json!(JobStatus::Pending.as_str()));
                r.insert("execution_node".into(), json!(""));
                r.insert("controller_node".into(), json!(""));
                r.insert("job_explanation".into(), json!(""));
                let requeued = self
                    .shared
                    .store
                    .update_if(kind.resource, id, &status_in([JobStatus::Waiting]), &r)
                    .await
                    .unwrap_or(false);
                if requeued {
                    tracing::info!(
                        job = id,
                        "requeued a job that had not started before the restart"
                    );
                    publish(
                        &*self.shared.bus,
                        &StatusChanged::new(kind, id, JobStatus::Pending),
                    );
                } else {
                    let why = "The controller restarted before this job's work unit was submitted; launch it again.";
                    crate::job_state::fail(&self.shared, kind, id, why, "").await;
                }
                continue;
            }
            // Only a node that answers "unknown unit" proves it gone; an unreachable one is
            // followed (and the job fails naming the node if it stays away).
            if let Err(rawx_mesh::WorkError::UnknownUnit(_)) = self.shared.node.status(&unit).await
            {
                let why = format!(
                    "The controller restarted and the job's work unit {unit} is gone from the execution node, \
                     so the rest of its output is lost; the events stored before the restart are kept. Launch it again."
                );
                crate::job_state::fail(&self.shared, kind, id, &why, "").await;
                continue;
            }
            let last = ingest::highest_counter(&self.shared, kind, id).await?;
            tracing::info!(job = id, unit = %unit, after_event = last, "re-attaching to a running job");
            // A cancel asked for while no dispatcher listened (the controller was down) is
            // only in `canceled_on`: act on it now, so the unit stops however it was left.
            if !job.get("canceled_on").is_none_or(Value::is_null) {
                let node = self.shared.node.clone();
                let unit = unit.clone();
                tokio::spawn(async move {
                    if let Err(e) = node.cancel(&unit).await {
                        tracing::warn!(job = id, unit, error = %e, "cannot cancel the work unit");
                    }
                });
            }
            let shared = self.shared.clone();
            jobs.spawn((kind, id), async move {
                let built = run::rebuild(&shared, kind, &job).await;
                run::follow(shared, kind, id, unit, built, last).await;
            });
        }
        Ok(())
    }

    async fn cancel(&self, kind: &JobKind, job: i64) {
        let Ok(row) = self.shared.store.get(kind.resource, job).await else {
            return;
        };
        match JobStatus::of(&row) {
            Some(JobStatus::Pending | JobStatus::New) => {
                let mut r = Row::new();
                r.insert("status".into(), json!(JobStatus::Canceled.as_str()));
                r.insert("failed".into(), json!(true));
                r.insert("finished".into(), json!(rawx_model::now_string()));
                r.insert("job_explanation".into(), json!("Job canceled by request."));
                r.insert("start_args".into(), json!(""));
                r.insert("event_processing_finished".into(), json!(true));
                if let Ok(true) = self
                    .shared
                    .store
                    .update_if(
                        kind.resource,
                        job,
                        &status_in([JobStatus::Pending, JobStatus::New]),
                        &r,
                    )
                    .await
                {
                    publish(
                        &*self.shared.bus,
                        &StatusChanged::new(kind, job, JobStatus::Canceled),
                    );
                }
            }
            Some(JobStatus::Waiting | JobStatus::Running) => {
                if let Some(unit) = row
                    .get("work_unit_id")
                    .and_then(Value::as_str)
                    .filter(|u| !u.is_empty())
                {
                    // A cancel waits up to the node's grace for the unit to stop: not in the
                    // dispatcher's loop, which must go on starting and finishing other jobs.
                    let node = self.shared.node.clone();
                    let unit = unit.to_string();
                    tokio::spawn(async move {
                        if let Err(e) = node.cancel(&unit).await {
                            tracing::warn!(job, unit, error = %e, "cannot cancel the work unit");
                        }
                    });
                }
            }
            _ => {}
        }
    }
}

#[async_trait::async_trait]
impl Component for Dispatcher {
    fn name(&self) -> &'static str {
        "dispatcher"
    }

    async fn run(&self, mut shutdown: Shutdown) -> anyhow::Result<()> {
        let _dispatching = self.shared.ingest.dispatching();
        let mut claims = self.queue.rx.lock().await;
        let mut sub = self.shared.bus.subscribe(&[rawx_bus::CANCEL]);
        let mut jobs = Jobs::default();
        self.recover(&mut jobs).await?;
        // The test-only `dispatcher@busy` point: a second into running jobs.
        let mut busy = tokio::time::interval(Duration::from_secs(1));
        loop {
            tokio::select! {
                _ = shutdown.wait() => break,
                _ = busy.tick(), if !jobs.set.is_empty() => self.faults.point("dispatcher@busy"),
                Some(claim) = claims.recv() => {
                    self.queue.claimed.lock().unwrap().remove(&key(claim.0, claim.1));
                    if jobs.set.is_empty() {
                        busy.reset();
                    }
                    self.start(&mut jobs, claim);
                }
                Some(done) = jobs.set.join_next_with_id(), if !jobs.set.is_empty() => {
                    match done {
                        Ok((task, ())) => {
                            jobs.ids.remove(&task);
                        }
                        Err(e) => {
                            // A bug, not the job's fault: it must still end, saying so.
                            let claim = jobs.ids.remove(&e.id());
                            tracing::error!(error = %e, job = ?claim.map(|c| c.1), "a job task panicked");
                            if let Some((kind, id)) = claim.filter(|_| e.is_panic()) {
                                let why = format!("rawx failed while running this job ({e}); its work unit may still run. This is a bug: please report it.");
                                crate::job_state::fail(&self.shared, kind, id, &why, "").await;
                            }
                        }
                    }
                    self.done.notify_one();
                }
                msg = sub.recv() => match msg {
                    Received::Message(m) => {
                        if let Some(c) = CancelRequested::from_json(&m.payload) {
                            self.cancel(c.kind, c.job).await;
                        }
                    }
                    // A missed cancel is seen by the job's own task (it checks `canceled_on`).
                    Received::Missed(_) => {}
                    Received::Closed => break,
                },
            }
        }
        let mut jobs = jobs.set;
        if !jobs.is_empty() {
            tracing::info!(
                jobs = jobs.len(),
                drain_s = self.drain.as_secs_f64(),
                "draining: no new jobs start; waiting for running ones"
            );
            let drained = tokio::time::timeout(self.drain, async {
                while jobs.join_next().await.is_some() {}
            })
            .await;
            if drained.is_err() {
                tracing::warn!(jobs = jobs.len(), "jobs still running after the drain period; handing them back (the next start re-attaches to them)");
            }
        }
        // Jobs not done keep running in their units; the next start re-attaches to them.
        jobs.abort_all();
        Ok(())
    }
}
