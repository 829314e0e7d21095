//! The real `awx.awx` collection (24.6.1) with surveys and notifications: its
//! `notification_template` module creates, reports no change on a second run, updates and
//! deletes; its `job_template` module sets `survey_spec`/`survey_enabled` and attaches
//! notification templates through `notification_templates_*`, and changes nothing on a
//! second run.

use rawx_testkit::clients::ansible_playbook;
use rawx_testkit::{workspace_root, Out, Server, ADMIN_PW};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

fn collections() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let script = workspace_root().join("scripts/setup-collection.sh");
        let out = Command::new("bash")
            .arg(&script)
            .output()
            .expect("run setup-collection.sh");
        assert!(
            out.status.success(),
            "setup-collection.sh failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())
    })
}

/// One task's outcome as the `json` callback reports it.
#[derive(Debug)]
struct Task {
    name: String,
    changed: bool,
    failed: bool,
    result: Value,
}

/// Runs `tasks` (YAML, indented for a play's `tasks:`) on localhost against `srv` through
/// the collection; `extra` are more ansible-playbook arguments (`--check`).
fn play(srv: &Server, dir: &Path, tasks: &str, extra: &[&str]) -> (Out, Vec<Task>) {
    let book = format!("- hosts: localhost\n  gather_facts: false\n  tasks:\n{tasks}");
    std::fs::write(dir.join("play.yml"), book).unwrap();
    std::fs::write(
        dir.join("inventory"),
        "localhost ansible_connection=local ansible_python_interpreter=\"{{ ansible_playbook_python }}\"\n",
    )
    .unwrap();
    let mut args = vec!["-i", "inventory", "play.yml"];
    args.extend_from_slice(extra);
    let out = ansible_playbook(
        dir,
        &args,
        &[
            ("ANSIBLE_COLLECTIONS_PATH", collections().to_str().unwrap()),
            ("ANSIBLE_STDOUT_CALLBACK", "ansible.posix.json"),
            ("ANSIBLE_LOCALHOST_WARNING", "false"),
            ("CONTROLLER_HOST", &srv.url),
            ("CONTROLLER_USERNAME", "admin"),
            ("CONTROLLER_PASSWORD", ADMIN_PW),
        ],
    );
    let doc: Value = serde_json::from_str(&out.stdout)
        .unwrap_or_else(|e| panic!("json callback output ({e}):\n{out}"));
    let tasks = doc["plays"][0]["tasks"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .map(|t| {
            let result = t["hosts"]["localhost"].clone();
            Task {
                name: t["task"]["name"].as_str().unwrap_or_default().to_string(),
                changed: result["changed"].as_bool().unwrap_or(false),
                failed: result["failed"].as_bool().unwrap_or(false),
                result,
            }
        })
        .collect();
    (out, tasks)
}

/// Every task succeeded; returns `(name, changed)` for each.
fn ok(out: &Out, tasks: &[Task]) -> Vec<(String, bool)> {
    for t in tasks {
        assert!(!t.failed, "task {} failed: {}\n{out}", t.name, t.result);
    }
    assert_eq!(out.code, 0, "{out}");
    tasks.iter().map(|t| (t.name.clone(), t.changed)).collect()
}

/// The whole configuration and every event's messages: AWX stores the type's defaults and
/// `null` events, and the collection compares dictionaries key for key, so a second run is
/// unchanged only when the play names them all (as against AWX).
fn tasks(url: &str) -> String {
    format!(
        r#"    - name: hook
      awx.awx.notification_template:
        name: hook
        organization: Ops
        notification_type: webhook
        notification_configuration:
          url: "{url}"
          headers:
            X-Rawx: "yes"
          http_method: POST
          disable_ssl_verification: false
          username: ""
          password: ""
        messages:
          started: null
          error: null
          workflow_approval: null
          success:
            message: !unsafe "{{{{ job_friendly_name }}}} {{{{ job.id }}}} ok"
    - name: template
      awx.awx.job_template:
        name: surveyed
        organization: Ops
        project: Play
        inventory: Local
        playbook: hello.yml
        survey_enabled: true
        survey_spec:
          name: Deploy
          description: what to deploy
          spec:
            - question_name: How many
              variable: n
              type: integer
              required: true
              min: 1
              max: 5
            - question_name: Note
              variable: note
              type: text
              required: false
              default: hi
        notification_templates_started: [hook]
        notification_templates_success: [hook]
"#
    )
}

#[test]
fn surveys_and_notification_templates_through_the_collection() {
    let lab = rawx_testkit::lab::Lab::start();
    let srv = &lab.s;
    lab.project(
        "Play",
        &[(
            "hello.yml",
            "- hosts: all\n  gather_facts: false\n  tasks: []\n",
        )],
    );
    lab.inventory("Local", &[("localhost", rawx_testkit::lab::local_vars())]);
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let (out, t) = play(srv, dir, &tasks("http://127.0.0.1:9/one"), &[]);
    assert_eq!(
        ok(&out, &t),
        vec![("hook".into(), true), ("template".into(), true)]
    );
    let (out, t) = play(srv, dir, &tasks("http://127.0.0.1:9/one"), &[]);
    assert_eq!(
        ok(&out, &t),
        vec![("hook".into(), false), ("template".into(), false)],
        "a second run changes nothing"
    );
    let nt = srv.admin(
        "GET",
        "/api/v2/notification_templates/?name=hook",
        None,
        200,
    );
    let nt = &nt["results"][0];
    assert_eq!(
        nt["notification_configuration"]["url"],
        "http://127.0.0.1:9/one"
    );
    assert_eq!(
        nt["messages"]["success"]["message"],
        "{{ job_friendly_name }} {{ job.id }} ok"
    );
    let jt = srv.admin("GET", "/api/v2/job_templates/?name=surveyed", None, 200);
    let jt = &jt["results"][0];
    assert_eq!(jt["survey_enabled"], true);
    let spec = srv.admin(
        "GET",
        &format!("/api/v2/job_templates/{}/survey_spec/", jt["id"]),
        None,
        200,
    );
    assert_eq!(spec["spec"][0]["variable"], "n");
    for list in ["started", "success"] {
        let l = srv.admin(
            "GET",
            &format!(
                "/api/v2/job_templates/{}/notification_templates_{list}/",
                jt["id"]
            ),
            None,
            200,
        );
        assert_eq!(rawx_testkit::names(&l), ["hook"]);
    }
    // The survey asks: a launch without the required answer is refused with AWX's message.
    let r = srv.admin(
        "POST",
        &format!("/api/v2/job_templates/{}/launch/", jt["id"]),
        Some(serde_json::json!({})),
        400,
    );
    assert_eq!(
        r["variables_needed_to_start"],
        serde_json::json!(["'n' value missing"])
    );

    // Update, then absent.
    let (out, t) = play(srv, dir, &tasks("http://127.0.0.1:9/two"), &[]);
    assert_eq!(
        ok(&out, &t),
        vec![("hook".into(), true), ("template".into(), false)]
    );
    let nt = srv.admin(
        "GET",
        "/api/v2/notification_templates/?name=hook",
        None,
        200,
    );
    assert_eq!(
        nt["results"][0]["notification_configuration"]["url"],
        "http://127.0.0.1:9/two"
    );
    let absent = "    - name: gone\n      awx.awx.notification_template:\n        name: hook\n        organization: Ops\n        state: absent\n";
    let (out, t) = play(srv, dir, absent, &[]);
    assert_eq!(ok(&out, &t), vec![("gone".into(), true)]);
    let (out, t) = play(srv, dir, absent, &[]);
    assert_eq!(ok(&out, &t), vec![("gone".into(), false)]);
    let nt = srv.admin(
        "GET",
        "/api/v2/notification_templates/?name=hook",
        None,
        200,
    );
    assert_eq!(nt["count"], 0);
}
