//! AWX's capacity rule, case by case: what a job takes (`min(forks, hosts) + 1`, forks 0 being
//! ansible's 5), what an instance holds, the idle instance that takes one job larger than
//! itself, one job at a time per template unless `allow_simultaneous`, and why the others wait.
//! Every job is held running on the fake node, so what runs at once is what the rule let in.

mod rig;

use rig::*;
use serde_json::json;

/// A template: its inventory's size, its forks, whether it may run beside itself.
#[derive(Clone, Copy)]
struct T {
    hosts: usize,
    forks: i64,
    simultaneous: bool,
}

const fn t(hosts: usize, forks: i64, simultaneous: bool) -> T {
    T {
        hosts,
        forks,
        simultaneous,
    }
}

struct Case {
    name: &'static str,
    /// The instance's capacity, in forks.
    capacity: i64,
    enabled: bool,
    templates: &'static [T],
    /// Which template each launch is of, in launch order.
    launches: &'static [usize],
    /// Which launches run at once.
    running: &'static [usize],
    /// What a job that waits for capacity says (part of its `job_explanation`).
    waiting_says: &'static str,
}

const CAPACITY: &str = "Waiting for capacity: this job needs";

const CASES: &[Case] = &[
    Case {
        name: "jobs that fit all run",
        capacity: 20,
        enabled: true,
        templates: &[t(2, 5, true)],
        launches: &[0, 0, 0],
        running: &[0, 1, 2],
        waiting_says: "",
    },
    Case {
        name: "the job that does not fit waits, saying what it needs",
        capacity: 7,
        enabled: true,
        templates: &[t(2, 5, true)],
        launches: &[0, 0, 0],
        running: &[0, 1],
        waiting_says: "this job needs 3 of instance node-a's capacity; 6 of 7 is in use",
    },
    Case {
        name: "an idle instance takes a job larger than itself",
        capacity: 2,
        enabled: true,
        templates: &[t(10, 5, true)],
        launches: &[0],
        running: &[0],
        waiting_says: "",
    },
    Case {
        name: "but only while it is idle",
        capacity: 2,
        enabled: true,
        templates: &[t(10, 5, true)],
        launches: &[0, 0],
        running: &[0],
        waiting_says: "this job needs 6 of instance node-a's capacity; 6 of 2 is in use",
    },
    Case {
        name: "forks bound the impact",
        capacity: 4,
        enabled: true,
        templates: &[t(10, 1, true)],
        launches: &[0, 0, 0],
        running: &[0, 1],
        waiting_says: CAPACITY,
    },
    Case {
        name: "forks 0 is ansible's default of 5",
        capacity: 12,
        enabled: true,
        templates: &[t(10, 0, true)],
        launches: &[0, 0, 0],
        running: &[0, 1],
        waiting_says: "this job needs 6 of",
    },
    Case {
        name: "hosts bound the impact",
        capacity: 4,
        enabled: true,
        templates: &[t(1, 5, true)],
        launches: &[0, 0, 0],
        running: &[0, 1],
        waiting_says: "this job needs 2 of",
    },
    Case {
        name: "a later smaller job is not held behind a larger waiting one",
        capacity: 8,
        enabled: true,
        templates: &[t(3, 5, true), t(10, 5, true)],
        launches: &[0, 1, 0],
        running: &[0, 2],
        waiting_says: "this job needs 6 of",
    },
    Case {
        name: "a template runs one job at a time",
        capacity: 100,
        enabled: true,
        templates: &[t(1, 0, false)],
        launches: &[0, 0],
        running: &[0],
        waiting_says: "",
    },
    Case {
        name: "allow_simultaneous lets it run beside itself",
        capacity: 100,
        enabled: true,
        templates: &[t(1, 0, true)],
        launches: &[0, 0],
        running: &[0, 1],
        waiting_says: "",
    },
    Case {
        name: "one at a time holds per template, not across templates",
        capacity: 100,
        enabled: true,
        templates: &[t(1, 0, false), t(1, 0, false)],
        launches: &[0, 1, 0],
        running: &[0, 1],
        waiting_says: "",
    },
    Case {
        name: "a disabled instance takes nothing",
        capacity: 100,
        enabled: false,
        templates: &[t(1, 0, true)],
        launches: &[0],
        running: &[],
        waiting_says: "instance node-a has none (disabled",
    },
];

fn impact(t: &T) -> i64 {
    let forks = if t.forks <= 0 { 5 } else { t.forks };
    forks.min(t.hosts as i64) + 1
}

