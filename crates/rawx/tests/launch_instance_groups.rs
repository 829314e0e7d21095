//! Instance groups chosen at launch (AWX's `ask_instance_groups_on_launch`), as a user picks
//! them: the launch endpoint (AWX's `JobLaunchSerializer` messages, `use` of each group, the
//! launch form's `defaults`), relaunch, the `awx.awx` collection's `job_launch`
//! (`instance_groups`) and `schedule` (`instance_groups`) modules, and a workflow node's
//! `instance_groups/` sub-list — each job running only in the groups given, in their order,
//! and waiting (with the task manager's explanation) rather than falling back to the
//! template's, inventory's or organization's groups. A real `rawx serve`, the real
//! `ansible-runner` and the real collection.

use rawx_testkit::collection::{ok, play};
use rawx_testkit::lab::{fixture, own_instance, wait_job_until, Fixture};
use rawx_testkit::{eventually, Server, ADMIN_PW};
use serde_json::{json, Value};
use std::process::Command;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const PLAY: &str = "\
- hosts: all
  gather_facts: false
  tasks:
    - debug:
        msg: placed
";

fn id(v: &Value) -> i64 {
    v["id"].as_i64().unwrap_or_else(|| panic!("no id: {v}"))
}

/// Waits until `job` ran successfully and returns the group it ran in.
fn ran_in(s: &Server, job: i64) -> i64 {
    let done = wait_job_until(
        s,
        job,
        |j| j["status"] == "successful" && !j["instance_group"].is_null(),
        "runs",
    );
    done["instance_group"].as_i64().unwrap()
}

fn group(s: &Server, name: &str, member: Option<i64>) -> i64 {
    let g = id(&s.awx_json(&["instance_groups", "create", "--name", name]));
    if let Some(m) = member {
        s.admin(
            "POST",
            &format!("/api/v2/instance_groups/{g}/instances/"),
            Some(json!({"id": m})),
            204,
        );
    }
    g
}

fn template(s: &Server, lab: &Fixture, name: &str, extra: Value) -> i64 {
    let mut body = json!({"name": name, "project": lab.project, "inventory": lab.inventory,
                          "playbook": "play.yml", "allow_simultaneous": true});
    body.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    id(&s.admin("POST", "/api/v2/job_templates/", Some(body), 201))
}

fn launch(s: &Server, jt: i64, body: Value) -> Value {
    s.admin(
        "POST",
        &format!("/api/v2/job_templates/{jt}/launch/"),
        Some(body),
        201,
    )
}

/// Every minute from `ahead` seconds from now.
fn every_minute(ahead: i64) -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let out = Command::new("date")
        .args(["-u", &format!("-d@{}", now + ahead), "+%Y%m%dT%H%M%SZ"])
        .output()
        .unwrap();
    format!(
        "DTSTART:{} RRULE:FREQ=MINUTELY;INTERVAL=1",
        String::from_utf8(out.stdout).unwrap().trim()
    )
}

