//! The real `awx.awx` collection run from playbooks against a server: where it is installed
//! (`scripts/setup-collection.sh`, cached outside the clone, or `$RAWX_COLLECTIONS`), and a
//! play of tasks on localhost whose outcome the `json` callback reports task by task.

use crate::clients::ansible_playbook;
use crate::{workspace_root, Out, Server, ADMIN_PW};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// Where the collection is installed: `scripts/setup-collection.sh`'s answer, asked once per
/// test process.
pub fn collections() -> &'static Path {
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
pub struct Task {
    pub name: String,
    pub changed: bool,
    pub failed: bool,
    pub result: Value,
}

/// Runs `tasks` (YAML, indented for a play's `tasks:`) on localhost against `srv` through
/// the collection; `extra` are more ansible-playbook arguments (`--check`).
pub fn play(srv: &Server, dir: &Path, tasks: &str, extra: &[&str]) -> (Out, Vec<Task>) {
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
pub fn ok(out: &Out, tasks: &[Task]) -> Vec<(String, bool)> {
    for t in tasks {
        assert!(!t.failed, "task {} failed: {}\n{out}", t.name, t.result);
    }
    assert_eq!(out.code, 0, "{out}");
    tasks.iter().map(|t| (t.name.clone(), t.changed)).collect()
}
