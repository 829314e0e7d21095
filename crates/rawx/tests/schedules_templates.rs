//! End-to-end: schedules on every kind of template, as a user makes them with the unmodified
//! `awx` CLI, the `awx.awx` collection's `schedule` module and the API's sub-lists: a schedule on
//! a git project runs a project update, one on an inventory source a sync, one on a workflow
//! template a workflow job (with the prompt it asks for), each `launch_type: scheduled` and
//! listed under `/schedules/N/jobs/`; AWX's 400s for what a kind of template refuses; who may
//! schedule a project; a schedule's own credentials and labels (AWX's launch configuration,
//! with `LaunchConfigCredentialsBase`'s refusals), set through the API and the collection;
//! and migration 21 on a database of the previous release (SQLite and PostgreSQL), whose
//! schedules could name job templates only.

use rawx_testkit::git::Repo;
use rawx_testkit::lab::*;
use rawx_testkit::{sh, sqlite, Opts, PgDb, Server, ADMIN_PW};
use serde_json::{json, Value};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A git project over a repository holding `files`, after its first update succeeded.
fn git_project(lab: &Lab, name: &str, files: &[(&str, &str)]) -> i64 {
    let repo = Repo::new(&lab.s.data.join("repos"), name);
    repo.commit(files, "first");
    rawx_testkit::git::project(lab, name, &repo, json!({}))
}

fn ical_utc(epoch: i64) -> String {
    let out = Command::new("date")
        .args(["-u", &format!("-d@{epoch}"), "+%Y%m%dT%H%M%SZ"])
        .output()
        .unwrap();
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// Every minute from `ahead` seconds from now.
fn every_minute(ahead: i64) -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    format!(
        "DTSTART:{} RRULE:FREQ=MINUTELY;INTERVAL=1",
        ical_utc(now + ahead)
    )
}

/// The schedule's first job (of any kind), waited for up to `limit`.
fn first_job(s: &Server, schedule: i64, limit: Duration) -> Value {
    rawx_testkit::eventually(limit, || {
        let jobs = s.admin(
            "GET",
            &format!("/api/v2/schedules/{schedule}/jobs/"),
            None,
            200,
        );
        jobs["results"].as_array().unwrap().first().cloned()
    })
}

fn id(v: &Value) -> i64 {
    v["id"].as_i64().unwrap_or_else(|| panic!("no id: {v}"))
}

/// Runs `tasks` on localhost through the collection; each task's (failed, result).
fn play(srv: &Server, dir: &Path, tasks: &str) -> Vec<(bool, Value)> {
    let (_, tasks) = rawx_testkit::collection::play(srv, dir, tasks, &[]);
    tasks.into_iter().map(|t| (t.failed, t.result)).collect()
}

const HOSTS: &str = "all:\n  children:\n    webs:\n      hosts:\n        w1: {}\n        w2: {}\n";

