//! End to end: smart inventories made with the real `awx` CLI and the `awx.awx` collection's
//! `inventory` module, answering the right hosts, a job run through the real
//! `ansible-runner` on exactly those hosts; and facts (`use_fact_cache`) stored by one job,
//! fed to the next, filtered on by a smart inventory, cleared as AWX clears them.

use rawx_testkit::lab::{local_vars, Lab};
use serde_json::{json, Value};

fn names_of(list: &Value) -> Vec<String> {
    let mut v: Vec<String> = list["results"]
        .as_array()
        .unwrap_or_else(|| panic!("not a list: {list}"))
        .iter()
        .map(|r| r["name"].as_str().unwrap().to_string())
        .collect();
    v.sort();
    v
}

/// Runs `tasks` on localhost through the collection; returns each task's result.
fn play(lab: &Lab, tasks: &str) -> Vec<Value> {
    let dir = tempfile::tempdir().unwrap();
    let (_, tasks) = rawx_testkit::collection::play(&lab.s, dir.path(), tasks, &[]);
    tasks.into_iter().map(|t| t.result).collect()
}

const SHOW: &str = "- hosts: all\n  gather_facts: false\n  tasks:\n    - debug:\n        msg: \"ran on {{ inventory_hostname }} zone={{ zone | default('none') }}\"\n";

#[test]
fn a_smart_inventory_made_by_the_cli_and_the_collection_runs_a_job_on_its_hosts() {
    let lab = Lab::start();
    let zone = |z: &str| rawx_testkit::lab::merge(local_vars(), json!({ "zone": z }));
    lab.inventory(
        "Lab",
        &[("web1", zone("a")), ("web2", zone("b")), ("db1", zone("a"))],
    );
    lab.inventory("Edge", &[("web3", zone("c"))]);
    let project = lab.project("show", &[("show.yml", SHOW)]);

    // The CLI: create, read, change; a bad filter is refused with AWX's message.
    let smart = lab.s.awx_json(&[
        "inventory",
        "create",
        "--name",
        "webs",
        "--organization",
        "Ops",
        "--kind",
        "smart",
        "--host_filter",
        "name__startswith=web",
    ]);
    assert_eq!(smart["kind"], "smart", "{smart}");
    let sid = smart["id"].as_i64().unwrap();
    let got = lab.s.awx_json(&["inventory", "get", "webs"]);
    assert_eq!(got["total_hosts"], 3, "{got}");
    let hosts = lab.s.admin(
        "GET",
        &format!("/api/v2/inventories/{sid}/hosts/"),
        None,
        200,
    );
    assert_eq!(names_of(&hosts), ["web1", "web2", "web3"]);
    let bad = lab.s.awx(&[
        "inventory",
        "create",
        "--name",
        "bad",
        "--organization",
        "Ops",
        "--kind",
        "smart",
        "--host_filter",
        "name=(web",
    ]);
    assert_ne!(bad.code, 0);
    assert!(bad.all().contains("Invalid query name=(web"), "{bad}");
    let refused = lab
        .s
        .awx(&["hosts", "create", "--name", "x", "--inventory", "webs"]);
    assert_ne!(refused.code, 0);
    assert!(
        refused
            .all()
            .contains("Cannot create Host for Smart or Constructed Inventories"),
        "{refused}"
    );
    // A filter naming no field of hosts is refused and the stored one stays.
    let refused = lab.s.awx(&[
        "inventory",
        "modify",
        "webs",
        "--host_filter",
        "zone_is_not_a_field=1",
    ]);
    assert_ne!(refused.code, 0, "{refused}");
    assert_eq!(
        lab.s.awx_json(&["inventory", "get", "webs"])["host_filter"],
        "name__startswith=web"
    );
    let modified = lab.s.awx(&[
        "inventory",
        "modify",
        "webs",
        "--host_filter",
        "groups__name=edge or name=web1 or inventory__name=Edge",
    ]);
    assert_eq!(modified.code, 0, "{modified}");
    let hosts = lab.s.admin(
        "GET",
        &format!("/api/v2/inventories/{sid}/hosts/"),
        None,
        200,
    );
    assert_eq!(names_of(&hosts), ["web1", "web3"]);

    // The collection's `inventory` module, twice (the second run changes nothing).
    let task = "    - awx.awx.inventory:\n        name: dbs\n        organization: Ops\n        kind: smart\n        host_filter: \"name=db1 or name=web2\"\n";
    let first = play(&lab, task);
    assert_eq!(first[0]["changed"], true, "{first:?}");
    let again = play(&lab, task);
    assert_eq!(again[0]["changed"], false, "{again:?}");
    let dbs = lab
        .s
        .admin("GET", "/api/v2/inventories/?name=dbs", None, 200);
    assert_eq!(dbs["results"][0]["kind"], "smart");
    assert_eq!(dbs["results"][0]["total_hosts"], 2);

    // A job on the smart inventory runs on its hosts only, with their own variables.
    let jt = lab.jt("show webs", project, sid, "show.yml", json!({}));
    let job = lab.launch(jt);
    lab.wait_status(job, "successful");
    let out = lab.stdout(job);
    assert!(out.contains("ran on web1 zone=a"), "{out}");
    assert!(out.contains("ran on web3 zone=c"), "{out}");
    assert!(!out.contains("web2") && !out.contains("db1"), "{out}");
    let summaries = lab.summaries(job);
    assert_eq!(
        summaries.keys().collect::<Vec<_>>(),
        ["web1", "web3"],
        "{summaries:?}"
    );
    // Each summary names the real host (of Lab or Edge).
    let web3 = lab.s.admin("GET", "/api/v2/hosts/?name=web3", None, 200);
    assert_eq!(summaries["web3"]["host"], web3["results"][0]["id"]);
    let theirs = lab.s.admin(
        "GET",
        &format!(
            "/api/v2/hosts/{}/smart_inventories/",
            web3["results"][0]["id"]
        ),
        None,
        200,
    );
    assert_eq!(names_of(&theirs), ["webs"]);
}

