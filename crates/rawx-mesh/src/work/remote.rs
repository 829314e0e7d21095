//! Remote work units, as Receptor's `pkg/workceptor/remote_work.go` runs them: `work submit
//! --node C` at node A creates a unit of type `remote` at A whose command runs at C. The unit
//! at A dials C's control service over the mesh, submits there (`work submit`, signed when
//! asked), streams its stdin, then mirrors C's `work status` every second and appends C's
//! `work results` to its own `stdout` from the byte it already has. Cancel and release go to
//! C. Everything the unit needs to carry on is in its `status` file (`ExtraData`, Go's
//! `RemoteExtraData`), so a restarted A adopts it and resumes from the stdout it holds, and a
//! broken path (a hop restarted) only costs a reconnect.
//!
//! Departures from Go, on purpose: a release whose far unit is already gone (`unknown work
//! unit` at C) releases here too instead of failing forever; a release C confirmed deletes
//! the local unit at once (Go confirms with one more `work status` first); a unit complete
//! with all of its output is not re-monitored after a restart.

use std::collections::BTreeMap;
use std::io;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};

use super::{file_size, write_status, PendingUnit, Unit, UnitStatus, WorkError, WorkManager};
use super::{process, WorkState};
use crate::work::BoxFuture;

/// The work type of the local half of a remote unit.
pub const REMOTE_WORK_TYPE: &str = "remote";

/// Receptor's `SuccessWorkSleep` and `MaxWorkSleep`: reconnects back off from 1 s to 1 min.
const RETRY_MIN: Duration = Duration::from_secs(1);
const RETRY_MAX: Duration = Duration::from_secs(60);
/// How long the far node may take to greet us (Go's 5 s).
const HELLO_TIMEOUT: Duration = Duration::from_secs(5);
/// A status reply slower than this means the path is gone: reconnect rather than wait for
/// QUIC's idle timeout.
const REPLY_TIMEOUT: Duration = Duration::from_secs(20);

/// Go's `RemoteExtraData`, the `ExtraData` of a remote unit's status file, in its field order.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RemoteExtra {
    pub remote_node: String,
    pub remote_work_type: String,
    pub remote_params: BTreeMap<String, String>,
    #[serde(rename = "RemoteUnitID")]
    pub remote_unit_id: String,
    pub remote_started: bool,
    pub local_cancelled: bool,
    pub local_released: bool,
    pub sign_work: bool,
    #[serde(rename = "TLSClient")]
    pub tls_client: String,
    /// RFC 3339; Go's zero time when the unit has no `ttl`.
    pub expiration: String,
}

const GO_ZERO_TIME: &str = "0001-01-01T00:00:00Z";

impl RemoteExtra {
    pub fn from_status(st: &UnitStatus) -> RemoteExtra {
        serde_json::from_value(st.extra_data.clone()).unwrap_or_default()
    }

    /// What `work status` shows: `secret_` params left out, as Go's `Status()` does.
    pub fn redacted(&self) -> Value {
        let mut shown = self.clone();
        shown
            .remote_params
            .retain(|k, _| !k.to_ascii_lowercase().starts_with("secret_"));
        serde_json::to_value(shown).expect("remote extra data serializes")
    }

    fn expiration(&self) -> Option<SystemTime> {
        if self.expiration.is_empty() || self.expiration == GO_ZERO_TIME {
            return None;
        }
        time::OffsetDateTime::parse(
            &self.expiration,
            &time::format_description::well_known::Rfc3339,
        )
        .ok()
        .map(SystemTime::from)
    }
}

/// A connection to a node's control service, past nothing yet.
pub trait ControlConn: AsyncRead + AsyncWrite + Send + Unpin {
    /// The QUIC receive half, when the connection is a service stream: a results stream is
    /// then taken as the chunks quinn already holds rather than copied out of it.
    fn quic_recv(&mut self) -> Option<&mut quinn::RecvStream> {
        None
    }
}