/// The template's groups hold no instance, so a job that used them would wait: a launch
/// with groups runs in the first of those given (not the lowest id), a relaunch keeps them,
/// a launch naming only an empty group waits and says why instead of falling back; AWX's
/// refusals and `use` of the group; a template that does not ask lists them as ignored.
#[test]
fn a_launch_runs_only_in_the_instance_groups_it_names() {
    let s = Server::start_with(rawx_testkit::Opts {
        env: rawx_testkit::lab::runner_env(),
        ..Default::default()
    });
    let me = id(&own_instance(&s));
    let lab = fixture(&s, "prompted", &[("play.yml", PLAY)], &["localhost"]);
    let empty = group(&s, "empty", None);
    let first = group(&s, "first", Some(me));
    let second = group(&s, "second", Some(me));
    let jt = template(
        &s,
        &lab,
        "asks-groups",
        json!({"ask_instance_groups_on_launch": true}),
    );
    s.admin(
        "POST",
        &format!("/api/v2/job_templates/{jt}/instance_groups/"),
        Some(json!({"id": empty})),
        204,
    );

    // The launch form says it asks, with AWX's empty default.
    let form = s.admin(
        "GET",
        &format!("/api/v2/job_templates/{jt}/launch/"),
        None,
        200,
    );
    assert_eq!(form["ask_instance_groups_on_launch"], true, "{form}");
    assert_eq!(form["defaults"]["instance_groups"], json!([]), "{form}");
    let options = s.admin(
        "OPTIONS",
        &format!("/api/v2/job_templates/{jt}/launch/"),
        None,
        200,
    );
    assert_eq!(
        options["actions"]["POST"]["instance_groups"]["type"], "field",
        "{options}"
    );

    // Given in this order, the job runs in `second`, though `first` holds the node too.
    let made = launch(&s, jt, json!({"instance_groups": [second, first]}));
    assert_eq!(made["ignored_fields"], json!({}), "{made}");
    let job = made["job"].as_i64().unwrap();
    assert_eq!(ran_in(&s, job), second);
    // The relaunch runs where the launch said.
    let again = s.admin(
        "POST",
        &format!("/api/v2/jobs/{job}/relaunch/"),
        Some(json!({})),
        201,
    );
    assert_eq!(ran_in(&s, id(&again)), second, "{again}");
    let made = launch(&s, jt, json!({"instance_groups": [first]}));
    assert_eq!(ran_in(&s, made["job"].as_i64().unwrap()), first);

    // Only an empty group named: the job waits for it, never falling back to `default`.
    let plain = template(
        &s,
        &lab,
        "plain-asks",
        json!({"ask_instance_groups_on_launch": true}),
    );
    let waiting = launch(&s, plain, json!({"instance_groups": [empty]}))["job"]
        .as_i64()
        .unwrap();
    let j = wait_job_until(
        &s,
        waiting,
        |j| {
            j["job_explanation"]
                .as_str()
                .unwrap_or_default()
                .contains("empty (no instances)")
        },
        "waits for its only group",
    );
    assert!(
        j["job_explanation"].as_str().unwrap().starts_with(
            "This job is not ready to start because there is not enough available capacity"
        ),
        "{j}"
    );
    std::thread::sleep(Duration::from_secs(3));
    let still = s.admin("GET", &format!("/api/v2/jobs/{waiting}/"), None, 200);
    assert_eq!(still["status"], "pending", "{still}");
    s.admin(
        "POST",
        &format!("/api/v2/jobs/{waiting}/cancel/"),
        Some(json!({})),
        202,
    );
    // Without the prompt the same template runs in `default`.
    let default = s.admin("GET", "/api/v2/instance_groups/default/", None, 200);
    let made = launch(&s, plain, json!({}));
    assert_eq!(ran_in(&s, made["job"].as_i64().unwrap()), id(&default));

    // AWX's refusals.
    let refused = |body: Value| {
        let r = s.http(
            "POST",
            &format!("/api/v2/job_templates/{jt}/launch/"),
            Some(("admin", ADMIN_PW)),
            Some(&body),
        );
        assert_eq!(r.status, 400, "{body}: {r:?}");
        r.json()
    };
    assert_eq!(
        refused(json!({"instance_groups": 99999})),
        json!({"instance_groups": ["Expected a list of items but got type \"int\"."]})
    );
    assert_eq!(
        refused(json!({"instance_groups": [99999]})),
        json!({"instance_groups": ["Invalid pk \"99999\" - object does not exist."]})
    );
    assert_eq!(
        refused(json!({"instance_groups": ["first"]})),
        json!({"instance_groups": ["Incorrect type. Expected pk value, received str."]})
    );
    // The awx CLI reads the field's type from OPTIONS as AWX gives it (`field`: one integer),
    // so it gets the first refusal.
    let out = s.awx(&[
        "job_templates",
        "launch",
        &jt.to_string(),
        "--instance_groups",
        &first.to_string(),
    ]);
    assert_ne!(out.code, 0, "{out}");
    assert!(
        out.to_string()
            .contains("Expected a list of items but got type"),
        "{out}"
    );

    // A template that does not ask runs where it would and says what it ignored.
    let no_ask = template(&s, &lab, "no-ask", json!({}));
    let made = launch(&s, no_ask, json!({"instance_groups": [first]}));
    assert_eq!(
        made["ignored_fields"],
        json!({"instance_groups": [first]}),
        "{made}"
    );
    assert_eq!(ran_in(&s, made["job"].as_i64().unwrap()), id(&default));

    // A user who may run the template needs `use` of a group it does not have.
    s.admin(
        "POST",
        "/api/v2/users/",
        Some(json!({"username": "runner", "password": "runner-pw-1"})),
        201,
    );
    let user = id(&s.admin("GET", "/api/v2/users/?username=runner", None, 200)["results"][0]);
    let role = |path: String, name: &str| {
        let obj = s.admin("GET", &path, None, 200);
        obj["summary_fields"]["object_roles"][name]["id"]
            .as_i64()
            .unwrap_or_else(|| panic!("no {name}: {obj}"))
    };
    let grant = |role: i64| {
        s.admin(
            "POST",
            &format!("/api/v2/users/{user}/roles/"),
            Some(json!({"id": role})),
            204,
        )
    };
    grant(role(format!("/api/v2/job_templates/{jt}/"), "execute_role"));
    let as_runner = |body: Value| {
        s.http(
            "POST",
            &format!("/api/v2/job_templates/{jt}/launch/"),
            Some(("runner", "runner-pw-1")),
            Some(&body),
        )
    };
    let r = as_runner(json!({"instance_groups": [first]}));
    assert_eq!(r.status, 403, "{r:?}");
    // The template's own group needs nothing more.
    let r = as_runner(json!({"instance_groups": [empty]}));
    assert_eq!(r.status, 201, "{r:?}");
    s.admin(
        "POST",
        &format!("/api/v2/jobs/{}/cancel/", r.json()["job"]),
        Some(json!({})),
        202,
    );
    // Nor may it relaunch a job the admin launched in that group (AWX's `JobAccess.can_start`).
    let admins = launch(&s, jt, json!({"instance_groups": [first]}))["job"]
        .as_i64()
        .unwrap();
    assert_eq!(ran_in(&s, admins), first);
    let relaunch = || {
        s.http(
            "POST",
            &format!("/api/v2/jobs/{admins}/relaunch/"),
            Some(("runner", "runner-pw-1")),
            Some(&json!({})),
        )
    };
    let r = relaunch();
    assert_eq!(r.status, 403, "{r:?}");
    assert_eq!(
        r.json()["detail"],
        "Job was launched with prompted fields you do not have access to.",
        "{r:?}"
    );
    grant(role(
        format!("/api/v2/instance_groups/{first}/"),
        "use_role",
    ));
    let r = as_runner(json!({"instance_groups": [first]}));
    assert_eq!(r.status, 201, "{r:?}");
    assert_eq!(ran_in(&s, r.json()["job"].as_i64().unwrap()), first);
    let r = relaunch();
    assert_eq!(r.status, 201, "{r:?}");
    assert_eq!(ran_in(&s, r.json()["job"].as_i64().unwrap()), first);
}

