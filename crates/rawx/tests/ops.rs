//! End-to-end operations: supervised components (a fault made to happen is restarted and the
//! server keeps serving; one that keeps failing stops the process non-zero, naming it), SIGTERM
//! draining running jobs, `/api/v2/metrics/` read by the real Prometheus text parser, and log
//! shipping to receivers this test starts (TCP, UDP, HTTPS).
//!
//! Faults come from `RAWX_TEST_FAULT`, a switch compiled into every build but inert unless set:
//! the only honest way to make a real `rawx serve` lose a component.

use rawx_testkit::lab::{fixture, job, wait_final, wait_in_task, Fixture};
use rawx_testkit::{manage, sqlite, tail, venv, Opts, Server, ADMIN_PW};
use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

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

/// An organization, a project with `play.yml` and `fail.yml`, an inventory of one local host.
fn lab(s: &Server) -> Fixture {
    fixture(
        s,
        "ops",
        &[("play.yml", PLAY), ("fail.yml", FAILING)],
        &["localhost"],
    )
}

fn template(s: &Server, lab: &Fixture, name: &str, playbook: &str, extra_vars: Value) -> i64 {
    s.admin(
        "POST",
        "/api/v2/job_templates/",
        Some(
            json!({"name": name, "project": lab.project, "inventory": lab.inventory,
                    "playbook": playbook, "extra_vars": extra_vars.to_string()}),
        ),
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
    sqlite(data, &format!("SELECT status FROM jobs WHERE id = {job}"))
}

/// The task role's components, each supervised on its own.
const TASK_COMPONENTS: [&str; 5] = [
    "ingester",
    "dispatcher",
    "task-manager",
    "heartbeat",
    "health",
];

#[test]
fn a_failing_component_is_restarted_and_the_server_keeps_serving() {
    let s = Server::start_with(opts(&[(
        "RAWX_TEST_FAULT",
        "web:2,task-manager:1,dispatcher:1,ingester:1",
    )]));
    // All recover: web after two injected panics, the task role's after one each.
    let c = wait_components(&s, "web and the task role running again", |c| {
        c["web"]["state"] == "running"
            && c["web"]["restarts"] == 2
            && ["task-manager", "dispatcher", "ingester"]
                .iter()
                .all(|n| c[*n]["state"] == "running" && c[*n]["restarts"] == 1)
    });
    for name in ["web", "task-manager", "dispatcher", "ingester"] {
        let err = c[name]["last_error"].as_str().unwrap_or_default();
        assert!(
            err.contains("panicked") && err.contains("RAWX_TEST_FAULT") && err.contains(name),
            "{name}'s last error does not say what happened: {c}"
        );
    }
    for name in TASK_COMPONENTS {
        assert_eq!(c[name]["state"], "running", "{name} in {c}");
    }
    let logs = s.logs();
    assert!(
        logs.contains("component failed")
            && logs.contains("injected failure of component `dispatcher`"),
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
            &[("component", "ingester"), ("state", "running")]
        ),
        1.0
    );
}

