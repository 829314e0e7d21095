//! End-to-end: `rawx serve` running its jobs on a separate `rawx receptor` process (the AWX
//! shape: controller + execution node), started the way an existing Receptor deployment
//! starts it — the binary linked as `receptor`, `receptor --config FILE`. Jobs are launched
//! with the real `awx` CLI and run by the real `ansible-runner worker` on that node; events
//! arrive while the job runs; the cancel endpoint reaches the node; `/api/v2/instances/`
//! shows the node with AWX's capacity from `--worker-info`, and `capacity_adjustment` makes a
//! third job wait with an explanation. One node on a Unix socket, one over TLS with work
//! signing.

mod receptor_node;

use rawx_testkit::lab::*;
use rawx_testkit::leftovers::unique_nap;
use rawx_testkit::{eventually, procs, DataDir, ADMIN_PW};
use receptor_node::*;
use serde_json::{json, Value};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// Leaves an `async` task that is never polled and a background child (both leave the unit's
/// process group), then waits: what a cancel on the node must still stop.
const BEHIND: &str = "\
- name: Leaves things behind
  hosts: all
  gather_facts: false
  tasks:
    - name: fire and forget
      shell: sleep {{ nap }}
      async: 600
      poll: 0
    - name: leave a background child
      shell: (sleep {{ nap }} > /dev/null 2>&1 &)
    - name: wait a long time
      pause: {seconds: 60}
";

