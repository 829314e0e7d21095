//! End-to-end: inventory sources and their updates, as a user drives them with the unmodified
//! `awx` CLI and the `awx.awx` collection: an SCM source's file synced into an inventory by the
//! real `ansible-inventory` in the execution environment (hosts, groups, variables, children),
//! `overwrite` removing what left the file and keeping what was typed by hand, a script
//! source, a failing sync, AWX's validation of sources, and the sub-lists that say which
//! source brought a host or group in.

mod inv;
use inv::*;

const INI_V1: &str = "\
[web]
web1 http_port=80
web2:2222

[db]
db1

[dc:children]
web
db

[dc:vars]
region=eu

[all:vars]
env=prod
";

/// The same source after web2 and the db group left it, and web1's variable changed.
const INI_V2: &str = "\
[web]
web1 http_port=8080

[dc:children]
web

[dc:vars]
region=eu
";

#[test]
fn an_scm_source_syncs_through_the_cli_and_overwrite_removes_what_left_it() {
    let lab = Lab::start();
    let s = &lab.s;
    let (project, dir) = scm_project(&lab, "invsrc", &[("hosts.ini", INI_V1, 0o644)]);
    let inv = lab.inventory("Synced", &[("typed-by-hand", json!({"mine": 1}))]);

    let made = s.awx_json(&[
        "inventory_sources",
        "create",
        "--name",
        "from-git",
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
    ]);
    let src = made["id"].as_i64().expect("id");
    assert_eq!(made["type"], "inventory_source", "{made}");
    assert_eq!(made["status"], "never updated", "{made}");
    assert_eq!(made["verbosity"], 1, "AWX's default verbosity: {made}");
    let detail = s.admin(
        "GET",
        &format!("/api/v2/inventory_sources/{src}/"),
        None,
        200,
    );
    for link in [
        "update",
        "inventory_updates",
        "hosts",
        "groups",
        "credentials",
        "inventory",
    ] {
        assert!(
            detail["related"][link].is_string(),
            "related.{link}: {detail}"
        );
    }

    let out = s.awx(&["inventory_sources", "update", &src.to_string(), "--monitor"]);
    assert!(
        out.code == 0,
        "awx inventory_sources update --monitor: {out}"
    );
    let updates = lab.all(&format!(
        "/api/v2/inventory_sources/{src}/inventory_updates/"
    ));
    assert_eq!(updates.len(), 1, "{updates:?}");
    let uid = updates[0]["id"].as_i64().unwrap();
    let update = lab.wait_on(UPDATES, uid, Duration::from_secs(120));
    assert_eq!(update["status"], "successful", "{update}");
    assert_eq!(update["type"], "inventory_update");
    assert_eq!(update["source"], "scm");
    assert_eq!(update["inventory_source"], src);
    assert_eq!(update["inventory"], inv);
    assert_eq!(
        update["name"], "Synced - from-git",
        "AWX names it <inventory> - <source>"
    );
    assert_eq!(update["launched_by"]["name"], "admin", "{update}");
    let args = job_args(&update);
    assert_eq!(
        args[..3],
        ["ansible-inventory", "--list", "--export"],
        "{args:?}"
    );
    assert!(
        args.iter().any(|a| a.ends_with("project/hosts.ini")),
        "{args:?}"
    );

    // What the file held is now the inventory's.
    let hosts = names(&lab, &format!("/api/v2/inventories/{inv}/hosts/"));
    assert_eq!(hosts, set(&["db1", "typed-by-hand", "web1", "web2"]));
    let groups = names(&lab, &format!("/api/v2/inventories/{inv}/groups/"));
    assert_eq!(groups, set(&["db", "dc", "web"]));
    let web1 = one(&lab, &format!("/api/v2/inventories/{inv}/hosts/?name=web1"));
    assert_eq!(vars(&web1)["http_port"], 80, "{web1}");
    assert_eq!(web1["description"], "imported");
    let web2 = one(&lab, &format!("/api/v2/inventories/{inv}/hosts/?name=web2"));
    assert_eq!(
        vars(&web2)["ansible_port"],
        2222,
        "host:port is ansible_port: {web2}"
    );
    let dc = one(&lab, &format!("/api/v2/inventories/{inv}/groups/?name=dc"));
    assert_eq!(vars(&dc)["region"], "eu");
    let dc_id = dc["id"].as_i64().unwrap();
    assert_eq!(
        names(&lab, &format!("/api/v2/groups/{dc_id}/children/")),
        set(&["db", "web"])
    );
    let web = one(&lab, &format!("/api/v2/inventories/{inv}/groups/?name=web"));
    let web_id = web["id"].as_i64().unwrap();
    assert_eq!(
        names(&lab, &format!("/api/v2/groups/{web_id}/hosts/")),
        set(&["web1", "web2"])
    );
    let inventory = s.admin("GET", &format!("/api/v2/inventories/{inv}/"), None, 200);
    assert_eq!(vars(&inventory)["env"], "prod", "all's vars: {inventory}");

    // Which source brought each in.
    let w1 = web1["id"].as_i64().unwrap();
    assert_eq!(
        names(&lab, &format!("/api/v2/hosts/{w1}/inventory_sources/")),
        set(&["from-git"])
    );
    assert_eq!(
        names(&lab, &format!("/api/v2/groups/{dc_id}/inventory_sources/")),
        set(&["from-git"])
    );
    let hand = one(
        &lab,
        &format!("/api/v2/inventories/{inv}/hosts/?name=typed-by-hand"),
    );
    let hand_id = hand["id"].as_i64().unwrap();
    assert!(lab
        .all(&format!("/api/v2/hosts/{hand_id}/inventory_sources/"))
        .is_empty());
    assert_eq!(
        names(
            &lab,
            &format!("/api/v2/inventories/{inv}/inventory_sources/")
        ),
        set(&["from-git"])
    );
    // The source shows its last update.
    let source = s.admin(
        "GET",
        &format!("/api/v2/inventory_sources/{src}/"),
        None,
        200,
    );
    assert_eq!(source["status"], "successful", "{source}");
    assert_eq!(source["last_update_failed"], false);
    assert_eq!(
        source["summary_fields"]["last_update"]["id"], uid,
        "{source}"
    );

    // Its output: ansible-inventory's run, then the import's log; events numbered from 1.
    let stdout = s.awx(&["inventory_updates", "stdout", &uid.to_string()]);
    assert!(stdout.code == 0, "{stdout}");
    assert!(
        stdout.stdout.contains("Loaded 3 groups, 3 hosts"),
        "{stdout}"
    );
    assert!(
        stdout
            .stdout
            .contains("Inventory import completed for from-git"),
        "{stdout}"
    );
    let events = lab.all(&format!(
        "/api/v2/inventory_updates/{uid}/events/?order_by=counter"
    ));
    let counters: Vec<i64> = events
        .iter()
        .map(|e| e["counter"].as_i64().unwrap())
        .collect();
    assert_eq!(counters, (1..=events.len() as i64).collect::<Vec<_>>());
    assert_eq!(events.last().unwrap()["inventory_update"], uid);

    // The file changes: overwrite removes web2, the db group and db1, and web1's new value
    // replaces the old; what was typed by hand stays.
    commit(&dir, &[("hosts.ini", INI_V2, 0o644)]);
    update_project(&lab, project);
    let again = s.admin(
        "POST",
        &format!("/api/v2/inventory_sources/{src}/update/"),
        Some(json!({})),
        202,
    );
    assert_eq!(again["type"], "inventory_update", "{again}");
    let uid2 = again["inventory_update"]
        .as_i64()
        .expect("inventory_update");
    assert_eq!(again["id"], uid2);
    let u2 = lab.wait_on(UPDATES, uid2, Duration::from_secs(120));
    assert_eq!(u2["status"], "successful", "{u2}");
    let hosts = names(&lab, &format!("/api/v2/inventories/{inv}/hosts/"));
    assert_eq!(hosts, set(&["typed-by-hand", "web1"]));
    let groups = names(&lab, &format!("/api/v2/inventories/{inv}/groups/"));
    assert_eq!(groups, set(&["dc", "web"]));
    assert_eq!(
        names(&lab, &format!("/api/v2/groups/{dc_id}/children/")),
        set(&["web"])
    );
    assert_eq!(
        names(&lab, &format!("/api/v2/groups/{web_id}/hosts/")),
        set(&["web1"])
    );
    let web1 = one(&lab, &format!("/api/v2/inventories/{inv}/hosts/?name=web1"));
    assert_eq!(vars(&web1)["http_port"], 8080, "{web1}");
    assert_eq!(
        web1["id"].as_i64(),
        Some(w1),
        "the same host, updated in place"
    );
    let hand = one(
        &lab,
        &format!("/api/v2/inventories/{inv}/hosts/?name=typed-by-hand"),
    );
    assert_eq!(vars(&hand)["mine"], 1);

    // `update_inventory_sources` runs every source of the inventory.
    let all = s.admin(
        "GET",
        &format!("/api/v2/inventories/{inv}/update_inventory_sources/"),
        None,
        200,
    );
    assert_eq!(all, json!([{"inventory_source": src, "can_update": true}]));
    let started = s.admin(
        "POST",
        &format!("/api/v2/inventories/{inv}/update_inventory_sources/"),
        Some(json!({})),
        200,
    );
    assert_eq!(started[0]["status"], "started", "{started}");
    let uid3 = started[0]["inventory_update"].as_i64().unwrap();
    let u3 = lab.wait_on(UPDATES, uid3, Duration::from_secs(120));
    assert_eq!(u3["status"], "successful", "{u3}");
    // The updates are unified jobs: listed with the others.
    let unified = lab.all("/api/v2/unified_jobs/");
    let updates = unified
        .iter()
        .filter(|j| j["type"] == "inventory_update")
        .count();
    assert_eq!(updates, 3, "{unified:?}");
}