/// The worst moments for the task role's components to crash, in the middle of a job: the
/// ingester just after committing a batch (nothing acknowledged, published or shipped yet),
/// the dispatcher while the job's task is following its unit. The job still ends
/// `successful` with every event stored exactly once.
#[test]
fn components_crashing_mid_job_lose_and_repeat_no_event() {
    let s = Server::start_with(opts(&[(
        "RAWX_TEST_FAULT",
        "ingester@commit:1,dispatcher@busy:1",
    )]));
    let lab = fixture(
        &s,
        "midjob",
        &[(
            "many.yml",
            "- hosts: all\n  gather_facts: false\n  tasks:\n    - name: before\n      debug:\n        msg: \"before-{{ item }}\"\n      loop: \"{{ range(40) | list }}\"\n    - name: hold\n      pause:\n        seconds: 3\n    - name: after\n      debug:\n        msg: \"after-{{ item }}\"\n      loop: \"{{ range(40) | list }}\"\n",
        )],
        &["localhost"],
    );
    let jt = template(&s, &lab, "mid-job crashes", "many.yml", json!({}));
    let id = launch(&s, jt);
    let j = wait_final(&s, id);
    assert_eq!(j["status"], "successful", "{j}\n{}", tail(&s.logs(), 4000));
    let c = wait_components(&s, "both crashed once and run again", |c| {
        ["dispatcher", "ingester"]
            .iter()
            .all(|n| c[*n]["state"] == "running" && c[*n]["restarts"] == 1)
    });
    for (name, point) in [
        ("ingester", "ingester@commit"),
        ("dispatcher", "dispatcher@busy"),
    ] {
        let err = c[name]["last_error"].as_str().unwrap_or_default();
        assert!(err.contains(point), "{name}: {c}");
    }
    let logs = s.logs();
    assert!(
        logs.contains("re-attaching to a running job"),
        "the restarted dispatcher did not re-attach:\n{}",
        tail(&logs, 4000)
    );
    let events = rawx_testkit::lab::all_pages(
        &s,
        &format!("/api/v2/jobs/{id}/job_events/?order_by=counter"),
    );
    let counters: Vec<i64> = events
        .iter()
        .map(|e| e["counter"].as_i64().unwrap())
        .collect();
    let expected: Vec<i64> = (1..=counters.len() as i64).collect();
    assert_eq!(counters, expected, "events missing or repeated");
    let mut uuids: Vec<&str> = events.iter().map(|e| e["uuid"].as_str().unwrap()).collect();
    uuids.sort();
    uuids.dedup();
    assert_eq!(uuids.len(), events.len(), "an event stored twice");
    let stdout = rawx_testkit::lab::stdout_of(&s, "jobs", id);
    for i in 0..40 {
        for phase in ["before", "after"] {
            let marker = format!("\"msg\": \"{phase}-{i}\"");
            assert_eq!(stdout.matches(&marker).count(), 1, "{marker} in:\n{stdout}");
        }
    }
    let summaries = s.admin(
        "GET",
        &format!("/api/v2/jobs/{id}/job_host_summaries/"),
        None,
        200,
    );
    assert_eq!(summaries["count"], 1, "{summaries}");
}

/// A job's own task that fails (a bug in rawx, made to happen with a fault point) ends that
/// job in `error` saying so, instead of leaving it `running`; the next job runs.
#[test]
fn a_job_task_that_panics_ends_its_job_in_error() {
    let s = Server::start_with(opts(&[("RAWX_TEST_FAULT", "dispatcher@job:1")]));
    let lab = lab(&s);
    let jt = template(&s, &lab, "panicking", "play.yml", json!({"pause_s": 0}));
    let first = wait_final(&s, launch(&s, jt));
    assert_eq!(first["status"], "error", "{first}");
    let why = first["job_explanation"].as_str().unwrap_or_default();
    assert!(
        why.contains("rawx failed while running this job") && why.contains("report"),
        "{first}"
    );
    let next = wait_final(&s, launch(&s, jt));
    assert_eq!(next["status"], "successful", "{next}");
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
        .env("RAWX_TEST_FAULT", "dispatcher:always")
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
        last.starts_with("rawx: component `dispatcher` failed 5 times")
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
    wait_in_task(&s, running, "wait in the pause");
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
    wait_in_task(&s, id, "wait in the pause");
    let (dir, logs) = s.stop_with_logs();
    assert!(logs.contains("handing them back"), "{}", tail(&logs, 3000));
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
    Metrics(serde_json::from_slice::<Vec<Value>>(&out.stdout).expect("parser output is JSON"))
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
    assert_eq!(
        m.value("awx_status_total", &[("status", "successful")]),
        2.0
    );
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
        m.value(
            "awx_instance_launch_type_total",
            &[("launch_type", "manual")]
        ),
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
        m.value(
            "rawx_component_state",
            &[("component", "web"), ("state", "running")]
        ),
        1.0
    );

    // `awx metrics` asks for AWX's JSON form: the same figures by name.
    let cli = s.awx_json(&["metrics"]);
    let ingested = cli["callback_receiver_events_insert_db"]["samples"][0]["value"].clone();
    assert_eq!(ingested, json!(events as f64), "{cli}");
    assert_eq!(cli["awx_status_total"]["type"], "gauge", "{cli}");

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

