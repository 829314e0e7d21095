//! End to end: an administrator's first RBAC task with the real `awx` CLI against a real
//! `rawx serve` running jobs through the real `ansible-runner` — give one user one template
//! to run and nothing else (`awx users grant --job_template hello --role execute op`), then
//! take it away (`revoke`), then the same through a team (`awx teams grant`).

use rawx_testkit::lab::{local_vars, Lab};
use rawx_testkit::{Opts, PgDb};
use serde_json::{json, Value};

fn names(list: &Value) -> Vec<String> {
    list["results"]
        .as_array()
        .unwrap_or_else(|| panic!("not a list: {list}"))
        .iter()
        .filter_map(|o| o["name"].as_str().map(str::to_string))
        .collect()
}

#[test]
fn a_user_granted_execute_on_one_template_runs_it_and_sees_nothing_else() {
    grant_execute_and_revoke(Lab::start());
}

/// The same on PostgreSQL: the role filters are nested sub-selects both dialects must run.
#[test]
fn grants_and_revokes_work_the_same_on_postgresql() {
    let Some(db) = PgDb::create("rbac") else {
        return;
    };
    grant_execute_and_revoke(Lab::start_with(Opts {
        database_url: Some(db.url.clone()),
        ..Opts::default()
    }));
}

fn grant_execute_and_revoke(lab: Lab) {
    let s = &lab.s;
    let project = lab.project(
        "demo",
        &[(
            "hello.yml",
            "- hosts: all\n  gather_facts: false\n  tasks:\n    - debug: msg=hi\n",
        )],
    );
    let inv = lab.inventory("Lab", &[("localhost", local_vars())]);
    let hello = lab.jt("hello", project, inv, "hello.yml", json!({}));
    lab.jt("other", project, inv, "hello.yml", json!({}));
    s.admin(
        "POST",
        "/api/v2/users/",
        Some(json!({"username": "op", "password": "op-pw"})),
        201,
    );
    let op = |args: &[&str]| s.awx_as("op", "op-pw", args);

    // Before: op sees no template and may not launch.
    let out = op(&["job_templates", "list"]);
    assert_eq!(out.code, 0, "{out}");
    assert!(names(&out.json()).is_empty(), "{out}");

    let out = s.awx(&[
        "users",
        "grant",
        "--job_template",
        "hello",
        "--role",
        "execute",
        "op",
    ]);
    assert_eq!(out.code, 0, "awx users grant failed:\n{out}");

    let out = op(&["job_templates", "list"]);
    assert_eq!(out.code, 0, "{out}");
    assert_eq!(
        names(&out.json()),
        vec!["hello"],
        "op sees only that template"
    );
    let out = op(&["inventory", "list"]);
    assert!(names(&out.json()).is_empty(), "nor its inventory: {out}");
    let out = op(&["job_templates", "launch", "hello", "--monitor"]);
    assert_eq!(out.code, 0, "op launches hello:\n{out}");
    let jobs = op(&["jobs", "list"]).json();
    let job = jobs["results"][0]["id"].as_i64().expect("op sees the job");
    assert_eq!(lab.wait(job)["status"], "successful");
    assert_eq!(lab.job(job)["launched_by"]["name"], "op");
    let out = op(&["job_templates", "launch", "other"]);
    assert_ne!(out.code, 0, "op may not launch another template:\n{out}");

    let out = s.awx(&[
        "users",
        "revoke",
        "--job_template",
        "hello",
        "--role",
        "execute",
        "op",
    ]);
    assert_eq!(out.code, 0, "awx users revoke failed:\n{out}");
    let out = op(&["job_templates", "list"]);
    assert!(names(&out.json()).is_empty(), "revoked: {out}");
    let r = s.http(
        "POST",
        &format!("/api/v2/job_templates/{hello}/launch/"),
        Some(("op", "op-pw")),
        Some(&json!({})),
    );
    assert_eq!(r.status, 403, "{}", r.body);

    // The same through a team: op joins `runners`, the team is granted execute.
    let team = s.admin(
        "POST",
        "/api/v2/teams/",
        Some(json!({"name": "runners", "organization": lab.org["id"]})),
        201,
    );
    let out = s.awx(&["users", "list", "--username", "op"]);
    let op_id = out.json()["results"][0]["id"].as_i64().unwrap();
    let r = s.http(
        "POST",
        &format!("/api/v2/teams/{}/users/", team["id"]),
        Some(("admin", rawx_testkit::ADMIN_PW)),
        Some(&json!({"id": op_id})),
    );
    assert_eq!(r.status, 204, "{}", r.body);
    let out = s.awx(&[
        "teams",
        "grant",
        "--job_template",
        "hello",
        "--role",
        "execute",
        "runners",
    ]);
    assert_eq!(out.code, 0, "awx teams grant failed:\n{out}");
    let out = op(&["job_templates", "list"]);
    assert_eq!(names(&out.json()), vec!["hello"], "{out}");
    let out = op(&["job_templates", "launch", "hello"]);
    assert_eq!(out.code, 0, "a team member launches:\n{out}");
    let out = s.awx(&[
        "teams",
        "revoke",
        "--job_template",
        "hello",
        "--role",
        "execute",
        "runners",
    ]);
    assert_eq!(out.code, 0, "awx teams revoke failed:\n{out}");
    let out = op(&["job_templates", "list"]);
    assert!(names(&out.json()).is_empty(), "team revoked: {out}");
}
