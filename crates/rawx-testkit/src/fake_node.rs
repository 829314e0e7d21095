//! A `WorkNode` without ansible: each submitted unit "runs" by replaying a captured
//! `ansible-runner worker` result stream (`/work/shared/samples/runner/*.out`, or any bytes).
//! It lets the task role be tested in process, in milliseconds: what the controller submits,
//! how many units each job got, and a unit held mid-stream (to cancel it, crash around it, or
//! count jobs running at once) are all visible to the test.

use rawx_mesh::{
    BoxFuture, ResultsStream, SubmitRequest, UnitStatus, WorkError, WorkNode, WorkState,
};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use tokio::io::AsyncWriteExt;
use tokio::sync::watch;

/// The captured runner streams: the copies the repository keeps beside rawx-runner's own
/// tests (a clean clone has no `../shared/`), or `RAWX_SAMPLES`.
pub fn sample_dir() -> PathBuf {
    match std::env::var("RAWX_SAMPLES") {
        Ok(d) if !d.is_empty() => PathBuf::from(d),
        _ => Path::new(env!("CARGO_MANIFEST_DIR")).join("../rawx-runner/tests/data"),
    }
}

/// One captured stream, by file name (`worker.out`, `worker-canceled.out`, …).
pub fn sample(name: &str) -> Vec<u8> {
    let p = sample_dir().join(name);
    std::fs::read(&p).unwrap_or_else(|e| panic!("no sample {}: {e}", p.display()))
}

/// How a unit runs.
#[derive(Clone, Debug)]
pub struct Script {
    /// Its whole stdout.
    pub stream: Vec<u8>,
    /// Hold the unit running after this many bytes until [`FakeNode::finish`] (or a cancel);
    /// `None` plays it all at once.
    pub hold_at: Option<usize>,
    /// Refuse the submission with this message.
    pub refuse: Option<String>,
}

impl Script {
    pub fn replay(stream: Vec<u8>) -> Script {
        Script {
            stream,
            hold_at: None,
            refuse: None,
        }
    }

    /// Plays the stream up to the first byte of the line holding `needle`, then holds.
    pub fn hold_before(stream: Vec<u8>, needle: &str) -> Script {
        let text = String::from_utf8_lossy(&stream);
        let at = text
            .find(needle)
            .unwrap_or_else(|| panic!("{needle:?} is not in the stream"));
        let line_start = text[..at].rfind('\n').map_or(0, |i| i + 1);
        Script {
            hold_at: Some(line_start),
            ..Script::replay(stream)
        }
    }
}

/// What the node knows of one unit.
#[derive(Clone, Debug)]
pub struct Unit {
    pub id: String,
    pub payload_len: usize,
    pub params: String,
    /// Bytes the unit has written so far.
    pub written: usize,
    pub state: WorkState,
    pub canceled: bool,
    pub released: bool,
    script: Script,
}

#[derive(Default)]
struct State {
    units: BTreeMap<String, Unit>,
    next: u64,
    /// What the next submissions run; the default script once empty.
    queue: Vec<Script>,
}

/// The fake node. Cheap to clone (one shared state).
#[derive(Clone)]
pub struct FakeNode {
    id: String,
    default: Script,
    state: Arc<Mutex<State>>,
    /// Bumped on every change, so readers wake up.
    changed: watch::Sender<u64>,
    /// Whether submissions go through (`false`: each waits, so its job stays `waiting`).
    open: watch::Sender<bool>,
}

impl FakeNode {
    /// A node called `id` whose units replay `worker.out` (a successful two-host run).
    pub fn new(id: &str) -> FakeNode {
        FakeNode::with_script(id, Script::replay(sample("worker.out")))
    }

    pub fn with_script(id: &str, default: Script) -> FakeNode {
        FakeNode {
            id: id.to_string(),
            default,
            state: Arc::default(),
            changed: watch::channel(0).0,
            open: watch::channel(true).0,
        }
    }

    /// The next submission runs `script` (then the next queued, then the default).
    pub fn push_script(&self, script: Script) {
        self.state.lock().unwrap().queue.push(script);
    }

    fn bump(&self) {
        self.changed.send_modify(|n| *n += 1);
    }

    /// Every unit submitted so far, in submission order.
    pub fn units(&self) -> Vec<Unit> {
        let st = self.state.lock().unwrap();
        let mut v: Vec<Unit> = st.units.values().cloned().collect();
        v.sort_by_key(|u| u.id.trim_start_matches("unit").parse::<u64>().unwrap_or(0));
        v
    }

    /// Units submitted to run jobs (not health checks).
    pub fn job_units(&self) -> Vec<Unit> {
        self.units()
            .into_iter()
            .filter(|u| u.params.contains("--private-data-dir"))
            .collect()
    }

    /// Units still running (held).
    pub fn running(&self) -> Vec<Unit> {
        self.job_units()
            .into_iter()
            .filter(|u| u.state == WorkState::Running)
            .collect()
    }

    /// Makes submissions wait (`false`) or go through (`true`): a job whose submission waits
    /// is claimed but has no unit yet, i.e. `waiting`.
    pub fn accept_submissions(&self, open: bool) {
        self.open.send_replace(open);
    }