#[test]
fn jobs_run_on_a_separate_receptor_node() {
    let rx = Receptor::unix("exec1");
    let lab = lab_on(&rx.socket().display().to_string(), &[]);
    let s = &lab.s;

    // Registered like AWX's provision_instance + register_peers, figures from --worker-info.
    let node = checked_instance(&lab, "exec1");
    assert_eq!(node["node_type"], "execution", "{node}");
    assert_eq!(node["node_state"], "ready", "{node}");
    assert!(
        node["version"]
            .as_str()
            .unwrap()
            .starts_with("ansible-runner-"),
        "{node}"
    );
    let cpus: f64 = node["cpu"].as_str().unwrap().parse().unwrap();
    let mem = node["memory"].as_i64().unwrap();
    assert!(cpus >= 1.0 && mem > 0, "{node}");
    assert_eq!(node["cpu_capacity"], json!((cpus * 4.0) as i64), "{node}");
    assert_eq!(
        node["mem_capacity"],
        json!(((mem / 1024 / 1024 - 2048) / 100).max(1)),
        "{node}"
    );
    let (c, m) = (
        node["cpu_capacity"].as_i64().unwrap(),
        node["mem_capacity"].as_i64().unwrap(),
    );
    assert_eq!(node["capacity"], json!(c.max(m)), "adjustment 1: {node}");
    assert_eq!(node["capacity_adjustment"], "1.00");
    assert_eq!(node["errors"], "");
    let all = s.awx_json(&["instances", "list"]);
    let types: Vec<_> = all["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["node_type"].as_str().unwrap().to_string())
        .collect();
    assert!(
        types.contains(&"control".into()) && types.contains(&"execution".into()),
        "{all}"
    );

    // A job launched with the awx CLI runs on the node, its events arriving while it runs.
    let p = lab.project("steps", &[("steps.yml", STEPS), ("behind.yml", BEHIND)]);
    let inv = lab.inventory("One", &[("localhost", local_vars())]);
    lab.jt("steps", p, inv, "steps.yml", json!({}));
    let launched = s.awx_json(&["job_templates", "launch", "steps"]);
    let id = launched["id"].as_i64().unwrap();
    // The pause holds the job: step one is stored while it still runs.
    let unit_on_node = eventually(Duration::from_secs(60), || {
        let job = lab.job(id);
        if job["status"] == "running" && lab.events(id).iter().any(|e| e["task"] == "wait") {
            let unit = job["work_unit_id"].as_str().unwrap();
            let listed = rx.work_list().get(unit).is_some();
            assert_eq!(
                lab.job(id)["status"],
                "running",
                "events came only at the end"
            );
            return Ok(listed);
        }
        assert!(
            !FINAL.contains(&job["status"].as_str().unwrap()),
            "no live events: {job}"
        );
        Err(format!("no live events yet: {job}"))
    });
    assert!(
        unit_on_node,
        "receptorctl on the node does not list the job's unit"
    );
    let job = lab.wait_status(id, "successful");
    assert_eq!(job["execution_node"], "exec1", "{job}");
    let out = s.awx_ok(&["jobs", "stdout", &id.to_string()]);
    assert!(
        out.contains("step one on exec1") && out.contains("step two"),
        "{out}"
    );
    eventually(Duration::from_secs(15), || {
        let list = rx.work_list();
        if list.as_object().is_some_and(|m| !m.is_empty()) {
            Err(format!("the unit was not released: {list}"))
        } else {
            Ok(())
        }
    });

    // Cancel through the API reaches the node, and stops every process the job started
    // there, also those that left the unit's process group.
    let nap = unique_nap();
    // `sleep NAP` itself (argv is NUL-separated), not the shells that started it.
    let sleeps = || {
        procs::pids_naming(&nap)
            .into_iter()
            .filter(|p| {
                std::fs::read(format!("/proc/{p}/cmdline")).is_ok_and(|c| c.starts_with(b"sleep\0"))
            })
            .count()
    };
    let body = json!({"extra_vars": json!({"nap": nap}).to_string()});
    lab.jt("long", p, inv, "behind.yml", body);
    let id = s.awx_json(&["job_templates", "launch", "long"])["id"]
        .as_i64()
        .unwrap();
    wait_in_task(&lab.s, id, "wait a long time");
    eventually(Duration::from_secs(30), || match sleeps() {
        2.. => Ok(()),
        n => Err(format!("{n} of 2 sleeps started")),
    });
    let unit = lab.job(id)["work_unit_id"].as_str().unwrap().to_string();
    let t = Instant::now();
    let r = s.http(
        "POST",
        &format!("/api/v2/jobs/{id}/cancel/"),
        Some(("admin", ADMIN_PW)),
        None,
    );
    assert_eq!(r.status, 202, "{r:?}");
    let job = lab.wait_for(id, Duration::from_secs(20));
    eprintln!("cancel on the separate node took {:?}", t.elapsed());
    assert_eq!(job["status"], "canceled", "{job}");
    assert!(job["elapsed"].as_f64().unwrap() < 40.0, "{job}");
    // Receptor's bound: SIGINT, then SIGKILL 10 s later.
    eventually(Duration::from_secs(12), || match sleeps() {
        0 => Ok(()),
        n => Err(format!(
            "{n} sleeps of the canceled job still run on the node"
        )),
    });
    eprintln!(
        "FIGURE cancel on a separate node → last process gone: {:?}",
        t.elapsed()
    );
    eventually(Duration::from_secs(15), || {
        rx.work_list()
            .get(&unit)
            .is_none()
            .then_some(())
            .ok_or(format!("unit {unit} left on the node"))
    });
}

#[test]
fn capacity_adjustment_makes_a_third_job_wait() {
    let rx = Receptor::unix("exec2");
    let lab = lab_on(&rx.socket().display().to_string(), &[]);
    let s = &lab.s;
    let node = checked_instance(&lab, "exec2");
    let id = node["id"].as_i64().unwrap();
    let path = format!("/api/v2/instances/{id}/");
    let (c, m) = (
        node["cpu_capacity"].as_i64().unwrap(),
        node["mem_capacity"].as_i64().unwrap(),
    );

    // Only admins adjust, within 0..1.
    let bad = s.http(
        "PATCH",
        &path,
        Some(("admin", ADMIN_PW)),
        Some(&json!({"capacity_adjustment": 1.5})),
    );
    assert_eq!(bad.status, 400, "{bad:?}");
    assert_eq!(
        bad.json()["capacity_adjustment"][0],
        "Ensure this value is less than or equal to 1."
    );
    s.admin(
        "POST",
        "/api/v2/users/",
        Some(json!({"username": "bob", "password": "bobpw12345"})),
        201,
    );
    let r = s.http(
        "PATCH",
        &path,
        Some(("bob", "bobpw12345")),
        Some(&json!({"capacity_adjustment": 0})),
    );
    assert_eq!(r.status, 403, "{r:?}");
    let adjusted = s.admin(
        "PATCH",
        &path,
        Some(json!({"capacity_adjustment": "0"})),
        200,
    );
    let cap = c.min(m);
    assert_eq!(adjusted["capacity"], json!(cap), "{adjusted}");
    assert_eq!(adjusted["capacity_adjustment"], "0.00");
    // The `default` instance group holds the execution node: its capacity follows.
    let groups = s.admin("GET", "/api/v2/instance_groups/?name=default", None, 200);
    assert_eq!(groups["results"][0]["capacity"], json!(cap), "{groups}");

    // Jobs of impact k = hosts + 1 (forks = hosts): two fit in the capacity, three do not.
    let k = cap / 2;
    assert!(k >= 2 && 3 * k > cap, "capacity {cap} cannot show this");
    let hosts: Vec<(String, Value)> = (0..k - 1)
        .map(|i| (format!("h{i}"), local_vars()))
        .collect();
    let hosts: Vec<(&str, Value)> = hosts.iter().map(|(n, v)| (n.as_str(), v.clone())).collect();
    let inv = lab.inventory("Many", &hosts);
    let p = lab.project(
        "pause",
        &[(
            "pause.yml",
            "- hosts: all\n  gather_facts: false\n  tasks:\n    - pause: {seconds: 6}\n",
        )],
    );
    lab.jt(
        "pause",
        p,
        inv,
        "pause.yml",
        json!({"allow_simultaneous": true, "forks": k - 1}),
    );
    let ids: Vec<i64> = (0..3)
        .map(|_| {
            s.awx_json(&["job_templates", "launch", "pause"])["id"]
                .as_i64()
                .unwrap()
        })
        .collect();
    let third = eventually(Duration::from_secs(60), || {
        let jobs: Vec<Value> = ids.iter().map(|i| lab.job(*i)).collect();
        let active = jobs
            .iter()
            .filter(|j| j["status"] == "running" || j["status"] == "waiting")
            .count();
        let waiting = jobs.iter().find(|j| {
            j["status"] == "pending"
                && j["job_explanation"]
                    .as_str()
                    .is_some_and(|e| e.contains("Waiting for capacity"))
        });
        if active == 2 {
            if let Some(w) = waiting {
                let node = s.admin("GET", &path, None, 200);
                if node["consumed_capacity"] == json!(2 * k) {
                    assert_eq!(node["jobs_running"], 2, "{node}");
                    return Ok(w.clone());
                }
            }
        }
        Err(format!("never two running and one waiting: {jobs:?}"))
    });
    let why = third["job_explanation"].as_str().unwrap();
    assert!(
        why.contains("exec2")
            && why.contains(&format!("needs {k}"))
            && why.contains(&format!("of {cap}")),
        "{why}"
    );
    for id in &ids {
        lab.wait_status(*id, "successful");
    }
    let last = lab.job(third["id"].as_i64().unwrap());
    assert_eq!(last["job_explanation"], "", "{last}");

    // A health check keeps the adjustment.
    let before = checked_instance(&lab, "exec2")["last_health_check"].clone();
    let r = s.admin("POST", &format!("{path}health_check/"), None, 200);
    assert_eq!(r["msg"], "Health check is running for exec2.", "{r}");
    let node = eventually(Duration::from_secs(30), || {
        let node = s.admin("GET", &path, None, 200);
        if node["last_health_check"] != before {
            Ok(node)
        } else {
            Err(format!("the health check did not run: {node}"))
        }
    });
    assert_eq!(node["capacity"], json!(cap), "{node}");
    assert_eq!(node["node_state"], "ready", "{node}");
    drop(rx);
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .output()
        .expect("run openssl");
    assert!(out.status.success(), "openssl {args:?}: {out:?}");
}

/// A CA, the node's server certificate (for `localhost`), the controller's client
/// certificate, and an RSA work-signing key pair, made with the openssl CLI.
fn make_pki(dir: &Path) {
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "ca.key",
            "-out",
            "ca.crt",
            "-subj",
            "/CN=rawx test CA",
            "-days",
            "2",
        ],
    );
    for (name, cn, usage) in [
        ("node", "localhost", "serverAuth"),
        ("controller", "controller", "clientAuth"),
    ] {
        std::fs::write(
            dir.join(format!("{name}.ext")),
            format!("subjectAltName=DNS:{cn},IP:127.0.0.1\nextendedKeyUsage={usage}\n"),
        )
        .unwrap();
        openssl(
            dir,
            &[
                "req",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-keyout",
                &format!("{name}.key"),
                "-out",
                &format!("{name}.csr"),
                "-subj",
                &format!("/CN={cn}"),
            ],
        );
        openssl(
            dir,
            &[
                "x509",
                "-req",
                "-in",
                &format!("{name}.csr"),
                "-CA",
                "ca.crt",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-out",
                &format!("{name}.crt"),
                "-days",
                "2",
                "-extfile",
                &format!("{name}.ext"),
            ],
        );
    }
    openssl(dir, &["genrsa", "-out", "signing.key", "2048"]);
    openssl(
        dir,
        &[
            "rsa",
            "-in",
            "signing.key",
            "-pubout",
            "-out",
            "signing.pub",
        ],
    );
}

