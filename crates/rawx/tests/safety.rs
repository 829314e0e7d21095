//! End-to-end safety (issue 14): a cancel (or a timeout) leaves no process of the job anywhere,
//! also across a `kill -9` of the controller; replicas started together on a fresh database all
//! come up; shipped job events carry their output with injected secrets masked; a saturated
//! machine does not get a live node declared lost.

use rawx_testkit::lab::{local_vars, tail, Lab};
use rawx_testkit::{Opts, Server, ADMIN_PW};
use serde_json::{json, Value};
use std::process::Command;
use std::time::{Duration, Instant};

// ---------------------------------------------------------------------------------------------
// Processes, found by a marker in their command line.

fn cmdline(pid: &str) -> Option<String> {
    let raw = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    Some(String::from_utf8_lossy(&raw).replace('\0', " "))
}

fn zombie(pid: &str) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| s.rfind(')').map(|i| s[i + 2..].starts_with('Z')))
        .unwrap_or(true)
}

/// Live processes whose command line holds any of `markers`, except rawx servers (a unit's
/// runner, also the rawx binary, counts: it is part of the job).
fn processes(markers: &[String]) -> Vec<String> {
    let me = std::process::id().to_string();
    let rawx = env!("CARGO_BIN_EXE_rawx");
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let pid = e.file_name().to_string_lossy().into_owned();
        if !pid.chars().all(|c| c.is_ascii_digit()) || pid == me {
            continue;
        }
        let Some(cmd) = cmdline(&pid) else { continue };
        let server = cmd.starts_with(rawx) && !cmd.contains("__rawx-unit-runner");
        if !server && markers.iter().any(|m| cmd.contains(m.as_str())) && !zombie(&pid) {
            out.push(format!("{pid}: {cmd}"));
        }
    }
    out
}

/// Kills every process a test's jobs may have left, even when the test panics.
struct Leftovers(Vec<String>);