async fn check(case: &Case) {
    let rig = Rig::new().await;
    let node = FakeNode::with_script(
        "node-a",
        Script::hold_before(good_run(), "playbook_on_stats"),
    );
    let _task = rig
        .task_node("node-a", node.clone(), NodeOpts::default())
        .await;
    rig.set_instance(
        "node-a",
        json!({"capacity": case.capacity, "enabled": case.enabled}),
    )
    .await;
    let mut jts = Vec::new();
    for (i, t) in case.templates.iter().enumerate() {
        let inv = rig.inventory(&format!("inv{i}"), t.hosts).await;
        let jt = rig
            .template(
                &format!("jt{i}"),
                inv,
                json!({"forks": t.forks, "allow_simultaneous": t.simultaneous}),
            )
            .await;
        jts.push(jt);
    }
    let mut jobs = Vec::new();
    for &l in case.launches {
        jobs.push(rig.launch(jts[l]).await);
    }
    let want: Vec<i64> = case.running.iter().map(|&i| jobs[i]).collect();
    let consumed: i64 = case
        .running
        .iter()
        .map(|&i| impact(&case.templates[case.launches[i]]))
        .sum();
    // What runs is settled once a later pass has counted exactly those jobs on the instance.
    eventually(LIMIT, || async {
        let mut running: Vec<i64> = node.running().iter().map(job_of).collect();
        running.sort();
        let row = rig.instance("node-a").await.unwrap();
        let counted = row["consumed_capacity"].as_i64();
        if running == want && counted == Some(consumed) {
            Ok(())
        } else {
            Err(format!(
                "running {running:?} (want {want:?}), consumed_capacity {counted:?} (want {consumed})"
            ))
        }
    })
    .await;
    for (i, id) in jobs.iter().enumerate() {
        let j = rig.job(*id).await;
        if case.running.contains(&i) {
            assert_eq!(j["status"], "running", "launch {i}: {j}");
            continue;
        }
        assert_eq!(j["status"], "pending", "launch {i}: {j}");
        if !case.waiting_says.is_empty() {
            let why = eventually(LIMIT, || async {
                let j = rig.job(*id).await;
                let why = j["job_explanation"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string();
                if why.is_empty() {
                    Err("no explanation yet")
                } else {
                    Ok(why)
                }
            })
            .await;
            assert!(
                why.contains(case.waiting_says),
                "launch {i} waits saying {why:?}, not {:?}",
                case.waiting_says
            );
        }
    }
}

/// Every case runs at once, each on its own database: the table costs about one case.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_capacity_rule_case_by_case() {
    let mut tasks = Vec::new();
    for (i, case) in CASES.iter().enumerate() {
        tasks.push((
            case.name,
            tokio::spawn(async move { check(&CASES[i]).await }),
        ));
    }
    let mut failed = Vec::new();
    for (name, t) in tasks {
        if let Err(e) = t.await {
            let msg = e
                .try_into_panic()
                .ok()
                .and_then(|p| {
                    p.downcast_ref::<String>()
                        .cloned()
                        .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                })
                .unwrap_or_default();
            failed.push(format!("{name}: {msg}"));
        }
    }
    assert!(failed.is_empty(), "cases failed:\n{}", failed.join("\n"));
}

/// A job that waits for capacity starts as soon as a running one ends, without waiting for
/// the task manager's periodic pass.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_waiting_job_starts_when_a_running_one_ends() {
    let rig = Rig::new().await;
    let node = FakeNode::with_script(
        "node-a",
        Script::hold_before(good_run(), "playbook_on_stats"),
    );
    let _task = rig
        .task_node("node-a", node.clone(), NodeOpts::default())
        .await;
    rig.set_instance("node-a", json!({"capacity": 2})).await;
    let inv = rig.inventory("one", 1).await;
    let jt = rig
        .template("jt", inv, json!({"allow_simultaneous": true}))
        .await;
    let first = rig.launch(jt).await;
    let second = rig.launch(jt).await;
    rig.wait_status(first, "running").await;
    let j = eventually(LIMIT, || async {
        let j = rig.job(second).await;
        if j["job_explanation"]
            .as_str()
            .is_some_and(|s| s.contains(CAPACITY))
        {
            Ok(j)
        } else {
            Err(j)
        }
    })
    .await;
    assert_eq!(j["status"], "pending");
    let unit = node.running()[0].id.clone();
    node.finish(&unit);
    assert_eq!(rig.wait_final(first).await["status"], "successful");
    let j = rig.wait_status(second, "running").await;
    assert_eq!(
        j["job_explanation"], "",
        "the wait's reason is cleared: {j}"
    );
}
