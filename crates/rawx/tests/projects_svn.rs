//! End-to-end: Subversion projects (`scm_type: svn`), as AWX's `project_update.yml` runs the
//! `subversion` module: a checkout of `scm_url` at `scm_branch` (a revision, `HEAD` when
//! empty), `scm_revision` the revision number, local changes refused unless `scm_clean`, and a
//! private repository behind `svnserve` with a Source Control credential whose password
//! reaches svn only on its standard input (never its command line or environment).

use rawx_testkit::git::{play, project_row as project, update_of};
use rawx_testkit::lab::*;
use rawx_testkit::procs::{free_port, Proc};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

fn run(program: &str, args: &[&str], cwd: &Path) -> String {
    let out = Command::new(program)
        .args(args)
        .current_dir(cwd)
        .output()
        .unwrap_or_else(|e| panic!("{program}: {e} (scripts/setup-system.sh installs subversion)"));
    assert!(
        out.status.success(),
        "{program} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A repository `root/name` made with `svnadmin`, with `files` imported as revision 1 under
/// `trunk/`; a working copy of trunk to commit more from.
fn svn_repo(root: &Path, name: &str, files: &[(&str, &str)]) -> (String, PathBuf) {
    std::fs::create_dir_all(root).unwrap();
    let repo = root.join(name);
    run("svnadmin", &["create", repo.to_str().unwrap()], root);
    let url = format!("file://{}/trunk", repo.display());
    let import = root.join(format!("{name}-import"));
    for (path, content) in files {
        let p = import.join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, content).unwrap();
    }
    run(
        "svn",
        &[
            "import",
            "--quiet",
            "-m",
            "first",
            import.to_str().unwrap(),
            &url,
        ],
        root,
    );
    let wc = root.join(format!("{name}-wc"));
    run(
        "svn",
        &["checkout", "--quiet", &url, wc.to_str().unwrap()],
        root,
    );
    (url, wc)
}

/// Writes `files` into the working copy `wc` and commits them.
fn svn_commit(wc: &Path, files: &[(&str, &str)], msg: &str) {
    for (path, content) in files {
        std::fs::write(wc.join(path), content).unwrap();
    }
    run("svn", &["commit", "--quiet", "-m", msg], wc);
}

fn update(lab: &Lab, pid: i64) -> (Value, String) {
    let up = lab.s.admin(
        "POST",
        &format!("/api/v2/projects/{pid}/update/"),
        None,
        202,
    );
    let id = up["id"].as_i64().unwrap();
    (update_of(&lab.s, id), lab.stdout_on("project_updates", id))
}

#[test]
fn an_svn_project_checks_out_revisions_and_jobs_run_them() {
    let lab = Lab::start();
    let s = &lab.s;
    let (url, wc) = svn_repo(&s.data.join("svn"), "site", &[("site.yml", &play("r1"))]);
    svn_commit(&wc, &[("site.yml", &play("r2"))], "two");

    let made = s.awx_json(&[
        "projects",
        "create",
        "--name",
        "Svn",
        "--organization",
        &lab.org["id"].to_string(),
        "--scm_type",
        "svn",
        "--scm_url",
        &url,
        "--wait",
    ]);
    let pid = made["id"].as_i64().unwrap();
    let p = project(s, pid);
    assert_eq!(p["status"], "successful", "{p}");
    assert_eq!(
        p["scm_revision"], "2",
        "the revision number, as AWX records it"
    );
    let first = p["summary_fields"]["last_update"]["id"].as_i64().unwrap();
    let out = lab.stdout_on("project_updates", first);
    for said in [
        "TASK [Update project using svn]",
        "changed: [localhost]",
        "TASK [Parse subversion version string properly]",
    ] {
        assert!(out.contains(said), "{said:?} missing:\n{out}");
    }
    let books = s.admin(
        "GET",
        &format!("/api/v2/projects/{pid}/playbooks/"),
        None,
        200,
    );
    assert_eq!(books, json!(["site.yml"]), ".svn/ holds no playbook");
    let inv = lab.inventory("Local", &[("h1", local_vars())]);
    let jt = lab.jt("Svn JT", pid, inv, "site.yml", json!({}));
    let says = |version: &str| {
        let j = lab.launch(jt);
        lab.wait_status(j, "successful");
        let out = lab.stdout(j);
        assert!(out.contains(&format!("git-play says {version}")), "{out}");
    };
    says("r2");

    // Nothing new: nothing changes. A new commit: the next update checks it out.
    let (u, out) = update(&lab, pid);
    assert_eq!(u["status"], "successful", "{out}");
    assert!(!out.contains("changed: [localhost]"), "{out}");
    svn_commit(&wc, &[("site.yml", &play("r3"))], "three");
    let (u, out) = update(&lab, pid);
    assert_eq!(u["scm_revision"], "3", "{u}\n{out}");
    assert!(out.contains("changed: [localhost]"), "{out}");
    says("r3");

    // scm_branch is the revision, as the module's `revision`.
    let patched = s.admin(
        "PATCH",
        &format!("/api/v2/projects/{pid}/"),
        Some(json!({"scm_branch": "1"})),
        200,
    );
    let uid = patched["summary_fields"]["current_update"]["id"]
        .as_i64()
        .unwrap();
    assert_eq!(update_of(s, uid)["scm_revision"], "1");
    says("r1");

    // A file changed by hand in the checkout stops the update, unless scm_clean.
    let local = s
        .data
        .join("projects")
        .join(project(s, pid)["local_path"].as_str().unwrap());
    std::fs::write(local.join("site.yml"), play("by hand")).unwrap();
    let (u, out) = update(&lab, pid);
    assert_eq!(u["status"], "failed", "{out}");
    assert!(out.contains("Local modifications exist"), "{out}");
    s.admin(
        "PATCH",
        &format!("/api/v2/projects/{pid}/"),
        Some(json!({"scm_clean": true})),
        200,
    );
    let (u, out) = update(&lab, pid);
    assert_eq!(u["status"], "successful", "{out}");
    says("r1");

    // A revision that does not exist fails the update with svn's reason.
    s.admin(
        "PATCH",
        &format!("/api/v2/projects/{pid}/"),
        Some(json!({"scm_branch": "99"})),
        200,
    );
    let (u, out) = update(&lab, pid);
    assert_eq!(u["status"], "failed", "{out}");
    assert!(out.contains("No such revision 99"), "{out}");
}

/// An `svn` on the server's PATH that writes each command line and environment to a log, then
/// runs the real client: what any process listing would have shown of svn.
fn svn_spy(dir: &Path) -> (PathBuf, PathBuf) {
    let bin = dir.join("spy-bin");
    std::fs::create_dir_all(&bin).unwrap();
    let log = dir.join("svn-spy.log");
    let script = format!(
        "#!/bin/sh\n{{ echo \"ARGV: $*\"; env; }} >> '{}'\nexec /usr/bin/svn \"$@\"\n",
        log.display()
    );
    let path = bin.join("svn");
    std::fs::write(&path, script).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    (bin, log)
}

#[test]
fn a_private_svnserve_repository_with_a_password_that_stays_secret() {
    let data = rawx_testkit::procs::DataDir::new();
    let (bin, log) = svn_spy(data.path());
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let lab = Lab::start_with(rawx_testkit::Opts {
        env: vec![("PATH".into(), path)],
        ..Default::default()
    });
    let s = &lab.s;
    let root = s.data.join("svnroot");
    let (_, _) = svn_repo(&root, "priv", &[("site.yml", &play("private"))]);
    let pw = "svn-Pa55-never-shown";
    std::fs::write(
        root.join("priv/conf/svnserve.conf"),
        "[general]\nanon-access = none\nauth-access = write\npassword-db = passwd\nrealm = rawx\n",
    )
    .unwrap();
    std::fs::write(
        root.join("priv/conf/passwd"),
        format!("[users]\nbob = {pw}\n"),
    )
    .unwrap();
    let port = free_port();
    let _svnserve = Proc::spawn(Command::new("svnserve").args([
        "-d",
        "--foreground",
        "-r",
        root.to_str().unwrap(),
        "--listen-host",
        "127.0.0.1",
        "--listen-port",
        &port.to_string(),
    ]));
    rawx_testkit::eventually(Duration::from_secs(10), || {
        std::net::TcpStream::connect(("127.0.0.1", port)).map(|_| ())
    });
    let url = format!("svn://127.0.0.1:{port}/priv/trunk");

    let make = |name: &str, password: &str| {
        let cred = lab.credential(
            name,
            "Source Control",
            json!({"username": "bob", "password": password}),
        );
        let p = s.admin(
            "POST",
            "/api/v2/projects/",
            Some(
                json!({"name": name, "organization": lab.org["id"], "scm_type": "svn",
                        "scm_url": url, "credential": cred}),
            ),
            201,
        );
        let uid = p["summary_fields"]["current_update"]["id"]
            .as_i64()
            .unwrap();
        (
            p["id"].as_i64().unwrap(),
            update_of(s, uid),
            lab.stdout_on("project_updates", uid),
        )
    };
    // Without the right password svn is refused; the update says so.
    let (_, u, out) = make("Wrong", "not-the-password");
    assert_eq!(u["status"], "failed", "{out}");
    assert!(out.contains("Password incorrect"), "{out}");

    let (pid, u, out) = make("Right", pw);
    assert_eq!(u["status"], "successful", "{u}\n{out}");
    assert_eq!(u["scm_revision"], "1");
    let inv = lab.inventory("Local", &[("h1", local_vars())]);
    let jt = lab.jt("Private JT", pid, inv, "site.yml", json!({}));
    let j = lab.launch(jt);
    lab.wait_status(j, "successful");
    assert!(lab.stdout(j).contains("git-play says private"));

    assert_eq!(
        serde_json::from_str::<Value>(u["job_args"].as_str().unwrap()).unwrap(),
        json!(["svn", "update", url]),
        "{u}"
    );

    // A user and password in the URL are used as AWX prefers them, and shown nowhere else.
    let in_url = format!("svn://bob:{pw}@127.0.0.1:{port}/priv/trunk");
    let p = s.admin(
        "POST",
        "/api/v2/projects/",
        Some(
            json!({"name": "In URL", "organization": lab.org["id"], "scm_type": "svn",
                    "scm_url": in_url}),
        ),
        201,
    );
    let uid = p["summary_fields"]["current_update"]["id"]
        .as_i64()
        .unwrap();
    let u2 = update_of(s, uid);
    let out2 = lab.stdout_on("project_updates", uid);
    assert_eq!(u2["status"], "successful", "{u2}\n{out2}");
    assert!(
        !u2["job_args"].as_str().unwrap().contains(pw),
        "{}",
        u2["job_args"]
    );
    assert!(!out2.contains(pw), "{out2}");

    // svn was run with the user and `--password-from-stdin`; the password was nowhere.
    let spied = std::fs::read_to_string(&log).unwrap();
    assert!(
        spied.contains("--username bob") && spied.contains("--password-from-stdin"),
        "{spied}"
    );
    assert!(
        !spied.contains(pw),
        "the password reached svn's argv or environment"
    );
    let events = lab.all(&format!("/api/v2/project_updates/{}/events/", u["id"]));
    assert!(!format!("{out}{}", json!(events)).contains(pw));
    assert!(
        !s.logs().contains(pw),
        "the password is in the server's log"
    );
}
