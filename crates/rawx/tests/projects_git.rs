//! End-to-end: projects from Git repositories the tests make, through the unmodified `awx`
//! CLI and AWX's endpoints: `projects create --scm_type git --wait`, project updates as a kind
//! of job of their own (`/project_updates/`, stdout, events, cancel, `/unified_jobs/`), the
//! project's status, revision and playbooks from its checkout, and jobs running it.

use rawx_testkit::lab::*;
use rawx_testkit::sshd::Sshd;
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
    use rawx_testkit::clients::ansible_playbook;
    use rawx_testkit::collection::collections;
    use rawx_testkit::ADMIN_PW;

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

#[test]
fn a_repository_over_ssh_with_a_key_and_its_passphrase() {
    let lab = Lab::start();
    let s = &lab.s;
    let passphrase = "unlock-Zz8-phrase";
    let d = Sshd::start(passphrase);
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

/// A git project `name` of `repo` in the lab's organization, its first update done.
fn git_project(lab: &Lab, name: &str, repo: &Repo, extra: Value) -> i64 {
    let body = merge(
        json!({"name": name, "organization": lab.org["id"], "scm_type": "git", "scm_url": repo.url()}),
        extra,
    );
    let p = lab.s.admin("POST", "/api/v2/projects/", Some(body), 201);
    let uid = p["summary_fields"]["current_update"]["id"]
        .as_i64()
        .unwrap();
    let u = update_of(&lab.s, uid);
    assert_eq!(
        u["status"],
        "successful",
        "{u}\n{}",
        lab.stdout_on("project_updates", uid)
    );
    p["id"].as_i64().unwrap()
}

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
