//! The event ingester (AWX's callback receiver) as a component of its own: every job's decoded
//! events reach it as batches through one queue; it stores them (small batches of several jobs
//! in one transaction), publishes each stored event, writes host summaries, hands rows to the
//! log shipper, and acknowledges each batch to the job that sent it.
//!
//! Invariants: a job's batches are stored in the order sent, and never twice. The batches the
//! ingester has taken but not yet acknowledged live in the component, not in its task, so a
//! crash of the ingester (a panic, restarted by the supervisor) loses none: the restarted
//! ingester stores them first, skipping what the store already holds. A job's task re-attached
//! after a dispatcher restart may send events its predecessor had queued; the ingester skips
//! every event at or below the highest counter it has stored for that job.

use crate::{JobKey, Shared};
use anyhow::anyhow;
use rawx_model::filter::{Filter, ListQuery};
use rawx_model::resources::{JobKind, JOB_HOST_SUMMARIES, JOB_KIND};
use rawx_model::schema::{text, ColumnType};
use rawx_model::Row;
use rawx_runner::RunnerEvent;
use rawx_supervisor::{Component, Shutdown};
use serde_json::{json, Map, Value};
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex as SyncMutex};
use tokio::sync::{mpsc, oneshot, Mutex};

/// A job's events are handed over when this many are buffered; small batches of several jobs
/// are stored together up to this many rows.
pub(crate) const BATCH_SIZE: usize = 1000;
/// Batches queued for the ingester, all jobs together: a full queue slows the jobs' decoders,
/// so memory stays bounded when the store is the bottleneck.
const QUEUE: usize = 64;
/// Batches one job may have handed over and not yet seen stored: decoding the next overlaps
/// with storing these.
const IN_FLIGHT: usize = 2;

/// What every batch of one job shares.
struct JobInfo {
    /// Host names to ids, to link events to hosts.
    hosts: HashMap<String, i64>,
    /// The job's secrets (injected credential values, survey passwords), masked in the
    /// events stored and shipped.
    secrets: Arc<[String]>,
}

struct Batch {
    kind: &'static JobKind,
    job: i64,
    rows: Vec<Row>,
    job_info: Arc<JobInfo>,
    ack: oneshot::Sender<Result<(), String>>,
}

/// The ingester's queue and what it knows of each job, shared by the component and every
/// job's `Writer`. Cloned into `Shared`.
#[derive(Clone)]
pub struct Ingest {
    tx: mpsc::Sender<Batch>,
    inner: Arc<Inner>,
}

struct Inner {
    rx: Mutex<mpsc::Receiver<Batch>>,
    /// Taken from the queue, not yet acknowledged: survives a restart of the component.
    taken: Mutex<VecDeque<Batch>>,
    /// Highest counter stored per job (of jobs whose writer has not finished).
    stored: SyncMutex<HashMap<JobKey, i64>>,
    /// Writers alive, and dispatchers running: on shutdown the ingester keeps storing until
    /// both are none (a draining job may start writing late in the drain).
    writers: AtomicUsize,
    dispatchers: AtomicUsize,
}

/// Held by a running dispatcher (see `Ingest::dispatching`).
pub(crate) struct Dispatching(Arc<Inner>);

