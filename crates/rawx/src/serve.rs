//! `rawx serve`: opens the store, seeds a new database, then runs this node's roles under one
//! supervisor until SIGINT/SIGTERM.

use anyhow::Context;
use clap::Args;
use rawx_model::secret::SecretKey;
use rawx_store::DynStore;
use rawx_supervisor::{Component, Restart, Shutdown, Supervisor};
use std::path::{Path, PathBuf};
use std::sync::Arc;

#[derive(Debug, Args)]
pub struct StoreArgs {
    /// Where rawx keeps its state: the SQLite database, the secret key, projects.
    #[arg(long, env = "RAWX_DATA_DIR", value_name = "DIR", global = true)]
    pub data_dir: Option<PathBuf>,
    /// `postgres://user@host/db` to use PostgreSQL instead of SQLite in the data dir.
    #[arg(
        long,
        env = "RAWX_DATABASE_URL",
        value_name = "URL",
        hide_env_values = true
    )]
    pub database_url: Option<String>,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    #[command(flatten)]
    store: StoreArgs,
    #[command(flatten)]
    receptor: crate::remote::RemoteArgs,
    /// Address to serve the API on (port 0 picks a free port; the chosen one is printed).
    #[arg(long, env = "RAWX_BIND", default_value = "127.0.0.1:8013")]
    bind: String,
    /// Where manual projects' directories live (default `<data dir>/projects`).
    #[arg(long, env = "RAWX_PROJECTS_DIR", value_name = "DIR")]
    projects_dir: Option<PathBuf>,
    /// `redis://host:port/` to share live messages (job status, events, signals) with the other
    /// nodes through Redis; without it they stay in this process.
    #[arg(
        long,
        env = "RAWX_REDIS_URL",
        value_name = "URL",
        hide_env_values = true
    )]
    redis_url: Option<String>,
    /// On SIGTERM, how many seconds running jobs may take to finish before they are handed
    /// back (left running; the next start re-attaches to them). No new job starts meanwhile.
    #[arg(
        long,
        env = "RAWX_DRAIN_TIMEOUT",
        value_name = "SECONDS",
        default_value_t = 10
    )]
    drain_timeout: u64,
}

impl StoreArgs {
    pub fn data_dir(&self) -> PathBuf {
        self.data_dir.clone().unwrap_or_else(|| {
            let base = std::env::var_os("XDG_DATA_HOME")
                .map(PathBuf::from)
                .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share")))
                .unwrap_or_else(|| PathBuf::from("."));
            base.join("rawx")
        })
    }
}

/// The key that seals credentials: `RAWX_SECRET_KEY`, else `<data dir>/secret.key`, created
/// (readable by its owner only) on first start.
pub(crate) fn secret_key(data_dir: &Path) -> anyhow::Result<SecretKey> {
    if let Ok(text) = std::env::var("RAWX_SECRET_KEY") {
        return SecretKey::from_text(&text).context("RAWX_SECRET_KEY");
    }
    let path = data_dir.join("secret.key");
    if !path.exists() {
        write_private(&path, &SecretKey::generate())?;
        tracing::info!(path = %path.display(), "created a new secret key; back it up with the database");
    }
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    SecretKey::from_text(&text)
        .with_context(|| format!("{} is not a rawx secret key", path.display()))
}

fn write_private(path: &Path, text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    f.write_all(text.as_bytes())?;
    Ok(())
}

/// Opens and migrates the store the arguments name; returns it with the data dir.
pub async fn open_store(args: &StoreArgs) -> anyhow::Result<(DynStore, PathBuf)> {
    let data_dir = args.data_dir();
    std::fs::create_dir_all(&data_dir)
        .with_context(|| format!("creating the data dir {}", data_dir.display()))?;
    let url = match &args.database_url {
        Some(u) => u.clone(),
        None => format!("sqlite://{}", data_dir.join("rawx.db").display()),
    };
    let store = rawx_store::open(&url)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    store
        .migrate()
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))
        .context("migrating the database")?;
    Ok((store, data_dir))
}

fn node_name() -> String {
    std::env::var("RAWX_NODE_NAME")
        .ok()
        .or_else(|| {
            std::fs::read_to_string("/etc/hostname")
                .ok()
                .map(|s| s.trim().to_string())
        })
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "rawx".into())
}

