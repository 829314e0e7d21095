//! End-to-end: `/api/v2/constructed_inventories/` as AWX 24.6.1 serves it, driven with the
//! unmodified `awx` CLI and the API: a constructed inventory made with its source's
//! `source_vars`, `limit`, `update_cache_timeout` and `verbosity` in one call, its
//! `input_inventories`, its sync by the real `constructed` plugin answering the hosts the limit
//! keeps, and the serializer's checks. (The collection's `inventory` module with
//! `kind: constructed` is `inventory_sources.rs`' `a_constructed_inventory_groups_its_inputs_hosts`.)

use rawx_testkit::lab::*;
use serde_json::{json, Value};
use std::time::Duration;

fn id(v: &Value) -> i64 {
    v["id"].as_i64().unwrap_or_else(|| panic!("no id: {v}"))
}

#[test]
fn a_constructed_inventory_through_its_own_endpoint() {
    let lab = Lab::start();
    let s = &lab.s;
    let org = id(&lab.org);
    let a = lab.inventory(
        "InA",
        &[("a1", json!({"os": "linux"})), ("a2", json!({"os": "bsd"}))],
    );
    let b = lab.inventory("InB", &[("b1", json!({"os": "linux"}))]);
    let vars = json!({"plugin": "constructed", "strict": true,
                      "groups": {"linux_hosts": "os == \"linux\""}})
    .to_string();
    let made = s.awx_json(&[
        "constructed_inventories",
        "create",
        "--name",
        "Built",
        "--organization",
        &org.to_string(),
        "--source_vars",
        &vars,
        "--limit",
        "linux_hosts",
        "--update_cache_timeout",
        "30",
        "--verbosity",
        "2",
    ]);
    let built = id(&made);
    assert_eq!(made["kind"], "constructed", "{made}");
    assert_eq!(made["limit"], "linux_hosts", "{made}");
    assert_eq!(made["update_cache_timeout"], 30);
    assert_eq!(made["verbosity"], 2);
    assert_eq!(made["source_vars"], vars.as_str());
    assert!(made.get("host_filter").is_none(), "{made}");

    // Only constructed inventories are listed here; each shows its source's fields.
    let list = s.admin("GET", "/api/v2/constructed_inventories/", None, 200);
    assert_eq!(list["count"], 1, "{list}");
    let got = &list["results"][0];
    assert_eq!(
        got["url"],
        format!("/api/v2/constructed_inventories/{built}/")
    );
    assert_eq!(got["limit"], "linux_hosts");
    s.admin(
        "GET",
        &format!("/api/v2/constructed_inventories/{a}/"),
        None,
        404,
    );
    // The source holds what was given.
    let sources = s.admin(
        "GET",
        &format!("/api/v2/inventories/{built}/inventory_sources/"),
        None,
        200,
    );
    assert_eq!(sources["count"], 1, "{sources}");
    let source = &sources["results"][0];
    assert_eq!(source["source"], "constructed");
    assert_eq!(source["limit"], "linux_hosts");
    assert_eq!(source["update_cache_timeout"], 30);
    assert_eq!(source["verbosity"], 2);
    let sid = id(source);

    // The serializer's checks; a change goes to the source.
    let bad = s.http(
        "PATCH",
        &format!("/api/v2/constructed_inventories/{built}/"),
        Some(("admin", rawx_testkit::ADMIN_PW)),
        Some(&json!({"verbosity": 5})),
    );
    assert_eq!(bad.status, 400, "{bad:?}");
    assert_eq!(
        bad.json(),
        json!({"verbosity": ["Ensure this value is less than or equal to 2."]})
    );
    let changed = s.admin(
        "PATCH",
        &format!("/api/v2/constructed_inventories/{built}/"),
        Some(json!({"verbosity": 1, "update_cache_timeout": 0, "description": "linux only"})),
        200,
    );
    assert_eq!(changed["verbosity"], 1, "{changed}");
    assert_eq!(changed["description"], "linux only");
    assert_eq!(changed["kind"], "constructed");

    for input in [a, b] {
        s.admin(
            "POST",
            &format!("/api/v2/inventories/{built}/input_inventories/"),
            Some(json!({"id": input})),
            204,
        );
    }
    let started = s.admin(
        "POST",
        &format!("/api/v2/inventory_sources/{sid}/update/"),
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
    // The limit keeps the group's hosts from both inputs.
    let hosts = lab.all(&format!("/api/v2/inventories/{built}/hosts/"));
    let mut names: Vec<&str> = hosts.iter().filter_map(|h| h["name"].as_str()).collect();
    names.sort_unstable();
    assert_eq!(names, ["a1", "b1"], "{hosts:?}");

    // Deleted as an inventory is here (rawx deletes at once: 204).
    s.admin(
        "DELETE",
        &format!("/api/v2/constructed_inventories/{built}/"),
        None,
        204,
    );
    s.admin("GET", &format!("/api/v2/inventories/{built}/"), None, 404);
}
