//! `rawx manage import` and the real `awx export` / `awx import` against rawx: data built
//! through the API on one server, exported, imported into a fresh data dir, then used there.

use rawx_testkit::lab::{local_vars, Lab};
use rawx_testkit::{manage, venv, Opts, Server, ADMIN_PW};
use serde_json::{json, Value};
use std::path::Path;
use std::process::Command;

const VAULT_PW: &str = "vault-pw-123";

/// A playbook that succeeds only when the job's vault password opens its variable.
fn vault_playbook() -> String {
    let pw = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(pw.path(), VAULT_PW).unwrap();
    let out = Command::new(venv().join("bin/ansible-vault"))
        .args(["encrypt_string", "--name", "secret", "opened"])
        .arg("--vault-password-file")
        .arg(pw.path())
        .output()
        .expect("run ansible-vault");
    assert!(
        out.status.success(),
        "ansible-vault: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let var = String::from_utf8(out.stdout).unwrap();
    let var: String = var.lines().map(|l| format!("    {l}\n")).collect();
    format!(
        "- hosts: all\n  gather_facts: false\n  vars:\n{var}  tasks:\n    - assert:\n        that: secret == 'opened' and greeting == 'hi'\n"
    )
}

fn id(v: &Value) -> i64 {
    v["id"].as_i64().unwrap_or_else(|| panic!("no id in {v}"))
}

/// Organization, team, user, machine and vault credentials, a manual project, an inventory
/// with hosts, groups, children and variables, and a template using both credentials.
fn build(lab: &Lab) -> i64 {
    let s = &lab.s;
    let org = id(&lab.org);
    let bob = id(&s.admin(
        "POST",
        "/api/v2/users/",
        Some(json!({"username": "bob", "password": "bobs-pw", "email": "bob@example.com"})),
        201,
    ));
    s.admin(
        "POST",
        "/api/v2/teams/",
        Some(json!({"name": "ops-team", "organization": org, "description": "on call"})),
        201,
    );
    let machine = lab.credential(
        "local",
        "Machine",
        json!({"username": "runner", "password": "s3cret-pw"}),
    );
    let vault = lab.credential("vault", "Vault", json!({"vault_password": VAULT_PW}));
    let project = lab.project("ops", &[("site.yml", &vault_playbook())]);
    let inv = id(&s.admin(
        "POST",
        "/api/v2/inventories/",
        Some(json!({"name": "Lab", "organization": org, "variables": "env: lab"})),
        201,
    ));
    let host = |name: &str| {
        id(&s.admin(
            "POST",
            "/api/v2/hosts/",
            Some(json!({"name": name, "inventory": inv, "variables": local_vars().to_string()})),
            201,
        ))
    };
    let (web1, db1) = (host("web1"), host("db1"));
    let group = |name: &str, vars: &str| {
        id(&s.admin(
            "POST",
            "/api/v2/groups/",
            Some(json!({"name": name, "inventory": inv, "variables": vars})),
            201,
        ))
    };
    let (web, edge, dbs) = (
        group("web", "tier: front"),
        group("edge", ""),
        group("dbs", ""),
    );
    for (g, sub, member) in [
        (web, "hosts", web1),
        (web, "children", edge),
        (dbs, "hosts", db1),
    ] {
        s.admin(
            "POST",
            &format!("/api/v2/groups/{g}/{sub}/"),
            Some(json!({"id": member})),
            204,
        );
    }
    let jt = lab.jt(
        "deploy",
        project,
        inv,
        "site.yml",
        json!({"extra_vars": "greeting: hi", "ask_variables_on_launch": true,
               "survey_enabled": false, "verbosity": 1}),
    );
    lab.attach(jt, machine);
    // Bob may run the template (its execute role): `awx export` writes the grant under the
    // user's `related.roles`, and an import grants it again.
    let execute = s.admin("GET", &format!("/api/v2/job_templates/{jt}/"), None, 200)
        ["summary_fields"]["object_roles"]["execute_role"]["id"]
        .clone();
    s.admin(
        "POST",
        &format!("/api/v2/users/{bob}/roles/"),
        Some(json!({"id": execute})),
        204,
    );
    lab.attach(jt, vault);
    // A label: awx export writes a template's labels as whole objects, not natural keys.
    let label = id(&s.admin(
        "POST",
        "/api/v2/labels/",
        Some(json!({"name": "nightly", "organization": org})),
        201,
    ));
    s.admin(
        "POST",
        &format!("/api/v2/job_templates/{jt}/labels/"),
        Some(json!({"id": label})),
        204,
    );
    jt
}

fn export(data: &Path) -> Value {
    let out = manage(data, &["export"]);
    assert_eq!(out.code, 0, "{out}");
    out.json()
}

/// A fresh data dir an installation is moved into: its secret key and its projects' files
/// (what an operator copies along with the export).
fn fresh_from(src: &Path) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(src.join("secret.key"), dir.path().join("secret.key")).unwrap();
    let status = Command::new("cp")
        .arg("-r")
        .arg(src.join("projects"))
        .arg(dir.path())
        .status()
        .unwrap();
    assert!(status.success());
    dir
}

