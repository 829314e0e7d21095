//! Claims: several task managers on one database start each job exactly once.

mod rig;

use rig::*;
use serde_json::json;
use std::collections::BTreeMap;

/// Two task nodes race for a burst of jobs: every job runs once, on one node, as one work
/// unit, and ends with each of its events stored once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_task_managers_start_each_of_many_jobs_once() {
    let rig = Rig::new().await;
    let a = FakeNode::with_script("node-a", Script::replay(good_run()));
    let b = FakeNode::with_script("node-b", Script::replay(good_run()));
    let _ta = rig
        .task_node("node-a", a.clone(), NodeOpts::default())
        .await;
    let _tb = rig
        .task_node("node-b", b.clone(), NodeOpts::default())
        .await;
    for n in ["node-a", "node-b"] {
        rig.set_instance(n, json!({"capacity": 1000})).await;
    }
    let inv = rig.inventory("one", 1).await;
    let jt = rig
        .template("burst", inv, json!({"allow_simultaneous": true}))
        .await;
    let mut jobs = Vec::new();
    for _ in 0..40 {
        jobs.push(rig.launch(jt).await);
    }
    for id in &jobs {
        assert_eq!(rig.wait_final(*id).await["status"], "successful");
    }
    let mut ran: BTreeMap<i64, Vec<&str>> = BTreeMap::new();
    let (ua, ub) = (a.job_units(), b.job_units());
    for (node, units) in [("node-a", &ua), ("node-b", &ub)] {
        for u in units.iter() {
            ran.entry(job_of(u)).or_default().push(node);
        }
    }
    for id in &jobs {
        let nodes = ran.get(id).cloned().unwrap_or_default();
        assert_eq!(nodes.len(), 1, "job {id} ran on {nodes:?}");
        let j = rig.job(*id).await;
        assert_eq!(j["execution_node"], nodes[0], "{j}");
    }
    assert_eq!(
        ran.len(),
        jobs.len(),
        "units for jobs never launched: {ran:?}"
    );
    for id in jobs.iter().step_by(7) {
        assert_each_once(&rig.events(*id).await, 26);
    }
    println!("node-a ran {} jobs, node-b {}", ua.len(), ub.len());
}
