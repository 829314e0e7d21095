//! End-to-end: `rawx manage` (AWX's `awx-manage`), with the server up or down: the version and
//! the anonymous ping, the data dir after the subcommand, the instance and instance-group
//! commands (SQLite and PostgreSQL: what they write is what the API shows), and `export`, held
//! equal to the real `awx export`.

use rawx_testkit::{rawx, PgDb, Server, ADMIN_PW};
use serde_json::{json, Value};

/// `rawx manage …`, `rawx --version` and the anonymous ping.
#[test]
fn manage_version_and_the_anonymous_ping() {
    let version = rawx(&["--version"]);
    assert_eq!(version.code, 0, "{version}");
    assert_eq!(
        version.stdout.trim(),
        format!("rawx {}", env!("CARGO_PKG_VERSION"))
    );

    let s = Server::start();
    let ping = s.http("GET", "/api/v2/ping/", None, None);
    assert_eq!(ping.status, 200, "{ping:?}");
    let ping = ping.json();
    assert!(ping["version"].is_string(), "{ping}");
    assert!(ping["active_node"].is_string(), "{ping}");
    let instances = ping["instances"].as_array().expect("instances");
    assert!(!instances.is_empty(), "{ping}");
    assert!(instances[0]["node"].is_string(), "{ping}");

    // Against a stopped server.
    let opts = s.opts();
    let dir = s.stop();
    let data = dir.path().to_str().unwrap().to_string();
    let out = rawx(&[
        "manage",
        "--data-dir",
        &data,
        "update-password",
        "--username",
        "admin",
        "--password",
        "new",
    ]);
    assert_eq!(out.code, 0, "{out}");
    // A restart is not a first start: RAWX_ADMIN_PASSWORD must not reset the password.
    let s = Server::start_in(dir, opts);
    assert_eq!(
        s.login_token("admin", ADMIN_PW),
        None,
        "the old password still works"
    );
    assert!(s.login_token("admin", "new").is_some());

    // Against a running server.
    let out = rawx(&[
        "manage",
        "--data-dir",
        &data,
        "update-password",
        "--username",
        "admin",
        "--password",
        "newer",
    ]);
    assert_eq!(out.code, 0, "{out}");
    assert!(s.login_token("admin", "newer").is_some());
    // That "new" stops working at once on a running server is in
    // changed_password_is_refused_at_once.

    let out = rawx(&[
        "manage",
        "--data-dir",
        &data,
        "create-superuser",
        "--username",
        "root2",
        "--password",
        "x",
    ]);
    assert_eq!(out.code, 0, "{out}");
    let me = s.awx_as("root2", "x", &["me"]);
    assert_eq!(me.code, 0, "{me}");
    let me = me.json();
    assert_eq!(me["results"][0]["username"], "root2", "{me}");
    assert_eq!(me["results"][0]["is_superuser"], true, "{me}");

    let nobody = rawx(&[
        "manage",
        "--data-dir",
        &data,
        "update-password",
        "--username",
        "nobody",
        "--password",
        "x",
    ]);
    assert_ne!(nobody.code, 0, "{nobody}");
}

#[test]
fn manage_takes_data_dir_after_the_subcommand() {
    let s = Server::start();
    let data = s.data.to_str().unwrap().to_string();
    let out = rawx(&[
        "manage",
        "update-password",
        "--username",
        "admin",
        "--password",
        "new",
        "--data-dir",
        &data,
    ]);
    assert_eq!(out.code, 0, "{out}");
    let out = rawx(&[
        "manage",
        "create-superuser",
        "--username",
        "root2",
        "--password",
        "x",
        "--data-dir",
        &data,
    ]);
    assert_eq!(out.code, 0, "{out}");
    assert!(s.login_token("admin", "new").is_some());
}