const REMEMBER: &str = "- hosts: all\n  gather_facts: false\n  tasks:\n    - set_fact:\n        color: \"{{ inventory_hostname }}-blue\"\n        cacheable: true\n";
const RECALL: &str = "- hosts: all\n  gather_facts: false\n  tasks:\n    - debug:\n        msg: \"{{ inventory_hostname }} color={{ color | default('none') }}\"\n";
const FORGET: &str = "- hosts: all\n  gather_facts: false\n  tasks:\n    - meta: clear_facts\n";

#[test]
fn facts_stored_by_one_job_feed_the_next_and_are_cleared_as_awx_clears_them() {
    let lab = Lab::start();
    let inv = lab.inventory("Facts", &[("h1", local_vars()), ("h2", local_vars())]);
    let project = lab.project(
        "facts",
        &[
            ("remember.yml", REMEMBER),
            ("recall.yml", RECALL),
            ("forget.yml", FORGET),
        ],
    );
    let cache = json!({"use_fact_cache": true});
    let remember = lab.jt("remember", project, inv, "remember.yml", cache.clone());
    let recall = lab.jt("recall", project, inv, "recall.yml", cache.clone());
    let recall_plain = lab.jt("recall plain", project, inv, "recall.yml", json!({}));
    let forget = lab.jt("forget", project, inv, "forget.yml", cache);
    let host = |name: &str| {
        lab.s
            .admin("GET", &format!("/api/v2/hosts/?name={name}"), None, 200)["results"][0]
            .clone()
    };
    let h1 = host("h1")["id"].as_i64().unwrap();
    assert_eq!(host("h1")["ansible_facts_modified"], Value::Null);

    lab.wait_status(lab.launch(remember), "successful");
    let facts = lab.s.admin(
        "GET",
        &format!("/api/v2/hosts/{h1}/ansible_facts/"),
        None,
        200,
    );
    assert_eq!(facts["color"], "h1-blue", "{facts}");
    let first_stamp = host("h1")["ansible_facts_modified"].clone();
    assert!(first_stamp.is_string());

    // A smart inventory over the stored facts.
    let smart = lab.s.awx_json(&[
        "inventory",
        "create",
        "--name",
        "blue h2",
        "--organization",
        "Ops",
        "--kind",
        "smart",
        "--host_filter",
        "ansible_facts__color=h2-blue",
    ]);
    let hosts = lab.s.admin(
        "GET",
        &format!("/api/v2/inventories/{}/hosts/", smart["id"]),
        None,
        200,
    );
    assert_eq!(names_of(&hosts), ["h2"]);

    // The next job with a fact cache sees them; one without does not.
    let job = lab.launch(recall);
    lab.wait_status(job, "successful");
    let out = lab.stdout(job);
    assert!(
        out.contains("h1 color=h1-blue") && out.contains("h2 color=h2-blue"),
        "{out}"
    );
    assert_eq!(
        host("h1")["ansible_facts_modified"],
        first_stamp,
        "facts the job did not change keep their time"
    );
    let job = lab.launch(recall_plain);
    lab.wait_status(job, "successful");
    assert!(lab.stdout(job).contains("h1 color=none"));

    // Expired facts are not handed to a job, and come back cleared (their file is gone).
    lab.s.admin(
        "PATCH",
        "/api/v2/settings/jobs/",
        Some(json!({"ANSIBLE_FACT_CACHE_TIMEOUT": 1})),
        200,
    );
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let job = lab.launch(recall);
    lab.wait_status(job, "successful");
    assert!(
        lab.stdout(job).contains("h1 color=none"),
        "{}",
        lab.stdout(job)
    );
    let facts = lab.s.admin(
        "GET",
        &format!("/api/v2/hosts/{h1}/ansible_facts/"),
        None,
        200,
    );
    assert_eq!(facts, json!({}));
    lab.s.admin(
        "PATCH",
        "/api/v2/settings/jobs/",
        Some(json!({"ANSIBLE_FACT_CACHE_TIMEOUT": 0})),
        200,
    );

    // Facts again, then `clear_facts` removes the files: the facts are cleared.
    lab.wait_status(lab.launch(remember), "successful");
    assert_eq!(
        lab.s.admin(
            "GET",
            &format!("/api/v2/hosts/{h1}/ansible_facts/"),
            None,
            200
        )["color"],
        "h1-blue"
    );
    lab.wait_status(lab.launch(forget), "successful");
    let facts = lab.s.admin(
        "GET",
        &format!("/api/v2/hosts/{h1}/ansible_facts/"),
        None,
        200,
    );
    assert_eq!(facts, json!({}));
    let hosts = lab.s.admin(
        "GET",
        &format!("/api/v2/inventories/{}/hosts/", smart["id"]),
        None,
        200,
    );
    assert_eq!(hosts["count"], 0);
}
