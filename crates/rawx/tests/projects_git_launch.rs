//! End-to-end: Git projects as a launch needs them — `scm_update_on_launch` with its cache
//! timeout and a failed update failing the job, a job running its own revision while updates
//! race, a branch chosen at launch, Galaxy requirements from local sources installed once per
//! revision, and an `archive` project from a local HTTP server.

use rawx_testkit::git::{play, project as git_project, project_row as project, update_of, Repo};
use rawx_testkit::lab::*;
use rawx_testkit::{eventually, Server};
use serde_json::{json, Value};
use std::process::Command;
use std::time::Duration;

/// A git project `name` of `repo` in the lab's organization, its first update done.
fn updates(s: &Server, pid: i64, query: &str) -> Vec<Value> {
    all_pages(
        s,
        &format!("/api/v2/project_updates/?project={pid}&order_by=id{query}"),
    )
}

#[test]
fn update_on_launch_honours_the_cache_timeout_and_a_failed_update_fails_the_job() {
    let lab = Lab::start();
    let s = &lab.s;
    let repo = Repo::new(&s.data, "repos/onlaunch");
    let r1 = repo.commit(&[("site.yml", &play("r1"))], "r1");
    let pid = git_project(
        &lab,
        "OnLaunch",
        &repo,
        json!({"scm_update_on_launch": true, "scm_update_cache_timeout": 3600}),
    );
    let inv = lab.inventory("Local", &[("h1", local_vars())]);
    let jt = lab.jt("OnLaunch JT", pid, inv, "site.yml", json!({}));

    // Within the cache timeout the last update serves: no new one, the job runs r1.
    let r2 = repo.commit(&[("site.yml", &play("r2"))], "r2");
    let a = lab.launch(jt);
    lab.wait_status(a, "successful");
    assert!(lab.stdout(a).contains("git-play says r1"));
    assert_eq!(lab.job(a)["scm_revision"], r1.as_str());
    assert!(updates(s, pid, "&launch_type=dependency").is_empty());

    // Past it (timeout 0: any finished update is too old), the launch waits for a new one.
    s.admin(
        "PATCH",
        &format!("/api/v2/projects/{pid}/"),
        Some(json!({"scm_update_cache_timeout": 0})),
        200,
    );
    let b = lab.launch(jt);
    let job = lab.wait_status(b, "successful");
    assert!(lab.stdout(b).contains("git-play says r2"));
    assert_eq!(job["scm_revision"], r2.as_str());
    let deps = updates(s, pid, "&launch_type=dependency");
    assert_eq!(deps.len(), 1, "{deps:?}");
    assert_eq!(deps[0]["scm_revision"], r2.as_str());
    // The job started after its update ended.
    assert!(
        job["started"].as_str().unwrap() >= deps[0]["finished"].as_str().unwrap(),
        "{job}\n{}",
        deps[0]
    );

    // An update that fails fails the job that needed it, saying which.
    std::fs::remove_dir_all(&repo.dir).unwrap();
    let c = lab.launch(jt);
    let job = lab.wait_for(c, Duration::from_secs(90));
    assert_eq!(job["status"], "failed", "{job}");
    let why = job["job_explanation"].as_str().unwrap();
    let failed = updates(s, pid, "&launch_type=dependency&status=failed");
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert_eq!(
        why,
        format!(
            "Previous Task Failed: {{\"job_type\": \"project_update\", \"job_name\": \"OnLaunch\", \"job_id\": \"{}\"}}",
            failed[0]["id"]
        )
    );
    assert_eq!(project(s, pid)["status"], "failed");
}