#[test]
fn schedules_run_a_project_update_an_inventory_sync_and_a_workflow() {
    let lab = Lab::start();
    let s = &lab.s;
    let org = id(&lab.org);
    let project = git_project(&lab, "scheduled-git", &[("hosts.yml", HOSTS)]);
    let inv = lab.inventory("Synced", &[]);
    let source = id(&s.admin(
        "POST",
        "/api/v2/inventory_sources/",
        Some(
            json!({"name": "from-git", "inventory": inv, "source": "scm",
                    "source_project": project, "source_path": "hosts.yml", "overwrite": true}),
        ),
        201,
    ));
    // Each sync updates the project first, so the sync names the update it read.
    s.admin(
        "PATCH",
        &format!("/api/v2/projects/{project}/"),
        Some(json!({"scm_update_on_launch": true})),
        200,
    );
    let wfjt = id(&s.admin(
        "POST",
        "/api/v2/workflow_job_templates/",
        Some(json!({"name": "flow", "organization": org, "ask_limit_on_launch": true})),
        201,
    ));
    s.admin(
        "POST",
        &format!("/api/v2/workflow_job_templates/{wfjt}/workflow_nodes/"),
        Some(json!({"unified_job_template": project})),
        201,
    );

    // The project's schedule through the CLI, by the template's id alone.
    let on_project = s.awx_json(&[
        "schedules",
        "create",
        "--name",
        "pull",
        "--rrule",
        &every_minute(25),
        "--unified_job_template",
        &project.to_string(),
    ]);
    assert_eq!(
        on_project["summary_fields"]["unified_job_template"]["unified_job_type"], "project_update",
        "{on_project}"
    );
    // (The CLI prints no `related`: read it back.)
    let read = s.admin(
        "GET",
        &format!("/api/v2/schedules/{}/", id(&on_project)),
        None,
        200,
    );
    assert_eq!(
        read["related"]["unified_job_template"],
        format!("/api/v2/projects/{project}/")
    );
    // The source's through its sub-list.
    let on_source = s.admin(
        "POST",
        &format!("/api/v2/inventory_sources/{source}/schedules/"),
        Some(json!({"name": "sync", "rrule": every_minute(25)})),
        201,
    );
    assert_eq!(on_source["unified_job_template"], source);
    assert_eq!(
        on_source["related"]["unified_job_template"],
        format!("/api/v2/inventory_sources/{source}/")
    );
    // The workflow's through the collection (which finds the template by name among
    // `/unified_job_templates/`), with the limit the workflow asks for.
    let work = tempfile::tempdir().unwrap();
    let rrule = every_minute(25);
    let tasks = format!(
        r#"
    - name: schedule the workflow
      awx.awx.schedule:
        name: nightly-flow
        unified_job_template: flow
        rrule: "{rrule}"
        limit: webs
"#
    );
    let done = play(s, work.path(), &tasks);
    assert_eq!(done.len(), 1, "{done:?}");
    assert!(!done[0].0, "{done:?}");
    let on_wfjt = s.admin(
        "GET",
        &format!("/api/v2/schedules/{}/", id(&done[0].1)),
        None,
        200,
    );
    assert_eq!(on_wfjt["unified_job_template"], wfjt, "{on_wfjt}");
    assert_eq!(on_wfjt["limit"], "webs");

    // Each template lists its schedule and shows its next run.
    for (path, sched) in [
        (format!("projects/{project}"), &on_project),
        (format!("inventory_sources/{source}"), &on_source),
        (format!("workflow_job_templates/{wfjt}"), &on_wfjt),
    ] {
        let listed = s.admin("GET", &format!("/api/v2/{path}/schedules/"), None, 200);
        assert_eq!(listed["count"], 1, "{path}: {listed}");
        assert_eq!(listed["results"][0]["id"], sched["id"]);
        let t = s.admin("GET", &format!("/api/v2/{path}/"), None, 200);
        assert_eq!(t["next_job_run"], sched["next_run"], "{path}: {t}");
    }

    // At DTSTART each launches its kind of job, marked as scheduled.
    let limit = Duration::from_secs(90);
    let update = first_job(s, id(&on_project), limit);
    assert_eq!(update["type"], "project_update", "{update}");
    assert_eq!(update["launch_type"], "scheduled", "{update}");
    assert_eq!(update["project"], project);
    let sync = first_job(s, id(&on_source), limit);
    assert_eq!(sync["type"], "inventory_update", "{sync}");
    assert_eq!(sync["launch_type"], "scheduled", "{sync}");
    assert_eq!(sync["inventory_source"], source);
    let flow = first_job(s, id(&on_wfjt), limit);
    assert_eq!(flow["type"], "workflow_job", "{flow}");
    assert_eq!(flow["launch_type"], "scheduled", "{flow}");
    assert_eq!(flow["workflow_job_template"], wfjt);
    assert_eq!(
        flow["limit"], "webs",
        "the prompt the workflow asks for: {flow}"
    );
    for sched in [&on_project, &on_source, &on_wfjt] {
        s.admin(
            "PATCH",
            &format!("/api/v2/schedules/{}/", id(sched)),
            Some(json!({"enabled": false})),
            200,
        );
    }

    let long = Duration::from_secs(180);
    let update = wait_final_on(s, "project_updates", id(&update), long);
    assert_eq!(update["status"], "successful", "{update}");
    let sync = wait_final_on(s, "inventory_updates", id(&sync), long);
    assert_eq!(sync["status"], "successful", "{sync}");
    let hosts = lab.all(&format!("/api/v2/inventories/{inv}/hosts/"));
    let mut names: Vec<&str> = hosts.iter().filter_map(|h| h["name"].as_str()).collect();
    names.sort_unstable();
    assert_eq!(names, ["w1", "w2"], "the scheduled sync imported the file");
    // The project lists the source reading it; the update the sync read lists the sync.
    let reading = s.admin(
        "GET",
        &format!("/api/v2/projects/{project}/scm_inventory_sources/"),
        None,
        200,
    );
    assert_eq!(reading["count"], 1, "{reading}");
    assert_eq!(reading["results"][0]["id"], source);
    let read = sync["source_project_update"]
        .as_i64()
        .unwrap_or_else(|| panic!("the sync names its project update: {sync}"));
    let syncs = s.admin(
        "GET",
        &format!("/api/v2/project_updates/{read}/scm_inventory_updates/"),
        None,
        200,
    );
    assert_eq!(syncs["count"], 1, "{syncs}");
    assert_eq!(syncs["results"][0]["id"], sync["id"]);
    // A workflow job has no events of its own: its status is enough.
    let flow = rawx_testkit::eventually(long, || {
        let w = s.admin(
            "GET",
            &format!("/api/v2/workflow_jobs/{}/", id(&flow)),
            None,
            200,
        );
        (w["finished"] != Value::Null).then_some(w)
    });
    assert_eq!(flow["status"], "successful", "{flow}");
}