// ---- log shipping ------------------------------------------------------------------------

/// What a receiver got: one entry per document (a line, a datagram, a request body).
#[derive(Clone, Default)]
struct Received {
    docs: Arc<Mutex<Vec<String>>>,
    /// `Authorization` headers of HTTP requests.
    auth: Arc<Mutex<Vec<String>>>,
}

impl Received {
    fn all(&self) -> Vec<Value> {
        self.docs
            .lock()
            .unwrap()
            .iter()
            .map(|d| serde_json::from_str(d).unwrap_or_else(|e| panic!("not JSON ({e}): {d}")))
            .collect()
    }

    fn raw(&self) -> String {
        self.docs.lock().unwrap().join("\n")
    }

    /// Waits until `pred` holds of the documents received so far.
    fn wait(&self, s: &Server, what: &str, pred: impl Fn(&[Value]) -> bool) -> Vec<Value> {
        let deadline = Instant::now() + Duration::from_secs(40);
        loop {
            let docs = self.all();
            if pred(&docs) {
                return docs;
            }
            assert!(
                Instant::now() < deadline,
                "{what}: the receiver has {} documents; last: {:?}\n--- server\n{}",
                docs.len(),
                docs.last(),
                tail(&s.logs(), 3000)
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// A TCP receiver of JSON lines, which can be stopped (closing its connections) and started
/// again on the same port, as an aggregator that goes down and comes back.
struct TcpReceiver {
    port: u16,
    got: Received,
    stop: Arc<AtomicBool>,
    conns: Arc<Mutex<Vec<TcpStream>>>,
    accept: Option<std::thread::JoinHandle<()>>,
}

impl TcpReceiver {
    fn start(port: u16, got: Received) -> TcpReceiver {
        let listener = TcpListener::bind(("127.0.0.1", port)).expect("bind the TCP receiver");
        let port = listener.local_addr().unwrap().port();
        let stop = Arc::new(AtomicBool::new(false));
        let conns: Arc<Mutex<Vec<TcpStream>>> = Arc::default();
        let (stop2, conns2, got2) = (stop.clone(), conns.clone(), got.clone());
        let accept = std::thread::spawn(move || {
            for stream in listener.incoming() {
                if stop2.load(Ordering::SeqCst) {
                    return;
                }
                let Ok(stream) = stream else { continue };
                conns2.lock().unwrap().push(stream.try_clone().unwrap());
                let got = got2.clone();
                std::thread::spawn(move || {
                    for line in BufReader::new(stream).lines() {
                        let Ok(line) = line else { return };
                        got.docs.lock().unwrap().push(line);
                    }
                });
            }
        });
        TcpReceiver {
            port,
            got,
            stop,
            conns,
            accept: Some(accept),
        }
    }

    /// Closes the listener and every connection: the aggregator is down.
    fn stop(mut self) -> (u16, Received) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Some(a) = self.accept.take() {
            a.join().unwrap();
        }
        for c in self.conns.lock().unwrap().drain(..) {
            let _ = c.shutdown(std::net::Shutdown::Both);
        }
        (self.port, self.got.clone())
    }
}

fn udp_receiver(got: Received) -> u16 {
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = sock.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let mut buf = vec![0u8; 65536];
        while let Ok(n) = sock.recv(&mut buf) {
            got.docs
                .lock()
                .unwrap()
                .push(String::from_utf8_lossy(&buf[..n]).into_owned());
        }
    });
    port
}

/// An HTTPS receiver with a fresh self-signed certificate: records each POST's body and its
/// `Authorization` header, answers 200.
fn https_receiver(got: Received) -> u16 {
    let cert =
        rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()]).unwrap();
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(cert.key_pair.serialize_der().into());
    let config = Arc::new(
        rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert.cert.der().clone()], key)
        .unwrap(),
    );
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            let (config, got) = (config.clone(), got.clone());
            std::thread::spawn(move || {
                let conn = rustls::ServerConnection::new(config).unwrap();
                let mut tls = BufReader::new(rustls::StreamOwned::new(conn, stream));
                loop {
                    let mut line = String::new();
                    if tls.read_line(&mut line).unwrap_or(0) == 0 {
                        return;
                    }
                    let mut length = 0;
                    loop {
                        let mut h = String::new();
                        if tls.read_line(&mut h).unwrap_or(0) == 0 {
                            return;
                        }
                        let h = h.trim_end();
                        if h.is_empty() {
                            break;
                        }
                        let (k, v) = h.split_once(':').unwrap_or((h, ""));
                        match k.to_ascii_lowercase().as_str() {
                            "content-length" => length = v.trim().parse().unwrap_or(0),
                            "authorization" => got.auth.lock().unwrap().push(v.trim().into()),
                            _ => {}
                        }
                    }
                    let mut body = vec![0u8; length];
                    if tls.read_exact(&mut body).is_err() {
                        return;
                    }
                    got.docs
                        .lock()
                        .unwrap()
                        .push(String::from_utf8_lossy(&body).into_owned());
                    let ok = b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n";
                    if tls.get_mut().write_all(ok).is_err() {
                        return;
                    }
                    let _ = tls.get_mut().flush();
                }
            });
        }
    });
    port
}

