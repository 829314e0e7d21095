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

// ---- AWX 24's role definitions through the real awx.awx collection ----

/// Runs `tasks` through the collection as the admin; each task's `(name, changed, failed,
/// msg)` from the `json` callback.
fn play(
    s: &rawx_testkit::Server,
    dir: &std::path::Path,
    tasks: &str,
    extra: &[&str],
) -> Vec<(String, bool, bool, String)> {
    let (_, tasks) = rawx_testkit::collection::play(s, dir, tasks, extra);
    tasks
        .into_iter()
        .map(|t| {
            let msg = t.result["msg"].as_str().unwrap_or_default().to_string();
            (t.name, t.changed, t.failed, msg)
        })
        .collect()
}

fn changes(tasks: &[(String, bool, bool, String)]) -> Vec<(String, bool)> {
    for (name, _, failed, msg) in tasks {
        assert!(!failed, "task {name} failed: {msg}");
    }
    tasks.iter().map(|(n, c, ..)| (n.clone(), *c)).collect()
}

/// An administrator gives one user a custom role ("view and run this template") and a team
/// a managed one with the collection's `role_definition`, `role_user_assignment` and
/// `role_team_assignment` modules; the user runs the template with the `awx` CLI; a second
/// run changes nothing; `state: absent` takes it all back.
#[test]
fn the_collection_defines_and_assigns_roles() {
    let lab = Lab::start();
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
    let team = s.admin(
        "POST",
        "/api/v2/teams/",
        Some(json!({"name": "runners", "organization": lab.org["id"]})),
        201,
    );
    let dir = tempfile::tempdir().unwrap();
    let grant = format!(
        r#"    - name: define
      awx.awx.role_definition:
        name: run one template
        description: view and execute
        content_type: awx.jobtemplate
        permissions:
          - awx.view_jobtemplate
          - awx.execute_jobtemplate
    - name: assign to op
      awx.awx.role_user_assignment:
        role_definition: run one template
        object_id: {hello}
        user: op
    - name: assign to the team
      awx.awx.role_team_assignment:
        role_definition: JobTemplate Execute
        object_id: {hello}
        team: runners
"#
    );
    let t = play(s, dir.path(), &grant, &[]);
    assert_eq!(
        changes(&t),
        [
            ("define".to_string(), true),
            ("assign to op".to_string(), true),
            ("assign to the team".to_string(), true)
        ]
    );
    let t = play(s, dir.path(), &grant, &[]);
    assert!(
        changes(&t).iter().all(|(_, c)| !c),
        "a second run changes nothing: {t:?}"
    );

    // op reads and runs that template and nothing else.
    let op = |args: &[&str]| s.awx_as("op", "op-pw", args);
    let out = op(&["job_templates", "list"]);
    assert_eq!(names(&out.json()), vec!["hello"], "{out}");
    let out = op(&["job_templates", "launch", "hello", "--monitor"]);
    assert_eq!(out.code, 0, "op launches hello:\n{out}");
    let out = op(&["job_templates", "launch", "other"]);
    assert_ne!(out.code, 0, "but not another template:\n{out}");

    // The team's grant is the old view's too.
    let jt = s.admin("GET", &format!("/api/v2/job_templates/{hello}/"), None, 200);
    let exec = jt["summary_fields"]["object_roles"]["execute_role"]["id"].clone();
    let teams = s.admin("GET", &format!("/api/v2/roles/{exec}/teams/"), None, 200);
    assert_eq!(names(&teams), vec!["runners"]);

    // The definitions through the awx CLI.
    let out = s.awx(&["role_definitions", "list", "--name", "run one template"]);
    assert_eq!(out.code, 0, "{out}");
    assert_eq!(out.json()["count"], 1, "{out}");

    // Check mode reports a change and makes none; a changed description is an update.
    let revoke = format!(
        r#"    - name: unassign op
      awx.awx.role_user_assignment:
        role_definition: run one template
        object_id: {hello}
        user: op
        state: absent
    - name: unassign the team
      awx.awx.role_team_assignment:
        role_definition: JobTemplate Execute
        object_id: {hello}
        team: runners
        state: absent
"#
    );
    let t = play(s, dir.path(), &revoke, &["--check"]);
    assert!(changes(&t).iter().all(|(_, c)| *c), "{t:?}");
    let out = op(&["job_templates", "list"]);
    assert_eq!(
        names(&out.json()),
        vec!["hello"],
        "check mode changed nothing: {out}"
    );
    let t = play(s, dir.path(), &revoke, &[]);
    assert!(changes(&t).iter().all(|(_, c)| *c), "{t:?}");
    let out = op(&["job_templates", "list"]);
    assert!(names(&out.json()).is_empty(), "revoked: {out}");
    let teams = s.admin("GET", &format!("/api/v2/roles/{exec}/teams/"), None, 200);
    assert!(names(&teams).is_empty(), "{teams}");
    let _ = team;

    let gone = r#"    - name: redescribe
      awx.awx.role_definition:
        name: run one template
        description: changed
        content_type: awx.jobtemplate
        permissions:
          - awx.view_jobtemplate
          - awx.execute_jobtemplate
    - name: remove
      awx.awx.role_definition:
        name: run one template
        content_type: awx.jobtemplate
        permissions: []
        state: absent
"#;
    let t = play(s, dir.path(), gone, &[]);
    assert_eq!(
        changes(&t),
        [
            ("redescribe".to_string(), true),
            ("remove".to_string(), true)
        ]
    );
    let defs = s.admin(
        "GET",
        "/api/v2/role_definitions/?name=run%20one%20template",
        None,
        200,
    );
    assert_eq!(defs["count"], 0, "{defs}");

    // A definition that does not exist: the module's lookup error.
    let bad = format!(
        r#"    - name: assign a missing definition
      awx.awx.role_user_assignment:
        role_definition: no such definition
        object_id: {hello}
        user: op
"#
    );
    let t = play(s, dir.path(), &bad, &[]);
    assert!(t[0].2, "a missing definition fails: {t:?}");
    assert!(
        t[0].3
            .contains("role_definitions/?name=no+such+definition returned 0 items"),
        "{t:?}"
    );
}

