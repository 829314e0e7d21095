//! End-to-end: inventory sources and their updates, as a user drives them with the unmodified
//! `awx` CLI and the `awx.awx` collection: an SCM source's file synced into an inventory by the
//! real `ansible-inventory` in the execution environment (hosts, groups, variables, children),
//! `overwrite` removing what left the file and keeping what was typed by hand, a script
//! source, a failing sync, AWX's validation of sources, and the sub-lists that say which
//! source brought a host or group in.

use rawx_testkit::clients::ansible_playbook;
use rawx_testkit::collection::collections;
use rawx_testkit::lab::*;
use rawx_testkit::{Server, ADMIN_PW};
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

const UPDATES: &str = "inventory_updates";

/// A git project: a repository the test commits `files` to, checked out by the project's
/// first update (waited for). Returns the project and the repository's directory.
fn scm_project(lab: &Lab, name: &str, files: &[(&str, &str, u32)]) -> (i64, PathBuf) {
    let dir = lab.s.data.join("repos").join(name);
    std::fs::create_dir_all(&dir).unwrap();
    git(&dir, &["init", "--quiet", "--initial-branch=main"]);
    commit(&dir, files);
    let p = lab.s.admin(
        "POST",
        "/api/v2/projects/",
        Some(
            json!({"name": name, "organization": lab.org["id"], "scm_type": "git",
                    "scm_url": format!("file://{}", dir.display())}),
        ),
        201,
    );
    let id = p["id"].as_i64().unwrap();
    wait_project(lab, id);
    (id, dir)
}

fn git(dir: &Path, args: &[&str]) {
    let out = Command::new("git")
        .args(["-c", "user.name=T", "-c", "user.email=t@example.com"])
        .args(args)
        .current_dir(dir)
        .output()
        .expect("git");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn commit(dir: &Path, files: &[(&str, &str, u32)]) {
    write_files(dir, files);
    git(dir, &["add", "-A"]);
    git(dir, &["commit", "--quiet", "-m", "change"]);
}

/// Waits for the project's latest update to succeed.
fn wait_project(lab: &Lab, id: i64) {
    rawx_testkit::eventually(Duration::from_secs(120), || {
        let p = lab
            .s
            .admin("GET", &format!("/api/v2/projects/{id}/"), None, 200);
        (p["status"] == "successful").then_some(())
    });
}

/// A new commit checked out: the project updated before the next sync.
fn update_project(lab: &Lab, id: i64) {
    let u = lab.s.admin(
        "POST",
        &format!("/api/v2/projects/{id}/update/"),
        Some(json!({})),
        202,
    );
    let uid = u["id"].as_i64().unwrap();
    let done = wait_final_on(&lab.s, "project_updates", uid, Duration::from_secs(120));
    assert_eq!(done["status"], "successful", "{done}");
}

fn write_files(dir: &Path, files: &[(&str, &str, u32)]) {
    use std::os::unix::fs::PermissionsExt;
    for (path, content, mode) in files {
        let p = dir.join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, content).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(*mode)).unwrap();
    }
}

fn names(lab: &Lab, path: &str) -> BTreeSet<String> {
    lab.all(path)
        .iter()
        .map(|o| o["name"].as_str().unwrap_or_default().to_string())
        .collect()
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

fn vars(o: &Value) -> Value {
    let text = o["variables"].as_str().unwrap_or_default();
    serde_json::from_str(text).unwrap_or_else(|_| json!({}))
}

fn one(lab: &Lab, path: &str) -> Value {
    let list = lab.all(path);
    assert_eq!(list.len(), 1, "{path}: {list:?}");
    list[0].clone()
}

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

/// Runs `tasks` on localhost through the collection; each task's (changed, failed, result).
fn play(srv: &Server, dir: &Path, tasks: &str) -> Vec<(bool, bool, Value)> {
    let book = format!("- hosts: localhost\n  gather_facts: false\n  tasks:\n{tasks}");
    std::fs::write(dir.join("play.yml"), book).unwrap();
    std::fs::write(
        dir.join("inventory"),
        "localhost ansible_connection=local ansible_python_interpreter=\"{{ ansible_playbook_python }}\"\n",
    )
    .unwrap();
    let out = ansible_playbook(
        dir,
        &["-i", "inventory", "play.yml"],
        &[
            ("ANSIBLE_COLLECTIONS_PATH", collections().to_str().unwrap()),
            ("ANSIBLE_STDOUT_CALLBACK", "ansible.posix.json"),
            ("ANSIBLE_LOCALHOST_WARNING", "false"),
            ("CONTROLLER_HOST", &srv.url),
            ("CONTROLLER_USERNAME", "admin"),
            ("CONTROLLER_PASSWORD", ADMIN_PW),
        ],
    );
    let doc: Value = serde_json::from_str(&out.stdout)
        .unwrap_or_else(|e| panic!("json callback output ({e}):\n{out}"));
    doc["plays"][0]["tasks"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .map(|t| {
            let r = t["hosts"]["localhost"].clone();
            (
                r["changed"].as_bool().unwrap_or(false),
                r["failed"].as_bool().unwrap_or(false),
                r,
            )
        })
        .collect()
}

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