    /// Lets a held unit play the rest of its stream and complete.
    pub fn finish(&self, unit: &str) {
        if let Some(u) = self.state.lock().unwrap().units.get_mut(unit) {
            u.script.hold_at = None;
            u.written = u.script.stream.len();
            u.state = WorkState::Succeeded;
        }
        self.bump();
    }

    /// Forgets a unit, as a node that lost it (a wiped work dir) would.
    pub fn lose(&self, unit: &str) {
        self.state.lock().unwrap().units.remove(unit);
        self.bump();
    }
}

impl WorkNode for FakeNode {
    fn node_id(&self) -> &str {
        &self.id
    }

    fn submit<'a>(
        &'a self,
        req: &'a SubmitRequest,
        payload: &'a [u8],
    ) -> BoxFuture<'a, Result<String, WorkError>> {
        Box::pin(async move {
            let params = req.params.get("params").cloned().unwrap_or_default();
            if !params.contains("--worker-info") {
                let mut open = self.open.subscribe();
                let _ = open.wait_for(|o| *o).await;
            }
            let id = {
                let mut st = self.state.lock().unwrap();
                let script = if params.contains("--worker-info") {
                    // A health check: one capacity figure for every test.
                    Script::replay(
                        b"{cpu_count: 4, errors: [], mem_in_bytes: 8589934592, runner_version: 2.4.3}\n"
                            .to_vec(),
                    )
                } else if st.queue.is_empty() {
                    self.default.clone()
                } else {
                    st.queue.remove(0)
                };
                if let Some(why) = &script.refuse {
                    return Err(WorkError::Refused(why.clone()));
                }
                st.next += 1;
                let id = format!("unit{}", st.next);
                let written = script.hold_at.unwrap_or(script.stream.len());
                let state = if script.hold_at.is_some() {
                    WorkState::Running
                } else {
                    WorkState::Succeeded
                };
                st.units.insert(
                    id.clone(),
                    Unit {
                        id: id.clone(),
                        payload_len: payload.len(),
                        params,
                        written,
                        state,
                        canceled: false,
                        released: false,
                        script,
                    },
                );
                id
            };
            self.bump();
            Ok(id)
        })
    }

    fn status<'a>(&'a self, unit_id: &'a str) -> BoxFuture<'a, Result<UnitStatus, WorkError>> {
        Box::pin(async move {
            let st = self.state.lock().unwrap();
            let u = st
                .units
                .get(unit_id)
                .ok_or_else(|| WorkError::UnknownUnit(unit_id.to_string()))?;
            let mut s = UnitStatus::new("ansible-runner", u.state, "fake unit");
            s.stdout_size = u.written as u64;
            Ok(s)
        })
    }

    fn results<'a>(
        &'a self,
        unit_id: &'a str,
        offset: u64,
    ) -> BoxFuture<'a, Result<ResultsStream, WorkError>> {
        Box::pin(async move {
            if !self.state.lock().unwrap().units.contains_key(unit_id) {
                return Err(WorkError::UnknownUnit(unit_id.to_string()));
            }
            let (mut tx, rx) = tokio::io::duplex(64 * 1024);
            let node = self.clone();
            let unit = unit_id.to_string();
            let mut sent = offset as usize;
            let mut changed = self.changed.subscribe();
            tokio::spawn(async move {
                loop {
                    let (chunk, done) = {
                        let st = node.state.lock().unwrap();
                        let Some(u) = st.units.get(&unit) else { return };
                        let end = u.written.min(u.script.stream.len());
                        let chunk = u.script.stream[sent.min(end)..end].to_vec();
                        (
                            chunk,
                            u.state != WorkState::Running && u.state != WorkState::Pending,
                        )
                    };
                    if !chunk.is_empty() {
                        if tx.write_all(&chunk).await.is_err() {
                            return;
                        }
                        sent += chunk.len();
                        continue;
                    }
                    if done {
                        let _ = tx.shutdown().await;
                        return;
                    }
                    if changed.changed().await.is_err() {
                        return;
                    }
                }
            });
            Ok(Box::pin(rx) as ResultsStream)
        })
    }

    fn cancel<'a>(&'a self, unit_id: &'a str) -> BoxFuture<'a, Result<(), WorkError>> {
        Box::pin(async move {
            {
                let mut st = self.state.lock().unwrap();
                let u = st
                    .units
                    .get_mut(unit_id)
                    .ok_or_else(|| WorkError::UnknownUnit(unit_id.to_string()))?;
                u.canceled = true;
                // Killed: the stream stops where it was, with no final status.
                if u.state == WorkState::Running || u.state == WorkState::Pending {
                    u.state = WorkState::Canceled;
                }
            }
            self.bump();
            Ok(())
        })
    }

    fn release<'a>(&'a self, unit_id: &'a str) -> BoxFuture<'a, Result<(), WorkError>> {
        Box::pin(async move {
            {
                let mut st = self.state.lock().unwrap();
                let u = st
                    .units
                    .get_mut(unit_id)
                    .ok_or_else(|| WorkError::UnknownUnit(unit_id.to_string()))?;
                if u.state == WorkState::Running {
                    u.canceled = true;
                    u.state = WorkState::Canceled;
                }
                // Kept (marked) so a test can count every unit a job ever had.
                u.released = true;
            }
            self.bump();
            Ok(())
        })
    }
}
