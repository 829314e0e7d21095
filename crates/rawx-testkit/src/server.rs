//! A real `rawx serve` (or one role) child process on a free port, and `curl` for the few
//! HTTP-level checks the CLI cannot express (cookies, status codes, headers).

use crate::clients::{run, Out};
use crate::procs::{self, DataDir};
use crate::tools::{rawx_bin, venv};
use serde_json::Value;
use std::io::{BufRead, BufReader, Read};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The password `RAWX_ADMIN_PASSWORD` gives the seeded superuser on first start.
pub const ADMIN_PW: &str = "pw";

/// The playbook every manual project in these tests points at.
pub const PLAYBOOK: &str = "- hosts: all\n  gather_facts: false\n  tasks: []\n";

/// Options for starting a server.
#[derive(Default, Clone)]
pub struct Opts {
    /// `--database-url`; SQLite in the data dir when unset.
    pub database_url: Option<String>,
    /// Extra environment (e.g. `RAWX_LOG`).
    pub env: Vec<(String, String)>,
    /// The subcommand: `serve` when unset, or `web` / `task` for one role.
    pub role: Option<&'static str>,
}

/// A running `rawx serve` on a free port. Killed on drop; its stdout and stderr are captured so a
/// failed start, or a test asserting on what the server logged, can show them.
pub struct Server {
    child: Option<Child>,
    /// `http://127.0.0.1:PORT`, as the CLI's `--conf.host` wants it.
    pub url: String,
    pub data: PathBuf,
    dir: Option<DataDir>,
    opts: Opts,
    stdout: Arc<Mutex<String>>,
    stderr: Arc<Mutex<String>>,
    readers: Vec<JoinHandle<()>>,
}

/// Keeps only the tail of a log for error messages, so a failure stays readable.
pub fn tail(s: &str, max: usize) -> &str {
    let mut start = s.len().saturating_sub(max);
    while !s.is_char_boundary(start) {
        start += 1;
    }
    &s[start..]
}

impl Server {
    /// A fresh data dir with the manual project `demo/hello.yml`, SQLite, admin/pw.
    pub fn start() -> Server {
        Server::start_with(Opts::default())
    }

    pub fn start_with(opts: Opts) -> Server {
        let dir = DataDir::new();
        let demo = dir.path().join("projects/demo");
        std::fs::create_dir_all(&demo).unwrap();
        std::fs::write(demo.join("hello.yml"), PLAYBOOK).unwrap();
        Server::start_in(dir, opts)
    }

    /// Starts on an existing data dir (a restart keeps the database and the secret key).
    pub fn start_in(dir: impl Into<DataDir>, opts: Opts) -> Server {
        let dir = dir.into();
        let data = dir.path().to_path_buf();
        let mut cmd = Command::new(rawx_bin());
        cmd.arg(opts.role.unwrap_or("serve"))
            .arg("--data-dir")
            .arg(&data)
            .args(["--bind", "127.0.0.1:0"]);
        if let Some(url) = &opts.database_url {
            cmd.args(["--database-url", url]);
        }
        // The outer environment must not point the server somewhere else.
        for k in [
            "RAWX_DATA_DIR",
            "RAWX_BIND",
            "RAWX_DATABASE_URL",
            "RAWX_PROJECTS_DIR",
            "RAWX_SECRET_KEY",
            "RAWX_LOG",
            "RAWX_LOG_FORMAT",
        ] {
            cmd.env_remove(k);
        }
        // These suites count what they create; AWX's demo objects are tested on their own.
        cmd.env("RAWX_ADMIN_PASSWORD", ADMIN_PW)
            .env("RAWX_PRELOAD_DATA", "false")
            .env("NO_COLOR", "1")
            .envs(opts.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = procs::spawn_group(&mut cmd).expect("spawn rawx serve");

        let stdout = Arc::new(Mutex::new(String::new()));
        let stderr = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = mpsc::channel::<String>();
        let out_pipe = child.stdout.take().unwrap();
        let err_pipe = child.stderr.take().unwrap();
        let out_buf = stdout.clone();
        let r1 = std::thread::spawn(move || {
            for line in BufReader::new(out_pipe).lines() {
                let Ok(line) = line else { break };
                // Buffer first, so whoever gets the address also sees the line in logs().
                {
                    let mut b = out_buf.lock().unwrap();
                    b.push_str(&line);
                    b.push('\n');
                }
                if let Some(rest) = line.split(" serving ").nth(1) {
                    let _ = tx.send(rest.to_string());
                } else if line.contains(" task node ") {
                    // A task-only process serves nothing: it is up once it says so.
                    let _ = tx.send(String::new());
                }
            }
        });
        let err_buf = stderr.clone();
        let r2 = std::thread::spawn(move || {
            let mut reader = BufReader::new(err_pipe);
            let mut chunk = [0u8; 8192];
            while let Ok(n) = reader.read(&mut chunk) {
                if n == 0 {
                    break;
                }
                err_buf
                    .lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&chunk[..n]));
            }
        });

