//! What an operator relies on: failures restart and show in status, fatal failures stop the
//! process with an error that names the culprit, and shutdown really stops everything.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{fast_supervisor, state_of, wait_for_status, Fault, Flaky, Stubborn};
use rawx_supervisor::{ComponentState, Restart, SupervisorError};

#[tokio::test]
async fn failing_component_is_restarted_and_status_shows_restarts_and_last_error() {
    let mut sup = fast_supervisor();
    let flaky = Flaky::new("dispatcher", Fault::Error, 2);
    sup.add(flaky.clone(), Restart::Always);
    let (status, shutdown) = (sup.status_handle(), sup.shutdown_handle());
    let run = tokio::spawn(sup.run());

    let s = wait_for_status(&status, "dispatcher", |s| {
        s.state == ComponentState::Running && s.restarts == 2
    })
    .await;
    // The whole context chain is kept, so the operator sees both what and why.
    assert_eq!(
        s.last_error.as_deref(),
        Some("run 2: cannot reach the database: connection refused")
    );
    assert_eq!(flaky.runs.load(Ordering::SeqCst), 3);

    shutdown.trigger();
    run.await.unwrap().expect("clean shutdown is Ok");
    assert_eq!(state_of(&status, "dispatcher"), ComponentState::Stopped);
}

#[tokio::test]
async fn panicking_component_is_caught_and_restarted() {
    let mut sup = fast_supervisor();
    sup.add(Flaky::new("ingester", Fault::Panic, 1), Restart::Always);
    let healthy = Flaky::new("api", Fault::Error, 0);
    sup.add(healthy.clone(), Restart::Always);
    let (status, shutdown) = (sup.status_handle(), sup.shutdown_handle());
    let run = tokio::spawn(sup.run());

    let s = wait_for_status(&status, "ingester", |s| {
        s.state == ComponentState::Running && s.restarts == 1
    })
    .await;
    assert_eq!(
        s.last_error.as_deref(),
        Some("panicked: run 1: invariant broken")
    );
    // The panic stayed inside its own task: the neighbour never restarted.
    assert_eq!(status.get("api").unwrap().restarts, 0);
    assert_eq!(healthy.runs.load(Ordering::SeqCst), 1);

    shutdown.trigger();
    run.await.unwrap().expect("clean shutdown is Ok");
}

#[tokio::test]
async fn never_policy_failure_stops_everything_and_names_the_component() {
    let mut sup = fast_supervisor();
    sup.add(Flaky::new("migrations", Fault::Error, 1), Restart::Never);
    sup.add(Flaky::new("api", Fault::Error, 0), Restart::Always);
    let status = sup.status_handle();

    let err = tokio::time::timeout(Duration::from_secs(5), sup.run())
        .await
        .expect("run ends on its own")
        .expect_err("a Never component failing is an error");
    let message = format!("{err:#}");
    assert!(message.contains("`migrations`"), "{message}");
    assert!(message.contains("connection refused"), "{message}");
    let typed = err.downcast_ref::<SupervisorError>().expect("typed error");
    assert!(matches!(
        typed,
        SupervisorError::Fatal {
            component: "migrations",
            ..
        }
    ));

    assert_eq!(state_of(&status, "migrations"), ComponentState::Failed);
    assert_eq!(status.get("migrations").unwrap().restarts, 0);
    // The healthy component was asked to stop, not left behind.
    assert_eq!(state_of(&status, "api"), ComponentState::Stopped);
}

#[tokio::test]
async fn crash_loop_limit_gives_up_with_error_naming_the_component() {
    let mut sup = fast_supervisor().with_crash_loop(3, Duration::from_secs(10));
    let broken = Flaky::new("task-manager", Fault::Error, u32::MAX);
    sup.add(broken.clone(), Restart::Always);
    sup.add(Flaky::new("api", Fault::Error, 0), Restart::Always);
    let status = sup.status_handle();

    let err = tokio::time::timeout(Duration::from_secs(5), sup.run())
        .await
        .expect("run ends on its own")
        .expect_err("a crash loop is an error");
    assert!(
        format!("{err:#}").contains("`task-manager` failed 3 times"),
        "{err:#}"
    );
    assert!(matches!(
        err.downcast_ref::<SupervisorError>(),
        Some(SupervisorError::CrashLoop {
            component: "task-manager",
            failures: 3,
            ..
        })
    ));

    let s = status.get("task-manager").unwrap();
    assert_eq!((s.state, s.restarts), (ComponentState::Failed, 2));
    assert_eq!(broken.runs.load(Ordering::SeqCst), 3);
    assert_eq!(state_of(&status, "api"), ComponentState::Stopped);
}

