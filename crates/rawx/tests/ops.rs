//! End-to-end operations: supervised components (a fault made to happen is restarted and the
//! server keeps serving; one that keeps failing stops the process non-zero, naming it), SIGTERM
//! draining running jobs, `/api/v2/metrics/` read by the real Prometheus text parser, and log
//! shipping to receivers this test starts (TCP, UDP, HTTPS).
//!
//! Faults come from `RAWX_TEST_FAULT`, a switch compiled into every build but inert unless set:
//! the only honest way to make a real `rawx serve` lose a component.

mod common;

use common::{venv, Opts, Server, ADMIN_PW};
use serde_json::{json, Value};
use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const FINAL: [&str; 4] = ["successful", "failed", "error", "canceled"];

/// Two debug tasks, a pause of `pause_s` seconds (1 unless set), one more task.
const PLAY: &str = "\
- hosts: all
  gather_facts: false
  tasks:
    - name: first
      debug:
        msg: first-done
    - name: second
      debug:
        msg: second-done
    - name: wait in the pause
      pause:
        seconds: \"{{ pause_s | default(1) }}\"
    - name: last
      debug:
        msg: last-done
";

const FAILING: &str = "\
- hosts: all
  gather_facts: false
  tasks:
    - name: this one fails
      fail:
        msg: failing on purpose
";

fn opts(env: &[(&str, &str)]) -> Opts {
    let mut all = vec![(
        "RAWX_ANSIBLE_RUNNER".to_string(),
        venv().join("bin/ansible-runner").display().to_string(),
    )];
    all.extend(env.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    Opts {
        env: all,
        ..Opts::default()
    }
}

fn tail(s: &str, max: usize) -> &str {
    let mut start = s.len().saturating_sub(max);
    while !s.is_char_boundary(start) {
        start += 1;
    }
    &s[start..]
}

struct Lab {
    inventory: i64,
    project: i64,
}

/// An organization, a project with `play.yml` and `fail.yml`, an inventory of one local host.
fn lab(s: &Server) -> Lab {
    let org = s.admin(
        "POST",
        "/api/v2/organizations/",
        Some(json!({"name": "Ops"})),
        201,
    )["id"]
        .as_i64()
        .unwrap();
    let dir = s.data.join("projects/ops");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("play.yml"), PLAY).unwrap();
    std::fs::write(dir.join("fail.yml"), FAILING).unwrap();
    let project = s.admin(
        "POST",
        "/api/v2/projects/",
        Some(json!({"name": "ops", "organization": org, "scm_type": "", "local_path": "ops"})),
        201,
    )["id"]
        .as_i64()
        .unwrap();
    let inventory = s.admin(
        "POST",
        "/api/v2/inventories/",
        Some(json!({"name": "Local", "organization": org})),
        201,
    )["id"]
        .as_i64()
        .unwrap();
    let vars = json!({"ansible_connection": "local", "ansible_python_interpreter": "{{ ansible_playbook_python }}"});
    s.admin(
        "POST",
        "/api/v2/hosts/",
        Some(json!({"name": "localhost", "inventory": inventory, "variables": vars.to_string()})),
        201,
    );
    Lab { inventory, project }
}

fn template(s: &Server, lab: &Lab, name: &str, playbook: &str, extra_vars: Value) -> i64 {
    s.admin(
        "POST",
        "/api/v2/job_templates/",
        Some(json!({"name": name, "project": lab.project, "inventory": lab.inventory,
                    "playbook": playbook, "extra_vars": extra_vars.to_string()})),
        201,
    )["id"]
        .as_i64()
        .unwrap()
}

fn launch(s: &Server, jt: i64) -> i64 {
    s.admin(
        "POST",
        &format!("/api/v2/job_templates/{jt}/launch/"),
        Some(json!({})),
        201,
    )["job"]
        .as_i64()
        .unwrap()
}