        let mut server = Server {
            child: Some(child),
            url: String::new(),
            data,
            dir: Some(dir),
            opts,
            stdout,
            stderr,
            readers: vec![r1, r2],
        };
        // Generous: the first start of a debug build migrates a fresh database.
        match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(rest) if rest.is_empty() => {}
            Ok(rest) => {
                // "http://127.0.0.1:PORT/api/ (data in …)"
                let url = rest.split_whitespace().next().unwrap_or_default();
                server.url = url
                    .trim_end_matches('/')
                    .trim_end_matches("/api")
                    .to_string();
                assert!(
                    server.url.starts_with("http://127.0.0.1:"),
                    "unexpected address line: {rest:?}"
                );
            }
            Err(_) => {
                let status = server.child.as_mut().unwrap().try_wait().ok().flatten();
                server.kill_group();
                for r in server.readers.drain(..) {
                    let _ = r.join();
                }
                panic!(
                    "rawx serve did not print its address within 30 s (exit status {status:?})\n--- stdout\n{}\n--- stderr\n{}",
                    server.stdout.lock().unwrap(),
                    tail(&server.stderr.lock().unwrap(), 8000)
                );
            }
        }
        server
    }

    /// The server's process id (for `kill -9`).
    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
    }

    pub fn addr(&self) -> &str {
        self.url.trim_start_matches("http://")
    }

    /// Everything the server printed so far (stdout then stderr).
    pub fn logs(&self) -> String {
        format!(
            "{}{}",
            self.stdout.lock().unwrap(),
            self.stderr.lock().unwrap()
        )
    }

    /// Waits until the server has logged `needle` (failing with the log's tail).
    #[track_caller]
    pub fn wait_logged(&self, needle: &str, limit: Duration) {
        crate::eventually(limit, || {
            let logs = self.logs();
            if logs.contains(needle) {
                Ok(())
            } else {
                Err(format!(
                    "the server did not log {needle:?}\n{}",
                    tail(&logs, 6000)
                ))
            }
        });
    }

    /// SIGTERM, wait for the graceful shutdown, and return the data dir so the caller can
    /// inspect the database or start again on it. Work units the server leaves running stay
    /// (a restart re-attaches to them) until the returned dir is dropped.
    pub fn stop(mut self) -> DataDir {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .status();
            let deadline = Instant::now() + Duration::from_secs(15);
            loop {
                match child.try_wait() {
                    Ok(Some(_)) => break,
                    _ if Instant::now() > deadline => {
                        procs::kill_group(child.id());
                        let _ = child.wait();
                        procs::release_group(child.id());
                        panic!(
                            "rawx serve did not stop within 15 s of SIGTERM\n{}",
                            tail(&self.logs(), 4000)
                        );
                    }
                    _ => std::thread::sleep(Duration::from_millis(50)),
                }
            }
            // Reaped: its pid may be reused, so its group id is never signalled again.
            procs::release_group(child.id());
        }
        for r in self.readers.drain(..) {
            let _ = r.join();
        }
        self.dir.take().unwrap()
    }

    /// Like [`Server::stop`] but also hands back what the server printed over its whole life.
    pub fn stop_with_logs(self) -> (DataDir, String) {
        let stdout = self.stdout.clone();
        let stderr = self.stderr.clone();
        let dir = self.stop();
        let logs = format!("{}{}", stdout.lock().unwrap(), stderr.lock().unwrap());
        (dir, logs)
    }

    pub fn opts(&self) -> Opts {
        self.opts.clone()
    }

    /// `awx` as admin.
    pub fn awx(&self, args: &[&str]) -> Out {
        self.awx_as("admin", ADMIN_PW, args)
    }

    /// `awx` with username/password auth.
    pub fn awx_as(&self, user: &str, password: &str, args: &[&str]) -> Out {
        let auth = [
            "--conf.username".to_string(),
            user.to_string(),
            "--conf.password".to_string(),
            password.to_string(),
        ];
        self.awx_conf(&auth, args)
    }

    /// `awx login` as `user`: the token it prints, or `None` when the CLI says the login
    /// failed (anything else it prints fails the test).
    pub fn login_token(&self, user: &str, password: &str) -> Option<String> {
        let out = self.awx_as(user, password, &["login"]);
        let token = serde_json::from_str::<Value>(&out.stdout)
            .ok()
            .and_then(|v| v["token"].as_str().map(str::to_string));
        if token.is_none() {
            assert!(
                out.all().contains("Error retrieving an OAuth2.0 token"),
                "awx login neither printed a token nor the CLI's login error:\n{out}"
            );
        }
        token
    }

    /// `awx` with a token instead of a password.
    pub fn awx_token(&self, token: &str, args: &[&str]) -> Out {
        self.awx_conf(&["--conf.token".to_string(), token.to_string()], args)
    }

    fn awx_conf(&self, auth: &[String], args: &[&str]) -> Out {
        let mut cmd = Command::new(venv().join("bin/awx"));
        cmd.args(["--conf.host", &self.url])
            .args(auth)
            .args(["--conf.color", "false"])
            .args(args);
        // The CLI also reads its settings from the environment; a developer's own AWX
        // settings must not leak into the test.
        for (k, _) in std::env::vars() {
            if k.starts_with("TOWER_") || k.starts_with("CONTROLLER_") || k.starts_with("AWXKIT_") {
                cmd.env_remove(k);
            }
        }
        cmd.env("NO_PROXY", "127.0.0.1,localhost")
            .env("no_proxy", "127.0.0.1,localhost")
            .stdin(Stdio::null());
        run(&mut cmd)
    }

    /// `awx` as admin that must succeed; returns stdout.
    pub fn awx_ok(&self, args: &[&str]) -> String {
        let out = self.awx(args);
        assert_eq!(out.code, 0, "awx {args:?} failed:\n{out}");
        out.stdout
    }

    /// `awx` as admin that must succeed and print JSON.
    pub fn awx_json(&self, args: &[&str]) -> Value {
        let out = self.awx(args);
        assert_eq!(out.code, 0, "awx {args:?} failed:\n{out}");
        out.json()
    }

    /// One HTTP request with curl. `auth` is Basic user/password.
    pub fn http(
        &self,
        method: &str,
        path: &str,
        auth: Option<(&str, &str)>,
        body: Option<&Value>,
    ) -> Resp {
        let mut args: Vec<String> = vec!["-X".into(), method.into()];
        if let Some((u, p)) = auth {
            args.push("-u".into());
            args.push(format!("{u}:{p}"));
        }
        if let Some(b) = body {
            args.push("-H".into());
            args.push("Content-Type: application/json".into());
            args.push("--data-binary".into());
            args.push(b.to_string());
        }
        args.push(format!("{}{path}", self.url));
        curl(&args)
    }

    /// Basic-auth admin request that must answer `want`; returns the JSON body (Null if empty).
    pub fn admin(&self, method: &str, path: &str, body: Option<Value>, want: u16) -> Value {
        let r = self.http(method, path, Some(("admin", ADMIN_PW)), body.as_ref());
        assert_eq!(r.status, want, "{method} {path} {body:?}:\n{r:?}");
        r.json_or_null()
    }
}