/// The node over TLS with client certificates and `verifysignature`; the controller finds it
/// through a Receptor config (`tls-client`, `work-signing`) as receptorctl would.
#[test]
fn a_node_over_tls_with_signed_work() {
    let dir = DataDir::new();
    make_pki(dir.path());
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let config = format!(
        "- node:\n    id: tlsexec\n    datadir: {{dir}}/data\n- local-only: null\n\
         - tls-server:\n    name: ctl_tls\n    cert: {{dir}}/node.crt\n    key: {{dir}}/node.key\n    clientcas: {{dir}}/ca.crt\n    requireclientcert: true\n\
         - control-service:\n    service: control\n    tcplisten: 127.0.0.1:{port}\n    tcptls: ctl_tls\n\
         - work-verification:\n    publickey: {{dir}}/signing.pub\n{}",
        work_command(true)
    );
    let pki = dir.path().to_path_buf();
    let _rx = Receptor::start(&config, dir, |_| {
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
    });
    let controller_conf = pki.join("controller.conf");
    std::fs::write(
        &controller_conf,
        format!(
            "- node:\n    id: controller\n- local-only: null\n\
             - tls-client:\n    name: exec_tls\n    cert: {d}/controller.crt\n    key: {d}/controller.key\n    rootcas: {d}/ca.crt\n\
             - work-signing:\n    privatekey: {d}/signing.key\n    tokenexpiration: 1m\n",
            d = pki.display()
        ),
    )
    .unwrap();
    let conf = controller_conf.display().to_string();
    let lab = lab_on(
        &format!("tls://localhost:{port}"),
        &[
            ("RAWX_RECEPTOR_CONFIG", &conf),
            ("RAWX_RECEPTOR_TLS_CLIENT", "exec_tls"),
        ],
    );
    // The health check's worker-info unit is signed work too.
    let node = checked_instance(&lab, "tlsexec");
    assert_eq!(node["node_state"], "ready", "{node}");
    assert!(node["capacity"].as_i64().unwrap() > 0, "{node}");

    let p = lab.project("steps", &[("steps.yml", STEPS)]);
    let inv = lab.inventory("One", &[("localhost", local_vars())]);
    lab.jt("steps", p, inv, "steps.yml", json!({}));
    let out = lab
        .s
        .awx(&["job_templates", "launch", "steps", "--monitor"]);
    assert_eq!(out.code, 0, "{out}");
    assert!(out.stdout.contains("step two"), "{out}");
    let jobs = lab.s.awx_json(&["jobs", "list"]);
    assert_eq!(jobs["results"][0]["execution_node"], "tlsexec", "{jobs}");
    assert_eq!(jobs["results"][0]["status"], "successful", "{jobs}");
}

