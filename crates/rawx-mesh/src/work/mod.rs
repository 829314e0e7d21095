//! Durable work units: one dir per unit under `<datadir>/<nodeid>/`, holding `stdin` (the
//! payload, which may carry the job's secrets), `stdout` (the command's stdout and stderr) and
//! `status`. The files are the truth; memory only caches them, so a node that restarts adopts
//! what it finds and carries on.

mod process;

/// A boxed future, as the [`crate::WorkNode`] trait and the remote unit return them.
pub type BoxFuture<'a, T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send + 'a>>;

pub mod remote;
mod results;
mod runner;
mod status;

use std::collections::{BTreeMap, HashMap};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, SystemTime};

use serde_json::{json, Value};
use tokio::io::{AsyncRead, AsyncWriteExt};
use tokio::sync::watch;

pub use remote::{ControlConn, Outcome, RemoteExtra, RemoteLink, RemoteRequest, REMOTE_WORK_TYPE};
pub use results::ResultsReader;
pub use runner::run_if_requested as unit_runner_main;
pub use status::{state_name, UnitStatus, WorkState};

use crate::config::WorkCommand;

#[derive(Debug, thiserror::Error)]
pub enum WorkError {
    /// The text Go receptor uses, which AWX and receptorctl match on.
    #[error("unknown work unit {0}")]
    UnknownUnit(String),
    #[error("unknown work type {0}")]
    UnknownWorkType(String),
    #[error("extra params provided but not allowed")]
    ParamsNotAllowed,
    #[error("{0}")]
    Refused(String),
    #[error("work unit {id}: {what}: {source}")]
    Io {
        id: String,
        what: &'static str,
        source: io::Error,
    },
}

/// What a work type runs.
#[derive(Debug, Clone)]
pub enum WorkKind {
    Command(WorkCommand),
    /// Parsed from `work-kubernetes` and advertised, but refused at submit.
    Kubernetes,
}

/// Tunables of the unit store that Receptor's config has no words for.
#[derive(Debug, Clone)]
pub struct WorkOptions {
    /// Finished (or never started) units nobody released are deleted after this long.
    pub reap_after: Option<Duration>,
    /// How long cancel waits after SIGINT before it SIGKILLs the unit's processes.
    pub cancel_grace: Duration,
    /// The program that supervises each unit (`runner.rs`): a binary whose `main` first calls
    /// [`unit_runner_main`]. With one, cancel leaves no process of the unit anywhere; without
    /// (`None`: library tests), a `sh` wrapper runs the unit and cancel reaches only its
    /// process group.
    pub unit_runner: Option<PathBuf>,
}

impl WorkOptions {
    /// Units supervised by this very binary, which must call [`unit_runner_main`] first thing.
    pub fn with_own_runner(mut self) -> Self {
        self.unit_runner = std::env::current_exe().ok();
        self
    }
}

impl Default for WorkOptions {
    fn default() -> Self {
        WorkOptions {
            reap_after: Some(Duration::from_secs(7 * 24 * 3600)),
            cancel_grace: Duration::from_secs(10),
            unit_runner: None,
        }
    }
}

pub(crate) struct Unit {
    id: String,
    dir: PathBuf,
    status: Mutex<UnitStatus>,
    /// PID (= process group) and start time of the runner while it runs.
    runner: Mutex<Option<(u32, Option<u64>)>>,
    cancel_requested: AtomicBool,
    released: AtomicBool,
    /// Set for a remote unit (`remote.rs`): its command runs on another node.
    remote: Option<remote::RemoteState>,
    /// Bumped when this node appends to the unit's `stdout` itself (a remote unit's copy), so
    /// its results readers go on at once rather than at their next poll.
    grown: watch::Sender<u64>,
}