/// How remote units reach other nodes: the node supplies it (service streams over the mesh,
/// the named `tls-client`, the `work-signing` key).
pub trait RemoteLink: Send + Sync {
    /// Opens a stream to `node`'s `control` service.
    fn dial<'a>(
        &'a self,
        node: &'a str,
        tls_client: Option<&'a str>,
    ) -> BoxFuture<'a, Result<Box<dyn ControlConn>, String>>;
    /// A work signature for `node` (Go's `createSignature`).
    fn sign(&self, node: &str) -> Result<String, String>;
    /// Whether the config has a `tls-client` of that name.
    fn has_tls_client(&self, name: &str) -> bool;
}

type Session = BufReader<Box<dyn ControlConn>>;

/// What a submit asks of a remote unit.
pub struct RemoteRequest<'a> {
    pub node: &'a str,
    pub work_type: &'a str,
    pub tls_client: Option<&'a str>,
    pub ttl: Option<&'a str>,
    pub sign_work: bool,
    pub params: &'a BTreeMap<String, String>,
}

/// How a cancel or release went: done, or waiting for the far node to be reachable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Done,
    Pending,
}

/// The remote half of a [`Unit`]: the task that starts or follows it at the far node.
#[derive(Default)]
pub(crate) struct RemoteState {
    task: Mutex<Option<tokio::task::AbortHandle>>,
}

enum Failure {
    /// The far node could not be reached: try again later.
    Connection(String),
    /// It answered, and said no.
    Action(String),
}

impl Failure {
    fn text(&self) -> &str {
        match self {
            Failure::Connection(s) | Failure::Action(s) => s,
        }
    }
}

impl WorkManager {
    fn link(&self) -> Result<Arc<dyn RemoteLink>, WorkError> {
        self.link.clone().ok_or_else(|| {
            WorkError::Refused("this node is not part of a mesh: it cannot run remote work".into())
        })
    }

    /// Go's `AllocateRemoteUnit`: checks the request and creates the local unit (Pending).
    pub fn create_remote(&self, req: &RemoteRequest<'_>) -> Result<PendingUnit, WorkError> {
        let link = self.link()?;
        let tls_client = req.tls_client.filter(|t| !t.is_empty());
        if let Some(name) = tls_client {
            if !link.has_tls_client(name) {
                return Err(WorkError::Refused(format!("unknown TLS config {name}")));
            }
        }
        let has_secrets = req
            .params
            .keys()
            .any(|k| k.to_ascii_lowercase().starts_with("secret_"));
        if has_secrets && tls_client.is_none() {
            return Err(WorkError::Refused(
                "cannot send secrets over a non-TLS connection".into(),
            ));
        }
        let expiration = match req.ttl.filter(|t| !t.is_empty()) {
            None => GO_ZERO_TIME.to_string(),
            Some(ttl) => {
                let d = crate::config::parse_go_duration(ttl).ok_or_else(|| {
                    WorkError::Refused(format!(
                        "time: invalid duration \"{ttl}\" -- valid examples include '1.5h', '30m', '30m10s'"
                    ))
                })?;
                time::OffsetDateTime::from(SystemTime::now() + d)
                    .format(&time::format_description::well_known::Rfc3339)
                    .unwrap_or_default()
            }
        };
        let extra = RemoteExtra {
            remote_node: req.node.to_string(),
            remote_work_type: req.work_type.to_string(),
            remote_params: req.params.clone(),
            sign_work: req.sign_work,
            tls_client: tls_client.unwrap_or_default().to_string(),
            expiration,
            ..Default::default()
        };
        let mut status = UnitStatus::new(
            REMOTE_WORK_TYPE,
            WorkState::Pending,
            "Waiting for Input Data",
        );
        status.extra_data = serde_json::to_value(&extra).expect("remote extra data serializes");
        self.create_with(status, None, Vec::new(), String::new())
    }

