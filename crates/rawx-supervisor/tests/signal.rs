//! `run_until_signal` against real signals. Its own test binary (= its own process), so the
//! SIGTERMs it sends itself cannot reach any other test.

#![cfg(unix)]

mod common;

use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{fast_supervisor, wait_for_status, Fault, Flaky, Stubborn};
use rawx_supervisor::{ComponentState, Restart, SupervisorError};

fn send_sigterm_to_self() {
    let status = std::process::Command::new("kill")
        .args(["-TERM", &std::process::id().to_string()])
        .status()
        .expect("run kill(1)");
    assert!(status.success());
}

// One test function on purpose: both phases send process-wide signals and must not overlap.
#[tokio::test]
async fn sigterm_stops_gracefully_and_a_second_one_forces_exit() {
    // Phase 1: one SIGTERM, cooperative components, clean exit.
    let mut sup = fast_supervisor();
    sup.add(Flaky::new("api", Fault::Error, 0), Restart::Always);
    let status = sup.status_handle();
    let run = tokio::spawn(sup.run_until_signal());
    wait_for_status(&status, "api", |s| s.state == ComponentState::Running).await;
    send_sigterm_to_self();
    tokio::time::timeout(Duration::from_secs(2), run)
        .await
        .expect("SIGTERM stops the supervisor")
        .unwrap()
        .expect("signal shutdown is Ok");
    assert_eq!(status.get("api").unwrap().state, ComponentState::Stopped);

    // Phase 2: a component ignores shutdown under a long grace; the operator signals again.
    let mut sup = fast_supervisor().with_grace(Duration::from_secs(30));
    let dropped = Arc::new(AtomicBool::new(false));
    sup.add(
        Arc::new(Stubborn {
            dropped: dropped.clone(),
        }),
        Restart::Always,
    );
    let status = sup.status_handle();
    let run = tokio::spawn(sup.run_until_signal());
    wait_for_status(&status, "stubborn", |s| s.state == ComponentState::Running).await;
    send_sigterm_to_self();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let second = Instant::now();
    send_sigterm_to_self();
    let err = tokio::time::timeout(Duration::from_secs(2), run)
        .await
        .expect("second SIGTERM does not wait out the 30 s grace")
        .unwrap()
        .expect_err("a forced exit is an error");
    assert!(matches!(
        err.downcast_ref::<SupervisorError>(),
        Some(SupervisorError::Forced)
    ));
    assert!(second.elapsed() < Duration::from_secs(2));
    // Abort goes through the JoinSet and task guards: the component's future is gone.
    wait_until_dropped(&dropped).await;
}

async fn wait_until_dropped(flag: &AtomicBool) {
    let deadline = Instant::now() + Duration::from_secs(2);
    while !flag.load(std::sync::atomic::Ordering::SeqCst) {
        assert!(
            Instant::now() < deadline,
            "component future was not dropped"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}