/// `rawx manage` on instances and instance groups, against a running server: what the
/// commands write is what the API shows, and `list-instances` shows what the API does.
#[test]
fn manage_instance_commands_write_what_the_api_shows() {
    let s = Server::start();
    let data = s.data.to_str().unwrap().to_string();
    let manage = |args: &[&str]| {
        let mut all = vec!["manage", "--data-dir", &data];
        all.extend_from_slice(args);
        rawx(&all)
    };
    // The task role registers this node just after start.
    let me = rawx_testkit::eventually(std::time::Duration::from_secs(30), || {
        let list = s.admin("GET", "/api/v2/instances/", None, 200);
        if list["count"].as_u64() > Some(0) && !list["results"][0]["last_seen"].is_null() {
            Ok(list["results"][0].clone())
        } else {
            Err(format!("no instance registered: {list}"))
        }
    });
    let host = me["hostname"].as_str().unwrap().to_string();

    let out = manage(&["list-instances"]);
    assert_eq!(out.code, 0, "{out}");
    let own_line = format!(
        "\t{host} capacity={} node_type={} version={} heartbeat=\"",
        me["capacity"],
        me["node_type"].as_str().unwrap(),
        env!("CARGO_PKG_VERSION")
    );
    let section = |out: &rawx_testkit::Out, head: &str| -> String {
        let start = out
            .stdout
            .find(head)
            .unwrap_or_else(|| panic!("no section {head:?}:\n{out}"));
        let rest = &out.stdout[start..];
        rest[..rest.find("\n\n").unwrap_or(rest.len())].to_string()
    };
    // A hybrid node is in both of AWX's groups.
    for group in ["[controlplane capacity=", "[default capacity="] {
        let part = section(&out, group);
        assert!(part.contains(&own_line), "{own_line:?} not in:\n{part}");
        assert!(
            part.starts_with(&format!("{group}{} policy=100%]", me["capacity"])),
            "{part}"
        );
    }

    // provision-instance: created once, then left as is; a bad node type is refused.
    let out = manage(&[
        "provision-instance",
        "--hostname",
        "exec1",
        "--node_type",
        "execution",
    ]);
    assert_eq!(out.code, 0, "{out}");
    assert!(
        out.stdout
            .contains("Successfully registered instance exec1"),
        "{out}"
    );
    let again = manage(&[
        "provision-instance",
        "--hostname",
        "exec1",
        "--node_type",
        "execution",
    ]);
    assert_eq!(again.code, 0, "{again}");
    assert!(again.stdout.contains("already registered exec1"), "{again}");
    let seen = s.admin("GET", "/api/v2/instances/?hostname=exec1", None, 200);
    assert_eq!(seen["count"], 1, "{seen}");
    assert_eq!(seen["results"][0]["node_type"], "execution", "{seen}");
    let bad = manage(&[
        "provision-instance",
        "--hostname",
        "x",
        "--node_type",
        "worker",
    ]);
    assert_ne!(bad.code, 0, "{bad}");
    assert!(bad.stderr.contains("worker"), "{bad}");
    let hop = manage(&[
        "provision-instance",
        "--hostname",
        "hop1",
        "--node_type",
        "hop",
    ]);
    assert_eq!(hop.code, 0, "{hop}");

    // register-queue: created, updated, left alone, and unknown hostnames named.
    let out = manage(&[
        "register-queue",
        "--queuename",
        "ops",
        "--instance_percent",
        "50",
    ]);
    assert_eq!(out.code, 0, "{out}");
    assert!(out.stdout.contains("Creating instance group ops"), "{out}");
    let out = manage(&[
        "register-queue",
        "--queuename",
        "ops",
        "--instance_percent",
        "30",
    ]);
    assert_eq!(out.code, 0, "{out}");
    let ops = s.admin("GET", "/api/v2/instance_groups/?name=ops", None, 200);
    assert_eq!(ops["count"], 1, "{ops}");
    assert_eq!(ops["results"][0]["policy_instance_percentage"], 30, "{ops}");
    let out = manage(&["register-queue", "--queuename", "ops"]);
    assert_eq!(out.code, 0, "{out}");
    assert!(out.stdout.contains("already registered ops"), "{out}");
    let out = manage(&[
        "register-queue",
        "--queuename",
        "ops",
        "--hostnames",
        "exec1,nope",
    ]);
    assert_eq!(out.code, 1, "{out}");
    assert!(out.stderr.contains("nope"), "{out}");
    let out = manage(&[
        "register-queue",
        "--queuename",
        "ops",
        "--instance_percent",
        "150",
    ]);
    assert_ne!(out.code, 0, "{out}");

    let out = manage(&["list-instances"]);
    assert_eq!(out.code, 0, "{out}");
    let default = section(&out, "[default capacity=");
    assert!(
        default.contains("\texec1 capacity=0 node_type=execution version=? heartbeat=never"),
        "{out}"
    );
    assert!(!section(&out, "[controlplane").contains("exec1"), "{out}");
    assert!(
        section(&out, "[ops capacity=").contains("policy=30%]"),
        "{out}"
    );
    let out = manage(&[
        "register-queue",
        "--queuename",
        "ops",
        "--instance_minimum",
        "2",
    ]);
    assert_eq!(out.code, 0, "{out}");
    assert!(out.stdout.contains("policy_instance_minimum=2"), "{out}");
    let out = manage(&["list-instances"]);
    assert!(
        section(&out, "[ops capacity=").contains("policy=30% policy>=2]"),
        "{out}"
    );
    assert!(section(&out, "[ungrouped").contains("\thop1 "), "{out}");

    // deprovision-instance: removed, then nothing to do.
    let out = manage(&["deprovision-instance", "--hostname", "exec1"]);
    assert_eq!(out.code, 0, "{out}");
    assert!(
        out.stdout.contains("Successfully deprovisioned exec1"),
        "{out}"
    );
    let seen = s.admin("GET", "/api/v2/instances/?hostname=exec1", None, 200);
    assert_eq!(seen["count"], 0, "{seen}");
    let out = manage(&["deprovision-instance", "--hostname", "exec1"]);
    assert_eq!(out.code, 0, "{out}");
    assert!(out.stdout.contains("No instance found"), "{out}");
}

