//! The node: its identity, its work types and unit store, and the monitor that watches units.
//! The control service and in-process callers (`rawx serve`) both drive work through [`Node`],
//! so there is one implementation of every work operation.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Map, Value};
use tokio::io::AsyncRead;

use crate::config::Config;
use crate::mesh::wire::{ServiceAd, WorkCommand};
use crate::mesh::Mesh;
use crate::signing::{Signer, SigningError, Verifier};
use crate::work::BoxFuture;
use crate::work::{
    ControlConn, Outcome, PendingUnit, RemoteExtra, RemoteLink, RemoteRequest, ResultsReader,
    UnitStatus, WorkError, WorkKind, WorkManager, WorkOptions, REMOTE_WORK_TYPE,
};

/// The Receptor version this node reports. receptorctl warns when it differs from its own,
/// and rawx is tested against the receptorctl pinned in `scripts/requirements-test.txt`.
pub const RECEPTOR_VERSION: &str = "1.5.1";

/// A work submit: what `receptorctl work submit` sends, minus the payload.
#[derive(Debug, Clone, Default)]
pub struct SubmitRequest {
    pub work_type: String,
    /// Target node; `None`, `localhost` or this node's ID run the work here.
    pub node: Option<String>,
    /// Work params; `params` holds extra command-line arguments.
    pub params: BTreeMap<String, String>,
    pub ttl: Option<String>,
    pub tls_client: Option<String>,
    pub sign_work: bool,
}

impl SubmitRequest {
    pub fn new(work_type: &str) -> Self {
        SubmitRequest {
            work_type: work_type.to_string(),
            ..Default::default()
        }
    }

    pub fn param(mut self, key: &str, value: &str) -> Self {
        self.params.insert(key.to_string(), value.to_string());
        self
    }
}

#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    #[error(transparent)]
    Work(#[from] WorkError),
    #[error(transparent)]
    Signing(#[from] SigningError),
}

/// Loads the `work-signing` and `work-verification` keys the config names, so a bad key
/// stops the node at start (and `--check`) rather than at the first signed request.
pub fn load_keys(config: &Config) -> Result<(Option<Signer>, Option<Verifier>), SigningError> {
    let signer = match &config.work_signing {
        // Receptor's documented default expiration.
        Some(s) => Some(Signer::load(
            &s.private_key,
            s.token_expiration.unwrap_or(Duration::from_secs(300)),
        )?),
        None => None,
    };
    let verifier = match &config.work_verification {
        Some(v) => Some(Verifier::load(&v.public_key)?),
        None => None,
    };
    Ok((signer, verifier))
}

#[derive(Clone)]
pub struct Node {
    inner: Arc<Inner>,
}

struct Inner {
    id: String,
    config: Config,
    work: Arc<WorkManager>,
    signer: Option<Arc<Signer>>,
    verifier: Option<Verifier>,
    monitor: tokio::task::JoinHandle<()>,
    /// The mesh this node is part of, once started (`rawx receptor` attaches it); shared
    /// with the remote units' [`MeshLink`].
    mesh: Arc<std::sync::OnceLock<Mesh>>,
}

/// How remote units reach other nodes' control services: service streams over the mesh,
/// once it is attached (until then a dial fails and the unit tries again later).
struct MeshLink {
    mesh: Arc<std::sync::OnceLock<Mesh>>,
    config: Config,
    signer: Option<Arc<Signer>>,
}

impl RemoteLink for MeshLink {
    fn dial<'a>(
        &'a self,
        node: &'a str,
        tls_client: Option<&'a str>,
    ) -> BoxFuture<'a, Result<Box<dyn ControlConn>, String>> {
        Box::pin(async move {
            let Some(mesh) = self.mesh.get() else {
                return Err("the mesh is not started yet".to_string());
            };
            let tls = match tls_client {
                None => None,
                Some(name) => Some(crate::mesh::receptor_client_config(
                    &self.config,
                    name,
                    node,
                )?),
            };
            let (stream, connection) = mesh.dial_stream(node, "control", tls).await?;
            Ok(
                Box::new(crate::mesh::quic::OwnedStream::new(stream, connection))
                    as Box<dyn ControlConn>,
            )
        })
    }

    fn sign(&self, node: &str) -> Result<String, String> {
        let Some(signer) = &self.signer else {
            return Err("cannot sign work: signing key is empty".into());
        };
        signer
            .sign(node, std::time::SystemTime::now())
            .map_err(|e| e.to_string())
    }

    fn has_tls_client(&self, name: &str) -> bool {
        self.config.tls_clients.iter().any(|t| t.name == name)
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.monitor.abort();
    }
}

