//! Smart inventories (`host_filter` in AWX's language, its refusals, the hosts it answers) and
//! the views over an inventory's structure: script, tree, root groups, a group's hosts and
//! potential children, a host's groups, smart inventories and facts, `variable_data`.

use axum::http::StatusCode;
use rawx_model::resources::HOSTS;
use rawx_testkit::api::Api;
use rawx_testkit::ADMIN_PW;
use serde_json::{json, Value};

fn names(body: &Value) -> Vec<String> {
    let mut v: Vec<String> = body["results"]
        .as_array()
        .unwrap_or_else(|| panic!("not a list: {body}"))
        .iter()
        .map(|r| r["name"].as_str().unwrap().to_string())
        .collect();
    v.sort();
    v
}

async fn set_facts(api: &Api, host: i64, facts: Value) {
    let mut row = rawx_model::Row::new();
    row.insert("ansible_facts".into(), json!(facts.to_string()));
    row.insert(
        "ansible_facts_modified".into(),
        json!(rawx_model::now_string()),
    );
    api.store.update(&HOSTS, host, &row).await.unwrap();
}

/// Org Ops with inventories Lab (web1, web2, db1; groups web ⊃ frontend, db) and Edge (web1
/// again, edge1), and org Other with inventory Far (web9).
async fn world(api: &Api) -> Value {
    let ops = api
        .make("/api/v2/organizations/", json!({"name": "Ops"}))
        .await;
    let other = api
        .make("/api/v2/organizations/", json!({"name": "Other"}))
        .await;
    let lab = api
        .make(
            "/api/v2/inventories/",
            json!({"name": "Lab", "organization": ops, "variables": "region: eu"}),
        )
        .await;
    let edge = api
        .make(
            "/api/v2/inventories/",
            json!({"name": "Edge", "organization": ops}),
        )
        .await;
    let far = api
        .make(
            "/api/v2/inventories/",
            json!({"name": "Far", "organization": other}),
        )
        .await;
    let host = |name: &str, inv: i64, vars: &str| json!({"name": name, "inventory": inv, "variables": vars});
    let web1 = api
        .make("/api/v2/hosts/", host("web1", lab, "{\"port\": 80}"))
        .await;
    let web2 = api.make("/api/v2/hosts/", host("web2", lab, "")).await;
    let db1 = api.make("/api/v2/hosts/", host("db1", lab, "")).await;
    let edge_web1 = api.make("/api/v2/hosts/", host("web1", edge, "")).await;
    let edge1 = api.make("/api/v2/hosts/", host("edge1", edge, "")).await;
    let web9 = api.make("/api/v2/hosts/", host("web9", far, "")).await;
    let group = |name: &str| json!({"name": name, "inventory": lab});
    let web = api.make("/api/v2/groups/", group("web")).await;
    let frontend = api.make("/api/v2/groups/", group("frontend")).await;
    let db = api.make("/api/v2/groups/", group("db")).await;
    api.associate(&format!("/api/v2/groups/{web}/children/"), frontend)
        .await;
    api.associate(&format!("/api/v2/groups/{web}/hosts/"), web1)
        .await;
    api.associate(&format!("/api/v2/groups/{frontend}/hosts/"), web2)
        .await;
    api.associate(&format!("/api/v2/groups/{db}/hosts/"), db1)
        .await;
    json!({"ops": ops, "lab": lab, "edge": edge, "far": far, "web1": web1, "web2": web2,
           "db1": db1, "edge_web1": edge_web1, "edge1": edge1, "web9": web9,
           "web": web, "frontend": frontend, "db": db})
}

fn id(w: &Value, k: &str) -> i64 {
    w[k].as_i64().unwrap()
}

async fn smart(api: &Api, org: i64, name: &str, filter: &str) -> i64 {
    api.make(
        "/api/v2/inventories/",
        json!({"name": name, "organization": org, "kind": "smart", "host_filter": filter}),
    )
    .await
}

