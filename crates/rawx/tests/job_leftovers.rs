//! A cancel or a timeout leaves no process of the job anywhere (forked workers, `async` tasks,
//! background children that left the unit's group), also across a `kill -9` of the controller.

use rawx_testkit::eventually;
use rawx_testkit::lab::{local_vars, tail, Lab};
use rawx_testkit::leftovers::{
    gone_within, job_markers, job_processes, sleepers, unique_nap, Leftovers, GONE_LIMIT,
};
use rawx_testkit::{Opts, Server, ADMIN_PW};
use serde_json::{json, Value};
use std::process::Command;
use std::time::{Duration, Instant};

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

fn wait_sleepers(lab: &Lab, id: i64, nap: &str, want: usize) {
    eventually(Duration::from_secs(120), || {
        let n = sleepers(nap);
        if n >= want {
            Ok(())
        } else {
            Err(format!(
                "job {id}: {n} of {want} sleeps started: {}\n--- stdout\n{}",
                lab.job(id),
                lab.stdout(id)
            ))
        }
    });
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

/// Cancel of a job whose forked workers (ansible's `setsid()`), `async` task and background
/// child all left the unit's process group: within the grace nothing of the job runs, the job
/// is `canceled`, and the events stored before the cancel are kept. A template's timeout ends
/// its job the same way.
#[test]
fn cancel_and_timeout_leave_no_process_of_the_job() {
    let (lab, p, inv) = lab_with_play();
    let s = &lab.s;
    let (nap_c, nap_t) = (unique_nap(), format!("{}1", unique_nap()));
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
    let (nap_a, nap_b) = (unique_nap(), format!("{}2", unique_nap()));
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
        job_processes(std::slice::from_ref(&nap_a))
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
    // Not `eventually`: both outcomes are right, this only tells which one happened.
    let t = Instant::now();
    let mut alone = false;
    while t.elapsed() < Duration::from_secs(12) {
        if job_processes(&markers).is_empty() {
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
