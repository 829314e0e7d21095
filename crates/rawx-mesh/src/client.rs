//! [`RemoteNode`]: a control-service client, the controller's side of Receptor's control
//! protocol (what `receptorctl` and AWX speak) over a Unix socket, TCP or TLS. Each operation
//! opens its own connection, as receptorctl does: a node restart costs one failed call, never
//! a stuck session, and results streams run side by side with submits.

use std::collections::BTreeSet;
use std::io;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{PrivateKeyDer, ServerName};
use rustls::{ClientConfig, RootCertStore};
use serde_json::{json, Map, Value};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::{TcpStream, UnixStream};

use crate::mesh_view::MeshView;
use crate::node::SubmitRequest;
use crate::signing::Signer;
use crate::tls::{certs, Verifier};
use crate::work::BoxFuture;
use crate::work::{UnitStatus, WorkError};
use crate::work_node::{ResultsStream, WorkNode};

/// How long a connect plus greeting may take before the node counts as unreachable.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Where the node's control service listens: `unix:PATH` or `PATH`, `tcp://H:P`, `tls://H:P`.
#[derive(Debug, Clone, PartialEq)]
pub enum Address {
    Unix(PathBuf),
    Tcp(String),
    Tls(String),
}

impl std::str::FromStr for Address {
    type Err = String;
    fn from_str(s: &str) -> Result<Address, String> {
        if let Some(rest) = s.strip_prefix("tcp://") {
            Ok(Address::Tcp(rest.to_string()))
        } else if let Some(rest) = s.strip_prefix("tls://") {
            Ok(Address::Tls(rest.to_string()))
        } else if s.contains("://") {
            Err(format!(
                "{s}: a control socket is unix:PATH, PATH, tcp://HOST:PORT or tls://HOST:PORT"
            ))
        } else {
            let path = s.strip_prefix("unix:").unwrap_or(s);
            if path.is_empty() {
                return Err("the control socket path is empty".into());
            }
            Ok(Address::Unix(PathBuf::from(path)))
        }
    }
}

impl std::fmt::Display for Address {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Address::Unix(p) => write!(f, "unix:{}", p.display()),
            Address::Tcp(a) => write!(f, "tcp://{a}"),
            Address::Tls(a) => write!(f, "tls://{a}"),
        }
    }
}

/// How to reach a node: the address, TLS client files (receptorctl's `--rootcas`, `--cert`,
/// `--key`), and the work-signing key for work types the node verifies.
#[derive(Debug, Default)]
pub struct RemoteOptions {
    pub address: Option<Address>,
    pub root_cas: Option<PathBuf>,
    pub cert: Option<PathBuf>,
    pub key: Option<PathBuf>,
    pub insecure_skip_verify: bool,
    pub signer: Option<Signer>,
    /// Run work on this node of the mesh, reached through the node at `address` (Receptor's
    /// remote work units, as AWX reaches execution nodes behind hops). `None`: that node.
    pub work_node: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("no control socket address given")]
    NoAddress,
    #[error("TLS client: {0}")]
    Tls(String),
    #[error("control service {address}: {source}")]
    Connect { address: String, source: io::Error },
    #[error("control service {address}: {message}")]
    Protocol { address: String, message: String },
}

trait Conn: AsyncRead + AsyncWrite + Send + Unpin {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin> Conn for T {}

type Session = BufReader<Box<dyn Conn>>;

/// A separate node reached through its control service. Cheap to clone (a results stream
/// keeps one to reconnect).
#[derive(Clone)]
pub struct RemoteNode {
    address: Address,
    tls: Option<(tokio_rustls::TlsConnector, ServerName<'static>)>,
    signer: Option<Arc<Signer>>,
    node_id: String,
    /// Work types the node that runs the work advertises as `Secure` (verifysignature): their
    /// requests are signed.
    secure_types: BTreeSet<String>,
    /// The node work runs on when it is not `node_id` (the control node relays it).
    work_node: Option<String>,
}

impl std::fmt::Debug for RemoteNode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteNode")
            .field("address", &self.address)
            .field("node_id", &self.node_id)
            .finish_non_exhaustive()
    }
}