/// The instance commands on PostgreSQL.
#[test]
fn manage_instance_commands_work_on_postgresql() {
    let Some(db) = PgDb::create("manage_inst") else {
        return;
    };
    let manage = |args: &[&str]| {
        let mut all = vec!["manage", "--database-url", &db.url];
        all.extend_from_slice(args);
        rawx(&all)
    };
    let out = manage(&["migrate"]);
    assert_eq!(out.code, 0, "{out}");
    let out = manage(&["register-queue", "--queuename", "default"]);
    assert_eq!(out.code, 0, "{out}");
    let out = manage(&[
        "provision-instance",
        "--hostname",
        "pg-exec",
        "--node_type",
        "execution",
    ]);
    assert_eq!(out.code, 0, "{out}");
    let out = manage(&["list-instances"]);
    assert_eq!(out.code, 0, "{out}");
    assert!(
        out.stdout
            .contains("[default capacity=0 policy=100%]\n\tpg-exec capacity=0 node_type=execution"),
        "{out}"
    );
    let out = manage(&["deprovision-instance", "--hostname", "pg-exec"]);
    assert_eq!(out.code, 0, "{out}");
    let out = manage(&["list-instances"]);
    assert!(!out.stdout.contains("pg-exec"), "{out}");
    drop(db);
}