impl Unit {
    fn new(
        id: String,
        dir: PathBuf,
        status: UnitStatus,
        runner: Option<(u32, Option<u64>)>,
    ) -> Unit {
        let remote = (status.work_type == REMOTE_WORK_TYPE).then(remote::RemoteState::default);
        Unit {
            id,
            dir,
            status: Mutex::new(status),
            runner: Mutex::new(runner),
            cancel_requested: AtomicBool::new(false),
            released: AtomicBool::new(false),
            remote,
            grown: watch::channel(0).0,
        }
    }

    /// The status as `work status` shows it: a running command's output size read from its
    /// file; a remote unit's mirrored from the far node, its secret params left out.
    pub fn snapshot(&self) -> UnitStatus {
        let mut st = self.status.lock().expect("unit lock").clone();
        if self.remote.is_some() {
            st.extra_data = RemoteExtra::from_status(&st).redacted();
        } else if !st.is_final() {
            st.stdout_size = file_size(&self.dir.join("stdout"));
        }
        st
    }

    fn is_final(&self) -> bool {
        self.released.load(Ordering::SeqCst) || self.status.lock().expect("unit lock").is_final()
    }

    /// Whether a results reader at `offset` has everything: the unit is complete and, for a
    /// remote unit whose output is still being copied here, the bytes have all arrived (Go's
    /// `IsComplete(state) && filePos >= StdoutSize`).
    fn results_complete(&self, offset: u64) -> bool {
        if self.released.load(Ordering::SeqCst) {
            return true;
        }
        let st = self.status.lock().expect("unit lock");
        st.is_final() && (self.remote.is_none() || offset >= st.stdout_size)
    }
}

pub(crate) struct WorkManager {
    /// `<datadir>/<nodeid>`.
    root: PathBuf,
    types: BTreeMap<String, WorkKind>,
    options: WorkOptions,
    units: Mutex<HashMap<String, Arc<Unit>>>,
    /// Bumped on every state change so results readers waiting at EOF wake up at once.
    changes: watch::Sender<u64>,
    myself: Weak<WorkManager>,
    /// How remote units reach other nodes; `None` for a node without a mesh.
    link: Option<Arc<dyn RemoteLink>>,
}

/// A submitted unit waiting for its payload: the control service replies with the ID before
/// it reads the payload, so submit is split into create → payload → start.
pub struct PendingUnit {
    unit: Arc<Unit>,
    /// `None` for a remote unit.
    command: Option<WorkCommand>,
    args: Vec<String>,
    params_text: String,
    handed_to_start: bool,
}

impl PendingUnit {
    pub fn id(&self) -> &str {
        &self.unit.id
    }
}

/// A submit abandoned between create and start (a caller's error, a dropped future) must not
/// leave a unit Pending forever.
impl Drop for PendingUnit {
    fn drop(&mut self) {
        if self.handed_to_start {
            return;
        }
        let mut st = self.unit.status.lock().expect("unit lock");
        if st.work_state() == Some(WorkState::Pending) {
            st.state = WorkState::Failed.code();
            st.detail = "Error: the submit was abandoned before the unit started".into();
            let _ = write_status(&self.unit.dir, &st);
        }
    }
}

impl WorkManager {
    /// Opens (creating) the unit store and adopts every unit found in it.
    pub fn open(
        root: PathBuf,
        types: BTreeMap<String, WorkKind>,
        options: WorkOptions,
        link: Option<Arc<dyn RemoteLink>>,
    ) -> Result<Arc<WorkManager>, WorkError> {
        create_private_dir(&root).map_err(|source| WorkError::Io {
            id: String::new(),
            what: "create the data dir",
            source,
        })?;
        let manager = Arc::new_cyclic(|myself| WorkManager {
            root,
            types,
            options,
            units: Mutex::new(HashMap::new()),
            changes: watch::channel(0).0,
            myself: myself.clone(),
            link,
        });
        manager.adopt_existing();
        Ok(manager)
    }

    pub fn work_types(&self) -> &BTreeMap<String, WorkKind> {
        &self.types
    }