/// What AWX refuses per kind of template, with its messages; who may schedule a project.
#[test]
fn schedules_refuse_what_the_template_kind_does_not_take() {
    let lab = Lab::start();
    let s = &lab.s;
    let org = id(&lab.org);
    let rule = "DTSTART:20300101T090000Z RRULE:FREQ=DAILY;INTERVAL=1";
    let manual = lab.project("by-hand", &[("hello.yml", "- hosts: all\n")]);
    let made = s.http(
        "POST",
        "/api/v2/schedules/",
        Some(("admin", ADMIN_PW)),
        Some(&json!({"name": "m", "unified_job_template": manual, "rrule": rule})),
    );
    assert_eq!(made.status, 400, "{made:?}");
    assert_eq!(
        made.json(),
        json!({"unified_job_template": ["Manual Project cannot have a schedule set."]})
    );

    let project = git_project(&lab, "refusing", &[("hosts.yml", HOSTS)]);
    // A project asks for no prompt: with extra data in the request each prompt is refused.
    let post = |body: Value| {
        s.http(
            "POST",
            "/api/v2/schedules/",
            Some(("admin", ADMIN_PW)),
            Some(&body),
        )
    };
    let r = post(
        json!({"name": "p", "unified_job_template": project, "rrule": rule,
                        "extra_data": {}, "limit": "webs"}),
    );
    assert_eq!(r.status, 400, "{r:?}");
    assert_eq!(
        r.json(),
        json!({"limit": ["Field is not allowed on launch."]})
    );
    let r = post(
        json!({"name": "p", "unified_job_template": project, "rrule": rule,
                        "extra_data": {"x": 1}}),
    );
    assert_eq!(r.status, 400, "{r:?}");
    assert_eq!(
        r.json(),
        json!({"extra_data": ["Field is not allowed on launch."]})
    );
    let ok = post(json!({"name": "p", "unified_job_template": project, "rrule": rule}));
    assert_eq!(ok.status, 201, "{ok:?}");

    // A workflow template refuses a prompt it does not ask for, and ignores one it has none of.
    let inv = lab.inventory("Elsewhere", &[]);
    let wfjt = id(&s.admin(
        "POST",
        "/api/v2/workflow_job_templates/",
        Some(json!({"name": "wf", "organization": org})),
        201,
    ));
    let r = post(
        json!({"name": "w", "unified_job_template": wfjt, "rrule": rule,
                        "inventory": inv}),
    );
    assert_eq!(r.status, 400, "{r:?}");
    assert_eq!(
        r.json(),
        json!({"inventory": ["Field is not configured to prompt on launch."]})
    );
    let r = post(
        json!({"name": "w", "unified_job_template": wfjt, "rrule": rule,
                        "verbosity": 2}),
    );
    assert_eq!(r.status, 201, "{r:?}");
    // A cloud source may be scheduled.
    let ec2 = id(&s.admin(
        "POST",
        "/api/v2/inventory_sources/",
        Some(json!({"name": "cloud", "inventory": inv, "source": "ec2"})),
        201,
    ));
    let r = post(json!({"name": "c", "unified_job_template": ec2, "rrule": rule}));
    assert_eq!(r.status, 201, "{r:?}");

    // Who may update the project may schedule it and change what they made; a reader sees
    // its schedules and makes none; an outsider sees none.
    let user = |name: &str| {
        id(&s.admin(
            "POST",
            "/api/v2/users/",
            Some(json!({"username": name, "password": "pw-of-user"})),
            201,
        ))
    };
    let roles = s.admin("GET", &format!("/api/v2/projects/{project}/"), None, 200)
        ["summary_fields"]["object_roles"]
        .clone();
    for (name, role) in [("updater", "update_role"), ("reader", "read_role")] {
        let uid = user(name);
        s.admin(
            "POST",
            &format!("/api/v2/users/{uid}/roles/"),
            Some(json!({"id": roles[role]["id"]})),
            204,
        );
    }
    user("outsider");
    let as_ = |u: &str, m: &str, p: &str, b: Option<Value>| {
        s.http(m, p, Some((u, "pw-of-user")), b.as_ref())
    };
    let mine = as_(
        "updater",
        "POST",
        &format!("/api/v2/projects/{project}/schedules/"),
        Some(json!({"name": "mine", "rrule": rule})),
    );
    assert_eq!(mine.status, 201, "{mine:?}");
    let mine = id(&mine.json());
    let patched = as_(
        "updater",
        "PATCH",
        &format!("/api/v2/schedules/{mine}/"),
        Some(json!({"enabled": false})),
    );
    assert_eq!(patched.status, 200, "{patched:?}");
    let theirs = as_(
        "updater",
        "PATCH",
        &format!("/api/v2/schedules/{}/", id(&ok.json())),
        Some(json!({"enabled": false})),
    );
    assert_eq!(theirs.status, 403, "not theirs, not an admin: {theirs:?}");
    let listed = as_(
        "reader",
        "GET",
        &format!("/api/v2/projects/{project}/schedules/"),
        None,
    );
    assert_eq!(listed.json()["count"], 2, "{listed:?}");
    let refused = as_(
        "reader",
        "POST",
        "/api/v2/schedules/",
        Some(json!({"name": "no", "unified_job_template": project, "rrule": rule})),
    );
    assert_eq!(refused.status, 403, "{refused:?}");
    let none = as_("outsider", "GET", "/api/v2/schedules/", None);
    assert_eq!(none.json()["count"], 0, "{none:?}");
}