fn job(s: &Server, id: i64) -> Value {
    s.admin("GET", &format!("/api/v2/jobs/{id}/"), None, 200)
}

fn wait_final(s: &Server, id: i64) -> Value {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let j = job(s, id);
        if FINAL.contains(&j["status"].as_str().unwrap_or_default())
            && j["event_processing_finished"] == json!(true)
        {
            return j;
        }
        assert!(
            Instant::now() < deadline,
            "job {id} not final: {j}\n--- server\n{}",
            tail(&s.logs(), 4000)
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Waits until the job's pause task has started.
fn wait_in_pause(s: &Server, id: i64) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let page = s.admin(
            "GET",
            &format!("/api/v2/jobs/{id}/job_events/?event=playbook_on_task_start&page_size=50"),
            None,
            200,
        );
        if page["results"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["task"] == "wait in the pause")
        {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "job {id} never reached its pause: {}\n{}",
            job(s, id),
            tail(&s.logs(), 4000)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn components(s: &Server) -> Value {
    let r = s.http("GET", "/api/v2/ping/", None, None);
    assert_eq!(r.status, 200, "{r:?}");
    r.json()["components"].clone()
}

/// Polls ping until `pred` holds of its `components`.
fn wait_components(s: &Server, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let c = components(s);
        if pred(&c) {
            return c;
        }
        assert!(
            Instant::now() < deadline,
            "{what}: components are {c}\n{}",
            tail(&s.logs(), 4000)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// One column of a job row, read straight from the SQLite file of a stopped server.
fn db_status(data: &std::path::Path, job: i64) -> String {
    let out = Command::new("sqlite3")
        .arg(data.join("rawx.db"))
        .arg(format!("SELECT status FROM jobs WHERE id = {job}"))
        .output()
        .expect("run sqlite3");
    assert!(out.status.success(), "{out:?}");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[test]
fn a_failing_component_is_restarted_and_the_server_keeps_serving() {
    let s = Server::start_with(opts(&[("RAWX_TEST_FAULT", "web:2,task:1")]));
    // Both recover: web after two injected panics, task after one.
    let c = wait_components(&s, "web and task running again", |c| {
        c["web"]["state"] == "running"
            && c["web"]["restarts"] == 2
            && c["task"]["state"] == "running"
            && c["task"]["restarts"] == 1
    });
    for name in ["web", "task"] {
        let err = c[name]["last_error"].as_str().unwrap_or_default();
        assert!(
            err.contains("panicked") && err.contains("RAWX_TEST_FAULT") && err.contains(name),
            "{name}'s last error does not say what happened: {c}"
        );
    }
    let logs = s.logs();
    assert!(
        logs.contains("component failed") && logs.contains("injected failure of component `task`"),
        "the failure and its cause were not logged:\n{}",
        tail(&logs, 4000)
    );

    // The restarted task role still runs jobs, and the restarted web server answers the CLI.
    let lab = lab(&s);
    let jt = template(&s, &lab, "after-faults", "play.yml", json!({"pause_s": 0}));
    let id = launch(&s, jt);
    assert_eq!(wait_final(&s, id)["status"], "successful");
    let listed = s.awx_json(&["jobs", "list", "--all"]);
    assert_eq!(listed["count"], 1, "{listed}");

    // The restarts are in the metrics too.
    let m = metrics(&s);
    assert_eq!(
        m.value("rawx_component_restarts_total", &[("component", "web")]),
        2.0
    );
    assert_eq!(
        m.value(
            "rawx_component_state",
            &[("component", "task"), ("state", "running")]
        ),
        1.0
    );
}

#[test]
fn a_component_that_keeps_failing_stops_the_process_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_rawx"))
        .args(["serve", "--bind", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path())
        .env_remove("RAWX_DATABASE_URL")
        .env("RAWX_ADMIN_PASSWORD", ADMIN_PW)
        .env("RAWX_PRELOAD_DATA", "false")
        .env("RAWX_TEST_FAULT", "task:always")
        .stdin(Stdio::null())
        .output()
        .expect("run rawx serve");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success(),
        "rawx serve exited 0 with a crash-looping component:\n{stderr}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "took {:?} to give up",
        started.elapsed()
    );
    let last = stderr.lines().last().unwrap_or_default();
    assert!(
        last.starts_with("rawx: component `task` failed 5 times")
            && last.contains("RAWX_TEST_FAULT"),
        "the last line does not name the component and its cause: {last:?}\n{}",
        tail(&stderr, 3000)
    );
}

#[test]
fn sigterm_drains_running_jobs_and_starts_no_new_ones() {
    let s = Server::start_with(opts(&[("RAWX_DRAIN_TIMEOUT", "30")]));
    let lab = lab(&s);
    let jt = template(&s, &lab, "drain", "play.yml", json!({"pause_s": 3}));
    let running = launch(&s, jt);
    wait_in_pause(&s, running);
    // Same template, not simultaneous: it waits for the first, so it is still pending when
    // SIGTERM arrives, and a draining task role must not start it when the first ends.
    let queued = launch(&s, jt);
    assert_eq!(job(&s, queued)["status"], "pending");

    let t0 = Instant::now();
    let (dir, logs) = s.stop_with_logs();
    let took = t0.elapsed();
    assert!(
        logs.contains("draining"),
        "no drain was logged:\n{}",
        tail(&logs, 3000)
    );
    assert!(
        !logs.contains("handing them back"),
        "jobs were handed back instead of drained:\n{}",
        tail(&logs, 3000)
    );
    assert!(
        took >= Duration::from_millis(500),
        "stopped in {took:?}: it did not wait for the job"
    );
    assert_eq!(db_status(dir.path(), running), "successful");
    assert_eq!(db_status(dir.path(), queued), "pending");

    // The next start runs the queued job.
    let s = Server::start_in(dir, opts(&[]));
    assert_eq!(wait_final(&s, queued)["status"], "successful");
}

#[test]
fn a_job_longer_than_the_drain_is_handed_back_and_re_attached() {
    let s = Server::start_with(opts(&[("RAWX_DRAIN_TIMEOUT", "1")]));
    let lab = lab(&s);
    let jt = template(&s, &lab, "long", "play.yml", json!({"pause_s": 6}));
    let id = launch(&s, jt);
    wait_in_pause(&s, id);
    let (dir, logs) = s.stop_with_logs();
    assert!(
        logs.contains("handing them back"),
        "{}",
        tail(&logs, 3000)
    );
    assert_eq!(db_status(dir.path(), id), "running");
    let s = Server::start_in(dir, opts(&[]));
    let j = wait_final(&s, id);
    assert_eq!(j["status"], "successful", "{j}");
}

/// Samples from the real Prometheus text parser (`prometheus_client.parser`).
struct Metrics(Vec<Value>);

impl Metrics {
    fn value(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.find(name, labels)
            .unwrap_or_else(|| panic!("no sample {name}{labels:?} in {:?}", self.names()))
    }

    fn find(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        self.0
            .iter()
            .find(|s| s["name"] == name && labels.iter().all(|(k, v)| s["labels"][k] == *v))
            .and_then(|s| s["value"].as_f64())
    }

    fn names(&self) -> Vec<&str> {
        let mut n: Vec<&str> = self.0.iter().filter_map(|s| s["name"].as_str()).collect();
        n.dedup();
        n
    }
}

fn parse_prometheus(text: &str) -> Metrics {
    let script = r#"
import json, sys
from prometheus_client.parser import text_string_to_metric_families
out = []
for fam in text_string_to_metric_families(sys.stdin.read()):
    for s in fam.samples:
        out.append({"family": fam.name, "type": fam.type, "name": s.name, "labels": s.labels, "value": s.value})
print(json.dumps(out))
"#;
    let mut child = Command::new(venv().join("bin/python"))
        .args(["-c", script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run python");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "the Prometheus parser rejected /metrics/: {}\n{text}",
        String::from_utf8_lossy(&out.stderr)
    );
    Metrics(
        serde_json::from_slice::<Vec<Value>>(&out.stdout).expect("parser output is JSON"),
    )
}

fn metrics(s: &Server) -> Metrics {
    let r = s.http("GET", "/api/v2/metrics/", Some(("admin", ADMIN_PW)), None);
    assert_eq!(r.status, 200, "{r:?}");
    assert!(
        r.header("content-type")
            .unwrap_or_default()
            .starts_with("text/plain"),
        "{r:?}"
    );
    parse_prometheus(&r.body)
}

#[test]
fn metrics_parse_as_prometheus_text_and_count_what_happened() {
    let s = Server::start_with(opts(&[]));
    let lab = lab(&s);
    let ok = template(&s, &lab, "ok", "play.yml", json!({"pause_s": 0}));
    let bad = template(&s, &lab, "bad", "fail.yml", json!({}));
    let mut events = 0;
    for (jt, want) in [(ok, "successful"), (ok, "successful"), (bad, "failed")] {
        let id = launch(&s, jt);
        assert_eq!(wait_final(&s, id)["status"], want);
        events += s.admin("GET", &format!("/api/v2/jobs/{id}/job_events/"), None, 200)["count"]
            .as_i64()
            .unwrap();
    }
    assert!(events > 10, "only {events} events");

    let m = metrics(&s);
    assert_eq!(m.value("awx_status_total", &[("status", "successful")]), 2.0);
    assert_eq!(m.value("awx_status_total", &[("status", "failed")]), 1.0);
    assert_eq!(m.value("awx_status_total", &[("status", "pending")]), 0.0);
    assert_eq!(m.value("awx_running_jobs_total", &[]), 0.0);
    assert_eq!(m.value("awx_job_templates_total", &[]), 2.0);
    assert_eq!(m.value("awx_organizations_total", &[]), 1.0);
    assert_eq!(m.value("awx_hosts_total", &[("type", "all")]), 1.0);
    assert_eq!(
        m.value("awx_instance_status_total", &[("status", "successful")]),
        2.0
    );
    assert_eq!(
        m.value("awx_instance_launch_type_total", &[("launch_type", "manual")]),
        3.0
    );
    assert!(m.value("awx_instance_capacity", &[]) > 0.0);
    assert_eq!(
        m.value("awx_instance_consumed_capacity", &[]),
        0.0,
        "nothing runs, nothing is consumed"
    );
    // AWX's ingest counter: every event the ingester stored, on this node.
    assert_eq!(
        m.value("callback_receiver_events_insert_db", &[]),
        events as f64
    );
    assert_eq!(
        m.value("rawx_component_state", &[("component", "web"), ("state", "running")]),
        1.0
    );

    // Admins and auditors only, as AWX.
    let anon = s.http("GET", "/api/v2/metrics/", None, None);
    assert_eq!(anon.status, 401, "{anon:?}");
    s.admin(
        "POST",
        "/api/v2/users/",
        Some(json!({"username": "joe", "password": "joe-pw"})),
        201,
    );
    let joe = s.http("GET", "/api/v2/metrics/", Some(("joe", "joe-pw")), None);
    assert_eq!(joe.status, 403, "{joe:?}");

    // The dashboard counts what the caller sees.
    let d = s.admin("GET", "/api/v2/dashboard/", None, 200);
    assert_eq!(d["job_templates"]["total"], 2, "{d}");
    assert_eq!(d["hosts"]["total"], 1, "{d}");
    assert_eq!(d["inventories"]["total"], 1, "{d}");
    let dj = s.http("GET", "/api/v2/dashboard/", Some(("joe", "joe-pw")), None);
    assert_eq!(dj.status, 200, "{dj:?}");
    assert_eq!(dj.json()["job_templates"]["total"], 0, "{}", dj.body);
}
