//! End-to-end: inventory sources as the collection and launches drive them: the collection's
//! `inventory_source` and `inventory_source_update` modules, a constructed inventory made with
//! the `inventory` module grouping its inputs' hosts, and a launch that syncs its inventory
//! first and fails when the sync fails.

mod inv;
use inv::*;

#[test]
fn the_collection_makes_a_source_and_syncs_it() {
    let lab = Lab::start();
    let s = &lab.s;
    let (_, _) = scm_project(&lab, "coll-src", &[("hosts.yml", "all:\n  children:\n    edge:\n      hosts:\n        e1: {zone: a}\n        e2: {zone: b}\n", 0o644)]);
    lab.inventory("Coll", &[]);
    let work = tempfile::tempdir().unwrap();
    let tasks = r#"
    - name: source
      awx.awx.inventory_source:
        name: yaml-file
        inventory: Coll
        organization: Ops
        source: scm
        source_project: coll-src
        source_path: hosts.yml
        overwrite: true
        update_on_launch: true
        source_vars:
          SOME_SETTING: x
    - name: sync
      awx.awx.inventory_source_update:
        name: yaml-file
        inventory: Coll
        organization: Ops
        wait: true
        interval: 1
        timeout: 120
"#;
    let first = play(s, work.path(), tasks);
    assert_eq!(first.len(), 2, "{first:?}");
    assert!(first.iter().all(|(_, failed, _)| !failed), "{first:?}");
    assert!(first[0].0, "the source was made: {first:?}");
    assert_eq!(
        first[1].2["status"], "successful",
        "the module waited: {first:?}"
    );
    let uid = first[1].2["id"].as_i64().expect("update id");
    let u = s.admin(
        "GET",
        &format!("/api/v2/inventory_updates/{uid}/"),
        None,
        200,
    );
    assert_eq!(u["status"], "successful", "the module waited for it: {u}");
    let inv = s.admin("GET", "/api/v2/inventories/?name=Coll", None, 200)["results"][0]["id"]
        .as_i64()
        .unwrap();
    assert_eq!(
        names(&lab, &format!("/api/v2/inventories/{inv}/hosts/")),
        set(&["e1", "e2"])
    );
    let e2 = one(&lab, &format!("/api/v2/inventories/{inv}/hosts/?name=e2"));
    assert_eq!(vars(&e2)["zone"], "b");
    let src = one(&lab, "/api/v2/inventory_sources/?name=yaml-file");
    assert_eq!(src["update_on_launch"], true);
    assert_eq!(src["overwrite"], true);
    // Run again: the source is unchanged, the sync runs again.
    let second = play(s, work.path(), tasks);
    assert!(!second[0].0, "a second run changes nothing: {second:?}");
    assert!(!second[1].1, "{second:?}");
    assert_eq!(
        lab.all(&format!(
            "/api/v2/inventory_sources/{}/inventory_updates/",
            src["id"]
        ))
        .len(),
        2
    );
}