impl RemoteNode {
    /// Connects once to learn the node's ID and which work types want signatures.
    pub async fn connect(options: RemoteOptions) -> Result<RemoteNode, ClientError> {
        let address = options.address.clone().ok_or(ClientError::NoAddress)?;
        let tls = match &address {
            Address::Tls(hostport) => Some(tls_connector(&options, hostport)?),
            _ => None,
        };
        let mut node = RemoteNode {
            address,
            tls,
            signer: options.signer.map(Arc::new),
            node_id: String::new(),
            secure_types: BTreeSet::new(),
            work_node: None,
        };
        let status = node
            .request(
                &json!({"command": "status", "requested_fields": ["NodeID", "Advertisements"]}),
            )
            .await
            .map_err(|e| node.protocol(e.to_string()))?;
        node.node_id = status
            .get("NodeID")
            .and_then(Value::as_str)
            .ok_or_else(|| node.protocol("the status reply has no NodeID".into()))?
            .to_string();
        node.work_node = options
            .work_node
            .filter(|w| !w.is_empty() && *w != node.node_id);
        let runs_work = node.work_node.clone().unwrap_or(node.node_id.clone());
        for ad in status
            .get("Advertisements")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter(|ad| ad.get("NodeID").and_then(Value::as_str) == Some(runs_work.as_str()))
        {
            for wc in ad
                .get("WorkCommands")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                if wc.get("Secure") == Some(&json!(true)) {
                    if let Some(t) = wc.get("WorkType").and_then(Value::as_str) {
                        node.secure_types.insert(t.to_string());
                    }
                }
            }
        }
        if !node.secure_types.is_empty()
            && node.signer.is_none()
            && !matches!(node.address, Address::Unix(_))
        {
            tracing::warn!(address = %node.address, types = ?node.secure_types,
                "the node verifies signatures for these work types but no work-signing key is configured");
        }
        Ok(node)
    }

    pub fn address(&self) -> &Address {
        &self.address
    }

    /// Receptor's `status` reply (every field).
    pub async fn status_report(&self) -> Result<Value, WorkError> {
        self.request(&json!({"command": "status"})).await
    }

    fn protocol(&self, message: String) -> ClientError {
        ClientError::Protocol {
            address: self.address.to_string(),
            message,
        }
    }

    fn io_error(&self, what: &'static str, source: io::Error) -> WorkError {
        WorkError::Io {
            id: self.address.to_string(),
            what,
            source,
        }
    }

    /// A fresh connection past the node's greeting.
    async fn open(&self) -> Result<Session, WorkError> {
        let connect = async {
            let conn: Box<dyn Conn> = match &self.address {
                Address::Unix(path) => Box::new(UnixStream::connect(path).await?),
                Address::Tcp(a) => Box::new(tcp(a).await?),
                Address::Tls(a) => {
                    let (connector, name) = self.tls.as_ref().expect("tls address has a config");
                    Box::new(connector.connect(name.clone(), tcp(a).await?).await?)
                }
            };
            let mut session = BufReader::new(conn);
            let mut greeting = String::new();
            session.read_line(&mut greeting).await?;
            if !greeting.starts_with("Receptor Control") {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("not a Receptor control service (it said {greeting:?})"),
                ));
            }
            Ok(session)
        };
        match tokio::time::timeout(CONNECT_TIMEOUT, connect).await {
            Ok(r) => r.map_err(|e| self.io_error("connect to the control service", e)),
            Err(_) => Err(self.io_error(
                "connect to the control service",
                io::Error::new(io::ErrorKind::TimedOut, "no greeting within 10 s"),
            )),
        }
    }

    /// One command, one reply line, on a fresh connection.
    async fn request(&self, command: &Value) -> Result<Value, WorkError> {
        let mut s = self.open().await?;
        send(&mut s, command)
            .await
            .map_err(|e| self.io_error("send a command", e))?;
        let line = reply_line(&mut s)
            .await
            .map_err(|e| self.io_error("read a reply", e))?;
        parse_reply(&line)
    }

    /// Adds `signature` when the node verifies this work type and the link is not a Unix
    /// socket (where Receptor checks none and refuses an unexpected one).
    fn sign(&self, m: &mut Map<String, Value>, work_type: &str) -> Result<(), WorkError> {
        // The local half of a remote unit needs one only when it is signed work (below).
        let secure = self.work_node.is_none() && self.secure_types.contains(work_type);
        if matches!(self.address, Address::Unix(_)) || !secure {
            return Ok(());
        }
        self.add_signature(m, work_type)
    }

    fn add_signature(&self, m: &mut Map<String, Value>, work_type: &str) -> Result<(), WorkError> {
        if matches!(self.address, Address::Unix(_)) {
            return Ok(());
        }
        let Some(signer) = &self.signer else {
            return Err(WorkError::Refused(format!(
                "node {} verifies signatures for work type {work_type}; configure a work-signing key",
                self.node_id
            )));
        };
        let token = signer
            .sign(&self.node_id, SystemTime::now())
            .map_err(|e| WorkError::Refused(e.to_string()))?;
        m.insert("signature".into(), json!(token));
        Ok(())
    }

    /// A command on an existing unit: signed when its work type needs it.
    async fn unit_command(
        &self,
        sub: &str,
        unit_id: &str,
        extra: Option<(&str, Value)>,
    ) -> Result<(Map<String, Value>, Option<UnitStatus>), WorkError> {
        let mut m = Map::new();
        m.insert("command".into(), json!("work"));
        m.insert("subcommand".into(), json!(sub));
        m.insert("unitid".into(), json!(unit_id));
        if let Some((k, v)) = extra {
            m.insert(k.into(), v);
        }
        let mut status = None;
        if !matches!(self.address, Address::Unix(_))
            && (!self.secure_types.is_empty() || self.work_node.is_some())
        {
            let st = self.unit_status(unit_id).await?;
            if self.work_node.is_some() {
                // A remote unit at the control node, verified there when it is signed work.
                if crate::work::RemoteExtra::from_status(&st).sign_work {
                    self.add_signature(&mut m, &st.work_type)?;
                }
            } else {
                self.sign(&mut m, &st.work_type)?;
            }
            status = Some(st);
        }
        Ok((m, status))
    }

    async fn unit_status(&self, unit_id: &str) -> Result<UnitStatus, WorkError> {
        let mut m = Map::new();
        m.insert("command".into(), json!("work"));
        m.insert("subcommand".into(), json!("status"));
        m.insert("unitid".into(), json!(unit_id));
        // Status needs a signature too when the type is verified, but the type is only known
        // from the status: try unsigned first (Receptor answers status for any unit whose type
        // does not verify), then signed for each secure type.
        let v = self.request(&Value::Object(m.clone())).await;
        let v = match v {
            Err(WorkError::Refused(e)) if self.signer.is_some() => {
                let mut last = Err(WorkError::Refused(e));
                for t in &self.secure_types {
                    let mut signed = m.clone();
                    self.sign(&mut signed, t)?;
                    last = self.request(&Value::Object(signed)).await;
                    if last.is_ok() {
                        break;
                    }
                }
                last?
            }
            other => other?,
        };
        serde_json::from_value(v).map_err(|e| {
            WorkError::Refused(format!("work status {unit_id}: unexpected reply: {e}"))
        })
    }
}