impl Drop for Leftovers {
    fn drop(&mut self) {
        for _ in 0..50 {
            let left = processes(&self.0);
            if left.is_empty() {
                return;
            }
            for p in left {
                let pid = p.split(':').next().unwrap_or_default().to_string();
                let _ = Command::new("kill").args(["-KILL", &pid]).status();
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// A duration no other process on the machine sleeps for: `sleep <nap>` is findable.
fn nap() -> String {
    let n = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!("2999.{:06}{}", n % 1_000_000, std::process::id() % 1000)
}

/// Three hosts, forks 3: a quick task, then on each host an `async` task that is never polled,
/// a `shell` that leaves a background child, and a `shell` that blocks. Each sleeps `nap`.
const PLAY: &str = "\
- name: Leaves things behind
  hosts: all
  gather_facts: false
  tasks:
    - name: before
      debug:
        msg: before-done
    - name: fire and forget
      shell: sleep {{ nap }}
      async: 600
      poll: 0
    - name: leave a background child
      shell: (sleep {{ nap }} > /dev/null 2>&1 &)
    - name: block
      shell: sleep {{ nap }}; echo never-printed
";

const HOSTS: [&str; 3] = ["alpha", "beta", "gamma"];

fn sleepers(nap: &str) -> usize {
    processes(&[nap.to_string()])
        .iter()
        .filter(|p| {
            p.split_once(": ")
                .is_some_and(|(_, c)| c.starts_with("sleep "))
        })
        .count()
}

fn wait_sleepers(lab: &Lab, id: i64, nap: &str, want: usize) {
    let deadline = Instant::now() + Duration::from_secs(120);
    while sleepers(nap) < want {
        assert!(
            Instant::now() < deadline,
            "job {id}: {} of {want} sleeps started: {}\n--- stdout\n{}",
            sleepers(nap),
            lab.job(id),
            lab.stdout(id)
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn lab_with_play() -> (Lab, i64, i64) {
    let lab = Lab::start();
    let p = lab.project("behind", &[("behind.yml", PLAY)]);
    let hosts: Vec<(&str, Value)> = HOSTS.iter().map(|h| (*h, local_vars())).collect();
    let inv = lab.inventory("Three", &hosts);
    (lab, p, inv)
}

fn template(lab: &Lab, p: i64, inv: i64, name: &str, nap: &str, extra: Value) -> i64 {
    let mut body = json!({"forks": 3, "allow_simultaneous": true, "extra_vars": json!({"nap": nap}).to_string()});
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    lab.jt(name, p, inv, "behind.yml", body)
}

fn cancel(s: &Server, id: i64) {
    let r = s.http(
        "POST",
        &format!("/api/v2/jobs/{id}/cancel/"),
        Some(("admin", ADMIN_PW)),
        None,
    );
    assert_eq!(r.status, 202, "{r:?}");
}

/// Polls until none of `markers` is in any live process; returns how long that took.
fn gone_within(markers: &[String], limit: Duration) -> Duration {
    let t = Instant::now();
    loop {
        let left = processes(markers);
        if left.is_empty() {
            return t.elapsed();
        }
        assert!(
            t.elapsed() < limit,
            "{} processes of the job still run {limit:?} after its end was asked for:\n{}",
            left.len(),
            left.join("\n")
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A job's sleeps and everything started with its private data dir (`<data>/jobs/<id>`; the
/// data dir too, since other servers on this machine have a job `id` as well).
fn job_markers(nap: &str, data: &std::path::Path, id: i64) -> Vec<String> {
    let data = data.display();
    vec![
        nap.to_string(),
        format!("{data}/jobs/{id}/"),
        format!("{data}/jobs/{id} "),
    ]
}

/// The grace is Receptor's 10 s; a SIGINT that ansible-runner honours ends it much earlier.
/// The limit allows for a loaded machine.
const GONE_LIMIT: Duration = Duration::from_secs(16);

/// Cancel of a job whose forked workers (ansible's `setsid()`), `async` task and background
/// child all left the unit's process group: within the grace nothing of the job runs, the job
/// is `canceled`, and the events stored before the cancel are kept. A template's timeout ends
/// its job the same way.
#[test]
fn cancel_and_timeout_leave_no_process_of_the_job() {
    let (lab, p, inv) = lab_with_play();
    let s = &lab.s;
    let (nap_c, nap_t) = (nap(), format!("{}1", nap()));
    let _guard = Leftovers(vec![
        nap_c.clone(),
        nap_t.clone(),
        s.data.display().to_string(),
    ]);
    let jt = template(&lab, p, inv, "cancel", &nap_c, json!({}));
    let jt_t = template(&lab, p, inv, "timeout", &nap_t, json!({"timeout": 40}));
    let id = lab.launch(jt);
    let timed = lab.launch(jt_t);

    // Three hosts × (async + background + blocking) sleeps.
    wait_sleepers(&lab, id, &nap_c, 9);
    let before = lab.events(id);
    assert!(
        before
            .iter()
            .any(|e| e["event"] == "runner_on_ok" && e["task"] == "before"),
        "no event of the first task before the cancel"
    );
    let t = Instant::now();
    cancel(s, id);
    let took = gone_within(&job_markers(&nap_c, &s.data, id), GONE_LIMIT);
    eprintln!(
        "FIGURE cancel → last process gone: {:.2} s",
        took.as_secs_f64()
    );
    let job = lab.wait_for(id, Duration::from_secs(60));
    eprintln!("cancel → job final: {:.2} s", t.elapsed().as_secs_f64());
    assert_eq!(job["status"], "canceled", "{job}");
    let after = lab.events(id);
    for e in &before {
        assert!(
            after.iter().any(|a| a["uuid"] == e["uuid"]),
            "event {} stored before the cancel is gone",
            e["counter"]
        );
    }
    assert_eq!(
        after
            .iter()
            .filter(|e| e["event"] == "runner_on_ok" && e["task"] == "before")
            .count(),
        3
    );

    // The timeout: whatever the job left behind is gone once it ends.
    let job = lab.wait_for(timed, Duration::from_secs(150));
    assert_eq!(job["status"], "failed", "{job}");
    assert!(
        job["job_explanation"]
            .as_str()
            .unwrap_or_default()
            .contains("timeout"),
        "{job}"
    );
    // The job ends when rawx sees the timeout; its processes go within the same bound as a
    // cancel (ansible-runner gets SIGINT, the rest SIGKILL after the grace).
    gone_within(&job_markers(&nap_t, &s.data, timed), GONE_LIMIT);
}

/// `kill -9` of the controller while a job runs leaves its unit running (a restart re-attaches);
/// a cancel after the restart still stops every process of it. A cancel followed at once by
/// another `kill -9` (the cancel pending while nothing of rawx runs) still ends with nothing
/// of the job left — by the unit runner alone, or by the next start — and the job `canceled`.
#[test]
fn cancel_after_and_across_a_controller_kill9_leaves_no_process() {
    let (lab, p, inv) = lab_with_play();
    let (nap_a, nap_b) = (nap(), format!("{}2", nap()));
    let _guard = Leftovers(vec![
        nap_a.clone(),
        nap_b.clone(),
        lab.s.data.display().to_string(),
    ]);
    let a = lab.launch(template(&lab, p, inv, "a", &nap_a, json!({})));
    let b = lab.launch(template(&lab, p, inv, "b", &nap_b, json!({})));
    wait_sleepers(&lab, a, &nap_a, 9);
    wait_sleepers(&lab, b, &nap_b, 9);

    let Lab { s, org } = lab;
    let opts: Opts = s.opts();
    kill9(&s);
    let dir = s.stop();
    // The units outlive the controller.
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(
        sleepers(&nap_a),
        9,
        "{:?}",
        processes(std::slice::from_ref(&nap_a))
    );
    let s = Server::start_in(dir, opts.clone());
    let lab = Lab { s, org };

    cancel(&lab.s, a);
    let took = gone_within(&job_markers(&nap_a, &lab.s.data, a), GONE_LIMIT);
    eprintln!(
        "FIGURE cancel after a restart → last process gone: {:.2} s",
        took.as_secs_f64()
    );
    let job = lab.wait_for(a, Duration::from_secs(60));
    assert_eq!(job["status"], "canceled", "{job}");

    // Cancel, then kill -9 at once: the node may or may not have sent its SIGINT yet. If it
    // did, the unit runner finishes the cancel with no rawx running; if not, the next start
    // finds the cancel in `canceled_on` and sends it. Either way nothing of the job is left.
    cancel(&lab.s, b);
    let Lab { s, org } = lab;
    let data = s.data.clone();
    kill9(&s);
    let dir = s.stop();
    let markers = job_markers(&nap_b, &data, b);
    let t = Instant::now();
    let mut alone = false;
    while t.elapsed() < Duration::from_secs(12) {
        if processes(&markers).is_empty() {
            alone = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    if alone {
        eprintln!(
            "FIGURE cancel pending across kill -9 → last process gone with no rawx running: {:.2} s",
            t.elapsed().as_secs_f64()
        );
    }
    let s = Server::start_in(dir, opts);
    let lab = Lab { s, org };
    if !alone {
        let took = gone_within(&markers, GONE_LIMIT);
        eprintln!(
            "FIGURE cancel sent again by the restarted controller → last process gone: {:.2} s",
            took.as_secs_f64()
        );
    }
    let job = lab.wait_for(b, Duration::from_secs(60));
    assert_eq!(
        job["status"],
        "canceled",
        "{job}\n--- server\n{}",
        tail(&lab.s.logs(), 3000)
    );
}

fn kill9(s: &Server) {
    let st = Command::new("kill")
        .args(["-KILL", &s.pid().to_string()])
        .status()
        .expect("run kill");
    assert!(st.success());
}

// ---------------------------------------------------------------------------------------------
// Replicas started together.

/// `GET path` as admin until it answers 200. PostgreSQL's 100 connections are shared with every
/// other suite running at the time: a request that finds none answers 500 after its pool's
/// 10 s, which says nothing about seeding.
fn get_ok(s: &Server, path: &str) -> rawx_testkit::Resp {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let r = s.http("GET", path, Some(("admin", ADMIN_PW)), None);
        if r.status == 200 {
            return r;
        }
        assert!(Instant::now() < deadline, "GET {path}: {r:?}");
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// Three `rawx web` and two `rawx task` started at the same moment on a fresh PostgreSQL
/// database (after `rawx manage migrate`, as an installer does), five rounds: every process
/// comes up, and the database holds one superuser and one of each seeded object.
#[test]
fn five_replicas_started_together_all_come_up_with_one_seed() {
    const ROUNDS: usize = 5;
    let roles: [(&'static str, &str); 5] = [
        ("web", "web-1"),
        ("web", "web-2"),
        ("web", "web-3"),
        ("task", "task-1"),
        ("task", "task-2"),
    ];
    let key = "5afe".repeat(16);
    let mut failures = Vec::new();
    for round in 1..=ROUNDS {
        let Some(db) = rawx_testkit::PgDb::create("seedrace") else {
            return;
        };
        let scratch = tempfile::tempdir().unwrap();
        let data = scratch.path().display().to_string();
        let out = rawx_testkit::rawx(&[
            "manage",
            "--database-url",
            &db.url,
            "--data-dir",
            &data,
            "migrate",
        ]);
        assert_eq!(out.code, 0, "{out}");
        let projects = tempfile::tempdir().unwrap();
        let gate = std::sync::Arc::new(std::sync::Barrier::new(roles.len()));
        let starts: Vec<_> = roles
            .iter()
            .map(|(role, name)| {
                let opts = Opts {
                    database_url: Some(db.url.clone()),
                    role: Some(role),
                    env: vec![
                        ("RAWX_NODE_NAME".into(), name.to_string()),
                        ("RAWX_SECRET_KEY".into(), key.clone()),
                        ("RAWX_PRELOAD_DATA".into(), "true".into()),
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
                };
                let gate = gate.clone();
                std::thread::spawn(move || {
                    gate.wait();
                    Server::start_with(opts)
                })
            })
            .collect();
        let mut servers = Vec::new();
        for (t, (role, name)) in starts.into_iter().zip(roles) {
            match t.join() {
                Ok(s) => servers.push(s),
                Err(e) => {
                    let why = e
                        .downcast_ref::<String>()
                        .cloned()
                        .unwrap_or_else(|| "panicked".into());
                    failures.push(format!(
                        "round {round}: {role} {name} did not come up: {}",
                        tail(&why, 1500)
                    ));
                }
            }
        }
        if servers.len() < roles.len() {
            continue;
        }
        let web = &servers[0];
        let count = |path: &str| get_ok(web, path).json()["count"].as_u64().unwrap();
        assert_eq!(
            count("/api/v2/users/?is_superuser=true"),
            1,
            "round {round}"
        );
        assert_eq!(
            count("/api/v2/organizations/?name=Default"),
            1,
            "round {round}"
        );
        assert_eq!(
            count("/api/v2/job_templates/?name=Demo+Job+Template"),
            1,
            "round {round}"
        );
        assert_eq!(count("/api/v2/instance_groups/"), 2, "round {round}");
        assert_eq!(count("/api/v2/execution_environments/"), 2, "round {round}");
        assert_eq!(
            count("/api/v2/credential_types/?name=Machine"),
            1,
            "round {round}"
        );
        for s in &servers[1..3] {
            get_ok(s, "/api/v2/ping/");
        }
        drop(servers);
    }
    let failed: std::collections::BTreeSet<&str> = failures
        .iter()
        .filter_map(|f| f.split(':').next())
        .collect();
    eprintln!(
        "FIGURE replicas started together: {} of {ROUNDS} rounds with all five up",
        ROUNDS - failed.len()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

// ---------------------------------------------------------------------------------------------
// Shipped job events.

/// A TCP aggregator: every JSON line it receives, kept raw.
struct Aggregator {
    port: u16,
    lines: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl Aggregator {
    fn start() -> Aggregator {
        use std::io::BufRead;
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let lines = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let keep = lines.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming().flatten() {
                let keep = keep.clone();
                std::thread::spawn(move || {
                    for line in std::io::BufReader::new(conn).lines().map_while(Result::ok) {
                        keep.lock().unwrap().push(line);
                    }
                });
            }
        });
        Aggregator { port, lines }
    }

    /// The job-event documents of `job` received so far.
    fn events(&self, job: i64) -> Vec<(String, Value)> {
        self.lines
            .lock()
            .unwrap()
            .iter()
            .filter_map(|l| Some((l.clone(), serde_json::from_str::<Value>(l).ok()?)))
            .filter(|(_, d)| d["logger_name"] == "awx.analytics.job_events" && d["job"] == job)
            .collect()
    }
}

const SECRET: &str = "pw-7c1f-secret";

/// Prints the credential's password by accident (an echoed token, say) and a marker.
const TALKATIVE: &str = "\
- hosts: all
  gather_facts: false
  tasks:
    - name: talk
      debug:
        msg: \"marker-31337 and pw-7c1f-secret\"
";

/// As AWX 24 ships them, each job event carries its `stdout` and its `event_data` (an object);
/// the value of a credential rawx injected never leaves the machine, wherever it appeared.
#[test]
fn shipped_job_events_carry_their_output_with_injected_secrets_masked() {
    let lab = Lab::start();
    let s = &lab.s;
    let agg = Aggregator::start();
    s.admin(
        "PATCH",
        "/api/v2/settings/logging/",
        Some(
            json!({"LOG_AGGREGATOR_ENABLED": true, "LOG_AGGREGATOR_HOST": "127.0.0.1",
                    "LOG_AGGREGATOR_PORT": agg.port, "LOG_AGGREGATOR_TYPE": "logstash",
                    "LOG_AGGREGATOR_PROTOCOL": "tcp", "LOG_AGGREGATOR_LOGGERS": ["job_events"]}),
        ),
        200,
    );
    let p = lab.project("talk", &[("talk.yml", TALKATIVE)]);
    let inv = lab.inventory("One", &[("localhost", local_vars())]);
    let jt = lab.jt("talk", p, inv, "talk.yml", json!({}));
    let cred = lab.credential(
        "machine",
        "Machine",
        json!({"username": "someone", "password": SECRET}),
    );
    lab.attach(jt, cred);
    // The shipper picks the settings up within a second.
    std::thread::sleep(Duration::from_secs(2));
    let id = lab.launch(jt);
    lab.wait_status(id, "successful");
    // Stored as ansible printed it (AWX does not rewrite stored output) …
    assert!(lab.stdout(id).contains(SECRET));
    let n = lab.events(id).len();
    let deadline = Instant::now() + Duration::from_secs(30);
    while agg.events(id).len() < n {
        assert!(
            Instant::now() < deadline,
            "{} of {n} events shipped\n{}",
            agg.events(id).len(),
            tail(&s.logs(), 3000)
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let docs = agg.events(id);
    // … shipped with the output, and without the secret.
    for (raw, _) in &docs {
        assert!(
            !raw.contains(SECRET),
            "a shipped document holds the secret: {raw}"
        );
    }
    let ok = docs
        .iter()
        .map(|(_, d)| d)
        .find(|d| d["event"] == "runner_on_ok")
        .expect("the task's result was shipped");
    let stdout = ok["stdout"].as_str().unwrap_or_default();
    assert!(stdout.contains("marker-31337"), "{ok}");
    assert!(stdout.contains("**********"), "{ok}");
    assert_eq!(ok["event_data"]["task"], "talk", "{ok}");
    assert_eq!(
        ok["event_data"]["res"]["msg"], "marker-31337 and **********",
        "{ok}"
    );
    assert!(docs
        .iter()
        .all(|(_, d)| d.get("stdout").is_some() && d["event_data"].is_object()));
}

/// Many large events: more than the socket buffers between rawx and an aggregator hold.
const CHATTY: &str = "\
- hosts: all
  gather_facts: false
  tasks:
    - name: big events
      debug:
        msg: \"{{ 'x' * 3000 }} {{ item }}\"
      loop: \"{{ range(700) | list }}\"
";

/// An aggregator that accepts connections but never reads: the shipper's writes time out
/// after `LOG_AGGREGATOR_TCP_TIMEOUT` and what it held goes to the disk buffer, the job's
/// events are all stored, and the job ends normally.
#[test]
fn an_aggregator_that_never_reads_does_not_hold_the_shipper() {
    let lab = Lab::start();
    let s = &lab.s;
    // A receiver with a tiny receive buffer that never reads.
    let mut sink = Command::new(rawx_testkit::venv().join("bin/python"))
        .args([
            "-c",
            "import socket, sys, time\n\
             l = socket.socket()\n\
             l.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)\n\
             l.bind(('127.0.0.1', 0)); l.listen(8)\n\
             print(l.getsockname()[1], flush=True)\n\
             conns = []\n\
             while True:\n    c, _ = l.accept(); conns.append(c)\n",
        ])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    struct Kill(std::process::Child);
    impl Drop for Kill {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let port = {
        use std::io::BufRead;
        let mut line = String::new();
        std::io::BufReader::new(sink.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        line.trim().to_string()
    };
    let _sink = Kill(sink);
    s.admin(
        "PATCH",
        "/api/v2/settings/logging/",
        Some(
            json!({"LOG_AGGREGATOR_ENABLED": true, "LOG_AGGREGATOR_HOST": "127.0.0.1",
                    "LOG_AGGREGATOR_PORT": port.parse::<u16>().unwrap(),
                    "LOG_AGGREGATOR_TYPE": "logstash", "LOG_AGGREGATOR_PROTOCOL": "tcp",
                    "LOG_AGGREGATOR_TCP_TIMEOUT": 2, "LOG_AGGREGATOR_LOGGERS": ["job_events"]}),
        ),
        200,
    );
    let p = lab.project("chatty", &[("chatty.yml", CHATTY)]);
    let inv = lab.inventory("One", &[("localhost", local_vars())]);
    let jt = lab.jt("chatty", p, inv, "chatty.yml", json!({}));
    std::thread::sleep(Duration::from_secs(2));
    let id = lab.launch(jt);
    let job = lab.wait_for(id, Duration::from_secs(300));
    assert_eq!(job["status"], "successful", "{job}");
    assert!(lab.events(id).len() > 700);
    let deadline = Instant::now() + Duration::from_secs(30);
    while !s.logs().contains("buffering them on disk") {
        assert!(
            Instant::now() < deadline,
            "the shipper never gave up on the silent aggregator:\n{}",
            tail(&s.logs(), 3000)
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    // What the silent aggregator's connection could not take went to disk (and is replayed
    // into each new connection, which takes what its socket buffers hold, then stalls again).
    let metrics = s.http("GET", "/api/v2/metrics/", Some(("admin", ADMIN_PW)), None);
    let buffered: f64 = metrics
        .body
        .lines()
        .find(|l| l.starts_with("rawx_logship_buffered_total"))
        .and_then(|l| l.split_whitespace().last()?.parse().ok())
        .unwrap_or(0.0);
    assert!(
        buffered > 0.0,
        "nothing was buffered on disk:\n{}",
        metrics.body
    );
}

// ---------------------------------------------------------------------------------------------
// Heartbeats.

/// `n` busy loops at normal priority, each ending by itself after `secs` (even if this test
/// is killed) and killed on drop.
struct Hogs(Vec<std::process::Child>);

impl Hogs {
    fn start(n: usize, secs: u64) -> Hogs {
        let code =
            format!("import time\nend = time.time() + {secs}\nwhile time.time() < end: pass\n");
        Hogs(
            (0..n)
                .map(|_| Command::new("python3").args(["-c", &code]).spawn().unwrap())
                .collect(),
        )
    }
}

impl Drop for Hogs {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
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
    for id in &jobs {
        let j = rawx_testkit::lab::wait_final_on(&web, "jobs", *id, Duration::from_secs(180));
        assert_eq!(j["status"], "successful", "{j}");
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
    let nap = nap();
    let _guard = Leftovers(vec![nap.clone()]);
    let id = launch(json!({"pause_s": 1, "nap": nap}));
    let deadline = Instant::now() + Duration::from_secs(120);
    while sleepers(&nap) < 1 {
        assert!(Instant::now() < deadline, "the job never reached its sleep");
        std::thread::sleep(Duration::from_millis(200));
    }
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
    let deadline = Instant::now() + Duration::from_secs(30);
    while !lost_marks().is_empty() {
        assert!(
            Instant::now() < deadline,
            "{ctl} never rejoined: {:?}",
            lost_marks()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let inst = rawx_testkit::lab::all_pages(&web, &format!("/api/v2/instances/?hostname={ctl}"));
    assert_eq!(inst[0]["node_state"], "ready", "{:?}", inst);
    assert!(
        frozen.logs().contains("rejoining the cluster"),
        "{}",
        tail(&frozen.logs(), 3000)
    );
    gone_within(&job_markers(&nap, &frozen.data, id), GONE_LIMIT);
}
