use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinSet;

use crate::slot::{supervise, Settings, Slot};
use crate::{Component, Faults, ShutdownHandle, StatusHandle, SupervisorError};

/// What to do when a component fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Restart {
    /// Restart it after an exponential backoff, until the crash-loop limit is hit.
    Always,
    /// Stop the whole supervisor with an error (supervisord's FATAL, AWX's superwatcher):
    /// for components whose failure means the process cannot do its job.
    Never,
}

/// Runs every added [`Component`] in its own task, restarts failures, and stops them all on
/// one shutdown signal.
pub struct Supervisor {
    slots: Vec<Slot>,
    settings: Settings,
    shutdown: ShutdownHandle,
    status: StatusHandle,
    faults: Faults,
}

impl Default for Supervisor {
    fn default() -> Self {
        Self::new()
    }
}

impl Supervisor {
    /// Defaults: backoff 100 ms doubling to 10 s, reset after 30 s of healthy running; give up
    /// after 5 failures within 60 s; 10 s grace on shutdown.
    pub fn new() -> Self {
        Self {
            slots: Vec::new(),
            settings: Settings::default(),
            shutdown: ShutdownHandle::new(),
            status: StatusHandle::default(),
            faults: Faults::default(),
        }
    }

    /// Reports into `status` instead of a handle of its own, so readers (the API's health
    /// and metrics) can be built before the supervisor. Call before any [`add`](Self::add).
    pub fn with_status_handle(mut self, status: StatusHandle) -> Self {
        self.status = status;
        self
    }

    /// Test-only fault injection (see [`Faults`]): the named components' first starts panic.
    pub fn with_faults(mut self, faults: Faults) -> Self {
        if !faults.is_empty() {
            tracing::warn!(?faults, "test fault injection is on (RAWX_TEST_FAULT)");
        }
        self.faults = faults;
        self
    }

    /// Restart delay: starts at `min`, doubles on each consecutive failure, capped at `max`.
    pub fn with_backoff(mut self, min: Duration, max: Duration) -> Self {
        self.settings.backoff_min = min;
        self.settings.backoff_max = max.max(min);
        self
    }

    /// How long a component that ran this long without failing counts as healthy again: its
    /// backoff goes back to the minimum.
    pub fn with_healthy_after(mut self, after: Duration) -> Self {
        self.settings.healthy_after = after;
        self
    }

    /// How long each component may take to stop after shutdown before it is aborted.
    pub fn with_grace(mut self, grace: Duration) -> Self {
        self.settings.grace = grace;
        self
    }

    /// Crash-loop limit: the `max_failures`-th failure of one component within `window` makes
    /// [`run`](Self::run) give up with [`SupervisorError::CrashLoop`]. `max_failures` is at least 1.
    pub fn with_crash_loop(mut self, max_failures: u32, window: Duration) -> Self {
        self.settings.max_failures = max_failures.max(1);
        self.settings.window = window;
        self
    }

    /// Adds a component; it starts when [`run`](Self::run) is called.
    pub fn add(&mut self, component: Arc<dyn Component>, restart: Restart) {
        let name = component.name();
        if self.slots.iter().any(|s| s.component.name() == name) {
            // Not fatal, but logs and status would no longer tell the two apart.
            tracing::warn!(component = name, "two components share this name");
        }
        let index = self.status.register(name);
        self.slots.push(Slot {
            component,
            restart,
            index,
            faults: self.faults.clone(),
        });
    }

    /// Calling [`ShutdownHandle::trigger`] on this asks every component to stop.
    pub fn shutdown_handle(&self) -> ShutdownHandle {
        self.shutdown.clone()
    }

    pub fn status_handle(&self) -> StatusHandle {
        self.status.clone()
    }

