//! Instance groups that steer jobs, as an AWX admin uses them: stored membership, AWX's
//! policies (`policy_instance_percentage`, `_minimum`, `_list`), associate/disassociate with
//! AWX's rules, `rawx manage register-queue --hostnames` and `list-instances`, and a template
//! whose groups decide where (and whether) its jobs run — on a real `rawx serve` with the real
//! `ansible-runner`, the real `awx` CLI where it offers the action, and curl where it does not
//! (awxkit has no `associate --instance_groups`).

use rawx_testkit::lab::{fixture, fixture_in, own_instance, wait_job_until};
use rawx_testkit::{eventually, manage, names, venv, Opts, Out, PgDb, Server};
use serde_json::{json, Value};
use std::time::Duration;

const PLAY: &str = "\
- hosts: all
  gather_facts: false
  tasks:
    - debug:
        msg: placed
";

fn opts() -> Opts {
    Opts {
        env: vec![(
            "RAWX_ANSIBLE_RUNNER".to_string(),
            venv().join("bin/ansible-runner").display().to_string(),
        )],
        ..Opts::default()
    }
}

/// The lines of `list-instances`' section for `group` (its header first).
fn section(out: &Out, group: &str) -> Vec<String> {
    let head = format!("[{group} capacity=");
    let start = out
        .stdout
        .find(&head)
        .unwrap_or_else(|| panic!("no section {head:?}:\n{out}"));
    let rest = &out.stdout[start..];
    rest[..rest.find("\n\n").unwrap_or(rest.len())]
        .lines()
        .map(str::to_string)
        .collect()
}

fn members(out: &Out, group: &str) -> Vec<String> {
    section(out, group)
        .iter()
        .skip(1)
        .map(|l| {
            l.trim_start_matches('\t')
                .split(' ')
                .next()
                .unwrap()
                .to_string()
        })
        .collect()
}