/// Which roles a process runs: `serve` all, `web` the API and websockets, `task` the task
/// manager, dispatcher and ingester with their execution node. Several `web` and `task`
/// processes share one PostgreSQL database and one Redis (`--redis-url`).
#[derive(Debug, Clone, Copy)]
pub struct Roles {
    pub web: bool,
    pub task: bool,
}

impl Roles {
    pub const ALL: Roles = Roles {
        web: true,
        task: true,
    };
    pub const WEB: Roles = Roles {
        web: true,
        task: false,
    };
    pub const TASK: Roles = Roles {
        web: false,
        task: true,
    };
}

pub async fn run(
    args: ServeArgs,
    shipper: rawx_logship::Shipper,
    roles: Roles,
) -> anyhow::Result<()> {
    let (store, data_dir) = open_store(&args.store).await?;
    let key = secret_key(&data_dir)?;
    let projects_dir = args
        .projects_dir
        .clone()
        .unwrap_or_else(|| data_dir.join("projects"));
    std::fs::create_dir_all(&projects_dir)
        .with_context(|| format!("creating {}", projects_dir.display()))?;

    let seeded = rawx_api::seed(&store, std::env::var("RAWX_ADMIN_PASSWORD").ok())
        .await
        .map_err(|e| anyhow::anyhow!("seeding the database: {e}"))?;
    let preload_wanted = !matches!(
        std::env::var("RAWX_PRELOAD_DATA")
            .as_deref()
            .map(str::to_ascii_lowercase)
            .as_deref(),
        Ok("false" | "0" | "no")
    );
    if seeded.admin.is_some() && preload_wanted {
        rawx_api::preload(&store, &projects_dir)
            .await
            .map_err(|e| anyhow::anyhow!("creating the preload data: {e}"))?;
        println!("Created AWX's preload data: try `awx job_templates launch \"Demo Job Template\" --monitor`.");
    }
    if let Some((user, password)) = &seeded.admin {
        if std::env::var("RAWX_ADMIN_PASSWORD").is_ok() {
            println!("Created superuser {user} with the password from RAWX_ADMIN_PASSWORD.");
        } else {
            println!("Created superuser {user} with password: {password}");
            println!("(shown once; change it with `rawx manage update-password --username {user} --password …`)");
        }
    }

    let listener = if roles.web {
        let l = std::net::TcpListener::bind(&args.bind).with_context(|| {
            format!(
                "cannot listen on {}: is another server using it? choose another with --bind",
                args.bind
            )
        })?;
        l.set_nonblocking(true)?;
        Some(l)
    } else {
        None
    };
    let config = rawx_api::Config {
        node_name: node_name(),
        projects_dir,
        install_uuid: seeded.install_uuid,
    };
    let bus: Arc<dyn rawx_bus::Bus> = match &args.redis_url {
        Some(url) => rawx_bus::RedisBus::connect(url, &config.install_uuid)
            .await
            .map_err(|e| anyhow::anyhow!("--redis-url: {e}"))?,
        None => rawx_bus::InProcessBus::new(),
    };
    let components = rawx_supervisor::StatusHandle::default();
    let ops = rawx_api::Ops {
        components: Arc::new(Supervised(components.clone())),
        prometheus: install_metrics(&node_name()),
    };
    let state = rawx_api::AppState::with_ops(store.clone(), bus.clone(), key, config, ops);

    // Only a task process runs jobs: it alone finds the execution environment and starts (or
    // dials) the execution node; a web process never does.
    let task = if roles.task {
        let environment = execution_environment(&data_dir)?;
        rawx_api::show_execution_environment(
            &store,
            &environment.image(),
            &environment.description(),
        )
        .await
        .map_err(|e| anyhow::anyhow!("recording the execution environment: {e}"))?;
        let node: Arc<dyn rawx_mesh::WorkNode> = match args.receptor.connect().await? {
            Some(remote) => Arc::new(remote),
            None => Arc::new(start_node(
                &data_dir,
                &node_name(),
                &environment.runner_command(),
            )?),
        };
        let shared = rawx_control::Shared {
            store: store.clone(),
            bus: bus.clone(),
            node,
            key: state.key.clone(),
            projects_dir: state.config.projects_dir.clone(),
            jobs_dir: data_dir.join("jobs"),
            node_name: node_name(),
            capacity: rawx_model::capacity::local_capacity(),
            environment: environment.clone(),
            ingest: rawx_control::Ingest::new(),
        };
        Some((shared, environment))
    } else {
        None
    };
    let drain = std::time::Duration::from_secs(args.drain_timeout);
    let faults = match std::env::var("RAWX_TEST_FAULT") {
        Ok(spec) => rawx_supervisor::Faults::parse(&spec)
            .map_err(|e| anyhow::anyhow!("RAWX_TEST_FAULT: {e}"))?,
        Err(_) => rawx_supervisor::Faults::default(),
    };
    // The grace outlasts the task role's drain, so draining jobs are not cut short by abort.
    let mut sup = Supervisor::new()
        .with_status_handle(components)
        .with_faults(faults.clone())
        .with_grace(drain + std::time::Duration::from_secs(5));
    // Ship from the first line on if external logging is already configured.
    let log_buffer = data_dir.join("logship");
    shipper.configure(log_config(&state, &log_buffer).await);
    sup.add(
        Arc::new(LogShip {
            state: state.clone(),
            shipper,
            buffer_dir: log_buffer,
        }),
        Restart::Always,
    );
    let mut serving = None;
    if let Some(listener) = listener {
        serving = Some(listener.local_addr()?);
        sup.add(
            Arc::new(WebServer {
                listener,
                state: state.clone(),
            }),
            Restart::Always,
        );
    }
    if let Some((shared, environment)) = task {
        if environment.is_managed() {
            sup.add(
                Arc::new(rawx_ee::Builder::new(environment)),
                Restart::Always,
            );
        }
        let role = rawx_control::TaskRole::new(shared)
            .with_drain(drain)
            .with_lost_after(lost_after()?)
            .with_faults(faults);
        for component in role.components() {
            sup.add(component, Restart::Always);
        }
    }
    match serving {
        Some(addr) => println!(
            "rawx {} serving http://{addr}/api/ (data in {}, database {})",
            env!("CARGO_PKG_VERSION"),
            data_dir.display(),
            store.backend()
        ),
        None => println!(
            "rawx {} task node {} running (data in {}, database {})",
            env!("CARGO_PKG_VERSION"),
            node_name(),
            data_dir.display(),
            store.backend()
        ),
    }
    sup.run_until_signal().await
}