impl Drop for Dispatching {
    fn drop(&mut self) {
        self.0.dispatchers.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Default for Ingest {
    fn default() -> Self {
        Self::new()
    }
}

impl Ingest {
    pub fn new() -> Self {
        let (tx, rx) = mpsc::channel(QUEUE);
        Ingest {
            tx,
            inner: Arc::new(Inner {
                rx: Mutex::new(rx),
                taken: Mutex::new(VecDeque::new()),
                stored: SyncMutex::new(HashMap::new()),
                writers: AtomicUsize::new(0),
                dispatchers: AtomicUsize::new(0),
            }),
        }
    }

    /// Keeps the ingester storing on shutdown while the returned guard lives.
    pub(crate) fn dispatching(&self) -> Dispatching {
        self.inner.dispatchers.fetch_add(1, Ordering::SeqCst);
        Dispatching(self.inner.clone())
    }

    fn through(&self, key: JobKey) -> Option<i64> {
        self.inner.stored.lock().unwrap().get(&key).copied()
    }
}

fn counter(row: &Row) -> i64 {
    row.get("counter").and_then(Value::as_i64).unwrap_or(0)
}

/// One job's side of the ingester: hands batches over and learns when they are stored.
pub(crate) struct Writer {
    ingest: Ingest,
    kind: &'static JobKind,
    job: i64,
    job_info: Arc<JobInfo>,
    acks: VecDeque<oneshot::Receiver<Result<(), String>>>,
}

impl Writer {
    pub(crate) fn start(
        shared: &Shared,
        kind: &'static JobKind,
        job: i64,
        hosts: HashMap<String, i64>,
        secrets: &[String],
    ) -> Writer {
        shared.ingest.inner.writers.fetch_add(1, Ordering::SeqCst);
        Writer {
            ingest: shared.ingest.clone(),
            kind,
            job,
            job_info: Arc::new(JobInfo {
                hosts,
                secrets: Arc::from(secrets),
            }),
            acks: VecDeque::new(),
        }
    }

    async fn settle_one(&mut self) -> anyhow::Result<()> {
        let Some(ack) = self.acks.pop_front() else {
            return Ok(());
        };
        match ack.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(anyhow!(e)),
            Err(_) => Err(anyhow!(
                "the event ingester stopped before storing this job's events"
            )),
        }
    }

    /// Hands `batch` over (leaving it empty); the error of an earlier batch if one failed.
    pub(crate) async fn send(&mut self, batch: &mut Vec<Row>) -> anyhow::Result<()> {
        if batch.is_empty() {
            return Ok(());
        }
        while self.acks.len() >= IN_FLIGHT {
            self.settle_one().await?;
        }
        // Every secret the job was given (credential values, survey passwords) is masked
        // before its events are stored: a play that prints one shows `**********`.
        if !self.job_info.secrets.is_empty() {
            for row in batch.iter_mut() {
                for v in row.values_mut() {
                    if let Value::String(t) = v {
                        if self.job_info.secrets.iter().any(|s| t.contains(s.as_str())) {
                            *t = crate::prepare::mask(t, &self.job_info.secrets);
                        }
                    }
                }
            }
        }
        let (ack, acked) = oneshot::channel();
        let b = Batch {
            kind: self.kind,
            job: self.job,
            rows: std::mem::take(batch),
            job_info: self.job_info.clone(),
            ack,
        };
        self.ingest
            .tx
            .send(b)
            .await
            .map_err(|_| anyhow!("the event ingester is gone"))?;
        self.acks.push_back(acked);
        Ok(())
    }

    /// Waits until every batch handed over is stored. The job's stored mark is forgotten
    /// only here: a writer dropped mid-job (its task aborted) leaves it for the re-attach.
    pub(crate) async fn finish(mut self) -> anyhow::Result<()> {
        while !self.acks.is_empty() {
            self.settle_one().await?;
        }
        self.ingest
            .inner
            .stored
            .lock()
            .unwrap()
            .remove(&crate::key(self.kind, self.job));
        Ok(())
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        self.ingest.inner.writers.fetch_sub(1, Ordering::SeqCst);
    }
}

/// The supervised component `ingester`.
pub struct Ingester {
    shared: Shared,
    faults: rawx_supervisor::Faults,
}

impl Ingester {
    pub fn new(shared: Shared, faults: rawx_supervisor::Faults) -> Self {
        Ingester { shared, faults }
    }

    /// After a crash: batches taken but not acknowledged may have been stored already (the
    /// crash came after the commit); the store's highest counter per job says what to skip.
    async fn resume(&self, taken: &VecDeque<Batch>) -> anyhow::Result<()> {
        let ingest = &self.shared.ingest;
        let mut seen = Vec::new();
        for b in taken {
            let key = crate::key(b.kind, b.job);
            if seen.contains(&key) {
                continue;
            }
            seen.push(key);
            let stored = highest_counter(&self.shared, b.kind, b.job).await?;
            let mut marks = ingest.inner.stored.lock().unwrap();
            let mark = marks.entry(key).or_insert(stored);
            *mark = (*mark).max(stored);
        }
        if !taken.is_empty() {
            tracing::warn!(
                batches = taken.len(),
                "storing the event batches taken before the ingester restarted"
            );
        }
        Ok(())
    }