/// A template whose only group has no member waits, saying why; once this node is
/// associated the job runs here and records the group; hop nodes and a hybrid node leaving
/// `controlplane` are refused with AWX's messages; a template without groups runs in `default`.
#[test]
fn jobs_run_only_in_their_instance_groups() {
    let s = Server::start_with(opts());
    let me = own_instance(&s);
    let host = me["hostname"].as_str().unwrap().to_string();
    let me_id = me["id"].as_i64().unwrap();

    // The installer's groups hold this hybrid node, and say so from their members.
    for g in ["default", "controlplane"] {
        let list = s.admin(
            "GET",
            &format!("/api/v2/instance_groups/{g}/instances/"),
            None,
            200,
        );
        assert_eq!(names(&list), vec![host.clone()], "{g}: {list}");
        let group = s.admin("GET", &format!("/api/v2/instance_groups/{g}/"), None, 200);
        assert_eq!(group["instances"], 1, "{group}");
        assert_eq!(group["capacity"], me["capacity"], "{group}");
        assert_eq!(group["policy_instance_percentage"], 100, "{group}");
    }
    let mine = s.admin(
        "GET",
        &format!("/api/v2/instances/{me_id}/instance_groups/"),
        None,
        200,
    );
    assert_eq!(names(&mine), vec!["controlplane", "default"], "{mine}");

    let lab = fixture(&s, "placed", &[("play.yml", PLAY)], &["localhost"]);
    let group = s.awx_json(&["instance_groups", "create", "--name", "isolated"]);
    let gid = group["id"].as_i64().unwrap();
    let jt = s.awx_json(&[
        "job_templates",
        "create",
        "--name",
        "in-isolated",
        "--project",
        &lab.project.to_string(),
        "--inventory",
        &lab.inventory.to_string(),
        "--playbook",
        "play.yml",
    ])["id"]
        .as_i64()
        .unwrap();
    s.admin(
        "POST",
        &format!("/api/v2/job_templates/{jt}/instance_groups/"),
        Some(json!({"id": gid})),
        204,
    );
    let listed = s.admin(
        "GET",
        &format!("/api/v2/job_templates/{jt}/instance_groups/"),
        None,
        200,
    );
    assert_eq!(names(&listed), vec!["isolated"], "{listed}");

    let job = s.awx_json(&["job_templates", "launch", &jt.to_string()])["id"]
        .as_i64()
        .unwrap();
    let waiting = wait_job_until(
        &s,
        job,
        |j| {
            j["job_explanation"]
                .as_str()
                .unwrap_or_default()
                .contains("isolated (no instances)")
        },
        "waits, naming its empty group",
    );
    assert_eq!(waiting["status"], "pending", "{waiting}");
    assert!(
        waiting["job_explanation"].as_str().unwrap().starts_with(
            "This job is not ready to start because there is not enough available capacity"
        ),
        "{waiting}"
    );
    std::thread::sleep(Duration::from_secs(3));
    let still = s.admin("GET", &format!("/api/v2/jobs/{job}/"), None, 200);
    assert_eq!(still["status"], "pending", "{still}");

    // Hop nodes never join a group, by hand or by the command.
    let out = manage(
        &s.data,
        &[
            "provision-instance",
            "--hostname",
            "hop1",
            "--node_type",
            "hop",
        ],
    );
    assert_eq!(out.code, 0, "{out}");
    let hop = s.admin("GET", "/api/v2/instances/?hostname=hop1", None, 200)["results"][0]["id"]
        .as_i64()
        .unwrap();
    let r = s.http(
        "POST",
        &format!("/api/v2/instance_groups/{gid}/instances/"),
        Some(("admin", rawx_testkit::ADMIN_PW)),
        Some(&json!({"id": hop})),
    );
    assert_eq!(r.status, 400, "{r:?}");
    assert_eq!(
        r.json()["msg"],
        "Cannot change instance group membership of hop node : hop1.",
        "{r:?}"
    );
    let out = manage(
        &s.data,
        &[
            "register-queue",
            "--queuename",
            "isolated",
            "--hostnames",
            "hop1",
        ],
    );
    assert_eq!(out.code, 1, "{out}");
    assert!(
        out.stderr
            .contains("Instance does not exist or cannot run jobs: hop1"),
        "{out}"
    );
    // A hybrid node stays in the control plane.
    let cp = s.admin("GET", "/api/v2/instance_groups/controlplane/", None, 200);
    let r = s.http(
        "POST",
        &format!("/api/v2/instance_groups/{}/instances/", cp["id"]),
        Some(("admin", rawx_testkit::ADMIN_PW)),
        Some(&json!({"id": me_id, "disassociate": true})),
    );
    assert_eq!(r.status, 400, "{r:?}");
    assert_eq!(
        r.json()["msg"],
        format!("Cannot disassociate hybrid instance {host} from controlplane."),
        "{r:?}"
    );

    // Associated, the node takes the job; the job says where it ran.
    s.admin(
        "POST",
        &format!("/api/v2/instance_groups/{gid}/instances/"),
        Some(json!({"id": me_id})),
        204,
    );
    let done = wait_job_until(
        &s,
        job,
        |j| j["status"] == "successful" && !j["instance_group"].is_null(),
        "runs once a member is associated",
    );
    assert_eq!(done["execution_node"], json!(host), "{done}");
    assert_eq!(done["instance_group"], json!(gid), "{done}");
    let group = s.admin("GET", &format!("/api/v2/instance_groups/{gid}/"), None, 200);
    assert_eq!(group["policy_instance_list"], json!([host]), "{group}");
    assert_eq!(group["instances"], 1, "{group}");
    assert_eq!(group["jobs_total"], 1, "{group}");
    let out = manage(&s.data, &["list-instances"]);
    assert_eq!(members(&out, "isolated"), vec![host.clone()], "{out}");
    let ping = s.admin("GET", "/api/v2/ping/", None, 200);
    let isolated = ping["instance_groups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["name"] == "isolated")
        .cloned()
        .unwrap_or_else(|| panic!("no isolated group in ping: {ping}"));
    assert_eq!(isolated["instances"], json!([host]), "{ping}");
    assert_eq!(isolated["capacity"], me["capacity"], "{ping}");

    // Disassociated, the group is empty again and its policy list forgets the node.
    s.admin(
        "POST",
        &format!("/api/v2/instances/{me_id}/instance_groups/"),
        Some(json!({"id": gid, "disassociate": true})),
        204,
    );
    let group = s.admin("GET", &format!("/api/v2/instance_groups/{gid}/"), None, 200);
    assert_eq!(group["instances"], 0, "{group}");
    assert_eq!(group["policy_instance_list"], json!([]), "{group}");

    // A template naming no group runs in `default`.
    let plain = s.awx_json(&[
        "job_templates",
        "create",
        "--name",
        "anywhere",
        "--project",
        &lab.project.to_string(),
        "--inventory",
        &lab.inventory.to_string(),
        "--playbook",
        "play.yml",
    ])["id"]
        .as_i64()
        .unwrap();
    let job = s.awx_json(&["job_templates", "launch", &plain.to_string()])["id"]
        .as_i64()
        .unwrap();
    let done = wait_job_until(
        &s,
        job,
        |j| j["status"] == "successful" && !j["instance_group"].is_null(),
        "runs in default",
    );
    let default = s.admin("GET", "/api/v2/instance_groups/default/", None, 200);
    assert_eq!(done["instance_group"], default["id"], "{done}");
    assert_eq!(done["execution_node"], json!(host), "{done}");

    // The inventory's groups come next: the same template now waits for the empty group...
    s.admin(
        "POST",
        &format!("/api/v2/inventories/{}/instance_groups/", lab.inventory),
        Some(json!({"id": gid})),
        204,
    );
    let job = s.awx_json(&["job_templates", "launch", &plain.to_string()])["id"]
        .as_i64()
        .unwrap();
    let waiting = wait_job_until(
        &s,
        job,
        |j| {
            j["job_explanation"]
                .as_str()
                .unwrap_or_default()
                .contains("isolated (no instances)")
        },
        "waits for its inventory's group",
    );
    assert_eq!(waiting["status"], "pending", "{waiting}");
    // ...unless the template stops the fallback to its inventory's and organization's groups.
    let pinned = s.awx_json(&[
        "job_templates",
        "create",
        "--name",
        "pinned",
        "--project",
        &lab.project.to_string(),
        "--inventory",
        &lab.inventory.to_string(),
        "--playbook",
        "play.yml",
        "--prevent_instance_group_fallback",
        "true",
    ])["id"]
        .as_i64()
        .unwrap();
    let job = s.awx_json(&["job_templates", "launch", &pinned.to_string()])["id"]
        .as_i64()
        .unwrap();
    let done = wait_job_until(
        &s,
        job,
        |j| j["status"] == "successful" && !j["instance_group"].is_null(),
        "runs in default, its inventory's group skipped",
    );
    assert_eq!(done["instance_group"], default["id"], "{done}");
}

/// Registers instances (hostname, node type) with the server down.
fn provision(data: &std::path::Path, instances: &[(&str, &str)]) {
    for (h, t) in instances {
        let out = manage(
            data,
            &["provision-instance", "--hostname", h, "--node_type", t],
        );
        assert_eq!(out.code, 0, "{out}");
    }
}

/// `register-queue` with the server down: `--hostnames` makes members at once,
/// `--instance_percent` and `--instance_minimum` place instances as AWX's policy task does
/// (the smallest groups first, instances in the fewest groups first, never a control-only
/// node outside `controlplane` nor a hop node anywhere), and a node registered later joins
/// the groups whose policies want it.
#[test]
fn register_queue_and_policies_place_instances_as_awx_does() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path();
    provision(
        data,
        &[
            ("hyb", "hybrid"),
            ("e1", "execution"),
            ("e2", "execution"),
            ("e3", "execution"),
            ("e4", "execution"),
            ("c1", "control"),
            ("hop1", "hop"),
        ],
    );
    // 5 instances may run jobs: 50% is 3 of them (2 would be 40%), a minimum of 1 is one,
    // and each goes to the instances in the fewest groups.
    let out = manage(
        data,
        &[
            "register-queue",
            "--queuename",
            "half",
            "--instance_percent",
            "50",
        ],
    );
    assert_eq!(out.code, 0, "{out}");
    let out = manage(
        data,
        &[
            "register-queue",
            "--queuename",
            "one",
            "--instance_minimum",
            "1",
        ],
    );
    assert_eq!(out.code, 0, "{out}");
    let out = manage(data, &["list-instances"]);
    assert_eq!(out.code, 0, "{out}");
    let half = members(&out, "half");
    let one = members(&out, "one");
    assert_eq!(half.len(), 3, "{out}");
    assert_eq!(one.len(), 1, "{out}");
    assert!(!half.contains(&one[0]), "{out}");
    for m in half.iter().chain(&one) {
        assert!(!["c1", "hop1"].contains(&m.as_str()), "{out}");
    }
    assert!(section(&out, "half")[0].contains("policy=50%]"), "{out}");
    // 3 + 1 of 5: one execution node is left for the next group.
    assert_eq!(
        members(&out, "ungrouped"),
        vec!["c1", "e4", "hop1"],
        "{out}"
    );

    // Named instances join at once and stay by name.
    let out = manage(
        data,
        &[
            "register-queue",
            "--queuename",
            "named",
            "--hostnames",
            "e4,e2",
        ],
    );
    assert_eq!(out.code, 0, "{out}");
    assert!(out.stdout.contains("Added instance e4 to named"), "{out}");
    let out = manage(data, &["list-instances"]);
    assert_eq!(members(&out, "named"), vec!["e2", "e4"], "{out}");

    // The installer's groups: by node type, and a node registered later joins them.
    for g in ["default", "controlplane"] {
        let out = manage(data, &["register-queue", "--queuename", g]);
        assert_eq!(out.code, 0, "{out}");
    }
    let out = manage(
        data,
        &[
            "provision-instance",
            "--hostname",
            "e5",
            "--node_type",
            "execution",
        ],
    );
    assert_eq!(out.code, 0, "{out}");
    let out = manage(data, &["list-instances"]);
    assert_eq!(
        members(&out, "default"),
        vec!["e1", "e2", "e3", "e4", "e5", "hyb"],
        "{out}"
    );
    assert_eq!(members(&out, "controlplane"), vec!["c1", "hyb"], "{out}");
    assert_eq!(members(&out, "ungrouped"), vec!["hop1"], "{out}");
}