/// The collection's legacy `role` module (`/roles/N/users/`, `/roles/N/teams/`, as against
/// AWX): a grant to a user and to a team, unchanged on a second run, a missing user named,
/// revoked with `state: absent`, and nothing left to revoke on a second run.
#[test]
fn the_collection_role_module_grants_and_revokes() {
    let srv = rawx_testkit::Server::start_with(Opts::default());
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let setup = r#"    - name: organization
      awx.awx.organization: {name: RoleOrg}
    - name: user
      awx.awx.user: {username: op, password: op-pw}
    - name: team
      awx.awx.team: {name: ops, organization: RoleOrg}
    - name: inventory
      awx.awx.inventory: {name: RoleInv, organization: RoleOrg}
    - name: project
      awx.awx.project: {name: RoleProj, organization: RoleOrg, scm_type: manual, local_path: demo}
    - name: job_template
      awx.awx.job_template: {name: RoleJT, project: RoleProj, inventory: RoleInv, playbook: hello.yml}
"#;
    let (out, tasks) = rawx_testkit::collection::play(&srv, dir, setup, &[]);
    rawx_testkit::collection::ok(&out, &tasks);
    let grants = |state: &str| {
        format!(
            r#"    - name: execute
      awx.awx.role: {{user: op, role: execute, job_template: RoleJT, state: {state}}}
    - name: use
      awx.awx.role: {{team: ops, role: use, inventory: RoleInv, state: {state}}}
"#
        )
    };
    let run = |tasks: &str| {
        let (out, tasks) = rawx_testkit::collection::play(&srv, dir, tasks, &[]);
        rawx_testkit::collection::ok(&out, &tasks)
            .into_iter()
            .map(|(_, c)| c)
            .collect::<Vec<bool>>()
    };
    let roles_of = |path: &str| -> Vec<String> {
        let list = srv.admin("GET", path, None, 200);
        list["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                format!(
                    "{} {}",
                    r["summary_fields"]["resource_name"].as_str().unwrap_or(""),
                    r["name"].as_str().unwrap_or("")
                )
            })
            .collect()
    };
    let op = srv.admin("GET", "/api/v2/users/?username=op", None, 200)["results"][0]["id"].clone();
    let team = srv.admin("GET", "/api/v2/teams/?name=ops", None, 200)["results"][0]["id"].clone();

    assert_eq!(run(&grants("present")), [true, true]);
    assert_eq!(
        run(&grants("present")),
        [false, false],
        "a second run grants nothing"
    );
    assert_eq!(
        roles_of(&format!("/api/v2/users/{op}/roles/")),
        ["RoleJT Execute"]
    );
    assert_eq!(
        roles_of(&format!("/api/v2/teams/{team}/roles/")),
        ["RoleInv Use"]
    );

    // A user that does not exist is named.
    let (out, tasks) = rawx_testkit::collection::play(
        &srv,
        dir,
        "    - name: missing\n      awx.awx.role: {user: nobody, role: execute, job_template: RoleJT}\n",
        &[],
    );
    assert_ne!(out.code, 0, "{out}");
    let msg = tasks[0].result["msg"].as_str().unwrap_or_default();
    assert!(
        msg.contains("missing items") && msg.contains("nobody"),
        "{msg}"
    );

    assert_eq!(run(&grants("absent")), [true, true]);
    assert_eq!(
        run(&grants("absent")),
        [false, false],
        "nothing left to revoke"
    );
    assert!(roles_of(&format!("/api/v2/users/{op}/roles/")).is_empty());
    assert!(roles_of(&format!("/api/v2/teams/{team}/roles/")).is_empty());
}

