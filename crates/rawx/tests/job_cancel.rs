//! End-to-end: cancel with real processes. A running job stops within seconds and nothing of
//! its playbook keeps running; a cancel right after the launch still ends the job canceled.
//! Cancel in every state of the task role is tested in process (`rawx-control/tests/cancel.rs`).

use rawx_testkit::lab::*;
use rawx_testkit::ADMIN_PW;
use serde_json::json;
use std::time::{Duration, Instant};

const PAUSE: &str = "\
- name: Long play
  hosts: all
  gather_facts: false
  tasks:
    - name: wait a long time
      pause:
        seconds: 60
";

/// Cancel: a running job stops within seconds, ends `canceled` with its events stored, and can
/// no longer be canceled. Nothing of the playbook keeps running.
#[test]
fn a_running_job_is_canceled_within_seconds_leaving_nothing_running() {
    let lab = Lab::start();
    let s = &lab.s;
    let p = lab.project("slow", &[("pause.yml", PAUSE)]);
    let inv = lab.inventory("One", &[("localhost", local_vars())]);
    let jt = lab.jt("slow", p, inv, "pause.yml", json!({}));
    // The template's timeout ends a job the same way, as a failure that says why.
    let jt_timeout = lab.jt("short", p, inv, "pause.yml", json!({"timeout": 3}));
    let timed = lab.launch(jt_timeout);
    let id = lab.launch(jt);
    let path = format!("/api/v2/jobs/{id}/cancel/");
    assert_eq!(
        s.admin("GET", &path, None, 200),
        json!({"can_cancel": true})
    );

    // Wait until the pause task really runs.
    wait_in_task(s, id, "wait a long time");
    assert_eq!(lab.job(id)["status"], "running");
    let del = s.http(
        "DELETE",
        &format!("/api/v2/jobs/{id}/"),
        Some(("admin", ADMIN_PW)),
        None,
    );
    assert_eq!(del.status, 403, "deleting a running job: {del:?}");
    assert_eq!(
        del.json()["detail"],
        "Cannot delete running job resource.",
        "{del:?}"
    );

    let t = Instant::now();
    // awxkit 24.6.1 has no `awx jobs cancel`: this is the request AWX's UI and the collection
    // send.
    let r = s.http("POST", &path, Some(("admin", ADMIN_PW)), None);
    assert_eq!(r.status, 202, "{r:?}");
    assert!(
        r.body.trim().is_empty(),
        "cancel answers an empty body: {r:?}"
    );
    let job = lab.wait_for(id, Duration::from_secs(15));
    let took = t.elapsed();
    eprintln!("cancel took {took:?}");
    assert_eq!(job["status"], "canceled", "{job}");
    assert_eq!(job["failed"], true, "{job}");
    assert_eq!(job["event_processing_finished"], true, "{job}");
    assert!(
        job["finished"].as_str().is_some_and(|f| !f.is_empty()),
        "{job}"
    );
    assert!(
        job["elapsed"].as_f64().unwrap_or(100.0) < 40.0,
        "the pause was not cut short: {job}"
    );
    assert_eq!(
        s.admin("GET", &path, None, 200),
        json!({"can_cancel": false})
    );
    let again = s.http("POST", &path, Some(("admin", ADMIN_PW)), None);
    assert_eq!(again.status, 405, "{again:?}");
    let cli = s.awx_json(&["jobs", "get", &id.to_string()]);
    assert_eq!(cli["status"], "canceled");

    // No process of this job is left: its playbook path is unique to this server's data dir.
    let marker = s.data.display().to_string();
    std::thread::sleep(Duration::from_millis(500));
    let mut left = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let pid = e.file_name().to_string_lossy().into_owned();
        if !pid.chars().all(|c| c.is_ascii_digit()) {
            continue;
        }
        let Ok(cmd) = std::fs::read(e.path().join("cmdline")) else {
            continue;
        };
        let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
        if cmd.contains(&marker) && !cmd.contains("rawx serve") && !cmd.contains(" serve ") {
            left.push(format!("{pid}: {cmd}"));
        }
    }
    assert!(
        left.is_empty(),
        "processes of the canceled job still run:\n{}",
        left.join("\n")
    );

    let job = lab.wait_for(timed, Duration::from_secs(60));
    assert_eq!(job["status"], "failed", "{job}");
    assert_eq!(job["event_processing_finished"], true, "{job}");
    assert!(
        job["job_explanation"]
            .as_str()
            .unwrap_or_default()
            .contains("timeout"),
        "the explanation does not say the job timed out: {job}"
    );
    assert!(
        job["elapsed"].as_f64().unwrap_or(100.0) < 40.0,
        "the timeout did not cut the pause short: {job}"
    );
}

/// A cancel sent within 50 ms of the launch — while the job is pending, being claimed, or its
/// unit being submitted, before the worker has read its input — still ends the job `canceled`
/// and leaves nothing of it running.
#[test]
fn a_cancel_right_after_launch_ends_the_job_canceled() {
    let lab = Lab::start();
    let s = &lab.s;
    let p = lab.project("slow", &[("pause.yml", PAUSE)]);
    let inv = lab.inventory("One", &[("localhost", local_vars())]);
    let jt = lab.jt(
        "slow",
        p,
        inv,
        "pause.yml",
        json!({"allow_simultaneous": true}),
    );
    let mut ids = Vec::new();
    for delay_ms in [0u64, 5, 15, 30, 50] {
        let id = lab.launch(jt);
        std::thread::sleep(Duration::from_millis(delay_ms));
        let r = s.http(
            "POST",
            &format!("/api/v2/jobs/{id}/cancel/"),
            Some(("admin", ADMIN_PW)),
            None,
        );
        assert_eq!(r.status, 202, "cancel {delay_ms} ms after launch: {r:?}");
        ids.push((delay_ms, id));
    }
    for (delay_ms, id) in ids {
        let job = lab.wait_for(id, Duration::from_secs(30));
        assert_eq!(
            job["status"], "canceled",
            "cancel {delay_ms} ms after launch: {job}"
        );
        assert_eq!(job["event_processing_finished"], true, "{job}");
    }
    std::thread::sleep(Duration::from_millis(500));
    let marker = s.data.display().to_string();
    let left: Vec<String> = std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| std::fs::read(e.path().join("cmdline")).ok())
        .map(|c| String::from_utf8_lossy(&c).replace('\0', " "))
        .filter(|c| c.contains(&marker) && !c.contains(" serve"))
        .collect();
    assert!(
        left.is_empty(),
        "processes of canceled jobs still run: {left:#?}"
    );
}
