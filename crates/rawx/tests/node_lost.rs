//! The reaper and the heartbeat: a saturated machine does not get a live node declared lost;
//! a node frozen past the limit is, its job fails, and it rejoins once resumed.

use rawx_testkit::eventually;
use rawx_testkit::lab::tail;
use rawx_testkit::leftovers::{
    gone_within, job_markers, sleepers, unique_nap, Leftovers, GONE_LIMIT,
};
use rawx_testkit::{Opts, Proc, Server};
use serde_json::{json, Value};
use std::process::Command;
use std::time::Duration;

/// `n` busy loops at normal priority, each ending by itself after `secs` (even if this test
/// is killed) and killed on drop.
struct Hogs(#[allow(dead_code)] Vec<Proc>);

impl Hogs {
    fn start(n: usize, secs: u64) -> Hogs {
        let code =
            format!("import time\nend = time.time() + {secs}\nwhile time.time() < end: pass\n");
        Hogs(
            (0..n)
                .map(|_| Proc::spawn(Command::new("python3").args(["-c", &code])))
                .collect(),
        )
    }
}

/// Resumes a stopped process however the test ends.
struct Resume(u32);

impl Drop for Resume {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-CONT", &self.0.to_string()])
            .status();
    }
}

const PAUSE: &str = "\
- hosts: all
  gather_facts: false
  tasks:
    - name: wait
      pause:
        seconds: \"{{ pause_s }}\"
    - name: after
      shell: sleep {{ nap }}
      when: nap is defined
";

/// A web node and two task nodes on one PostgreSQL database, with AWX's heartbeat settings
/// made short (lost after 3 s × 2). The machine saturated at normal priority for 20 s: every
/// job succeeds and no node is declared lost. Then one task node is frozen (SIGSTOP) past
/// the limit while it runs a job: the other fails that job and marks the node lost; once
/// resumed, the node rejoins (ready again, saying so) and nothing of the failed job runs on.
#[test]
fn a_busy_node_is_not_declared_lost_and_a_lost_one_rejoins() {
    let Some(db) = rawx_testkit::PgDb::create("heartbeat") else {
        return;
    };
    let projects = tempfile::tempdir().unwrap();
    let key = "be47".repeat(16);
    let start = |role: &'static str, name: &str| {
        Server::start_with(Opts {
            database_url: Some(db.url.clone()),
            role: Some(role),
            env: vec![
                ("RAWX_NODE_NAME".into(), name.to_string()),
                ("RAWX_SECRET_KEY".into(), key.clone()),
                (
                    "RAWX_PROJECTS_DIR".into(),
                    projects.path().display().to_string(),
                ),
                (
                    "RAWX_ANSIBLE_RUNNER".into(),
                    rawx_testkit::venv()
                        .join("bin/ansible-runner")
                        .display()
                        .to_string(),
                ),
            ],
        })
    };
    let web = start("web", "hb-web");
    let system = web.admin(
        "PATCH",
        "/api/v2/settings/system/",
        Some(json!({"CLUSTER_NODE_HEARTBEAT_PERIOD": 3, "CLUSTER_NODE_MISSED_HEARTBEAT_TOLERANCE": 2})),
        200,
    );
    assert_eq!(system["CLUSTER_NODE_HEARTBEAT_PERIOD"], 3, "{system}");
    let nodes = [start("task", "hb-one"), start("task", "hb-two")];
    let f = rawx_testkit::lab::fixture_in(
        &web,
        projects.path(),
        "hb",
        &[("pause.yml", PAUSE)],
        &["localhost"],
    );
    let jt = web.admin(
        "POST",
        "/api/v2/job_templates/",
        Some(
            json!({"name": "pause", "project": f.project, "inventory": f.inventory,
                    "playbook": "pause.yml", "allow_simultaneous": true,
                    "ask_variables_on_launch": true}),
        ),
        201,
    )["id"]
        .as_i64()
        .unwrap();
    let launch = |vars: Value| {
        web.admin(
            "POST",
            &format!("/api/v2/job_templates/{jt}/launch/"),
            Some(json!({"extra_vars": vars.to_string()})),
            201,
        )["job"]
            .as_i64()
            .unwrap()
    };
    let lost_marks = || {
        rawx_testkit::lab::all_pages(&web, "/api/v2/instances/")
            .into_iter()
            .filter(|i| {
                i["errors"]
                    .as_str()
                    .is_some_and(|e| e.contains("unresponsive"))
            })
            .map(|i| i["hostname"].as_str().unwrap_or_default().to_string())
            .collect::<Vec<_>>()
    };

    // Saturated: twice as many busy loops as cores, for 20 s.
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let jobs: Vec<i64> = {
        let _hogs = Hogs::start(2 * cores, 25);
        let jobs: Vec<i64> = (0..4).map(|_| launch(json!({"pause_s": 8}))).collect();
        std::thread::sleep(Duration::from_secs(20));
        jobs
    };
    // What both task nodes said, for a failure: whichever ran the job and whichever judged it.
    let node_logs = || {
        nodes
            .iter()
            .map(|n| tail(&n.logs(), 6000).to_string())
            .collect::<Vec<_>>()
            .join("\n=====\n")
    };
    for id in &jobs {
        let j = rawx_testkit::lab::wait_final_on(&web, "jobs", *id, Duration::from_secs(180));
        assert_eq!(j["status"], "successful", "{j}\n{}", node_logs());
    }
    assert!(lost_marks().is_empty(), "{:?}", lost_marks());
    for n in &nodes {
        assert!(
            !n.logs().contains("reaping a job"),
            "{}",
            tail(&n.logs(), 3000)
        );
    }

    // Frozen past the limit while it runs a job.
    let nap = unique_nap();
    let _guard = Leftovers(vec![nap.clone()]);
    let id = launch(json!({"pause_s": 1, "nap": nap}));
    // Until the job reaches its sleep.
    eventually(Duration::from_secs(120), || sleepers(&nap) >= 1);
    let job = web.admin("GET", &format!("/api/v2/jobs/{id}/"), None, 200);
    let ctl = job["controller_node"].as_str().unwrap().to_string();
    let frozen = nodes
        .iter()
        .find(|n| n.logs().contains(&format!("task node {ctl} ")))
        .expect("the job's task node");
    let pid = frozen.pid();
    let resume = Resume(pid);
    Command::new("kill")
        .args(["-STOP", &pid.to_string()])
        .status()
        .unwrap();
    let j = rawx_testkit::lab::wait_final_on(&web, "jobs", id, Duration::from_secs(60));
    assert_eq!(j["status"], "failed", "{j}");
    assert!(
        j["job_explanation"]
            .as_str()
            .unwrap_or_default()
            .contains(&ctl),
        "{j}"
    );
    assert_eq!(lost_marks(), vec![ctl.clone()]);
    drop(resume);
    // Back: ready again, told so in its log, and the failed job's processes stopped.
    eventually(Duration::from_secs(30), || {
        let marks = lost_marks();
        if marks.is_empty() {
            Ok(())
        } else {
            Err(format!("{ctl} has not rejoined: {marks:?}"))
        }
    });
    let inst = rawx_testkit::lab::all_pages(&web, &format!("/api/v2/instances/?hostname={ctl}"));
    assert_eq!(inst[0]["node_state"], "ready", "{:?}", inst);
    assert!(
        frozen.logs().contains("rejoining the cluster"),
        "{}",
        tail(&frozen.logs(), 3000)
    );
    gone_within(&job_markers(&nap, &frozen.data, id), GONE_LIMIT);
}