#[test]
fn a_job_runs_its_revision_while_two_updates_race_and_a_launch_may_choose_a_branch() {
    let lab = Lab::start();
    let s = &lab.s;
    let repo = Repo::new(&s.data, "repos/race");
    let gate = s.data.join("gate");
    let slow = "- hosts: all\n  gather_facts: false\n  tasks:\n    - name: wait for the gate\n      wait_for: {path: \"{{ gate }}\", timeout: 120}\n    - debug: {msg: \"data is {{ lookup('file', playbook_dir + '/data.txt') }}\"}\n";
    let r1 = repo.commit(
        &[
            ("slow.yml", slow),
            ("data.txt", "v1"),
            ("site.yml", &play("main")),
        ],
        "r1",
    );
    let pid = git_project(&lab, "Race", &repo, json!({"allow_override": true}));
    let inv = lab.inventory("Local", &[("h1", local_vars())]);
    let jt = lab.jt(
        "Slow",
        pid,
        inv,
        "slow.yml",
        json!({"extra_vars": json!({"gate": gate}).to_string()}),
    );

    let j1 = lab.launch(jt);
    wait_in_task(s, j1, "wait for the gate");
    // Two updates at once while the job runs: the second waits for the first (AWX's
    // dependency graph), both finish, the checkout moves to r3.
    repo.commit(&[("data.txt", "v2")], "r2");
    let u2 = s.admin(
        "POST",
        &format!("/api/v2/projects/{pid}/update/"),
        None,
        202,
    )["id"]
        .as_i64()
        .unwrap();
    let r3 = repo.commit(&[("data.txt", "v3")], "r3");
    let u3 = s.admin(
        "POST",
        &format!("/api/v2/projects/{pid}/update/"),
        None,
        202,
    )["id"]
        .as_i64()
        .unwrap();
    let (a, b) = (update_of(s, u2), update_of(s, u3));
    assert_eq!(
        (a["status"].as_str(), b["status"].as_str()),
        (Some("successful"), Some("successful"))
    );
    assert!(
        b["started"].as_str() >= a["finished"].as_str(),
        "updates of one project run one at a time"
    );
    assert_eq!(project(s, pid)["scm_revision"], r3.as_str());
    assert_eq!(lab.job(j1)["status"], "running");
    std::fs::write(&gate, "open").unwrap();
    let job = lab.wait_status(j1, "successful");
    assert_eq!(job["scm_revision"], r1.as_str());
    let out = lab.stdout(j1);
    assert!(
        out.contains("data is v1"),
        "the job ran its own copy of r1: {out}"
    );
    let j2 = lab.launch(jt);
    lab.wait_status(j2, "successful");
    assert!(lab.stdout(j2).contains("data is v3"));

    // A branch chosen at launch (the project allows it, the template asks for it).
    repo.git(&["checkout", "--quiet", "-b", "feature"]);
    let feat = repo.commit(&[("site.yml", &play("feature"))], "f");
    repo.git(&["checkout", "--quiet", "main"]);
    s.admin(
        "POST",
        &format!("/api/v2/projects/{pid}/update/"),
        None,
        202,
    );
    eventually(Duration::from_secs(60), || {
        let p = project(s, pid);
        if p["status"] == "successful" {
            Ok(())
        } else {
            Err(p.to_string())
        }
    });
    let bjt = lab.jt(
        "Branchy",
        pid,
        inv,
        "site.yml",
        json!({"ask_scm_branch_on_launch": true}),
    );
    let launched = s.awx_json(&[
        "job_templates",
        "launch",
        &bjt.to_string(),
        "--scm_branch",
        "feature",
        "--wait",
    ]);
    let jid = launched["id"].as_i64().unwrap();
    let job = lab.wait_status(jid, "successful");
    assert_eq!(job["scm_branch"], "feature");
    assert_eq!(job["scm_revision"], feat.as_str());
    assert!(lab.stdout(jid).contains("git-play says feature"));
    let plain = lab.launch(bjt);
    lab.wait_status(plain, "successful");
    assert!(lab.stdout(plain).contains("git-play says main"));

    // Without `allow_override` a template may not choose a branch.
    let strict = git_project(&lab, "Strict", &repo, json!({}));
    let bad = s.admin(
        "POST",
        "/api/v2/job_templates/",
        Some(json!({"name": "No", "project": strict, "inventory": inv, "playbook": "site.yml", "scm_branch": "feature"})),
        400,
    );
    assert_eq!(
        bad["scm_branch"][0], "Project does not allow overriding branch.",
        "{bad}"
    );
}