#[test]
fn a_constructed_inventory_groups_its_inputs_hosts() {
    let lab = Lab::start();
    let s = &lab.s;
    lab.inventory(
        "InA",
        &[
            ("a1", json!({"role": "web"})),
            ("a2", json!({"role": "db"})),
        ],
    );
    lab.inventory("InB", &[("b1", json!({"role": "web", "port": 81}))]);
    let work = tempfile::tempdir().unwrap();
    let src = "Auto-created source for: Built";
    let tasks = format!(
        r#"
    - name: constructed
      awx.awx.inventory:
        name: Built
        organization: Ops
        kind: constructed
        input_inventories: [InA, InB]
    - name: its source's variables and limit
      awx.awx.inventory_source:
        name: "{src}"
        inventory: Built
        organization: Ops
        limit: webservers
        source_vars:
          plugin: constructed
          strict: true
          groups:
            webservers: role == "web"
          compose:
            web_port: port | default(80)
    - name: sync
      awx.awx.inventory_source_update:
        name: "{src}"
        inventory: Built
        organization: Ops
        wait: true
        interval: 1
        timeout: 120
"#
    );
    let res = play(s, work.path(), &tasks);
    assert_eq!(res.len(), 3, "{res:?}");
    assert!(res.iter().all(|(_, failed, _)| !failed), "{res:?}");
    assert_eq!(res[2].2["status"], "successful", "{res:?}");
    let built = one(&lab, "/api/v2/inventories/?name=Built");
    assert_eq!(built["kind"], "constructed");
    let bid = built["id"].as_i64().unwrap();
    assert_eq!(
        names(
            &lab,
            &format!("/api/v2/inventories/{bid}/input_inventories/")
        ),
        set(&["InA", "InB"])
    );
    let source = one(
        &lab,
        &format!("/api/v2/inventories/{bid}/inventory_sources/"),
    );
    assert_eq!(source["source"], "constructed");
    assert_eq!(source["overwrite"], true);
    assert_eq!(source["update_on_launch"], true);
    // The limit kept the web hosts; the groups and composed variables are the plugin's.
    assert_eq!(
        names(&lab, &format!("/api/v2/inventories/{bid}/hosts/")),
        set(&["a1", "b1"])
    );
    let web = one(
        &lab,
        &format!("/api/v2/inventories/{bid}/groups/?name=webservers"),
    );
    let wid = web["id"].as_i64().unwrap();
    assert_eq!(
        names(&lab, &format!("/api/v2/groups/{wid}/hosts/")),
        set(&["a1", "b1"])
    );
    let b1 = one(&lab, &format!("/api/v2/inventories/{bid}/hosts/?name=b1"));
    // Composed without Jinja's native types, as AWX runs the plugin: a string.
    assert_eq!(vars(&b1)["web_port"], "81", "{b1}");
    assert!(
        vars(&b1).get("remote_tower_id").is_none(),
        "AWX strips the input's ids: {b1}"
    );
    let input_b1 = one(&lab, "/api/v2/hosts/?name=b1&inventory__name=InB");
    assert_eq!(
        b1["instance_id"],
        input_b1["id"].to_string(),
        "the input host's id is the instance id"
    );
    // Sources cannot be added by hand to a constructed inventory, nor a constructed one used
    // as an input.
    let e = s.admin(
        "POST",
        "/api/v2/inventory_sources/",
        Some(json!({"name": "x", "inventory": bid, "source": "ec2"})),
        400,
    );
    assert_eq!(
        e,
        json!({"inventory": {"detail": ["Cannot create Inventory Source for Smart or Constructed Inventories"]}})
    );
    let other = s.admin(
        "POST",
        "/api/v2/inventories/",
        Some(json!({"name": "Built2", "organization": lab.org["id"], "kind": "constructed"})),
        201,
    );
    let e = s.admin(
        "POST",
        &format!("/api/v2/inventories/{}/input_inventories/", other["id"]),
        Some(json!({"id": bid})),
        400,
    );
    assert_eq!(
        e,
        json!({"error": "You cannot add a constructed inventory to another constructed inventory."})
    );
    let sid = source["id"].as_i64().unwrap();
    let e = s.admin(
        "PATCH",
        &format!("/api/v2/inventory_sources/{sid}/"),
        Some(json!({"overwrite": false})),
        400,
    );
    assert_eq!(
        e,
        json!({"error": "Cannot change field 'overwrite' on a constructed inventory source."})
    );
}

const ON_LAUNCH_V1: &str = "\
[web]
h1

[all:vars]
ansible_connection=local
ansible_python_interpreter='{{ ansible_playbook_python }}'
";

const ON_LAUNCH_V2: &str = "\
[web]
h1
h2

[all:vars]
ansible_connection=local
ansible_python_interpreter='{{ ansible_playbook_python }}'
";

