//! rawx's execution environment: the Python environment (ansible-core + ansible-runner) that
//! runs jobs. Either one the operator installed (`RAWX_ANSIBLE_RUNNER` or `ansible-runner` on
//! PATH), or a virtualenv rawx builds in its data dir on first need, `<data dir>/ee/<key>/`,
//! with the pinned versions below — AWX's "execution environment", without containers.
//!
//! Architecture invariants: the build is done by one supervised component ([`Builder`]), never
//! by a job; a job only waits ([`Environment::ready`]). A half-built virtualenv is never used:
//! the completion marker is written last, atomically, and a lock file keeps two processes (or
//! an orphaned installer of a killed one) from building at once. Depends on no rawx crate but
//! the supervisor; knows nothing of jobs, the store or HTTP.

#![forbid(unsafe_code)]

mod build;

use rawx_supervisor::{Component, Shutdown};
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio::sync::{watch, Notify};

/// What the managed environment installs: the pins `scripts/requirements-test.txt` tests with
/// (a unit test keeps the two in step). ansible-sign verifies signed project content, as in
/// AWX's execution environment.
pub const PINS: &[&str] = &[
    "ansible-core==2.17.7",
    "ansible-runner==2.4.0",
    "ansible-sign==0.1.6",
];

/// The command a managed environment gives the node: a wrapper that puts the virtualenv's
/// `bin/` first on PATH (ansible-runner finds `ansible-playbook` there), then runs its
/// `ansible-runner`.
pub const WRAPPER: &str = "rawx-ansible-runner";

#[derive(Debug, Clone, thiserror::Error, PartialEq)]
pub enum EeError {
    /// The build failed; the message says why and what to do.
    #[error("The execution environment could not be built: {0}")]
    Build(String),
    /// rawx is stopping.
    #[error("The controller stopped while the execution environment was being built; launch the job again.")]
    Stopped,
}

/// How to build a managed environment.
#[derive(Debug, Clone)]
pub struct Options {
    /// The interpreter `-m venv` runs with (`RAWX_EE_PYTHON`, default `python3`).
    pub python: PathBuf,
    /// Extra arguments for `pip install` (`RAWX_EE_PIP_ARGS`, split like a shell does). pip's
    /// own variables (`PIP_INDEX_URL`, `PIP_FIND_LINKS`, `PIP_NO_INDEX`, proxies…) reach pip
    /// untouched, so an offline wheelhouse or a private index works as it does with pip alone.
    pub pip_args: Vec<String>,
    /// Requirements to install (default [`PINS`]).
    pub pins: Vec<String>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            python: PathBuf::from("python3"),
            pip_args: Vec::new(),
            pins: PINS.iter().map(|s| s.to_string()).collect(),
        }
    }
}

impl Options {
    /// The defaults, changed by `RAWX_EE_PYTHON` and `RAWX_EE_PIP_ARGS`.
    pub fn from_env() -> Result<Options, EeError> {
        let mut o = Options::default();
        if let Some(p) = std::env::var_os("RAWX_EE_PYTHON").filter(|p| !p.is_empty()) {
            o.python = PathBuf::from(p);
        }
        if let Ok(args) = std::env::var("RAWX_EE_PIP_ARGS") {
            o.pip_args = shlex::split(&args).ok_or_else(|| {
                EeError::Build(format!(
                    "RAWX_EE_PIP_ARGS is not a valid argument list (unbalanced quotes?): {args:?}"
                ))
            })?;
        }
        Ok(o)
    }

    /// The directory name under `<data dir>/ee/`: a hash of what decides the environment's
    /// contents (interpreter and pins), so changing a pin builds a new one beside the old.
    /// Index options are left out: where the wheels come from does not change what is built.
    pub fn key(&self) -> String {
        use sha2::Digest;
        let mut h = sha2::Sha256::new();
        h.update(self.python.as_os_str().as_encoded_bytes());
        for p in &self.pins {
            h.update(b"\0");
            h.update(p.as_bytes());
        }
        hex::encode(&h.finalize()[..6])
    }
}

/// Where a build is, as jobs waiting for it see it.
#[derive(Debug, Clone, PartialEq)]
pub enum State {
    /// Not built and not asked for yet.
    Absent,
    /// Being built; the step in words ("installing … with pip").
    Building(String),
    Ready,
    /// The last attempt failed (the next job that needs it tries again).
    Failed(String),
}

enum Source {
    /// An `ansible-runner` the operator installed.
    External(PathBuf),
    Managed(build::Paths),
}

struct Inner {
    source: Source,
    options: Options,
    state: watch::Sender<State>,
    wanted: Notify,
}

/// The execution environment of this node, shared by the node (its work command), the task
/// role (which waits for it) and the API (which shows it). Cheap to clone.
#[derive(Clone)]
pub struct Environment(Arc<Inner>);

impl std::fmt::Debug for Environment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Environment")
            .field("image", &self.image())
            .field("state", &*self.0.state.borrow())
            .finish()
    }
}

impl Environment {
    /// An `ansible-runner` installed by the operator: always ready, never built.
    pub fn external(runner: PathBuf) -> Environment {
        Environment(Arc::new(Inner {
            source: Source::External(runner),
            options: Options::default(),
            state: watch::Sender::new(State::Ready),
            wanted: Notify::new(),
        }))
    }

