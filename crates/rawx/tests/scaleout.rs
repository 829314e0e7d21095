//! End-to-end: rawx split into role processes as AWX is — two `rawx web` and two `rawx task`
//! on one PostgreSQL database and the machine's Redis — driven by the real `awx` CLI, a Python
//! websocket client and the real `ansible-runner`.

use rawx_testkit::git::{play, Repo};
use rawx_testkit::lab::{all_pages, fixture_in, job, stdout_of, tail, wait_final_on, wait_in_task};
use rawx_testkit::wsclient::Py;
use rawx_testkit::{venv, Opts, PgDb, Server, ADMIN_PW};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

const REDIS: &str = "redis://127.0.0.1:6379";

/// Prints a marker given at launch, once.
const MARKER: &str = "\
- name: Marker play
  hosts: all
  gather_facts: false
  tasks:
    - name: say the marker
      debug:
        msg: \"unique-{{ marker | default('none') }}\"
    - name: a few more events
      debug:
        msg: \"item {{ item }}\"
      loop: [1, 2, 3]
    - name: wait when asked
      pause:
        seconds: \"{{ pause_s | default(0) }}\"
      when: (pause_s | default(0) | int) > 0
    - name: after the wait
      debug:
        msg: after-wait
";

/// A cluster: web and task processes sharing one database, one Redis and one projects dir.
struct Cluster {
    db: PgDb,
    projects: tempfile::TempDir,
    secret: Option<String>,
}

impl Cluster {
    fn new(tag: &str) -> Option<Cluster> {
        let db = PgDb::create(tag)?;
        let projects = tempfile::tempdir().unwrap();
        Some(Cluster {
            db,
            projects,
            secret: None,
        })
    }

    fn start(&mut self, role: &'static str, name: &str) -> Server {
        let projects = self.projects.path().display().to_string();
        self.start_in(role, name, Some(projects))
    }

    /// A node with its own projects dir (`<its data dir>/projects`), as separate machines have.
    fn start_own(&mut self, role: &'static str, name: &str) -> Server {
        self.start_in(role, name, None)
    }

    fn start_in(&mut self, role: &'static str, name: &str, projects: Option<String>) -> Server {
        let mut env = vec![
            ("RAWX_REDIS_URL".to_string(), REDIS.to_string()),
            ("RAWX_NODE_NAME".into(), name.into()),
            // Lost after 15 s of silence (60 by default), so the reaper test is quick.
            ("RAWX_NODE_LOST_AFTER".into(), "15".into()),
            (
                "RAWX_ANSIBLE_RUNNER".into(),
                venv().join("bin/ansible-runner").display().to_string(),
            ),
        ];
        if let Some(p) = projects {
            env.push(("RAWX_PROJECTS_DIR".into(), p));
        }
        // Every process seals and opens credentials with the same key.
        if let Some(k) = &self.secret {
            env.push(("RAWX_SECRET_KEY".into(), k.clone()));
        }
        let s = Server::start_with(Opts {
            database_url: Some(self.db.url.clone()),
            env,
            role: Some(role),
        });
        if self.secret.is_none() {
            let k = std::fs::read_to_string(s.data.join("secret.key")).unwrap();
            self.secret = Some(k.trim().to_string());
        }
        s
    }
}

/// Organization, local inventory, manual project and a template that takes a marker.
fn setup(c: &Cluster, web: &Server) -> i64 {
    let f = fixture_in(
        web,
        c.projects.path(),
        "scale",
        &[("marker.yml", MARKER)],
        &["localhost"],
    );
    web.admin(
        "POST",
        "/api/v2/job_templates/",
        Some(
            json!({"name": "marker", "project": f.project, "inventory": f.inventory,
                    "playbook": "marker.yml", "ask_variables_on_launch": true,
                    "allow_simultaneous": true}),
        ),
        201,
    )["id"]
        .as_i64()
        .unwrap()
}

fn launch(s: &Server, jt: i64, marker: &str) -> i64 {
    s.admin(
        "POST",
        &format!("/api/v2/job_templates/{jt}/launch/"),
        Some(json!({"extra_vars": {"marker": marker}})),
        201,
    )["job"]
        .as_i64()
        .unwrap()
}