#[test]
fn requirements_from_local_sources_are_installed_once_per_revision_and_reach_the_job() {
    let lab = Lab::start();
    let s = &lab.s;
    // A role in a git repository of its own, and a collection built into a tarball.
    let role = Repo::new(&s.data, "repos/role");
    role.commit(
        &[
            ("meta/main.yml", "galaxy_info: {author: t, description: r, license: MIT, min_ansible_version: '2.9'}\ndependencies: []\n"),
            ("tasks/main.yml", "- debug: {msg: from-the-role}\n"),
        ],
        "role",
    );
    let src = s.data.join("coll");
    std::fs::create_dir_all(src.join("roles/greet/tasks")).unwrap();
    std::fs::write(
        src.join("galaxy.yml"),
        "namespace: rawxtest\nname: demo\nversion: 1.0.0\nreadme: README.md\nauthors: [t]\n",
    )
    .unwrap();
    std::fs::write(src.join("README.md"), "demo\n").unwrap();
    std::fs::write(
        src.join("roles/greet/tasks/main.yml"),
        "- debug: {msg: from-the-collection}\n",
    )
    .unwrap();
    let galaxy = rawx_testkit::venv().join("bin/ansible-galaxy");
    let built = Command::new(&galaxy)
        .args(["collection", "build", "--output-path"])
        .arg(s.data.join("dist"))
        .arg(&src)
        .output()
        .unwrap();
    assert!(built.status.success(), "{built:?}");
    let tarball = s.data.join("dist/rawxtest-demo-1.0.0.tar.gz");

    let repo = Repo::new(&s.data, "repos/withreqs");
    let book = "- hosts: all\n  gather_facts: false\n  roles: [myrole]\n  tasks:\n    - include_role: {name: rawxtest.demo.greet}\n";
    let rev = repo.commit(
        &[
            ("site.yml", book),
            (
                "roles/requirements.yml",
                &format!("- src: git+{}\n  name: myrole\n", role.url()),
            ),
            (
                "collections/requirements.yml",
                &format!(
                    "collections:\n  - name: {}\n    type: file\n",
                    tarball.display()
                ),
            ),
        ],
        "reqs",
    );
    let pid = git_project(&lab, "Reqs", &repo, json!({}));
    let first = updates(s, pid, "")[0]["id"].as_i64().unwrap();
    let out = lab.stdout_on("project_updates", first);
    assert!(
        out.contains("TASK [Fetch galaxy roles from roles/requirements.(yml/yaml)]"),
        "{out}"
    );
    assert!(
        out.contains("TASK [Fetch galaxy collections from collections/requirements.(yml/yaml)]"),
        "{out}"
    );
    assert!(
        out.contains("myrole") && out.contains("rawxtest.demo"),
        "{out}"
    );
    assert!(s
        .data
        .join(format!(
            "projects/.__awx_cache/_{pid}__reqs/{rev}/requirements_roles/myrole"
        ))
        .is_dir());

    let inv = lab.inventory("Local", &[("h1", local_vars())]);
    let jt = lab.jt("Reqs JT", pid, inv, "site.yml", json!({}));
    let j = lab.launch(jt);
    lab.wait_status(j, "successful");
    let out = lab.stdout(j);
    assert!(
        out.contains("from-the-role") && out.contains("from-the-collection"),
        "{out}"
    );

    // The same revision again: the cache serves, nothing is installed.
    let u = s.admin(
        "POST",
        &format!("/api/v2/projects/{pid}/update/"),
        None,
        202,
    )["id"]
        .as_i64()
        .unwrap();
    assert_eq!(update_of(s, u)["status"], "successful");
    let out = lab.stdout_on("project_updates", u);
    assert!(
        out.contains("already") && !out.contains("changed: [localhost]"),
        "{out}"
    );

    // With AWX_ROLES_ENABLED off, roles are not installed (collections still are).
    s.admin(
        "PATCH",
        "/api/v2/settings/jobs/",
        Some(json!({"AWX_ROLES_ENABLED": false})),
        200,
    );
    let off = repo.commit(&[("README.md", "roles off\n")], "off");
    let u = s.admin(
        "POST",
        &format!("/api/v2/projects/{pid}/update/"),
        None,
        202,
    )["id"]
        .as_i64()
        .unwrap();
    assert_eq!(update_of(s, u)["status"], "successful");
    let out = lab.stdout_on("project_updates", u);
    assert!(
        !out.contains("Fetch galaxy roles") && out.contains("Fetch galaxy collections"),
        "{out}"
    );
    let cache = s
        .data
        .join(format!("projects/.__awx_cache/_{pid}__reqs/{off}"));
    assert!(
        !cache.join("requirements_roles").exists()
            && cache.join("requirements_collections").is_dir()
    );
    s.admin(
        "PATCH",
        "/api/v2/settings/jobs/",
        Some(json!({"AWX_ROLES_ENABLED": true})),
        200,
    );

    // A source that cannot be reached fails the update, naming it.
    let bad = repo.commit(
        &[(
            "roles/requirements.yml",
            "- src: git+file:///nonexistent/role\n  name: gone\n",
        )],
        "bad",
    );
    let u = s.admin(
        "POST",
        &format!("/api/v2/projects/{pid}/update/"),
        None,
        202,
    )["id"]
        .as_i64()
        .unwrap();
    let done = update_of(s, u);
    assert_eq!(done["status"], "failed", "{done}");
    let out = lab.stdout_on("project_updates", u);
    assert!(
        out.contains("ansible-galaxy could not install roles/requirements.yml"),
        "{out}"
    );
    assert_ne!(
        project(s, pid)["scm_revision"],
        bad.as_str(),
        "a failed update records no revision"
    );
}