/// AWX's dependencies for inventories: a launch whose inventory has a source with
/// `update_on_launch` waits for a sync of it (one within `update_cache_timeout` is reused),
/// the sync of an SCM source first updates its project when the project updates on launch,
/// and a failing sync fails the job that waited for it, naming the sync.
#[test]
fn a_launch_syncs_its_inventory_first_and_fails_when_the_sync_fails() {
    let lab = Lab::start();
    let s = &lab.s;
    let broken = "#!/bin/sh\necho 'this source is broken' >&2\nexit 3\n";
    let (project, dir) = scm_project(
        &lab,
        "onlaunch",
        &[
            ("hosts.ini", ON_LAUNCH_V1, 0o644),
            ("broken.sh", broken, 0o755),
        ],
    );
    s.admin(
        "PATCH",
        &format!("/api/v2/projects/{project}/"),
        Some(json!({"scm_update_on_launch": true, "scm_update_cache_timeout": 0})),
        200,
    );
    let project_updates = || lab.all(&format!("/api/v2/projects/{project}/project_updates/"));
    assert_eq!(project_updates().len(), 1, "only the first checkout so far");
    let inv = lab.inventory("Synced on launch", &[]);
    let made = s.awx_json(&[
        "inventory_sources",
        "create",
        "--name",
        "on-launch",
        "--inventory",
        &inv.to_string(),
        "--source",
        "scm",
        "--source_project",
        &project.to_string(),
        "--source_path",
        "hosts.ini",
        "--overwrite",
        "true",
        "--update_on_launch",
        "true",
        "--update_cache_timeout",
        "3600",
    ]);
    let src = made["id"].as_i64().expect("id");
    assert_eq!(made["update_on_launch"], true, "{made}");
    // A commit after the project's last update: only an update before the sync brings h2.
    commit(&dir, &[("hosts.ini", ON_LAUNCH_V2, 0o644)]);

    let play = lab.project(
        "plays",
        &[(
            "hello.yml",
            "- hosts: all\n  gather_facts: false\n  tasks:\n    - debug: msg=hi\n",
        )],
    );
    let jt = lab.jt("on launch", play, inv, "hello.yml", json!({}));
    let job = lab.launch(jt);
    let done = lab.wait_for(job, Duration::from_secs(180));
    assert_eq!(done["status"], "successful", "{done}");
    let ran: BTreeSet<String> = lab.summaries(job).into_keys().collect();
    assert_eq!(ran, set(&["h1", "h2"]), "the job ran on the synced hosts");
    assert_eq!(
        names(&lab, &format!("/api/v2/inventories/{inv}/hosts/")),
        set(&["h1", "h2"])
    );
    let syncs = lab.all(&format!(
        "/api/v2/inventory_sources/{src}/inventory_updates/"
    ));
    assert_eq!(syncs.len(), 1, "{syncs:?}");
    let sync = s.admin(
        "GET",
        &format!("/api/v2/inventory_updates/{}/", syncs[0]["id"]),
        None,
        200,
    );
    assert_eq!(sync["launch_type"], "dependency", "{sync}");
    assert_eq!(sync["status"], "successful", "{sync}");
    // The sync waited for an update of its project (which updates on launch).
    let pu = sync["source_project_update"]
        .as_i64()
        .expect("source_project_update");
    let pu = s.admin("GET", &format!("/api/v2/project_updates/{pu}/"), None, 200);
    assert_eq!(pu["launch_type"], "dependency", "{pu}");
    assert_eq!(pu["project"], project, "{pu}");
    assert_eq!(sync["scm_revision"], pu["scm_revision"], "{sync}");
    assert_eq!(project_updates().len(), 2);

    // Within the cache timeout the last sync stands: the next launch makes none.
    let again = lab.launch(jt);
    let done = lab.wait_for(again, Duration::from_secs(180));
    assert_eq!(done["status"], "successful", "{done}");
    let syncs = lab.all(&format!(
        "/api/v2/inventory_sources/{src}/inventory_updates/"
    ));
    assert_eq!(syncs.len(), 1, "the cached sync is reused: {syncs:?}");

    // A source that fails: the launch fails, naming the sync it waited for.
    s.admin(
        "PATCH",
        &format!("/api/v2/inventory_sources/{src}/"),
        Some(json!({"source_path": "broken.sh", "update_cache_timeout": 0})),
        200,
    );
    let failing = lab.launch(jt);
    let done = lab.wait_for(failing, Duration::from_secs(180));
    assert_eq!(done["status"], "failed", "{done}");
    let syncs = lab.all(&format!(
        "/api/v2/inventory_sources/{src}/inventory_updates/?order_by=-id"
    ));
    assert_eq!(syncs.len(), 2, "{syncs:?}");
    assert_eq!(syncs[0]["status"], "failed", "{syncs:?}");
    let why = done["job_explanation"].as_str().unwrap_or_default();
    assert_eq!(
        why,
        format!(
            "Previous Task Failed: {{\"job_type\": \"inventory_update\", \"job_name\": \"Synced on launch - on-launch\", \"job_id\": \"{}\"}}",
            syncs[0]["id"]
        ),
        "{done}"
    );
    assert!(lab.summaries(failing).is_empty(), "the job did not run");
    assert_eq!(
        names(&lab, &format!("/api/v2/inventories/{inv}/hosts/")),
        set(&["h1", "h2"]),
        "the failed sync changed nothing"
    );
}