/// Saved launch configurations carry groups too: the collection's `job_launch` names them,
/// its `schedule` module sets a schedule's, a workflow node's `instance_groups/` sub-list
/// holds the node's; each job runs in them.
#[test]
fn the_collection_schedules_and_workflow_nodes_carry_instance_groups() {
    let s = Server::start_with(rawx_testkit::Opts {
        env: rawx_testkit::lab::runner_env(),
        ..Default::default()
    });
    let me = id(&own_instance(&s));
    let lab = fixture(&s, "saved", &[("play.yml", PLAY)], &["localhost"]);
    let empty = group(&s, "nowhere", None);
    let picked = group(&s, "picked", Some(me));
    let jt = template(
        &s,
        &lab,
        "saved-asks",
        json!({"ask_instance_groups_on_launch": true}),
    );
    s.admin(
        "POST",
        &format!("/api/v2/job_templates/{jt}/instance_groups/"),
        Some(json!({"id": empty})),
        204,
    );
    // The fixture's organization, which the schedule module searches templates in.
    let org = s.admin(
        "GET",
        &format!("/api/v2/organizations/{}/", lab.org),
        None,
        200,
    )["name"]
        .as_str()
        .unwrap()
        .to_string();

    let dir = tempfile::tempdir().unwrap();
    let rrule = every_minute(20);
    let (out, tasks) = play(
        &s,
        dir.path(),
        &format!(
            r#"    - name: launch
      awx.awx.job_launch: {{job_template: saved-asks, instance_groups: [picked], wait: true, timeout: 120}}
    - name: schedule
      awx.awx.schedule:
        name: soon
        unified_job_template: saved-asks
        rrule: "{rrule}"
        instance_groups: [picked]
        organization: {org}
"#
        ),
        &[],
    );
    ok(&out, &tasks);
    let job = id(&tasks[0].result);
    assert_eq!(ran_in(&s, job), picked);
    let sched = id(&tasks[1].result);
    let listed = s.admin(
        "GET",
        &format!("/api/v2/schedules/{sched}/instance_groups/"),
        None,
        200,
    );
    assert_eq!(rawx_testkit::names(&listed), vec!["picked"], "{listed}");
    let sched_row = s.admin("GET", &format!("/api/v2/schedules/{sched}/"), None, 200);
    assert_eq!(
        sched_row["related"]["instance_groups"],
        format!("/api/v2/schedules/{sched}/instance_groups/"),
        "{sched_row}"
    );

    // A workflow node with the group, through the collection's node module.
    let wf = id(&s.admin(
        "POST",
        "/api/v2/workflow_job_templates/",
        Some(json!({"name": "flow"})),
        201,
    ));
    let (out, tasks) = play(
        &s,
        dir.path(),
        r#"    - name: node
      awx.awx.workflow_job_template_node:
        identifier: placed-node
        workflow_job_template: flow
        unified_job_template: saved-asks
        instance_groups: [picked]
"#,
        &[],
    );
    ok(&out, &tasks);
    let node = id(&tasks[0].result);
    let listed = s.admin(
        "GET",
        &format!("/api/v2/workflow_job_template_nodes/{node}/instance_groups/"),
        None,
        200,
    );
    assert_eq!(rawx_testkit::names(&listed), vec!["picked"], "{listed}");
    let wj = s.admin(
        "POST",
        &format!("/api/v2/workflow_job_templates/{wf}/launch/"),
        Some(json!({})),
        201,
    )["workflow_job"]
        .as_i64()
        .unwrap();
    let spawned = eventually(Duration::from_secs(60), || {
        let nodes = s.admin(
            "GET",
            &format!("/api/v2/workflow_jobs/{wj}/workflow_nodes/"),
            None,
            200,
        );
        nodes["results"][0]["job"]
            .as_i64()
            .ok_or(format!("no job yet: {nodes}"))
    });
    assert_eq!(ran_in(&s, spawned), picked);

    // A bulk launch names groups per job (AWX's `BulkJobNodeSerializer.instance_groups`).
    let bulk = s.admin(
        "POST",
        "/api/v2/bulk/job_launch/",
        Some(json!({"jobs": [{"unified_job_template": jt, "instance_groups": [picked]}]})),
        201,
    );
    let bulk_node = s.admin(
        "GET",
        &format!("/api/v2/workflow_jobs/{}/workflow_nodes/", id(&bulk)),
        None,
        200,
    )["results"][0]
        .clone();
    let listed = s.admin(
        "GET",
        &format!(
            "/api/v2/workflow_job_nodes/{}/instance_groups/",
            id(&bulk_node)
        ),
        None,
        200,
    );
    assert_eq!(rawx_testkit::names(&listed), vec!["picked"], "{listed}");
    let spawned = eventually(Duration::from_secs(60), || {
        let node = s.admin(
            "GET",
            &format!("/api/v2/workflow_job_nodes/{}/", id(&bulk_node)),
            None,
            200,
        );
        node["job"].as_i64().ok_or(format!("no job yet: {node}"))
    });
    assert_eq!(ran_in(&s, spawned), picked);

    // At its time the schedule's job runs in its group.
    let scheduled = eventually(Duration::from_secs(120), || {
        let jobs = s.admin(
            "GET",
            &format!("/api/v2/schedules/{sched}/jobs/"),
            None,
            200,
        );
        jobs["results"][0]["id"]
            .as_i64()
            .ok_or(format!("no scheduled job yet: {jobs}"))
    });
    assert_eq!(ran_in(&s, scheduled), picked);
}
