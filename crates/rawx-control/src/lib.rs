//! rawx's task role (AWX's dispatcher + callback receiver): the task manager that moves
//! pending jobs to `waiting` by capacity, the dispatcher that runs each as a work unit on the
//! node, and the event ingester that stores what comes back and closes the job.
//!
//! Architecture invariants: this crate never serves HTTP; it reaches Ansible only through the
//! mesh's work-unit interface (`rawx_mesh::WorkNode`), so local and remote execution are one path;
//! it learns of new work from the bus but trusts only the store (a missed signal costs at most
//! one tick). Jobs it runs are tasks it owns and watches, never detached.

mod build;
mod checkouts;
mod constructed;
mod deps;
mod dispatch;
mod facts;
mod groups;
mod health;
mod heartbeat;
mod ingest;
mod inventory_build;
mod inventory_render;
mod inventory_run;
mod job_state;
mod lookup;
mod node_sync;
mod notify;
mod prepare;
mod reach;
mod run;
mod scheduler;
mod scm;
mod smtp;
mod workflow;

pub use ingest::Ingest;

pub use groups::apply_policies;
pub use health::Health;
pub use heartbeat::LOST_ERROR;

use rawx_bus::{Bus, Received};
use rawx_domain::messages::{publish, StatusChanged};
use rawx_domain::JobStatus;
use rawx_model::filter::{Cond, Filter};
use rawx_model::resources::{JobKind, JOB_KINDS, PROJECT_UPDATE_KIND};
use rawx_model::schema::ColumnType;
use rawx_model::secret::SecretKey;
use rawx_model::Row;
use rawx_store::DynStore;
use rawx_supervisor::{Component, Shutdown};
use serde_json::{json, Map, Value};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

/// The work type the node runs jobs with (`ansible-runner worker`).
pub const WORK_TYPE: &str = "ansible-runner";
/// How often the task manager looks at the store even without a signal, and how often a task
/// node says it is alive (its instance's `last_seen`, written by a task of its own so a long
/// scheduling pass never delays it).
const TICK: Duration = Duration::from_secs(2);

/// What every job task needs.
#[derive(Clone)]
pub struct Shared {
    pub store: DynStore,
    pub bus: Arc<dyn Bus>,
    /// The execution node: in-process, or a separate `rawx receptor` reached by its socket.
    pub node: Arc<dyn rawx_mesh::WorkNode>,
    pub key: SecretKey,
    pub projects_dir: PathBuf,
    /// Where the worker unpacks each job's private data dir (removed when the job ends).
    pub jobs_dir: PathBuf,
    pub node_name: String,
    /// Capacity of this node in forks (AWX: cores × 4).
    pub capacity: i64,
    /// The Python environment the node's `ansible-runner` lives in; a job waits for it.
    pub environment: rawx_ee::Environment,
    /// The event ingester's queue (`Ingest::new()`; the `ingester` component drains it).
    pub ingest: Ingest,
}

impl Shared {
    pub(crate) fn settings(&self) -> rawx_domain::settings::Settings<'_> {
        // The task role reads no setting that is the installation's UUID.
        rawx_domain::settings::Settings::new(&*self.store, "")
    }
    /// AWX_TASK_ENV: extra environment for every job.
    pub async fn task_env(&self) -> Map<String, Value> {
        self.settings()
            .get(rawx_domain::settings::AWX_TASK_ENV)
            .await
            .into_iter()
            .map(|(k, v)| {
                (
                    k,
                    v.as_str()
                        .map(|s| json!(s))
                        .unwrap_or_else(|| json!(v.to_string())),
                )
            })
            .collect()
    }
    pub async fn url_base(&self) -> String {
        self.settings()
            .get(rawx_domain::settings::TOWER_URL_BASE)
            .await
    }
}

