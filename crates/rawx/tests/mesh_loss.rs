//! End-to-end: a job on an execution node behind a hop (controller → ctl → hop → exec2) when
//! the hop goes away mid-job. With a second path the job carries on; without one it ends
//! `failed` saying which node became unreachable, once the window (`RAWX_NODE_LOST_AFTER`
//! here; AWX's 180 s otherwise) is over; a hop that comes back within the window lets the
//! job carry on from where its output was.

mod receptor_node;

use rawx_testkit::clients::receptorctl;
use rawx_testkit::lab::*;
use rawx_testkit::{eventually, DataDir};
use receptor_node::*;
use serde_json::{json, Value};
use std::time::Duration;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Two tasks around a pause long enough to lose a hop in.
const PAUSED: &str = "\
- name: Paused
  hosts: all
  gather_facts: false
  tasks:
    - name: before
      debug: {msg: 'before the pause on {{ awx_execution_node }}'}
    - name: wait
      pause: {seconds: 12}
    - name: after
      debug: {msg: after the pause}
";

struct Mesh {
    ctl: Receptor,
    hops: Vec<Receptor>,
    exec: Receptor,
}

/// `ctl ← hop1 … hopN ← exec2`: every hop dials ctl, exec2 dials every hop.
fn mesh(hops: usize) -> Mesh {
    let p_ctl = free_port();
    let ctl = Receptor::start(
        &node(
            "ctl",
            &format!("- tcp-listener:\n    bindaddr: 127.0.0.1\n    port: {p_ctl}\n"),
        ),
        DataDir::new(),
        ready,
    );
    let mut peers = String::new();
    let hops = (1..=hops)
        .map(|i| {
            let port = free_port();
            peers += &format!("- tcp-peer:\n    address: 127.0.0.1:{port}\n");
            Receptor::start(
                &node(
                    &format!("hop{i}"),
                    &format!(
                        "- tcp-peer:\n    address: 127.0.0.1:{p_ctl}\n\
                         - tcp-listener:\n    bindaddr: 127.0.0.1\n    port: {port}\n"
                    ),
                ),
                DataDir::new(),
                ready,
            )
        })
        .collect::<Vec<_>>();
    let exec = Receptor::start(
        &node("exec2", &format!("{peers}{}", work_command(false))),
        DataDir::new(),
        ready,
    );
    let m = Mesh { ctl, hops, exec };
    eventually(Duration::from_secs(60), || {
        let st = m.status();
        let known = st["Advertisements"]
            .as_array()
            .is_some_and(|a| a.iter().any(|ad| ad["NodeID"] == "exec2"));
        let routes = st["KnownConnectionCosts"]["exec2"]
            .as_object()
            .map_or(0, |c| c.len());
        (known && routes == m.hops.len())
            .then_some(())
            .ok_or(format!("exec2 not known on every path yet: {st}"))
    });
    m
}

impl Mesh {
    fn status(&self) -> Value {
        let out = receptorctl(&self.ctl.socket(), &["status", "--json"]);
        assert_eq!(out.code, 0, "{out}");
        out.json()
    }

    /// The hop ctl's route to exec2 goes through now.
    fn route_hop(&self) -> String {
        let st = self.status();
        st["RoutingTable"]["exec2"]
            .as_str()
            .unwrap_or_else(|| panic!("no route to exec2: {st}"))
            .to_string()
    }
}

/// A controller on ctl running jobs at exec2, its template launched; returns the job once it
/// is in the pause.
fn launch_paused(m: &Mesh, lost_after: &str) -> (Lab, i64) {
    let lab = lab_on(
        &m.ctl.socket().display().to_string(),
        &[
            ("RAWX_RECEPTOR_WORK_NODE", "exec2"),
            ("RAWX_NODE_LOST_AFTER", lost_after),
        ],
    );
    checked_instance(&lab, "exec2");
    let p = lab.project("paused", &[("paused.yml", PAUSED)]);
    let inv = lab.inventory("One", &[("localhost", local_vars())]);
    let jt = lab.jt("paused", p, inv, "paused.yml", json!({}));
    let id = lab.launch(jt);
    wait_in_task(&lab.s, id, "wait");
    (lab, id)
}

fn kill(r: &mut Receptor) {
    let _ = r.child.kill();
    let _ = r.child.wait();
}

#[test]
fn a_job_survives_losing_its_hop_when_another_path_exists() {
    let mut m = mesh(2);
    let (lab, id) = launch_paused(&m, "60");
    let used = m.route_hop();
    let i = if used == "hop1" { 0 } else { 1 };
    kill(&mut m.hops[i]);
    eventually(Duration::from_secs(10), || {
        let now = m.route_hop();
        (now != used)
            .then_some(())
            .ok_or(format!("still routed through {used}"))
    });
    let job = lab.wait_status(id, "successful");
    assert_eq!(job["execution_node"], "exec2", "{job}");
    let out = lab.stdout(id);
    assert!(
        out.contains("before the pause on exec2") && out.contains("after the pause"),
        "{out}"
    );
    drop(m.exec);
}

#[test]
fn a_job_fails_naming_the_unreachable_node_when_its_only_hop_is_gone() {
    let mut m = mesh(1);
    let (lab, id) = launch_paused(&m, "6");
    kill(&mut m.hops[0]);
    let job = lab.wait_for(id, Duration::from_secs(60));
    assert_eq!(job["status"], "failed", "{job}");
    let why = job["job_explanation"].as_str().unwrap_or_default();
    assert!(
        why.contains("execution node exec2 became unreachable")
            && why.contains("through hop1, which is unreachable too"),
        "{why}"
    );
    // The events from before the loss are kept; nothing after it.
    let out = lab.stdout(id);
    assert!(
        out.contains("before the pause on exec2") && !out.contains("after the pause"),
        "{out}"
    );
    // The instance is unavailable, with no capacity, saying why.
    let inst = &lab
        .s
        .admin("GET", "/api/v2/instances/?hostname=exec2", None, 200)["results"][0];
    assert_eq!(inst["node_state"], "unavailable", "{inst}");
    assert_eq!(inst["capacity"], 0, "{inst}");
    assert!(
        inst["errors"]
            .as_str()
            .is_some_and(|e| e.contains("ctl has no route to this node")),
        "{inst}"
    );
}

#[test]
fn a_job_carries_on_when_its_hop_comes_back_in_time() {
    let mut m = mesh(1);
    let (lab, id) = launch_paused(&m, "40");
    m.hops[0].restart_after(Duration::from_secs(3));
    let job = lab.wait_status(id, "successful");
    let out = lab.stdout(id);
    assert!(
        out.contains("before the pause on exec2") && out.contains("after the pause"),
        "{out}"
    );
    // Every event once, in order.
    let counters: Vec<i64> = lab
        .events(id)
        .iter()
        .map(|e| e["counter"].as_i64().unwrap())
        .collect();
    assert_eq!(
        counters,
        (1..=counters.len() as i64).collect::<Vec<_>>(),
        "{job}"
    );
    eventually(Duration::from_secs(30), || {
        let a = m.ctl.work_list();
        a.as_object()
            .is_some_and(|u| u.is_empty())
            .then_some(())
            .ok_or(format!("units left at ctl: {a}"))
    });
}