    /// Go's `Start` of a remote unit: one attempt to submit at the far node now; if it cannot
    /// be reached, the attempts go on in the background and the submit answers "Job
    /// Submitted". Returns whether the unit was started there.
    pub(super) async fn start_remote(&self, unit: Arc<Unit>) -> Result<bool, WorkError> {
        let link = self.link()?;
        self.set_state(&unit, WorkState::Pending, "Starting Worker", None);
        let driver = Driver::new(self, unit.clone(), link);
        match driver.connect().await {
            Ok(session) => match driver.submit(session).await {
                Ok(()) => {
                    driver.spawn(Plan::Monitor);
                    Ok(true)
                }
                Err(f) => {
                    let text = format!("Error starting worker: {}", f.text());
                    self.set_state(&unit, WorkState::Failed, &text, Some(0));
                    Err(WorkError::Refused(f.text().to_string()))
                }
            },
            Err(e) => {
                tracing::debug!(unit = %unit.id, error = %e, "remote node not reachable yet; the submit goes on in the background");
                driver.spawn(Plan::Start);
                Ok(false)
            }
        }
    }

    /// Go's `cancelOrRelease` of a remote unit.
    pub(super) async fn stop_remote(
        &self,
        unit: Arc<Unit>,
        release: bool,
        force: bool,
    ) -> Result<Outcome, WorkError> {
        let remote = unit.remote.as_ref().expect("a remote unit");
        let mut started = false;
        self.update_remote(&unit, |_, ed| {
            ed.local_cancelled = true;
            ed.local_released |= release;
            started = ed.remote_started;
        });
        let abort = || {
            if let Some(t) = remote.task.lock().expect("remote task").take() {
                t.abort();
            }
        };
        if !started {
            abort();
            if release {
                self.forget(&unit, true)?;
            } else {
                self.set_state(&unit, WorkState::Failed, "Locally Cancelled", Some(0));
            }
            return Ok(Outcome::Done);
        }
        let link = self.link()?;
        let driver = Driver::new(self, unit.clone(), link);
        if release && force {
            abort();
            if let Ok(s) = driver.connect().await {
                let _ = driver.cancel_or_release(s, true).await;
            }
            self.forget(&unit, true)?;
            return Ok(Outcome::Done);
        }
        match driver.connect().await {
            Ok(session) => match driver.cancel_or_release(session, release).await {
                Ok(()) => {
                    driver.after_stop(release)?;
                    Ok(Outcome::Done)
                }
                Err(f) => Err(WorkError::Refused(format!(
                    "error cancelling remote unit: {}",
                    f.text()
                ))),
            },
            Err(_) => {
                abort();
                driver.spawn(if release { Plan::Release } else { Plan::Cancel });
                Ok(Outcome::Pending)
            }
        }
    }

    /// Go's `Restart` of a remote unit found in the data dir at start.
    pub(super) fn restart_remote(&self, unit: &Arc<Unit>) {
        let st = unit.status.lock().expect("unit lock").clone();
        let ed = RemoteExtra::from_status(&st);
        let Ok(link) = self.link() else { return };
        if !ed.remote_started {
            if !st.is_final() {
                self.set_state(
                    unit,
                    WorkState::Failed,
                    "Failed to restart: remote work had not previously started",
                    Some(file_size(&unit.dir.join("stdout"))),
                );
            }
            return;
        }
        let driver = Driver::new(self, unit.clone(), link);
        if ed.local_released || ed.local_cancelled {
            driver.spawn(if ed.local_released {
                Plan::Release
            } else {
                Plan::Cancel
            });
        } else if !(st.is_final() && file_size(&unit.dir.join("stdout")) >= st.stdout_size) {
            driver.spawn(Plan::Monitor);
        }
    }

    fn update_remote(&self, unit: &Unit, f: impl FnOnce(&mut UnitStatus, &mut RemoteExtra)) {
        let mut st = unit.status.lock().expect("unit lock");
        let mut ed = RemoteExtra::from_status(&st);
        f(&mut st, &mut ed);
        st.extra_data = serde_json::to_value(&ed).expect("remote extra data serializes");
        let _ = write_status(&unit.dir, &st);
        drop(st);
        self.bump();
    }

    /// Sets the local state; `size` replaces `StdoutSize` (else the mirrored one stays).
    fn set_state(&self, unit: &Unit, state: WorkState, detail: &str, size: Option<u64>) {
        self.update_remote(unit, |st, _| {
            st.state = state.code();
            st.detail = detail.to_string();
            if let Some(s) = size {
                st.stdout_size = s;
            }
        });
    }
}

