//! The loop that keeps one component alive: start, watch, classify the exit, back off,
//! restart, and stop it within its grace period on shutdown.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::task::{JoinError, JoinHandle};
use tracing::Instrument as _;

use crate::{Component, ComponentState, Restart, Shutdown, StatusHandle, SupervisorError};

#[derive(Debug, Clone, Copy)]
pub(crate) struct Settings {
    pub backoff_min: Duration,
    pub backoff_max: Duration,
    pub healthy_after: Duration,
    pub grace: Duration,
    pub max_failures: u32,
    pub window: Duration,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            backoff_min: Duration::from_millis(100),
            backoff_max: Duration::from_secs(10),
            healthy_after: Duration::from_secs(30),
            grace: Duration::from_secs(10),
            max_failures: 5,
            window: Duration::from_secs(60),
        }
    }
}

pub(crate) struct Slot {
    pub component: Arc<dyn Component>,
    pub restart: Restart,
    /// Position in the status list.
    pub index: usize,
    pub faults: crate::Faults,
}

/// Owns a component's task and aborts it when dropped: if the slot itself is dropped (the
/// supervisor's `run` future was dropped), the component must not keep running unseen.
struct TaskGuard(JoinHandle<anyhow::Result<()>>);

impl Drop for TaskGuard {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// How one run of a component ended.
enum Exit {
    /// `run` returned Ok.
    Finished,
    /// `run` returned Err or panicked.
    Failed(anyhow::Error),
}

/// Supervises one component until shutdown (`Ok`) or until it fails for good (`Err`).
pub(crate) async fn supervise(
    slot: Slot,
    settings: Settings,
    mut shutdown: Shutdown,
    status: StatusHandle,
) -> Result<(), SupervisorError> {
    let name = slot.component.name();
    let set_state = |state| status.update(slot.index, |s| s.state = state);
    let mut backoff = Backoff::new(settings.backoff_min, settings.backoff_max);
    let mut recent_failures: VecDeque<Instant> = VecDeque::new();
    let mut restarts: u32 = 0;

    loop {
        if shutdown.is_shutdown() {
            set_state(ComponentState::Stopped);
            return Ok(());
        }
        set_state(ComponentState::Starting);
        tracing::info!(component = name, restarts, "starting component");
        let started = Instant::now();
        let component = Arc::clone(&slot.component);
        let task_shutdown = shutdown.clone();
        // The span gives the component's own log lines the same `component` field.
        let span = tracing::info_span!("component", component = name);
        let injected = slot.faults.take(name);
        let mut task = TaskGuard(tokio::spawn(
            async move {
                if injected {
                    panic!(
                        "RAWX_TEST_FAULT: injected failure of component `{}`",
                        component.name()
                    );
                }
                component.run(task_shutdown).await
            }
            .instrument(span),
        ));
        set_state(ComponentState::Running);

        let exit = tokio::select! {
            joined = &mut task.0 => exit_of(joined),
            () = shutdown.wait() => match stop(name, &mut task, settings.grace).await {
                Some(exit) => exit,
                None => {
                    let note = format!(
                        "did not stop within the {:?} grace period; aborted",
                        settings.grace
                    );
                    status.update(slot.index, |s| {
                        s.state = ComponentState::Stopped;
                        s.last_error = Some(note);
                    });
                    return Ok(());
                }
            },
        };

        let error = match exit {
            Exit::Finished => {
                set_state(ComponentState::Stopped);
                if shutdown.is_shutdown() {
                    tracing::info!(component = name, "component stopped");
                } else {
                    tracing::info!(
                        component = name,
                        "component finished its work; not restarting"
                    );
                }
                return Ok(());
            }
            Exit::Failed(error) => error,
        };
        // `{:#}` keeps anyhow's whole context chain on one line.
        let chain = format!("{error:#}");
        status.update(slot.index, |s| s.last_error = Some(chain.clone()));

        if shutdown.is_shutdown() {
            // Everything is stopping anyway: no restart, and no reason to turn a clean
            // shutdown into an error exit. Still loud, because it may have lost work.
            set_state(ComponentState::Failed);
            tracing::error!(component = name, error = %chain, "component failed while stopping");
            return Ok(());
        }
        tracing::error!(component = name, error = %chain, restarts, "component failed");

        if slot.restart == Restart::Never {
            set_state(ComponentState::Failed);
            return Err(SupervisorError::Fatal {
                component: name,
                source: error.into(),
            });
        }

        let now = Instant::now();
        if now.duration_since(started) >= settings.healthy_after {
            backoff.reset();
        }
        recent_failures.push_back(now);
        while recent_failures
            .front()
            .is_some_and(|t| now.duration_since(*t) > settings.window)
        {
            recent_failures.pop_front();
        }
        let failures = u32::try_from(recent_failures.len()).unwrap_or(u32::MAX);
        if failures >= settings.max_failures {
            set_state(ComponentState::Failed);
            return Err(SupervisorError::CrashLoop {
                component: name,
                failures,
                window: settings.window,
                source: error.into(),
            });
        }

        let delay = backoff.next_delay();
        set_state(ComponentState::Backoff);
        tracing::warn!(
            component = name,
            delay_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
            "restarting component after backoff"
        );
        tokio::select! {
            () = tokio::time::sleep(delay) => {}
            () = shutdown.wait() => {
                set_state(ComponentState::Stopped);
                tracing::info!(component = name, "component stopped while in backoff");
                return Ok(());
            }
        }
        restarts += 1;
        status.update(slot.index, |s| s.restarts = restarts);
    }
}

/// Gives a running component its grace period after shutdown. `None` means it had to be
/// aborted.
async fn stop(name: &'static str, task: &mut TaskGuard, grace: Duration) -> Option<Exit> {
    tracing::info!(component = name, ?grace, "stopping component");
    if let Ok(joined) = tokio::time::timeout(grace, &mut task.0).await {
        return Some(exit_of(joined));
    }
    tracing::warn!(
        component = name,
        ?grace,
        "component ignored shutdown for its whole grace period; aborting it"
    );
    task.0.abort();
    // Wait for the abort to land so its sockets and files are released before `run` returns.
    // A component blocking its thread cannot be aborted, so do not wait forever for it.
    if tokio::time::timeout(grace, &mut task.0).await.is_err() {
        tracing::error!(
            component = name,
            "component still running after abort: it is blocking a runtime thread \
             (blocking work belongs in spawn_blocking)"
        );
    }
    None
}

fn exit_of(joined: Result<anyhow::Result<()>, JoinError>) -> Exit {
    match joined {
        Ok(Ok(())) => Exit::Finished,
        Ok(Err(error)) => Exit::Failed(error),
        Err(err) if err.is_panic() => {
            let payload = err.into_panic();
            let message = payload
                .downcast_ref::<&str>()
                .copied()
                .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
                .unwrap_or("(non-string panic payload)");
            Exit::Failed(anyhow::anyhow!("panicked: {message}"))
        }
        // Only happens if the runtime itself is shutting down under us.
        Err(err) => Exit::Failed(anyhow::anyhow!("task ended without finishing: {err}")),
    }
}

/// Exponential restart delay: `min`, doubling per consecutive failure, capped at `max`.
#[derive(Debug)]
/// Restart delays: `min` doubling to `max` (the workspace's one backoff, `backon`), started
/// over after a healthy run.
struct Backoff {
    builder: backon::ExponentialBuilder,
    max: Duration,
    delays: backon::ExponentialBackoff,
}

impl Backoff {
    fn new(min: Duration, max: Duration) -> Self {
        use backon::BackoffBuilder;
        let builder = backon::ExponentialBuilder::default()
            .with_min_delay(min)
            .with_max_delay(max)
            .without_max_times();
        Self {
            builder,
            max,
            delays: builder.build(),
        }
    }

    fn next_delay(&mut self) -> Duration {
        self.delays.next().unwrap_or(self.max)
    }

    fn reset(&mut self) {
        use backon::BackoffBuilder;
        self.delays = self.builder.build();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_caps_and_resets() {
        let ms = Duration::from_millis;
        let mut b = Backoff::new(ms(100), ms(500));
        // Whole milliseconds: backon multiplies in floating point (200.000003 ms).
        let delays: Vec<_> = (0..5).map(|_| b.next_delay().as_millis()).collect();
        assert_eq!(delays, [100, 200, 400, 500, 500]);
        b.reset();
        assert_eq!(b.next_delay(), ms(100));
    }
}