/// The task role: builds its supervised components, which share one `Shared`.
///
/// - `ingester` stores every job's events (AWX's callback receiver);
/// - `dispatcher` runs claimed jobs as work units, re-attaches after a restart, cancels, and
///   drains on shutdown;
/// - `task-manager` claims pending jobs by capacity and hands them to the dispatcher;
/// - `heartbeat` says this node is alive and reaps the jobs of nodes that are not;
/// - `health` keeps the instances' capacity current;
/// - `scheduler` launches the schedules that are due;
/// - `workflow-manager` runs workflow jobs: spawns their nodes' jobs, ends them.
///
/// Each restarts on its own: a crash of one leaves the others' work in place (the
/// dispatcher's restart re-attaches to its running jobs; the ingester's stores what it held).
pub struct TaskRole {
    shared: Shared,
    drain: Duration,
    lost_after: Option<Duration>,
    faults: rawx_supervisor::Faults,
}

impl TaskRole {
    pub fn new(shared: Shared) -> Self {
        TaskRole {
            shared,
            drain: Duration::ZERO,
            lost_after: None,
            faults: rawx_supervisor::Faults::default(),
        }
    }

    /// Test-only failures inside the components' work (`ingester@commit`,
    /// `dispatcher@busy`, `dispatcher@job`; see `rawx_supervisor::Faults`).
    pub fn with_faults(mut self, faults: rawx_supervisor::Faults) -> Self {
        self.faults = faults;
        self
    }

    /// How long another task node may stay silent before its active jobs are ended; `None`:
    /// AWX's `CLUSTER_NODE_HEARTBEAT_PERIOD` × `CLUSTER_NODE_MISSED_HEARTBEAT_TOLERANCE`.
    pub fn with_lost_after(mut self, lost_after: Option<Duration>) -> Self {
        self.lost_after = lost_after;
        self
    }

    /// Lets running jobs finish for up to `drain` on shutdown (no new job starts meanwhile).
    pub fn with_drain(mut self, drain: Duration) -> Self {
        self.drain = drain;
        self
    }

    pub fn components(self) -> Vec<Arc<dyn Component>> {
        let (claims, queue) = dispatch::channel();
        let done = Arc::new(Notify::new());
        vec![
            Arc::new(ingest::Ingester::new(
                self.shared.clone(),
                self.faults.clone(),
            )),
            Arc::new(dispatch::Dispatcher::new(
                self.shared.clone(),
                queue,
                done.clone(),
                self.drain,
                self.faults,
            )),
            Arc::new(TaskManager {
                shared: self.shared.clone(),
                claims,
                done,
            }),
            Arc::new(heartbeat::Heartbeat {
                shared: self.shared.clone(),
                lost_after: self.lost_after,
                watch: Default::default(),
            }),
            Arc::new(scheduler::Scheduler {
                shared: self.shared.clone(),
            }),
            Arc::new(notify::Notifier {
                shared: self.shared.clone(),
            }),
            Arc::new(workflow::WorkflowManager {
                shared: self.shared.clone(),
            }),
            Arc::new(Health::new(self.shared)),
        ]
    }
}

/// The supervised component `task-manager`: on a bus signal, when a job ends, or every
/// `TICK`, one pass over the pending jobs.
struct TaskManager {
    shared: Shared,
    claims: dispatch::Claims,
    done: Arc<Notify>,
}