/// What a remote unit's background task does.
#[derive(Clone, Copy)]
enum Plan {
    /// Submit at the far node once it is reachable, then monitor.
    Start,
    /// Follow the far unit's status and output.
    Monitor,
    /// Cancel at the far node once reachable, then monitor.
    Cancel,
    /// Release at the far node once reachable, then release here.
    Release,
}

#[derive(Clone)]
struct Driver {
    manager: std::sync::Weak<WorkManager>,
    unit: Arc<Unit>,
    link: Arc<dyn RemoteLink>,
}

impl Driver {
    fn new(manager: &WorkManager, unit: Arc<Unit>, link: Arc<dyn RemoteLink>) -> Driver {
        Driver {
            manager: manager.myself.clone(),
            unit,
            link,
        }
    }

    fn extra(&self) -> RemoteExtra {
        RemoteExtra::from_status(&self.unit.status.lock().expect("unit lock"))
    }

    fn with_manager(&self, f: impl FnOnce(&WorkManager)) {
        if let Some(m) = self.manager.upgrade() {
            f(&m);
        }
    }

    /// Runs `plan` on a task of its own, replacing the unit's previous one.
    fn spawn(&self, plan: Plan) {
        let me = self.clone();
        let handle = tokio::spawn(async move { me.run(plan).await }).abort_handle();
        let remote = self.unit.remote.as_ref().expect("a remote unit");
        if let Some(old) = remote.task.lock().expect("remote task").replace(handle) {
            old.abort();
        }
    }

    async fn run(self, plan: Plan) {
        match plan {
            Plan::Start => {
                let Some(session) = self.until_connected().await else {
                    return;
                };
                if let Err(f) = self.submit(session).await {
                    let text = format!("Error starting worker: {}", f.text());
                    self.with_manager(|m| m.set_state(&self.unit, WorkState::Failed, &text, None));
                    return;
                }
                self.monitor().await;
            }
            Plan::Monitor => self.monitor().await,
            Plan::Cancel | Plan::Release => {
                let release = matches!(plan, Plan::Release);
                loop {
                    let Some(session) = self.until_connected().await else {
                        return;
                    };
                    match self.cancel_or_release(session, release).await {
                        Ok(()) => break,
                        Err(Failure::Connection(_)) => continue,
                        Err(Failure::Action(e)) => {
                            tracing::warn!(unit = %self.unit.id, error = %e, "the remote node refused the cancel or release");
                            return;
                        }
                    }
                }
                let mut result = Ok(());
                self.with_manager(|_| result = self.after_stop(release));
                if let Err(e) = result {
                    tracing::warn!(unit = %self.unit.id, error = %e, "releasing a remote unit");
                }
                if !release {
                    self.monitor().await;
                }
            }
        }
    }

    /// After the far node took a cancel (follow it to `Canceled`) or a release (delete here).
    fn after_stop(&self, release: bool) -> Result<(), WorkError> {
        let Some(m) = self.manager.upgrade() else {
            return Ok(());
        };
        if release {
            if let Some(t) = self.remote().task.lock().expect("remote task").take() {
                t.abort();
            }
            return m.forget(&self.unit, true);
        }
        let monitoring = self
            .remote()
            .task
            .lock()
            .expect("remote task")
            .as_ref()
            .is_some_and(|t| !t.is_finished());
        if !monitoring {
            self.spawn(Plan::Monitor);
        }
        Ok(())
    }

    fn remote(&self) -> &RemoteState {
        self.unit.remote.as_ref().expect("a remote unit")
    }

