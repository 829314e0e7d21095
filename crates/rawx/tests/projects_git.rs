//! End-to-end: projects from Git repositories the tests make, through the unmodified `awx`
//! CLI and AWX's endpoints: `projects create --scm_type git --wait`, project updates as a kind
//! of job of their own (`/project_updates/`, stdout, events, cancel, `/unified_jobs/`), the
//! project's status, revision and playbooks from its checkout, and jobs running it. Private
//! repositories over HTTP and SSH are `projects_git_access.rs`; updates on launch, racing
//! updates, Galaxy requirements and archives `projects_git_launch.rs`.

use rawx_testkit::git::{play, project as git_project, project_row as project, update_of, Repo};
use rawx_testkit::lab::*;
use rawx_testkit::{eventually, Server};
use serde_json::{json, Value};
use std::path::Path;
use std::time::Duration;

#[test]
fn cli_creates_a_git_project_updates_it_and_a_job_runs_its_checkout() {
    let lab = Lab::start();
    let s = &lab.s;
    let repo = Repo::new(&s.data, "repos/site");
    let first = repo.commit(
        &[
            ("site.yml", &play("one")),
            ("inventories/lab.ini", "[web]\nh1\n"),
            ("roles/x/tasks/main.yml", "- debug: {}\n"),
        ],
        "one",
    );

    // What a new user types: the CLI waits for the project's first update.
    let made = s.awx_json(&[
        "projects",
        "create",
        "--name",
        "Site",
        "--organization",
        &lab.org["id"].to_string(),
        "--scm_type",
        "git",
        "--scm_url",
        &repo.url(),
        "--wait",
    ]);
    let pid = made["id"].as_i64().expect("project id");
    let p = project(s, pid);
    assert_eq!(p["status"], "successful", "{p}");
    assert_eq!(p["scm_revision"], first.as_str(), "{p}");
    assert_eq!(p["last_update_failed"], false);
    assert!(p["last_updated"].is_string(), "{p}");
    assert_eq!(
        p["local_path"],
        format!("_{pid}__site"),
        "AWX's directory name"
    );
    assert_eq!(
        p["summary_fields"]["last_update"]["status"], "successful",
        "{p}"
    );
    for link in ["update", "project_updates", "playbooks", "last_update"] {
        assert!(p["related"][link].is_string(), "related.{link}: {p}");
    }
    let books: Vec<String> = serde_json::from_value(s.admin(
        "GET",
        &format!("/api/v2/projects/{pid}/playbooks/"),
        None,
        200,
    ))
    .unwrap();
    let invs = s.admin(
        "GET",
        &format!("/api/v2/projects/{pid}/inventories/"),
        None,
        200,
    );
    assert_eq!(
        invs,
        json!(["inventories/lab.ini"]),
        "inventory files of the checkout"
    );
    assert_eq!(
        books,
        vec!["site.yml".to_string()],
        "roles/ and .git/ are not playbooks"
    );

    // The update is a unified job of its own.
    let ups = s.awx_json(&["project_updates", "list", "--project", &pid.to_string()]);
    assert_eq!(ups["count"], 1, "{ups}");
    let uid = ups["results"][0]["id"].as_i64().unwrap();
    let u = update_of(s, uid);
    assert_eq!(u["type"], "project_update");
    assert_eq!(u["status"], "successful", "{u}");
    assert_eq!(u["scm_revision"], first.as_str());
    assert_eq!(u["job_type"], "check");
    assert_eq!(u["launch_type"], "manual");
    assert_eq!(u["project"], pid);
    assert_eq!(u["launched_by"]["name"], "admin", "{u}");
    assert_eq!(
        u["summary_fields"]["unified_job_template"]["unified_job_type"],
        "project_update"
    );
    assert_eq!(u["playbook_counts"]["play_count"], 1, "{u}");
    assert!(
        u["related"]["relaunch"].is_null(),
        "AWX has no relaunch of an update: {u}"
    );
    let uj = s.admin("GET", &format!("/api/v2/unified_jobs/?id={uid}"), None, 200);
    assert_eq!(uj["results"][0]["type"], "project_update", "{uj}");
    let out = s.awx_ok(&["project_updates", "stdout", &uid.to_string()]);
    assert!(out.contains("TASK [Update project using git]"), "{out}");
    assert!(
        out.contains("changed: [localhost]"),
        "a first checkout changes: {out}"
    );
    assert!(out.contains("PLAY RECAP"), "{out}");
    for fmt in ["txt", "ansi", "json", "html"] {
        let r = s.http(
            "GET",
            &format!("/api/v2/project_updates/{uid}/stdout/?format={fmt}"),
            Some(("admin", rawx_testkit::ADMIN_PW)),
            None,
        );
        assert_eq!(r.status, 200, "{fmt}: {}", r.body);
        assert!(
            r.body.contains("Update project using git"),
            "{fmt}: {}",
            r.body
        );
    }
    let events = lab.all(&format!(
        "/api/v2/project_updates/{uid}/events/?order_by=counter"
    ));
    let names: Vec<&str> = events
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    assert_eq!(names.first(), Some(&"playbook_on_start"), "{names:?}");
    assert_eq!(names.last(), Some(&"playbook_on_stats"), "{names:?}");
    assert!(names.contains(&"runner_on_ok"), "{names:?}");

    // An update of an unchanged repository changes nothing; `update --wait` waits for it.
    let again = s.awx_json(&["projects", "update", &pid.to_string(), "--wait"]);
    let uid2 = again["id"].as_i64().expect("update id");
    let u2 = update_of(s, uid2);
    assert_eq!(u2["status"], "successful", "{u2}");
    assert_eq!(u2["scm_revision"], first.as_str());
    let out2 = lab.stdout_on("project_updates", uid2);
    assert!(
        out2.contains("ok: [localhost]") && !out2.contains("changed: [localhost]"),
        "{out2}"
    );

    // A job of the project runs what the checkout holds.
    let inv = lab.inventory("Local", &[("h1", local_vars())]);
    let jt = lab.jt("Site JT", pid, inv, "site.yml", json!({}));
    let j1 = lab.launch(jt);
    lab.wait_status(j1, "successful");
    assert!(lab.stdout(j1).contains("git-play says one"));
    assert_eq!(lab.job(j1)["scm_revision"], first.as_str());

    // A new commit: a new update checks it out, the next job runs it.
    let second = repo.commit(&[("site.yml", &play("two"))], "two");
    let up = s.admin(
        "POST",
        &format!("/api/v2/projects/{pid}/update/"),
        None,
        202,
    );
    assert_eq!(up["project_update"], up["id"], "{up}");
    let u3 = update_of(s, up["id"].as_i64().unwrap());
    assert_eq!(u3["scm_revision"], second.as_str(), "{u3}");
    assert_eq!(project(s, pid)["scm_revision"], second.as_str());
    let j2 = lab.launch(jt);
    lab.wait_status(j2, "successful");
    assert!(lab.stdout(j2).contains("git-play says two"));

    // A copy of a git project is updated into a directory of its own.
    let copy = s.admin(
        "POST",
        &format!("/api/v2/projects/{pid}/copy/"),
        Some(json!({"name": "Site copy"})),
        201,
    );
    let cid = copy["id"].as_i64().unwrap();
    eventually(Duration::from_secs(60), || {
        let c = project(s, cid);
        if c["status"] == "successful" {
            Ok(c)
        } else {
            Err(c.to_string())
        }
    });
    let c = project(s, cid);
    assert_eq!(c["scm_revision"], second.as_str());
    assert_eq!(c["local_path"], format!("_{cid}__site_copy"));

    // A manual project cannot be updated.
    let demo = lab.project("manual", &[("x.yml", &play("manual"))]);
    let can = s.admin(
        "GET",
        &format!("/api/v2/projects/{demo}/update/"),
        None,
        200,
    );
    assert_eq!(can["can_update"], false);
    s.admin(
        "POST",
        &format!("/api/v2/projects/{demo}/update/"),
        None,
        405,
    );
    let can = s.admin("GET", &format!("/api/v2/projects/{pid}/update/"), None, 200);
    assert_eq!(can["can_update"], true);
}