/// `RAWX_NODE_LOST_AFTER`: seconds another task node may stay silent before its active jobs
/// are ended. Unset: AWX's settings decide (`CLUSTER_NODE_HEARTBEAT_PERIOD` ×
/// `CLUSTER_NODE_MISSED_HEARTBEAT_TOLERANCE`, 120 s by default).
fn lost_after() -> anyhow::Result<Option<std::time::Duration>> {
    match std::env::var("RAWX_NODE_LOST_AFTER") {
        Ok(v) => v
            .parse::<u64>()
            .ok()
            .filter(|s| *s >= 5)
            .map(|s| Some(std::time::Duration::from_secs(s)))
            .ok_or_else(|| {
                anyhow::anyhow!(
                    "RAWX_NODE_LOST_AFTER must be a number of seconds, at least 5 (got {v:?})"
                )
            }),
        Err(_) => Ok(None),
    }
}

/// The process-wide recorder the roles' counters go to (`metrics` facade), labelled with the
/// node like AWX's subsystem metrics. `None` if one is installed already (only in tests).
fn install_metrics(node: &str) -> Option<metrics_exporter_prometheus::PrometheusHandle> {
    match metrics_exporter_prometheus::PrometheusBuilder::new()
        .add_global_label("node", node)
        .install_recorder()
    {
        Ok(handle) => {
            metrics::describe_gauge!(
                "callback_receiver_events_insert_db",
                "Number of events batch inserted into database"
            );
            metrics::describe_counter!(
                "rawx_logship_sent_total",
                "Log records delivered to the external log aggregator"
            );
            metrics::describe_counter!(
                "rawx_logship_buffered_total",
                "Log records written to the on-disk buffer while the aggregator was unreachable"
            );
            metrics::describe_counter!(
                "rawx_logship_dropped_total",
                "Log records dropped (memory queue or disk buffer full)"
            );
            metrics::describe_gauge!(
                "rawx_logship_queue_depth",
                "Log records waiting in memory to be shipped"
            );
            Some(handle)
        }
        Err(e) => {
            tracing::warn!(error = %e, "cannot install the metrics recorder; /api/v2/metrics/ shows the database figures only");
            None
        }
    }
}

/// Where `ansible-runner` is: `RAWX_ANSIBLE_RUNNER` (empty counts as unset), else the first
/// on PATH.
pub fn ansible_runner() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("RAWX_ANSIBLE_RUNNER").filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(p));
    }
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|d| d.join("ansible-runner"))
        .find(|p| p.is_file())
}