/// The node restarts (`kill -9`, then started again) while a job runs there: the unit lives
/// on, the controller's results stream picks up from the byte it had reached, and the job ends
/// `successful` with every event once.
#[test]
fn a_job_survives_a_restart_of_its_node() {
    let mut rx = Receptor::unix("exec3");
    let lab = lab_on(&rx.socket().display().to_string(), &[]);
    checked_instance(&lab, "exec3");
    let p = lab.project(
        "slow",
        &[(
            "slow.yml",
            "- hosts: all\n  gather_facts: false\n  tasks:\n    - name: first\n      debug: {msg: step one}\n    - name: wait\n      pause: {seconds: 5}\n    - name: second\n      debug: {msg: step two}\n",
        )],
    );
    let inv = lab.inventory("One", &[("localhost", local_vars())]);
    lab.jt("slow", p, inv, "slow.yml", json!({}));
    let id = lab.s.awx_json(&["job_templates", "launch", "slow"])["id"]
        .as_i64()
        .unwrap();
    wait_in_task(&lab.s, id, "wait");
    rx.restart();
    let job = lab.wait_status(id, "successful");
    assert_eq!(job["execution_node"], "exec3");
    let events = lab.events(id);
    let counters: Vec<i64> = events
        .iter()
        .map(|e| e["counter"].as_i64().unwrap())
        .collect();
    assert_eq!(
        counters,
        (1..=counters.len() as i64).collect::<Vec<_>>(),
        "each event once, in order"
    );
    assert!(
        events
            .iter()
            .any(|e| e["task"] == "second" && e["event"] == "runner_on_ok"),
        "the task after the restart is missing"
    );
}