#[test]
fn a_bad_branch_fails_the_update_and_changing_scm_fields_updates_again() {
    let lab = Lab::start();
    let s = &lab.s;
    let repo = Repo::new(&s.data, "repos/b");
    let main = repo.commit(&[("site.yml", &play("main"))], "main");
    repo.git(&["checkout", "--quiet", "-b", "feature"]);
    let feature = repo.commit(&[("site.yml", &play("feature"))], "feature");
    repo.git(&["checkout", "--quiet", "main"]);
    repo.git(&["tag", "v1", &main]);

    let p = s.admin(
        "POST",
        "/api/v2/projects/",
        Some(
            json!({"name": "B", "organization": lab.org["id"], "scm_type": "git",
                    "scm_url": repo.url(), "scm_branch": "nope"}),
        ),
        201,
    );
    let pid = p["id"].as_i64().unwrap();
    let first = p["summary_fields"]["current_update"]["id"]
        .as_i64()
        .unwrap_or_else(|| panic!("a new git project is being updated: {p}"));
    let u = update_of(s, first);
    assert_eq!(u["status"], "failed", "{u}");
    let out = lab.stdout_on("project_updates", first);
    assert!(
        out.contains("fatal: [localhost]: FAILED!") && out.contains("nope"),
        "{out}"
    );
    let p = project(s, pid);
    assert_eq!(p["status"], "failed");
    assert_eq!(p["last_update_failed"], true);

    // Changing the branch (an SCM field) starts an update, as AWX's save does.
    let changed = s.admin(
        "PATCH",
        &format!("/api/v2/projects/{pid}/"),
        Some(json!({"scm_branch": "feature"})),
        200,
    );
    let second = changed["summary_fields"]["current_update"]["id"]
        .as_i64()
        .expect("update started");
    assert_eq!(update_of(s, second)["scm_revision"], feature.as_str());
    let p = project(s, pid);
    assert_eq!(
        (p["status"].as_str(), p["last_update_failed"].as_bool()),
        (Some("successful"), Some(false))
    );
    // A tag is a branch AWX accepts too; a description change starts nothing.
    s.admin(
        "PATCH",
        &format!("/api/v2/projects/{pid}/"),
        Some(json!({"scm_branch": "v1"})),
        200,
    );
    eventually(Duration::from_secs(60), || {
        let p = project(s, pid);
        if p["scm_revision"] == main.as_str() && p["status"] == "successful" {
            Ok(())
        } else {
            Err(p.to_string())
        }
    });
    let before = s.admin(
        "GET",
        &format!("/api/v2/project_updates/?project={pid}"),
        None,
        200,
    )["count"]
        .clone();
    s.admin(
        "PATCH",
        &format!("/api/v2/projects/{pid}/"),
        Some(json!({"description": "d"})),
        200,
    );
    let after = s.admin(
        "GET",
        &format!("/api/v2/project_updates/?project={pid}"),
        None,
        200,
    )["count"]
        .clone();
    assert_eq!(before, after);

    // AWX's validation of SCM options.
    let bad = s.admin(
        "POST",
        "/api/v2/projects/",
        Some(json!({"name": "M", "organization": lab.org["id"], "scm_type": "", "local_path": "demo", "scm_update_on_launch": true})),
        400,
    );
    assert_eq!(
        bad["scm_update_on_launch"][0],
        "Update options must be set to false for manual projects."
    );
    let bad = s.admin(
        "POST",
        "/api/v2/projects/",
        Some(json!({"name": "N", "organization": lab.org["id"], "scm_type": "git"})),
        400,
    );
    assert_eq!(bad["scm_url"][0], "SCM URL is required.", "{bad}");
}