/// A job of any kind: (`type`, id).
type JobKey = (&'static str, i64);

fn key(kind: &JobKind, id: i64) -> JobKey {
    (kind.resource.type_name, id)
}

pub(crate) fn status_in(states: impl IntoIterator<Item = JobStatus>) -> Filter {
    Filter::On {
        path: vec![],
        column: "status",
        ctype: ColumnType::Text,
        cond: Cond::In(states.into_iter().map(|s| json!(s.as_str())).collect()),
    }
}

/// Jobs of every kind in these states, oldest first.
async fn jobs_in(
    store: &DynStore,
    states: &[JobStatus],
) -> anyhow::Result<Vec<(&'static JobKind, Row)>> {
    let mut out = Vec::new();
    for kind in JOB_KINDS {
        for row in
            prepare::all_rows(store, kind.resource, status_in(states.iter().copied())).await?
        {
            out.push((*kind, row));
        }
    }
    out.sort_by(|a, b| {
        let created = |r: &Row| rawx_model::schema::text(r, "created").to_string();
        created(&a.1).cmp(&created(&b.1))
    });
    Ok(out)
}

/// The `Store::exclusive` key under which task managers claim jobs of templates that run one
/// at a time (`allow_simultaneous` false).
const ONE_AT_A_TIME_LOCK: i64 = 727_379;

/// A burst of launches wakes the task manager once per this long, not once per launch.
const MIN_PASS_GAP: Duration = Duration::from_millis(25);

impl TaskManager {
    /// One pass of the task manager: start what fits, in launch order.
    async fn schedule(&self) -> anyhow::Result<()> {
        let store = &self.shared.store;
        let active = jobs_in(store, &[JobStatus::Waiting, JobStatus::Running]).await?;
        let mut consumed = 0;
        let mut busy_templates: Vec<Value> = Vec::new();
        let me = self.shared.node.node_id();
        let mut impacts = rawx_domain::capacity::Impacts::default();
        let mut mine = 0;
        for (_, j) in &active {
            // Each task node fills its own execution node; a template's one-at-a-time rule
            // holds across all of them.
            if rawx_model::schema::text(j, "execution_node") == me {
                consumed += impacts.of_or_one_host(&**store, j).await;
                mine += 1;
            }
            busy_templates.push(j.get("job_template").cloned().unwrap_or(Value::Null));
        }
        health::record_consumed(&self.shared, consumed, mine).await;
        let (host, capacity, adjustment) = health::node_capacity(&self.shared)
            .await
            .unwrap_or_else(|| (self.shared.node_name.clone(), self.shared.capacity, 1.0));
        let mut placement = groups::Placement::load(&self.shared, &host).await;
        // AWX's dependency graph: an update of a project blocks the project's other updates
        // and the jobs that would run it.
        // A node's own sync (`job_type: run`, `node_sync.rs`) blocks nothing (AWX's task manager
        // leaves those out).
        let mut updating: Vec<Value> = active
            .iter()
            .filter(|(k, j)| {
                std::ptr::eq(*k, &PROJECT_UPDATE_KIND)
                    && rawx_model::schema::text(j, "job_type") != "run"
            })
            .map(|(_, j)| j.get("project").cloned().unwrap_or(Value::Null))
            .collect();
        for (kind, job) in jobs_in(store, &[JobStatus::Pending]).await? {
            let id = job.get("id").and_then(Value::as_i64).unwrap_or_default();
            let jt = job.get("job_template").cloned().unwrap_or(Value::Null);
            let one_at_a_time =
                job.get("allow_simultaneous") != Some(&json!(true)) && !jt.is_null();
            if one_at_a_time && busy_templates.contains(&jt) {
                continue;
            }
            let is_update = std::ptr::eq(kind, &PROJECT_UPDATE_KIND);
            let project = job.get("project").cloned().unwrap_or(Value::Null);
            if !project.is_null() && updating.contains(&project) {
                continue;
            }
            if !is_update && !deps::ready(&self.shared, kind, &job).await? {
                continue;
            }
            // A project update runs in this process (`scm.rs`), wherever the node's groups are.
            if !is_update {
                if let Some(why) = placement.refuses(&self.shared, kind, &job).await {
                    health::explain_wait(&self.shared, kind, &job, why).await;
                    continue;
                }
            }
            // AWX's `ProjectUpdate._get_task_impact`: 1 for a check.
            let need = if is_update {
                1
            } else {
                impacts.of_or_one_host(&**store, &job).await
            };
            if !rawx_model::capacity::fits(capacity, consumed, need) {
                let why = health::wait_explanation(&host, need, consumed, capacity, adjustment);
                health::explain_wait(&self.shared, kind, &job, why).await;
                continue;
            }
            // Claim it: only one task manager moves a job out of pending. The dispatcher is
            // told first, so a restart of it meanwhile takes the job as a claim to start, not
            // as one an earlier process left behind.
            // The claim of a job whose template runs one at a time is serialized across task
            // managers, and the template's active jobs are read again under the lock: two
            // managers that each saw the template idle would otherwise claim two of its jobs
            // (each compare-and-set is on its own job, so both succeed).
            let _serial = if one_at_a_time {
                let lock = store
                    .exclusive(ONE_AT_A_TIME_LOCK)
                    .await
                    .map_err(|e| anyhow::anyhow!("{e}"))?;
                let busy = jobs_in(store, &[JobStatus::Waiting, JobStatus::Running])
                    .await?
                    .iter()
                    .any(|(_, j)| j.get("job_template") == Some(&jt));
                if busy {
                    busy_templates.push(jt);
                    continue;
                }
                Some(lock)
            } else {
                None
            };
            let ticket = self.claims.reserve(kind, id);
            let mut row = Row::new();
            row.insert("status".into(), json!(JobStatus::Waiting.as_str()));
            row.insert("execution_node".into(), json!(me));
            row.insert("job_explanation".into(), json!(""));
            row.insert("controller_node".into(), json!(self.shared.node_name));
            // AWX shows the group a job ran in (ad hoc commands have no column for it).
            if let Some(group) = placement.group_for(kind, id) {
                if kind.resource.field("instance_group").is_some() {
                    row.insert("instance_group".into(), json!(group));
                }
            }
            let claimed = store
                .update_if(kind.resource, id, &status_in([JobStatus::Pending]), &row)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            if !claimed {
                continue;
            }
            publish(
                &*self.shared.bus,
                &StatusChanged::new(kind, id, JobStatus::Waiting).template(jt.clone()),
            );
            consumed += need;
            busy_templates.push(jt);
            if is_update {
                updating.push(project);
            }
            ticket.send();
        }
        Ok(())
    }
}

#[async_trait::async_trait]
impl Component for TaskManager {
    fn name(&self) -> &'static str {
        "task-manager"
    }

    async fn run(&self, mut shutdown: Shutdown) -> anyhow::Result<()> {
        let mut sub = self.shared.bus.subscribe(&[rawx_bus::SCHEDULE]);
        self.schedule().await?;
        let mut last_pass = tokio::time::Instant::now();
        // When a requested pass runs: at once after a quiet spell, at most every MIN_PASS_GAP
        // in a burst (every signal between two passes is served by the second).
        let mut due: Option<tokio::time::Instant> = None;
        let mut tick = tokio::time::interval(TICK);
        loop {
            tokio::select! {
                _ = shutdown.wait() => return Ok(()),
                _ = tick.tick() => {
                    due.get_or_insert(last_pass + MIN_PASS_GAP);
                }
                _ = tokio::time::sleep_until(due.unwrap_or(last_pass)), if due.is_some() => {
                    due = None;
                    self.schedule().await?;
                    last_pass = tokio::time::Instant::now();
                }
                _ = self.done.notified() => {
                    due.get_or_insert(last_pass + MIN_PASS_GAP);
                }
                msg = sub.recv() => match msg {
                    Received::Message(_) | Received::Missed(_) => {
                        due.get_or_insert(last_pass + MIN_PASS_GAP);
                    }
                    Received::Closed => return Ok(()),
                },
            }
        }
    }
}

/// `t` as the store formats times.
pub(crate) fn parse_stored(t: &str) -> anyhow::Result<time::OffsetDateTime> {
    rawx_model::parse_time(t)
        .ok_or_else(|| anyhow::anyhow!("the database's time {t:?} cannot be read"))
}

/// `t` (as the store formats times) moved by `secs`.
pub(crate) fn shift(t: &str, secs: f64) -> anyhow::Result<String> {
    rawx_model::shift_time(t, secs)
        .ok_or_else(|| anyhow::anyhow!("the database's time {t:?} cannot be read"))
}