async fn tcp(hostport: &str) -> io::Result<TcpStream> {
    let s = TcpStream::connect(hostport).await?;
    // Commands are single short lines: do not let Nagle hold them back.
    s.set_nodelay(true)?;
    Ok(s)
}

async fn send(s: &mut Session, command: &Value) -> io::Result<()> {
    let mut line = command.to_string();
    line.push('\n');
    s.get_mut().write_all(line.as_bytes()).await?;
    s.get_mut().flush().await
}

async fn reply_line(s: &mut Session) -> io::Result<String> {
    let mut line = String::new();
    if s.read_line(&mut line).await? == 0 {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "the node closed the connection without a reply",
        ));
    }
    Ok(line.trim_end_matches(['\r', '\n']).to_string())
}

/// A JSON reply, or Receptor's `ERROR: …` mapped to the error the in-process node gives.
fn parse_reply(line: &str) -> Result<Value, WorkError> {
    if let Some(msg) = line.strip_prefix("ERROR: ") {
        return Err(error_from(msg));
    }
    serde_json::from_str(line)
        .map_err(|_| WorkError::Refused(format!("unexpected reply from the node: {line}")))
}

fn error_from(msg: &str) -> WorkError {
    match msg.strip_prefix("unknown work unit ") {
        Some(id) => WorkError::UnknownUnit(id.to_string()),
        None => WorkError::Refused(msg.to_string()),
    }
}