/// Turns this release's database back into the previous release's for schedules: their
/// template named job templates only (a foreign key to `job_templates`), migration 21 not
/// applied. SQLite keeps each table's definition as text: the reference is rewritten there.
fn previous_release_schedules(pg: Option<&PgDb>, data: &Path) {
    match pg {
        Some(db) => {
            sh(Command::new("psql").arg(&db.url).args([
                "-v",
                "ON_ERROR_STOP=1",
                "-qc",
                "ALTER TABLE schedules DROP CONSTRAINT schedules_unified_job_template_fkey; \
                 ALTER TABLE schedules ADD CONSTRAINT schedules_unified_job_template_fkey \
                 FOREIGN KEY (unified_job_template) REFERENCES job_templates(id) ON DELETE CASCADE; \
                 DELETE FROM rawx_migrations WHERE version = 21;",
            ]));
        }
        None => {
            sqlite(
                data,
                "PRAGMA writable_schema = ON; \
                 UPDATE sqlite_master SET sql = replace(sql, 'REFERENCES \"unified_job_templates\"', \
                 'REFERENCES \"job_templates\"') WHERE type = 'table' AND name = 'schedules'; \
                 PRAGMA writable_schema = OFF; \
                 DELETE FROM rawx_migrations WHERE version = 21;",
            );
            let schema = sqlite(data, ".schema schedules");
            assert!(schema.contains("REFERENCES \"job_templates\""), "{schema}");
        }
    }
}

