//! Cancel at every state: a pending job ends at once and never runs; a waiting one (claimed,
//! its unit not yet submitted) is stopped as soon as its unit exists; a running one is stopped
//! and keeps the events it had; a finished one (successful, failed, error or canceled) cannot
//! be canceled.

mod rig;

use axum::http::StatusCode;
use rig::*;
use serde_json::json;

async fn setup(rig: &Rig, node: &FakeNode) -> (TaskNode, i64) {
    let t = rig
        .task_node("node-a", node.clone(), NodeOpts::default())
        .await;
    let inv = rig.inventory("inv", 1).await;
    let jt = rig.template("jt", inv, json!({})).await;
    (t, jt)
}

fn held() -> Script {
    Script::hold_before(good_run(), "playbook_on_stats")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pending_job_is_canceled_and_never_runs() {
    let rig = Rig::new().await;
    let node = FakeNode::with_script("node-a", held());
    let (_t, jt) = setup(&rig, &node).await;
    rig.set_instance("node-a", json!({"enabled": false})).await;
    let id = rig.launch(jt).await;
    eventually(LIMIT, || async {
        rig.job(id).await["job_explanation"] != ""
    })
    .await;
    assert_eq!(rig.cancel(id).await, StatusCode::ACCEPTED);
    let j = rig.wait_final(id).await;
    assert_eq!(j["status"], "canceled", "{j}");
    assert_eq!(j["job_explanation"], "Job canceled by request.");
    rig.set_instance("node-a", json!({"enabled": true, "capacity": 100}))
        .await;
    // Capacity is back: still nothing runs it.
    let other = rig
        .launch(
            rig.template("other", j["inventory"].as_i64().unwrap(), json!({}))
                .await,
        )
        .await;
    rig.wait_status(other, "running").await;
    let units: Vec<i64> = node.job_units().iter().map(job_of).collect();
    assert_eq!(units, vec![other], "only the other job ran");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_waiting_job_is_stopped_as_soon_as_its_unit_exists() {
    let rig = Rig::new().await;
    let node = FakeNode::with_script("node-a", held());
    node.accept_submissions(false);
    let (_t, jt) = setup(&rig, &node).await;
    let id = rig.launch(jt).await;
    rig.wait_status(id, "waiting").await;
    assert_eq!(rig.cancel(id).await, StatusCode::ACCEPTED);
    node.accept_submissions(true);
    let j = rig.wait_final(id).await;
    assert_eq!(j["status"], "canceled", "{j}");
    let units = node.job_units();
    assert_eq!(units.len(), 1);
    assert!(units[0].canceled, "the unit was left running");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_running_job_is_stopped_and_keeps_its_events() {
    let rig = Rig::new().await;
    let node = FakeNode::with_script("node-a", held());
    let (_t, jt) = setup(&rig, &node).await;
    let id = rig.launch(jt).await;
    rig.wait_events(id, 20).await;
    assert_eq!(rig.cancel(id).await, StatusCode::ACCEPTED);
    let j = rig.wait_final(id).await;
    assert_eq!(j["status"], "canceled", "{j}");
    assert!(node.job_units()[0].canceled, "the unit was left running");
    let events = rig.events(id).await;
    assert!(events.len() >= 20, "{} events kept", events.len());
    assert_each_once(&events, events.len());
}

/// How a job reaches each final state on the fake node.
enum End {
    /// The whole capture replayed.
    Replay(&'static str),
    /// The node refuses the unit.
    Refused,
    /// Canceled while running.
    Canceled,
}

/// A job in any final state cannot be canceled (AWX's 405, `can_cancel` false): its status
/// and `canceled_on` stay as they were.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_finished_job_cannot_be_canceled_whatever_its_end() {
    let cases: [(&str, End); 4] = [
        ("successful", End::Replay("worker-awxlike.out")),
        ("failed", End::Replay("worker-syntax-error.out")),
        ("error", End::Refused),
        ("canceled", End::Canceled),
    ];
    let rig = Rig::new().await;
    let node = FakeNode::with_script("node-a", Script::replay(good_run()));
    let (_t, jt) = setup(&rig, &node).await;
    for (want, end) in cases {
        let script = match &end {
            End::Replay(name) => Script::replay(sample(name)),
            End::Refused => Script {
                refuse: Some("no such work type".into()),
                ..Script::replay(good_run())
            },
            End::Canceled => held(),
        };
        node.push_script(script);
        let id = rig.launch(jt).await;
        if let End::Canceled = end {
            rig.wait_status(id, "running").await;
            assert_eq!(rig.cancel(id).await, StatusCode::ACCEPTED);
        }
        let before = rig.wait_final(id).await;
        assert_eq!(before["status"], want, "{before}");
        assert_eq!(
            rig.cancel(id).await,
            StatusCode::METHOD_NOT_ALLOWED,
            "cancel of a {want} job"
        );
        let (status, can) = rig
            .call("GET", &format!("/api/v2/jobs/{id}/cancel/"), None)
            .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(can["can_cancel"], false, "{want}: {can}");
        let after = rig.job(id).await;
        assert_eq!(after["status"], want);
        assert_eq!(after["canceled_on"], before["canceled_on"], "{want}");
    }
}
