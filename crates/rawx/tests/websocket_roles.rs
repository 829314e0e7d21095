//! End to end: who receives what on AWX's websocket. One user per role (execute, read, admin
//! of a template, of an inventory, of a project, of a workflow, organization member, auditor,
//! admin, an outsider, a superuser), each a real websocket client (Python's `websockets`,
//! session login) subscribed to every group — `jobs` (status and summary), `job_events-N`,
//! `ad_hoc_command_events-N`, `project_update_events-N`, `inventory_update_events-N`,
//! `workflow_events-N`, `schedules` — while a real job, ad hoc command, project update,
//! inventory update and workflow job run through the real `ansible-runner`.
//!
//! The expected answers are generated from two tables: AWX's role graph
//! (`rawx_testkit::awx_roles`) and [`GROUPS`], who may read each job as
//! `awx/main/access.py`'s querysets say. AWX's `EventConsumer.receive_json` checks a
//! subscription only for `job_events`, `workflow_events` and `ad_hoc_command_events`
//! (`consumer_access`), with the error `access denied to channel <group> for resource id <id>`,
//! and sends every status message to everyone subscribed to `jobs`. rawx is stricter on
//! purpose, where AWX leaks: project and inventory update events (their output) need the read
//! role of the project or inventory as the API's detail does, and a status or summary message
//! goes only to those who may read its job. `schedules-changed` (an id) goes to everyone, as in
//! AWX. A workflow job's group carries the statuses of the jobs it spawned.

use rawx_testkit::awx_roles::allows;
use rawx_testkit::git::{self, Repo};
use rawx_testkit::lab::{local_vars, wait_final_on, Lab};
use rawx_testkit::wsclient::Py;
use rawx_testkit::{eventually, ADMIN_PW};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::time::Duration;

/// The users: their name and the one role they are granted (`None`: an outsider; the
/// superuser is `admin`).
const WHO: &[(&str, Option<&str>)] = &[
    ("jt-execute", Some("jt.execute_role")),
    ("jt-read", Some("jt.read_role")),
    ("jt-admin", Some("jt.admin_role")),
    ("inv-admin", Some("inventory.admin_role")),
    ("inv-read", Some("inventory.read_role")),
    ("inv-adhoc", Some("inventory.adhoc_role")),
    ("project-admin", Some("project.admin_role")),
    ("project-use", Some("project.use_role")),
    ("wf-execute", Some("wfjt.execute_role")),
    ("wf-approve", Some("wfjt.approval_role")),
    ("org-member", Some("org.member_role")),
    ("org-auditor", Some("org.auditor_role")),
    ("org-admin", Some("org.admin_role")),
    ("org-execute", Some("org.execute_role")),
    ("outsider", None),
    ("admin", Some("superuser")),
];

/// Whether the subscription is checked the way AWX checks it (`consumer_access`) or by rawx's
/// stricter rule (AWX accepts anyone).
#[derive(Clone, Copy, PartialEq, Debug)]
enum Check {
    Awx,
    Stricter,
}

/// `(event group, the job it follows, the roles that read that job, who checks)`, per
/// `access.py`: `JobAccess.filtered_queryset` (the template's readers, the organization's
/// admins and auditors), `AdHocCommandAccess` and `InventoryUpdateAccess` (the inventory's
/// readers), `ProjectUpdateAccess` (the project's), `WorkflowJobAccess` (the workflow's).
const GROUPS: &[(&str, Run, &[&str], Check)] = &[
    (
        "job_events",
        Run::Job,
        &["jt.read_role", "org.admin_role", "org.auditor_role"],
        Check::Awx,
    ),
    (
        "ad_hoc_command_events",
        Run::AdHoc,
        &["inventory.read_role"],
        Check::Awx,
    ),
    (
        "workflow_events",
        Run::Workflow,
        &["wfjt.read_role"],
        Check::Awx,
    ),
    (
        "project_update_events",
        Run::ProjectUpdate,
        &["project.read_role"],
        Check::Stricter,
    ),
    (
        "inventory_update_events",
        Run::InventoryUpdate,
        &["inventory.read_role"],
        Check::Stricter,
    ),
];

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
enum Run {
    Job,
    AdHoc,
    Workflow,
    ProjectUpdate,
    InventoryUpdate,
}

fn may(grant: Option<&str>, readers: &[&str]) -> bool {
    match grant {
        Some("superuser") => true,
        Some(g) => allows(g, readers),
        None => false,
    }
}