/// A database whose schedules could name job templates only: after the migration a schedule
/// names a workflow template too, the old schedule and the job it launched are kept, and a
/// template's delete still takes its schedules.
fn migrates_schedules_of_the_previous_release(pg: Option<&PgDb>) {
    let opts = Opts {
        database_url: pg.map(|d| d.url.clone()),
        ..Opts::default()
    };
    let lab = Lab::start_with(opts.clone());
    let org = id(&lab.org);
    let project = lab.project(
        "old",
        &[(
            "hello.yml",
            "- hosts: all\n  gather_facts: false\n  tasks:\n    - debug: {msg: hi}\n",
        )],
    );
    let inv = lab.inventory("Local", &[("localhost", rawx_testkit::lab::local_vars())]);
    let jt = lab.jt("Hello", project, inv, "hello.yml", json!({}));
    let rule = "DTSTART:20300101T090000Z RRULE:FREQ=DAILY;INTERVAL=1";
    let old = id(&lab.s.admin(
        "POST",
        "/api/v2/schedules/",
        Some(json!({"name": "old", "unified_job_template": jt, "rrule": rule})),
        201,
    ));
    let wfjt = id(&lab.s.admin(
        "POST",
        "/api/v2/workflow_job_templates/",
        Some(json!({"name": "flow", "organization": org})),
        201,
    ));
    let job = lab.launch(jt);
    assert_eq!(lab.wait(job)["status"], "successful");
    let Lab { s, org: org_row } = lab;
    let dir = s.stop();
    // The job as the old schedule's launch.
    let link = format!("UPDATE jobs SET schedule = {old} WHERE id = {job};");
    match pg {
        Some(db) => {
            sh(Command::new("psql")
                .arg(&db.url)
                .args(["-v", "ON_ERROR_STOP=1", "-qc", &link]));
        }
        None => {
            sqlite(dir.path(), &link);
        }
    }
    previous_release_schedules(pg, dir.path());

    let lab = Lab {
        s: Server::start_in(dir, opts),
        org: org_row,
    };
    let s = &lab.s;
    let kept = s.admin("GET", &format!("/api/v2/schedules/{old}/"), None, 200);
    assert_eq!(kept["unified_job_template"], jt, "{kept}");
    assert_eq!(kept["rrule"], rule);
    let jobs = s.admin("GET", &format!("/api/v2/schedules/{old}/jobs/"), None, 200);
    assert_eq!(jobs["count"], 1, "the job keeps its schedule: {jobs}");
    assert_eq!(jobs["results"][0]["id"], job);
    let made = s.admin(
        "POST",
        &format!("/api/v2/workflow_job_templates/{wfjt}/schedules/"),
        Some(json!({"name": "new", "rrule": rule})),
        201,
    );
    assert_eq!(made["unified_job_template"], wfjt);
    if pg.is_none() {
        let schema = sqlite(&s.data, ".schema schedules");
        assert!(
            schema.contains("REFERENCES \"unified_job_templates\""),
            "{schema}"
        );
    }
    // A template's schedules go with it.
    s.admin("DELETE", &format!("/api/v2/job_templates/{jt}/"), None, 204);
    s.admin("GET", &format!("/api/v2/schedules/{old}/"), None, 404);
    s.admin(
        "DELETE",
        &format!("/api/v2/workflow_job_templates/{wfjt}/"),
        None,
        204,
    );
    s.admin(
        "GET",
        &format!("/api/v2/schedules/{}/", id(&made)),
        None,
        404,
    );
}

#[test]
fn sqlite_schedules_of_the_previous_release_migrate() {
    migrates_schedules_of_the_previous_release(None);
}

#[test]
fn postgres_schedules_of_the_previous_release_migrate() {
    let Some(db) = PgDb::create("schedtpl") else {
        return;
    };
    migrates_schedules_of_the_previous_release(Some(&db));
}

const MARKER_PLAY: &str = "\
- hosts: all
  gather_facts: false
  tasks:
    - debug:
        msg: \"marker={{ marker_value | default('none') }}\"
";