/// Secrets a careless shipper could leak: the aggregator's own password and a credential's.
const AGG_SECRET: &str = "agg-s3cret-7781";
const CRED_SECRET: &str = "cred-s3cret-5523";

fn logging(s: &Server, body: Value) -> Value {
    s.admin("PATCH", "/api/v2/settings/logging/", Some(body), 200)
}

/// Posts the logging test until its message reaches the receiver (the shipper picks new
/// settings up within a second).
fn connection_test_arrives(s: &Server, got: &Received) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let r = s.http(
            "POST",
            "/api/v2/settings/logging/test/",
            Some(("admin", ADMIN_PW)),
            Some(&json!({})),
        );
        assert_eq!(r.status, 202, "{r:?}");
        std::thread::sleep(Duration::from_millis(300));
        if got
            .all()
            .iter()
            .any(|d| d["message"] == "AWX Connection Test Message")
        {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the test message never arrived\n{}",
            tail(&s.logs(), 3000)
        );
    }
}

/// A template whose job carries a Machine credential with a password, so a leak would show.
fn template_with_secret(s: &Server, lab: &Fixture, name: &str) -> i64 {
    let jt = template(s, lab, name, "play.yml", json!({"pause_s": 0}));
    let machine = s.admin("GET", "/api/v2/credential_types/?name=Machine", None, 200)["results"][0]
        ["id"]
        .as_i64()
        .unwrap();
    let org = s.admin("GET", "/api/v2/organizations/?name=Ops", None, 200)["results"][0]["id"]
        .as_i64()
        .unwrap();
    let cred = s.admin(
        "POST",
        "/api/v2/credentials/",
        Some(
            json!({"name": format!("{name}-cred"), "organization": org, "credential_type": machine,
                    "inputs": {"username": "someone", "password": CRED_SECRET}}),
        ),
        201,
    )["id"]
        .as_i64()
        .unwrap();
    s.admin(
        "POST",
        &format!("/api/v2/job_templates/{jt}/credentials/"),
        Some(json!({"id": cred})),
        204,
    );
    jt
}

fn job_event_docs(docs: &[Value], job: i64) -> Vec<&Value> {
    docs.iter()
        .filter(|d| d["logger_name"] == "awx.analytics.job_events" && d["job"] == job)
        .collect()
}

fn event_count(s: &Server, job: i64) -> usize {
    s.admin("GET", &format!("/api/v2/jobs/{job}/job_events/"), None, 200)["count"]
        .as_u64()
        .unwrap() as usize
}

fn assert_no_secret(got: &Received) {
    let raw = got.raw();
    for secret in [AGG_SECRET, CRED_SECRET] {
        assert!(
            !raw.contains(secret),
            "the aggregator received a secret ({secret})"
        );
    }
}