/// A database from before membership was stored (no links, installer groups at 0%, no
/// policy lists) keeps, after the data migrations, what it showed: `controlplane` the control
/// and hybrid nodes, `default` the execution and hybrid ones, another group every node that
/// runs jobs — and keeps it when the policies are applied next.
#[test]
fn a_database_from_before_keeps_the_membership_it_showed() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path();
    provision(
        data,
        &[
            ("hyb", "hybrid"),
            ("e1", "execution"),
            ("c1", "control"),
            ("hop1", "hop"),
        ],
    );
    for g in ["controlplane", "default", "ops"] {
        let out = manage(data, &["register-queue", "--queuename", g]);
        assert_eq!(out.code, 0, "{out}");
    }
    // Back to the shape of an older rawx.
    let sql = "DELETE FROM instance_group_instances; \
               UPDATE instance_groups SET policy_instance_percentage = 0, policy_instance_list = '[]'; \
               DELETE FROM rawx_migrations WHERE version IN (1, 2, 3);";
    let out = std::process::Command::new("sqlite3")
        .arg(data.join("rawx.db"))
        .arg(sql)
        .output()
        .expect("sqlite3");
    assert!(out.status.success(), "{out:?}");
    let out = manage(data, &["list-instances"]);
    assert_eq!(out.code, 0, "{out}");
    let check = |out: &Out| {
        assert_eq!(members(out, "controlplane"), vec!["c1", "hyb"], "{out}");
        assert_eq!(members(out, "default"), vec!["e1", "hyb"], "{out}");
        assert_eq!(members(out, "ops"), vec!["e1", "hyb"], "{out}");
        assert_eq!(members(out, "ungrouped"), vec!["hop1"], "{out}");
    };
    check(&out);
    assert!(
        section(&out, "default")[0].contains("policy=100%]"),
        "{out}"
    );
    // Applying the policies (any instance command does) changes nothing.
    let out = manage(
        data,
        &[
            "provision-instance",
            "--hostname",
            "hyb",
            "--node_type",
            "hybrid",
        ],
    );
    assert_eq!(out.code, 0, "{out}");
    let out = manage(data, &["register-queue", "--queuename", "ops"]);
    assert_eq!(out.code, 0, "{out}");
    check(&manage(data, &["list-instances"]));
}