#[test]
fn a_schedule_brings_its_own_credentials_and_labels() {
    let lab = Lab::start();
    let s = &lab.s;
    // A custom type whose credential puts its value in the play's variables.
    let kind = id(&s.admin(
        "POST",
        "/api/v2/credential_types/",
        Some(json!({"name": "Marker", "kind": "cloud",
                    "inputs": {"fields": [{"id": "value", "label": "Value"}]},
                    "injectors": {"extra_vars": {"marker_value": "{{ value }}"}}})),
        201,
    ));
    let template_cred = lab.credential_typed("from template", kind, json!({"value": "template"}));
    let schedule_cred = lab.credential_typed("from schedule", kind, json!({"value": "schedule"}));
    let other_cred = lab.credential_typed("another", kind, json!({"value": "another"}));
    let asks_pw = lab.credential(
        "asks",
        "Machine",
        json!({"username": "u", "password": "ASK"}),
    );
    let p = lab.project("marker playbooks", &[("marker.yml", MARKER_PLAY)]);
    let inv = lab.inventory("Local", &[("localhost", local_vars())]);
    let jt = lab.jt(
        "marked",
        p,
        inv,
        "marker.yml",
        json!({"ask_credential_on_launch": true, "ask_labels_on_launch": true}),
    );
    s.admin(
        "POST",
        &format!("/api/v2/job_templates/{jt}/credentials/"),
        Some(json!({"id": template_cred})),
        204,
    );
    let plain = lab.jt("plain", p, inv, "marker.yml", json!({}));

    // AWX's refusals, as `{"msg": …}` 400s.
    let rule = "DTSTART:20300101T090000Z RRULE:FREQ=DAILY;INTERVAL=1";
    let later = id(&s.admin(
        "POST",
        &format!("/api/v2/job_templates/{plain}/schedules/"),
        Some(json!({"name": "later", "rrule": rule})),
        201,
    ));
    let attach = |schedule: i64, cred: i64| {
        s.http(
            "POST",
            &format!("/api/v2/schedules/{schedule}/credentials/"),
            Some(("admin", ADMIN_PW)),
            Some(&json!({"id": cred})),
        )
    };
    let refused = attach(later, schedule_cred);
    assert_eq!(refused.status, 400, "{refused:?}");
    assert_eq!(
        refused.json(),
        json!({"msg": "Related template is not configured to accept credentials on launch."})
    );
    let sched = id(&s.admin(
        "POST",
        &format!("/api/v2/job_templates/{jt}/schedules/"),
        Some(json!({"name": "soon", "rrule": every_minute(20)})),
        201,
    ));
    let refused = attach(sched, template_cred);
    assert_eq!(
        refused.json(),
        json!({"msg": "Related template already uses from template credential."})
    );
    let refused = attach(sched, asks_pw);
    assert_eq!(
        refused.json(),
        json!({"msg": "Credential that requires user input on launch cannot be used in saved launch configuration."})
    );
    let ok = attach(sched, schedule_cred);
    assert_eq!(ok.status, 204, "{ok:?}");
    let refused = attach(sched, other_cred);
    assert_eq!(refused.status, 400, "{refused:?}");
    assert!(
        refused.json()["msg"]
            .as_str()
            .unwrap()
            .starts_with("This launch configuration already provides a Marker"),
        "{refused:?}"
    );

    // The collection sets the labels (and, again, the credential) by name.
    s.admin(
        "POST",
        "/api/v2/labels/",
        Some(json!({"name": "nightly", "organization": lab.org["id"]})),
        201,
    );
    let org = lab.org["name"].as_str().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let results = play(
        s,
        dir.path(),
        &format!(
            "    - name: label the schedule
      awx.awx.schedule:
        name: soon
        unified_job_template: marked
        credentials: [from schedule]
        labels: [nightly]
        organization: {org}
      register: out
"
        ),
    );
    assert!(results.iter().all(|(failed, _)| !failed), "{results:?}");
    let labels = s.admin(
        "GET",
        &format!("/api/v2/schedules/{sched}/labels/"),
        None,
        200,
    );
    assert_eq!(labels["results"][0]["name"], "nightly", "{labels}");
    let creds = s.admin(
        "GET",
        &format!("/api/v2/schedules/{sched}/credentials/"),
        None,
        200,
    );
    assert_eq!(creds["count"], 1, "{creds}");

    // At its time the job runs with the schedule's credential in place of the template's
    // (same type), and carries the schedule's label.
    let job = first_job(s, sched, Duration::from_secs(120));
    let done = lab.wait(id(&job));
    assert_eq!(done["status"], "successful", "{done}");
    let creds: Vec<i64> = done["summary_fields"]["credentials"]
        .as_array()
        .unwrap()
        .iter()
        .map(id)
        .collect();
    assert_eq!(creds, vec![schedule_cred], "{done}");
    let labels = s.admin(
        "GET",
        &format!("/api/v2/jobs/{}/labels/", id(&done)),
        None,
        200,
    );
    let labels: Vec<&str> = labels["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["name"].as_str().unwrap())
        .collect();
    assert_eq!(labels, vec!["nightly"], "{done}");
    assert_eq!(
        done["summary_fields"]["labels"]["results"][0]["name"], "nightly",
        "{done}"
    );
    let out = s.http(
        "GET",
        &format!("/api/v2/jobs/{}/stdout/?format=txt", id(&done)),
        Some(("admin", ADMIN_PW)),
        None,
    );
    assert!(out.body.contains("marker=schedule"), "{}", out.body);
}