    /// Go's `connectToRemote`: a control stream to the far node, past its greeting.
    async fn connect(&self) -> Result<Session, String> {
        let ed = self.extra();
        let tls = Some(ed.tls_client.as_str()).filter(|t| !t.is_empty());
        let conn = self.link.dial(&ed.remote_node, tls).await?;
        let mut session = BufReader::with_capacity(256 * 1024, conn);
        let mut hello = String::new();
        match tokio::time::timeout(HELLO_TIMEOUT, session.read_line(&mut hello)).await {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => return Err(e.to_string()),
            Err(_) => return Err("timed out waiting for the control service's greeting".into()),
        }
        if !hello.contains(&ed.remote_node) {
            return Err(format!(
                "while expecting node ID {}, got message: {}",
                ed.remote_node,
                hello.trim_end()
            ));
        }
        Ok(session)
    }

    /// Go's `getConnection`: retries with backoff until connected; `None` when the unit
    /// failed meanwhile (a TLS error before the far unit started, or the `ttl` ran out).
    async fn until_connected(&self) -> Option<Session> {
        let mut delay = RETRY_MIN;
        loop {
            let ed = self.extra();
            if !ed.remote_started {
                if let Some(exp) = ed.expiration().filter(|e| *e <= SystemTime::now()) {
                    let shown = time::OffsetDateTime::from(exp)
                        .format(time::macros::format_description!(
                            "[weekday repr:short] [month repr:short] [day padding:none] [hour]:[minute]:[second]"
                        ))
                        .unwrap_or_default();
                    let text = format!("Work unit expired on {shown}");
                    self.with_manager(|m| m.set_state(&self.unit, WorkState::Failed, &text, None));
                    return None;
                }
            }
            match self.connect().await {
                Ok(s) => return Some(s),
                Err(e) => {
                    tracing::debug!(unit = %self.unit.id, node = %ed.remote_node, error = %e, "connection to the remote node failed");
                    if is_tls_error(&e) {
                        let text = format!("TLS error connecting to remote service: {e}");
                        let mut give_up = false;
                        self.with_manager(|m| {
                            m.update_remote(&self.unit, |st, ed| {
                                st.detail = text.clone();
                                if !ed.remote_started {
                                    st.state = WorkState::Failed.code();
                                    give_up = true;
                                }
                            })
                        });
                        if give_up {
                            return None;
                        }
                    }
                }
            }
            let wait = match ed.expiration().filter(|_| !ed.remote_started) {
                Some(exp) => exp
                    .duration_since(SystemTime::now())
                    .unwrap_or_default()
                    .min(delay),
                None => delay,
            };
            tokio::time::sleep(wait).await;
            delay = delay.mul_f64(1.5).min(RETRY_MAX);
        }
    }

    /// Go's `startRemoteUnit`: `work submit` at the far node with the unit's stdin.
    async fn submit(&self, mut s: Session) -> Result<(), Failure> {
        let ed = self.extra();
        let mut m = Map::new();
        for (k, v) in &ed.remote_params {
            m.insert(k.clone(), json!(v));
        }
        m.insert("command".into(), json!("work"));
        m.insert("subcommand".into(), json!("submit"));
        m.insert("node".into(), json!(ed.remote_node));
        m.insert("worktype".into(), json!(ed.remote_work_type));
        m.insert("tlsclient".into(), json!(ed.tls_client));
        if ed.sign_work {
            m.insert("signature".into(), json!(self.signature(&ed)?));
        }
        let conn = |e: io::Error| {
            Failure::Connection(format!("write error sending to {}: {e}", ed.remote_node))
        };
        send(&mut s, &Value::Object(m)).await.map_err(conn)?;
        let line = read_reply(&mut s).await.map_err(conn)?;
        let id = line
            .split_once("with ID ")
            .and_then(|(_, rest)| rest.split_once('.'))
            .map(|(id, _)| id)
            .filter(|id| !id.is_empty() && id.chars().all(|c| c.is_ascii_alphanumeric()))
            .ok_or_else(|| Failure::Action(format!("could not parse response: {line}")))?
            .to_string();
        self.with_manager(|m| m.update_remote(&self.unit, |_, ed| ed.remote_unit_id = id.clone()));
        let mut stdin = tokio::fs::File::open(self.unit.dir.join("stdin"))
            .await
            .map_err(|e| Failure::Action(format!("error opening stdin file: {e}")))?;
        let w = s.get_mut();
        tokio::io::copy(&mut stdin, w)
            .await
            .map_err(|e| Failure::Connection(format!("error sending stdin file: {e}")))?;
        // The end of the payload is the stream's FIN, as Go's `conn.Close()`.
        w.shutdown()
            .await
            .map_err(|e| Failure::Connection(format!("error closing stdin file: {e}")))?;
        let line = read_reply(&mut s).await.map_err(conn)?;
        if let Some(e) = line.strip_prefix("ERROR: ") {
            return Err(Failure::Action(format!("error from remote: {e}")));
        }
        self.with_manager(|m| {
            m.update_remote(&self.unit, |st, ed| {
                ed.remote_started = true;
                st.detail = format!("Submitted to {} as {id}", ed.remote_node);
            })
        });
        Ok(())
    }