/// Requirements that need a Galaxy server when none can be reached (the organization's Galaxy
/// credential points at a closed port): the update fails saying which server it tried, why,
/// and where the servers are set; the credential's token appears nowhere. A template whose
/// project updates on launch fails with AWX's explanation.
#[test]
fn requirements_without_a_reachable_galaxy_server_fail_clearly() {
    let lab = Lab::start();
    let s = &lab.s;
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let url = format!("http://127.0.0.1:{closed}/api/");
    let token = "galaxy-token-never-shown-3141";
    let cred = lab.credential(
        "Closed Galaxy",
        "Ansible Galaxy/Automation Hub API Token",
        json!({"url": url, "token": token}),
    );
    let org = lab.org["id"].as_i64().unwrap();
    s.admin(
        "POST",
        &format!("/api/v2/organizations/{org}/galaxy_credentials/"),
        Some(json!({"id": cred})),
        204,
    );
    let repo = Repo::new(&s.data, "repos/needs-galaxy");
    repo.commit(
        &[
            ("site.yml", &play("g1")),
            (
                "collections/requirements.yml",
                "collections:\n  - name: community.general\n",
            ),
        ],
        "needs galaxy",
    );
    let p = s.admin(
        "POST",
        "/api/v2/projects/",
        Some(
            json!({"name": "Needs Galaxy", "organization": org, "scm_type": "git",
                    "scm_url": repo.url(), "scm_update_on_launch": true}),
        ),
        201,
    );
    let pid = p["id"].as_i64().unwrap();
    let uid = p["summary_fields"]["current_update"]["id"]
        .as_i64()
        .unwrap();
    let u = update_of(s, uid);
    let out = lab.stdout_on("project_updates", uid);
    assert_eq!(u["status"], "failed", "{u}\n{out}");
    for said in [
        "TASK [Fetch galaxy collections from collections/requirements.(yml/yaml)]",
        "ansible-galaxy could not install collections/requirements.yml: no Galaxy server could be reached",
        &format!("tried {url} ("),
        "Connection refused",
        &format!("/api/v2/organizations/{org}/galaxy_credentials/"),
    ] {
        assert!(out.contains(said), "{said:?} missing:\n{out}");
    }
    let events = lab.all(&format!("/api/v2/project_updates/{uid}/events/"));
    let shown = format!("{out}{}{}", json!(events), json!(u));
    assert!(!shown.contains(token), "the token leaked:\n{shown}");
    assert_eq!(project(s, pid)["status"], "failed");

    // A launch needs an update, which fails the same way; the job says so.
    let inv = lab.inventory("Local", &[("h1", local_vars())]);
    let jt = lab.jt("Needs Galaxy JT", pid, inv, "site.yml", json!({}));
    let j = lab.launch(jt);
    let job = lab.wait_status(j, "failed");
    let why = job["job_explanation"].as_str().unwrap_or_default();
    assert!(
        why.starts_with("Previous Task Failed: {\"job_type\": \"project_update\""),
        "{job}"
    );
    let dep = updates(s, pid, "").last().unwrap()["id"].as_i64().unwrap();
    assert_ne!(dep, uid, "the launch made an update of its own");
    let dep_out = lab.stdout_on("project_updates", dep);
    assert!(
        dep_out.contains("no Galaxy server could be reached"),
        "{dep_out}"
    );
    assert!(!dep_out.contains(token));
}