/// `rawx manage export` writes what the real `awx export` writes for the same data (plus the
/// group members and template credentials AWX exports and awxkit does not find on rawx), with
/// secrets as `$encrypted$` and no passwords.
#[test]
fn manage_export_writes_what_awx_export_writes() {
    let s = Server::start();
    let id = |v: Value| v["id"].as_i64().unwrap();
    let org = id(s.admin(
        "POST",
        "/api/v2/organizations/",
        Some(json!({"name": "Ops"})),
        201,
    ));
    s.admin(
        "POST",
        "/api/v2/users/",
        Some(json!({"username": "bob", "password": "bobs-pw", "email": "b@x"})),
        201,
    );
    s.admin(
        "POST",
        "/api/v2/teams/",
        Some(json!({"name": "ops-team", "organization": org})),
        201,
    );
    s.admin(
        "POST",
        "/api/v2/credential_types/",
        Some(json!({"name": "token", "kind": "cloud",
                    "inputs": {"fields": [{"id": "tok", "label": "T", "secret": true}]}})),
        201,
    );
    let machine = s.admin("GET", "/api/v2/credential_types/?name=Machine", None, 200);
    let cred = id(s.admin(
        "POST",
        "/api/v2/credentials/",
        Some(json!({"name": "key", "organization": org,
                    "credential_type": machine["results"][0]["id"],
                    "inputs": {"username": "u", "password": "s3cret-pw"}})),
        201,
    ));
    std::fs::create_dir_all(s.data.join("projects/ops")).unwrap();
    std::fs::write(s.data.join("projects/ops/play.yml"), "- hosts: all\n").unwrap();
    let project = id(s.admin(
        "POST",
        "/api/v2/projects/",
        Some(json!({"name": "ops", "organization": org, "scm_type": "", "local_path": "ops"})),
        201,
    ));
    let inv = id(s.admin(
        "POST",
        "/api/v2/inventories/",
        Some(json!({"name": "Lab", "organization": org, "variables": "a: 1"})),
        201,
    ));
    let host = id(s.admin(
        "POST",
        "/api/v2/hosts/",
        Some(json!({"name": "web1", "inventory": inv})),
        201,
    ));
    let group = id(s.admin(
        "POST",
        "/api/v2/groups/",
        Some(json!({"name": "web", "inventory": inv})),
        201,
    ));
    let child = id(s.admin(
        "POST",
        "/api/v2/groups/",
        Some(json!({"name": "edge", "inventory": inv})),
        201,
    ));
    s.http(
        "POST",
        &format!("/api/v2/groups/{group}/hosts/"),
        Some(("admin", ADMIN_PW)),
        Some(&json!({"id": host})),
    );
    s.http(
        "POST",
        &format!("/api/v2/groups/{group}/children/"),
        Some(("admin", ADMIN_PW)),
        Some(&json!({"id": child})),
    );
    let jt = id(s.admin(
        "POST",
        "/api/v2/job_templates/",
        Some(
            json!({"name": "deploy", "project": project, "inventory": inv,
                    "playbook": "play.yml"}),
        ),
        201,
    ));
    s.http(
        "POST",
        &format!("/api/v2/job_templates/{jt}/credentials/"),
        Some(("admin", ADMIN_PW)),
        Some(&json!({"id": cred})),
    );

    // No resource flags: everything awxkit exports, including what rawx does not have.
    let theirs = s.awx_json(&["export"]);
    let data = s.data.to_str().unwrap().to_string();
    let out = rawx(&["manage", "--data-dir", &data, "export"]);
    assert_eq!(out.code, 0, "{out}");
    assert!(!out.stdout.contains("s3cret-pw"), "a secret in the export");
    assert!(!out.stdout.contains("bobs-pw"), "a password in the export");
    let ours: Value = serde_json::from_str(&out.stdout).expect("JSON on stdout");

    let cred_out = &ours["credentials"][0];
    assert_eq!(cred_out["inputs"]["password"], "$encrypted$", "{cred_out}");
    assert!(ours["users"]
        .as_array()
        .unwrap()
        .iter()
        .all(|u| u.get("password").is_none()));
    let lab = &ours["inventory"][0]["related"];
    let web = lab["groups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["name"] == "web")
        .expect("group web");
    assert_eq!(web["related"]["hosts"][0]["name"], "web1", "{web}");
    assert_eq!(web["related"]["children"][0]["name"], "edge", "{web}");
    let jt_out = &ours["job_templates"][0];
    assert_eq!(
        jt_out["related"]["credentials"][0], cred_out["natural_key"],
        "{jt_out}"
    );

    assert_eq!(
        lab["hosts"][0]["related"]["groups"][0]["name"], "web",
        "{lab}"
    );
    assert_eq!(
        ours["notification_templates"],
        serde_json::json!([]),
        "no notification templates: awx export writes an empty list"
    );
    assert_eq!(
        ours, theirs,
        "rawx manage export:\n{ours:#}\nawx export:\n{theirs:#}"
    );
}