impl Server {
    /// SIGKILL to the server's whole process group, then reaps it. A leader already reaped
    /// (`try_wait` saw it exit) is not signalled: its pid, hence its group id, may be reused.
    fn kill_group(&mut self) {
        if let Some(mut child) = self.child.take() {
            if let Ok(None) = child.try_wait() {
                procs::kill_group(child.id());
                let _ = child.wait();
            }
            procs::release_group(child.id());
        }
    }

    /// `kill -9` of the server process alone (what a crash looks like: its work units keep
    /// running, in their own groups), then hands back the data dir to start again on.
    pub fn kill9(mut self) -> DataDir {
        let mut dir = self.dir.take().unwrap();
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            // Not reaped yet: the zombie keeps its pid, so the group id stays ours until the
            // data dir kills what is left of the group and reaps it.
            dir.adopt(child);
        }
        for r in self.readers.drain(..) {
            let _ = r.join();
        }
        dir
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // The data dir (dropped after this) kills the work units still naming it.
        self.kill_group();
    }
}

/// The `name` (else `hostname`) of each result of a list page.
pub fn names(list: &Value) -> Vec<String> {
    list["results"]
        .as_array()
        .unwrap_or_else(|| panic!("not a list: {list}"))
        .iter()
        .map(|r| {
            r["name"]
                .as_str()
                .or(r["hostname"].as_str())
                .unwrap_or_default()
                .to_string()
        })
        .collect()
}

/// One HTTP response as curl saw it.
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    /// Header names lower-cased, in order, repeats kept (Set-Cookie).
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn headers_all(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("body is not JSON ({e}): {self:?}"))
    }

    pub fn json_or_null(&self) -> Value {
        if self.body.trim().is_empty() {
            Value::Null
        } else {
            self.json()
        }
    }
}

/// Runs `curl -s -i ARGS` and splits status, headers and body.
pub fn curl<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> Resp {
    let out = Command::new("curl")
        .args(["-s", "-i", "--noproxy", "*", "--max-time", "30"])
        .args(args)
        .output()
        .expect("run curl");
    assert!(
        out.status.success(),
        "curl failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let mut rest = text.as_str();
    loop {
        let (head, body) = rest
            .split_once("\r\n\r\n")
            .unwrap_or_else(|| panic!("no header block in curl output: {text:?}"));
        let mut lines = head.split("\r\n");
        let status: u16 = lines
            .next()
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("no status line in curl output: {text:?}"));
        // An interim "100 Continue" block precedes the real answer.
        if (100..200).contains(&status) {
            rest = body;
            continue;
        }
        let headers = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
            .collect();
        return Resp {
            status,
            headers,
            body: body.to_string(),
        };
    }
}
