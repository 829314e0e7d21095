//! The shipping component: takes queued documents to the aggregator; while it cannot be
//! reached, keeps them in an on-disk buffer (bounded by `LOG_AGGREGATOR_MAX_DISK_USAGE_GB`)
//! and replays that buffer, oldest first, once it can.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rawx_supervisor::{Component, Shutdown};
use tokio::io::{AsyncBufReadExt as _, AsyncWriteExt as _};

use crate::config::LogConfig;
use crate::document::{Lines, Queued, Renderer};
use crate::layer::{Inner, ShipLayer, Wants};
use crate::transport::{self, Conn};

/// Documents sent per write: large enough for throughput, small enough that a failure
/// re-sends little.
const BATCH: usize = 512;

/// The handle the binary keeps: make the layer once at start, configure from the settings
/// whenever they change, run [`Shipper::component`] under the supervisor.
#[derive(Clone)]
pub struct Shipper {
    inner: Arc<Inner>,
}

impl Default for Shipper {
    fn default() -> Self {
        Self::new()
    }
}

/// The process's shipper, for [`ship_job_events`]: the ingester hands its stored rows over
/// directly rather than through a `tracing` field, which would cost a JSON serialization per
/// event on the ingest path. The first [`Shipper`] made is the process's.
static PROCESS: std::sync::OnceLock<Arc<Inner>> = std::sync::OnceLock::new();

/// True when stored job events are to be shipped (external logging on, `job_events` chosen).
pub fn job_events_wanted() -> bool {
    PROCESS.get().is_some_and(|i| i.wants_job_events())
}

/// Hands stored job event rows (with their ids, in the same order) to the shipper: AWX's
/// `awx.analytics.job_events` logger. Moves the rows; nothing is rendered (nor masked) on
/// this thread. `secrets`: the values of the credentials injected into their job, masked in
/// what is shipped.
pub fn ship_job_events(
    rows: Vec<serde_json::Map<String, serde_json::Value>>,
    ids: &[i64],
    secrets: &Arc<[String]>,
) {
    if let Some(inner) = PROCESS.get() {
        inner.push_rows(rows, ids, secrets);
    }
}

impl Shipper {
    pub fn new() -> Self {
        let inner = Arc::new(Inner::new());
        let _ = PROCESS.set(inner.clone());
        Self { inner }
    }

    /// The `tracing` layer feeding this shipper, already filtered by the settings.
    pub fn layer<S>(&self) -> impl tracing_subscriber::Layer<S>
    where
        S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
    {
        use tracing_subscriber::Layer as _;
        ShipLayer {
            inner: self.inner.clone(),
        }
        .with_filter(Wants(self.inner.clone()))
    }

    /// Applies new settings; records logged from now on follow them.
    pub fn configure(&self, cfg: LogConfig) {
        if *self.inner.config() != cfg {
            tracing::info!(config = ?cfg, "log aggregator settings changed");
            self.inner.configure(cfg);
        }
    }

    pub fn config(&self) -> Arc<LogConfig> {
        self.inner.config()
    }

    pub fn component(&self) -> ShipperComponent {
        ShipperComponent {
            inner: self.inner.clone(),
        }
    }
}

/// The supervised loop (`logship`).
pub struct ShipperComponent {
    inner: Arc<Inner>,
}

fn buffer_path(cfg: &LogConfig) -> PathBuf {
    cfg.disk_path.join("rawx-logship.buffer")
}

/// The on-disk buffer: one document per line, appended while the aggregator is down.
struct Disk {
    path: PathBuf,
    max: u64,
}

impl Disk {
    async fn len(&self) -> u64 {
        tokio::fs::metadata(&self.path)
            .await
            .map(|m| m.len())
            .unwrap_or(0)
    }

