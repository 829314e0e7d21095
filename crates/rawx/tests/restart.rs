//! End-to-end: `kill -9` of `rawx serve` while jobs run, then a start on the same data dir.
//!
//! The node's work units run detached from rawx (their own process group, output in the unit
//! dir), so a job whose unit survived is re-attached and completes with every event stored
//! exactly once; a job whose unit is gone gets a final state that says why. A job still
//! `pending` at the crash simply runs after the restart. Every playbook really runs, through
//! the real `ansible-runner worker`, on local hosts.

use rawx_testkit::lab::{
    all_pages, fixture, job, stdout_of, tail, wait_final_on, wait_in_task, Fixture,
};

use rawx_testkit::{eventually, venv, Opts, Server};
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// A few quick tasks, a pause (8 s unless `pause_s` says otherwise), a few more tasks.
const PLAY: &str = "\
- name: Restart play
  hosts: all
  gather_facts: false
  tasks:
    - name: before one
      debug:
        msg: before-one-done
    - name: before two
      debug:
        msg: before-two-done
    - name: before three
      debug:
        msg: before-three-done
    - name: wait in the pause
      pause:
        seconds: \"{{ pause_s | default(8) }}\"
    - name: after one
      debug:
        msg: after-one-done
    - name: after two
      debug:
        msg: after-two-done
    - name: after three
      debug:
        msg: after-three-done
";

const TASKS: [&str; 7] = [
    "before one",
    "before two",
    "before three",
    "wait in the pause",
    "after one",
    "after two",
    "after three",
];
const PAUSE_TASK: &str = "wait in the pause";

/// About 2,000 events: a loop of 1,000 items on each of the two hosts, slowed a little so the
/// stream is still flowing when the server is killed.
const MANY: &str = "\
- name: Many events
  hosts: all
  gather_facts: false
  tasks:
    - name: one event per item
      debug:
        msg: \"item {{ item }}\"
      loop: \"{{ range(1000) | list }}\"
      loop_control:
        pause: 0.004
";
const HOSTS: [&str; 2] = ["localhost", "otherhost"];

fn runner_opts() -> Opts {
    Opts {
        env: vec![(
            "RAWX_ANSIBLE_RUNNER".into(),
            venv().join("bin/ansible-runner").display().to_string(),
        )],
        ..Opts::default()
    }
}

/// An organization, the project holding `PLAY` and `MANY`, an inventory of two local hosts.
fn setup(s: &Server) -> Fixture {
    fixture(
        s,
        "restart",
        &[("play.yml", PLAY), ("many.yml", MANY)],
        &HOSTS,
    )
}

fn template(s: &Server, st: &Fixture, name: &str, extra: Value) -> i64 {
    let mut body = json!({"name": name, "project": st.project, "inventory": st.inventory, "playbook": "play.yml"});
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    s.admin("POST", "/api/v2/job_templates/", Some(body), 201)["id"]
        .as_i64()
        .unwrap()
}

fn launch(s: &Server, jt: i64, body: Value) -> i64 {
    s.admin(
        "POST",
        &format!("/api/v2/job_templates/{jt}/launch/"),
        Some(body),
        201,
    )["job"]
        .as_i64()
        .unwrap()
}

fn events(s: &Server, id: i64) -> Vec<Value> {
    all_pages(
        s,
        &format!("/api/v2/jobs/{id}/job_events/?no_truncate=1&order_by=counter&page_size=200"),
    )
}

fn stdout(s: &Server, id: i64) -> String {
    stdout_of(s, "jobs", id)
}

fn proc_cmdline(pid: &str) -> Option<Vec<String>> {
    let raw = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    Some(
        raw.split(|b| *b == 0)
            .filter(|a| !a.is_empty())
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect(),
    )
}

/// (state, ppid) from `/proc/PID/stat`.
fn proc_state(pid: &str) -> Option<(char, u32)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 2..];
    let mut f = rest.split_whitespace();
    let state = f.next()?.chars().next()?;
    let ppid = f.next()?.parse().ok()?;
    Some((state, ppid))
}

fn pids() -> Vec<String> {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|p| p.chars().all(|c| c.is_ascii_digit()))
        .collect()
}