/// A node that does not answer its health check gets no capacity (AWX: errors, capacity 0,
/// `unavailable`); a job launched meanwhile waits saying so, and runs once a check finds the
/// node back.
#[test]
fn an_unreachable_node_has_no_capacity_until_checked_again() {
    let mut rx = Receptor::unix("exec4");
    let lab = lab_on(&rx.socket().display().to_string(), &[]);
    let s = &lab.s;
    let node = checked_instance(&lab, "exec4");
    let path = format!("/api/v2/instances/{}/", node["id"]);
    let _ = rx.child.kill();
    let _ = rx.child.wait();
    procs::release_group(rx.child.id());
    let checked = |before: &Value| {
        s.admin("POST", &format!("{path}health_check/"), None, 200);
        eventually(Duration::from_secs(30), || {
            let n = s.admin("GET", &path, None, 200);
            if n["last_health_check"] != *before {
                Ok(n)
            } else {
                Err(format!("no health check: {n}"))
            }
        })
    };
    let down = checked(&node["last_health_check"]);
    assert_eq!(down["capacity"], 0, "{down}");
    assert_eq!(down["node_state"], "unavailable", "{down}");
    assert!(
        down["errors"].as_str().unwrap().contains("worker-info"),
        "{down}"
    );

    let p = lab.project("steps", &[("steps.yml", STEPS)]);
    let inv = lab.inventory("One", &[("localhost", local_vars())]);
    lab.jt("steps", p, inv, "steps.yml", json!({}));
    let id = s.awx_json(&["job_templates", "launch", "steps"])["id"]
        .as_i64()
        .unwrap();
    eventually(Duration::from_secs(30), || {
        let j = lab.job(id);
        let why = j["job_explanation"].as_str().unwrap_or_default();
        if j["status"] == "pending" && why.contains("exec4 has none") {
            Ok(())
        } else {
            Err(format!("the job does not wait for the node: {j}"))
        }
    });

    rx.child = spawn_node(rx.dir.path());
    eventually(Duration::from_secs(15), || {
        std::os::unix::net::UnixStream::connect(rx.socket())
            .map_err(|e| format!("the node did not come back: {e}"))
    });
    let up = checked(&down["last_health_check"]);
    assert_eq!(up["node_state"], "ready", "{up}");
    assert_eq!(up["errors"], "", "{up}");
    assert!(up["capacity"].as_i64().unwrap() > 0, "{up}");
    let job = lab.wait_status(id, "successful");
    assert_eq!(job["execution_node"], "exec4");
}