#[test]
fn a_canceled_update_ends_canceled() {
    let lab = Lab::start();
    let s = &lab.s;
    // A Git server that accepts the connection and never answers: the update waits in
    // `git fetch` until it is canceled.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    let p = s.admin(
        "POST",
        "/api/v2/projects/",
        Some(
            json!({"name": "Hang", "organization": lab.org["id"], "scm_type": "git",
                    "scm_url": format!("http://127.0.0.1:{port}/repo.git")}),
        ),
        201,
    );
    let uid = p["summary_fields"]["current_update"]["id"]
        .as_i64()
        .unwrap();
    // A websocket client watching the update as AWX's UI does.
    let mut ws = rawx_testkit::wsclient::Py::start(
        s,
        json!({"login": ["admin", rawx_testkit::ADMIN_PW], "steps": [
            ["send", {"xrftoken": "$XRF", "groups": {"jobs": ["status_changed"], "project_update_events": [uid]}}],
            ["recv"],
            ["ready"],
            ["listen"],
        ]}),
    );
    ws.ready();
    eventually(Duration::from_secs(30), || {
        let u = s.admin("GET", &format!("/api/v2/project_updates/{uid}/"), None, 200);
        if u["status"] == "running" {
            Ok(())
        } else {
            Err(u.to_string())
        }
    });
    // Its first events are stored (and sent) while git still waits.
    eventually(Duration::from_secs(30), || {
        let e = s.admin(
            "GET",
            &format!("/api/v2/project_updates/{uid}/events/?event=playbook_on_task_start"),
            None,
            200,
        );
        if e["count"] == 1 {
            Ok(())
        } else {
            Err(e.to_string())
        }
    });
    let can = s.admin(
        "GET",
        &format!("/api/v2/project_updates/{uid}/cancel/"),
        None,
        200,
    );
    assert_eq!(can["can_cancel"], true);
    s.admin(
        "POST",
        &format!("/api/v2/project_updates/{uid}/cancel/"),
        None,
        202,
    );
    let u = update_of(s, uid);
    assert_eq!(u["status"], "canceled", "{u}");
    assert_eq!(u["job_explanation"], "Job canceled by request.");
    assert_eq!(project(s, pid_of(&p))["status"], "canceled");
    ws.stop_listening();
    let seen = ws.result(Duration::from_secs(30));
    let got = seen["received"].as_array().unwrap();
    assert!(
        got.iter().any(|m| m["event"] == "playbook_on_stats"
            && m["project_update"] == uid
            && m["group_name"] == "project_update_events"),
        "{seen}"
    );
    assert!(
        got.iter().any(|m| m["group_name"] == "jobs"
            && m["unified_job_id"] == uid
            && m["status"] == "canceled"
            && m["type"] == "project_update"),
        "{seen}"
    );
}