fn tls_connector(
    options: &RemoteOptions,
    hostport: &str,
) -> Result<(tokio_rustls::TlsConnector, ServerName<'static>), ClientError> {
    let fail = ClientError::Tls;
    let host = hostport
        .rsplit_once(':')
        .map_or(hostport, |(h, _)| h)
        .trim_start_matches('[')
        .trim_end_matches(']');
    let name = ServerName::try_from(host.to_string())
        .map_err(|e| fail(format!("{host} is not a host name or IP address: {e}")))?;
    let provider = Arc::new(crate::tls::provider());
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| fail(e.to_string()))?;
    let builder = if options.insecure_skip_verify {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Verifier::skip(provider))
    } else {
        let Some(cas) = &options.root_cas else {
            return Err(fail(
                "a tls:// control socket needs the CA that signed the node's certificate (root CAs)"
                    .into(),
            ));
        };
        let mut roots = RootCertStore::empty();
        for ca in certs(cas).map_err(fail)? {
            roots
                .add(ca)
                .map_err(|e| fail(format!("{}: {e}", cas.display())))?;
        }
        builder.with_root_certificates(roots)
    };
    let config = match (&options.cert, &options.key) {
        (Some(cert), Some(key)) => {
            let key = PrivateKeyDer::from_pem_file(key)
                .map_err(|e| fail(format!("{}: {e}", key.display())))?;
            builder
                .with_client_auth_cert(certs(cert).map_err(fail)?, key)
                .map_err(|e| fail(format!("client cert and key do not fit: {e}")))?
        }
        (None, None) => builder.with_no_client_auth(),
        _ => return Err(fail("the client cert and key go together".into())),
    };
    Ok((tokio_rustls::TlsConnector::from(Arc::new(config)), name))
}

impl WorkNode for RemoteNode {
    fn node_id(&self) -> &str {
        self.work_node.as_deref().unwrap_or(&self.node_id)
    }

    fn submit<'a>(
        &'a self,
        req: &'a SubmitRequest,
        payload: &'a [u8],
    ) -> BoxFuture<'a, Result<String, WorkError>> {
        Box::pin(async move {
            let mut m = Map::new();
            // Work params first: the control keys below win over a param of the same name.
            for (k, v) in &req.params {
                m.insert(k.clone(), json!(v));
            }
            m.insert("command".into(), json!("work"));
            m.insert("subcommand".into(), json!("submit"));
            let target = req
                .node
                .clone()
                .unwrap_or_else(|| WorkNode::node_id(self).to_string());
            m.insert("node".into(), json!(target));
            m.insert("worktype".into(), json!(req.work_type));
            if let Some(t) = &req.tls_client {
                m.insert("tlsclient".into(), json!(t));
            }
            if let Some(t) = &req.ttl {
                m.insert("ttl".into(), json!(t));
            }
            if target == self.node_id {
                if req.sign_work {
                    m.insert("signwork".into(), json!("true"));
                }
                self.sign(&mut m, &req.work_type)?;
            } else if req.sign_work || self.secure_types.contains(&req.work_type) {
                // Work for another node is signed by the control node, with its own key,
                // for the node that runs it (Go's `signwork`).
                m.insert("signwork".into(), json!("true"));
            }
            let mut s = self.open().await?;
            let io = |what| move |e| self.io_error(what, e);
            send(&mut s, &Value::Object(m))
                .await
                .map_err(io("send the submit"))?;
            let line = reply_line(&mut s)
                .await
                .map_err(io("read the submit reply"))?;
            if let Some(msg) = line.strip_prefix("ERROR: ") {
                return Err(error_from(msg));
            }
            if !line.starts_with("Work unit created") {
                return Err(WorkError::Refused(format!(
                    "unexpected submit reply from the node: {line}"
                )));
            }
            let conn = s.get_mut();
            conn.write_all(payload)
                .await
                .map_err(io("send the payload"))?;
            // The half-close is how the node knows the payload is complete.
            conn.shutdown().await.map_err(io("end the payload"))?;
            let line = reply_line(&mut s)
                .await
                .map_err(io("read the start reply"))?;
            let v = parse_reply(&line)?;
            v.get("unitid")
                .and_then(Value::as_str)
                .map(str::to_string)
                .ok_or_else(|| WorkError::Refused(format!("unexpected start reply: {line}")))
        })
    }

    fn status<'a>(&'a self, unit_id: &'a str) -> BoxFuture<'a, Result<UnitStatus, WorkError>> {
        Box::pin(self.unit_status(unit_id))
    }

    fn results<'a>(
        &'a self,
        unit_id: &'a str,
        offset: u64,
    ) -> BoxFuture<'a, Result<ResultsStream, WorkError>> {
        Box::pin(async move {
            let first = self.results_once(unit_id, offset).await?;
            Ok(Box::pin(Resuming::new(self.clone(), unit_id, offset, first)) as ResultsStream)
        })
    }

    fn cancel<'a>(&'a self, unit_id: &'a str) -> BoxFuture<'a, Result<(), WorkError>> {
        Box::pin(async move {
            let (m, _) = self.unit_command("cancel", unit_id, None).await?;
            self.request(&Value::Object(m)).await.map(drop)
        })
    }

    fn release<'a>(&'a self, unit_id: &'a str) -> BoxFuture<'a, Result<(), WorkError>> {
        Box::pin(async move {
            let (m, _) = self.unit_command("release", unit_id, None).await?;
            self.request(&Value::Object(m)).await.map(drop)
        })
    }

    fn mesh_view(&self) -> BoxFuture<'_, Option<Result<MeshView, WorkError>>> {
        Box::pin(async move {
            Some(
                self.status_report()
                    .await
                    .and_then(|s| MeshView::from_status(&s).map_err(WorkError::Refused)),
            )
        })
    }
}