/// A node whose worker never answers `--worker-info` (it hangs) does not hold the health check:
/// at AWX's 20 s limit the instance gets AWX's timeout error, no capacity and `unavailable`,
/// the hung unit is released at the node, and the next check (asked for) runs too.
#[test]
fn a_health_check_that_hangs_ends_at_awxs_limit() {
    let hang = "- local-only: null\n- work-command:\n    worktype: ansible-runner\n    command: sh\n    params: \"-c 'exec sleep 600'\"\n    allowruntimeparams: true\n";
    let rx = Receptor::start(&node("exec6", hang), DataDir::new(), ready);
    let lab = lab_on(&rx.socket().display().to_string(), &[]);
    let s = &lab.s;
    let first = eventually(Duration::from_secs(60), || {
        let n = &s.admin("GET", "/api/v2/instances/?hostname=exec6", None, 200)["results"][0];
        if n["errors"].as_str().is_some_and(|e| !e.is_empty()) {
            Ok(n.clone())
        } else {
            Err(format!("no failed check of exec6 yet: {n}"))
        }
    });
    let errors = first["errors"].as_str().unwrap();
    assert!(
        errors.starts_with("Receptor job timeout on exec6 after 2")
            && errors.ends_with("seconds, state remains in Running"),
        "{first}"
    );
    assert_eq!(first["capacity"], 0, "{first}");
    assert_eq!(first["node_state"], "unavailable", "{first}");
    eventually(Duration::from_secs(30), || {
        let units = rx.work_list();
        units
            .as_object()
            .is_some_and(|u| u.is_empty())
            .then_some(())
            .ok_or(format!("the hung unit is still at the node: {units}"))
    });
    // The component goes on: a check asked for now is done (and times out the same way).
    let path = format!("/api/v2/instances/{}/", first["id"]);
    s.admin("POST", &format!("{path}health_check/"), None, 200);
    eventually(Duration::from_secs(40), || {
        let n = s.admin("GET", &path, None, 200);
        (n["last_health_check"] != first["last_health_check"])
            .then_some(())
            .ok_or(format!("no second check: {n}"))
    });
}

/// The controller stops while its job runs on the separate node (SIGTERM with no drain: the
/// job is handed back) and starts again: it re-attaches to the unit on the node and the job
/// ends `successful` with each event once.
#[test]
fn a_restarted_controller_reattaches_to_the_node() {
    let rx = Receptor::unix("exec5");
    let lab = lab_on(
        &rx.socket().display().to_string(),
        &[("RAWX_DRAIN_TIMEOUT", "0")],
    );
    checked_instance(&lab, "exec5");
    let p = lab.project(
        "slow",
        &[(
            "slow.yml",
            "- hosts: all\n  gather_facts: false\n  tasks:\n    - name: first\n      debug: {msg: step one}\n    - name: wait\n      pause: {seconds: 5}\n    - name: second\n      debug: {msg: step two}\n",
        )],
    );
    let inv = lab.inventory("One", &[("localhost", local_vars())]);
    lab.jt("slow", p, inv, "slow.yml", json!({}));
    let id = lab.s.awx_json(&["job_templates", "launch", "slow"])["id"]
        .as_i64()
        .unwrap();
    wait_in_task(&lab.s, id, "wait");
    let Lab { s, org } = lab;
    let opts = s.opts();
    let dir = s.stop();
    let lab = Lab {
        s: rawx_testkit::Server::start_in(dir, opts),
        org,
    };
    let job = lab.wait_status(id, "successful");
    assert_eq!(job["execution_node"], "exec5");
    assert!(
        lab.s.logs().contains("re-attaching"),
        "the job was not handed back and re-attached:\n{}",
        lab.s.logs()
    );
    let counters: Vec<i64> = lab
        .events(id)
        .iter()
        .map(|e| e["counter"].as_i64().unwrap())
        .collect();
    assert_eq!(
        counters,
        (1..=counters.len() as i64).collect::<Vec<_>>(),
        "each event once, in order"
    );
    assert!(lab.stdout(id).contains("step two"));
    eventually(Duration::from_secs(15), || {
        let list = rx.work_list();
        if list.as_object().is_some_and(|m| !m.is_empty()) {
            Err(format!("unit left on the node: {list}"))
        } else {
            Ok(())
        }
    });
}
