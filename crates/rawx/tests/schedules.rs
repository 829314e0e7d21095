//! End-to-end: schedules made with the real `awx` CLI launch their template at the rule's
//! occurrences (real `ansible-runner`), once; AWX's rrule messages; preview; who sees what; and
//! two task processes on PostgreSQL launching a due schedule once, not twice.

use rawx_testkit::lab::{fixture, fixture_in, runner_env, wait_final_on};
use rawx_testkit::{venv, Opts, PgDb, Server, ADMIN_PW};
use serde_json::{json, Value};
use std::process::Command;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const HELLO: &str = "\
- hosts: all
  gather_facts: false
  tasks:
    - debug:
        msg: \"scheduled-hello-{{ marker | default('none') }}\"
";

fn epoch_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// `epoch` as an iCalendar local time in `zone` (`20301231T235959`), by the system's `date`.
fn ical_in(zone: &str, epoch: i64) -> String {
    let out = Command::new("date")
        .env("TZ", zone)
        .args([&format!("-d@{epoch}"), "+%Y%m%dT%H%M%S"])
        .output()
        .unwrap();
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// A stored time (`2030-01-01T14:00:00.000000Z`) as seconds since the epoch.
fn epoch_of(stamp: &str) -> i64 {
    let out = Command::new("date")
        .args(["-u", "-d", stamp, "+%s"])
        .output()
        .unwrap();
    String::from_utf8(out.stdout)
        .unwrap()
        .trim()
        .parse()
        .unwrap_or_else(|_| panic!("not a time: {stamp:?}"))
}

/// Every-minute rule starting `ahead` seconds from now, in New York time.
fn every_minute(ahead: i64) -> (String, i64) {
    let start = epoch_now() + ahead;
    (
        format!(
            "DTSTART;TZID=America/New_York:{} RRULE:FREQ=MINUTELY;INTERVAL=1",
            ical_in("America/New_York", start)
        ),
        start,
    )
}

fn jobs_of(s: &Server, schedule: i64) -> Vec<Value> {
    s.admin(
        "GET",
        &format!("/api/v2/schedules/{schedule}/jobs/"),
        None,
        200,
    )["results"]
        .as_array()
        .unwrap()
        .clone()
}

/// Waits until the schedule has launched at least one job, up to `limit`.
fn first_job(s: &Server, schedule: i64, limit: Duration) -> Value {
    let t = Instant::now();
    loop {
        if let Some(j) = jobs_of(s, schedule).first() {
            return j.clone();
        }
        assert!(
            t.elapsed() < limit,
            "schedule {schedule} launched nothing in {limit:?}:\n{}",
            rawx_testkit::lab::tail(&s.logs(), 4000)
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn template(s: &Server, name: &str, f: &rawx_testkit::lab::Fixture, extra: Value) -> i64 {
    let body = rawx_testkit::lab::merge(
        json!({"name": name, "project": f.project, "inventory": f.inventory, "playbook": "hello.yml"}),
        extra,
    );
    s.admin("POST", "/api/v2/job_templates/", Some(body), 201)["id"]
        .as_i64()
        .unwrap()
}

/// A schedule made with the CLI launches its template once at DTSTART (a scheduled job that
/// names it and succeeds), then waits a minute; a disabled one launches nothing.
#[test]
fn a_cli_schedule_launches_its_template_once_at_dtstart() {
    let server = Server::start_with(Opts {
        env: runner_env(),
        ..Opts::default()
    });
    let s = &server;
    let f = fixture(s, "sched", &[("hello.yml", HELLO)], &["localhost"]);
    let jt = template(s, "hello", &f, json!({"ask_variables_on_launch": true}));

    // Far enough ahead for the CLI calls below on a loaded machine.
    let (rrule, start) = every_minute(10);
    let created = s.awx_json(&[
        "schedules",
        "create",
        "--name",
        "every minute",
        "--rrule",
        &rrule,
        "--unified_job_template",
        &jt.to_string(),
        "--extra_data",
        r#"{"marker": "from-schedule"}"#,
    ]);
    let id = created["id"].as_i64().unwrap();
    assert_eq!(created["timezone"], "America/New_York", "{created}");
    assert_eq!(created["enabled"], true);
    assert_eq!(created["until"], "");
    assert_eq!(
        created["dtend"],
        Value::Null,
        "an unbounded rule has no end"
    );
    assert_eq!(epoch_of(created["next_run"].as_str().unwrap()), start);
    assert_eq!(epoch_of(created["dtstart"].as_str().unwrap()), start);

    // The template lists it; the CLI reads it back.
    let listed = s.admin(
        "GET",
        &format!("/api/v2/job_templates/{jt}/schedules/"),
        None,
        200,
    );
    assert_eq!(listed["count"], 1, "{listed}");
    let got = s.awx_json(&["schedules", "get", &id.to_string()]);
    assert_eq!(got["rrule"], rrule.as_str());
    let metrics = s.http("GET", "/api/v2/metrics/", Some(("admin", ADMIN_PW)), None);
    assert!(
        metrics.body.lines().any(|l| l == "awx_schedules_total 1.0"),
        "the metric does not count the schedule:\n{}",
        metrics.body
    );

    // A schedule created disabled never launches (created so in one call: a create then a
    // modify could overrun its start on a loaded machine).
    let (rrule_off, off_start) = every_minute(14);
    let off = s.awx_json(&[
        "schedules",
        "create",
        "--name",
        "switched off",
        "--rrule",
        &rrule_off,
        "--unified_job_template",
        &jt.to_string(),
        "--enabled",
        "false",
    ]);
    let off_id = off["id"].as_i64().unwrap();
    assert_eq!(off["enabled"], false);
    assert_eq!(off["next_run"], Value::Null, "disabled: no next run: {off}");

    let job = first_job(s, id, Duration::from_secs(30));
    let launched = epoch_of(job["created"].as_str().unwrap());
    assert!(
        launched >= start && launched <= start + 3,
        "launched at {launched}, due at {start}"
    );
    assert_eq!(job["launch_type"], "scheduled", "{job}");
    assert_eq!(job["schedule"], id, "{job}");
    assert_eq!(job["job_template"], jt);
    assert_eq!(job["launched_by"]["type"], "schedule", "{job}");
    let done = wait_final_on(
        s,
        "jobs",
        job["id"].as_i64().unwrap(),
        Duration::from_secs(120),
    );
    assert_eq!(done["status"], "successful", "{done}");
    let stdout = rawx_testkit::lab::stdout_of(s, "jobs", job["id"].as_i64().unwrap());
    // The schedule's extra_data reached the play, as a launch's extra_vars would.
    assert!(stdout.contains("scheduled-hello-from-schedule"), "{stdout}");

    // next_run has moved one minute on, and no second job came meanwhile.
    let after = s.admin("GET", &format!("/api/v2/schedules/{id}/"), None, 200);
    assert_eq!(
        epoch_of(after["next_run"].as_str().unwrap()),
        start + 60,
        "{after}"
    );
    // The template shows its earliest schedule run, as AWX's does.
    let t = s.admin("GET", &format!("/api/v2/job_templates/{jt}/"), None, 200);
    assert_eq!(t["next_job_run"], after["next_run"], "{t}");
    assert_eq!(jobs_of(s, id).len(), 1, "launched more than once");
    while epoch_now() < off_start + 3 {
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(
        jobs_of(s, off_id).is_empty(),
        "a disabled schedule launched a job"
    );

    // Enabled again, it resumes at the rule's next occurrence after now.
    let on = s.awx_json(&[
        "schedules",
        "modify",
        &off_id.to_string(),
        "--enabled",
        "true",
    ]);
    let next = epoch_of(on["next_run"].as_str().unwrap());
    assert!(next > epoch_now() && (next - off_start) % 60 == 0, "{on}");

    // The task process runs the scheduler as a supervised component.
    let ping = s.admin("GET", "/api/v2/ping/", None, 200);
    assert!(
        ping.to_string().contains("scheduler"),
        "ping's components lack the scheduler: {ping}"
    );
}

/// AWX's rrule messages in AWX's shape, nothing stored; the preview lists the next ten.
#[test]
fn bad_rules_get_awx_messages_and_preview_lists_occurrences() {
    let s = Server::start();
    let f = fixture(&s, "rules", &[("hello.yml", HELLO)], &["localhost"]);
    let jt = template(&s, "rules", &f, json!({}));
    let cases = [
        (
            "RRULE:FREQ=DAILY;INTERVAL=1",
            "Valid DTSTART required in rrule. Value should start with: DTSTART:YYYYMMDDTHHMMSSZ",
        ),
        (
            "DTSTART:20300101T090000 RRULE:FREQ=DAILY;INTERVAL=1",
            "DTSTART cannot be a naive datetime.  Specify ;TZINFO= or YYYYMMDDTHHMMSSZZ.",
        ),
        (
            "DTSTART:20300101T090000Z RRULE:FREQ=SECONDLY;INTERVAL=1",
            "SECONDLY is not supported: RULE:FREQ=SECONDLY;INTERVAL=1",
        ),
        (
            "DTSTART:20300101T090000Z RRULE:FREQ=DAILY",
            "INTERVAL required in rrule: RULE:FREQ=DAILY",
        ),
        (
            "DTSTART:20300101T090000Z RRULE:FREQ=DAILY;INTERVAL=1;COUNT=2;UNTIL=20300110T000000Z",
            "RRULE may not contain both COUNT and UNTIL: RULE:FREQ=DAILY;INTERVAL=1;COUNT=2;UNTIL=20300110T000000Z",
        ),
        (
            "DTSTART:20300101T090000Z RRULE:FREQ=DAILY;INTERVAL=1;COUNT=1000",
            "COUNT > 999 is unsupported: RULE:FREQ=DAILY;INTERVAL=1;COUNT=1000",
        ),
        (
            "DTSTART:20300101T090000Z DTSTART:20300102T090000Z RRULE:FREQ=DAILY;INTERVAL=1",
            "Multiple DTSTART is not supported.",
        ),
    ];
    for (rrule, msg) in cases {
        let r = s.http(
            "POST",
            "/api/v2/schedules/",
            Some(("admin", ADMIN_PW)),
            Some(&json!({"name": "bad", "unified_job_template": jt, "rrule": rrule})),
        );
        assert_eq!(r.status, 400, "{rrule}: {r:?}");
        let msgs = r.json()["rrule"].clone();
        assert!(
            msgs.as_array().is_some_and(|m| m.iter().any(|m| m == msg)),
            "{rrule}: want {msg:?} in {msgs}"
        );
        // The preview checks the same way.
        let p = s.http(
            "POST",
            "/api/v2/schedules/preview/",
            Some(("admin", ADMIN_PW)),
            Some(&json!({"rrule": rrule})),
        );
        assert_eq!(p.status, 400, "preview {rrule}: {p:?}");
        assert_eq!(p.json()["rrule"], msgs);
    }
    let bad_zone = s.http(
        "POST",
        "/api/v2/schedules/",
        Some(("admin", ADMIN_PW)),
        Some(&json!({"name": "bad", "unified_job_template": jt,
            "rrule": "DTSTART;TZID=Mars/Olympus:20300101T090000 RRULE:FREQ=DAILY;INTERVAL=1"})),
    );
    assert_eq!(bad_zone.status, 400);
    assert!(
        bad_zone.json()["rrule"][0]
            .as_str()
            .unwrap()
            .starts_with("rrule parsing failed validation: "),
        "{bad_zone:?}"
    );
    // The CLI reports the message too.
    let out = s.awx(&[
        "schedules",
        "create",
        "--name",
        "bad",
        "--rrule",
        "DTSTART:20300101T090000Z RRULE:FREQ=SECONDLY;INTERVAL=1",
        "--unified_job_template",
        &jt.to_string(),
    ]);
    assert_ne!(out.code, 0, "{out}");
    assert!(out.all().contains("SECONDLY is not supported"), "{out}");
    let none = s.admin("GET", "/api/v2/schedules/", None, 200);
    assert_eq!(none["count"], 0, "a bad rule was stored: {none}");

    // Preview: the next ten, in the rule's zone and in UTC (9:00 in Paris in winter is 8:00Z).
    let p = s.admin(
        "POST",
        "/api/v2/schedules/preview/",
        Some(json!({"rrule": "DTSTART;TZID=Europe/Paris:20300101T090000 RRULE:FREQ=DAILY;INTERVAL=1;COUNT=3"})),
        200,
    );
    assert_eq!(
        p["utc"],
        json!([
            "2030-01-01T08:00:00Z",
            "2030-01-02T08:00:00Z",
            "2030-01-03T08:00:00Z"
        ])
    );
    assert_eq!(p["local"][0], "2030-01-01T09:00:00+01:00");
    let p = s.admin(
        "POST",
        "/api/v2/schedules/preview/",
        Some(json!({"rrule": "DTSTART:20200101T000000Z RRULE:FREQ=HOURLY;INTERVAL=1"})),
        200,
    );
    let utc: Vec<i64> = p["utc"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| epoch_of(t.as_str().unwrap()))
        .collect();
    assert_eq!(utc.len(), 10);
    assert!(utc[0] > epoch_now() && utc[0] <= epoch_now() + 3600, "{p}");
    assert!(utc.windows(2).all(|w| w[1] - w[0] == 3600), "{p}");
    let zones = s.admin("GET", "/api/v2/schedules/zoneinfo/", None, 200);
    assert!(zones["zones"]
        .as_array()
        .unwrap()
        .contains(&json!("America/New_York")));

    // A naive UNTIL is read in DTSTART's zone and stored in UTC, as AWX does.
    let made = s.admin(
        "POST",
        &format!("/api/v2/job_templates/{jt}/schedules/"),
        Some(json!({"name": "until", "rrule":
            "DTSTART;TZID=America/New_York:20300601T120000 RRULE:FREQ=HOURLY;INTERVAL=1;UNTIL=20300601T170000"})),
        201,
    );
    assert!(made["rrule"]
        .as_str()
        .unwrap()
        .ends_with("UNTIL=20300601T210000Z"));
    assert_eq!(made["until"], "2030-06-01T17:00:00");
    assert_eq!(made["dtend"], "2030-06-01T21:00:00.000000Z");
    assert_eq!(made["unified_job_template"], jt);
    let t = format!("/api/v2/job_templates/{jt}/");
    assert_eq!(
        s.admin("GET", &t, None, 200)["next_job_run"],
        made["next_run"]
    );
    s.admin(
        "DELETE",
        &format!("/api/v2/schedules/{}/", made["id"]),
        None,
        204,
    );
    assert_eq!(s.admin("GET", &t, None, 200)["next_job_run"], Value::Null);

    // A prompt the template does not ask for is refused, with AWX's message.
    let r = s.http(
        "POST",
        "/api/v2/schedules/",
        Some(("admin", ADMIN_PW)),
        Some(
            &json!({"name": "limit", "unified_job_template": jt, "limit": "web",
            "rrule": "DTSTART:20300101T090000Z RRULE:FREQ=DAILY;INTERVAL=1"}),
        ),
    );
    assert_eq!(r.status, 400, "{r:?}");
    assert_eq!(
        r.json()["limit"],
        json!(["Field is not configured to prompt on launch."])
    );
}

/// Outsiders see no schedule and cannot make one; an organization member reads but cannot
/// write; its admin can.
#[test]
fn schedules_follow_their_templates_permissions() {
    let s = Server::start();
    let f = fixture(&s, "perm", &[("hello.yml", HELLO)], &["localhost"]);
    let jt = template(&s, "perm", &f, json!({}));
    let rule = "DTSTART:20300101T090000Z RRULE:FREQ=DAILY;INTERVAL=1";
    let sid = s.admin(
        "POST",
        "/api/v2/schedules/",
        Some(json!({"name": "nightly", "unified_job_template": jt, "rrule": rule})),
        201,
    )["id"]
        .as_i64()
        .unwrap();
    let user = |name: &str| {
        s.admin(
            "POST",
            "/api/v2/users/",
            Some(json!({"username": name, "password": "pw-of-user"})),
            201,
        )["id"]
            .as_i64()
            .unwrap()
    };
    user("outsider");
    let member = user("member");
    let admin = user("orgadmin");
    // "member" reads everything of the organization and runs nothing: its auditor role
    // (AWX's member role alone would not show the template's schedules).
    let auditor = s.admin(
        "GET",
        &format!("/api/v2/organizations/{}/", f.org),
        None,
        200,
    )["summary_fields"]["object_roles"]["auditor_role"]["id"]
        .clone();
    s.admin(
        "POST",
        &format!("/api/v2/users/{member}/roles/"),
        Some(json!({"id": auditor})),
        204,
    );
    s.admin(
        "POST",
        &format!("/api/v2/organizations/{}/admins/", f.org),
        Some(json!({"id": admin})),
        204,
    );
    let as_ = |u: &str, m: &str, p: &str, b: Option<Value>| {
        s.http(m, p, Some((u, "pw-of-user")), b.as_ref())
    };
    let detail = format!("/api/v2/schedules/{sid}/");

    let list = as_("outsider", "GET", "/api/v2/schedules/", None);
    assert_eq!(list.json()["count"], 0, "{list:?}");
    let got = as_("outsider", "GET", &detail, None);
    assert!(matches!(got.status, 403 | 404), "{got:?}");
    let sub = as_("outsider", "GET", &format!("{detail}jobs/"), None);
    assert!(matches!(sub.status, 403 | 404), "{sub:?}");
    let made = as_(
        "outsider",
        "POST",
        "/api/v2/schedules/",
        Some(json!({"name": "mine", "unified_job_template": jt, "rrule": rule})),
    );
    assert!(matches!(made.status, 400 | 403), "{made:?}");
    let out = s.awx_as("outsider", "pw-of-user", &["schedules", "list"]);
    assert_eq!(out.code, 0, "{out}");
    assert_eq!(out.json()["count"], 0, "{out}");

    let list = as_("member", "GET", "/api/v2/schedules/", None);
    assert_eq!(list.json()["count"], 1, "{list:?}");
    let patch = as_("member", "PATCH", &detail, Some(json!({"enabled": false})));
    assert_eq!(patch.status, 403, "{patch:?}");
    let made = as_(
        "member",
        "POST",
        "/api/v2/schedules/",
        Some(json!({"name": "mine", "unified_job_template": jt, "rrule": rule})),
    );
    assert_eq!(made.status, 403, "{made:?}");

    let patch = as_(
        "orgadmin",
        "PATCH",
        &detail,
        Some(json!({"enabled": false})),
    );
    assert_eq!(patch.status, 200, "{patch:?}");
    assert_eq!(patch.json()["next_run"], Value::Null);
    let made = as_(
        "orgadmin",
        "POST",
        "/api/v2/schedules/",
        Some(json!({"name": "mine", "unified_job_template": jt, "rrule": rule})),
    );
    assert_eq!(made.status, 201, "{made:?}");
    let all = s.admin("GET", "/api/v2/schedules/", None, 200);
    assert_eq!(all["count"], 2);
}

/// Two task processes on one PostgreSQL database: each of several schedules due at the same
/// moment launches exactly one job, and every job succeeds.
#[test]
fn two_task_nodes_launch_a_due_schedule_once() {
    let Some(db) = PgDb::create("sched") else {
        return;
    };
    let projects = tempfile::tempdir().unwrap();
    let start = |role: &'static str, name: &str| {
        Server::start_with(Opts {
            database_url: Some(db.url.clone()),
            env: vec![
                ("RAWX_REDIS_URL".into(), "redis://127.0.0.1:6379".into()),
                ("RAWX_NODE_NAME".into(), name.into()),
                (
                    "RAWX_PROJECTS_DIR".into(),
                    projects.path().display().to_string(),
                ),
                (
                    "RAWX_ANSIBLE_RUNNER".into(),
                    venv().join("bin/ansible-runner").display().to_string(),
                ),
            ],
            role: Some(role),
        })
    };
    let web = start("web", "web-1");
    let t1 = start("task", "task-1");
    let t2 = start("task", "task-2");
    let f = fixture_in(
        &web,
        projects.path(),
        "twice",
        &[("hello.yml", HELLO)],
        &["localhost"],
    );
    let jt = template(&web, "twice", &f, json!({"allow_simultaneous": true}));
    let (rrule, due) = every_minute(8);
    let ids: Vec<i64> = (0..4)
        .map(|i| {
            web.admin(
                "POST",
                &format!("/api/v2/job_templates/{jt}/schedules/"),
                Some(json!({"name": format!("s{i}"), "rrule": rrule})),
                201,
            )["id"]
                .as_i64()
                .unwrap()
        })
        .collect();
    for id in &ids {
        let job = first_job(&web, *id, Duration::from_secs(40));
        let done = wait_final_on(
            &web,
            "jobs",
            job["id"].as_i64().unwrap(),
            Duration::from_secs(120),
        );
        assert_eq!(done["status"], "successful", "{done}");
    }
    // Both schedulers have had several passes since the occurrence.
    while epoch_now() < due + 5 {
        std::thread::sleep(Duration::from_millis(200));
    }
    for id in &ids {
        let jobs = jobs_of(&web, *id);
        assert_eq!(
            jobs.len(),
            1,
            "schedule {id} launched {} jobs:\n{jobs:#?}\ntask-1:\n{}\ntask-2:\n{}",
            jobs.len(),
            rawx_testkit::lab::tail(&t1.logs(), 3000),
            rawx_testkit::lab::tail(&t2.logs(), 3000)
        );
    }
    let all = web.admin("GET", "/api/v2/jobs/?launch_type=scheduled", None, 200);
    assert_eq!(all["count"], 4, "{all}");
    // Both task processes ran a scheduler (each says so in its own ping).
    for t in [&t1, &t2] {
        let logs = t.logs();
        assert!(
            logs.contains("scheduler"),
            "{}",
            rawx_testkit::lab::tail(&logs, 2000)
        );
    }
}