#[tokio::test]
async fn a_smart_inventory_answers_its_filter_in_its_organization_one_host_per_name() {
    let api = Api::new().await;
    let w = world(&api).await;
    let s = smart(&api, id(&w, "ops"), "webs", "name__startswith=web").await;
    let hosts = api
        .admin("GET", &format!("/api/v2/inventories/{s}/hosts/"), None)
        .await;
    assert_eq!(hosts.status, StatusCode::OK, "{}", hosts.text);
    // web9 is another organization's; web1 is in two inventories and counts once (the
    // oldest).
    assert_eq!(names(&hosts.body), ["web1", "web2"]);
    let ids: Vec<i64> = hosts.body["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["id"].as_i64().unwrap())
        .collect();
    assert!(ids.contains(&id(&w, "web1")) && !ids.contains(&id(&w, "edge_web1")));
    let inv = api
        .admin("GET", &format!("/api/v2/inventories/{s}/"), None)
        .await;
    assert_eq!(inv.body["total_hosts"], 2);
    assert_eq!(inv.body["total_groups"], 0);
    assert_eq!(inv.body["host_filter"], "name__startswith=web");
    assert!(inv.body["related"].get("groups").is_none());
    assert!(inv.body["related"]["script"].is_string());

    // The grammar: and before or, parentheses, quotes, relations.
    for (filter, want) in [
        (
            "name=db1 or name=edge1 and inventory__name=Edge",
            vec!["db1", "edge1"],
        ),
        (
            "(name=db1 or name=edge1) and inventory__name=Edge",
            vec!["edge1"],
        ),
        ("groups__name=\"web\"", vec!["web1"]),
        (
            "groups__name=web or groups__name=frontend",
            vec!["web1", "web2"],
        ),
        ("search=\"DB\"", vec!["db1"]),
        ("groups__search=front", vec!["web2"]),
        ("name__icontains=EDGE and enabled=true", vec!["edge1"]),
    ] {
        let r = api
            .admin(
                "PATCH",
                &format!("/api/v2/inventories/{s}/"),
                Some(json!({ "host_filter": filter })),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{filter}: {}", r.text);
        let hosts = api
            .admin("GET", &format!("/api/v2/inventories/{s}/hosts/"), None)
            .await;
        assert_eq!(names(&hosts.body), want, "{filter}");
    }

    // The host's side.
    let r = api
        .admin(
            "PATCH",
            &format!("/api/v2/inventories/{s}/"),
            Some(json!({"host_filter": "name__startswith=web"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let mine = api
        .admin(
            "GET",
            &format!("/api/v2/hosts/{}/smart_inventories/", id(&w, "web2")),
            None,
        )
        .await;
    assert_eq!(names(&mine.body), ["webs"]);
    let none = api
        .admin(
            "GET",
            &format!("/api/v2/hosts/{}/smart_inventories/", id(&w, "db1")),
            None,
        )
        .await;
    assert_eq!(none.body["count"], 0);
}

#[tokio::test]
async fn facts_are_filtered_by_containment() {
    let api = Api::new().await;
    let w = world(&api).await;
    set_facts(
        &api,
        id(&w, "web1"),
        json!({"ansible_distribution": "CentOS", "ansible_processor_vcpus": 8,
               "ansible_lo": {"ipv6": [{"scope": "host", "address": "::1"}]},
               "ansible_distribution_version": "7.4"}),
    )
    .await;
    set_facts(
        &api,
        id(&w, "db1"),
        json!({"ansible_distribution": "Debian", "ansible_processor_vcpus": 2,
               "ansible_lo": {"ipv6": [{"scope": "link"}]}}),
    )
    .await;
    let s = smart(
        &api,
        id(&w, "ops"),
        "centos",
        "ansible_facts__ansible_distribution=CentOS",
    )
    .await;
    let path = format!("/api/v2/inventories/{s}/hosts/");
    assert_eq!(names(&api.admin("GET", &path, None).await.body), ["web1"]);
    for (filter, want) in [
        ("ansible_facts__ansible_processor_vcpus=2", vec!["db1"]),
        ("ansible_facts__ansible_processor_vcpus=\"2\"", vec![]),
        (
            "ansible_facts__ansible_lo__ipv6[]__scope=host",
            vec!["web1"],
        ),
        (
            "ansible_facts__ansible_lo__ipv6[]__scope=link or name=web2",
            vec!["db1", "web2"],
        ),
        // Percent-encoded quotes are stored decoded (AWX's `SmartFilterField`).
        (
            "ansible_facts__ansible_distribution_version=%227.4%22",
            vec!["web1"],
        ),
        (
            "ansible_facts__ansible_distribution__exact=\"Debian\"",
            vec!["db1"],
        ),
    ] {
        let r = api
            .admin(
                "PATCH",
                &format!("/api/v2/inventories/{s}/"),
                Some(json!({ "host_filter": filter })),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{filter}: {}", r.text);
        assert_eq!(
            names(&api.admin("GET", &path, None).await.body),
            want,
            "{filter}"
        );
    }
    let r = api
        .admin("GET", &format!("/api/v2/inventories/{s}/"), None)
        .await;
    assert_eq!(
        r.body["host_filter"],
        "ansible_facts__ansible_distribution__exact=\"Debian\""
    );
    let stored = api
        .admin(
            "PATCH",
            &format!("/api/v2/inventories/{s}/"),
            Some(json!({"host_filter": "ansible_facts__ansible_distribution_version=%227.4%22"})),
        )
        .await;
    assert_eq!(
        stored.body["host_filter"],
        "ansible_facts__ansible_distribution_version=\"7.4\""
    );

    // `/hosts/?host_filter=` and the facts of one host.
    let r = api
        .admin(
            "GET",
            "/api/v2/hosts/?host_filter=ansible_facts__ansible_processor_vcpus%3D8%20or%20name%3Dedge1",
            None,
        )
        .await;
    assert_eq!(names(&r.body), ["edge1", "web1"]);
    let r = api
        .admin("GET", "/api/v2/hosts/?host_filter=name%3D%28", None)
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.body, json!({"error": "Invalid query name=("}));
    let facts = api
        .admin(
            "GET",
            &format!("/api/v2/hosts/{}/ansible_facts/", id(&w, "db1")),
            None,
        )
        .await;
    assert_eq!(facts.body["ansible_distribution"], "Debian");
    let host = api
        .admin("GET", &format!("/api/v2/hosts/{}/", id(&w, "db1")), None)
        .await;
    assert!(host.body["ansible_facts_modified"].is_string());
    assert!(
        host.body.get("ansible_facts").is_none(),
        "facts are shown at their own endpoint only"
    );
}

#[tokio::test]
async fn bad_filters_and_smart_rules_get_awx_answers_and_change_nothing() {
    let api = Api::new().await;
    let w = world(&api).await;
    let ops = id(&w, "ops");
    let before = api.snapshot().await;
    let post = |body: Value| {
        let api = &api;
        async move { api.admin("POST", "/api/v2/inventories/", Some(body)).await }
    };
    let r = post(json!({"name": "s", "organization": ops, "kind": "smart"})).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        r.body,
        json!({"host_filter": ["Smart inventories must specify host_filter"]})
    );
    let r =
        post(json!({"name": "s", "organization": ops, "kind": "smart", "host_filter": "name=(a"}))
            .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.body, json!({"host_filter": ["Invalid query name=(a"]}));
    for lookup in ["icontains", "has_keys"] {
        let r = post(json!({"name": "s", "organization": ops, "kind": "smart",
                            "host_filter": format!("ansible_facts__ansible_distribution__{lookup}=cent")}))
        .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST);
        assert!(
            r.text.contains(&format!(
                "ansible_facts does not support searching with __{lookup}"
            )),
            "{}",
            r.text
        );
    }
    let r =
        post(json!({"name": "s", "organization": ops, "kind": "smart", "host_filter": "nosuch=1"}))
            .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        api.snapshot().await,
        before,
        "refused writes change nothing"
    );

    // No hosts or groups in a smart inventory; the kind does not change.
    let s = smart(&api, ops, "s", "name=web1").await;
    let before = api.snapshot().await;
    for (path, body, what) in [
        (
            "/api/v2/hosts/".to_string(),
            json!({"name": "x", "inventory": s}),
            "Host",
        ),
        (
            format!("/api/v2/inventories/{s}/hosts/"),
            json!({"name": "x"}),
            "Host",
        ),
        (
            "/api/v2/groups/".to_string(),
            json!({"name": "g", "inventory": s}),
            "Group",
        ),
        (
            format!("/api/v2/inventories/{s}/groups/"),
            json!({"name": "g"}),
            "Group",
        ),
    ] {
        let r = api.admin("POST", &path, Some(body)).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{path}");
        assert_eq!(
            r.body,
            json!({"inventory": {"detail": format!("Cannot create {what} for Smart or Constructed Inventories")}}),
            "{path}"
        );
    }
    for (inv, kind) in [(s, ""), (id(&w, "lab"), "smart")] {
        let r = api
            .admin(
                "PATCH",
                &format!("/api/v2/inventories/{inv}/"),
                Some(json!({"kind": kind, "host_filter": "name=x"})),
            )
            .await;
        assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(
            r.body["error"],
            "You cannot turn a regular inventory into a \"smart\" or \"constructed\" inventory."
        );
    }
    assert_eq!(api.snapshot().await, before);
    // A filter on a regular inventory is kept and changes nothing (AWX's `HostManager`).
    let r = api
        .admin(
            "PATCH",
            &format!("/api/v2/inventories/{}/", id(&w, "lab")),
            Some(json!({"host_filter": "name=db1"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let hosts = api
        .admin(
            "GET",
            &format!("/api/v2/inventories/{}/hosts/", id(&w, "lab")),
            None,
        )
        .await;
    assert_eq!(names(&hosts.body), ["db1", "web1", "web2"]);
}

#[tokio::test]
async fn a_smart_inventorys_hosts_are_shown_to_whoever_reads_it() {
    let api = Api::new().await;
    let w = world(&api).await;
    let s = smart(&api, id(&w, "ops"), "all webs", "name__startswith=web").await;
    let ann = api.user("ann", "pw-ann").await;
    let path = format!("/api/v2/inventories/{s}/hosts/");
    let r = api.call("GET", &path, Some(("ann", "pw-ann")), None).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
    // Read on the smart inventory alone (none on Lab, whose hosts these are).
    let roles = api
        .admin(
            "GET",
            &format!("/api/v2/inventories/{s}/object_roles/"),
            None,
        )
        .await;
    let read = roles.body["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "Read")
        .unwrap()["id"]
        .as_i64()
        .unwrap();
    api.associate(&format!("/api/v2/users/{ann}/roles/"), read)
        .await;
    let r = api.call("GET", &path, Some(("ann", "pw-ann")), None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(names(&r.body), ["web1", "web2"]);
    let lab = api
        .call(
            "GET",
            &format!("/api/v2/inventories/{}/hosts/", id(&w, "lab")),
            Some(("ann", "pw-ann")),
            None,
        )
        .await;
    assert_eq!(lab.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn script_tree_and_group_views_answer_as_awx() {
    let api = Api::new().await;
    let w = world(&api).await;
    let lab = id(&w, "lab");
    let r = api
        .admin(
            "PATCH",
            &format!("/api/v2/hosts/{}/", id(&w, "db1")),
            Some(json!({"enabled": false})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let g = api
        .admin(
            "PATCH",
            &format!("/api/v2/groups/{}/", id(&w, "web")),
            Some(json!({"variables": "{\"tier\": 1}"})),
        )
        .await;
    assert_eq!(g.status, StatusCode::OK);
    let script = api
        .admin("GET", &format!("/api/v2/inventories/{lab}/script/"), None)
        .await;
    assert_eq!(
        script.body,
        json!({
            "all": {"vars": {"region": "eu"}, "hosts": [], "children": ["db", "frontend", "web"]},
            "frontend": {"hosts": ["web2"]},
            "web": {"hosts": ["web1"], "children": ["frontend"], "vars": {"tier": 1}},
        })
    );
    let script = api
        .admin(
            "GET",
            &format!("/api/v2/inventories/{lab}/script/?hostvars=1&towervars=1&all=1"),
            None,
        )
        .await;
    assert_eq!(script.body["db"], json!({"hosts": ["db1"]}));
    assert_eq!(
        script.body["_meta"]["hostvars"]["web1"],
        json!({"port": 80, "remote_host_enabled": "true", "remote_host_id": id(&w, "web1"),
               "remote_tower_enabled": "true", "remote_tower_id": id(&w, "web1")})
    );
    assert_eq!(
        script.body["_meta"]["hostvars"]["db1"]["remote_tower_enabled"],
        "false"
    );
    let one = api
        .admin(
            "GET",
            &format!("/api/v2/inventories/{lab}/script/?host=web1"),
            None,
        )
        .await;
    assert_eq!(one.body, json!({"port": 80}));
    let gone = api
        .admin(
            "GET",
            &format!("/api/v2/inventories/{lab}/script/?host=db1"),
            None,
        )
        .await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND, "disabled without ?all");
    let s = smart(&api, id(&w, "ops"), "webs", "name__startswith=web").await;
    let script = api
        .admin(
            "GET",
            &format!("/api/v2/inventories/{s}/script/?hostvars=1"),
            None,
        )
        .await;
    assert_eq!(script.body["all"]["hosts"], json!(["web1", "web2"]));
    assert_eq!(
        script.body["_meta"]["hostvars"]["web1"],
        json!({"port": 80})
    );

    let tree = api
        .admin("GET", &format!("/api/v2/inventories/{lab}/tree/"), None)
        .await;
    let roots: Vec<&str> = tree
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["name"].as_str().unwrap())
        .collect();
    assert_eq!(roots, ["db", "web"]);
    assert_eq!(tree.body[1]["children"][0]["name"], "frontend");
    assert_eq!(tree.body[1]["children"][0]["children"], json!([]));
    assert_eq!(tree.body[1]["type"], "group");
    let roots = api
        .admin(
            "GET",
            &format!("/api/v2/inventories/{lab}/root_groups/"),
            None,
        )
        .await;
    assert_eq!(names(&roots.body), ["db", "web"]);

    let all = api
        .admin(
            "GET",
            &format!("/api/v2/groups/{}/all_hosts/", id(&w, "web")),
            None,
        )
        .await;
    assert_eq!(names(&all.body), ["web1", "web2"]);
    let pot = api
        .admin(
            "GET",
            &format!("/api/v2/groups/{}/potential_children/", id(&w, "frontend")),
            None,
        )
        .await;
    assert_eq!(names(&pot.body), ["db"], "not itself nor its parents");
    let groups = api
        .admin(
            "GET",
            &format!("/api/v2/hosts/{}/all_groups/", id(&w, "web2")),
            None,
        )
        .await;
    assert_eq!(names(&groups.body), ["frontend", "web"]);
    let host = api
        .admin("GET", &format!("/api/v2/hosts/{}/", id(&w, "web2")), None)
        .await;
    for link in [
        "all_groups",
        "smart_inventories",
        "ansible_facts",
        "variable_data",
    ] {
        assert_eq!(
            host.body["related"][link],
            format!("/api/v2/hosts/{}/{link}/", id(&w, "web2"))
        );
    }
}

#[tokio::test]
async fn variable_data_reads_and_writes_json_and_yaml() {
    let api = Api::new().await;
    let w = world(&api).await;
    let lab = id(&w, "lab");
    let path = format!("/api/v2/inventories/{lab}/variable_data/");
    let r = api.admin("GET", &path, None).await;
    assert_eq!(r.body, json!({"region": "eu"}));
    let r = api
        .admin("PUT", &path, Some(json!({"region": "us", "n": 2})))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body, json!({"region": "us", "n": 2}));
    let inv = api
        .admin("GET", &format!("/api/v2/inventories/{lab}/"), None)
        .await;
    let stored: Value = serde_json::from_str(inv.body["variables"].as_str().unwrap()).unwrap();
    assert_eq!(stored, json!({"region": "us", "n": 2}));

    let hpath = format!("/api/v2/hosts/{}/variable_data/", id(&w, "web2"));
    let r = api
        .raw(
            "PATCH",
            &hpath,
            ("admin", ADMIN_PW),
            "application/yaml",
            "a: 1\nb: [x, y]\n",
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let yaml = api
        .admin("GET", &format!("{hpath}?format=yaml"), None)
        .await;
    assert_eq!(yaml.headers["content-type"], "application/yaml");
    let back: Value = serde_norway::from_str(&yaml.text).unwrap();
    assert_eq!(back, json!({"a": 1, "b": ["x", "y"]}));
    let gpath = format!("/api/v2/groups/{}/variable_data/", id(&w, "db"));
    api.user("bob", "pw-bob").await;
    let before = api.snapshot().await;
    let r = api.admin("PUT", &gpath, Some(json!([1, 2]))).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        r.body,
        json!({"variables": ["Input type `list` is not a dictionary"]})
    );
    let r = api
        .call(
            "PUT",
            &gpath,
            Some(("bob", "pw-bob")),
            Some(json!({"x": 1})),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(api.snapshot().await, before);
}
