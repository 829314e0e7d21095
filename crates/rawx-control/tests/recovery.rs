//! What survives a crash: the ingester's exactly-once rule (a batch committed just before a
//! crash, or replayed by a re-attached job, is stored once), re-attaching to a unit after a
//! restart, a unit lost meanwhile, a claim never submitted, and the reaper that ends the jobs
//! of a task node that went silent.

mod rig;

use rig::*;
use serde_json::json;
use std::time::Duration;

fn held() -> Script {
    Script::hold_before(good_run(), "playbook_on_stats")
}

fn fault(spec: &str) -> rawx_supervisor::Faults {
    rawx_supervisor::Faults::parse(spec).unwrap()
}

/// Whether every injected failure of `point` was used up (the crash did happen).
fn fired(faults: &rawx_supervisor::Faults, point: &str) -> bool {
    let f = faults.clone();
    let prev = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let left = std::panic::catch_unwind(move || f.point(point)).is_err();
    std::panic::set_hook(prev);
    !left
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ingester_crashing_after_a_commit_stores_each_event_once() {
    let rig = Rig::new().await;
    let faults = fault("ingester@commit:1");
    let opts = NodeOpts {
        faults: faults.clone(),
        ..NodeOpts::default()
    };
    let node = FakeNode::with_script("node-a", Script::replay(good_run()));
    let _t = rig.task_node("node-a", node, opts).await;
    let inv = rig.inventory("inv", 1).await;
    let jt = rig.template("jt", inv, json!({})).await;
    let id = rig.launch(jt).await;
    let j = rig.wait_final(id).await;
    assert!(
        fired(&faults, "ingester@commit"),
        "the ingester never crashed"
    );
    assert_eq!(j["status"], "successful", "{j}");
    assert_each_once(&rig.events(id).await, 26);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_task_node_re_attaches_and_stores_each_event_once() {
    let rig = Rig::new().await;
    let node = FakeNode::with_script("node-a", held());
    let t = rig
        .task_node("node-a", node.clone(), NodeOpts::default())
        .await;
    let inv = rig.inventory("inv", 1).await;
    let jt = rig.template("jt", inv, json!({})).await;
    let id = rig.launch(jt).await;
    rig.wait_status(id, "running").await;
    rig.wait_events(id, 20).await;
    t.stop().await;
    assert_eq!(
        rig.job(id).await["status"],
        "running",
        "handed back, not ended"
    );
    let _t = rig
        .task_node("node-a", node.clone(), NodeOpts::default())
        .await;
    // The new process replays the unit's stream from its start: what is stored is skipped.
    node.finish(&node.job_units()[0].id);
    let j = rig.wait_final(id).await;
    assert_eq!(j["status"], "successful", "{j}");
    assert_each_once(&rig.events(id).await, 26);
    assert_eq!(node.job_units().len(), 1, "the job was submitted again");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_unit_gone_after_a_restart_ends_its_job_in_error_keeping_its_events() {
    let rig = Rig::new().await;
    let node = FakeNode::with_script("node-a", held());
    let t = rig
        .task_node("node-a", node.clone(), NodeOpts::default())
        .await;
    let inv = rig.inventory("inv", 1).await;
    let jt = rig.template("jt", inv, json!({})).await;
    let id = rig.launch(jt).await;
    rig.wait_events(id, 20).await;
    t.stop().await;
    let stored = rig.events(id).await.len();
    let unit = node.job_units()[0].id.clone();
    node.lose(&unit);
    let _t = rig
        .task_node("node-a", node.clone(), NodeOpts::default())
        .await;
    let j = rig.wait_final(id).await;
    assert_eq!(j["status"], "error", "{j}");
    assert!(
        j["job_explanation"]
            .as_str()
            .unwrap()
            .contains(&format!("work unit {unit} is gone from the execution node")),
        "{j}"
    );
    assert_eq!(rig.events(id).await.len(), stored, "stored events are kept");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_claimed_but_never_submitted_runs_after_a_restart() {
    let rig = Rig::new().await;
    let node = FakeNode::with_script("node-a", Script::replay(good_run()));
    node.accept_submissions(false);
    let t = rig
        .task_node("node-a", node.clone(), NodeOpts::default())
        .await;
    let inv = rig.inventory("inv", 1).await;
    let jt = rig.template("jt", inv, json!({})).await;
    let id = rig.launch(jt).await;
    rig.wait_status(id, "waiting").await;
    t.stop().await;
    node.accept_submissions(true);
    let _t = rig
        .task_node("node-a", node.clone(), NodeOpts::default())
        .await;
    let j = rig.wait_final(id).await;
    assert_eq!(j["status"], "successful", "{j}");
    assert_eq!(node.job_units().len(), 1);
}

/// A task node that stops saying it is alive has its running jobs ended by another, with the
/// reason; while it is alive, nobody touches them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_jobs_of_a_silent_task_node_are_reaped_by_another() {
    let rig = Rig::new().await;
    // Heartbeats come every 2 s: 5 s of silence is a lost node.
    let opts = NodeOpts {
        lost_after: Duration::from_secs(5),
        ..NodeOpts::default()
    };
    let a = rig
        .task_node(
            "node-a",
            FakeNode::with_script("node-a", held()),
            opts.clone(),
        )
        .await;
    let b_node = FakeNode::with_script("node-b", held());
    let b = rig.task_node("node-b", b_node.clone(), opts).await;
    // Only node-b has room, so the job runs there.
    rig.set_instance("node-a", json!({"enabled": false})).await;
    rig.set_instance("node-b", json!({"capacity": 100})).await;
    let inv = rig.inventory("inv", 1).await;
    let jt = rig.template("jt", inv, json!({})).await;
    let id = rig.launch(jt).await;
    let j = rig.wait_status(id, "running").await;
    assert_eq!(j["execution_node"], "node-b");
    tokio::time::sleep(Duration::from_secs(7)).await;
    assert_eq!(rig.job(id).await["status"], "running", "reaped while alive");
    b.stop().await;
    let j = rig.wait_final(id).await;
    assert_eq!(j["status"], "failed", "{j}");
    let why = j["job_explanation"].as_str().unwrap();
    assert!(
        why.contains("The task node node-b that ran this job stopped responding")
            && why.contains("node-a ended it"),
        "{why}"
    );
    assert!(a.node.job_units().is_empty());
}
