//! End-to-end: `rawx serve` running a job on an execution node behind a hop, as AWX meshes
//! chain control, hop and execution nodes: three `rawx receptor` processes on loopback.

mod receptor_node;

use rawx_testkit::clients::receptorctl;
use rawx_testkit::lab::*;
use rawx_testkit::DataDir;
use rawx_testkit::{eventually, free_port};
use receptor_node::*;
use serde_json::json;
use std::time::Duration;

/// The AWX mesh shape: the controller's own node `ctl`, a hop, and the execution node `exec2`
/// two hops away (`ctl ← hop ← exec2`). The controller submits through `ctl`
/// (`--receptor-work-node exec2`): a remote unit there runs the job at `exec2`, whose capacity
/// is checked there too.
#[test]
fn a_job_runs_on_an_execution_node_two_hops_away() {
    let (p_ctl, p_hop) = (free_port(), free_port());
    let ctl = Receptor::start(
        &node(
            "ctl",
            &format!("- tcp-listener:\n    bindaddr: 127.0.0.1\n    port: {p_ctl}\n"),
        ),
        DataDir::new(),
        ready,
    );
    let _hop = Receptor::start(
        &node(
            "hop",
            &format!(
                "- tcp-peer:\n    address: 127.0.0.1:{p_ctl}\n\
                 - tcp-listener:\n    bindaddr: 127.0.0.1\n    port: {p_hop}\n"
            ),
        ),
        DataDir::new(),
        ready,
    );
    let exec = Receptor::start(
        &node(
            "exec2",
            &format!(
                "- tcp-peer:\n    address: 127.0.0.1:{p_hop}\n{}",
                work_command(false)
            ),
        ),
        DataDir::new(),
        ready,
    );
    // The controller starts once ctl knows exec2's work types.
    eventually(Duration::from_secs(60), || {
        let out = receptorctl(&ctl.socket(), &["status", "--json"]);
        let ads = out.json()["Advertisements"].clone();
        let known = ads
            .as_array()
            .is_some_and(|a| a.iter().any(|ad| ad["NodeID"] == "exec2"));
        known
            .then_some(())
            .ok_or(format!("no route to exec2 yet: {out}"))
    });
    let lab = lab_on(
        &ctl.socket().display().to_string(),
        &[("RAWX_RECEPTOR_WORK_NODE", "exec2")],
    );
    let s = &lab.s;
    let instance = checked_instance(&lab, "exec2");
    assert_eq!(instance["node_type"], "execution", "{instance}");
    assert_eq!(instance["errors"], "", "{instance}");

    let p = lab.project("steps", &[("steps.yml", STEPS)]);
    let inv = lab.inventory("One", &[("localhost", local_vars())]);
    lab.jt("steps", p, inv, "steps.yml", json!({}));
    let id = s.awx_json(&["job_templates", "launch", "steps"])["id"]
        .as_i64()
        .unwrap();
    let job = lab.wait_status(id, "successful");
    assert_eq!(job["execution_node"], "exec2", "{job}");
    let out = s.awx_ok(&["jobs", "stdout", &id.to_string()]);
    assert!(
        out.contains("step one on exec2") && out.contains("step two"),
        "{out}"
    );
    // Released at both ends once the job is done.
    eventually(Duration::from_secs(30), || {
        let (a, b) = (ctl.work_list(), exec.work_list());
        if a.as_object().is_some_and(|m| m.is_empty())
            && b.as_object().is_some_and(|m| m.is_empty())
        {
            Ok(())
        } else {
            Err(format!("units left: ctl {a}, exec2 {b}"))
        }
    });
}
