//! End-to-end: AWX's websocket as a browser or `awxkit` uses it, driven by Python's
//! `websockets` client against a real `rawx serve`, while jobs launched with the real `awx` CLI
//! run through the real `ansible-runner`. What the client receives is compared with what the
//! API serves for the same job.

use rawx_testkit::lab::{all_pages, fixture, wait_final};
use rawx_testkit::wsclient::Py;
use rawx_testkit::{venv, Opts, Redis, Server, ADMIN_PW};
use serde_json::{json, Value};
use std::time::Duration;

/// Enough tasks and loop items for a stream of events worth checking.
const PLAYBOOK: &str = "\
- name: Websocket play
  hosts: all
  gather_facts: false
  tasks:
    - name: Count
      debug:
        msg: \"item {{ item }}\"
      loop: \"{{ range(0, 30) | list }}\"
    - name: Shell
      command: echo from-the-shell
      changed_when: false
";

/// A server with an organization, a project, a local inventory and a template `ws`.
fn lab() -> (Server, i64) {
    lab_with(vec![])
}

fn lab_with(mut env: Vec<(String, String)>) -> (Server, i64) {
    env.push((
        "RAWX_ANSIBLE_RUNNER".into(),
        venv().join("bin/ansible-runner").display().to_string(),
    ));
    let s = Server::start_with(Opts {
        env,
        ..Opts::default()
    });
    let f = fixture(&s, "ws", &[("ws.yml", PLAYBOOK)], &["localhost"]);
    s.admin(
        "POST",
        "/api/v2/job_templates/",
        Some(json!({"name": "ws", "project": f.project, "inventory": f.inventory, "playbook": "ws.yml"})),
        201,
    );
    let org = f.org;
    (s, org)
}

/// Every event of a job as the API serves it, in counter order.
fn api_events(s: &Server, job: i64) -> Vec<Value> {
    all_pages(
        s,
        &format!("/api/v2/jobs/{job}/job_events/?no_truncate=1&order_by=counter&page_size=200"),
    )
}

fn launch(s: &Server) -> i64 {
    let out = s.awx(&["job_templates", "launch", "ws", "-f", "json"]);
    assert_eq!(out.code, 0, "awx job_templates launch:\n{out}");
    out.json()["id"]
        .as_i64()
        .expect("the launch prints the job")
}

