//! The real `awx.awx` collection (24.6.1) with the administrator's modules not covered by the
//! resource suites: `token` (a personal token made and revoked), `instance` (capacity
//! adjustment and enabled, unchanged on a second run), `ad_hoc_command` with
//! `ad_hoc_command_cancel` (a running command canceled), and `license`/`subscriptions`, which
//! an open AWX answers with its own refusals; and `/api/v2/config/` showing the project
//! directory only to those who may make manual projects, as AWX's `ApiV2ConfigView` does.

use rawx_testkit::collection::{ok, play};
use rawx_testkit::lab::{local_vars, Lab};
use rawx_testkit::{eventually, ADMIN_PW};
use serde_json::{json, Value};
use std::time::Duration;

#[test]
fn tokens_instances_and_ad_hoc_cancel_through_the_collection() {
    let lab = Lab::start();
    let srv = &lab.s;
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();

    // A personal token, then revoked by the fact the module returned.
    let (out, t) = play(
        srv,
        dir,
        "    - name: token\n      awx.awx.token:\n        description: ci\n        scope: write\n      register: made\n\
         \x20   - name: revoke\n      awx.awx.token:\n        existing_token: \"{{ made.ansible_facts.controller_token }}\"\n        state: absent\n",
        &[],
    );
    assert_eq!(
        ok(&out, &t),
        vec![("token".into(), true), ("revoke".into(), true)]
    );
    let token = &t[0].result["ansible_facts"]["controller_token"];
    assert_eq!(token["scope"], "write", "{token}");
    assert_eq!(token["description"], "ci");
    assert!(
        token["token"].as_str().is_some_and(|s| s.len() >= 20),
        "{token}"
    );
    let left = srv.admin("GET", "/api/v2/tokens/", None, 200);
    assert_eq!(left["count"], 0, "the token was revoked: {left}");

    // The instance: a capacity adjustment, unchanged the second time.
    let node = srv.admin("GET", "/api/v2/instances/", None, 200)["results"][0].clone();
    let host = node["hostname"].as_str().unwrap().to_string();
    let task = format!(
        "    - name: adjust\n      awx.awx.instance:\n        hostname: {host}\n        capacity_adjustment: 0.5\n        enabled: true\n"
    );
    let (out, t) = play(srv, dir, &task, &[]);
    assert_eq!(ok(&out, &t), vec![("adjust".into(), true)]);
    let (out, t) = play(srv, dir, &task, &[]);
    assert_eq!(
        ok(&out, &t),
        vec![("adjust".into(), false)],
        "a second run changes nothing"
    );
    let now = srv.admin(
        "GET",
        &format!("/api/v2/instances/{}/", node["id"]),
        None,
        200,
    );
    assert_eq!(now["capacity_adjustment"], "0.50", "{now}");

    // An ad hoc command that would run for a minute, canceled through the collection.
    lab.inventory("Local", &[("localhost", local_vars())]);
    lab.credential(
        "Me",
        "Machine",
        json!({"username": rawx_testkit::plays::whoami()}),
    );
    let (out, t) = play(
        srv,
        dir,
        "    - name: run\n      awx.awx.ad_hoc_command:\n        inventory: Local\n        credential: Me\n        module_name: command\n        module_args: sleep 60\n      register: cmd\n\
         \x20   - name: cancel\n      awx.awx.ad_hoc_command_cancel:\n        command_id: \"{{ cmd.id }}\"\n",
        &[],
    );
    assert_eq!(
        ok(&out, &t),
        vec![("run".into(), true), ("cancel".into(), true)]
    );
    let id = t[0].result["id"].as_i64().unwrap();
    let done = eventually(Duration::from_secs(60), || {
        let c = srv.admin("GET", &format!("/api/v2/ad_hoc_commands/{id}/"), None, 200);
        (c["status"] != "pending" && c["status"] != "waiting" && c["status"] != "running")
            .then_some(c)
    });
    assert_eq!(done["status"], "canceled", "{done}");
}

#[test]
fn the_subscription_endpoints_answer_as_an_open_awx() {
    let lab = Lab::start();
    let srv = &lab.s;
    // A manifest cannot be validated (no Red Hat signing certificate): AWX's refusal.
    let r = srv.admin(
        "POST",
        "/api/v2/config/",
        Some(json!({"manifest": "UEsDBAo="})),
        400,
    );
    assert_eq!(r, json!({"error": "Invalid manifest submitted."}));
    let r = srv.admin(
        "POST",
        "/api/v2/config/",
        Some(json!({"license_key": "x"})),
        400,
    );
    assert_eq!(
        r["error"],
        "Legacy license submitted. A subscription manifest is now required."
    );
    let r = srv.admin(
        "POST",
        "/api/v2/config/subscriptions/",
        Some(json!({"subscriptions_username": "u", "subscriptions_password": "p"})),
        400,
    );
    assert_eq!(r, json!({"error": "Invalid Subscription"}));
    let r = srv.admin("POST", "/api/v2/config/attach/", Some(json!({})), 400);
    assert_eq!(r, json!({"error": "No subscription pool ID provided."}));
    // Without a manifest the open license is valid, and the server's address is recorded.
    let r = srv.admin("POST", "/api/v2/config/", Some(json!({})), 200);
    assert_eq!(r["license_type"], "open");
    let system = srv.admin("GET", "/api/v2/settings/system/", None, 200);
    assert_eq!(system["TOWER_URL_BASE"], json!(srv.url), "{system}");

    // The modules: `license` absent clears it (204), `subscriptions` gets AWX's answer.
    let dir = tempfile::tempdir().unwrap();
    let (out, t) = play(
        srv,
        dir.path(),
        "    - name: unlicense\n      awx.awx.license:\n        state: absent\n",
        &[],
    );
    assert_eq!(ok(&out, &t), vec![("unlicense".into(), false)]);

    // A user who is no administrator anywhere: no writes, and no project directory.
    srv.admin(
        "POST",
        "/api/v2/users/",
        Some(json!({"username": "eve", "password": "eve-pw-1"})),
        201,
    );
    let eve = Some(("eve", "eve-pw-1"));
    let r = srv.http("POST", "/api/v2/config/", eve, Some(&json!({})));
    assert_eq!(r.status, 403, "{}", r.body);
    let r = srv.http("GET", "/api/v2/config/", eve, None);
    let config: Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(config["license_info"]["license_type"], "open");
    assert!(config.get("project_base_dir").is_none(), "{config}");
    let admin = srv.http("GET", "/api/v2/config/", Some(("admin", ADMIN_PW)), None);
    let admin: Value = serde_json::from_str(&admin.body).unwrap();
    assert!(admin["project_base_dir"].is_string(), "{admin}");
}