    /// Appends documents `from..` of `docs`.
    async fn append(&self, docs: &Lines, from: usize) {
        let count = docs.len().saturating_sub(from) as u64;
        let bytes = docs.from(from);
        if bytes.is_empty() {
            return;
        }
        if self.len().await + bytes.len() as u64 > self.max {
            metrics::counter!("rawx_logship_dropped_total", "reason" => "disk_full")
                .increment(count);
            tracing::warn!(
                dropped = count,
                path = %self.path.display(),
                "log buffer is full (LOG_AGGREGATOR_MAX_DISK_USAGE_GB); dropping"
            );
            return;
        }
        if let Some(dir) = self.path.parent() {
            let _ = tokio::fs::create_dir_all(dir).await;
        }
        let written = async {
            let mut f = tokio::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&self.path)
                .await?;
            f.write_all(bytes).await?;
            f.flush().await
        }
        .await;
        match written {
            Ok(()) => metrics::counter!("rawx_logship_buffered_total").increment(count),
            Err(e) => {
                metrics::counter!("rawx_logship_dropped_total", "reason" => "disk_error")
                    .increment(count);
                tracing::warn!(error = %e, path = %self.path.display(), "cannot write the log buffer; dropping");
            }
        }
    }

    /// Sends the buffer, oldest first, in batches read into `batch`. On failure keeps what
    /// was not sent and returns the error.
    async fn replay(&self, conn: &mut Conn, batch: &mut Lines) -> anyhow::Result<()> {
        let file = match tokio::fs::File::open(&self.path).await {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(e.into()),
        };
        let mut reader = tokio::io::BufReader::new(file);
        let mut line = Vec::new();
        let mut replayed = 0usize;
        batch.clear();
        loop {
            line.clear();
            let done = reader.read_until(b'\n', &mut line).await? == 0;
            let doc = line.strip_suffix(b"\n").unwrap_or(&line);
            if !doc.is_empty() {
                batch.push_line(doc);
            }
            if batch.len() >= BATCH || (done && !batch.is_empty()) {
                if let Err((sent, e)) = conn.send(batch).await {
                    // Keep the unsent part of this batch and everything after it.
                    self.rewrite(batch.from(sent), &mut reader).await?;
                    batch.clear();
                    return Err(e);
                }
                replayed += batch.len();
                metrics::counter!("rawx_logship_sent_total").increment(batch.len() as u64);
                batch.clear();
            }
            if done {
                break;
            }
        }
        tokio::fs::remove_file(&self.path).await?;
        tracing::info!(
            replayed,
            "log aggregator is back; replayed the buffered log records"
        );
        Ok(())
    }

    /// The buffer becomes `head` followed by what `rest` has not read yet.
    async fn rewrite(
        &self,
        head: &[u8],
        rest: &mut tokio::io::BufReader<tokio::fs::File>,
    ) -> std::io::Result<()> {
        let tmp = self.path.with_extension("tmp");
        let mut f = tokio::fs::File::create(&tmp).await?;
        f.write_all(head).await?;
        tokio::io::copy_buf(rest, &mut f).await?;
        f.flush().await?;
        drop(f);
        tokio::fs::rename(&tmp, &self.path).await
    }
}

/// The shipper's working memory, reused batch after batch.
#[derive(Default)]
struct Batch {
    /// For the settings in force; remade when they change.
    renderer: Option<Renderer>,
    taken: Vec<Queued>,
    lines: Lines,
}

impl Batch {
    /// Renders up to `max` queued records into `lines` (emptied first). The records are
    /// dropped here, on the shipper's task, as they are rendered.
    fn render(&mut self, inner: &Inner, cfg: &Arc<LogConfig>, max: usize) {
        self.lines.clear();
        inner.take(max, &mut self.taken);
        if self.taken.is_empty() {
            return;
        }
        let renderer = match &mut self.renderer {
            Some(r) if Arc::ptr_eq(r.config(), cfg) => r,
            slot => slot.insert(Renderer::new(cfg.clone())),
        };
        for rec in self.taken.drain(..) {
            renderer.render(rec, &mut self.lines);
        }
    }
}

struct State {
    conn: Option<Conn>,
    /// The settings `conn` was opened with: new settings mean a new connection.
    conn_cfg: Option<Arc<LogConfig>>,
    retry_at: Instant,
    /// Waits between reconnects: `BACKOFF_MIN` doubling to `BACKOFF_MAX`.
    backoff: backon::ExponentialBackoff,
    /// Logged once per outage, not once per attempt.
    down_logged: bool,
    batch: Batch,
}

const BACKOFF_MIN: Duration = Duration::from_millis(250);
const BACKOFF_MAX: Duration = Duration::from_secs(10);

fn backoff() -> backon::ExponentialBackoff {
    use backon::BackoffBuilder;
    backon::ExponentialBuilder::default()
        .with_min_delay(BACKOFF_MIN)
        .with_max_delay(BACKOFF_MAX)
        .without_max_times()
        .build()
}