fn node_of(j: &Value) -> String {
    j["execution_node"].as_str().unwrap_or_default().to_string()
}

/// A job launched on web-1 with the CLI is followed live on web-2: every event in order, its
/// statuses and summary; then 50 jobs launched at once across both web nodes each run once, on
/// both task nodes.
#[test]
fn two_web_and_two_task_processes_share_the_work() {
    let Some(mut c) = Cluster::new("scale") else {
        return;
    };
    let web1 = c.start("web", "web-1");
    let web2 = c.start("web", "web-2");
    let jt = setup(&c, &web1);

    // The client logs in on web-2 (a session made there) and follows the next job.
    let py = Py::start(
        &web2,
        json!({"login": ["admin", ADMIN_PW], "steps": [
            ["send", {"xrftoken": "$XRF", "groups": {"jobs": ["status_changed", "summary"]}}],
            ["recv"],
            ["ready"],
            ["follow"],
        ]}),
    );
    py.ready();
    // No task node yet: the job waits in `pending` while the client subscribes to it.
    let out = web1.awx(&[
        "job_templates",
        "launch",
        "marker",
        "--extra_vars",
        "{\"marker\": \"live\"}",
    ]);
    assert_eq!(out.code, 0, "{out}");
    let id = out.json()["id"].as_i64().unwrap();
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(job(&web2, id)["status"], "pending");
    let task1 = c.start("task", "task-1");
    let task2 = c.start("task", "task-2");
    let seen = py.result(Duration::from_secs(120));
    assert_eq!(seen["job"], id, "{seen}");
    let done = wait_final_on(&web2, "jobs", id, Duration::from_secs(60));
    assert_eq!(done["status"], "successful", "{done}");

    let received = seen["received"].as_array().unwrap();
    let events: Vec<&Value> = received
        .iter()
        .filter(|m| m["group_name"] == "job_events")
        .collect();
    let api: Vec<Value> = web2.admin(
        "GET",
        &format!("/api/v2/jobs/{id}/job_events/?order_by=counter&page_size=200"),
        None,
        200,
    )["results"]
        .as_array()
        .unwrap()
        .clone();
    let live_counters: Vec<i64> = events
        .iter()
        .map(|e| e["counter"].as_i64().unwrap())
        .collect();
    let api_counters: Vec<i64> = api.iter().map(|e| e["counter"].as_i64().unwrap()).collect();
    assert_eq!(
        live_counters, api_counters,
        "web-2's client saw every stored event, in order"
    );
    for (live, stored) in events.iter().zip(&api) {
        assert_eq!(live["id"], stored["id"]);
        assert_eq!(live["uuid"], stored["uuid"]);
    }
    let statuses: Vec<&str> = received
        .iter()
        .filter(|m| m["group_name"] == "jobs" && m["unified_job_id"] == id)
        .filter_map(|m| m["status"].as_str())
        .collect();
    assert_eq!(statuses, ["pending", "waiting", "running", "successful"]);
    assert!(
        received
            .iter()
            .any(|m| m["unified_job_id"] == id && m["final_counter"] == json!(api.len())),
        "no summary with the final counter: {received:?}"
    );

    // 50 launches at once, half on each web node.
    let ids: Vec<(String, i64)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..50)
            .map(|i| {
                let web = if i % 2 == 0 { &web1 } else { &web2 };
                scope.spawn(move || {
                    let marker = format!("m{i:02}");
                    let id = launch(web, jt, &marker);
                    (marker, id)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut by_node: BTreeMap<String, usize> = BTreeMap::new();
    for (marker, id) in &ids {
        let j = wait_final_on(&web1, "jobs", *id, Duration::from_secs(300));
        assert_eq!(
            j["status"],
            "successful",
            "{j}\n--- task-1\n{}\n--- task-2\n{}",
            tail(&task1.logs(), 3000),
            tail(&task2.logs(), 3000)
        );
        *by_node.entry(node_of(&j)).or_default() += 1;
        let text = stdout_of(&web2, "jobs", *id);
        assert_eq!(
            text.matches(&format!("\"unique-{marker}\"")).count(),
            1,
            "job {id}: the marker {marker} is not there exactly once:\n{text}"
        );
        assert_eq!(
            text.matches("\"unique-").count(),
            1,
            "job {id} ran more than once:\n{text}"
        );
    }
    assert_eq!(
        by_node.keys().cloned().collect::<Vec<_>>(),
        ["task-1", "task-2"],
        "both task nodes took jobs: {by_node:?}"
    );
    drop((task1, task2));
}

/// `kill -9` of the task process running a job: the other task node notices it stopped
/// heart-beating, ends the job `failed` saying which node was lost (no event stored twice, none
/// of those stored lost), and takes the next jobs.
#[test]
fn a_killed_task_node_is_reaped_and_the_other_takes_over() {
    let Some(mut c) = Cluster::new("reap") else {
        return;
    };
    let web = c.start("web", "web-1");
    let jt = setup(&c, &web);
    let task1 = c.start("task", "task-1");
    let id = web.admin(
        "POST",
        &format!("/api/v2/job_templates/{jt}/launch/"),
        Some(json!({"extra_vars": {"marker": "slow", "pause_s": 60}})),
        201,
    )["job"]
        .as_i64()
        .unwrap();
    wait_in_task(&web, id, "wait when asked");
    assert_eq!(node_of(&job(&web, id)), "task-1");
    let task2 = c.start("task", "task-2");
    let data1 = task1.data.clone();
    let t_kill = Instant::now();
    let st = std::process::Command::new("kill")
        .args(["-KILL", &task1.pid().to_string()])
        .status()
        .unwrap();
    assert!(st.success());
    drop(task1);
    let done = wait_final_on(&web, "jobs", id, Duration::from_secs(60));
    eprintln!("reaped {:?} after the kill", t_kill.elapsed());
    assert_eq!(done["status"], "failed", "{done}");
    let why = done["job_explanation"].as_str().unwrap_or_default();
    assert!(
        why.contains("task-1") && why.contains("stopped responding"),
        "{done}"
    );
    let evs: Vec<Value> = web.admin(
        "GET",
        &format!("/api/v2/jobs/{id}/job_events/?order_by=counter&page_size=200"),
        None,
        200,
    )["results"]
        .as_array()
        .unwrap()
        .clone();
    let counters: Vec<i64> = evs.iter().map(|e| e["counter"].as_i64().unwrap()).collect();
    assert!(!counters.is_empty());
    assert_eq!(counters, (1..=counters.len() as i64).collect::<Vec<_>>());
    // The lost node's playbook is still pausing on this machine: end it.
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        if let Ok(cmd) = std::fs::read(e.path().join("cmdline")) {
            if String::from_utf8_lossy(&cmd).contains(&data1.display().to_string()) {
                let _ = std::process::Command::new("kill")
                    .args(["-KILL", &e.file_name().to_string_lossy()])
                    .status();
            }
        }
    }
    // The survivor runs what comes next.
    let next = launch(&web, jt, "after");
    let j = wait_final_on(&web, "jobs", next, Duration::from_secs(60));
    assert_eq!(j["status"], "successful", "{j}");
    assert_eq!(node_of(&j), "task-2");
    drop(task2);
}

/// AWX's `launch_type: sync`: task nodes on separate machines, each with its own projects dir.
/// A git project updated on task-a; the repository gets a new commit; task-a stops and task-b, which never saw the
/// project, runs its job: task-b checks out the job's revision itself (a `sync` update of its
/// own, `job_type: run`, the project left as it was) and the job runs task-a's recorded
/// revision, not the repository's newer one. A second job on task-b needs no sync. A branch
/// chosen at launch that no checkout knows yet is fetched by task-b's sync; one that does not
/// exist fails the job naming the failed sync. An SCM inventory update there reads the project's
/// revision, its node's checkout moved back to it by a sync of its own.
#[test]
fn the_task_node_that_runs_a_job_checks_out_its_revision_itself() {
    let Some(mut c) = Cluster::new("sync") else {
        return;
    };
    // web-1 and task-a on one machine (one projects dir: the web validates playbooks there),
    // task-b on another.
    let web = c.start("web", "web-1");
    let task_a = c.start("task", "task-a");
    let f = fixture_in(&web, c.projects.path(), "unused", &[], &["localhost"]);
    let repos = tempfile::tempdir().unwrap();
    let repo = Repo::new(repos.path(), "repo");
    let r1 = repo.commit(
        &[("site.yml", &play("r1")), ("hosts.ini", "from-r1\n")],
        "r1",
    );
    let p = web.admin(
        "POST",
        "/api/v2/projects/",
        Some(
            json!({"name": "Synced", "organization": f.org, "scm_type": "git",
                    "scm_url": repo.url(), "allow_override": true}),
        ),
        201,
    );
    let pid = p["id"].as_i64().unwrap();
    let first = p["summary_fields"]["current_update"]["id"]
        .as_i64()
        .unwrap();
    let u = wait_final_on(&web, "project_updates", first, Duration::from_secs(120));
    assert_eq!(u["status"], "successful", "{u}");
    assert_eq!(u["execution_node"], "task-a");
    assert_eq!(u["scm_revision"], r1.as_str());
    let local_path = p["local_path"].as_str().unwrap().to_string();
    assert!(c
        .projects
        .path()
        .join(&local_path)
        .join("site.yml")
        .is_file());
    let jt = web.admin(
        "POST",
        "/api/v2/job_templates/",
        Some(
            json!({"name": "synced", "project": pid, "inventory": f.inventory,
                    "playbook": "site.yml", "allow_simultaneous": true}),
        ),
        201,
    )["id"]
        .as_i64()
        .unwrap();
    drop(task_a);

    let r2 = repo.commit(&[("site.yml", &play("r2"))], "r2");
    let task_b = c.start_own("task", "task-b");
    let checkout_b = task_b.data.join("projects").join(&local_path);
    assert!(!checkout_b.exists());
    let id = web.admin(
        "POST",
        &format!("/api/v2/job_templates/{jt}/launch/"),
        None,
        201,
    )["job"]
        .as_i64()
        .unwrap();
    let done = wait_final_on(&web, "jobs", id, Duration::from_secs(120));
    let out = stdout_of(&web, "jobs", id);
    assert_eq!(
        done["status"],
        "successful",
        "{done}\n{out}\n--- task-b\n{}",
        tail(&task_b.logs(), 3000)
    );
    assert_eq!(node_of(&done), "task-b");
    assert!(out.contains("git-play says r1"), "{out}");
    assert!(!out.contains("git-play says r2"), "{out}");
    assert_eq!(done["scm_revision"], r1.as_str());

    let syncs = all_pages(
        &web,
        &format!("/api/v2/project_updates/?project={pid}&launch_type=sync"),
    );
    assert_eq!(syncs.len(), 1, "{syncs:?}");
    let sync = &syncs[0];
    assert_eq!(sync["status"], "successful", "{sync}");
    assert_eq!(sync["job_type"], "run");
    assert_eq!(sync["execution_node"], "task-b");
    assert_eq!(sync["scm_revision"], r1.as_str());
    assert!(
        stdout_of(&web, "project_updates", sync["id"].as_i64().unwrap())
            .contains("TASK [Update project using git]")
    );
    // The project is as its last check left it: revision r1, that update its last.
    let proj = web.admin("GET", &format!("/api/v2/projects/{pid}/"), None, 200);
    assert_eq!(proj["scm_revision"], r1.as_str(), "{proj}");
    assert_eq!(proj["summary_fields"]["last_update"]["id"], first, "{proj}");
    assert_ne!(r1, r2);

    // The revision is on task-b now: the next job there runs it without another sync.
    let id2 = web.admin(
        "POST",
        &format!("/api/v2/job_templates/{jt}/launch/"),
        None,
        201,
    )["job"]
        .as_i64()
        .unwrap();
    let done = wait_final_on(&web, "jobs", id2, Duration::from_secs(120));
    assert_eq!(done["status"], "successful", "{done}");
    assert!(stdout_of(&web, "jobs", id2).contains("git-play says r1"));
    let syncs = all_pages(
        &web,
        &format!("/api/v2/project_updates/?project={pid}&launch_type=sync"),
    );
    assert_eq!(syncs.len(), 1, "{syncs:?}");

    // A branch made since any checkout saw it, chosen at launch: the task manager cannot
    // resolve it, task-b's own sync fetches it (AWX's sync with the branch) and the job runs it.
    repo.git(&["checkout", "--quiet", "-b", "feature"]);
    let feature = repo.commit(
        &[
            ("site.yml", &play("feature")),
            ("hosts.ini", "from-feature\n"),
        ],
        "feature",
    );
    let bjt = web.admin(
        "POST",
        "/api/v2/job_templates/",
        Some(
            json!({"name": "branchy", "project": pid, "inventory": f.inventory,
                    "playbook": "site.yml", "ask_scm_branch_on_launch": true}),
        ),
        201,
    )["id"]
        .as_i64()
        .unwrap();
    let launch_branch = |branch: &str| {
        web.admin(
            "POST",
            &format!("/api/v2/job_templates/{bjt}/launch/"),
            Some(json!({ "scm_branch": branch })),
            201,
        )["job"]
            .as_i64()
            .unwrap()
    };
    let id3 = launch_branch("feature");
    let done = wait_final_on(&web, "jobs", id3, Duration::from_secs(120));
    let out = stdout_of(&web, "jobs", id3);
    assert_eq!(done["status"], "successful", "{done}\n{out}");
    assert_eq!(node_of(&done), "task-b");
    assert!(out.contains("git-play says feature"), "{out}");
    assert_eq!(done["scm_revision"], feature.as_str());
    let syncs = all_pages(
        &web,
        &format!("/api/v2/project_updates/?project={pid}&launch_type=sync&order_by=id"),
    );
    assert_eq!(syncs.len(), 2, "{syncs:?}");
    assert_eq!(syncs[1]["scm_branch"], "feature");
    assert_eq!(syncs[1]["scm_revision"], feature.as_str());

    // A branch nobody has fails the job, naming the sync that could not fetch it.
    let id4 = launch_branch("nope");
    let done = wait_final_on(&web, "jobs", id4, Duration::from_secs(120));
    assert_eq!(done["status"], "failed", "{done}");
    let failed = all_pages(
        &web,
        &format!("/api/v2/project_updates/?project={pid}&launch_type=sync&status=failed"),
    );
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert_eq!(
        done["job_explanation"],
        format!(
            "Previous Task Failed: {{\"job_type\": \"project_update\", \"job_name\": \"Synced\", \"job_id\": \"{}\"}}",
            failed[0]["id"]
        )
    );
    // The project is still as its last check left it.
    let proj = web.admin("GET", &format!("/api/v2/projects/{pid}/"), None, 200);
    assert_eq!(proj["scm_revision"], r1.as_str(), "{proj}");
    assert_eq!(proj["status"], "successful", "{proj}");

    // An SCM inventory update reads the checkout's files: task-b's checkout is on `feature`
    // now, so its own sync puts it back on the project's revision before the update reads it.
    let inv = web.admin(
        "POST",
        "/api/v2/inventories/",
        Some(json!({"name": "from-scm", "organization": f.org})),
        201,
    )["id"]
        .as_i64()
        .unwrap();
    let src = web.admin(
        "POST",
        "/api/v2/inventory_sources/",
        Some(json!({"name": "scm", "inventory": inv, "source": "scm",
                    "source_project": pid, "source_path": "hosts.ini"})),
        201,
    )["id"]
        .as_i64()
        .unwrap();
    let iu = web.admin(
        "POST",
        &format!("/api/v2/inventory_sources/{src}/update/"),
        None,
        202,
    )["id"]
        .as_i64()
        .unwrap();
    let iu = wait_final_on(&web, "inventory_updates", iu, Duration::from_secs(120));
    assert_eq!(iu["status"], "successful", "{iu}");
    assert_eq!(node_of(&iu), "task-b");
    let hosts: Vec<String> = all_pages(&web, &format!("/api/v2/inventories/{inv}/hosts/"))
        .iter()
        .map(|h| h["name"].as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(hosts, ["from-r1"]);
    let syncs = all_pages(
        &web,
        &format!("/api/v2/project_updates/?project={pid}&launch_type=sync&order_by=id"),
    );
    assert_eq!(syncs.len(), 4, "{syncs:?}");
    assert_eq!(syncs[3]["scm_revision"], r1.as_str());
    drop(task_b);
}