impl RemoteNode {
    /// One `work results` connection: the unit's stdout from `offset` until the node closes it.
    async fn results_once(&self, unit_id: &str, offset: u64) -> Result<ResultsStream, WorkError> {
        {
            // startpos as a number: Go's receptor rejects it as a string.
            let (m, _) = self
                .unit_command("results", unit_id, Some(("startpos", json!(offset))))
                .await?;
            let mut s = self.open().await?;
            send(&mut s, &Value::Object(m))
                .await
                .map_err(|e| self.io_error("ask for results", e))?;
            let line = reply_line(&mut s)
                .await
                .map_err(|e| self.io_error("read the results header", e))?;
            if let Some(msg) = line.strip_prefix("ERROR: ") {
                return Err(error_from(msg));
            }
            if !line.starts_with("Streaming results") {
                return Err(WorkError::Refused(format!(
                    "unexpected results reply from the node: {line}"
                )));
            }
            // The buffered reader keeps whatever came after the header line.
            Ok(Box::pin(s) as ResultsStream)
        }
    }

    /// Where a results stream that ended stands: `None` when the unit is complete and all of
    /// its output was read; otherwise a new stream from `offset`. A node that cannot be
    /// reached (restarting) is retried with backoff for up to [`RESUME_FOR`]: its units
    /// outlive it, so the output is still there when it is back.
    async fn resume(&self, unit: &str, offset: u64) -> io::Result<Option<ResultsStream>> {
        let started = std::time::Instant::now();
        let mut waits = {
            use backon::BackoffBuilder;
            backon::ExponentialBuilder::default()
                .with_min_delay(Duration::from_millis(100))
                .with_max_delay(Duration::from_secs(5))
                .without_max_times()
                .build()
        };
        loop {
            let attempt = async {
                let st = self.unit_status(unit).await?;
                if st.is_final() && st.stdout_size <= offset {
                    return Ok(None);
                }
                self.results_once(unit, offset).await.map(Some)
            };
            match attempt.await {
                Ok(r) => return Ok(r),
                Err(WorkError::Io { .. }) if started.elapsed() < RESUME_FOR => {
                    tracing::warn!(unit, offset, address = %self.address, "the node is unreachable; following the unit's results again when it is back");
                    let wait = waits.next().unwrap_or(Duration::from_secs(5));
                    tokio::time::sleep(wait).await;
                }
                Err(e) => return Err(io::Error::other(e.to_string())),
            }
        }
    }
}

