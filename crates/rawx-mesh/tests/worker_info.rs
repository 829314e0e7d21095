//! The health check's `worker_info` against a node that does not answer in time, through
//! `RemoteNode` as the controller reaches a real `rawx-receptor`: a worker that hangs, an
//! execution node behind a hop with no route to it, and a node process that is frozen
//! (SIGSTOP). Each call ends at its limit with AWX's timeout error (`run_until_complete`'s
//! wording) and leaves no unit behind once the node answers again.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::mesh::{listener, start_with_config, MeshNode};
use common::{eventually, free_port, DataDir};
use rawx_mesh::{worker_info, RemoteNode, RemoteOptions, WorkNode};

const LIMIT: Duration = Duration::from_secs(2);
/// What a call may take past its limit: the status asked for the message (5 s at most).
const SLACK: Duration = Duration::from_secs(6);

/// Node `exec` whose `ansible-runner` prints a line and then hangs, whatever its arguments;
/// a mesh node (with a listener nobody dials), so it can take remote work too.
fn hanging_node(dir: &DataDir) -> MeshNode {
    let config = format!(
        "---\n- node:\n    id: exec\n    datadir: {}\n- log-level: info\n{}\
         - control-service:\n    service: control\n    filename: {}\n\
         - work-command:\n    worktype: ansible-runner\n    command: sh\n\
         \x20   params: \"-c 'echo starting; exec sleep 600'\"\n    allowruntimeparams: true\n",
        dir.join("exec-data").display(),
        listener(free_port(), ""),
        dir.join("exec.sock").display()
    );
    start_with_config(dir.path(), "exec", &config)
}

async fn remote(node: &MeshNode, work_node: Option<&str>) -> Arc<dyn WorkNode> {
    let r = RemoteNode::connect(RemoteOptions {
        address: Some(node.socket.display().to_string().parse().unwrap()),
        work_node: work_node.map(String::from),
        ..Default::default()
    })
    .await
    .expect("connect to the node");
    Arc::new(r)
}

/// Calls `worker_info` with [`LIMIT`]; returns its error and how long it took.
async fn timed_out(node: Arc<dyn WorkNode>) -> (String, Duration) {
    let started = Instant::now();
    let e = worker_info(node, "ansible-runner", LIMIT)
        .await
        .expect_err("worker_info of a node that does not answer");
    let took = started.elapsed();
    assert!(
        took >= LIMIT && took < LIMIT + SLACK,
        "the check took {took:?} with a limit of {LIMIT:?}: {e}"
    );
    (e, took)
}

fn no_units_left(node: &MeshNode) {
    eventually(Duration::from_secs(20), || {
        let out = node.ctl_ok(&["work", "list"]);
        let units: serde_json::Value = serde_json::from_str(&out).unwrap();
        units
            .as_object()
            .is_some_and(|u| u.is_empty())
            .then_some(())
            .ok_or(format!("units left at {}: {out}", node.id))
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_that_hangs_is_given_up_at_the_limit_and_released() {
    let dir = DataDir::new();
    let node = hanging_node(&dir);
    let (e, _) = timed_out(remote(&node, None).await).await;
    assert!(
        e.starts_with("Receptor job timeout on exec after 2.")
            && e.ends_with("seconds, state remains in Running"),
        "{e}"
    );
    // Released in the background: the hung worker is stopped and its unit deleted.
    no_units_left(&node);
    eventually(Duration::from_secs(10), || {
        let left = common::pids_naming("sleep 600");
        left.is_empty()
            .then_some(())
            .ok_or(format!("the hung worker still runs: {left:?}"))
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_execution_node_with_no_route_is_given_up_at_the_limit() {
    let dir = DataDir::new();
    let node = hanging_node(&dir);
    // exec submits to exec2 as a remote unit, which waits for a route that never comes.
    let (e, _) = timed_out(remote(&node, Some("exec2")).await).await;
    assert!(
        e.starts_with("Receptor job timeout on exec2 after 2.")
            && e.ends_with("seconds, state remains in Pending"),
        "{e}"
    );
    no_units_left(&node);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frozen_node_does_not_hold_the_check() {
    let dir = DataDir::new();
    let node = hanging_node(&dir);
    let r = remote(&node, None).await;
    let pid = rustix::process::Pid::from_raw(node.pid() as i32).unwrap();
    // Its socket still accepts (the kernel's backlog) but nothing answers.
    rustix::process::kill_process(pid, rustix::process::Signal::STOP).unwrap();
    let (e, _) = timed_out(r).await;
    rustix::process::kill_process(pid, rustix::process::Signal::CONT).unwrap();
    assert!(
        e.starts_with("Receptor job timeout on exec after 2.")
            && e.ends_with("seconds, the work submission was not answered"),
        "{e}"
    );
}
