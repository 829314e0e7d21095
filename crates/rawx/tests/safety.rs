//! End-to-end safety (issue 14): a cancel (or a timeout) leaves no process of the job anywhere,
//! also across a `kill -9` of the controller; replicas started together on a fresh database all
//! come up; shipped job events carry their output with injected secrets masked; a saturated
//! machine does not get a live node declared lost.

mod common;

use common::lab::{local_vars, tail, Lab};
use common::{Opts, Server, ADMIN_PW};
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

/// A job's sleeps and everything started with its private data dir (`<data>/jobs/<id>`).
fn job_markers(nap: &str, id: i64) -> Vec<String> {
    vec![
        nap.to_string(),
        format!("/jobs/{id}/"),
        format!("/jobs/{id} "),
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
    let took = gone_within(&job_markers(&nap_c, id), GONE_LIMIT);
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
    gone_within(&job_markers(&nap_t, timed), Duration::from_secs(5));
}

/// `kill -9` of the controller while a job runs leaves its unit running (a restart re-attaches);
/// a cancel after the restart still stops every process of it. A cancel followed at once by
/// another `kill -9` (the cancel pending while nothing of rawx runs) still ends with nothing
/// of the job left, and the next start closes the job `canceled`.
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
    let took = gone_within(&job_markers(&nap_a, a), GONE_LIMIT);
    eprintln!(
        "FIGURE cancel after a restart → last process gone: {:.2} s",
        took.as_secs_f64()
    );
    let job = lab.wait_for(a, Duration::from_secs(60));
    assert_eq!(job["status"], "canceled", "{job}");

    // Cancel, then kill -9 before the unit could be stopped by the node.
    cancel(&lab.s, b);
    // Long enough for the node to send its SIGINT, far shorter than the grace it then waits.
    std::thread::sleep(Duration::from_millis(300));
    let Lab { s, org } = lab;
    kill9(&s);
    let dir = s.stop();
    let took = gone_within(&job_markers(&nap_b, b), GONE_LIMIT);
    eprintln!(
        "FIGURE cancel pending across kill -9 → last process gone: {:.2} s",
        took.as_secs_f64()
    );
    let s = Server::start_in(dir, opts);
    let lab = Lab { s, org };
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