    /// The virtualenv rawx manages under `<data_dir>/ee/`. Nothing is built here: a [`Builder`]
    /// builds it when a job first needs it (or at start, to finish an interrupted build).
    pub fn managed(data_dir: &Path, options: Options) -> Environment {
        let paths = build::Paths::new(&data_dir.join("ee"), &options.key());
        let state = if paths.is_complete(&options) {
            State::Ready
        } else {
            State::Absent
        };
        Environment(Arc::new(Inner {
            source: Source::Managed(paths),
            options,
            state: watch::Sender::new(state),
            wanted: Notify::new(),
        }))
    }

    pub fn is_managed(&self) -> bool {
        matches!(self.0.source, Source::Managed(_))
    }

    /// The program the node runs as `<program> worker`. For a managed environment it is known
    /// before the build, so the node can be configured at start.
    pub fn runner_command(&self) -> PathBuf {
        match &self.0.source {
            Source::External(p) => p.clone(),
            Source::Managed(p) => p.wrapper(),
        }
    }

    /// What the API shows as the execution environment's `image`: the virtualenv's directory,
    /// or the operator's `ansible-runner`.
    pub fn image(&self) -> String {
        match &self.0.source {
            Source::External(p) => p.display().to_string(),
            Source::Managed(p) => p.dir.display().to_string(),
        }
    }

    /// One line on what this environment is, for the API's `description`.
    pub fn description(&self) -> String {
        match &self.0.source {
            Source::External(_) => {
                "ansible-runner installed on this node (RAWX_ANSIBLE_RUNNER or PATH); not managed by rawx.".into()
            }
            Source::Managed(_) => format!(
                "Python virtualenv rawx builds and manages on first need: {}.",
                self.0.options.pins.join(", ")
            ),
        }
    }

    pub fn state(&self) -> State {
        self.0.state.borrow().clone()
    }

    /// Asks the builder for the environment (again, after a failure).
    fn want(&self) {
        self.0.state.send_if_modified(|s| match s {
            State::Absent | State::Failed(_) => {
                *s = State::Building("queued for building".into());
                true
            }
            _ => false,
        });
        self.0.wanted.notify_one();
    }

    /// Waits until the environment can run jobs, starting its build if nobody has. Each step
    /// of a build in progress is passed to `progress` (so a waiting job can show it), and an
    /// empty string once ready if any step was passed. An error says why and what to do.
    pub async fn ready<F, Fut>(&self, mut progress: F) -> Result<(), EeError>
    where
        F: FnMut(String) -> Fut,
        Fut: Future,
    {
        let mut rx = self.0.state.subscribe();
        let mut asked = false;
        let mut reported = false;
        loop {
            let state = rx.borrow_and_update().clone();
            match state {
                State::Ready => {
                    if reported {
                        progress(String::new()).await;
                    }
                    return Ok(());
                }
                State::Failed(why) if asked => return Err(EeError::Build(why)),
                State::Absent | State::Failed(_) => {
                    asked = true;
                    self.want();
                    continue;
                }
                State::Building(step) => {
                    asked = true;
                    progress(format!(
                        "Waiting for the execution environment ({}): {step}.",
                        self.image()
                    ))
                    .await;
                    reported = true;
                }
            }
            if rx.changed().await.is_err() {
                return Err(EeError::Stopped);
            }
        }
    }

    fn set(&self, state: State) {
        self.0.state.send_replace(state);
    }
}

/// Builds the managed environment when asked, as a supervised component (`ee`). At start it
/// finishes a build an earlier process left half done, and says when there is nothing to do.
pub struct Builder {
    env: Environment,
}

impl Builder {
    pub fn new(env: Environment) -> Builder {
        Builder { env }
    }
}

#[async_trait::async_trait]
impl Component for Builder {
    fn name(&self) -> &'static str {
        "ee"
    }

    async fn run(&self, mut shutdown: Shutdown) -> anyhow::Result<()> {
        let env = &self.env;
        let Source::Managed(paths) = &env.0.source else {
            shutdown.wait().await;
            return Ok(());
        };
        let opts = &env.0.options;
        if paths.is_complete(opts) {
            env.set(State::Ready);
            tracing::info!(dir = %paths.dir.display(), "managed execution environment already built; not rebuilding");
        } else if paths.dir.exists() {
            tracing::info!(dir = %paths.dir.display(), "an earlier build of the managed execution environment was interrupted; resuming it");
            env.want();
        } else if matches!(env.state(), State::Building(_)) {
            // Restarted by the supervisor mid-build: the jobs that asked are still waiting.
            env.0.wanted.notify_one();
        } else {
            tracing::info!(dir = %paths.dir.display(), pins = %opts.pins.join(" "), "ansible-runner is not installed: the managed execution environment will be built when a job first needs it");
        }
        loop {
            tokio::select! {
                _ = shutdown.wait() => return Ok(()),
                _ = env.0.wanted.notified() => {}
            }
            if env.state() == State::Ready {
                continue;
            }
            let progress = |step: &str| env.set(State::Building(step.to_string()));
            let t0 = std::time::Instant::now();
            let result = tokio::select! {
                _ = shutdown.wait() => return Ok(()),
                r = build::build(paths, opts, &progress) => r,
            };
            match result {
                Ok(()) => {
                    tracing::info!(dir = %paths.dir.display(), secs = t0.elapsed().as_secs_f64(), "managed execution environment ready");
                    env.set(State::Ready);
                }
                Err(why) => {
                    tracing::error!(dir = %paths.dir.display(), error = %why, "building the managed execution environment failed");
                    env.set(State::Failed(why));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;
