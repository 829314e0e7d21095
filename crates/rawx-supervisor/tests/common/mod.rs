//! Test components and polling helpers shared by the integration tests.
#![allow(dead_code)] // each test binary uses a different subset

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rawx_supervisor::{
    Component, ComponentState, ComponentStatus, Shutdown, StatusHandle, Supervisor,
};

/// Short timings so the whole suite stays well under the 10 s budget.
pub fn fast_supervisor() -> Supervisor {
    Supervisor::new()
        .with_backoff(Duration::from_millis(10), Duration::from_millis(40))
        .with_grace(Duration::from_millis(500))
        .with_crash_loop(5, Duration::from_secs(10))
}

/// Polls until `name`'s status satisfies `pred`; panics with the snapshot after 5 s.
pub async fn wait_for_status(
    status: &StatusHandle,
    name: &str,
    pred: impl Fn(&ComponentStatus) -> bool,
) -> ComponentStatus {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let current = status.get(name).expect("component is registered");
        if pred(&current) {
            return current;
        }
        assert!(
            Instant::now() < deadline,
            "timed out; status is {:?}",
            status.snapshot()
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

pub fn state_of(status: &StatusHandle, name: &str) -> ComponentState {
    status.get(name).expect("component is registered").state
}

#[derive(Debug, Clone, Copy)]
pub enum Fault {
    Error,
    Panic,
}

/// Fails (by error or panic) on its first `failures` runs, then runs until shutdown.
pub struct Flaky {
    pub name: &'static str,
    pub fault: Fault,
    pub failures: u32,
    pub runs: AtomicU32,
}

impl Flaky {
    pub fn new(name: &'static str, fault: Fault, failures: u32) -> Arc<Self> {
        Arc::new(Self {
            name,
            fault,
            failures,
            runs: AtomicU32::new(0),
        })
    }
}

#[async_trait::async_trait]
impl Component for Flaky {
    fn name(&self) -> &'static str {
        self.name
    }

    async fn run(&self, mut shutdown: Shutdown) -> anyhow::Result<()> {
        let run = self.runs.fetch_add(1, Ordering::SeqCst) + 1;
        if run <= self.failures {
            match self.fault {
                Fault::Error => {
                    return Err(anyhow::anyhow!("connection refused")
                        .context(format!("run {run}: cannot reach the database")))
                }
                Fault::Panic => panic!("run {run}: invariant broken"),
            }
        }
        shutdown.wait().await;
        Ok(())
    }
}

/// Never looks at its shutdown signal; records when its future is dropped (i.e. aborted).
pub struct Stubborn {
    pub dropped: Arc<AtomicBool>,
}

#[async_trait::async_trait]
impl Component for Stubborn {
    fn name(&self) -> &'static str {
        "stubborn"
    }

    async fn run(&self, _shutdown: Shutdown) -> anyhow::Result<()> {
        let _guard = SetOnDrop(Arc::clone(&self.dropped));
        std::future::pending::<()>().await;
        Ok(())
    }
}

struct SetOnDrop(Arc<AtomicBool>);

impl Drop for SetOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}
