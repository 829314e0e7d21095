//! The supervised component `scheduler`: launches every enabled schedule whose `next_run` has
//! come, once across all task processes (the claim and the launch are
//! `rawx_domain::schedules::run_due`), and moves `next_run` to the first occurrence after now,
//! so a schedule that missed several runs while nothing ran launches once, as AWX's does.

use crate::Shared;
use rawx_domain::messages::{Message, SchedulesChanged};
use rawx_domain::schedules::{earliest, run_due, TICK};
use rawx_supervisor::{Component, Shutdown};

pub(crate) struct Scheduler {
    pub(crate) shared: Shared,
}

#[async_trait::async_trait]
impl Component for Scheduler {
    fn name(&self) -> &'static str {
        "scheduler"
    }

    async fn run(&self, mut shutdown: Shutdown) -> anyhow::Result<()> {
        let (store, bus) = (&*self.shared.store, &*self.shared.bus);
        let mut sub = bus.subscribe(&[SchedulesChanged::CHANNEL]);
        let mut tick = tokio::time::interval(TICK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut next: Option<tokio::time::Instant> = None;
        loop {
            tokio::select! {
                _ = shutdown.wait() => return Ok(()),
                _ = tick.tick() => {}
                // Wake at the earliest occurrence itself, not at the tick after it.
                _ = tokio::time::sleep_until(next.unwrap_or_else(tokio::time::Instant::now)), if next.is_some() => {}
                r = sub.recv() => {
                    if matches!(r, rawx_bus::Received::Closed) {
                        sub = bus.subscribe(&[SchedulesChanged::CHANNEL]);
                    }
                }
            }
            if let Err(e) = run_due(store, bus, &self.shared.key).await {
                tracing::warn!(error = %e, "scheduler pass failed");
            }
            next = match earliest(store).await {
                Ok(n) => n,
                Err(e) => {
                    tracing::warn!(error = %e, "scheduler could not read the next run");
                    None
                }
            };
        }
    }
}
