//! End-to-end: a real `rawx serve` under its supervisor. A component made to fail is restarted
//! and the server keeps serving; components crashing mid-job lose and repeat no event; a job's
//! own task that panics ends its job in `error`; a component that keeps failing stops the
//! process non-zero, naming it; SIGTERM drains running jobs, and a job longer than the drain is
//! handed back and re-attached by the next start.
//!
//! Faults come from `RAWX_TEST_FAULT`, a switch compiled into every build but inert unless set:
//! the only honest way to make a real `rawx serve` lose a component. The task role's own rules
//! across crashes are tested in process (`rawx-control/tests/recovery.rs`).

use rawx_testkit::lab::{fixture, job, wait_final, wait_in_task};
use rawx_testkit::ops::*;
use rawx_testkit::{eventually, sqlite, tail, Server, ADMIN_PW};
use serde_json::{json, Value};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn components(s: &Server) -> Value {
    let r = s.http("GET", "/api/v2/ping/", None, None);
    assert_eq!(r.status, 200, "{r:?}");
    r.json()["components"].clone()
}

/// Polls ping until `pred` holds of its `components`.
fn wait_components(s: &Server, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
    eventually(Duration::from_secs(20), || {
        let c = components(s);
        if pred(&c) {
            Ok(c)
        } else {
            Err(format!(
                "{what}: components are {c}\n{}",
                tail(&s.logs(), 4000)
            ))
        }
    })
}

/// One column of a job row, read straight from the SQLite file of a stopped server.
fn db_status(data: &std::path::Path, job: i64) -> String {
    sqlite(data, &format!("SELECT status FROM jobs WHERE id = {job}"))
}

/// The task role's components, each supervised on its own.
const TASK_COMPONENTS: [&str; 5] = [
    "ingester",
    "dispatcher",
    "task-manager",
    "heartbeat",
    "health",
];

#[test]
fn a_failing_component_is_restarted_and_the_server_keeps_serving() {
    let s = Server::start_with(opts(&[(
        "RAWX_TEST_FAULT",
        "web:2,task-manager:1,dispatcher:1,ingester:1",
    )]));
    // All recover: web after two injected panics, the task role's after one each.
    let c = wait_components(&s, "web and the task role running again", |c| {
        c["web"]["state"] == "running"
            && c["web"]["restarts"] == 2
            && ["task-manager", "dispatcher", "ingester"]
                .iter()
                .all(|n| c[*n]["state"] == "running" && c[*n]["restarts"] == 1)
    });
    for name in ["web", "task-manager", "dispatcher", "ingester"] {
        let err = c[name]["last_error"].as_str().unwrap_or_default();
        assert!(
            err.contains("panicked") && err.contains("RAWX_TEST_FAULT") && err.contains(name),
            "{name}'s last error does not say what happened: {c}"
        );
    }
    for name in TASK_COMPONENTS {
        assert_eq!(c[name]["state"], "running", "{name} in {c}");
    }
    let logs = s.logs();
    assert!(
        logs.contains("component failed")
            && logs.contains("injected failure of component `dispatcher`"),
        "the failure and its cause were not logged:\n{}",
        tail(&logs, 4000)
    );

    // The restarted task role still runs jobs, and the restarted web server answers the CLI.
    let lab = ops_lab(&s);
    let jt = template(&s, &lab, "after-faults", "play.yml", json!({"pause_s": 0}));
    let id = launch(&s, jt);
    assert_eq!(wait_final(&s, id)["status"], "successful");
    let listed = s.awx_json(&["jobs", "list", "--all"]);
    assert_eq!(listed["count"], 1, "{listed}");

    // The restarts are in the metrics too.
    let m = metrics(&s);
    assert_eq!(
        m.value("rawx_component_restarts_total", &[("component", "web")]),
        2.0
    );
    assert_eq!(
        m.value(
            "rawx_component_state",
            &[("component", "ingester"), ("state", "running")]
        ),
        1.0
    );
}

/// The worst moments for the task role's components to crash, in the middle of a job: the
/// ingester just after committing a batch (nothing acknowledged, published or shipped yet),
/// the dispatcher while the job's task is following its unit. The job still ends
/// `successful` with every event stored exactly once.
#[test]
fn components_crashing_mid_job_lose_and_repeat_no_event() {
    let s = Server::start_with(opts(&[(
        "RAWX_TEST_FAULT",
        "ingester@commit:1,dispatcher@busy:1",
    )]));
    let lab = fixture(
        &s,
        "midjob",
        &[(
            "many.yml",
            "- hosts: all\n  gather_facts: false\n  tasks:\n    - name: before\n      debug:\n        msg: \"before-{{ item }}\"\n      loop: \"{{ range(40) | list }}\"\n    - name: hold\n      pause:\n        seconds: 3\n    - name: after\n      debug:\n        msg: \"after-{{ item }}\"\n      loop: \"{{ range(40) | list }}\"\n",
        )],
        &["localhost"],
    );
    let jt = template(&s, &lab, "mid-job crashes", "many.yml", json!({}));
    let id = launch(&s, jt);
    let j = wait_final(&s, id);
    assert_eq!(j["status"], "successful", "{j}\n{}", tail(&s.logs(), 4000));
    let c = wait_components(&s, "both crashed once and run again", |c| {
        ["dispatcher", "ingester"]
            .iter()
            .all(|n| c[*n]["state"] == "running" && c[*n]["restarts"] == 1)
    });
    for (name, point) in [
        ("ingester", "ingester@commit"),
        ("dispatcher", "dispatcher@busy"),
    ] {
        let err = c[name]["last_error"].as_str().unwrap_or_default();
        assert!(err.contains(point), "{name}: {c}");
    }
    let logs = s.logs();
    assert!(
        logs.contains("re-attaching to a running job"),
        "the restarted dispatcher did not re-attach:\n{}",
        tail(&logs, 4000)
    );
    let events = rawx_testkit::lab::all_pages(
        &s,
        &format!("/api/v2/jobs/{id}/job_events/?order_by=counter"),
    );
    let counters: Vec<i64> = events
        .iter()
        .map(|e| e["counter"].as_i64().unwrap())
        .collect();
    let expected: Vec<i64> = (1..=counters.len() as i64).collect();
    assert_eq!(counters, expected, "events missing or repeated");
    let mut uuids: Vec<&str> = events.iter().map(|e| e["uuid"].as_str().unwrap()).collect();
    uuids.sort();
    uuids.dedup();
    assert_eq!(uuids.len(), events.len(), "an event stored twice");
    let stdout = rawx_testkit::lab::stdout_of(&s, "jobs", id);
    for i in 0..40 {
        for phase in ["before", "after"] {
            let marker = format!("\"msg\": \"{phase}-{i}\"");
            assert_eq!(stdout.matches(&marker).count(), 1, "{marker} in:\n{stdout}");
        }
    }
    let summaries = s.admin(
        "GET",
        &format!("/api/v2/jobs/{id}/job_host_summaries/"),
        None,
        200,
    );
    assert_eq!(summaries["count"], 1, "{summaries}");
}