/// The environment jobs run in: the operator's `ansible-runner` when there is one, else the
/// virtualenv rawx builds in the data dir when a job first needs it.
fn execution_environment(data_dir: &Path) -> anyhow::Result<rawx_ee::Environment> {
    if let Some(runner) = ansible_runner() {
        return Ok(rawx_ee::Environment::external(runner));
    }
    let options = rawx_ee::Options::from_env().map_err(|e| anyhow::anyhow!("{e}"))?;
    let env = rawx_ee::Environment::managed(data_dir, options);
    tracing::info!(runner = %env.runner_command().display(), "ansible-runner is not on PATH and RAWX_ANSIBLE_RUNNER is not set: jobs run in rawx's managed execution environment");
    Ok(env)
}

/// The in-process execution node `rawx serve` runs jobs on: the same work-unit code a
/// standalone `rawx receptor` serves over its socket.
fn start_node(data_dir: &Path, node_id: &str, runner: &Path) -> anyhow::Result<rawx_mesh::Node> {
    let receptor_dir = data_dir.join("receptor");
    std::fs::create_dir_all(&receptor_dir)?;
    let yaml = format!(
        "- node:\n    id: {node_id}\n    datadir: {}\n- local-only: null\n- work-command:\n    worktype: {}\n    command: {}\n    params: worker\n    allowruntimeparams: true\n",
        receptor_dir.display(),
        rawx_control::WORK_TYPE,
        runner.display(),
    );
    let config =
        rawx_mesh::Config::parse(&yaml, "rawx serve").map_err(|e| anyhow::anyhow!("{e}"))?;
    rawx_mesh::Node::start(&config, rawx_mesh::WorkOptions::default().with_own_runner())
        .map_err(|e| anyhow::anyhow!("starting the execution node: {e}"))
}

/// The API and web UI server as a supervised component. The socket is bound once, before the
/// supervisor starts, so a taken port fails the start loudly and a restart keeps the port.
struct WebServer {
    listener: std::net::TcpListener,
    state: Arc<rawx_api::AppState>,
}

#[async_trait::async_trait]
impl Component for WebServer {
    fn name(&self) -> &'static str {
        "web"
    }

    async fn run(&self, mut shutdown: Shutdown) -> anyhow::Result<()> {
        let listener = tokio::net::TcpListener::from_std(self.listener.try_clone()?)?;
        // The web UI answers `/`, its client routes and `/static/`; every other path is the
        // API's (its own 404s and the websocket included).
        let router = rawx_ui::router().fallback_service(rawx_api::router(self.state.clone()));
        rawx_api::serve(listener, router, async move { shutdown.wait().await }).await?;
        Ok(())
    }
}

/// Log shipping as a supervised component: the shipper's own loop, plus a look at the
/// logging settings every second (they live in the store, where any web node may change them).
struct LogShip {
    state: Arc<rawx_api::AppState>,
    shipper: rawx_logship::Shipper,
    buffer_dir: PathBuf,
}

#[async_trait::async_trait]
impl Component for LogShip {
    fn name(&self) -> &'static str {
        "logship"
    }

    async fn run(&self, shutdown: Shutdown) -> anyhow::Result<()> {
        let shipping = self.shipper.component();
        let follow_settings = async {
            loop {
                let cfg = log_config(&self.state, &self.buffer_dir).await;
                self.shipper.configure(cfg);
                tokio::time::sleep(std::time::Duration::from_secs(1)).await;
            }
        };
        tokio::select! {
            result = shipping.run(shutdown) => result,
            () = follow_settings => Ok(()),
        }
    }
}

/// The supervisor's component states, as the API shows them (ping, `/api/v2/metrics/`).
struct Supervised(rawx_supervisor::StatusHandle);

impl rawx_api::Components for Supervised {
    fn snapshot(&self) -> Vec<rawx_api::ComponentState> {
        self.0
            .snapshot()
            .into_iter()
            .map(|c| rawx_api::ComponentState {
                name: c.name,
                state: c.state.as_str(),
                restarts: c.restarts,
                last_error: c.last_error,
            })
            .collect()
    }
}

/// The stored logging settings as the shipper's configuration.
async fn log_config(
    state: &rawx_api::AppState,
    disk_fallback: &std::path::Path,
) -> rawx_logship::LogConfig {
    rawx_domain::settings::log_config(
        &state.settings(),
        &state.key,
        &state.config.node_name,
        disk_fallback,
    )
    .await
}