impl Node {
    /// Opens the unit store under `<datadir>/<nodeid>`, adopts the units already there
    /// (running ones keep running) and starts the monitor. Needs a tokio runtime.
    pub fn start(config: &Config, options: WorkOptions) -> Result<Node, NodeError> {
        let (signer, verifier) = load_keys(config)?;
        let signer = signer.map(Arc::new);
        let mesh = Arc::new(std::sync::OnceLock::new());
        let link = Arc::new(MeshLink {
            mesh: mesh.clone(),
            config: config.clone(),
            signer: signer.clone(),
        });
        let mut types = BTreeMap::new();
        for wc in &config.work_commands {
            types.insert(wc.work_type.clone(), WorkKind::Command(wc.clone()));
        }
        for wk in &config.work_kubernetes {
            types.insert(wk.work_type.clone(), WorkKind::Kubernetes);
        }
        let root = config.node.datadir.join(&config.node.id);
        let work = WorkManager::open(root, types, options, Some(link))?;
        let monitor = tokio::spawn(monitor(Arc::downgrade(&work)));
        Ok(Node {
            inner: Arc::new(Inner {
                id: config.node.id.clone(),
                config: config.clone(),
                work,
                signer,
                verifier,
                monitor,
                mesh,
            }),
        })
    }

    pub fn id(&self) -> &str {
        &self.inner.id
    }

    /// Attaches the running mesh: `status`, `ping` and `traceroute` then answer for it.
    pub fn attach_mesh(&self, mesh: Mesh) {
        let _ = self.inner.mesh.set(mesh);
    }

    pub fn mesh(&self) -> Option<&Mesh> {
        self.inner.mesh.get()
    }

    /// The work types as advertised: name and whether submits must be signed.
    pub fn work_commands(&self) -> Vec<WorkCommand> {
        self.inner
            .work
            .work_types()
            .iter()
            .map(|(name, kind)| WorkCommand {
                work_type: name.clone(),
                secure: match kind {
                    WorkKind::Command(c) => c.verify_signature,
                    WorkKind::Kubernetes => self
                        .inner
                        .config
                        .work_kubernetes
                        .iter()
                        .any(|k| &k.work_type == name && k.verify_signature),
                },
            })
            .collect()
    }

    #[cfg(test)]
    pub(crate) fn work_manager(&self) -> &WorkManager {
        &self.inner.work
    }

    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// Whether requests for `work_type` must carry a signature (`verifysignature`) when they
    /// do not come through the Unix socket.
    pub fn requires_signature(&self, work_type: &str) -> bool {
        let c = &self.inner.config;
        c.work_commands
            .iter()
            .any(|w| w.work_type == work_type && w.verify_signature)
            || c.work_kubernetes
                .iter()
                .any(|k| k.work_type == work_type && k.verify_signature)
    }

    /// Checks a request signature: meant for this node, unexpired, made with the key that
    /// matches `work-verification`.
    pub fn verify_signature(&self, token: Option<&str>) -> Result<(), SigningError> {
        let Some(verifier) = &self.inner.verifier else {
            return Err(SigningError::Invalid(
                "no work-verification key is configured".into(),
            ));
        };
        let Some(token) = token.filter(|t| !t.is_empty()) else {
            return Err(SigningError::Invalid(
                "this work type requires a signature".into(),
            ));
        };
        verifier.verify(token, &self.inner.id, std::time::SystemTime::now())
    }

    /// `reload`, as Receptor does it: the config file is read again; if it does not load,
    /// ERRORCODE 4; if anything but peers and listeners changed, ERRORCODE 3 and nothing is
    /// touched; otherwise every backend stops and the configured ones start again.
    pub async fn reload(&self) -> Value {
        let current = &self.inner.config;
        let new = match Config::load(std::path::Path::new(&current.origin))
            .map_err(|e| e.to_string())
            .and_then(|c| c.check_files().map(|_| c).map_err(|e| e.to_string()))
        {
            Ok(c) => c,
            Err(e) => return json!({"Success": false, "Error": format!("{e} ERRORCODE 4")}),
        };
        let fixed = |c: &Config| Config {
            backends: Vec::new(),
            local_only: false,
            ..c.clone()
        };
        if fixed(&new) != fixed(current) {
            return json!({"Success": false, "Error": "a non-reloadable config action was modified, added or removed (only tcp-peer, tcp-listener and local-only reload). Must restart receptor for these changes to take effect ERRORCODE 3"});
        }
        let Some(mesh) = self.mesh() else {
            return json!({"Success": true});
        };
        match mesh.reload_backends(&new).await {
            Ok(()) => json!({"Success": true}),
            Err(e) => json!({"Success": false, "Error": format!("{e} ERRORCODE 4")}),
        }
    }