/// A job's own task that fails (a bug in rawx, made to happen with a fault point) ends that
/// job in `error` saying so, instead of leaving it `running`; the next job runs.
#[test]
fn a_job_task_that_panics_ends_its_job_in_error() {
    let s = Server::start_with(opts(&[("RAWX_TEST_FAULT", "dispatcher@job:1")]));
    let lab = ops_lab(&s);
    let jt = template(&s, &lab, "panicking", "play.yml", json!({"pause_s": 0}));
    let first = wait_final(&s, launch(&s, jt));
    assert_eq!(first["status"], "error", "{first}");
    let why = first["job_explanation"].as_str().unwrap_or_default();
    assert!(
        why.contains("rawx failed while running this job") && why.contains("report"),
        "{first}"
    );
    let next = wait_final(&s, launch(&s, jt));
    assert_eq!(next["status"], "successful", "{next}");
}

#[test]
fn a_component_that_keeps_failing_stops_the_process_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_rawx"))
        .args(["serve", "--bind", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path())
        .env_remove("RAWX_DATABASE_URL")
        .env("RAWX_ADMIN_PASSWORD", ADMIN_PW)
        .env("RAWX_PRELOAD_DATA", "false")
        .env("RAWX_TEST_FAULT", "dispatcher:always")
        .stdin(Stdio::null())
        .output()
        .expect("run rawx serve");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success(),
        "rawx serve exited 0 with a crash-looping component:\n{stderr}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "took {:?} to give up",
        started.elapsed()
    );
    let last = stderr.lines().last().unwrap_or_default();
    assert!(
        last.starts_with("rawx: component `dispatcher` failed 5 times")
            && last.contains("RAWX_TEST_FAULT"),
        "the last line does not name the component and its cause: {last:?}\n{}",
        tail(&stderr, 3000)
    );
}

#[test]
fn sigterm_drains_running_jobs_and_starts_no_new_ones() {
    let s = Server::start_with(opts(&[("RAWX_DRAIN_TIMEOUT", "30")]));
    let lab = ops_lab(&s);
    let jt = template(&s, &lab, "drain", "play.yml", json!({"pause_s": 3}));
    let running = launch(&s, jt);
    wait_in_task(&s, running, "wait in the pause");
    // Same template, not simultaneous: it waits for the first, so it is still pending when
    // SIGTERM arrives, and a draining task role must not start it when the first ends.
    let queued = launch(&s, jt);
    assert_eq!(job(&s, queued)["status"], "pending");

    let t0 = Instant::now();
    let (dir, logs) = s.stop_with_logs();
    let took = t0.elapsed();
    assert!(
        logs.contains("draining"),
        "no drain was logged:\n{}",
        tail(&logs, 3000)
    );
    assert!(
        !logs.contains("handing them back"),
        "jobs were handed back instead of drained:\n{}",
        tail(&logs, 3000)
    );
    assert!(
        took >= Duration::from_millis(500),
        "stopped in {took:?}: it did not wait for the job"
    );
    assert_eq!(db_status(dir.path(), running), "successful");
    assert_eq!(db_status(dir.path(), queued), "pending");

    // The next start runs the queued job.
    let s = Server::start_in(dir, opts(&[]));
    assert_eq!(wait_final(&s, queued)["status"], "successful");
}

#[test]
fn a_job_longer_than_the_drain_is_handed_back_and_re_attached() {
    let s = Server::start_with(opts(&[("RAWX_DRAIN_TIMEOUT", "1")]));
    let lab = ops_lab(&s);
    let jt = template(&s, &lab, "long", "play.yml", json!({"pause_s": 6}));
    let id = launch(&s, jt);
    wait_in_task(&s, id, "wait in the pause");
    let (dir, logs) = s.stop_with_logs();
    assert!(logs.contains("handing them back"), "{}", tail(&logs, 3000));
    assert_eq!(db_status(dir.path(), id), "running");
    let s = Server::start_in(dir, opts(&[]));
    let j = wait_final(&s, id);
    assert_eq!(j["status"], "successful", "{j}");
}
