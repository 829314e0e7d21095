//! Background loops in garage's shape: a [`Worker`] does one unit of work at a time and says
//! whether more is waiting; [`WorkerComponent`] turns it into a supervised [`Component`], so
//! the loop, its shutdown handling and its restart-on-error are written once, here.

use async_trait::async_trait;

use crate::{Component, Shutdown};

/// What a worker reports after one unit of work.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WorkerState {
    /// More work is waiting: call `work` again.
    Busy,
    /// Nothing to do: call `wait_for_work`, then `work` again.
    Idle,
    /// Finished for good: the component stops and is not restarted.
    Done,
}

#[async_trait]
pub trait Worker: Send + 'static {
    /// Does one unit of work, if any is available (otherwise returns `Idle` at once). It is
    /// not interrupted when shutdown is requested, so one unit should finish well within the
    /// supervisor's grace period. An `Err` fails the component: the supervisor restarts it
    /// with backoff, building a fresh worker.
    async fn work(&mut self) -> anyhow::Result<WorkerState>;

    /// Waits until work may be available (a notification, a poll interval). Dropped midway
    /// when shutdown is requested, so it must be cancel-safe.
    async fn wait_for_work(&mut self);
}

/// A [`Component`] that drives a [`Worker`]. It builds a new worker on every (re)start, so a
/// failure or a panic halfway through a unit of work never leaks half-updated state into the
/// next run: the same guarantee as restarting a process.
pub struct WorkerComponent<W> {
    name: &'static str,
    make: Box<dyn Fn() -> W + Send + Sync>,
}

impl<W: Worker> WorkerComponent<W> {
    /// `make` builds the worker; capture shared handles (store, bus) in it by `Arc`.
    pub fn new(name: &'static str, make: impl Fn() -> W + Send + Sync + 'static) -> Self {
        Self {
            name,
            make: Box::new(make),
        }
    }
}

#[async_trait]
impl<W: Worker> Component for WorkerComponent<W> {
    fn name(&self) -> &'static str {
        self.name
    }

    async fn run(&self, mut shutdown: Shutdown) -> anyhow::Result<()> {
        let mut worker = (self.make)();
        let mut state = WorkerState::Busy;
        loop {
            if shutdown.is_shutdown() {
                return Ok(());
            }
            match state {
                WorkerState::Busy => {
                    state = worker.work().await?;
                    // A worker that is always Busy and never awaits anything pending would
                    // otherwise hold its runtime thread and starve its neighbours.
                    tokio::task::yield_now().await;
                }
                WorkerState::Idle => tokio::select! {
                    () = worker.wait_for_work() => state = WorkerState::Busy,
                    () = shutdown.wait() => return Ok(()),
                },
                WorkerState::Done => return Ok(()),
            }
        }
    }
}