    fn adopt_existing(&self) {
        let Ok(entries) = std::fs::read_dir(&self.root) else {
            return;
        };
        for entry in entries.flatten() {
            let dir = entry.path();
            let id = entry.file_name().to_string_lossy().into_owned();
            let Ok(bytes) = std::fs::read(dir.join("status")) else {
                tracing::warn!(unit = %id, "skipping a unit dir without a readable status file");
                continue;
            };
            let mut status = match UnitStatus::from_file(&bytes) {
                Ok(st) => st,
                Err(e) => {
                    tracing::warn!(unit = %id, error = %e, "skipping a unit dir with a bad status file");
                    continue;
                }
            };
            let _ = tighten_dir(&dir);
            let mut runner = None;
            let is_remote = status.work_type == REMOTE_WORK_TYPE;
            match status.work_state() {
                _ if is_remote => {}
                Some(WorkState::Pending) => {
                    status.state = WorkState::Failed.code();
                    status.detail = "Pending at restart".into();
                    let _ = write_status(&dir, &status);
                }
                Some(WorkState::Running) => {
                    let pid = status.extra_data.get("Pid").and_then(Value::as_u64);
                    let start = std::fs::read_to_string(dir.join("runner"))
                        .ok()
                        .and_then(|s| s.trim().parse().ok());
                    runner = pid.map(|p| (p as u32, start));
                }
                _ => {}
            }
            let unit = Arc::new(Unit::new(id.clone(), dir, status, runner));
            tracing::info!(unit = %id, "adopted work unit");
            self.units
                .lock()
                .expect("units lock")
                .insert(id, unit.clone());
            if is_remote {
                self.restart_remote(&unit);
            }
        }
    }

    fn bump(&self) {
        self.changes.send_modify(|n| *n = n.wrapping_add(1));
    }

    pub(crate) fn get(&self, id: &str) -> Result<Arc<Unit>, WorkError> {
        self.units
            .lock()
            .expect("units lock")
            .get(id)
            .cloned()
            .ok_or_else(|| WorkError::UnknownUnit(id.to_string()))
    }

    /// Validates a submit and creates the unit dir, in state Pending.
    pub fn create(
        &self,
        work_type: &str,
        params: &BTreeMap<String, String>,
    ) -> Result<PendingUnit, WorkError> {
        let command = match self.types.get(work_type) {
            None => return Err(WorkError::UnknownWorkType(work_type.to_string())),
            Some(WorkKind::Kubernetes) => {
                return Err(WorkError::Refused(format!(
                    "work type {work_type} is a work-kubernetes type, which rawx does not run yet"
                )))
            }
            Some(WorkKind::Command(c)) => c.clone(),
        };
        let runtime = params.get("params").map(String::as_str).unwrap_or("");
        if !runtime.is_empty() && !command.allow_runtime_params {
            return Err(WorkError::ParamsNotAllowed);
        }
        let params_text = [command.params.as_deref().unwrap_or(""), runtime]
            .iter()
            .filter(|s| !s.is_empty())
            .copied()
            .collect::<Vec<_>>()
            .join(" ");
        let args = shlex::split(&params_text).ok_or_else(|| {
            WorkError::Refused(format!("cannot split params shell-style: {params_text}"))
        })?;
        let status = UnitStatus::new(work_type, WorkState::Pending, "Waiting for Input Data");
        self.create_with(status, Some(command), args, params_text)
    }

    /// Creates the unit dir with its first status and an empty `stdin`.
    fn create_with(
        &self,
        status: UnitStatus,
        command: Option<WorkCommand>,
        args: Vec<String>,
        params_text: String,
    ) -> Result<PendingUnit, WorkError> {
        let (id, dir) = self.new_unit_dir()?;
        let io_err = |what, source| WorkError::Io {
            id: id.clone(),
            what,
            source,
        };
        write_status(&dir, &status).map_err(|e| io_err("write status", e))?;
        process::open_private(&dir.join("stdin")).map_err(|e| io_err("create stdin", e))?;
        let unit = Arc::new(Unit::new(id.clone(), dir, status, None));
        self.units
            .lock()
            .expect("units lock")
            .insert(id, unit.clone());
        self.bump();
        Ok(PendingUnit {
            unit,
            command,
            args,
            params_text,
            handed_to_start: false,
        })
    }