    /// Starts every component and returns once shutdown was requested and all have stopped
    /// (`Ok`), or once one failed for good (`Err` holding a [`SupervisorError`] that names it,
    /// after the others were stopped the same graceful way). Also returns `Ok` when every
    /// component finished its work on its own.
    pub async fn run(self) -> anyhow::Result<()> {
        let Self {
            slots,
            settings,
            shutdown,
            status,
            faults: _,
        } = self;
        if slots.is_empty() {
            tracing::warn!("supervisor has no components to run");
            return Ok(());
        }

        // A JoinSet, not bare spawns: dropping `run` (e.g. on a forced exit) aborts every
        // slot task, and each slot aborts its component task when dropped, so nothing leaks.
        let mut tasks = JoinSet::new();
        let mut names = HashMap::with_capacity(slots.len());
        for slot in slots {
            let name = slot.component.name();
            let (shutdown, status) = (shutdown.subscribe(), status.clone());
            let task = tasks.spawn(supervise(slot, settings, shutdown, status));
            names.insert(task.id(), name);
        }

        let mut failure: Option<SupervisorError> = None;
        while let Some(joined) = tasks.join_next_with_id().await {
            let result = match joined {
                Ok((_, result)) => result,
                // Slot tasks run only this crate's code; a panic there is our bug, but it
                // must still stop the process rather than leave a role silently unsupervised.
                Err(err) => Err(SupervisorError::Internal {
                    component: names.get(&err.id()).copied().unwrap_or("?"),
                    reason: err.to_string(),
                }),
            };
            if let Err(err) = result {
                if failure.is_none() {
                    tracing::error!(
                        component = err.component().unwrap_or("?"),
                        error = %error_chain(&err),
                        "supervisor giving up; stopping all components"
                    );
                    shutdown.trigger();
                    failure = Some(err);
                } else {
                    tracing::error!(
                        component = err.component().unwrap_or("?"),
                        error = %error_chain(&err),
                        "another component failed while stopping"
                    );
                }
            }
        }
        tracing::info!("all components stopped");
        match failure {
            Some(err) => Err(err.into()),
            None => Ok(()),
        }
    }

    /// [`run`](Self::run), plus: SIGINT or SIGTERM requests shutdown; a second one while
    /// stopping aborts everything at once and returns [`SupervisorError::Forced`].
    pub async fn run_until_signal(self) -> anyhow::Result<()> {
        // Register before starting anything, so a signal can never slip between the two and
        // a failure to register is reported before any component runs.
        let mut signals = Signals::new()?;
        let shutdown = self.shutdown_handle();
        let run = self.run();
        tokio::pin!(run);
        tokio::select! {
            result = &mut run => return result,
            signal = signals.recv() => {
                tracing::info!(signal, "shutdown requested by signal");
                shutdown.trigger();
            }
        }
        tokio::select! {
            result = &mut run => result,
            signal = signals.recv() => {
                tracing::warn!(signal, "second signal; aborting components without grace");
                // Returning drops `run`, whose JoinSet aborts every task.
                Err(SupervisorError::Forced.into())
            }
        }
    }
}

/// `a: b: c` on one line, for log fields that must stay single-line (JSON logs).
pub(crate) fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut out = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        out.push_str(": ");
        out.push_str(&cause.to_string());
        source = cause.source();
    }
    out
}

#[cfg(unix)]
struct Signals {
    int: tokio::signal::unix::Signal,
    term: tokio::signal::unix::Signal,
}

#[cfg(unix)]
impl Signals {
    fn new() -> anyhow::Result<Self> {
        use anyhow::Context as _;
        use tokio::signal::unix::{signal, SignalKind};
        Ok(Self {
            int: signal(SignalKind::interrupt()).context("cannot listen for SIGINT")?,
            term: signal(SignalKind::terminate()).context("cannot listen for SIGTERM")?,
        })
    }

    async fn recv(&mut self) -> &'static str {
        tokio::select! {
            _ = self.int.recv() => "SIGINT",
            _ = self.term.recv() => "SIGTERM",
        }
    }
}

#[cfg(not(unix))]
struct Signals;

#[cfg(not(unix))]
impl Signals {
    fn new() -> anyhow::Result<Self> {
        Ok(Self)
    }

    async fn recv(&mut self) -> &'static str {
        match tokio::signal::ctrl_c().await {
            Ok(()) => "ctrl-c",
            // Without a signal source only the ShutdownHandle can stop us; never fire.
            Err(_) => std::future::pending().await,
        }
    }
}
