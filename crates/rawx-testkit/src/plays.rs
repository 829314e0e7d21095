//! What the job suites share about playbooks: a hello play, the tasks that ran, vaulted
//! variables, and checking that secrets show up nowhere.

use crate::lab::Lab;
use crate::{sh, venv};
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

/// One play on every host saying hello.
pub const HELLO: &str = "\
- name: Hello play
  hosts: all
  gather_facts: false
  tasks:
    - name: Say hello
      debug:
        msg: Hello from rawx
";

/// The user running the tests (what `become`-less local tasks run as).
pub fn whoami() -> String {
    sh(Command::new("id").arg("-un"))
}

/// The `task` of each event, in order.
pub fn task_names(events: &[Value]) -> Vec<String> {
    events
        .iter()
        .map(|e| e["task"].as_str().unwrap_or_default().to_string())
        .collect()
}

/// The tasks of the job that ended `ok` on some host.
pub fn ok_tasks(lab: &Lab, id: i64) -> BTreeSet<String> {
    task_names(&lab.events_of(id, "runner_on_ok"))
        .into_iter()
        .collect()
}

/// `ansible-vault encrypt_string` output for `value` as variable `name`, as a vars file.
pub fn vault_vars(dir: &Path, name: &str, value: &str, password: &str, id: Option<&str>) -> String {
    let pw = dir.join(format!("{name}.pw"));
    std::fs::write(&pw, password).unwrap();
    let mut cmd = Command::new(venv().join("bin/ansible-vault"));
    cmd.arg("encrypt_string");
    match id {
        Some(id) => cmd.args(["--vault-id", &format!("{id}@{}", pw.display())]),
        None => cmd.arg("--vault-password-file").arg(&pw),
    };
    let out = sh(cmd.args(["--name", name, value]));
    std::fs::remove_file(&pw).unwrap();
    assert!(out.contains("$ANSIBLE_VAULT;"), "{out}");
    assert!(!out.contains(value));
    out
}

/// A play that reads `var` from the vaulted `vars_file` and prints it.
pub fn vault_play(vars_file: &str, var: &str) -> String {
    format!(
        "- name: Vault play\n  hosts: all\n  gather_facts: false\n  vars_files: [{vars_file}]\n  tasks:\n    - name: show the decrypted value\n      debug:\n        msg: \"plain={{{{ {var} }}}}\"\n"
    )
}

/// Whether `needle` (non-empty) occurs in `hay`.
pub fn contains(hay: &[u8], needle: &str) -> bool {
    let n = needle.as_bytes();
    !n.is_empty() && hay.windows(n.len()).any(|w| w == n)
}

/// Fails naming which of `secrets` (name, value) shows up in `hay` (described as `what`).
pub fn assert_clean(what: &str, hay: &[u8], secrets: &[(String, String)]) {
    for (name, secret) in secrets {
        assert!(!contains(hay, secret), "the {name} appears in {what}");
    }
}