    /// Stores what is taken, oldest first: consecutive batches of one kind together while
    /// they fit in one batch's size, each acknowledged once committed and published.
    async fn store_taken(&self, taken: &mut VecDeque<Batch>) {
        while let Some(first) = taken.front() {
            let kind = first.kind;
            let mut n = 0;
            let mut rows = 0;
            for b in taken.iter() {
                if !std::ptr::eq(b.kind, kind) || (n > 0 && rows + b.rows.len() > BATCH_SIZE) {
                    break;
                }
                rows += b.rows.len();
                n += 1;
            }
            let mut stats = Vec::with_capacity(n);
            for b in taken.iter_mut().take(n) {
                // Host summaries come from the stats event even when it was stored before a
                // crash of this component (writing them is idempotent).
                let is_stats =
                    |e: &&Row| e.get("event").and_then(Value::as_str) == Some("playbook_on_stats");
                stats.push(if std::ptr::eq(kind, &JOB_KIND) {
                    b.rows.iter().find(is_stats).cloned()
                } else {
                    None
                });
                // Skip what is already stored (a re-attached job resending, or a replay after
                // a crash of this component).
                if let Some(through) = self.shared.ingest.through(crate::key(b.kind, b.job)) {
                    b.rows.retain(|r| counter(r) > through);
                }
            }
            let stored = self.insert(kind, &taken.make_contiguous()[..n]).await;
            // The worst moment to crash: committed, nothing acknowledged or published yet.
            self.faults.point("ingester@commit");
            let mut at = 0;
            for (b, stats) in taken.drain(..n).zip(stats) {
                let result = match &stored {
                    Ok(ids) => {
                        let ids = &ids[at..at + b.rows.len()];
                        at += b.rows.len();
                        self.after_commit(b.kind, b.job, b.rows, ids, stats, &b.job_info)
                            .await
                            .map_err(|e| e.to_string())
                    }
                    Err(e) => Err(e.clone()),
                };
                let _ = b.ack.send(result);
            }
        }
    }

    /// One transaction for the group; the ids in the group's row order.
    async fn insert(&self, kind: &'static JobKind, group: &[Batch]) -> Result<Vec<i64>, String> {
        let owned;
        let rows: &[Row] = if group.len() == 1 {
            &group[0].rows
        } else {
            owned = group
                .iter()
                .flat_map(|b| b.rows.iter().cloned())
                .collect::<Vec<_>>();
            &owned
        };
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let ids = self
            .shared
            .store
            .insert_many(kind.events, rows)
            .await
            .map_err(|e| {
                let jobs: Vec<String> = group.iter().map(|b| b.job.to_string()).collect();
                format!(
                    "storing {} events of job {}: {e}",
                    rows.len(),
                    jobs.join(", ")
                )
            })?;
        // AWX's name for the ingest count (a gauge that only grows, as AWX exposes it), so
        // dashboards built for AWX read it.
        metrics::gauge!("callback_receiver_events_insert_db").increment(rows.len() as f64);
        Ok(ids)
    }

    /// What follows a batch's commit: its stored mark, live subscribers, host summaries, the
    /// log shipper. An event is published only once it is stored.
    async fn after_commit(
        &self,
        kind: &'static JobKind,
        job: i64,
        rows: Vec<Row>,
        ids: &[i64],
        stats: Option<Row>,
        info: &JobInfo,
    ) -> anyhow::Result<()> {
        let shared = &self.shared;
        if let Some(last) = rows.iter().map(counter).max() {
            let mut marks = shared.ingest.inner.stored.lock().unwrap();
            let mark = marks.entry(crate::key(kind, job)).or_insert(last);
            *mark = (*mark).max(last);
        }
        let channel = format!("{}-{job}", kind.events_group);
        if shared.bus.wanted(&channel) {
            for (ev, id) in rows.iter().zip(ids) {
                // AWX's websocket frames carry the event's id; `event_data` stays the stored
                // text, parsed only by a web node with a subscriber.
                let mut msg: Map<String, Value> = ev.clone();
                msg.insert("group_name".into(), json!(kind.events_group));
                msg.insert("id".into(), json!(id));
                shared.bus.publish(&channel, Value::Object(msg));
            }
        }
        if let Some(stats) = stats {
            summaries(shared, job, &stats, &info.hosts).await?;
        }
        if !rows.is_empty() && rawx_logship::job_events_wanted() {
            // AWX's job_events logger: the stored rows move to the log shipper as they are,
            // rendered there (never on this path) as one document each.
            rawx_logship::ship_job_events(rows, ids, &info.secrets);
        }
        Ok(())
    }
}

pub(crate) async fn highest_counter(
    shared: &Shared,
    kind: &JobKind,
    job: i64,
) -> anyhow::Result<i64> {
    let stored = shared
        .store
        .list(
            kind.events,
            &ListQuery {
                filter: Filter::eq(kind.event_parent, ColumnType::Int, json!(job)),
                order: vec![("counter", true)],
                page: 1,
                page_size: 1,
            },
        )
        .await
        .map_err(|e| anyhow!("{e}"))?;
    Ok(stored.rows.first().map(counter).unwrap_or(0))
}

#[async_trait::async_trait]
impl Component for Ingester {
    fn name(&self) -> &'static str {
        "ingester"
    }