fn pid_of(p: &Value) -> i64 {
    p["id"].as_i64().unwrap()
}

mod collection {
    use super::*;

    /// Runs `tasks` on localhost through the collection; each task's result.
    fn play(s: &Server, dir: &Path, tasks: &str) -> Vec<Value> {
        let (out, tasks) = rawx_testkit::collection::play(s, dir, tasks, &[]);
        assert_eq!(out.code, 0, "{out}");
        tasks.into_iter().map(|t| t.result).collect()
    }

    #[test]
    fn project_and_project_update_modules_wait_for_updates() {
        let lab = Lab::start();
        let s = &lab.s;
        let repo = Repo::new(&s.data, "repos/col");
        let first = repo.commit(&[("site.yml", &super::play("c1"))], "c1");
        let dir = s.data.join("play");
        std::fs::create_dir_all(&dir).unwrap();
        let project_task = format!(
            "    - awx.awx.project:\n        name: Col\n        organization: Ops\n        scm_type: git\n        scm_url: {}\n        wait: true\n",
            repo.url()
        );
        let r = play(s, &dir, &project_task);
        assert_eq!(r[0]["changed"], true, "{}", r[0]);
        let p = s.admin("GET", "/api/v2/projects/?name=Col", None, 200)["results"][0].clone();
        assert_eq!(p["status"], "successful", "{p}");
        assert_eq!(p["scm_revision"], first.as_str());
        // Run again: nothing to change, no new update.
        let r = play(s, &dir, &project_task);
        assert_eq!(r[0]["changed"], false, "{}", r[0]);

        // `project_update` reports a change only when the revision moved.
        let update = "    - awx.awx.project_update: {name: Col, wait: true}\n";
        let r = play(s, &dir, update);
        assert_eq!(r[0]["changed"], false, "same revision: {}", r[0]);
        let second = repo.commit(&[("site.yml", &super::play("c2"))], "c2");
        let r = play(s, &dir, update);
        assert_eq!(r[0]["changed"], true, "new revision: {}", r[0]);
        let pid = p["id"].as_i64().unwrap();
        assert_eq!(project(s, pid)["scm_revision"], second.as_str());
        let ups = s.admin(
            "GET",
            &format!("/api/v2/projects/{pid}/project_updates/"),
            None,
            200,
        );
        assert_eq!(ups["count"], 3, "{ups}");
    }
}