/// How long a results stream waits for its node to come back before it fails.
const RESUME_FOR: Duration = Duration::from_secs(300);

enum Stream {
    Reading(ResultsStream),
    Resuming(BoxFuture<'static, io::Result<Option<ResultsStream>>>),
    Done,
}

/// A unit's results that survive a dropped connection or a node restart: when a stream ends,
/// the unit's status says whether that was the end; if not, it goes on from the byte it had
/// reached. Ends (reads 0) once the unit is complete and everything was returned.
struct Resuming {
    node: RemoteNode,
    unit: String,
    offset: u64,
    state: Stream,
    /// Receptor (Go) never closes the results of a Canceled unit: after this long without
    /// bytes the status is asked, and a complete unit whose output was all read ends here.
    quiet: Pin<Box<tokio::time::Sleep>>,
    check: Option<BoxFuture<'static, bool>>,
}

/// How long a results stream may be silent before the unit's status is checked.
const QUIET: Duration = Duration::from_secs(5);

impl Resuming {
    fn new(node: RemoteNode, unit: &str, offset: u64, first: ResultsStream) -> Resuming {
        Resuming {
            node,
            unit: unit.to_string(),
            offset,
            state: Stream::Reading(first),
            quiet: Box::pin(tokio::time::sleep(QUIET)),
            check: None,
        }
    }

    fn heard(&mut self) {
        self.check = None;
        self.quiet
            .as_mut()
            .reset(tokio::time::Instant::now() + QUIET);
    }

    /// While the stream is silent: whether the unit turned out complete with all of its output
    /// read.
    fn complete_while_quiet(&mut self, cx: &mut std::task::Context<'_>) -> bool {
        use std::future::Future;
        use std::task::Poll;
        loop {
            if let Some(f) = &mut self.check {
                match f.as_mut().poll(cx) {
                    Poll::Pending => return false,
                    Poll::Ready(done) => {
                        self.heard();
                        if done {
                            return true;
                        }
                    }
                }
            }
            match self.quiet.as_mut().poll(cx) {
                Poll::Pending => return false,
                Poll::Ready(()) => {
                    let (node, unit, offset) = (self.node.clone(), self.unit.clone(), self.offset);
                    self.check = Some(Box::pin(async move {
                        node.unit_status(&unit)
                            .await
                            .is_ok_and(|st| st.is_final() && st.stdout_size <= offset)
                    }));
                }
            }
        }
    }
}

impl AsyncRead for Resuming {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<io::Result<()>> {
        use std::task::Poll;
        let this = &mut *self;
        loop {
            match &mut this.state {
                Stream::Done => return Poll::Ready(Ok(())),
                Stream::Reading(s) => {
                    let before = buf.filled().len();
                    let ended = match s.as_mut().poll_read(cx, buf) {
                        Poll::Pending => {
                            if this.complete_while_quiet(cx) {
                                this.state = Stream::Done;
                                continue;
                            }
                            return Poll::Pending;
                        }
                        Poll::Ready(Ok(())) => buf.filled().len() == before,
                        // A broken connection is one more way for a stream to end early.
                        Poll::Ready(Err(e)) => {
                            tracing::debug!(unit = %this.unit, error = %e, "results connection broke");
                            true
                        }
                    };
                    if !ended {
                        this.offset += (buf.filled().len() - before) as u64;
                        this.heard();
                        return Poll::Ready(Ok(()));
                    }
                    let (node, unit, offset) = (this.node.clone(), this.unit.clone(), this.offset);
                    this.state =
                        Stream::Resuming(Box::pin(async move { node.resume(&unit, offset).await }));
                }
                Stream::Resuming(f) => match f.as_mut().poll(cx) {
                    Poll::Pending => return Poll::Pending,
                    Poll::Ready(Ok(Some(s))) => this.state = Stream::Reading(s),
                    Poll::Ready(Ok(None)) => this.state = Stream::Done,
                    Poll::Ready(Err(e)) => {
                        this.state = Stream::Done;
                        return Poll::Ready(Err(e));
                    }
                },
            }
        }
    }
}