/// AWX 24's object roles on an execution environment, with the collection's
/// `role_user_assignment` module: "ExecutionEnvironment Admin" on one lets an organization
/// member change that one and no other; a second run changes nothing;
/// `state: absent` takes it back.
#[test]
fn the_collection_assigns_an_execution_environment_admin() {
    let lab = Lab::start();
    let s = &lab.s;
    let ee = |name: &str| {
        s.admin(
            "POST",
            "/api/v2/execution_environments/",
            Some(
                json!({"name": name, "image": format!("quay.io/lab/{name}:1"),
                "organization": lab.org["id"]}),
            ),
            201,
        )["id"]
            .as_i64()
            .unwrap()
    };
    let mine = ee("mine");
    let other = ee("other");
    let op = s.admin(
        "POST",
        "/api/v2/users/",
        Some(json!({"username": "op", "password": "op-pw"})),
        201,
    )["id"]
        .clone();
    s.admin(
        "POST",
        &format!("/api/v2/organizations/{}/users/", lab.org["id"]),
        Some(json!({"id": op})),
        204,
    );
    // The `awx` CLI offers op no `modify` here (the list's OPTIONS has no POST for someone who
    // may not create one, as in AWX): op changes it through the API, as the UI does.
    let modify = |id: i64| {
        s.http(
            "PATCH",
            &format!("/api/v2/execution_environments/{id}/"),
            Some(("op", "op-pw")),
            Some(&json!({"description": "changed by op"})),
        )
    };
    let out = modify(mine);
    assert_eq!(out.status, 403, "not yet: {}", out.body);

    let dir = tempfile::tempdir().unwrap();
    let assign = |state: &str| {
        format!(
            r#"    - name: ee admin
      awx.awx.role_user_assignment:
        role_definition: ExecutionEnvironment Admin
        object_id: {mine}
        user: op
        state: {state}
"#
        )
    };
    let t = play(s, dir.path(), &assign("present"), &[]);
    assert_eq!(changes(&t), [("ee admin".to_string(), true)]);
    let t = play(s, dir.path(), &assign("present"), &[]);
    assert_eq!(changes(&t), [("ee admin".to_string(), false)]);

    let out = modify(mine);
    assert_eq!(out.status, 200, "op changes the one assigned: {}", out.body);
    let shown = s.admin(
        "GET",
        &format!("/api/v2/execution_environments/{mine}/"),
        None,
        200,
    );
    assert_eq!(shown["description"], "changed by op");
    let out = modify(other);
    assert_eq!(out.status, 403, "and no other: {}", out.body);

    let t = play(s, dir.path(), &assign("absent"), &[]);
    assert_eq!(changes(&t), [("ee admin".to_string(), true)]);
    let out = modify(mine);
    assert_eq!(out.status, 403, "revoked: {}", out.body);
}