#[test]
fn export_import_into_a_fresh_data_dir_keeps_secrets_and_passwords() {
    let lab = Lab::start();
    let jt = build(&lab);
    let src = lab.s.data.clone();
    let file = src.join("export.json");
    let out = manage(&src, &["export", "--with-secrets"]);
    assert_eq!(out.code, 0, "{out}");
    assert!(!out.stdout.contains("s3cret-pw") && !out.stdout.contains(VAULT_PW));
    assert!(!out.stdout.contains("bobs-pw"));
    std::fs::write(&file, &out.stdout).unwrap();

    let dir = fresh_from(&src);
    let out = manage(dir.path(), &["import", file.to_str().unwrap()]);
    assert_eq!(out.code, 0, "{out}");
    for what in [
        "created   organization \"Ops\"",
        "created   user \"bob\"",
        "created   credential \"vault\"",
        "created   host \"web1\"",
        "created   job_template \"deploy\"",
    ] {
        assert!(out.stdout.contains(what), "no {what:?} in:\n{out}");
    }

    let moved = Server::start_in(
        dir,
        Opts {
            env: rawx_testkit::lab::runner_env(),
            ..Opts::default()
        },
    );
    assert_eq!(
        export(&moved.data),
        export(&src),
        "the two installations differ"
    );
    // The users' passwords came along (the admin's too: its seeded random one was replaced).
    let me = moved.http("GET", "/api/v2/me/", Some(("bob", "bobs-pw")), None);
    assert_eq!(me.status, 200, "{me:?}");
    assert_eq!(me.json()["results"][0]["username"], "bob");
    // The vault secret opens in the new installation: the template's job runs.
    let new_jt =
        moved.admin("GET", "/api/v2/job_templates/?name=deploy", None, 200)["results"][0].clone();
    assert_ne!(id(&new_jt), 0);
    let moved_lab = Lab {
        s: moved,
        org: json!({}),
    };
    // Bob's grant came along: he sees the template and may launch it, nothing else.
    let seen = moved_lab.s.http(
        "GET",
        "/api/v2/job_templates/",
        Some(("bob", "bobs-pw")),
        None,
    );
    assert_eq!(seen.status, 200, "{seen:?}");
    assert_eq!(seen.json()["count"], 1, "{seen:?}");
    assert_eq!(
        seen.json()["results"][0]["summary_fields"]["user_capabilities"]["start"],
        true,
        "{seen:?}"
    );
    let job = moved_lab.launch(id(&new_jt));
    moved_lab.wait_status(job, "successful");
    let _ = jt;

    // A second import finds everything in place and says so, while the server runs.
    let out = manage(&moved_lab.s.data, &["import", file.to_str().unwrap()]);
    assert_eq!(out.code, 0, "{out}");
    assert!(out.stdout.contains("0 created, 0 updated"), "{out}");
    assert!(!out.stdout.contains("\nupdated") && !out.stdout.starts_with("updated"));
    assert!(
        out.stdout.contains("unchanged credential \"local\""),
        "{out}"
    );
}

#[test]
fn import_updates_what_differs_and_refuses_bad_files_whole() {
    let lab = Lab::start();
    build(&lab);
    let data = lab.s.data.clone();
    let before = export(&data);
    let file = data.join("export.json");
    let write = |doc: &Value| std::fs::write(&file, doc.to_string()).unwrap();
    let import = || manage(&data, &["import", file.to_str().unwrap()]);

    // The same objects with one change: only that one is updated, and `$encrypted$` keeps the
    // stored secret (the template's job would fail otherwise: checked below through the API).
    let mut doc = before.clone();
    let team = doc["teams"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|t| t["name"] == "ops-team")
        .unwrap();
    team["description"] = json!("follow the sun");
    write(&doc);
    let out = import();
    assert_eq!(out.code, 0, "{out}");
    assert!(
        out.stdout
            .contains("updated   team \"ops-team\" (organization \"Ops\") (description)"),
        "{out}"
    );
    assert!(out.stdout.contains("0 created, 1 updated"), "{out}");
    assert!(
        out.stdout.contains("unchanged credential \"vault\""),
        "{out}"
    );
    let after = export(&data);
    assert_eq!(after, doc, "the database is not what the file says");

    // Bad files: an unknown field, a reference to nothing. Each also carries a valid change,
    // which must not be written either.
    for (break_it, says) in [
        (
            (|d: &mut Value| d["credentials"][0]["colour"] = json!("red")) as fn(&mut Value),
            "unknown field \"colour\"",
        ),
        (
            |d: &mut Value| d["job_templates"][0]["project"] = json!({"name": "nope", "organization": {"name": "Ops", "type": "organization"}, "type": "project"}),
            "project \"nope\" (organization \"Ops\"), which neither exists nor is in the file",
        ),
        (
            |d: &mut Value| {
                let inv = d["inventory"][0]["natural_key"].clone();
                d["inventory"][0]["related"]["groups"][0]["related"]["hosts"] =
                    json!([{"name": "ghost", "inventory": inv, "type": "host"}])
            },
            "host \"ghost\"",
        ),
    ] {
        let mut bad = doc.clone();
        bad["organizations"][0]["description"] = json!("changed");
        break_it(&mut bad);
        write(&bad);
        let out = import();
        assert_ne!(out.code, 0, "{out}");
        assert!(out.stderr.contains(says), "{says:?} not in:\n{out}");
        assert!(out.stderr.contains("nothing was imported"), "{out}");
        assert_eq!(export(&data), doc, "a refused file changed the database");
    }

    // What only the API knows (a playbook the project does not have) stops the import at that
    // object, naming it and the field, and saying what was applied before it.
    let mut bad = doc.clone();
    bad["organizations"][0]["description"] = json!("changed");
    bad["job_templates"][0]["playbook"] = json!("missing.yml");
    write(&bad);
    let out = import();
    assert_ne!(out.code, 0, "{out}");
    assert!(
        out.stderr.contains("job_template \"deploy\"")
            && out
                .stderr
                .contains("playbook: Playbook not found for project."),
        "{out}"
    );
    assert!(
        out.stderr
            .contains("1 change(s) before it stay applied: organization \"Ops\""),
        "{out}"
    );
    let now = export(&data);
    assert_eq!(
        now["job_templates"], doc["job_templates"],
        "the refused template changed"
    );
}

