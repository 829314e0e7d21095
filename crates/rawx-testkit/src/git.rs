//! Git repositories the tests make and commit to, and git projects over them: what the
//! project, inventory source and schedule suites share.

use crate::lab::{merge, wait_final_on, Lab};
use crate::Server;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// A Git repository the test owns, with commits it makes (branch `main`).
pub struct Repo {
    pub dir: PathBuf,
}

impl Repo {
    /// A new repository at `root/name`.
    pub fn new(root: &Path, name: &str) -> Repo {
        let dir = root.join(name);
        std::fs::create_dir_all(&dir).unwrap();
        let r = Repo { dir };
        r.git(&["init", "--quiet", "--initial-branch=main"]);
        r
    }

    /// Runs git in the repository (as a fixed author); its trimmed stdout.
    pub fn git(&self, args: &[&str]) -> String {
        let out = Command::new("git")
            .args(["-c", "user.name=T", "-c", "user.email=t@example.com"])
            .args(args)
            .current_dir(&self.dir)
            .output()
            .expect("git");
        assert!(
            out.status.success(),
            "git {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// Writes `files` and commits them; the new revision.
    pub fn commit(&self, files: &[(&str, &str)], msg: &str) -> String {
        let with_mode: Vec<_> = files.iter().map(|(p, c)| (*p, *c, 0o644)).collect();
        self.commit_modes(&with_mode, msg)
    }

    /// Writes `files` with their modes (an executable inventory script) and commits them.
    pub fn commit_modes(&self, files: &[(&str, &str, u32)], msg: &str) -> String {
        use std::os::unix::fs::PermissionsExt;
        for (path, content, mode) in files {
            let p = self.dir.join(path);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(&p, content).unwrap();
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(*mode)).unwrap();
        }
        self.git(&["add", "-A"]);
        self.git(&["commit", "--quiet", "-m", msg]);
        self.git(&["rev-parse", "HEAD"])
    }

    pub fn url(&self) -> String {
        format!("file://{}", self.dir.display())
    }
}

/// A git project of the lab's organization over `repo` (with `extra` fields), after its first
/// update succeeded (its output shown if it did not).
pub fn project(lab: &Lab, name: &str, repo: &Repo, extra: Value) -> i64 {
    let body = merge(
        json!({"name": name, "organization": lab.org["id"], "scm_type": "git", "scm_url": repo.url()}),
        extra,
    );
    let p = lab.s.admin("POST", "/api/v2/projects/", Some(body), 201);
    let uid = p["summary_fields"]["current_update"]["id"]
        .as_i64()
        .unwrap();
    let u = wait_final_on(&lab.s, "project_updates", uid, Duration::from_secs(120));
    assert_eq!(
        u["status"],
        "successful",
        "{u}\n{}",
        lab.stdout_on("project_updates", uid)
    );
    p["id"].as_i64().unwrap()
}

/// A playbook saying `git-play says VERSION`: which revision a job ran shows in its output.
pub fn play(version: &str) -> String {
    "- hosts: all\n  gather_facts: false\n  tasks:\n    - debug: {msg: \"git-play says VERSION\"}\n"
        .replace("VERSION", version)
}

/// Project update `id`, once final.
pub fn update_of(s: &Server, id: i64) -> Value {
    wait_final_on(s, "project_updates", id, Duration::from_secs(60))
}

/// Project `id` as the API shows it.
pub fn project_row(s: &Server, id: i64) -> Value {
    s.admin("GET", &format!("/api/v2/projects/{id}/"), None, 200)
}