impl ShipperComponent {
    async fn pump(&self, cfg: &Arc<LogConfig>, st: &mut State) {
        let disk = Disk {
            path: buffer_path(cfg),
            max: cfg.max_disk_bytes,
        };
        if st.conn_cfg.as_ref() != Some(cfg) {
            st.conn = None;
            st.conn_cfg = Some(cfg.clone());
            st.retry_at = Instant::now();
            st.backoff = backoff();
        }
        if st.conn.is_none() {
            if Instant::now() < st.retry_at {
                self.spill(&disk, &mut st.batch).await;
                return;
            }
            match transport::connect(cfg).await {
                Ok(c) => st.conn = Some(c),
                Err(e) => {
                    self.down(st, &e);
                    self.spill(&disk, &mut st.batch).await;
                    return;
                }
            }
        }
        let Some(conn) = st.conn.as_mut() else { return };
        let batch = &mut st.batch;
        if disk.len().await > 0 {
            if let Err(e) = disk.replay(conn, &mut batch.lines).await {
                self.down(st, &e);
                self.spill(&disk, &mut st.batch).await;
                return;
            }
        }
        loop {
            batch.render(&self.inner, cfg, BATCH);
            if batch.lines.is_empty() {
                break;
            }
            match conn.send(&batch.lines).await {
                Ok(()) => {
                    metrics::counter!("rawx_logship_sent_total")
                        .increment(batch.lines.len() as u64);
                }
                Err((sent, e)) => {
                    metrics::counter!("rawx_logship_sent_total").increment(sent as u64);
                    disk.append(&batch.lines, sent).await;
                    self.down(st, &e);
                    self.spill(&disk, &mut st.batch).await;
                    return;
                }
            }
            // Under load the queue refills as fast as it drains: let the ingester's tasks
            // have this worker between batches rather than after the whole backlog.
            tokio::task::yield_now().await;
        }
        if st.down_logged {
            tracing::info!("log aggregator reachable again");
        }
        st.down_logged = false;
        st.backoff = backoff();
    }

    fn down(&self, st: &mut State, e: &anyhow::Error) {
        st.conn = None;
        st.retry_at = Instant::now() + st.backoff.next().unwrap_or(BACKOFF_MAX);
        if !st.down_logged {
            tracing::warn!(error = %format!("{e:#}"), "cannot ship logs; buffering them on disk until the aggregator is back");
            st.down_logged = true;
        }
    }

    /// Moves everything queued in memory to the disk buffer.
    async fn spill(&self, disk: &Disk, batch: &mut Batch) {
        let cfg = self.inner.config();
        loop {
            batch.render(&self.inner, &cfg, BATCH * 8);
            if batch.lines.is_empty() {
                return;
            }
            disk.append(&batch.lines, 0).await;
        }
    }
}

#[async_trait::async_trait]
impl Component for ShipperComponent {
    fn name(&self) -> &'static str {
        "logship"
    }

    async fn run(&self, mut shutdown: Shutdown) -> anyhow::Result<()> {
        let mut st = State {
            conn: None,
            conn_cfg: None,
            retry_at: Instant::now(),
            backoff: backoff(),
            down_logged: false,
            batch: Batch::default(),
        };
        loop {
            let cfg = self.inner.config();
            metrics::gauge!("rawx_logship_queue_depth").set(self.inner.queued() as f64);
            if cfg.enabled {
                self.pump(&cfg, &mut st).await;
            } else {
                // Records queued just before shipping was turned off are not wanted.
                self.inner.clear();
                st.conn = None;
                st.conn_cfg = None;
            }
            let wait = if st.conn.is_none() && cfg.enabled {
                st.retry_at
                    .saturating_duration_since(Instant::now())
                    .max(Duration::from_millis(50))
            } else {
                Duration::from_secs(1)
            };
            tokio::select! {
                () = self.inner.notify.notified(), if st.conn.is_some() || !cfg.enabled => {}
                () = tokio::time::sleep(wait) => {}
                () = shutdown.wait() => break,
            }
        }
        // Last records (the shutdown's own) go out if they can, else to disk for next time.
        let cfg = self.inner.config();
        if cfg.enabled {
            let _ = tokio::time::timeout(Duration::from_secs(2), self.pump(&cfg, &mut st)).await;
            let disk = Disk {
                path: buffer_path(&cfg),
                max: cfg.max_disk_bytes,
            };
            self.spill(&disk, &mut st.batch).await;
        }
        Ok(())
    }
}

/// What `/api/v2/settings/logging/test/` checks: that the aggregator can be reached with
/// these settings (a connection for TCP and HTTPS, TLS included; for UDP, that the address
/// resolves, since a datagram is never answered).
pub async fn check_connection(cfg: &LogConfig) -> anyhow::Result<()> {
    transport::connect(cfg).await.map(drop)
}