#[test]
fn real_awx_export_without_flags_and_awx_import() {
    let lab = Lab::start();
    build(&lab);
    let a = &lab.s;
    // No resource flags: every resource awxkit knows, against rawx.
    let theirs = a.awx_json(&["export"]);
    for key in [
        "users",
        "organizations",
        "teams",
        "credential_types",
        "credentials",
        "notification_templates",
        "projects",
        "inventory",
        "inventory_sources",
        "job_templates",
        "workflow_job_templates",
        "execution_environments",
        "applications",
        "schedules",
    ] {
        assert!(theirs.get(key).is_some(), "no {key} in {theirs:#}");
    }
    // The template's credentials and the groups' members are there, as rawx writes them.
    assert_eq!(export(&a.data), theirs);
    let jt = &theirs["job_templates"][0];
    assert_eq!(
        jt["related"]["credentials"].as_array().unwrap().len(),
        2,
        "{jt}"
    );
    assert_eq!(jt["related"]["labels"][0]["name"], "nightly", "{jt}");

    // The real `awx import` of that file into another rawx recreates the same objects.
    let dir = fresh_from(&a.data);
    let b = Server::start_in(dir, Opts::default());
    // awxkit waits up to 5 minutes for a project it creates to finish its first update, which
    // a manual project (AWX's too) never has: the project is there already, so it is updated.
    let org = b.admin(
        "POST",
        "/api/v2/organizations/",
        Some(json!({"name": "Ops", "description": "before"})),
        201,
    );
    b.admin(
        "POST",
        "/api/v2/projects/",
        Some(
            json!({"name": "ops", "organization": id(&org), "scm_type": "", "local_path": "ops",
                    "description": "before"}),
        ),
        201,
    );
    let file = a.data.join("awx-export.json");
    std::fs::write(&file, theirs.to_string()).unwrap();
    let out = Command::new(venv().join("bin/awx"))
        .args(["--conf.host", &b.url, "--conf.username", "admin"])
        .args(["--conf.password", ADMIN_PW, "import"])
        .stdin(std::fs::File::open(&file).unwrap())
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "awx import: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(export(&b.data), theirs, "awx import made something else");
}

#[test]
fn import_into_postgresql_with_the_server_down() {
    let Some(db) = rawx_testkit::PgDb::create("import") else {
        return;
    };
    let lab = Lab::start();
    build(&lab);
    let src = lab.s.data.clone();
    let file = src.join("export.json");
    let out = manage(&src, &["export", "--with-secrets"]);
    assert_eq!(out.code, 0, "{out}");
    std::fs::write(&file, &out.stdout).unwrap();

    let dir = fresh_from(&src);
    let pg = |args: &[&str]| {
        let mut all = vec!["--database-url", db.url.as_str()];
        all.extend_from_slice(args);
        manage(dir.path(), &all)
    };
    let out = pg(&["import", file.to_str().unwrap()]);
    assert_eq!(out.code, 0, "{out}");
    let out = pg(&["export"]);
    assert_eq!(out.code, 0, "{out}");
    // The default execution environment describes each installation (its image is the path
    // of the node's Python environment, written when `rawx serve` starts): not imported.
    let without_ees = |mut doc: serde_json::Value| {
        let ees = doc["execution_environments"].take();
        (doc, ees)
    };
    let (theirs, pg_ees) = without_ees(out.json());
    let (ours, _) = without_ees(export(&src));
    assert_eq!(theirs, ours, "PostgreSQL holds something else");
    assert_eq!(pg_ees[0]["name"], "AWX EE (latest)", "{pg_ees}");
    let again = pg(&["import", file.to_str().unwrap()]);
    assert!(again.stdout.contains("0 created, 0 updated"), "{again}");
}
