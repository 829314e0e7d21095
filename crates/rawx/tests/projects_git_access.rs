//! End-to-end: private Git repositories through Source Control credentials — over HTTP with a
//! password (kept out of logs, events, stdout and the process list) and over SSH with a key
//! and its passphrase, against a server and an `sshd` the tests start.

use rawx_testkit::git::{play, update_of, Repo};
use rawx_testkit::lab::*;
use rawx_testkit::sshd::Sshd;
use serde_json::json;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

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
