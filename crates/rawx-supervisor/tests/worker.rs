//! Background loops written as Workers: they drain work, sleep when idle, stop on shutdown,
//! and come back fresh after a failure.

mod common;

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::{fast_supervisor, wait_for_status};
use rawx_supervisor::{ComponentState, Restart, Worker, WorkerComponent, WorkerState};
use tokio::sync::Notify;

/// Drains `queue` one item per `work`, then waits for `wake`. Fails once when it sees
/// `fail_at`, to exercise restarts.
struct Drainer {
    queue: Arc<AtomicU32>,
    done: Arc<AtomicU32>,
    wake: Arc<Notify>,
    fail_at: Option<u32>,
}

#[async_trait::async_trait]
impl Worker for Drainer {
    async fn work(&mut self) -> anyhow::Result<WorkerState> {
        let left = self.queue.load(Ordering::SeqCst);
        if left == 0 {
            return Ok(WorkerState::Idle);
        }
        if self.fail_at == Some(left) {
            anyhow::bail!("item {left} is malformed");
        }
        self.queue.fetch_sub(1, Ordering::SeqCst);
        self.done.fetch_add(1, Ordering::SeqCst);
        Ok(WorkerState::Busy)
    }

    async fn wait_for_work(&mut self) {
        self.wake.notified().await;
    }
}

#[tokio::test]
async fn worker_drains_sleeps_wakes_and_stops_on_shutdown() {
    let (queue, done, wake) = (
        Arc::new(AtomicU32::new(3)),
        Arc::new(AtomicU32::new(0)),
        Arc::new(Notify::new()),
    );
    let (q, d, w) = (queue.clone(), done.clone(), wake.clone());
    let mut sup = fast_supervisor();
    sup.add(
        Arc::new(WorkerComponent::new("event-ingester", move || Drainer {
            queue: q.clone(),
            done: d.clone(),
            wake: w.clone(),
            fail_at: None,
        })),
        Restart::Always,
    );
    let (status, shutdown) = (sup.status_handle(), sup.shutdown_handle());
    let run = tokio::spawn(sup.run());

    wait_until(|| done.load(Ordering::SeqCst) == 3).await;
    queue.store(2, Ordering::SeqCst);
    wake.notify_one();
    wait_until(|| done.load(Ordering::SeqCst) == 5).await;

    // Idle in wait_for_work: shutdown must not need the grace period.
    shutdown.trigger();
    tokio::time::timeout(Duration::from_millis(400), run)
        .await
        .expect("an idle worker stops at once")
        .unwrap()
        .unwrap();
    let s = status.get("event-ingester").unwrap();
    assert_eq!((s.state, s.restarts), (ComponentState::Stopped, 0));
}

#[tokio::test]
async fn failing_worker_is_rebuilt_fresh_and_carries_on() {
    let (queue, done, wake) = (
        Arc::new(AtomicU32::new(4)),
        Arc::new(AtomicU32::new(0)),
        Arc::new(Notify::new()),
    );
    let built = Arc::new(AtomicU32::new(0));
    let (q, d, w, b) = (queue.clone(), done.clone(), wake.clone(), built.clone());
    let mut sup = fast_supervisor();
    sup.add(
        Arc::new(WorkerComponent::new("dispatcher", move || {
            // Only the first worker carries the fault: a rebuilt one starts clean.
            let first = b.fetch_add(1, Ordering::SeqCst) == 0;
            Drainer {
                queue: q.clone(),
                done: d.clone(),
                wake: w.clone(),
                fail_at: first.then_some(2),
            }
        })),
        Restart::Always,
    );
    let (status, shutdown) = (sup.status_handle(), sup.shutdown_handle());
    let run = tokio::spawn(sup.run());

    let s = wait_for_status(&status, "dispatcher", |s| s.restarts == 1).await;
    assert_eq!(s.last_error.as_deref(), Some("item 2 is malformed"));
    wait_until(|| done.load(Ordering::SeqCst) == 4).await;
    assert_eq!(built.load(Ordering::SeqCst), 2);

    shutdown.trigger();
    run.await.unwrap().unwrap();
}

struct CountDown(u32);

#[async_trait::async_trait]
impl Worker for CountDown {
    async fn work(&mut self) -> anyhow::Result<WorkerState> {
        self.0 -= 1;
        Ok(if self.0 == 0 {
            WorkerState::Done
        } else {
            WorkerState::Busy
        })
    }

    async fn wait_for_work(&mut self) {}
}

#[tokio::test]
async fn done_worker_is_not_restarted_and_run_ends_when_all_finished() {
    let mut sup = fast_supervisor();
    sup.add(
        Arc::new(WorkerComponent::new("migrate-once", || CountDown(3))),
        Restart::Never,
    );
    let status = sup.status_handle();
    tokio::time::timeout(Duration::from_secs(2), sup.run())
        .await
        .expect("nothing left to supervise")
        .expect("finishing is not a failure");
    let s = status.get("migrate-once").unwrap();
    assert_eq!(
        (s.state, s.restarts, s.last_error),
        (ComponentState::Stopped, 0, None)
    );
}

async fn wait_until(cond: impl Fn() -> bool) {
    tokio::time::timeout(Duration::from_secs(5), async {
        while !cond() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
    .expect("condition reached in time");
}
