//! End-to-end: an inventory source of kind `controller` (AWX's "Red Hat Ansible Automation
//! Platform") pointed at the rawx under test: the real `awx.awx` inventory plugin, run by
//! `ansible-inventory` in the update, reads another inventory of the same server through
//! `/api/v2/inventories/N/script/` with the credential's URL, user and password, and the
//! import brings its hosts, groups and variables in, each host's `instance_id` the remote
//! host's id (AWX's `remote_tower_id`).

use rawx_testkit::collection::collections;
use rawx_testkit::lab::*;
use rawx_testkit::ADMIN_PW;
use serde_json::{json, Value};
use std::time::Duration;

fn id(v: &Value) -> i64 {
    v["id"].as_i64().unwrap_or_else(|| panic!("no id: {v}"))
}

#[test]
fn a_controller_source_imports_an_inventory_of_the_server_itself() {
    let lab = Lab::start();
    let s = &lab.s;
    // The collection is where ansible-inventory finds the plugin (AWX's execution environment
    // ships it; here every update's environment names it).
    s.admin(
        "PATCH",
        "/api/v2/settings/jobs/",
        Some(json!({"AWX_TASK_ENV": {
            "ANSIBLE_COLLECTIONS_PATH": collections().display().to_string()}})),
        200,
    );
    let remote = lab.inventory(
        "Remote",
        &[("r1", json!({"color": "red"})), ("r2", json!({}))],
    );
    let web = id(&s.admin(
        "POST",
        "/api/v2/groups/",
        Some(json!({"name": "web", "inventory": remote, "variables": "{\"tier\": \"front\"}"})),
        201,
    ));
    let r1 = s.admin("GET", "/api/v2/hosts/?name=r1", None, 200)["results"][0].clone();
    s.admin(
        "POST",
        &format!("/api/v2/groups/{web}/hosts/"),
        Some(json!({"id": id(&r1)})),
        204,
    );
    let cred = lab.credential(
        "this rawx",
        "Red%20Hat%20Ansible%20Automation%20Platform",
        json!({"host": s.url, "username": "admin", "password": ADMIN_PW, "verify_ssl": false}),
    );
    let mirror = lab.inventory("Mirror", &[]);
    let source = id(&s.admin(
        "POST",
        "/api/v2/inventory_sources/",
        Some(
            json!({"name": "from this rawx", "inventory": mirror, "source": "controller",
                    "credential": cred, "overwrite": true,
                    "source_vars": format!("{{\"inventory_id\": {remote}}}")}),
        ),
        201,
    ));
    let started = s.admin(
        "POST",
        &format!("/api/v2/inventory_sources/{source}/update/"),
        Some(json!({})),
        202,
    );
    let done = wait_final_on(
        s,
        "inventory_updates",
        id(&started),
        Duration::from_secs(180),
    );
    assert_eq!(
        done["status"],
        "successful",
        "{done}\n{}",
        stdout_of(s, "inventory_updates", id(&done))
    );
    let hosts = lab.all(&format!("/api/v2/inventories/{mirror}/hosts/"));
    let mut names: Vec<&str> = hosts.iter().filter_map(|h| h["name"].as_str()).collect();
    names.sort_unstable();
    assert_eq!(names, ["r1", "r2"], "{hosts:?}");
    let copy = hosts.iter().find(|h| h["name"] == "r1").unwrap();
    let vars: Value = serde_json::from_str(copy["variables"].as_str().unwrap()).unwrap();
    assert_eq!(vars["color"], "red", "{vars}");
    assert_eq!(
        copy["instance_id"],
        r1["id"].to_string(),
        "the remote host's id: {copy}"
    );
    let groups = lab.all(&format!("/api/v2/inventories/{mirror}/groups/"));
    let g = groups
        .iter()
        .find(|g| g["name"] == "web")
        .unwrap_or_else(|| panic!("{groups:?}"));
    let members = lab.all(&format!("/api/v2/groups/{}/hosts/", id(g)));
    assert_eq!(members.len(), 1, "{members:?}");
    assert_eq!(members[0]["name"], "r1");
    let gvars: Value = serde_json::from_str(g["variables"].as_str().unwrap()).unwrap();
    assert_eq!(gvars["tier"], "front", "{gvars}");
}