#[test]
fn a_script_source_and_a_failing_one() {
    let lab = Lab::start();
    let s = &lab.s;
    let script = r#"#!/bin/sh
if [ "$1" = "--list" ]; then
cat <<'EOF'
{"app": {"hosts": ["s1", "s2"], "vars": {"tier": "front"}},
 "_meta": {"hostvars": {"s1": {"power": "on"}, "s2": {"power": "off"}}}}
EOF
else
echo '{}'
fi
"#;
    let broken = "#!/bin/sh\necho 'this source is broken' >&2\nexit 3\n";
    let (project, _) = scm_project(
        &lab,
        "scripts",
        &[("inv.sh", script, 0o755), ("broken.sh", broken, 0o755)],
    );
    let inv = lab.inventory("Scripted", &[]);
    let src = s.admin(
        "POST",
        "/api/v2/inventory_sources/",
        Some(
            json!({"name": "script", "inventory": inv, "source": "scm", "source_project": project,
                    "source_path": "inv.sh", "enabled_var": "power", "enabled_value": "on"}),
        ),
        201,
    );
    let src = src["id"].as_i64().unwrap();
    let u = s.admin(
        "POST",
        &format!("/api/v2/inventory_sources/{src}/update/"),
        None,
        202,
    );
    let u = lab.wait_on(UPDATES, u["id"].as_i64().unwrap(), Duration::from_secs(120));
    assert_eq!(u["status"], "successful", "{u}");
    let hosts = lab.all(&format!("/api/v2/inventories/{inv}/hosts/"));
    let enabled: BTreeSet<(String, bool)> = hosts
        .iter()
        .map(|h| {
            (
                h["name"].as_str().unwrap().to_string(),
                h["enabled"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        enabled,
        BTreeSet::from([("s1".to_string(), true), ("s2".to_string(), false)]),
        "enabled_var/enabled_value decide enabled"
    );
    let app = one(&lab, &format!("/api/v2/inventories/{inv}/groups/?name=app"));
    assert_eq!(vars(&app)["tier"], "front");

    // A source that fails: the update fails with ansible-inventory's complaint, and the
    // inventory keeps what it had.
    let bad = s.admin(
        "POST",
        "/api/v2/inventory_sources/",
        Some(
            json!({"name": "broken", "inventory": inv, "source": "scm", "source_project": project,
                    "source_path": "broken.sh", "overwrite": true}),
        ),
        201,
    );
    let bad = bad["id"].as_i64().unwrap();
    let u = s.admin(
        "POST",
        &format!("/api/v2/inventory_sources/{bad}/update/"),
        None,
        202,
    );
    let uid = u["id"].as_i64().unwrap();
    let u = lab.wait_on(UPDATES, uid, Duration::from_secs(120));
    assert_eq!(u["status"], "failed", "{u}");
    assert_eq!(u["failed"], true);
    let out = lab.stdout_on(UPDATES, uid);
    assert!(
        out.contains("broken.sh"),
        "the output names the source:\n{out}"
    );
    assert_eq!(
        names(&lab, &format!("/api/v2/inventories/{inv}/hosts/")),
        set(&["s1", "s2"])
    );
    let source = s.admin(
        "GET",
        &format!("/api/v2/inventory_sources/{bad}/"),
        None,
        200,
    );
    assert_eq!(source["status"], "failed", "{source}");
    assert_eq!(source["last_update_failed"], true, "{source}");
}

#[test]
fn sources_are_validated_as_awx_validates_them() {
    let lab = Lab::start();
    let s = &lab.s;
    let inv = lab.inventory("Checked", &[]);
    let manual = lab.project("manual", &[("x.yml", "- hosts: all\n")]);
    let (git, _) = scm_project(&lab, "gitsrc", &[("hosts", "h1\n", 0o644)]);
    let machine = lab.credential("m", "Machine", json!({"username": "u"}));
    let post =
        |body: Value, want: u16| s.admin("POST", "/api/v2/inventory_sources/", Some(body), want);
    let base = |extra: Value| merge(json!({"name": "x", "inventory": inv}), extra);
    let e = post(base(json!({"source": "scm"})), 400);
    assert_eq!(
        e,
        json!({"source_project": ["Project required for scm type sources."]})
    );
    let e = post(
        base(json!({"source": "scm", "source_project": manual})),
        400,
    );
    assert_eq!(
        e,
        json!({"source_project": ["Cannot use manual project for SCM-based inventory."]})
    );
    let e = post(base(json!({"source": "ec2", "source_path": "a.yml"})), 400);
    assert_eq!(
        e,
        json!({"detail": "Cannot set source_path if not SCM type."})
    );
    let e = post(base(json!({"source": "ec2", "credential": machine})), 400);
    assert_eq!(
        e,
        json!({"credential": ["Cloud-based inventory sources (such as ec2) require credentials for the matching cloud service."]})
    );
    let e = post(base(json!({"source": "vmware"})), 400);
    assert_eq!(
        e,
        json!({"credential": ["Credential is required for a cloud source."]})
    );
    let e = post(
        base(json!({"source": "scm", "source_project": git, "source_vars": "HOME: /tmp"})),
        400,
    );
    assert_eq!(
        e,
        json!({"source_vars": ["`HOME` is a prohibited environment variable"]})
    );
    let e = post(base(json!({"source": "constructed"})), 400);
    assert_eq!(
        e,
        json!({"error": "constructed not a valid source for inventory"})
    );
    let e = post(base(json!({"source": "nope"})), 400);
    assert!(
        e["source"][0]
            .as_str()
            .unwrap()
            .contains("not a valid choice"),
        "{e}"
    );
    let e = post(json!({"name": "x", "source": "ec2"}), 400);
    assert!(e["inventory"].is_array(), "{e}");
    // Nothing of those was kept.
    assert!(lab.all("/api/v2/inventory_sources/").is_empty());

    // An ec2 source without a credential is fine (AWX allows an instance role); a file source
    // cannot be updated.
    let ec2 = post(
        base(json!({"source": "ec2", "source_vars": "regions: [eu-west-1]"})),
        201,
    );
    assert_eq!(ec2["source"], "ec2");
    let same = post(base(json!({"source": "ec2"})), 400);
    assert!(
        same["__all__"].is_array() || same["name"].is_array(),
        "{same}"
    );
    let file = post(
        json!({"name": "f", "inventory": inv, "source": "file"}),
        201,
    );
    let fid = file["id"].as_i64().unwrap();
    let can = s.admin(
        "GET",
        &format!("/api/v2/inventory_sources/{fid}/update/"),
        None,
        200,
    );
    assert_eq!(can, json!({"can_update": false}));
    s.admin(
        "POST",
        &format!("/api/v2/inventory_sources/{fid}/update/"),
        None,
        405,
    );
    // The inventory is fixed once made.
    let other = lab.inventory("Other", &[]);
    let moved = s.admin(
        "PATCH",
        &format!("/api/v2/inventory_sources/{fid}/"),
        Some(json!({"inventory": other, "description": "d"})),
        200,
    );
    assert_eq!(moved["inventory"], inv, "{moved}");
    assert_eq!(moved["description"], "d");
    // A host's sources are listed, never attached by hand.
    let h = s.admin(
        "POST",
        "/api/v2/hosts/",
        Some(json!({"name": "h", "inventory": inv})),
        201,
    );
    let hid = h["id"].as_i64().unwrap();
    s.admin(
        "POST",
        &format!("/api/v2/hosts/{hid}/inventory_sources/"),
        Some(json!({"id": fid})),
        405,
    );
}