    async fn run(&self, mut shutdown: Shutdown) -> anyhow::Result<()> {
        let inner = &self.shared.ingest.inner;
        let mut rx = inner.rx.lock().await;
        let mut taken = inner.taken.lock().await;
        self.resume(&taken).await?;
        self.store_taken(&mut taken).await;
        let mut stopping = false;
        loop {
            metrics::gauge!("rawx_ingester_queue_batches").set(rx.len() as f64);
            if stopping
                && inner.dispatchers.load(Ordering::SeqCst) == 0
                && inner.writers.load(Ordering::SeqCst) == 0
                && rx.is_empty()
            {
                break;
            }
            tokio::select! {
                _ = shutdown.wait(), if !stopping => {
                    // Jobs still draining send their last events: keep storing until the
                    // dispatcher has stopped and every writer is gone.
                    stopping = true;
                }
                _ = tokio::time::sleep(std::time::Duration::from_millis(100)), if stopping => {}
                got = rx.recv() => {
                    let Some(first) = got else { break };
                    let mut rows = first.rows.len();
                    taken.push_back(first);
                    while rows < BATCH_SIZE {
                        match rx.try_recv() {
                            Ok(b) => {
                                rows += b.rows.len();
                                taken.push_back(b);
                            }
                            Err(_) => break,
                        }
                    }
                    self.store_taken(&mut taken).await;
                }
            }
        }
        Ok(())
    }
}

async fn summaries(
    shared: &Shared,
    job: i64,
    stats_event: &Row,
    hosts: &HashMap<String, i64>,
) -> anyhow::Result<()> {
    let data: Value = serde_json::from_str(text(stats_event, "event_data")).unwrap_or(Value::Null);
    let existing = shared
        .store
        .list(
            &JOB_HOST_SUMMARIES,
            &ListQuery {
                filter: Filter::eq("job", ColumnType::Int, json!(job)),
                order: vec![("id", false)],
                page: 1,
                page_size: 1,
            },
        )
        .await
        .map_err(|e| anyhow!("{e}"))?;
    if existing.count > 0 {
        return Ok(());
    }
    let rows: Vec<Row> = rawx_runner::host_stats(&data)
        .into_iter()
        .map(|(name, s)| {
            let mut r = Row::new();
            for (k, v) in [
                ("job", json!(job)),
                (
                    "host",
                    hosts.get(&name).map(|h| json!(h)).unwrap_or(Value::Null),
                ),
                ("host_name", json!(name)),
                ("ok", json!(s.ok)),
                ("changed", json!(s.changed)),
                ("dark", json!(s.dark)),
                ("failures", json!(s.failures)),
                ("skipped", json!(s.skipped)),
                ("ignored", json!(s.ignored)),
                ("rescued", json!(s.rescued)),
                ("processed", json!(s.processed)),
                ("failed", json!(s.failed())),
            ] {
                r.insert(k.into(), v);
            }
            r
        })
        .collect();
    shared
        .store
        .insert_many(&JOB_HOST_SUMMARIES, &rows)
        .await
        .map(drop)
        .map_err(|e| anyhow!("storing host summaries of job {job}: {e}"))
}

/// A runner event as a row of the kind's events table.
pub(crate) fn event_row(
    kind: &JobKind,
    job: i64,
    ev: &RunnerEvent,
    hosts: &HashMap<String, i64>,
) -> Row {
    let host_name = ev.host_name();
    let mut r = Row::new();
    // When the event happened, as the runner saw it (AWX keeps this, not the time of storing).
    let happened = ev
        .created
        .as_deref()
        .and_then(rawx_model::parse_time)
        .map(rawx_model::format_time);
    if let Some(t) = happened {
        r.insert("created".into(), json!(t));
        r.insert("modified".into(), json!(t));
    }
    for (k, v) in [
        (kind.event_parent, json!(job)),
        ("event", json!(ev.event)),
        ("counter", json!(ev.counter)),
        ("event_display", json!(ev.event_display())),
        ("event_data", json!(ev.event_data.to_string())),
        ("event_level", json!(ev.event_level())),
        ("failed", json!(ev.failed())),
        ("changed", json!(ev.changed())),
        ("uuid", json!(ev.uuid)),
        (
            "parent_uuid",
            json!(ev.parent_uuid.clone().unwrap_or_default()),
        ),
        (
            "host",
            hosts
                .get(&host_name)
                .map(|h| json!(h))
                .unwrap_or(Value::Null),
        ),
        ("host_name", json!(host_name)),
        ("playbook", json!(ev.playbook())),
        ("play", json!(ev.play())),
        ("task", json!(ev.task())),
        ("role", json!(ev.role())),
        ("stdout", json!(ev.stdout)),
        ("start_line", json!(ev.start_line)),
        ("end_line", json!(ev.end_line)),
        ("verbosity", json!(ev.verbosity)),
    ] {
        // Each kind's events table has its own columns (ad hoc events have no play or task).
        if kind.events.field(k).is_some() {
            r.insert(k.into(), v);
        }
    }
    r
}