#[tokio::test]
async fn shutdown_stops_every_component_and_run_returns_ok() {
    let mut sup = fast_supervisor();
    for name in ["api", "dispatcher", "ingester"] {
        sup.add(Flaky::new(name, Fault::Error, 0), Restart::Always);
    }
    let (status, shutdown) = (sup.status_handle(), sup.shutdown_handle());
    let run = tokio::spawn(sup.run());
    for name in ["api", "dispatcher", "ingester"] {
        wait_for_status(&status, name, |s| s.state == ComponentState::Running).await;
    }

    let asked = Instant::now();
    shutdown.trigger();
    run.await.unwrap().expect("clean shutdown is Ok");
    // Cooperative components stop at once; nobody waited out a grace period.
    assert!(
        asked.elapsed() < Duration::from_millis(400),
        "{:?}",
        asked.elapsed()
    );
    for s in status.snapshot() {
        assert_eq!(
            (s.state, s.restarts, s.last_error),
            (ComponentState::Stopped, 0, None)
        );
    }
}

#[tokio::test]
async fn component_ignoring_shutdown_is_aborted_after_grace() {
    let grace = Duration::from_millis(200);
    let mut sup = fast_supervisor().with_grace(grace);
    let dropped = Arc::new(AtomicBool::new(false));
    sup.add(
        Arc::new(Stubborn {
            dropped: dropped.clone(),
        }),
        Restart::Always,
    );
    sup.add(Flaky::new("api", Fault::Error, 0), Restart::Always);
    let (status, shutdown) = (sup.status_handle(), sup.shutdown_handle());
    let run = tokio::spawn(sup.run());
    wait_for_status(&status, "stubborn", |s| s.state == ComponentState::Running).await;

    let asked = Instant::now();
    shutdown.trigger();
    run.await
        .unwrap()
        .expect("shutdown with an abort is still Ok");
    let took = asked.elapsed();
    assert!(took >= grace && took < grace * 3, "took {took:?}");
    // Aborted for real: its future was dropped, not left running detached.
    assert!(dropped.load(Ordering::SeqCst));
    let s = status.get("stubborn").unwrap();
    assert_eq!(s.state, ComponentState::Stopped);
    assert!(s.last_error.unwrap().contains("grace period; aborted"));
    assert_eq!(status.get("api").unwrap().last_error, None);
}

#[tokio::test]
async fn shutdown_during_backoff_stops_without_another_restart() {
    let mut sup = fast_supervisor().with_backoff(Duration::from_secs(30), Duration::from_secs(30));
    let flaky = Flaky::new("log-shipper", Fault::Error, u32::MAX);
    sup.add(flaky.clone(), Restart::Always);
    let (status, shutdown) = (sup.status_handle(), sup.shutdown_handle());
    let run = tokio::spawn(sup.run());
    wait_for_status(&status, "log-shipper", |s| {
        s.state == ComponentState::Backoff
    })
    .await;

    shutdown.trigger();
    tokio::time::timeout(Duration::from_secs(2), run)
        .await
        .expect("a 30 s backoff does not delay shutdown")
        .unwrap()
        .expect("clean shutdown is Ok");
    let s = status.get("log-shipper").unwrap();
    assert_eq!((s.state, s.restarts), (ComponentState::Stopped, 0));
    assert_eq!(flaky.runs.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn status_lists_components_in_order_before_and_while_running() {
    let mut sup = fast_supervisor();
    sup.add(Flaky::new("api", Fault::Error, 0), Restart::Never);
    sup.add(Flaky::new("dispatcher", Fault::Error, 0), Restart::Always);
    let status = sup.status_handle();
    let before: Vec<_> = status
        .snapshot()
        .iter()
        .map(|s| (s.name, s.state))
        .collect();
    assert_eq!(
        before,
        [
            ("api", ComponentState::Starting),
            ("dispatcher", ComponentState::Starting)
        ]
    );
    let shutdown = sup.shutdown_handle();
    let run = tokio::spawn(sup.run());
    wait_for_status(&status, "dispatcher", |s| {
        s.state == ComponentState::Running
    })
    .await;
    assert_eq!(state_of(&status, "api").as_str(), "running");
    shutdown.trigger();
    run.await.unwrap().unwrap();
}