    /// The `work-signing` key, for signing requests to other nodes.
    pub fn signer(&self) -> Option<&Signer> {
        self.inner.signer.as_deref()
    }

    /// Whether requests about this unit must be signed off the Unix socket: its work type's
    /// `verifysignature`, or for a remote unit whether it was submitted with `signwork` (Go's
    /// `ShouldVerifySignature`).
    pub fn unit_requires_signature(&self, st: &UnitStatus) -> bool {
        if st.work_type == REMOTE_WORK_TYPE {
            return RemoteExtra::from_status(st).sign_work;
        }
        self.requires_signature(&st.work_type)
    }

    fn is_local(&self, node: Option<&str>) -> bool {
        match node {
            None => true,
            Some(n) => n.is_empty() || n == self.inner.id || n.eq_ignore_ascii_case("localhost"),
        }
    }

    /// Step one of a submit: checks the request and creates the unit (Pending). A unit for
    /// another node is a remote unit (`work/remote.rs`), which runs there.
    pub fn create_unit(&self, req: &SubmitRequest) -> Result<PendingUnit, WorkError> {
        if let Some(node) = req.node.as_deref().filter(|n| !self.is_local(Some(n))) {
            if self.mesh().is_none() {
                return Err(WorkError::Refused(format!(
                    "node {node} is not this node ({}), and this node is not part of a mesh: it cannot run remote work",
                    self.inner.id
                )));
            }
            return self.inner.work.create_remote(&RemoteRequest {
                node,
                work_type: &req.work_type,
                tls_client: req.tls_client.as_deref(),
                ttl: req.ttl.as_deref(),
                sign_work: req.sign_work,
                params: &req.params,
            });
        }
        if req.ttl.as_deref().is_some_and(|t| !t.is_empty()) {
            return Err(WorkError::Refused(
                "ttl is only for remote work and cannot be used on a local unit".into(),
            ));
        }
        self.inner.work.create(&req.work_type, &req.params)
    }

    /// Step two: saves the payload; a failed read fails the unit.
    pub async fn write_payload<R: AsyncRead + Unpin + ?Sized>(
        &self,
        pending: &PendingUnit,
        payload: &mut R,
    ) -> Result<u64, WorkError> {
        self.inner.work.write_payload(pending, payload).await
    }

    /// Fails a unit whose payload cannot be trusted.
    pub fn abandon_unit(&self, pending: PendingUnit, detail: &str) {
        self.inner.work.fail_pending(&pending, detail);
    }

    /// Step three: starts the unit's command, detached from this process.
    pub async fn start_unit(&self, pending: PendingUnit) -> Result<String, WorkError> {
        Ok(self.start_unit_reporting(pending).await?.0)
    }

    /// As [`Node::start_unit`], also saying whether the unit started (`false`: a remote unit
    /// whose node cannot be reached yet; it goes on trying).
    pub async fn start_unit_reporting(
        &self,
        pending: PendingUnit,
    ) -> Result<(String, bool), WorkError> {
        self.inner.work.start(pending).await
    }

    /// Submits and starts a unit with `payload` as its stdin; returns the unit ID.
    pub async fn submit<R: AsyncRead + Unpin + ?Sized>(
        &self,
        req: &SubmitRequest,
        payload: &mut R,
    ) -> Result<String, WorkError> {
        let pending = self.create_unit(req)?;
        self.write_payload(&pending, payload).await?;
        self.start_unit(pending).await
    }

    pub fn status(&self, unit_id: &str) -> Result<UnitStatus, WorkError> {
        self.inner.work.status(unit_id)
    }

    pub fn list(&self) -> BTreeMap<String, UnitStatus> {
        self.inner.work.list()
    }

    /// Follows the unit's stdout from `offset` until the unit is complete.
    pub fn results(&self, unit_id: &str, offset: u64) -> Result<ResultsReader, WorkError> {
        self.inner.work.results(unit_id, offset)
    }