/// A session client (form login, csrftoken as XRF key) subscribed to `jobs` and, on the job's
/// `pending`, to its events, receives every event of a job launched with `awx … --monitor`,
/// in counter order and as the API stores them, then the final status and the summary.
#[test]
fn a_subscriber_receives_every_event_status_and_summary_of_a_job() {
    let (s, _) = lab();
    let py = Py::start(
        &s,
        json!({"login": ["admin", ADMIN_PW], "steps": [
            ["send", {"xrftoken": "$XRF", "groups": {"jobs": ["status_changed", "summary"]}}],
            ["recv"],
            ["ready"],
            ["follow"],
        ]}),
    );
    py.ready();
    let out = s.awx(&["job_templates", "launch", "ws", "--monitor"]);
    assert_eq!(out.code, 0, "launch --monitor:\n{out}");
    let seen = py.result(Duration::from_secs(150));

    let admin_id = s.admin("GET", "/api/v2/me/", None, 200)["results"][0]["id"].clone();
    assert_eq!(seen["hello"], json!({"accept": true, "user": admin_id}));
    let received = seen["received"].as_array().unwrap();
    assert_eq!(
        received[0],
        json!({"groups_current": ["jobs-status_changed", "jobs-summary"], "groups_left": [], "groups_joined": ["jobs-status_changed", "jobs-summary"]}),
    );
    let job = seen["job"]
        .as_i64()
        .expect("the client saw the job pending");
    let job_row = wait_final(&s, job);
    assert_eq!(job_row["status"], "successful", "{job_row}");

    // Statuses in their order, each AWX-shaped.
    let statuses: Vec<&Value> = received
        .iter()
        .filter(|m| m["group_name"] == "jobs" && m.get("status").is_some())
        .collect();
    let names: Vec<&str> = statuses
        .iter()
        .map(|m| m["status"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["pending", "waiting", "running", "successful"],
        "{statuses:?}"
    );
    for m in &statuses {
        assert_eq!(m["unified_job_id"], job, "{m}");
        assert_eq!(m["type"], "job", "{m}");
        assert_eq!(m["unified_job_template_id"], job_row["job_template"], "{m}");
    }
    assert!(
        statuses[3].get("finished").is_some_and(Value::is_string),
        "{:?}",
        statuses[3]
    );

    // Every event, in counter order, as stored.
    let events: Vec<&Value> = received
        .iter()
        .filter(|m| m["group_name"] == "job_events")
        .collect();
    let stored = api_events(&s, job);
    assert!(stored.len() > 30, "only {} events stored", stored.len());
    let counters: Vec<i64> = events
        .iter()
        .map(|e| e["counter"].as_i64().unwrap())
        .collect();
    let want: Vec<i64> = stored
        .iter()
        .map(|e| e["counter"].as_i64().unwrap())
        .collect();
    assert_eq!(
        counters, want,
        "the websocket's events differ from the stored ones"
    );
    for (live, row) in events.iter().zip(&stored) {
        let keys: Vec<&str> = live
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(
            keys,
            [
                "id",
                "job",
                "created",
                "modified",
                "group_name",
                "url",
                "stdout",
                "counter",
                "uuid",
                "parent_uuid",
                "start_line",
                "end_line",
                "event",
                "event_data",
                "failed",
                "changed",
                "event_level",
                "play",
                "role",
                "task"
            ],
            "{live}"
        );
        assert_eq!(live["id"], row["id"], "{live}");
        assert_eq!(
            live["url"],
            json!(format!("/api/v2/job_events/{}", row["id"]))
        );
        assert_eq!(live["job"], job);
        for k in [
            "counter",
            "uuid",
            "parent_uuid",
            "event",
            "stdout",
            "start_line",
            "end_line",
            "failed",
            "changed",
            "event_level",
            "play",
            "role",
            "task",
            "created",
        ] {
            assert_eq!(live[k], row[k], "{k} of event {}", row["counter"]);
        }
        assert_eq!(live["event_data"], row["event_data"], "{live}");
        assert!(live["event_data"].is_object(), "{live}");
    }
    assert!(events
        .iter()
        .any(|e| e["stdout"].as_str().unwrap().contains("item 29")));

    // The summary comes once, after the final status, with the last counter.
    let summaries: Vec<(usize, &Value)> = received
        .iter()
        .enumerate()
        .filter(|(_, m)| m.get("final_counter").is_some())
        .collect();
    assert_eq!(summaries.len(), 1, "{summaries:?}");
    assert_eq!(
        summaries[0].1,
        &json!({"group_name": "jobs", "unified_job_id": job, "final_counter": want.last().unwrap()})
    );
    let final_at = received
        .iter()
        .position(|m| m["status"] == "successful")
        .unwrap();
    assert!(summaries[0].0 > final_at);
}

/// The protocol's refusals: no identity (403), a made-up token (403), a wrong or missing
/// xrftoken, a value that is not a list, and a user without read access to a job, who gets
/// AWX's error and none of the job's messages — while an admin watching the same job does.
/// A subscription message replaces the whole subscription.
#[test]
fn handshake_and_subscription_rules() {
    let (s, _) = lab();
    let refused = Py::start(&s, json!({"steps": []})).result(Duration::from_secs(30));
    assert_eq!(refused, json!({"refused": 403}));
    let refused =
        Py::start(&s, json!({"token": "made-up", "steps": []})).result(Duration::from_secs(30));
    assert_eq!(refused, json!({"refused": 403}));
    let refused = Py::start(&s, json!({"path": "/api/websocket/", "steps": []}))
        .result(Duration::from_secs(30));
    assert_eq!(refused, json!({"refused": 403}));

    // Someone outside the organization, with a token of their own.
    s.admin(
        "POST",
        "/api/v2/users/",
        Some(json!({"username": "outsider", "password": "out-pw"})),
        201,
    );
    let login = s.awx_as("outsider", "out-pw", &["login"]);
    let token = login.json()["token"].as_str().unwrap().to_string();
    let first = launch(&s);
    wait_final(&s, first);

    let admin_token = s.awx_json(&["login"])["token"]
        .as_str()
        .unwrap()
        .to_string();
    // Without a csrftoken cookie there is no XRF key: nothing can be subscribed.
    let no_cookie = Py::start(
        &s,
        json!({"token": admin_token, "steps": [
            ["send", {"xrftoken": "anything", "groups": {"jobs": ["status_changed"]}}],
            ["recv"],
        ]}),
    )
    .result(Duration::from_secs(30));
    assert_eq!(
        no_cookie["received"],
        json!([{"error": "access denied to channel"}])
    );

    let mut outsider = Py::start(
        &s,
        json!({"token": token, "cookies": {"csrftoken": "xrf-of-outsider"}, "steps": [
            ["send", {"xrftoken": "wrong", "groups": {"jobs": ["status_changed"]}}],
            ["recv"],
            ["send", {"groups": {"jobs": ["status_changed"]}}],
            ["recv"],
            ["send", {"xrftoken": "$XRF", "groups": {"jobs": "status_changed"}}],
            ["recv"],
            ["send", {"xrftoken": "$XRF", "groups": {"jobs": ["status_changed", "summary"], "job_events": [first]}}],
            ["recv"],
            ["recv"],
            ["send", {"xrftoken": "$XRF", "groups": {"jobs": ["status_changed", "summary"], "job_events": [first + 1]}}],
            ["recv"],
            ["recv"],
            ["ready"],
            ["listen"],
        ]}),
    );
    // An admin client watching the job the outsider may not see: the positive control.
    let mut admin = Py::start(
        &s,
        json!({"login": ["admin", ADMIN_PW], "steps": [
            ["send", {"xrftoken": "$XRF", "groups": {"jobs": ["status_changed", "summary"], "job_events": [first], "schedules": ["changed"]}}],
            ["recv"],
            ["send", {"xrftoken": "$XRF", "groups": {"jobs": ["status_changed", "summary"]}}],
            ["recv"],
            ["ready"],
            ["listen"],
        ]}),
    );
    outsider.ready();
    admin.ready();
    let second = launch(&s);
    assert_eq!(second, first + 1);
    wait_final(&s, second);
    std::thread::sleep(Duration::from_millis(500));
    outsider.stop_listening();
    admin.stop_listening();
    let outsider = outsider.result(Duration::from_secs(30));
    let admin = admin.result(Duration::from_secs(30));

    let outsider_id =
        s.admin("GET", "/api/v2/users/?username=outsider", None, 200)["results"][0]["id"].clone();
    assert_eq!(
        outsider["hello"],
        json!({"accept": true, "user": outsider_id})
    );
    let denied = json!({"error": "access denied to channel"});
    let r = outsider["received"].as_array().unwrap();
    assert_eq!(r[0], denied, "wrong xrftoken");
    assert_eq!(r[1], denied, "no xrftoken");
    assert_eq!(r[2], denied, "a value that is not a list");
    assert_eq!(
        r[3],
        json!({"error": format!("access denied to channel job_events for resource id {first}")})
    );
    assert_eq!(
        r[4],
        json!({"groups_current": ["jobs-status_changed", "jobs-summary"], "groups_left": [], "groups_joined": ["jobs-status_changed", "jobs-summary"]})
    );
    // A job that does not exist yet is no more readable than a hidden one.
    assert_eq!(
        r[5],
        json!({"error": format!("access denied to channel job_events for resource id {second}")})
    );
    assert_eq!(
        r[6],
        json!({"groups_current": ["jobs-status_changed", "jobs-summary"], "groups_left": [], "groups_joined": []})
    );
    assert_eq!(
        &r[7..],
        &[] as &[Value],
        "the outsider saw messages of a job it may not read"
    );

    let r = admin["received"].as_array().unwrap();
    assert_eq!(
        r[0],
        json!({"groups_current": [format!("job_events-{first}"), "jobs-status_changed", "jobs-summary", "schedules-changed"], "groups_left": [], "groups_joined": [format!("job_events-{first}"), "jobs-status_changed", "jobs-summary", "schedules-changed"]})
    );
    assert_eq!(
        r[1],
        json!({"groups_current": ["jobs-status_changed", "jobs-summary"], "groups_left": [format!("job_events-{first}"), "schedules-changed"], "groups_joined": []})
    );
    let statuses: Vec<&str> = r[2..]
        .iter()
        .filter(|m| m["unified_job_id"] == second && m.get("status").is_some())
        .map(|m| m["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["pending", "waiting", "running", "successful"]);
    assert!(
        r[2..].iter().all(|m| m["group_name"] == "jobs"),
        "events arrived without a subscription: {r:?}"
    );
}

/// With `RAWX_REDIS_URL` every live message goes through Redis. Redis restarts between two
/// jobs: rawx reconnects by itself and the same websocket client hears the second job too.
#[test]
fn live_updates_go_through_redis_and_survive_its_restart() {
    let redis = Redis::start();
    let port = redis.port;
    let (s, _) = lab_with(vec![(
        "RAWX_REDIS_URL".into(),
        format!("redis://127.0.0.1:{port}/"),
    )]);

    let mut client = Py::start(
        &s,
        json!({"login": ["admin", ADMIN_PW], "steps": [
            ["send", {"xrftoken": "$XRF", "groups": {"jobs": ["status_changed", "summary"]}}],
            ["recv"],
            ["ready"],
            ["listen"],
        ]}),
    );
    client.ready();
    let first = launch(&s);
    wait_final(&s, first);

    drop(redis);
    std::thread::sleep(Duration::from_millis(500));
    let _redis = Redis::start_on(port);
    // Give the subscriptions their reconnect backoff (at most a second each attempt).
    std::thread::sleep(Duration::from_secs(3));
    let second = launch(&s);
    wait_final(&s, second);
    std::thread::sleep(Duration::from_millis(500));
    client.stop_listening();
    let seen = client.result(Duration::from_secs(30));

    let statuses = |job: i64| -> Vec<String> {
        seen["received"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| m["unified_job_id"] == job && m.get("status").is_some())
            .map(|m| m["status"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(
        statuses(first),
        ["pending", "waiting", "running", "successful"],
        "{seen}"
    );
    assert_eq!(
        statuses(second),
        ["pending", "waiting", "running", "successful"],
        "after the Redis restart: {seen}\n{}",
        s.logs()
    );
    assert!(
        s.logs().contains("Redis subscription restored"),
        "{}",
        s.logs()
    );
}
