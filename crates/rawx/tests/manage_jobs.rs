//! End-to-end: `rawx manage` on jobs: `check`, `cleanup-jobs` (old jobs and their events go,
//! recent ones stay), `cleanup-activitystream`, and `deprovision-instance`, which waits for the jobs running on the node.

use rawx_testkit::lab::{job, wait_final, wait_in_task};
use rawx_testkit::ops::*;
use rawx_testkit::{manage, sqlite, Server};
use serde_json::json;

// ---- rawx manage ------------------------------------------------------------------------
#[test]
fn manage_cleanup_jobs_removes_old_jobs_and_keeps_recent_ones() {
    let s = Server::start_with(opts(&[]));
    let lab = ops_lab(&s);
    let jt = template(&s, &lab, "old", "play.yml", json!({"pause_s": 0}));
    let old = launch(&s, jt);
    assert_eq!(wait_final(&s, old)["status"], "successful");
    let recent = launch(&s, jt);
    assert_eq!(wait_final(&s, recent)["status"], "successful");
    let dir = s.stop();
    let data = dir.path();
    // The first job was run 100 days ago.
    sqlite(
        data,
        &format!("UPDATE jobs SET created = '2020-01-01T00:00:00.000000Z' WHERE id = {old}"),
    );
    let events_before = sqlite(data, "SELECT count(*) FROM job_events");

    let out = manage(data, &["check"]);
    assert_eq!(out.code, 0, "{out}");
    assert!(
        out.stdout.contains("System check identified no issues"),
        "{out}"
    );

    let dry = manage(data, &["cleanup-jobs", "--days", "30", "--dry-run"]);
    assert_eq!(dry.code, 0, "{dry}");
    assert!(dry.stdout.contains("would remove 1 jobs"), "{dry}");
    assert_eq!(sqlite(data, "SELECT count(*) FROM jobs"), "2");

    let out = manage(data, &["cleanup-jobs", "--days", "30"]);
    assert_eq!(out.code, 0, "{out}");
    assert!(out.stdout.contains("removed 1 jobs"), "{out}");
    assert_eq!(sqlite(data, "SELECT id FROM jobs"), recent.to_string());
    assert_eq!(
        sqlite(
            data,
            &format!("SELECT count(*) FROM job_events WHERE job = {old}")
        ),
        "0",
        "the removed job's events stayed"
    );
    assert_ne!(
        sqlite(data, "SELECT count(*) FROM job_events"),
        events_before
    );
    assert_ne!(sqlite(data, "SELECT count(*) FROM job_events"), "0");

    // The activity stream: the first three entries are from 100 days ago.
    let entries: u32 = sqlite(data, "SELECT count(*) FROM activity_stream")
        .parse()
        .unwrap();
    assert!(entries > 3, "the setup made {entries} entries");
    sqlite(
        data,
        "UPDATE activity_stream SET timestamp = '2020-01-01T00:00:00.000000Z' WHERE id <= 3",
    );
    let dry = manage(
        data,
        &["cleanup-activitystream", "--days", "30", "--dry-run"],
    );
    assert!(
        dry.stdout
            .contains("would remove 3 activity stream entries"),
        "{dry}"
    );
    let out = manage(data, &["cleanup-activitystream", "--days", "30"]);
    assert_eq!(out.code, 0, "{out}");
    assert!(
        out.stdout.contains("removed 3 activity stream entries"),
        "{out}"
    );
    assert_eq!(
        sqlite(data, "SELECT count(*) FROM activity_stream"),
        (entries - 3).to_string()
    );
    assert_eq!(sqlite(data, "SELECT min(id) FROM activity_stream"), "4");

    // A broken secret key is a problem `check` names, with a non-zero exit.
    std::fs::write(data.join("secret.key"), "not a key").unwrap();
    let out = manage(data, &["check"]);
    assert_ne!(out.code, 0, "{out}");
    assert!(out.stderr.contains("secret key"), "{out}");
}

/// `rawx manage deprovision-instance` refuses a node while a job runs on it, and removes it
/// once the job is over.
#[test]
fn manage_deprovision_waits_for_running_jobs() {
    let s = Server::start_with(opts(&[]));
    let lab = ops_lab(&s);
    let jt = template(&s, &lab, "long", "play.yml", json!({"pause_s": 6}));
    let id = launch(&s, jt);
    wait_in_task(&s, id, "wait in the pause");
    let running = job(&s, id);
    assert_eq!(running["status"], "running", "{running}");
    let node = running["execution_node"].as_str().unwrap().to_string();
    assert!(!node.is_empty(), "{running}");

    let out = manage(&s.data, &["deprovision-instance", "--hostname", &node]);
    assert_eq!(out.code, 1, "{out}");
    assert!(out.stderr.contains(&format!("job {id}")), "{out}");
    let path = format!("/api/v2/instances/?hostname={node}");
    assert_eq!(s.admin("GET", &path, None, 200)["count"], 1);

    assert_eq!(wait_final(&s, id)["status"], "successful");
    let out = manage(&s.data, &["deprovision-instance", "--hostname", &node]);
    assert_eq!(out.code, 0, "{out}");
    assert!(out.stdout.contains("Successfully deprovisioned"), "{out}");
    // The node is still up: the command says it will come back.
    assert!(out.stdout.contains("registers again"), "{out}");
    assert_eq!(s.admin("GET", &path, None, 200)["count"], 0);
}
