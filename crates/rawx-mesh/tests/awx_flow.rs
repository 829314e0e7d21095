//! AWX's own way of driving a node: receptorctl as a Python library over the Unix socket, the
//! transmit stream fed from a socketpair, results handed to `ansible-runner process` as a
//! socket, cancel + release on one connection, the `--worker-info` health check, and the
//! startpos tail of a failed unit (`tests/py/awx_receptor_job.py`).

mod common;

use std::process::Command;

use common::{venv, TestNode};
use serde_json::Value;

#[test]
fn awx_receptor_job_flow_through_the_socket() {
    let node = TestNode::start();
    let pdd = node.dir.join("pdd");
    std::fs::create_dir_all(pdd.join("project")).unwrap();
    std::fs::create_dir_all(pdd.join("inventory")).unwrap();
    std::fs::write(
        pdd.join("project/test.yml"),
        "- hosts: localhost\n  gather_facts: false\n  tasks:\n    - debug: msg=one\n    - debug: msg=two\n",
    )
    .unwrap();
    std::fs::write(
        pdd.join("inventory/hosts"),
        format!(
            "localhost ansible_connection=local ansible_python_interpreter={}\n",
            venv().join("bin/python").display()
        ),
    )
    .unwrap();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/py/awx_receptor_job.py");
    let out = Command::new(venv().join("bin/python"))
        .arg(script)
        .arg(&node.socket)
        .arg(&pdd)
        .arg(node.dir.join("work"))
        .env("PATH", common::venv_path())
        // Keep the clone free of __pycache__.
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let found: Value = serde_json::from_str(stdout.lines().last().unwrap_or("")).unwrap();
    assert_eq!(found["submit"], "Job Started", "{found}");
    assert_eq!(found["job"], "successful", "{found}");
    assert_eq!(found["events"], 2, "{found}");
    assert_eq!(found["job_state"], "Succeeded", "{found}");
    assert_eq!(found["release"], true, "{found}");
    assert_eq!(
        found["worker_info"],
        serde_json::json!(["cpu_count", "mem_in_bytes", "runner_version"]),
        "{found}"
    );
    assert_eq!(found["health_release"], true, "{found}");
    assert_eq!(found["bad_state"], "Failed", "{found}");
    assert_eq!(
        found["bad_tail_len"],
        serde_json::json!([1000, 1000]),
        "{found}"
    );
    assert_eq!(node.ctl_ok(&["work", "list"]).trim(), "{}");
}