/// Processes (other than the server) whose command line names the data dir: the units' wrappers,
/// the runners and the playbooks they run.
fn unit_processes(data: &Path) -> Vec<(String, String)> {
    let marker = data.display().to_string();
    pids()
        .into_iter()
        .filter_map(|p| {
            let cmd = proc_cmdline(&p)?.join(" ");
            let (state, _) = proc_state(&p)?;
            // The server is rawx; so is each unit's runner (`__rawx-unit-runner`), which is
            // part of the unit.
            let server =
                cmd.starts_with(env!("CARGO_BIN_EXE_rawx")) && !cmd.contains("__rawx-unit-runner");
            (state != 'Z' && cmd.contains(&marker) && !server).then_some((p, cmd))
        })
        .collect()
}

/// `<data>/receptor/<node id>/<unit>`.
fn unit_dir(data: &Path, unit: &str) -> Option<PathBuf> {
    std::fs::read_dir(data.join("receptor"))
        .ok()?
        .flatten()
        .map(|e| e.path().join(unit))
        .find(|p| p.is_dir())
}

fn work_unit(s: &Server, id: i64) -> String {
    let unit = job(s, id)["work_unit_id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(!unit.is_empty(), "job {id} has no work_unit_id");
    unit
}

/// The invariants of every job after a restart: counters exactly 1..n, each uuid once.
fn assert_contiguous(id: i64, evs: &[Value]) {
    let counters: Vec<i64> = evs.iter().filter_map(|e| e["counter"].as_i64()).collect();
    let want: Vec<i64> = (1..=evs.len() as i64).collect();
    assert_eq!(
        counters,
        want,
        "job {id}: event counters are not exactly 1..{}",
        evs.len()
    );
    let uuids: BTreeSet<&str> = evs.iter().filter_map(|e| e["uuid"].as_str()).collect();
    assert_eq!(uuids.len(), evs.len(), "job {id}: an event uuid repeats");
}

/// Every event and summary of a complete run of `PLAY`, stored once.
fn assert_complete(s: &Server, id: i64) {
    let evs = events(s, id);
    assert_contiguous(id, &evs);
    let count = |name: &str| evs.iter().filter(|e| e["event"] == name).count();
    assert_eq!(count("playbook_on_start"), 1, "job {id}");
    assert_eq!(count("playbook_on_stats"), 1, "job {id}");
    let ok: BTreeSet<(String, String)> = evs
        .iter()
        .filter(|e| e["event"] == "runner_on_ok")
        .map(|e| {
            (
                e["task"].as_str().unwrap_or_default().to_string(),
                e["host_name"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    assert_eq!(
        evs.iter().filter(|e| e["event"] == "runner_on_ok").count(),
        ok.len(),
        "job {id}: a runner_on_ok event is stored twice"
    );
    for task in TASKS {
        let starts = evs
            .iter()
            .filter(|e| e["event"] == "playbook_on_task_start" && e["task"] == task)
            .count();
        assert_eq!(starts, 1, "job {id}: task start of {task:?}");
        if task == PAUSE_TASK {
            // `pause` runs once, on the first host.
            assert!(
                ok.iter().any(|(t, _)| t == task),
                "job {id}: no ok event of {task:?}"
            );
            continue;
        }
        for host in HOSTS {
            assert!(
                ok.contains(&(task.to_string(), host.to_string())),
                "job {id}: no ok event of {task:?} on {host}; ok: {ok:?}"
            );
        }
    }
    let text = stdout(s, id);
    for want in [
        "before-one-done",
        "after-one-done",
        "after-two-done",
        "after-three-done",
        "PLAY RECAP",
    ] {
        assert!(
            text.contains(want),
            "job {id}: stdout lacks {want:?}:\n{text}"
        );
    }
    assert_eq!(
        text.matches("after-three-done").count(),
        HOSTS.len(),
        "job {id}: the last task's output is not there once per host:\n{text}"
    );
    let sums = all_pages(s, &format!("/api/v2/jobs/{id}/job_host_summaries/"));
    let names: Vec<&str> = sums
        .iter()
        .filter_map(|h| h["host_name"].as_str())
        .collect();
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(
        sorted,
        {
            let mut h = HOSTS.to_vec();
            h.sort();
            h
        },
        "job {id}: host summaries"
    );
    for h in &sums {
        assert_eq!(h["failures"], 0, "job {id}: {h}");
        assert_eq!(h["dark"], 0, "job {id}: {h}");
        assert!(h["ok"].as_i64().unwrap_or(0) >= 6, "job {id}: {h}");
    }
}

/// `kill -9` of rawx while a job sits in a pause: after the start on the same data dir the job
/// is re-attached to its still-running unit and ends `successful` by itself, with every event
/// stored once. A second launch of the same template (not simultaneous) was still `pending` at
/// the crash: it runs after the restart, once the first is done.
#[test]
fn kill9_during_a_job_reattaches_and_completes() {
    let s = Server::start_with(runner_opts());
    let st = setup(&s);
    let jt = template(&s, &st, "restart", json!({"ask_variables_on_launch": true}));
    let id = launch(&s, jt, json!({}));
    let queued = launch(&s, jt, json!({"extra_vars": {"pause_s": 1}}));
    wait_in_task(&s, id, PAUSE_TASK);
    let before = job(&s, id);
    assert_eq!(before["status"], "running", "{before}");
    let stored_before = events(&s, id).len();
    assert_eq!(
        job(&s, queued)["status"],
        "pending",
        "a second launch of a busy template waits"
    );
    let unit = work_unit(&s, id);

    let opts = s.opts();
    let data = s.data.clone();
    let t_kill = Instant::now();
    let dir = s.kill9();
    let dir_of_unit = unit_dir(&data, &unit)
        .unwrap_or_else(|| panic!("unit {unit} has no dir under {}", data.display()));
    assert!(
        !unit_processes(&data).is_empty(),
        "no process of unit {unit} outlived the server ({})",
        dir_of_unit.display()
    );

    let s = Server::start_in(dir, opts);
    let restarted = t_kill.elapsed();
    let done = wait_final_on(&s, "jobs", id, Duration::from_secs(60));
    let reattached = t_kill.elapsed();
    assert_eq!(
        done["status"],
        "successful",
        "re-attached job: {done}\n--- stdout\n{}\n--- server\n{}",
        stdout(&s, id),
        tail(&s.logs(), 4000)
    );
    assert_eq!(done["failed"], false, "{done}");
    assert_eq!(done["event_processing_finished"], true, "{done}");
    assert_eq!(done["started"], before["started"], "{done}");
    assert!(
        done["finished"].as_str().is_some_and(|f| !f.is_empty()),
        "{done}"
    );
    assert!(
        s.logs().contains("re-attaching"),
        "the server does not say it re-attached:\n{}",
        tail(&s.logs(), 4000)
    );
    assert_complete(&s, id);
    assert!(
        events(&s, id).len() > stored_before,
        "no event after the restart was stored"
    );

    let q = wait_final_on(&s, "jobs", queued, Duration::from_secs(60));
    assert_eq!(
        q["status"],
        "successful",
        "the job pending at the crash: {q}\n--- stdout\n{}",
        stdout(&s, queued)
    );
    assert_eq!(q["event_processing_finished"], true, "{q}");
    assert_complete(&s, queued);
    eprintln!(
        "restart took {restarted:?}; re-attached job final {reattached:?} after the kill; queued job final {:?} after the kill",
        t_kill.elapsed()
    );
    // Nothing of either job keeps running.
    std::thread::sleep(Duration::from_millis(300));
    let left = unit_processes(&s.data);
    assert!(left.is_empty(), "processes left: {left:?}");
}

/// `kill -9` of rawx while two jobs run, then their units are killed too (a host reboot, an OOM
/// kill): one unit's dir is removed, the other's is left with output but no final status. After
/// the start both jobs end `error` with an explanation, keep the events stored before, and none
/// stays `running`.
#[test]
fn kill9_with_the_unit_gone_ends_the_job_in_error() {
    let s = Server::start_with(runner_opts());
    let st = setup(&s);
    let jt = template(&s, &st, "restart", json!({"allow_simultaneous": true}));
    let gone = launch(&s, jt, json!({}));
    let dead = launch(&s, jt, json!({}));
    wait_in_task(&s, gone, PAUSE_TASK);
    wait_in_task(&s, dead, PAUSE_TASK);
    let unit_gone = work_unit(&s, gone);
    let unit_dead = work_unit(&s, dead);
    let stored_gone = events(&s, gone).len();
    let stored_dead = events(&s, dead).len();
    assert!(stored_gone > 0 && stored_dead > 0);

    let opts = s.opts();
    let data = s.data.clone();
    let dir = s.kill9();
    // Kill every process of both units until none is left.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let procs = unit_processes(&data);
        if procs.is_empty() {
            break;
        }
        assert!(Instant::now() < deadline, "cannot kill {procs:?}");
        for (pid, _) in procs {
            let _ = Command::new("kill").args(["-KILL", &pid]).status();
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let d = unit_dir(&data, &unit_gone).expect("the unit dir");
    std::fs::remove_dir_all(&d).unwrap();
    assert!(unit_dir(&data, &unit_dead).is_some());

    let t = Instant::now();
    let s = Server::start_in(dir, opts);
    for (id, stored) in [(gone, stored_gone), (dead, stored_dead)] {
        let j = wait_final_on(&s, "jobs", id, Duration::from_secs(30));
        eprintln!(
            "job {id} final {:?} after the start: {} / {:?}",
            t.elapsed(),
            j["status"],
            j["job_explanation"]
        );
        assert_eq!(
            j["status"],
            "error",
            "{j}\n--- server\n{}",
            tail(&s.logs(), 3000)
        );
        assert_eq!(j["failed"], true, "{j}");
        assert_eq!(j["event_processing_finished"], true, "{j}");
        assert!(j["finished"].as_str().is_some_and(|f| !f.is_empty()), "{j}");
        let why = j["job_explanation"].as_str().unwrap_or_default();
        assert!(
            why.len() > 20 && !why.contains("panicked"),
            "job {id}: the explanation does not tell a user what happened: {why:?}"
        );
        // What was stored before the crash is kept, contiguous, once.
        let evs = events(&s, id);
        assert!(
            evs.len() >= stored,
            "job {id}: {} events after the restart, {stored} before",
            evs.len()
        );
        assert_contiguous(id, &evs);
        assert!(
            !evs.iter().any(|e| e["event"] == "playbook_on_stats"),
            "job {id} did not finish its playbook"
        );
        assert!(
            stdout(&s, id).contains("before-three-done"),
            "job {id}: the output from before the crash is gone"
        );
    }
    // The dir-less unit's job says its unit is gone, the other that its run ended without a
    // result; both mention the work unit or the runner so a user knows where to look.
    let why_gone = job(&s, gone)["job_explanation"]
        .as_str()
        .unwrap_or_default()
        .to_lowercase();
    assert!(
        why_gone.contains("restart") || why_gone.contains("unit"),
        "{why_gone}"
    );
    let why_dead = job(&s, dead)["job_explanation"]
        .as_str()
        .unwrap_or_default()
        .to_lowercase();
    assert!(
        why_dead.contains("runner") || why_dead.contains("unit") || why_dead.contains("lost"),
        "{why_dead}"
    );
}

/// Host name → host id in the setup's inventory.
fn host_ids(s: &Server, st: &Fixture) -> Vec<(String, i64)> {
    all_pages(s, &format!("/api/v2/inventories/{}/hosts/", st.inventory))
        .iter()
        .map(|h| {
            (
                h["name"].as_str().unwrap_or_default().to_string(),
                h["id"].as_i64().unwrap_or_default(),
            )
        })
        .collect()
}

/// A re-attached job is stored as a job that never saw a restart: events after the crash link
/// their host like those before, and `job_env`/`job_args` are what the run recorded.
#[test]
fn a_reattached_job_keeps_host_links() {
    let s = Server::start_with(runner_opts());
    let st = setup(&s);
    let jt = template(&s, &st, "restart", json!({}));
    let id = launch(&s, jt, json!({}));
    wait_in_task(&s, id, PAUSE_TASK);
    let before = job(&s, id);
    let opts = s.opts();
    let dir = s.kill9();
    let s = Server::start_in(dir, opts);
    let done = wait_final_on(&s, "jobs", id, Duration::from_secs(60));
    assert_eq!(done["status"], "successful", "{done}");

    let mut wrong = Vec::new();
    if done["job_env"] != before["job_env"] {
        wrong.push("job_env changed across the restart".to_string());
    }
    if done["job_args"] != before["job_args"] {
        wrong.push(format!(
            "job_args changed: {} → {}",
            before["job_args"], done["job_args"]
        ));
    }
    let ids = host_ids(&s, &st);
    for e in events(&s, id)
        .iter()
        .filter(|e| e["event"] == "runner_on_ok")
    {
        let want = ids
            .iter()
            .find(|(n, _)| e["host_name"] == n.as_str())
            .map(|(_, i)| *i);
        if e["host"].as_i64() != want {
            wrong.push(format!(
                "event {} ({} on {}): host {} (want {want:?})",
                e["counter"], e["task"], e["host_name"], e["host"]
            ));
        }
    }
    for h in all_pages(&s, &format!("/api/v2/jobs/{id}/job_host_summaries/")) {
        let want = ids
            .iter()
            .find(|(n, _)| h["host_name"] == n.as_str())
            .map(|(_, i)| *i);
        if h["host"].as_i64() != want {
            wrong.push(format!("summary of {}: host {}", h["host_name"], h["host"]));
        }
    }
    assert!(
        wrong.is_empty(),
        "the re-attached job differs from an uninterrupted one:\n{}",
        wrong.join("\n")
    );
}

/// A job whose unit vanished while it ran (its dir removed after a crash) is not told that it
/// never started: its explanation must not claim the unit "was not running yet" when the job
/// ran and stored events.
#[test]
fn a_vanished_running_unit_is_explained_accurately() {
    let s = Server::start_with(runner_opts());
    let st = setup(&s);
    let jt = template(&s, &st, "restart", json!({}));
    let id = launch(&s, jt, json!({}));
    wait_in_task(&s, id, PAUSE_TASK);
    let unit = work_unit(&s, id);
    let opts = s.opts();
    let data = s.data.clone();
    let dir = s.kill9();
    for (pid, _) in unit_processes(&data) {
        let _ = Command::new("kill").args(["-KILL", &pid]).status();
    }
    std::fs::remove_dir_all(unit_dir(&data, &unit).expect("the unit dir")).unwrap();
    let s = Server::start_in(dir, opts);
    let j = wait_final_on(&s, "jobs", id, Duration::from_secs(30));
    assert_eq!(j["status"], "error", "{j}");
    let why = j["job_explanation"].as_str().unwrap_or_default();
    assert!(
        !why.contains("before this job's work unit was running"),
        "the job ran (it has events) but its explanation says its unit never ran: {why:?}"
    );
    assert!(
        why.contains(&unit) || why.to_lowercase().contains("lost") || why.contains("gone"),
        "the explanation does not say the job's work unit was lost: {why:?}"
    );
}

/// `kill -9` of rawx in the middle of a 2,000-event stream: after the start every event the
/// unit wrote is stored exactly once (counters exactly 1..n, each uuid once), the job ends
/// `successful` with `event_processing_finished`, and the stdout holds every item once per host.
#[test]
fn kill9_mid_stream_of_2000_events_stores_each_once() {
    let s = Server::start_with(runner_opts());
    let st = setup(&s);
    let jt = template(&s, &st, "many", json!({"playbook": "many.yml"}));
    let id = launch(&s, jt, json!({}));
    let stored_before = eventually(Duration::from_secs(90), || {
        let n = s.admin(
            "GET",
            &format!("/api/v2/jobs/{id}/job_events/?page_size=1"),
            None,
            200,
        )["count"]
            .as_i64()
            .unwrap_or(0);
        if n >= 300 {
            Ok(n)
        } else {
            Err(format!("the stream never got going: {}", job(&s, id)))
        }
    });
    assert_eq!(job(&s, id)["status"], "running");
    let opts = s.opts();
    let dir = s.kill9();
    let s = Server::start_in(dir, opts);
    let done = wait_final_on(&s, "jobs", id, Duration::from_secs(120));
    assert_eq!(
        done["status"],
        "successful",
        "{done}\n--- server\n{}",
        tail(&s.logs(), 4000)
    );
    assert_eq!(done["event_processing_finished"], true, "{done}");
    let evs = events(&s, id);
    assert_contiguous(id, &evs);
    assert!(
        evs.len() as i64 > stored_before,
        "nothing was stored after the restart"
    );
    let items = evs
        .iter()
        .filter(|e| e["event"] == "runner_item_on_ok")
        .count();
    assert_eq!(items, 2000, "one item event per item and host");
    let text = stdout(&s, id);
    for probe in ["item 0\"", "item 517\"", "item 999\""] {
        assert_eq!(
            text.matches(probe).count(),
            2,
            "{probe} is not in the stdout once per host"
        );
    }
}