fn whoami() -> String {
    let out = std::process::Command::new("id")
        .arg("-un")
        .output()
        .unwrap();
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

#[test]
fn each_role_receives_what_it_may_read() {
    let lab = Lab::start();
    let s = &lab.s;
    let org = lab.org["id"].as_i64().unwrap();
    let id = |v: Value| v["id"].as_i64().unwrap();

    // What runs: a git project (its update has events), a template over a local inventory,
    // an inventory source from the project, a workflow of the template, an ad hoc command.
    let root = tempfile::tempdir().unwrap();
    let repo = Repo::new(root.path(), "wsroles");
    repo.commit(
        &[
            (
                "hello.yml",
                "- hosts: all\n  gather_facts: false\n  tasks:\n    - debug: msg=hello\n",
            ),
            ("hosts.ini", "[nobody]\n"),
        ],
        "first",
    );
    let project = git::project(&lab, "wsroles", &repo, json!({}));
    let inv = lab.inventory("Local", &[("localhost", local_vars())]);
    let jt = lab.jt("hello", project, inv, "hello.yml", json!({}));
    let source = id(s.admin(
        "POST",
        "/api/v2/inventory_sources/",
        Some(
            json!({"name": "from git", "inventory": inv, "source": "scm",
            "source_project": project, "source_path": "hosts.ini"}),
        ),
        201,
    ));
    let wfjt = id(s.admin(
        "POST",
        "/api/v2/workflow_job_templates/",
        Some(json!({"name": "flow", "organization": org})),
        201,
    ));
    s.admin(
        "POST",
        &format!("/api/v2/workflow_job_templates/{wfjt}/workflow_nodes/"),
        Some(json!({"unified_job_template": jt})),
        201,
    );
    let machine = lab.credential("Local", "Machine", json!({"username": whoami()}));
    let schedule = id(s.admin(
        "POST",
        &format!("/api/v2/job_templates/{jt}/schedules/"),
        Some(json!({"name": "nightly",
            "rrule": "DTSTART;TZID=UTC:20300101T020000 RRULE:FREQ=DAILY;INTERVAL=1"})),
        201,
    ));

    // The users and their one grant each, through the role endpoints.
    let roles_of =
        |path: String| s.admin("GET", &path, None, 200)["summary_fields"]["object_roles"].clone();
    let objects: BTreeMap<&str, Value> = [
        ("org", roles_of(format!("/api/v2/organizations/{org}/"))),
        ("project", roles_of(format!("/api/v2/projects/{project}/"))),
        ("inventory", roles_of(format!("/api/v2/inventories/{inv}/"))),
        ("jt", roles_of(format!("/api/v2/job_templates/{jt}/"))),
        (
            "wfjt",
            roles_of(format!("/api/v2/workflow_job_templates/{wfjt}/")),
        ),
    ]
    .into_iter()
    .collect();
    for (name, grant) in WHO {
        if *name == "admin" {
            continue;
        }
        let uid = id(s.admin(
            "POST",
            "/api/v2/users/",
            Some(json!({"username": name, "password": "ws-pw-1234"})),
            201,
        ));
        let Some(grant) = grant else { continue };
        let (obj, field) = grant.split_once('.').unwrap();
        let rid = objects[obj][field]["id"].clone();
        assert!(rid.is_i64(), "{obj} has no {field}");
        s.admin(
            "POST",
            &format!("/api/v2/users/{uid}/roles/"),
            Some(json!({"id": rid})),
            204,
        );
    }

    // Nothing runs until every client listens: the only node is disabled.
    let node = s.admin("GET", "/api/v2/instances/", None, 200)["results"][0]["id"]
        .as_i64()
        .unwrap();
    s.admin(
        "PATCH",
        &format!("/api/v2/instances/{node}/"),
        Some(json!({"enabled": false})),
        200,
    );
    let mut jobs = BTreeMap::new();
    jobs.insert(
        Run::Job,
        id(s.admin(
            "POST",
            &format!("/api/v2/job_templates/{jt}/launch/"),
            Some(json!({})),
            201,
        )),
    );
    jobs.insert(
        Run::AdHoc,
        id(s.admin(
            "POST",
            "/api/v2/ad_hoc_commands/",
            Some(json!({"inventory": inv, "credential": machine, "module_name": "ping"})),
            201,
        )),
    );
    jobs.insert(
        Run::ProjectUpdate,
        id(s.admin(
            "POST",
            &format!("/api/v2/projects/{project}/update/"),
            None,
            202,
        )),
    );
    jobs.insert(
        Run::InventoryUpdate,
        id(s.admin(
            "POST",
            &format!("/api/v2/inventory_sources/{source}/update/"),
            None,
            202,
        )),
    );
    jobs.insert(
        Run::Workflow,
        id(s.admin(
            "POST",
            &format!("/api/v2/workflow_job_templates/{wfjt}/launch/"),
            Some(json!({})),
            201,
        )),
    );

    // Every user subscribes to every group.
    let mut groups = json!({"jobs": ["status_changed", "summary"], "schedules": ["changed"]});
    for (g, job, _, _) in GROUPS {
        groups[*g] = json!([jobs[job]]);
    }
    let mut clients: Vec<(&str, Option<&str>, Py)> = WHO
        .iter()
        .map(|(name, grant)| {
            let pw = if *name == "admin" {
                ADMIN_PW
            } else {
                "ws-pw-1234"
            };
            let py = Py::start(
                s,
                json!({"login": [name, pw], "steps": [
                    ["send", {"xrftoken": "$XRF", "groups": groups.clone()}],
                    ["ready"],
                    ["listen"],
                ]}),
            );
            (*name, *grant, py)
        })
        .collect();
    for (_, _, py) in &clients {
        py.ready();
    }
    std::thread::sleep(Duration::from_secs(2));
    s.admin(
        "PATCH",
        &format!("/api/v2/instances/{node}/"),
        Some(json!({"enabled": true})),
        200,
    );
    let kinds = [
        (Run::Job, "jobs"),
        (Run::AdHoc, "ad_hoc_commands"),
        (Run::ProjectUpdate, "project_updates"),
        (Run::InventoryUpdate, "inventory_updates"),
        (Run::Workflow, "workflow_jobs"),
    ];
    for (job, res) in kinds {
        // A workflow job has no events to wait for (nor `event_processing_finished`).
        let row = if job == Run::Workflow {
            eventually(Duration::from_secs(180), || {
                let w = s.admin("GET", &format!("/api/v2/{res}/{}/", jobs[&job]), None, 200);
                match w["finished"].is_string() {
                    true => Ok(w),
                    false => Err(format!("workflow job not finished: {w}")),
                }
            })
        } else {
            wait_final_on(s, res, jobs[&job], Duration::from_secs(180))
        };
        assert_eq!(row["status"], "successful", "{res} {row}");
    }
    s.admin(
        "PATCH",
        &format!("/api/v2/schedules/{schedule}/"),
        // A new rule moves its next run: what AWX announces (`update_computed_fields`).
        Some(json!({"rrule": "DTSTART;TZID=UTC:20310101T020000 RRULE:FREQ=DAILY;INTERVAL=1"})),
        200,
    );
    std::thread::sleep(Duration::from_secs(3));
    for (_, _, py) in &mut clients {
        py.stop_listening();
    }

    let readers_of = |job: Run| GROUPS.iter().find(|g| g.1 == job).unwrap().2;
    let mut checks = 0;
    let mut wrong = Vec::new();
    for (name, grant, py) in clients {
        let seen = py.result(Duration::from_secs(30));
        let received = seen["received"].as_array().cloned().unwrap_or_default();
        let reply = received
            .iter()
            .find(|m| m.get("groups_current").is_some())
            .cloned()
            .unwrap_or(Value::Null);
        let current: Vec<&str> = reply["groups_current"]
            .as_array()
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let mut check = |ok: bool, what: String| {
            checks += 1;
            if !ok {
                wrong.push(format!("{name} ({grant:?}): {what}"));
            }
        };
        for (g, job, readers, how) in GROUPS {
            let jid = jobs[job];
            let allowed = may(grant, readers);
            let err =
                json!({"error": format!("access denied to channel {g} for resource id {jid}")});
            let denied = received.contains(&err);
            check(
                denied != allowed && current.contains(&format!("{g}-{jid}").as_str()) == allowed,
                format!("subscription to {g}-{jid} ({how:?}): allowed {allowed}, denied {denied}, current {current:?}"),
            );
            // Every group carries something for its readers: events, or for a workflow job
            // the statuses of the job it spawned.
            let n = received.iter().filter(|m| m["group_name"] == *g).count();
            check(
                (n > 0) == allowed,
                format!("{n} messages of {g}: allowed {allowed}"),
            );
        }
        for (job, jid) in &jobs {
            let allowed = may(grant, readers_of(*job));
            let statuses = received
                .iter()
                .filter(|m| m["group_name"] == "jobs" && m["unified_job_id"] == *jid)
                .filter(|m| m.get("status").is_some())
                .count();
            check(
                (statuses > 0) == allowed,
                format!("{statuses} status messages of {job:?} {jid}: may read {allowed}"),
            );
            // Workflow jobs have no events, hence no summary.
            if *job != Run::Workflow {
                let summaries = received
                    .iter()
                    .filter(|m| m["unified_job_id"] == *jid && m.get("final_counter").is_some())
                    .count();
                check(
                    (summaries > 0) == allowed,
                    format!("{summaries} summaries of {job:?} {jid}: may read {allowed}"),
                );
            }
        }
        let changed = received
            .iter()
            .any(|m| m["group_name"] == "schedules" && m["id"] == schedule);
        check(
            changed,
            "schedules-changed reaches everyone subscribed".into(),
        );
    }
    eprintln!(
        "websocket roles: {} users × ({} event groups × 2 + {} jobs' status/summary + schedules), {checks} checks",
        WHO.len(),
        GROUPS.len(),
        jobs.len()
    );
    assert!(
        wrong.is_empty(),
        "{} of {checks} differ:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}