    fn signature(&self, ed: &RemoteExtra) -> Result<String, Failure> {
        self.link.sign(&ed.remote_node).map_err(Failure::Action)
    }

    /// Go's `cancelOrReleaseRemoteUnit`. A release of a unit the far node no longer knows
    /// counts as done.
    async fn cancel_or_release(&self, mut s: Session, release: bool) -> Result<(), Failure> {
        let ed = self.extra();
        let mut m = Map::new();
        m.insert("command".into(), json!("work"));
        m.insert(
            "subcommand".into(),
            json!(if release { "release" } else { "cancel" }),
        );
        m.insert("unitid".into(), json!(ed.remote_unit_id));
        if ed.sign_work {
            m.insert("signature".into(), json!(self.signature(&ed)?));
        }
        let conn = |e: io::Error| Failure::Connection(format!("{}: {e}", ed.remote_node));
        send(&mut s, &Value::Object(m)).await.map_err(conn)?;
        let line = read_reply(&mut s).await.map_err(conn)?;
        match line.strip_prefix("ERROR: ") {
            Some(e) if release && e.contains("unknown work unit") => Ok(()),
            Some(e) => Err(Failure::Action(e.to_string())),
            None => Ok(()),
        }
    }

    /// Go's `monitorRemoteUnit`: the status and the output followed side by side; either
    /// one ending ends both.
    async fn monitor(&self) {
        tokio::select! {
            _ = self.follow_status() => {}
            _ = self.follow_stdout() => {}
        }
    }