#[test]
fn an_archive_project_from_a_local_http_server() {
    let lab = Lab::start();
    let s = &lab.s;
    let www = s.data.join("www");
    std::fs::create_dir_all(www.join("src/proj-1.0")).unwrap();
    let pack = |version: &str| {
        std::fs::write(www.join("src/proj-1.0/site.yml"), play(version)).unwrap();
        let out = Command::new("tar")
            .args(["-czf", "../proj.tar.gz", "proj-1.0"])
            .current_dir(www.join("src"))
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        let sum = Command::new("sha1sum")
            .arg(www.join("proj.tar.gz"))
            .output()
            .unwrap();
        String::from_utf8_lossy(&sum.stdout)
            .split_whitespace()
            .next()
            .unwrap()
            .to_string()
    };
    let sum1 = pack("archived-1");
    let port = rawx_testkit::free_port();
    let _http = rawx_testkit::procs::Proc::spawn(
        Command::new(rawx_testkit::venv().join("bin/python"))
            .args([
                "-m",
                "http.server",
                "--bind",
                "127.0.0.1",
                &port.to_string(),
            ])
            .current_dir(&www)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null()),
    );
    eventually(Duration::from_secs(10), || {
        std::net::TcpStream::connect(("127.0.0.1", port))
            .map(|_| ())
            .map_err(|e| e.to_string())
    });
    // `scm_clean`: AWX's unpacking keeps files that exist unless forced.
    let made = s.awx_json(&[
        "projects",
        "create",
        "--name",
        "Arch",
        "--organization",
        &lab.org["id"].to_string(),
        "--scm_type",
        "archive",
        "--scm_url",
        &format!("http://127.0.0.1:{port}/proj.tar.gz"),
        "--scm_clean",
        "true",
        "--wait",
    ]);
    let pid = made["id"].as_i64().unwrap();
    let p = project(s, pid);
    assert_eq!(p["status"], "successful", "{p}");
    assert_eq!(
        p["scm_revision"],
        sum1.as_str(),
        "an archive's revision is its SHA-1"
    );
    let books = s.admin(
        "GET",
        &format!("/api/v2/projects/{pid}/playbooks/"),
        None,
        200,
    );
    assert_eq!(
        books,
        json!(["site.yml"]),
        "the archive's top directory is stripped"
    );
    let inv = lab.inventory("Local", &[("h1", local_vars())]);
    let jt = lab.jt("Arch JT", pid, inv, "site.yml", json!({}));
    let j = lab.launch(jt);
    lab.wait_status(j, "successful");
    assert!(lab.stdout(j).contains("git-play says archived-1"));

    let sum2 = pack("archived-2");
    let up = s.awx_json(&["projects", "update", &pid.to_string(), "--wait"]);
    let u = update_of(s, up["id"].as_i64().unwrap());
    assert_eq!(u["scm_revision"], sum2.as_str(), "{u}");
    let j = lab.launch(jt);
    lab.wait_status(j, "successful");
    assert!(lab.stdout(j).contains("git-play says archived-2"));
    let bad = s.admin(
        "POST",
        "/api/v2/projects/",
        Some(json!({"name": "A2", "organization": lab.org["id"], "scm_type": "archive", "scm_url": "http://x/y.tgz", "scm_branch": "main"})),
        400,
    );
    assert_eq!(
        bad["scm_branch"][0],
        "SCM branch cannot be used with archive projects."
    );
}
