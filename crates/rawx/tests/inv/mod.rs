//! What the inventory source suites share: git projects holding inventory files, waiting for
//! updates, reading lists by name, and the collection.
#![allow(dead_code)]

pub use rawx_testkit::git::Repo;
pub use rawx_testkit::lab::*;
pub use rawx_testkit::Server;
pub use serde_json::{json, Value};
pub use std::collections::BTreeSet;
pub use std::path::{Path, PathBuf};
pub use std::time::Duration;

pub const UPDATES: &str = "inventory_updates";

/// A git project: a repository the test commits `files` to, checked out by the project's
/// first update (waited for). Returns the project and the repository's directory.
pub fn scm_project(lab: &Lab, name: &str, files: &[(&str, &str, u32)]) -> (i64, PathBuf) {
    let repo = Repo::new(&lab.s.data.join("repos"), name);
    repo.commit_modes(files, "change");
    let id = rawx_testkit::git::project(lab, name, &repo, json!({}));
    (id, repo.dir)
}

pub fn commit(dir: &Path, files: &[(&str, &str, u32)]) {
    let repo = Repo {
        dir: dir.to_path_buf(),
    };
    repo.commit_modes(files, "change");
}

/// A new commit checked out: the project updated before the next sync.
pub fn update_project(lab: &Lab, id: i64) {
    let u = lab.s.admin(
        "POST",
        &format!("/api/v2/projects/{id}/update/"),
        Some(json!({})),
        202,
    );
    let uid = u["id"].as_i64().unwrap();
    let done = wait_final_on(&lab.s, "project_updates", uid, Duration::from_secs(120));
    assert_eq!(done["status"], "successful", "{done}");
}

pub fn names(lab: &Lab, path: &str) -> BTreeSet<String> {
    lab.all(path)
        .iter()
        .map(|o| o["name"].as_str().unwrap_or_default().to_string())
        .collect()
}

pub fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

pub fn vars(o: &Value) -> Value {
    let text = o["variables"].as_str().unwrap_or_default();
    serde_json::from_str(text).unwrap_or_else(|_| json!({}))
}

pub fn one(lab: &Lab, path: &str) -> Value {
    let list = lab.all(path);
    assert_eq!(list.len(), 1, "{path}: {list:?}");
    list[0].clone()
}

/// Runs `tasks` on localhost through the collection; each task's (changed, failed, result).
pub fn play(srv: &Server, dir: &Path, tasks: &str) -> Vec<(bool, bool, Value)> {
    let (_, tasks) = rawx_testkit::collection::play(srv, dir, tasks, &[]);
    tasks
        .into_iter()
        .map(|t| (t.changed, t.failed, t.result))
        .collect()
}
