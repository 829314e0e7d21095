//! What the workflow suites share: a fixture with three playbooks, and helpers to make
//! templates, nodes and edges, launch a workflow and read what its nodes ran.
#![allow(dead_code)]

pub use rawx_testkit::lab::{fixture, runner_env, tail, Fixture};
pub use rawx_testkit::{eventually, Opts, Server};
pub use serde_json::{json, Value};
pub use std::time::Duration;

pub const OK: &str = "\
- hosts: all
  gather_facts: false
  tasks:
    - debug:
        msg: \"fine {{ wf_marker | default('none') }}\"
";
pub const FAIL: &str = "\
- hosts: all
  gather_facts: false
  tasks:
    - fail:
        msg: planned failure
";
pub const SLOW: &str = "\
- hosts: all
  gather_facts: false
  tasks:
    - name: wait in the pause
      pause:
        seconds: \"{{ pause_s | default(8) }}\"
";

/// Passes a value to later nodes with `set_stats` (a workflow's artifacts).
pub const STATS: &str = "\
- hosts: all
  gather_facts: false
  tasks:
    - set_stats:
        data:
          passed_on: from-stats
";

/// Passes a value marked `_ansible_no_log` (AWX hides such artifacts).
pub const SECRET_STATS: &str = "\
- hosts: all
  gather_facts: false
  tasks:
    - set_stats:
        data:
          _ansible_no_log: true
          wf_marker: s3cr3t-from-stats
";

/// Succeeds only when `wf_marker` arrived with the secret artifact's value.
pub const CHECK_SECRET: &str = "\
- hosts: all
  gather_facts: false
  tasks:
    - assert:
        that: wf_marker == 's3cr3t-from-stats'
    - debug:
        msg: \"got {{ wf_marker }}\"
";

pub fn opts() -> Opts {
    Opts {
        env: runner_env(),
        ..Opts::default()
    }
}

pub fn setup(s: &Server) -> Fixture {
    fixture(
        s,
        "wf",
        &[
            ("ok.yml", OK),
            ("fail.yml", FAIL),
            ("slow.yml", SLOW),
            ("stats.yml", STATS),
            ("secret_stats.yml", SECRET_STATS),
            ("check_secret.yml", CHECK_SECRET),
        ],
        &["localhost"],
    )
}

pub fn id(v: &Value) -> i64 {
    v["id"].as_i64().unwrap_or_else(|| panic!("no id in {v}"))
}

pub fn jt(s: &Server, f: &Fixture, name: &str, playbook: &str) -> i64 {
    id(&s.admin(
        "POST",
        "/api/v2/job_templates/",
        Some(
            json!({"name": name, "project": f.project, "inventory": f.inventory,
            "playbook": playbook, "ask_variables_on_launch": true}),
        ),
        201,
    ))
}

pub fn wfjt(s: &Server, f: &Fixture, name: &str) -> i64 {
    id(&s.admin(
        "POST",
        "/api/v2/workflow_job_templates/",
        Some(json!({"name": name, "organization": f.org})),
        201,
    ))
}

pub fn node(s: &Server, wf: i64, ujt: i64, extra: Value) -> i64 {
    let mut body = json!({"unified_job_template": ujt});
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    id(&s.admin(
        "POST",
        &format!("/api/v2/workflow_job_templates/{wf}/workflow_nodes/"),
        Some(body),
        201,
    ))
}

pub fn link(s: &Server, from: i64, kind: &str, to: i64) {
    s.admin(
        "POST",
        &format!("/api/v2/workflow_job_template_nodes/{from}/{kind}/"),
        Some(json!({"id": to})),
        204,
    );
}

pub fn launch(s: &Server, wf: i64, body: Value) -> i64 {
    let out = s.admin(
        "POST",
        &format!("/api/v2/workflow_job_templates/{wf}/launch/"),
        Some(body),
        201,
    );
    out["workflow_job"].as_i64().unwrap()
}

pub const FINAL: [&str; 4] = ["successful", "failed", "error", "canceled"];

pub fn wait_workflow(s: &Server, wj: i64, limit: Duration) -> Value {
    eventually(limit, || {
        let j = s.admin("GET", &format!("/api/v2/workflow_jobs/{wj}/"), None, 200);
        if FINAL.contains(&j["status"].as_str().unwrap_or_default()) {
            Ok(j)
        } else {
            Err(format!(
                "workflow job {wj} not final: {j}\n--- server\n{}",
                tail(&s.logs(), 4000)
            ))
        }
    })
}

/// The workflow job's nodes by their template node's identifier.
pub fn job_nodes(s: &Server, wj: i64) -> std::collections::HashMap<String, Value> {
    s.admin(
        "GET",
        &format!("/api/v2/workflow_jobs/{wj}/workflow_nodes/?page_size=100"),
        None,
        200,
    )["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| (n["identifier"].as_str().unwrap().to_string(), n.clone()))
        .collect()
}

pub fn job_of(s: &Server, n: &Value) -> Value {
    let j = n["job"]
        .as_i64()
        .unwrap_or_else(|| panic!("node ran no job: {n}"));
    s.admin("GET", &format!("/api/v2/jobs/{j}/"), None, 200)
}

/// Makes the node `node` an approval node (`create_approval_template`); the template's id.
pub fn approval(s: &Server, node: i64, name: &str, timeout: i64) -> i64 {
    let t = s.admin(
        "POST",
        &format!("/api/v2/workflow_job_template_nodes/{node}/create_approval_template/"),
        Some(json!({"name": name, "description": "a person decides", "timeout": timeout})),
        201,
    );
    assert_eq!(t["type"], "workflow_approval_template", "{t}");
    id(&t)
}

/// A node of the template `wf` with no template yet (to be made an approval node).
pub fn bare_node(s: &Server, wf: i64, identifier: &str) -> i64 {
    id(&s.admin(
        "POST",
        &format!("/api/v2/workflow_job_templates/{wf}/workflow_nodes/"),
        Some(json!({"identifier": identifier})),
        201,
    ))
}

/// The pending approval of workflow job `wj`, once its node spawned it.
pub fn pending_approval(s: &Server, wj: i64) -> Value {
    eventually(Duration::from_secs(120), || {
        let nodes = job_nodes(s, wj);
        let found = nodes.values().find_map(|n| {
            let j = n["job"].as_i64()?;
            if n["summary_fields"]["job"]["type"] != "workflow_approval" {
                return None;
            }
            let a = s.admin(
                "GET",
                &format!("/api/v2/workflow_approvals/{j}/"),
                None,
                200,
            );
            (a["status"] == "pending").then_some(a)
        });
        found.ok_or_else(|| {
            format!(
                "no pending approval in {wj} yet: {nodes:?}\n--- server\n{}",
                tail(&s.logs(), 3000)
            )
        })
    })
}