/// AWX's `Project.delete`: a deleted git project's checkout goes from the projects directory
/// (a manual project's directory, its owner's, stays); `/unified_job_templates/` lists
/// projects as AWX's does.
#[test]
fn a_deleted_project_takes_its_checkout_with_it() {
    let lab = Lab::start();
    let s = &lab.s;
    let repo = Repo::new(&s.data, "repos/gone");
    repo.commit(&[("site.yml", &play("r1"))], "r1");
    let pid = git_project(&lab, "Gone", &repo, json!({}));
    let local = project(s, pid)["local_path"].as_str().unwrap().to_string();
    let checkout = s.data.join("projects").join(&local);
    assert!(
        checkout.join("site.yml").is_file(),
        "{}",
        checkout.display()
    );
    let manual = lab.project("kept", &[("site.yml", &play("m"))]);
    let listed = all_pages(s, "/api/v2/unified_job_templates/");
    let ids: Vec<(i64, &str)> = listed
        .iter()
        .map(|t| (t["id"].as_i64().unwrap(), t["type"].as_str().unwrap()))
        .collect();
    assert!(
        ids.contains(&(pid, "project")) && ids.contains(&(manual, "project")),
        "{listed:?}"
    );

    s.admin("DELETE", &format!("/api/v2/projects/{pid}/"), None, 204);
    eventually(Duration::from_secs(30), || {
        (!checkout.exists()).then_some(())
    });
    s.admin("DELETE", &format!("/api/v2/projects/{manual}/"), None, 204);
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        s.data.join("projects/kept/site.yml").is_file(),
        "a manual project's directory stays"
    );
}

/// A web node needs no checkout: a git project's playbooks and inventory files are what its
/// last update recorded (AWX's `playbook_files` / `inventory_files`), and a template's playbook
/// is checked against them, here with the checkout gone from this node.
#[test]
fn playbooks_are_what_the_update_recorded_without_a_checkout() {
    let lab = Lab::start();
    let s = &lab.s;
    let repo = Repo::new(&s.data, "repos/recorded");
    repo.commit(
        &[
            ("site.yml", &play("r1")),
            ("deploy/web.yaml", &play("r1")),
            ("roles/r/tasks/main.yml", &play("r1")),
            ("hosts", "web1\n"),
        ],
        "r1",
    );
    let pid = git_project(&lab, "Recorded", &repo, json!({}));
    let local = project(s, pid)["local_path"].as_str().unwrap().to_string();
    std::fs::remove_dir_all(s.data.join("projects").join(&local)).unwrap();
    let playbooks = s.admin(
        "GET",
        &format!("/api/v2/projects/{pid}/playbooks/"),
        None,
        200,
    );
    assert_eq!(playbooks, json!(["deploy/web.yaml", "site.yml"]));
    let inventories = s.admin(
        "GET",
        &format!("/api/v2/projects/{pid}/inventories/"),
        None,
        200,
    );
    assert_eq!(inventories, json!(["hosts"]));
    let inv = lab.inventory("Local", &[("localhost", local_vars())]);
    let body = |playbook: &str| {
        json!({"name": format!("jt {playbook}"), "project": pid, "inventory": inv,
               "playbook": playbook})
    };
    s.admin(
        "POST",
        "/api/v2/job_templates/",
        Some(body("deploy/web.yaml")),
        201,
    );
    let refused = s.admin(
        "POST",
        "/api/v2/job_templates/",
        Some(body("missing.yml")),
        400,
    );
    assert_eq!(
        refused,
        json!({"playbook": ["Playbook not found for project."]})
    );
}