#[test]
fn logs_ship_over_tcp_and_the_buffer_is_replayed_after_an_outage() {
    let s = Server::start_with(opts(&[]));
    let lab = lab(&s);
    let got = Received::default();
    let rx = TcpReceiver::start(0, got.clone());
    let shown = logging(
        &s,
        json!({"LOG_AGGREGATOR_ENABLED": true, "LOG_AGGREGATOR_HOST": "127.0.0.1",
               "LOG_AGGREGATOR_PORT": rx.port, "LOG_AGGREGATOR_TYPE": "logstash",
               "LOG_AGGREGATOR_PROTOCOL": "tcp", "LOG_AGGREGATOR_USERNAME": "agg-user",
               "LOG_AGGREGATOR_PASSWORD": AGG_SECRET,
               "LOG_AGGREGATOR_LOGGERS": ["awx", "job_events"]}),
    );
    assert_eq!(shown["LOG_AGGREGATOR_PASSWORD"], "$encrypted$", "{shown}");
    connection_test_arrives(&s, &got);

    // A job's events arrive one document each, in AWX's shape.
    let jt = template_with_secret(&s, &lab, "shipped");
    let first = launch(&s, jt);
    assert_eq!(wait_final(&s, first)["status"], "successful");
    let n = event_count(&s, first);
    let docs = got.wait(&s, "every event of the first job", |d| {
        job_event_docs(d, first).len() >= n
    });
    let events = job_event_docs(&docs, first);
    assert_eq!(events.len(), n, "an event was shipped twice");
    let stats = events
        .iter()
        .find(|d| d["event"] == "playbook_on_stats")
        .expect("the stats event was shipped");
    for key in [
        "@timestamp",
        "cluster_host_id",
        "tower_uuid",
        "event_id",
        "event_uuid",
        "counter",
        "host",
        "event_host",
        "job",
    ] {
        assert!(stats.get(key).is_some(), "no {key} in {stats}");
    }
    assert_eq!(stats["type"], "logstash");
    let stored = s.admin(
        "GET",
        &format!("/api/v2/jobs/{first}/job_events/?event=playbook_on_stats"),
        None,
        200,
    );
    assert_eq!(stats["event_id"], stored["results"][0]["id"], "{stats}");
    assert_eq!(stats["level"], "INFO");
    // rawx's own log lines travel too, with their structured fields.
    assert!(
        docs.iter().any(|d| d["logger_name"] == "rawx_control::run"
            && d["message"] == "job finished"
            && d["job"] == first
            && d["status"] == "successful"),
        "the service's own log line was not shipped: {:?}",
        docs.iter()
            .map(|d| d["logger_name"].clone())
            .collect::<Vec<_>>()
    );

    // The aggregator goes down; a job runs; its events wait on disk.
    let (port, got) = rx.stop();
    let second = launch(&s, jt);
    assert_eq!(wait_final(&s, second)["status"], "successful");
    let deadline = Instant::now() + Duration::from_secs(20);
    while !s.logs().contains("buffering them on disk") {
        assert!(
            Instant::now() < deadline,
            "no outage was noticed:\n{}",
            tail(&s.logs(), 3000)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        job_event_docs(&got.all(), second).is_empty(),
        "events reached a receiver that was down"
    );
    let buffered = metrics(&s).value("rawx_logship_buffered_total", &[]);
    assert!(buffered >= 1.0, "nothing was buffered: {buffered}");

    // It comes back on the same port: the buffer is replayed, in order, once.
    let rx = TcpReceiver::start(port, got.clone());
    let n = event_count(&s, second);
    let docs = got.wait(&s, "the buffered events after the outage", |d| {
        job_event_docs(d, second).len() >= n
    });
    let events = job_event_docs(&docs, second);
    assert_eq!(events.len(), n, "an event was replayed twice");
    let counters: Vec<i64> = events
        .iter()
        .map(|d| d["counter"].as_i64().unwrap())
        .collect();
    let mut sorted = counters.clone();
    sorted.sort();
    assert_eq!(counters, sorted, "the replay is out of order");
    assert_no_secret(&got);
    drop(rx.stop());
}

#[test]
fn logs_ship_over_udp_and_https() {
    let s = Server::start_with(opts(&[]));
    let lab = lab(&s);
    let jt = template_with_secret(&s, &lab, "shipped");

    let udp = Received::default();
    let port = udp_receiver(udp.clone());
    logging(
        &s,
        json!({"LOG_AGGREGATOR_ENABLED": true, "LOG_AGGREGATOR_HOST": "127.0.0.1",
               "LOG_AGGREGATOR_PORT": port, "LOG_AGGREGATOR_TYPE": "other",
               "LOG_AGGREGATOR_PROTOCOL": "udp", "LOG_AGGREGATOR_PASSWORD": AGG_SECRET,
               "LOG_AGGREGATOR_LEVEL": "ERROR"}),
    );
    connection_test_arrives(&s, &udp);
    let id = launch(&s, jt);
    assert_eq!(wait_final(&s, id)["status"], "successful");
    let n = event_count(&s, id);
    let docs = udp.wait(&s, "every event over UDP", |d| {
        job_event_docs(d, id).len() >= n
    });
    // The level threshold holds back the service's info lines, not AWX's analytics loggers.
    let info: Vec<&Value> = docs
        .iter()
        .filter(|d| d["level"] == "INFO" && d["logger_name"] != "awx.analytics.job_events")
        .collect();
    assert!(
        info.is_empty(),
        "info lines shipped at level ERROR: {info:?}"
    );
    assert_no_secret(&udp);

    // HTTPS with a self-signed certificate: refused while it is verified, shipped once not.
    let https = Received::default();
    let port = https_receiver(https.clone());
    logging(
        &s,
        json!({"LOG_AGGREGATOR_HOST": format!("https://127.0.0.1:{port}/collect"),
               "LOG_AGGREGATOR_PORT": null, "LOG_AGGREGATOR_TYPE": "splunk",
               "LOG_AGGREGATOR_PROTOCOL": "https", "LOG_AGGREGATOR_USERNAME": "agg-user",
               "LOG_AGGREGATOR_VERIFY_CERT": true}),
    );
    let r = s.http(
        "POST",
        "/api/v2/settings/logging/test/",
        Some(("admin", ADMIN_PW)),
        Some(&json!({})),
    );
    assert_eq!(
        r.status, 400,
        "an untrusted certificate was accepted: {r:?}"
    );
    assert!(
        r.body.contains("certificate") || r.body.contains("TLS"),
        "{r:?}"
    );
    logging(&s, json!({"LOG_AGGREGATOR_VERIFY_CERT": false}));
    connection_test_arrives(&s, &https);
    let id = launch(&s, jt);
    assert_eq!(wait_final(&s, id)["status"], "successful");
    let n = event_count(&s, id);
    let docs = https.wait(&s, "every event over HTTPS", |d| {
        job_event_docs(d, id).len() >= n
    });
    assert!(docs.iter().all(|d| d["type"] == "splunk"));
    let want = format!("Basic {}", base64_encode(&format!("agg-user:{AGG_SECRET}")));
    assert!(
        https.auth.lock().unwrap().iter().all(|a| *a == want),
        "the aggregator was not authenticated with its username and password"
    );
    assert_no_secret(&https);
}

#[test]
fn logging_settings_follow_awx_rules() {
    let s = Server::start();
    // Enabling without a host or type is refused, keyed as AWX keys it.
    let r = s.http(
        "PATCH",
        "/api/v2/settings/logging/",
        Some(("admin", ADMIN_PW)),
        Some(&json!({"LOG_AGGREGATOR_ENABLED": true})),
    );
    assert_eq!(r.status, 400, "{r:?}");
    let errs = r.json()["LOG_AGGREGATOR_ENABLED"].clone();
    assert!(
        errs.to_string().contains("without providing host")
            && errs.to_string().contains("without providing type"),
        "{errs}"
    );
    let r = s.http(
        "PATCH",
        "/api/v2/settings/logging/",
        Some(("admin", ADMIN_PW)),
        Some(
            &json!({"LOG_AGGREGATOR_PROTOCOL": "smtp", "LOG_AGGREGATOR_LOGGERS": ["awx", "nope"]}),
        ),
    );
    assert_eq!(r.status, 400, "{r:?}");
    assert!(r.json()["LOG_AGGREGATOR_PROTOCOL"].is_array(), "{}", r.body);
    assert!(r.json()["LOG_AGGREGATOR_LOGGERS"].is_array(), "{}", r.body);
    // Off: the test endpoint says so, as AWX's does.
    let r = s.http(
        "POST",
        "/api/v2/settings/logging/test/",
        Some(("admin", ADMIN_PW)),
        Some(&json!({})),
    );
    assert_eq!(r.status, 409, "{r:?}");
    assert_eq!(r.json()["error"], "Logging not enabled");
    // The password is sealed at rest, shown masked, and kept when written back masked.
    logging(&s, json!({"LOG_AGGREGATOR_PASSWORD": AGG_SECRET}));
    let shown = logging(&s, json!({"LOG_AGGREGATOR_PASSWORD": "$encrypted$"}));
    assert_eq!(shown["LOG_AGGREGATOR_PASSWORD"], "$encrypted$");
    let all = s.admin("GET", "/api/v2/settings/all/", None, 200);
    assert_eq!(all["LOG_AGGREGATOR_PASSWORD"], "$encrypted$");
    assert_eq!(all["LOG_AGGREGATOR_LEVEL"], "INFO");
    assert_eq!(all["LOG_AGGREGATOR_ACTION_QUEUE_SIZE"], 131072);
    let dir = s.stop();
    let db = std::fs::read(dir.path().join("rawx.db")).unwrap();
    assert!(
        !String::from_utf8_lossy(&db).contains(AGG_SECRET),
        "the aggregator's password is stored in clear"
    );
}

fn base64_encode(s: &str) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let b = s.as_bytes();
    let mut out = String::new();
    for chunk in b.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, c)| n | (u32::from(*c) << (16 - 8 * i)));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(T[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

// ---- rawx manage ------------------------------------------------------------------------

#[test]
fn manage_check_and_cleanup_jobs() {
    let s = Server::start_with(opts(&[]));
    let lab = lab(&s);
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

    let out = manage(data, &["cleanup-activitystream", "--days", "30"]);
    assert_eq!(out.code, 0, "{out}");

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
    let lab = lab(&s);
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

#[test]
fn json_logs_with_a_level_per_component() {
    // The task role's crate at warn, the web's at info: one's lines show, the other's do not.
    let s = Server::start_with(opts(&[
        ("RAWX_LOG_FORMAT", "json"),
        ("RAWX_LOG", "info,rawx_control=warn"),
    ]));
    let lab = lab(&s);
    let jt = template(&s, &lab, "quiet", "play.yml", json!({"pause_s": 0}));
    let id = launch(&s, jt);
    assert_eq!(wait_final(&s, id)["status"], "successful");
    let (_dir, logs) = s.stop_with_logs();
    let lines: Vec<Value> = logs
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    assert!(
        lines.iter().any(|l| l["target"] == "rawx_api::jobs"
            && l["level"] == "INFO"
            && l["fields"]["job"] == id),
        "the web role's launch line is missing:\n{}",
        tail(&logs, 3000)
    );
    assert!(
        !lines.iter().any(|l| l["target"]
            .as_str()
            .is_some_and(|t| t.starts_with("rawx_control"))
            && l["level"] == "INFO"),
        "the task role logged at info although set to warn:\n{}",
        tail(&logs, 3000)
    );
    // Only the stdout banner lines are not JSON.
    let stray: Vec<&str> = logs
        .lines()
        .filter(|l| !l.starts_with('{'))
        .filter(|l| !l.starts_with("Created") && !l.starts_with("rawx ") && !l.starts_with('('))
        .collect();
    assert!(stray.is_empty(), "lines that are not JSON: {stray:?}");
}