/// Two task nodes on one PostgreSQL database: a template whose group holds only `beta` runs
/// every job on `beta`, even those the other node's task manager sees first, and each job
/// records the group; `alpha` never writes an explanation over `beta`'s decision.
#[test]
fn a_group_of_one_node_steers_jobs_to_it_across_task_nodes() {
    let Some(db) = PgDb::create("igroups") else {
        return;
    };
    let projects = tempfile::tempdir().unwrap();
    let start = |role: &'static str, name: &str, secret: Option<&str>| {
        let mut env = vec![
            (
                "RAWX_REDIS_URL".to_string(),
                "redis://127.0.0.1:6379".to_string(),
            ),
            ("RAWX_NODE_NAME".into(), name.into()),
            (
                "RAWX_PROJECTS_DIR".into(),
                projects.path().display().to_string(),
            ),
            (
                "RAWX_ANSIBLE_RUNNER".into(),
                venv().join("bin/ansible-runner").display().to_string(),
            ),
        ];
        if let Some(k) = secret {
            env.push(("RAWX_SECRET_KEY".into(), k.to_string()));
        }
        Server::start_with(Opts {
            database_url: Some(db.url.clone()),
            env,
            role: Some(role),
        })
    };
    let alpha = start("serve", "alpha", None);
    let secret = std::fs::read_to_string(alpha.data.join("secret.key")).unwrap();
    let _beta = start("task", "beta", Some(secret.trim()));
    let beta_id = eventually(Duration::from_secs(60), || {
        let list = alpha.admin(
            "GET",
            "/api/v2/instances/?hostname__in=alpha,beta",
            None,
            200,
        );
        let ready: Vec<&Value> = list["results"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|i| !i["last_seen"].is_null() && i["capacity"].as_i64() > Some(0))
            .collect();
        if ready.len() == 2 {
            Ok(
                ready.iter().find(|i| i["hostname"] == "beta").unwrap()["id"]
                    .as_i64()
                    .unwrap(),
            )
        } else {
            Err(format!("both nodes not registered: {list}"))
        }
    });
    let default = alpha.admin(
        "GET",
        "/api/v2/instance_groups/default/instances/",
        None,
        200,
    );
    assert_eq!(names(&default), vec!["alpha", "beta"], "{default}");

    let lab = fixture_in(
        &alpha,
        projects.path(),
        "steer",
        &[("play.yml", PLAY)],
        &["localhost"],
    );
    let jt = alpha.admin(
        "POST",
        "/api/v2/job_templates/",
        Some(
            json!({"name": "on-beta", "project": lab.project, "inventory": lab.inventory,
                    "playbook": "play.yml", "allow_simultaneous": true}),
        ),
        201,
    )["id"]
        .as_i64()
        .unwrap();
    let gid = alpha.awx_json(&["instance_groups", "create", "--name", "only-beta"])["id"]
        .as_i64()
        .unwrap();
    alpha.admin(
        "POST",
        &format!("/api/v2/instance_groups/{gid}/instances/"),
        Some(json!({"id": beta_id})),
        204,
    );
    alpha.admin(
        "POST",
        &format!("/api/v2/job_templates/{jt}/instance_groups/"),
        Some(json!({"id": gid})),
        204,
    );
    let jobs: Vec<i64> = (0..4)
        .map(|_| {
            alpha.admin(
                "POST",
                &format!("/api/v2/job_templates/{jt}/launch/"),
                Some(json!({})),
                201,
            )["job"]
                .as_i64()
                .unwrap()
        })
        .collect();
    for id in jobs {
        let done = wait_job_until(
            &alpha,
            id,
            |j| j["status"] == "successful" && !j["instance_group"].is_null(),
            "runs on beta",
        );
        assert_eq!(done["execution_node"], "beta", "{done}");
        assert_eq!(done["controller_node"], "beta", "{done}");
        assert_eq!(done["instance_group"], json!(gid), "{done}");
    }
    let group = alpha.admin("GET", &format!("/api/v2/instance_groups/{gid}/"), None, 200);
    assert_eq!(group["jobs_total"], 4, "{group}");
    assert_eq!(group["instances"], 1, "{group}");

    // Groups are tried in order: the first one's node while it has room, the next one's when
    // it has none (here: disabled).
    let alpha_id = alpha.admin("GET", "/api/v2/instances/?hostname=alpha", None, 200)["results"][0]
        ["id"]
        .as_i64()
        .unwrap();
    let mut order = Vec::new();
    for (name, member) in [("first-alpha", alpha_id), ("then-beta", beta_id)] {
        let g = alpha.awx_json(&["instance_groups", "create", "--name", name])["id"]
            .as_i64()
            .unwrap();
        alpha.admin(
            "POST",
            &format!("/api/v2/instances/{member}/instance_groups/"),
            Some(json!({"id": g})),
            204,
        );
        order.push(g);
    }
    let jt2 = alpha.admin(
        "POST",
        "/api/v2/job_templates/",
        Some(
            json!({"name": "ordered", "project": lab.project, "inventory": lab.inventory,
                    "playbook": "play.yml", "allow_simultaneous": true}),
        ),
        201,
    )["id"]
        .as_i64()
        .unwrap();
    for g in &order {
        alpha.admin(
            "POST",
            &format!("/api/v2/job_templates/{jt2}/instance_groups/"),
            Some(json!({"id": g})),
            204,
        );
    }
    let run = |expect_node: &str, expect_group: i64| {
        let id = alpha.admin(
            "POST",
            &format!("/api/v2/job_templates/{jt2}/launch/"),
            Some(json!({})),
            201,
        )["job"]
            .as_i64()
            .unwrap();
        let done = wait_job_until(
            &alpha,
            id,
            |j| j["status"] == "successful" && !j["instance_group"].is_null(),
            "runs in the first group with room",
        );
        assert_eq!(done["execution_node"], expect_node, "{done}");
        assert_eq!(done["instance_group"], json!(expect_group), "{done}");
    };
    run("alpha", order[0]);
    alpha.admin(
        "PATCH",
        &format!("/api/v2/instances/{alpha_id}/"),
        Some(json!({"enabled": false})),
        200,
    );
    run("beta", order[1]);
}