/// AWX's git module call (`track_submodules: scm_track_submodules`): submodules are checked
/// out recursively, at the commit the repository records, or with tracking at the head of
/// the submodule's branch; a job's copy of the project holds their files.
#[test]
fn submodules_are_checked_out_and_tracked_when_asked() {
    let lab = Lab::start();
    let s = &lab.s;
    let lib = Repo::new(&s.data, "repos/lib");
    lib.commit(&[("v.yml", "sub_version: one\n")], "one");
    let repo = Repo::new(&s.data, "repos/super");
    repo.commit(
        &[(
            "site.yml",
            "- hosts: all\n  gather_facts: false\n  vars_files: [lib/v.yml]\n  tasks:\n    - debug: {msg: \"submodule says {{ sub_version }}\"}\n",
        )],
        "site",
    );
    let file_ok = ["-c", "protocol.file.allow=always"];
    let lib_url = lib.url();
    repo.git(&[
        file_ok[0],
        file_ok[1],
        "submodule",
        "add",
        "--quiet",
        &lib_url,
        "lib",
    ]);
    repo.git(&["commit", "--quiet", "-m", "lib at one"]);
    // The submodule moves on; the superproject still records `one`.
    lib.commit(&[("v.yml", "sub_version: two\n")], "two");

    let pinned = git_project(&lab, "Pinned", &repo, json!({}));
    let tracking = git_project(
        &lab,
        "Tracking",
        &repo,
        json!({"scm_track_submodules": true}),
    );
    assert_eq!(project(s, tracking)["scm_track_submodules"], true);
    let inv = lab.inventory("Local", &[("h1", local_vars())]);
    let pinned_jt = lab.jt("Pinned JT", pinned, inv, "site.yml", json!({}));
    let tracking_jt = lab.jt("Tracking JT", tracking, inv, "site.yml", json!({}));
    let says = |jt: i64| {
        let j = lab.launch(jt);
        lab.wait_status(j, "successful");
        lab.stdout(j)
    };
    let out = says(pinned_jt);
    assert!(out.contains("submodule says one"), "{out}");
    let out = says(tracking_jt);
    assert!(out.contains("submodule says two"), "{out}");

    // Another submodule commit: only the tracking project's update changes something, and
    // a checkout whose submodule is ahead of the recorded commit is no local change.
    lib.commit(&[("v.yml", "sub_version: three\n")], "three");
    let update = |pid: i64| {
        let up = s.admin(
            "POST",
            &format!("/api/v2/projects/{pid}/update/"),
            None,
            202,
        );
        let id = up["id"].as_i64().unwrap();
        let u = update_of(s, id);
        let out = lab.stdout_on("project_updates", id);
        assert_eq!(u["status"], "successful", "{u}\n{out}");
        out
    };
    let out = update(tracking);
    assert!(out.contains("changed: [localhost]"), "{out}");
    let out = update(pinned);
    assert!(
        out.contains("ok: [localhost]") && !out.contains("changed: [localhost]"),
        "{out}"
    );
    let out = says(tracking_jt);
    assert!(out.contains("submodule says three"), "{out}");
    let out = says(pinned_jt);
    assert!(out.contains("submodule says one"), "{out}");
}

/// `awx projects update N --monitor` as a user runs it: the update's output streamed (the
/// playbook's lines), then the CLI's exit code is the update's result (awxkit sets 1 for
/// `failed`/`error`).
#[test]
fn cli_update_monitor_prints_the_output_and_exits_with_the_result() {
    let lab = Lab::start();
    let s = &lab.s;
    let repo = Repo::new(&s.data, "repos/mon");
    let rev = repo.commit(&[("site.yml", &play("m1"))], "m1");
    let pid = git_project(&lab, "Mon", &repo, json!({}));

    let out = s.awx(&["projects", "update", &pid.to_string(), "--monitor"]);
    assert_eq!(out.code, 0, "{out}");
    for line in [
        "------Starting Standard Out Stream------",
        "PLAY [Update source tree if necessary]",
        "TASK [Update project using git]",
        "ok: [localhost]",
        "PLAY RECAP",
        "localhost                  : ok=2    changed=0    unreachable=0    failed=0",
        "------End of Standard Out Stream--------",
    ] {
        assert!(out.stdout.contains(line), "{line:?} missing:\n{out}");
    }
    assert_eq!(project(s, pid)["scm_revision"], rev.as_str());

    // The repository is gone: the update fails, the CLI shows git's reason and exits 1.
    let gone = s.data.join("repos/mon-gone");
    std::fs::rename(&repo.dir, &gone).unwrap();
    let out = s.awx(&["projects", "update", &pid.to_string(), "--monitor"]);
    assert_eq!(out.code, 1, "a failed update fails the command:\n{out}");
    for line in [
        "TASK [Update project using git]",
        "fatal: [localhost]: FAILED!",
        "Failed to download remote objects and refs",
        "failed=1",
    ] {
        assert!(out.stdout.contains(line), "{line:?} missing:\n{out}");
    }
    assert!(
        out.stdout.contains(&repo.dir.display().to_string()),
        "the URL that failed is named:\n{out}"
    );
    let p = project(s, pid);
    assert_eq!(p["status"], "failed", "{p}");
    assert_eq!(
        p["scm_revision"],
        rev.as_str(),
        "a failed update keeps the revision"
    );
}