    pub async fn cancel(&self, unit_id: &str) -> Result<(), WorkError> {
        self.inner.work.cancel(unit_id).await.map(drop)
    }

    /// Cancels the unit if it runs, then deletes it.
    pub async fn release(&self, unit_id: &str) -> Result<(), WorkError> {
        self.inner.work.release(unit_id, false).await.map(drop)
    }

    /// As [`Node::release`], ignoring errors on the way.
    pub async fn force_release(&self, unit_id: &str) -> Result<(), WorkError> {
        self.inner.work.release(unit_id, true).await.map(drop)
    }

    /// Cancel or release (`force`: ignoring errors), saying whether it is done or, for a
    /// remote unit whose node cannot be reached now, pending.
    pub async fn stop_unit(
        &self,
        unit_id: &str,
        release: bool,
        force: bool,
    ) -> Result<Outcome, WorkError> {
        if release {
            self.inner.work.release(unit_id, force).await
        } else {
            self.inner.work.cancel(unit_id).await
        }
    }

    /// The `status` reply: every field, or only `requested` ones.
    pub fn status_report(&self, requested: Option<&[String]>) -> Value {
        let want = |f: &str| requested.is_none_or(|r| r.iter().any(|x| x == f));
        let id = &self.inner.id;
        let mut out = Map::new();
        // A Go map: keys sorted.
        if want("Advertisements") {
            out.insert("Advertisements".into(), Value::Array(self.advertisements()));
        }
        let mesh = self.mesh().map(|m| m.status());
        if want("Connections") {
            let conns: Vec<Value> = mesh
                .iter()
                .flat_map(|m| &m.connections)
                .map(|(n, c)| json!({"NodeID": n, "Cost": c}))
                .collect();
            out.insert("Connections".into(), Value::Array(conns));
        }
        if want("KnownConnectionCosts") {
            let costs = match &mesh {
                Some(m) => json!(m.known_connection_costs),
                None => json!({}),
            };
            out.insert("KnownConnectionCosts".into(), costs);
        }
        if want("NodeID") {
            out.insert("NodeID".into(), json!(id));
        }
        if want("RoutingTable") {
            let routes = match &mesh {
                Some(m) => json!(m.routing_table),
                None => json!({}),
            };
            out.insert("RoutingTable".into(), routes);
        }
        if want("SystemCPUCount") {
            let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
            out.insert("SystemCPUCount".into(), json!(cpus));
        }
        if want("SystemMemoryMiB") {
            out.insert("SystemMemoryMiB".into(), json!(memory_mib()));
        }
        if want("Version") {
            out.insert("Version".into(), json!(RECEPTOR_VERSION));
        }
        Value::Object(out)
    }

    fn advertisements(&self) -> Vec<Value> {
        if let Some(mesh) = self.mesh() {
            return mesh
                .status()
                .advertisements
                .iter()
                .map(|a| a.status_json())
                .collect();
        }
        let now = crate::mesh::now_rfc3339();
        let work_commands = self.work_commands();
        self.inner
            .config
            .control_services
            .iter()
            .map(|cs| {
                ServiceAd {
                    node_id: self.inner.id.clone(),
                    service: cs.service.clone(),
                    time: now.clone(),
                    conn_type: if cs.tls.is_some() { 2 } else { 1 },
                    tags: Some(BTreeMap::from([(
                        "type".to_string(),
                        "Control Service".to_string(),
                    )])),
                    work_commands: (!work_commands.is_empty()).then(|| work_commands.clone()),
                    cancel: false,
                }
                .status_json()
            })
            .collect()
    }
}

/// The unit monitor: a named loop that lives as long as the node.
async fn monitor(work: std::sync::Weak<WorkManager>) {
    // Exits are noticed within a quarter second (as Receptor's runner reports), reaping is
    // checked every 15 s.
    for round in 0u64.. {
        tokio::time::sleep(Duration::from_millis(250)).await;
        let Some(work) = work.upgrade() else { return };
        // Each pass on its own task: a panic in one is logged and the next pass still runs,
        // rather than the monitor dying unseen.
        let pass = tokio::spawn(async move { work.tick(round % 60 == 0).await });
        if let Err(e) = pass.await {
            tracing::error!(error = %e, "work unit monitor pass failed");
        }
    }
}

fn memory_mib() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("MemTotal:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        })
        .map_or(0, |kib| kib / 1024)
}