    /// Go's `monitorRemoteStatus`: `work status` every second, mirrored into the local
    /// status (state, detail, output size).
    async fn follow_status(&self) {
        let ed = self.extra();
        let mut session: Option<Session> = None;
        loop {
            let s = match session.as_mut() {
                Some(s) => s,
                None => match self.until_connected().await {
                    Some(s) => session.insert(s),
                    None => return,
                },
            };
            let asked = async {
                s.get_mut()
                    .write_all(format!("work status {}\n", ed.remote_unit_id).as_bytes())
                    .await?;
                s.get_mut().flush().await?;
                match tokio::time::timeout(REPLY_TIMEOUT, read_reply(s)).await {
                    Ok(r) => r,
                    Err(_) => Err(io::Error::new(io::ErrorKind::TimedOut, "no status reply")),
                }
            };
            let line = match asked.await {
                Ok(l) => l,
                Err(e) => {
                    tracing::debug!(unit = %self.unit.id, error = %e, "lost the status connection to the remote node");
                    session = None;
                    tokio::time::sleep(RETRY_MIN).await;
                    continue;
                }
            };
            if let Some(e) = line.strip_prefix("ERROR: ") {
                if e.contains("unknown work unit") {
                    tracing::info!(unit = %self.unit.id, node = %ed.remote_node, "the remote work unit is gone");
                    let size = file_size(&self.unit.dir.join("stdout"));
                    self.with_manager(|m| {
                        m.set_state(
                            &self.unit,
                            WorkState::Failed,
                            "Remote work unit is gone",
                            Some(size),
                        )
                    });
                } else {
                    tracing::error!(unit = %self.unit.id, error = %e, "remote error");
                }
                return;
            }
            let Ok(remote) = serde_json::from_str::<UnitStatus>(&line) else {
                tracing::error!(unit = %self.unit.id, reply = %line, "unexpected status reply from the remote node");
                return;
            };
            let Some(state) = remote.work_state() else {
                return;
            };
            self.with_manager(|m| {
                m.set_state(&self.unit, state, &remote.detail, Some(remote.stdout_size))
            });
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }

    /// Go's `monitorRemoteStdout`: `work results` from the size we hold, appended to our
    /// `stdout`, again whenever a stream ends early. Ends once the unit is complete and we
    /// hold all of it.
    async fn follow_stdout(&self) {
        let path = self.unit.dir.join("stdout");
        if let Err(e) = process::open_append(&path) {
            tracing::error!(unit = %self.unit.id, error = %e, "cannot open the stdout file");
            return;
        }
        let mut first = true;
        loop {
            if !first {
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            first = false;
            let st = self.unit.status.lock().expect("unit lock").clone();
            let have = file_size(&path);
            if st.is_final() && have >= st.stdout_size {
                return;
            }
            // Go asks only once the mirrored size is ahead of ours, a status round (1 s)
            // late; the results stream is live, so it is opened at once and simply waits.
            let Some(mut s) = self.until_connected().await else {
                return;
            };
            let ed = RemoteExtra::from_status(&st);
            let mut m = Map::new();
            m.insert("command".into(), json!("work"));
            m.insert("subcommand".into(), json!("results"));
            m.insert("unitid".into(), json!(ed.remote_unit_id));
            m.insert("startpos".into(), json!(have));
            if ed.sign_work {
                match self.signature(&ed) {
                    Ok(sig) => m.insert("signature".into(), json!(sig)),
                    Err(f) => {
                        tracing::error!(unit = %self.unit.id, error = %f.text(), "could not create signature to get results");
                        return;
                    }
                };
            }
            if let Err(e) = send(&mut s, &Value::Object(m)).await {
                tracing::warn!(unit = %self.unit.id, error = %e, "write error asking for results");
                continue;
            }
            match read_reply(&mut s).await {
                Ok(l) if l.contains("Streaming results") => {}
                Ok(l) => {
                    tracing::warn!(unit = %self.unit.id, reply = %l, "the remote node did not stream results");
                    continue;
                }
                Err(e) => {
                    tracing::warn!(unit = %self.unit.id, error = %e, "read error asking for results");
                    continue;
                }
            }
            let appended = match take_held(&mut s, &path, &self.unit.grown) {
                Err(e) => Err(e),
                Ok(held) => match s.get_mut().quic_recv() {
                    Some(recv) => append_chunks(recv, &path, &self.unit.grown)
                        .await
                        .map(|n| n + held),
                    None => append_stream(&mut s, &path, &self.unit.grown)
                        .await
                        .map(|n| n + held),
                },
            };
            match appended {
                // The far node ends a results stream once its unit is complete: its final
                // state is read now rather than at the next status round (up to 1 s later),
                // so a local `work results` ends as soon as the last byte is here.
                Ok(_) => self.status_now().await,
                Err(e) => {
                    tracing::warn!(unit = %self.unit.id, error = %e, "results stream from the remote node broke; resuming")
                }
            }
        }
    }

    /// One `work status` at the far node, mirrored here (as a status round does).
    async fn status_now(&self) {
        let ed = self.extra();
        let Ok(mut s) = self.connect().await else {
            return;
        };
        let asked = async {
            s.get_mut()
                .write_all(format!("work status {}\n", ed.remote_unit_id).as_bytes())
                .await?;
            s.get_mut().flush().await?;
            read_reply(&mut s).await
        };
        let Ok(Ok(line)) = tokio::time::timeout(REPLY_TIMEOUT, asked).await else {
            return;
        };
        let Ok(remote) = serde_json::from_str::<UnitStatus>(&line) else {
            return;
        };
        if let Some(state) = remote.work_state() {
            self.with_manager(|m| {
                m.set_state(&self.unit, state, &remote.detail, Some(remote.stdout_size))
            });
        }
    }
}

fn is_tls_error(e: &str) -> bool {
    let e = e.to_ascii_lowercase();
    e.contains("crypto") || e.contains("certificate") || e.contains("insecure connection")
}

async fn send(s: &mut Session, command: &Value) -> io::Result<()> {
    let mut line = command.to_string();
    line.push('\n');
    s.get_mut().write_all(line.as_bytes()).await?;
    s.get_mut().flush().await
}

async fn read_reply(s: &mut Session) -> io::Result<String> {
    let mut line = String::new();
    if s.read_line(&mut line).await? == 0 {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "the remote node closed the connection",
        ));
    }
    Ok(line.trim_end_matches(['\r', '\n']).to_string())
}

