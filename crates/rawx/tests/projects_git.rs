//! End-to-end: projects from Git repositories the tests make, through the unmodified `awx`
//! CLI and AWX's endpoints: `projects create --scm_type git --wait`, project updates as a kind
//! of job of their own (`/project_updates/`, stdout, events, cancel, `/unified_jobs/`), the
//! project's status, revision and playbooks from its checkout, and jobs running it.

use rawx_testkit::lab::*;
use rawx_testkit::{eventually, Server};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

const PLAY: &str = "- hosts: all\n  gather_facts: false\n  tasks:\n    - debug: {msg: \"git-play says VERSION\"}\n";

/// A Git repository the test owns, with commits it makes.
pub struct Repo {
    pub dir: PathBuf,
}

impl Repo {
    pub fn new(root: &Path, name: &str) -> Repo {
        let dir = root.join(name);
        std::fs::create_dir_all(&dir).unwrap();
        let r = Repo { dir };
        r.git(&["init", "--quiet", "--initial-branch=main"]);
        r
    }

    pub fn git(&self, args: &[&str]) -> String {
        let out = Command::new("git")
            .args(["-c", "user.name=T", "-c", "user.email=t@example.com"])
            .args(args)
            .current_dir(&self.dir)
            .output()
            .expect("git");
        assert!(
            out.status.success(),
            "git {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// Writes `files` and commits them; the new revision.
    pub fn commit(&self, files: &[(&str, &str)], msg: &str) -> String {
        for (path, content) in files {
            let p = self.dir.join(path);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, content).unwrap();
        }
        self.git(&["add", "-A"]);
        self.git(&["commit", "--quiet", "-m", msg]);
        self.git(&["rev-parse", "HEAD"])
    }

    pub fn url(&self) -> String {
        format!("file://{}", self.dir.display())
    }
}

fn play(version: &str) -> String {
    PLAY.replace("VERSION", version)
}

fn update_of(s: &Server, id: i64) -> Value {
    wait_final_on(s, "project_updates", id, Duration::from_secs(60))
}

fn project(s: &Server, id: i64) -> Value {
    s.admin("GET", &format!("/api/v2/projects/{id}/"), None, 200)
}

#[test]
fn cli_creates_a_git_project_updates_it_and_a_job_runs_its_checkout() {
    let lab = Lab::start();
    let s = &lab.s;
    let repo = Repo::new(&s.data, "repos/site");
    let first = repo.commit(
        &[
            ("site.yml", &play("one")),
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

    // A manual project cannot be updated.
    let demo = lab.project("manual", &[("x.yml", PLAY)]);
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
    eventually(Duration::from_secs(30), || {
        let u = s.admin("GET", &format!("/api/v2/project_updates/{uid}/"), None, 200);
        if u["status"] == "running" {
            Ok(())
        } else {
            Err(u.to_string())
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
    assert_eq!(project(s, pid_of(&p))["status"], "canceled");
}

fn pid_of(p: &Value) -> i64 {
    p["id"].as_i64().unwrap()
}

mod collection {
    use super::*;
    use rawx_testkit::clients::ansible_playbook;
    use rawx_testkit::{workspace_root, ADMIN_PW};

    fn collections() -> PathBuf {
        let out = Command::new("bash")
            .arg(workspace_root().join("scripts/setup-collection.sh"))
            .output()
            .expect("run setup-collection.sh");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())
    }

    /// Runs `tasks` on localhost through the collection; each task's result.
    fn play(s: &Server, dir: &Path, tasks: &str) -> Vec<Value> {
        let book = format!("- hosts: localhost\n  gather_facts: false\n  tasks:\n{tasks}");
        std::fs::write(dir.join("play.yml"), book).unwrap();
        std::fs::write(
            dir.join("inventory"),
            "localhost ansible_connection=local ansible_python_interpreter=\"{{ ansible_playbook_python }}\"\n",
        )
        .unwrap();
        let cols = collections();
        let out = ansible_playbook(
            dir,
            &["-i", "inventory", "play.yml"],
            &[
                ("ANSIBLE_COLLECTIONS_PATH", cols.to_str().unwrap()),
                ("ANSIBLE_STDOUT_CALLBACK", "ansible.posix.json"),
                ("ANSIBLE_LOCALHOST_WARNING", "false"),
                ("CONTROLLER_HOST", &s.url),
                ("CONTROLLER_USERNAME", "admin"),
                ("CONTROLLER_PASSWORD", ADMIN_PW),
            ],
        );
        let doc: Value = serde_json::from_str(&out.stdout)
            .unwrap_or_else(|e| panic!("json callback output ({e}):\n{out}"));
        assert_eq!(out.code, 0, "{out}");
        doc["plays"][0]["tasks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["hosts"]["localhost"].clone())
            .collect()
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

/// A Git server over HTTP that wants a password (Basic auth in front of `git http-backend`);
/// it answers each authorized request after `delay` seconds, so a test can look at the
/// processes of an update while it runs.
const GIT_HTTP: &str = r#"
import base64, os, subprocess, sys, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
root, token, delay = sys.argv[1], sys.argv[2], float(sys.argv[3])
want = "Basic " + token
user = base64.b64decode(token).decode().split(":")[0]
class H(BaseHTTPRequestHandler):
    def do_GET(self): self.git()
    def do_POST(self): self.git()
    def log_message(self, fmt, *args):
        sys.stderr.write((fmt % args) + "\n")
    def git(self):
        if self.headers.get("Authorization") != want:
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Basic realm="git"')
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        time.sleep(delay)
        path, _, query = self.path.partition("?")
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else b""
        env = dict(os.environ, GIT_PROJECT_ROOT=root, GIT_HTTP_EXPORT_ALL="1", PATH_INFO=path,
                   QUERY_STRING=query, REQUEST_METHOD=self.command, REMOTE_USER=user,
                   CONTENT_TYPE=self.headers.get("Content-Type", ""), CONTENT_LENGTH=str(len(body)))
        if self.headers.get("Content-Encoding"):
            env["HTTP_CONTENT_ENCODING"] = self.headers["Content-Encoding"]
        if self.headers.get("Git-Protocol"):
            env["GIT_PROTOCOL"] = self.headers["Git-Protocol"]
        out = subprocess.run(["git", "http-backend"], input=body, env=env, capture_output=True).stdout
        head, _, rest = out.partition(b"\r\n\r\n")
        status, hdrs = 200, []
        for line in head.decode().split("\r\n"):
            k, _, v = line.partition(":")
            if k.lower() == "status":
                status = int(v.strip().split()[0])
            elif k:
                hdrs.append((k, v.strip()))
        self.send_response(status)
        for k, v in hdrs:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(rest)))
        self.end_headers()
        self.wfile.write(rest)
srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
print(srv.server_address[1], flush=True)
srv.serve_forever()
"#;

/// `git http-backend` behind a password, serving the repositories under `root`. (The
/// password reaches it base64-encoded, so its own command line does not hold it.)
fn git_http(root: &Path, user: &str, pw: &str, delay: f64) -> (rawx_testkit::procs::Proc, u16) {
    use std::io::BufRead;
    let script = root.join("git_http.py");
    std::fs::write(&script, GIT_HTTP).unwrap();
    let mut p = rawx_testkit::procs::Proc::spawn(
        Command::new(rawx_testkit::venv().join("bin/python"))
            .arg(&script)
            .args([
                root.to_str().unwrap(),
                &base64(&format!("{user}:{pw}")),
                &delay.to_string(),
            ])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null()),
    );
    let mut line = String::new();
    std::io::BufReader::new(p.child().stdout.as_mut().unwrap())
        .read_line(&mut line)
        .unwrap();
    (p, line.trim().parse().expect("port"))
}

fn base64(s: &str) -> String {
    const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let b = s.as_bytes();
    let mut out = String::new();
    for c in b.chunks(3) {
        let n = (c[0] as u32) << 16
            | (*c.get(1).unwrap_or(&0) as u32) << 8
            | *c.get(2).unwrap_or(&0) as u32;
        for i in 0..4 {
            if i <= c.len() {
                out.push(A[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Every command line and environment of this machine's processes, for secrets.
fn process_table() -> Vec<u8> {
    let mut all = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        for f in ["cmdline", "environ"] {
            if let Ok(b) = std::fs::read(e.path().join(f)) {
                all.extend(b);
                all.push(b'\n');
            }
        }
    }
    all
}

#[test]
fn a_private_repository_over_http_with_a_password_that_stays_secret() {
    let lab = Lab::start();
    let s = &lab.s;
    let pw = "pw-Xq9-secret-4711";
    let repo = Repo::new(&s.data, "served/private.git");
    let rev = repo.commit(&[("site.yml", &play("private"))], "p");
    let (_server, port) = git_http(&s.data.join("served"), "deploy", pw, 1.0);
    let url = format!("http://127.0.0.1:{port}/private.git");

    // Without a credential the server refuses, and the update says so.
    let p = s.admin(
        "POST",
        "/api/v2/projects/",
        Some(json!({"name": "Private", "organization": lab.org["id"], "scm_type": "git", "scm_url": url})),
        201,
    );
    let pid = p["id"].as_i64().unwrap();
    let u = update_of(
        s,
        p["summary_fields"]["current_update"]["id"]
            .as_i64()
            .unwrap(),
    );
    assert_eq!(u["status"], "failed", "{u}");

    let cred = lab.credential(
        "Git",
        "Source%20Control",
        json!({"username": "deploy", "password": pw}),
    );
    let machine = lab.credential("M", "Machine", json!({"username": "x"}));
    let bad = s.admin(
        "PATCH",
        &format!("/api/v2/projects/{pid}/"),
        Some(json!({"credential": machine})),
        400,
    );
    assert_eq!(
        bad["credential"][0], "Credential kind must be 'scm'.",
        "{bad}"
    );
    s.admin(
        "PATCH",
        &format!("/api/v2/projects/{pid}/"),
        Some(json!({"credential": cred})),
        200,
    );
    let up = s.admin(
        "POST",
        &format!("/api/v2/projects/{pid}/update/"),
        None,
        202,
    );
    let uid = up["id"].as_i64().unwrap();
    // While the server holds the update's requests, no process shows the password.
    let mut looked = 0;
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while std::time::Instant::now() < deadline {
        let u = s.admin("GET", &format!("/api/v2/project_updates/{uid}/"), None, 200);
        if u["status"] == "running" {
            assert!(
                !rawx_testkit::plays::contains(&process_table(), pw),
                "the password is in the process table"
            );
            looked += 1;
        }
        if ["successful", "failed", "error"].contains(&u["status"].as_str().unwrap_or("")) {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(looked > 0, "never saw the update running");
    let u = update_of(s, uid);
    assert_eq!(
        u["status"],
        "successful",
        "{u}\n{}",
        lab.stdout_on("project_updates", uid)
    );
    assert_eq!(u["scm_revision"], rev.as_str());
    for what in [
        u.to_string(),
        lab.stdout_on("project_updates", uid),
        serde_json::to_string(&lab.all(&format!(
            "/api/v2/project_updates/{uid}/events/?no_truncate=1"
        )))
        .unwrap(),
        s.logs(),
    ] {
        assert!(!what.contains(pw), "the password leaked: {what}");
    }
    // Nothing of the credential is left on disk after the update.
    let leftovers = Command::new("grep")
        .args(["-rl", pw])
        .arg(&s.data)
        .output()
        .unwrap();
    let found = String::from_utf8_lossy(&leftovers.stdout).to_string();
    assert!(found.is_empty(), "the password is on disk: {found}");
}

/// A private `sshd` on a free port that lets in one key (made here, with a passphrase).
struct Sshd {
    _proc: rawx_testkit::procs::Proc,
    port: u16,
    key: String,
}

fn sshd(root: &Path, passphrase: &str) -> Sshd {
    std::fs::create_dir_all(root).unwrap();
    let keygen = |file: &str, pass: &str| {
        let out = Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", pass, "-f"])
            .arg(root.join(file))
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
    };
    keygen("host_key", "");
    keygen("client_key", passphrase);
    std::fs::copy(root.join("client_key.pub"), root.join("authorized_keys")).unwrap();
    let port = rawx_testkit::free_port();
    let conf = root.join("sshd_config");
    std::fs::write(
        &conf,
        format!(
            "Port {port}\nListenAddress 127.0.0.1\nHostKey {r}/host_key\nAuthorizedKeysFile {r}/authorized_keys\n\
             StrictModes no\nUsePAM no\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n\
             PubkeyAuthentication yes\nPermitRootLogin yes\nPidFile {r}/sshd.pid\n",
            r = root.display()
        ),
    )
    .unwrap();
    // sshd's privilege separation directory (made by its package's service, not here).
    let _ = std::fs::create_dir_all("/run/sshd");
    let p = rawx_testkit::procs::Proc::spawn(
        Command::new("/usr/sbin/sshd")
            .args(["-D", "-e", "-f"])
            .arg(&conf)
            .stderr(std::process::Stdio::null()),
    );
    eventually(Duration::from_secs(10), || {
        std::net::TcpStream::connect(("127.0.0.1", port))
            .map(|_| ())
            .map_err(|e| e.to_string())
    });
    Sshd {
        _proc: p,
        port,
        key: std::fs::read_to_string(root.join("client_key")).unwrap(),
    }
}

#[test]
fn a_repository_over_ssh_with_a_key_and_its_passphrase() {
    let lab = Lab::start();
    let s = &lab.s;
    let passphrase = "unlock-Zz8-phrase";
    let d = sshd(&s.data.join("sshd"), passphrase);
    let repo = Repo::new(&s.data, "ssh/site.git");
    let rev = repo.commit(&[("site.yml", &play("ssh"))], "s");
    let me = rawx_testkit::plays::whoami();
    let url = format!("ssh://127.0.0.1:{}{}", d.port, repo.dir.display());

    let wrong = lab.credential(
        "Wrong",
        "Source%20Control",
        json!({"username": me, "ssh_key_data": d.key, "ssh_key_unlock": "not-it"}),
    );
    let p = s.admin(
        "POST",
        "/api/v2/projects/",
        Some(json!({"name": "Ssh", "organization": lab.org["id"], "scm_type": "git", "scm_url": url, "credential": wrong})),
        201,
    );
    let pid = p["id"].as_i64().unwrap();
    let u = update_of(
        s,
        p["summary_fields"]["current_update"]["id"]
            .as_i64()
            .unwrap(),
    );
    assert_eq!(u["status"], "failed", "a wrong passphrase: {u}");

    let right = lab.credential(
        "Right",
        "Source%20Control",
        json!({"username": me, "ssh_key_data": d.key, "ssh_key_unlock": passphrase}),
    );
    s.admin(
        "PATCH",
        &format!("/api/v2/projects/{pid}/"),
        Some(json!({"credential": right})),
        200,
    );
    let up = s.admin(
        "POST",
        &format!("/api/v2/projects/{pid}/update/"),
        None,
        202,
    );
    let uid = up["id"].as_i64().unwrap();
    let u = update_of(s, uid);
    assert_eq!(
        u["status"],
        "successful",
        "{u}\n{}",
        lab.stdout_on("project_updates", uid)
    );
    assert_eq!(u["scm_revision"], rev.as_str());
    let out = lab.stdout_on("project_updates", uid);
    for what in [u.to_string(), out, s.logs()] {
        assert!(
            !what.contains(passphrase) && !what.contains("PRIVATE KEY"),
            "{what}"
        );
    }
}