    fn new_unit_dir(&self) -> Result<(String, PathBuf), WorkError> {
        use rand::Rng;
        const ALPHABET: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
        let mut rng = rand::thread_rng();
        loop {
            let id: String = (0..8)
                .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char)
                .collect();
            let dir = self.root.join(&id);
            match create_private_dir_exclusive(&dir) {
                Ok(()) => return Ok((id, dir)),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(source) => {
                    return Err(WorkError::Io {
                        id,
                        what: "create the unit dir",
                        source,
                    })
                }
            }
        }
    }

    /// Saves the payload to the unit's `stdin`. A read error (the client went away mid-way)
    /// fails the unit instead of running it on a truncated payload.
    pub async fn write_payload<R: AsyncRead + Unpin + ?Sized>(
        &self,
        pending: &PendingUnit,
        payload: &mut R,
    ) -> Result<u64, WorkError> {
        let result = async {
            let file = tokio::fs::OpenOptions::new()
                .write(true)
                .truncate(true)
                .open(pending.unit.dir.join("stdin"))
                .await?;
            let mut out = tokio::io::BufWriter::with_capacity(1 << 20, file);
            let n = tokio::io::copy(payload, &mut out).await?;
            // No fsync: the unit only has to survive the node process dying, not the machine
            // (its command would not survive that either), and an fsync per submit is what
            // capped small units per second.
            out.flush().await?;
            Ok::<u64, io::Error>(n)
        }
        .await;
        result.map_err(|e| {
            let message = format!("Error: payload not received completely: {e}");
            self.fail(&pending.unit, &message);
            WorkError::Io {
                id: pending.id().to_string(),
                what: "receive the payload",
                source: e,
            }
        })
    }

    /// Fails a unit that never started (its payload was cut short, say).
    pub fn fail_pending(&self, pending: &PendingUnit, detail: &str) {
        self.fail(&pending.unit, detail);
    }

    fn fail(&self, unit: &Unit, detail: &str) {
        let mut st = unit.status.lock().expect("unit lock");
        if st.is_final() {
            return;
        }
        st.state = WorkState::Failed.code();
        st.detail = detail.to_string();
        st.extra_data = Value::Null;
        st.stdout_size = file_size(&unit.dir.join("stdout"));
        let _ = write_status(&unit.dir, &st);
        drop(st);
        self.bump();
    }

    /// Starts the unit's command, detached from this process. Returns the unit ID and
    /// whether it started (`false`: a remote unit whose node is not reachable yet, which
    /// goes on trying; Receptor's "Job Submitted").
    pub async fn start(&self, mut pending: PendingUnit) -> Result<(String, bool), WorkError> {
        pending.handed_to_start = true;
        let unit = pending.unit.clone();
        if unit.cancel_requested.load(Ordering::SeqCst) || unit.is_final() {
            return Err(WorkError::Refused(format!(
                "work unit {} was canceled before it started",
                unit.id
            )));
        }
        let Some(command) = pending.command.take() else {
            let started = self.start_remote(unit.clone()).await?;
            return Ok((unit.id.clone(), started));
        };
        let spawned = match process::spawn(
            &unit.dir,
            self.options.unit_runner.as_deref(),
            self.options.cancel_grace,
            &command.command,
            &pending.args,
        ) {
            Ok(s) => s,
            Err(e) => {
                self.fail(&unit, &format!("Error: {e}"));
                return Err(WorkError::Io {
                    id: unit.id.clone(),
                    what: "start the command",
                    source: e,
                });
            }
        };
        let start = process::start_time(spawned.pid);
        if let Some(s) = start {
            let _ = std::fs::write(unit.dir.join("runner"), format!("{s}\n"));
        }
        *unit.runner.lock().expect("unit lock") = Some((spawned.pid, start));
        let canceled_meanwhile = {
            let mut st = unit.status.lock().expect("unit lock");
            if st.is_final() {
                true
            } else {
                st.state = WorkState::Running.code();
                st.detail = format!("Running: PID {}", spawned.pid);
                st.extra_data = json!({"Pid": spawned.pid, "Params": pending.params_text});
                let _ = write_status(&unit.dir, &st);
                false
            }
        };
        if canceled_meanwhile {
            process::stop_group(spawned.pid, self.options.cancel_grace).await;
            return Err(WorkError::Refused(format!(
                "work unit {} was canceled while it started",
                unit.id
            )));
        }
        self.bump();
        // Only a shortcut: the monitor loop would notice the exit within its poll interval.
        let manager = self.myself.clone();
        let id = unit.id.clone();
        let mut child = spawned.child;
        tokio::spawn(async move {
            let _ = child.wait().await;
            if let Some(m) = manager.upgrade() {
                m.check_exited(&id);
            }
        });
        Ok((unit.id.clone(), true))
    }

    /// Records how a running unit ended, if its runner has exited.
    pub(crate) fn check_exited(&self, id: &str) {
        let Ok(unit) = self.get(id) else { return };
        if unit.remote.is_some() {
            return;
        }
        let runner = *unit.runner.lock().expect("unit lock");
        let code = process::exit_code(&unit.dir);
        let alive = runner.is_some_and(|(pid, start)| process::runner_alive(pid, start));
        if code.is_none() && alive {
            return;
        }
        let mut st = unit.status.lock().expect("unit lock");
        if st.work_state() != Some(WorkState::Running) {
            return;
        }
        let (state, detail) = if unit.cancel_requested.load(Ordering::SeqCst) {
            (WorkState::Canceled, "Canceled".to_string())
        } else {
            match code.or_else(|| process::exit_code(&unit.dir)) {
                Some(0) => (WorkState::Succeeded, "exit status 0".to_string()),
                Some(c) => (WorkState::Failed, format!("exit status {c}")),
                None => (
                    WorkState::Failed,
                    "Error: the unit's process ended without recording an exit status".to_string(),
                ),
            }
        };
        st.state = state.code();
        st.detail = detail;
        st.extra_data = Value::Null;
        st.stdout_size = file_size(&unit.dir.join("stdout"));
        let _ = write_status(&unit.dir, &st);
        drop(st);
        self.bump();
    }

    pub fn status(&self, id: &str) -> Result<UnitStatus, WorkError> {
        Ok(self.get(id)?.snapshot())
    }

    pub fn list(&self) -> BTreeMap<String, UnitStatus> {
        let units: Vec<Arc<Unit>> = self
            .units
            .lock()
            .expect("units lock")
            .values()
            .cloned()
            .collect();
        units.iter().map(|u| (u.id.clone(), u.snapshot())).collect()
    }

    pub fn results(&self, id: &str, offset: u64) -> Result<ResultsReader, WorkError> {
        let unit = self.get(id)?;
        Ok(ResultsReader::new(unit, offset, self.changes.subscribe()))
    }

    /// Stops the unit's command and everything it started, then records `Canceled`.
    /// A unit that has already finished keeps its final state. A remote unit is canceled at
    /// its node (`Pending` while that node cannot be reached).
    pub async fn cancel(&self, id: &str) -> Result<Outcome, WorkError> {
        let unit = self.get(id)?;
        unit.cancel_requested.store(true, Ordering::SeqCst);
        if unit.remote.is_some() {
            return self.stop_remote(unit, false, false).await;
        }
        let mut stopped = None;
        let runner = *unit.runner.lock().expect("unit lock");
        if let Some((pgid, _)) = runner {
            if !unit.snapshot().is_final() {
                process::stop_group(pgid, self.options.cancel_grace).await;
                stopped = Some(pgid);
            }
        }
        {
            let mut st = unit.status.lock().expect("unit lock");
            if !st.is_final() {
                st.state = WorkState::Canceled.code();
                st.detail = "Canceled".into();
                st.extra_data = Value::Null;
                st.stdout_size = file_size(&unit.dir.join("stdout"));
                write_status(&unit.dir, &st).map_err(|source| WorkError::Io {
                    id: id.to_string(),
                    what: "write status",
                    source,
                })?;
            }
        }
        // A start racing with this cancel set its runner before it could see `Canceled`.
        let runner = *unit.runner.lock().expect("unit lock");
        let raced =
            runner.filter(|(p, start)| Some(*p) != stopped && process::runner_alive(*p, *start));
        if let Some((pgid, _)) = raced {
            process::stop_group(pgid, self.options.cancel_grace).await;
        }
        self.bump();
        Ok(Outcome::Done)
    }

    /// Cancels the unit and deletes its dir; `force` ignores errors on the way. A remote
    /// unit is released at its node first (`Pending` while that node cannot be reached).
    pub async fn release(&self, id: &str, force: bool) -> Result<Outcome, WorkError> {
        let unit = self.get(id)?;
        if unit.remote.is_some() {
            return self.stop_remote(unit, true, force).await;
        }
        if let Err(e) = self.cancel(id).await {
            if !force {
                return Err(e);
            }
        }
        self.forget(&unit, force)?;
        Ok(Outcome::Done)
    }

    /// Deletes the unit's dir and forgets it.
    fn forget(&self, unit: &Unit, force: bool) -> Result<(), WorkError> {
        let id = &unit.id;
        match std::fs::remove_dir_all(&unit.dir) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(source) if !force => {
                return Err(WorkError::Io {
                    id: id.to_string(),
                    what: "delete the unit dir",
                    source,
                })
            }
            Err(_) => {}
        }
        unit.released.store(true, Ordering::SeqCst);
        self.units.lock().expect("units lock").remove(id);
        self.bump();
        Ok(())
    }

    /// One pass of the monitor: notices units whose runner ended while nobody waited on it
    /// (adopted after a restart), and reaps old units nobody released.
    pub async fn tick(&self, reap: bool) {
        let units: Vec<Arc<Unit>> = self
            .units
            .lock()
            .expect("units lock")
            .values()
            .cloned()
            .collect();
        let now = SystemTime::now();
        for unit in units {
            let st = unit.snapshot();
            if st.work_state() == Some(WorkState::Running)
                || (unit.remote.is_some() && !st.is_final())
            {
                self.check_exited(&unit.id);
                continue;
            }
            let Some(limit) = self.options.reap_after.filter(|_| reap) else {
                continue;
            };
            let age = std::fs::metadata(unit.dir.join("status"))
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| now.duration_since(t).ok());
            if age.is_some_and(|a| a > limit) {
                tracing::info!(unit = %unit.id, state = %state_name(st.state), "reaping a work unit nobody released");
                let _ = self.release(&unit.id, true).await;
            }
        }
    }
}

fn file_size(path: &Path) -> u64 {
    std::fs::metadata(path).map(|m| m.len()).unwrap_or(0)
}

/// Replaces `status` atomically, so a node that dies mid-write never leaves half a file.
/// Not fsynced, like Receptor's: see `write_payload`.
fn write_status(dir: &Path, st: &UnitStatus) -> io::Result<()> {
    let tmp = dir.join("status.tmp");
    let mut f = process::open_private(&tmp)?;
    io::Write::write_all(&mut f, st.to_file_line().as_bytes())?;
    std::fs::rename(tmp, dir.join("status"))
}

/// Unit dirs hold secrets: only the node's user may enter them.
fn create_private_dir(path: &Path) -> io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(path)?;
    tighten_dir(path)
}

fn create_private_dir_exclusive(path: &Path) -> io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new().mode(0o700).create(path)?;
    tighten_dir(path)
}

fn tighten_dir(path: &Path) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o700))
}

#[cfg(test)]
mod tests;