/// Appends what the line reader already holds past the reply line (the first bytes of the
/// results) to `path`, so the rest can be read from the stream itself.
fn take_held(
    s: &mut Session,
    path: &Path,
    grown: &tokio::sync::watch::Sender<u64>,
) -> io::Result<u64> {
    use std::io::Write;
    let held = s.buffer().len();
    if held == 0 {
        return Ok(0);
    }
    process::open_append(path)?.write_all(s.buffer())?;
    s.consume(held);
    grown.send_modify(|n| *n = n.wrapping_add(1));
    Ok(held as u64)
}

/// Appends a QUIC results stream to `path` as quinn hands over its chunks: what has arrived
/// (up to 64 chunks) goes in one `writev`, with no copy out of quinn's buffers first (one copy
/// of every byte less than reading the stream into a buffer of our own).
async fn append_chunks(
    recv: &mut quinn::RecvStream,
    path: &Path,
    grown: &tokio::sync::watch::Sender<u64>,
) -> io::Result<u64> {
    use std::io::{IoSlice, Write};
    let mut file = process::open_append(path)?;
    let mut chunks = vec![bytes::Bytes::new(); 64];
    let mut total = 0;
    loop {
        let Some(n) = recv
            .read_chunks(&mut chunks)
            .await
            .map_err(io::Error::from)?
        else {
            return Ok(total);
        };
        let mut slices: Vec<IoSlice<'_>> = chunks[..n].iter().map(|c| IoSlice::new(c)).collect();
        let mut rest = &mut slices[..];
        while !rest.is_empty() {
            let written = file.write_vectored(rest)?;
            if written == 0 {
                return Err(io::ErrorKind::WriteZero.into());
            }
            total += written as u64;
            IoSlice::advance_slices(&mut rest, written);
        }
        grown.send_modify(|n| *n = n.wrapping_add(1));
    }
}

/// Appends a results stream to the unit's `stdout` at `path`. What the stream has ready is
/// gathered (up to 1 MiB) and written with one plain `write`: a page-cache write takes
/// microseconds, whereas tokio's file sends each write through its blocking pool, which at
/// about one QUIC packet per write was most of the cost of a remote unit's output. The
/// unit's readers are told after each write, so `work results` here follows without polling.
async fn append_stream<R: AsyncRead + Unpin>(
    s: &mut R,
    path: &Path,
    grown: &tokio::sync::watch::Sender<u64>,
) -> io::Result<u64> {
    use futures_util::FutureExt;
    use std::io::Write;
    let mut file = process::open_append(path)?;
    let mut buf = vec![0u8; 1 << 20];
    let mut total = 0;
    loop {
        let mut filled = s.read(&mut buf).await?;
        if filled == 0 {
            return Ok(total);
        }
        let mut end = Ok(false);
        while filled < buf.len() {
            // A read that would wait is dropped unfinished, which loses nothing.
            match s.read(&mut buf[filled..]).now_or_never() {
                Some(Ok(0)) => {
                    end = Ok(true);
                    break;
                }
                Some(Ok(n)) => filled += n,
                Some(Err(e)) => {
                    end = Err(e);
                    break;
                }
                None => break,
            }
        }
        file.write_all(&buf[..filled])?;
        total += filled as u64;
        grown.send_modify(|n| *n = n.wrapping_add(1));
        if end? {
            return Ok(total);
        }
    }
}
