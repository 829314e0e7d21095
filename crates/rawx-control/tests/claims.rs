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

/// A template that may not run beside itself runs one job at a time across every task node:
/// each job of a burst starts only after the previous one finished, whichever node claims it.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_job_at_a_time_holds_across_task_managers() {
    let rig = Rig::new().await;
    let held = || Script::hold_before(good_run(), "playbook_on_stats");
    let a = FakeNode::with_script("node-a", held());
    let b = FakeNode::with_script("node-b", held());
    let _ta = rig
        .task_node("node-a", a.clone(), NodeOpts::default())
        .await;
    let _tb = rig
        .task_node("node-b", b.clone(), NodeOpts::default())
        .await;
    let inv = rig.inventory("one", 1).await;
    let jt = rig.template("serial", inv, json!({})).await;
    let mut jobs = Vec::new();
    for _ in 0..4 {
        jobs.push(rig.launch(jt).await);
    }
    for round in 1..=jobs.len() {
        // The next job starts (on either node) …
        let (node, unit) = eventually(LIMIT, || async {
            let units = a.job_units().len() + b.job_units().len();
            let running: Vec<_> = [&a, &b]
                .into_iter()
                .flat_map(|n| n.running().into_iter().map(move |u| (n.clone(), u)))
                .collect();
            if units == round && running.len() == 1 {
                Ok(running[0].clone())
            } else {
                Err(format!("{units} units, {} running", running.len()))
            }
        })
        .await;
        // … and, once its status says so, is the only one.
        let job = job_of(&unit);
        eventually(LIMIT, || async {
            let status = rig.job(job).await["status"].clone();
            if status == "running" {
                Ok(())
            } else {
                Err(format!("job {job} is {status}"))
            }
        })
        .await;
        let (_, running) = rig
            .call(
                "GET",
                &format!("/api/v2/jobs/?status=running&job_template={jt}"),
                None,
            )
            .await;
        assert_eq!(running["count"], 1, "round {round}: {running}");
        node.finish(&unit.id);
        assert_eq!(rig.wait_final(job).await["status"], "successful");
    }
    // No two ever overlapped: each started after the one before it finished.
    let mut spans = Vec::new();
    for id in &jobs {
        let j = rig.job(*id).await;
        spans.push((
            j["started"].as_str().unwrap().to_string(),
            j["finished"].as_str().unwrap().to_string(),
        ));
    }
    spans.sort();
    for w in spans.windows(2) {
        assert!(
            w[0].1 <= w[1].0,
            "two jobs of the template overlapped: {w:?}"
        );
    }
}
