//! The real clients and small tools the suites run: `rawx` itself outside a server,
//! `rawx manage`, `receptorctl`, `ansible-playbook`, PyYAML, `sqlite3`, a private Redis.

use crate::procs;
use crate::tools::{rawx_bin, venv};
use serde_json::Value;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// What one CLI or curl run printed.
#[derive(Debug, Clone)]
pub struct Out {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Out {
    pub fn all(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }

    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{self}"))
    }
}

impl std::fmt::Display for Out {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit {}\n--- stdout\n{}\n--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

pub(crate) fn run(cmd: &mut Command) -> Out {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    Out {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Runs a command that must succeed; returns its stdout, trimmed.
pub fn sh(cmd: &mut Command) -> String {
    let out = run(cmd);
    assert_eq!(out.code, 0, "{cmd:?} failed:\n{out}");
    out.stdout.trim().to_string()
}

/// `rawx ARGS` (the binary under test), outside any server.
pub fn rawx(args: &[&str]) -> Out {
    let mut cmd = Command::new(rawx_bin());
    for k in ["RAWX_DATA_DIR", "RAWX_DATABASE_URL", "RAWX_NEW_PASSWORD"] {
        cmd.env_remove(k);
    }
    run(cmd.args(args).stdin(Stdio::null()))
}

/// Parses YAML with the venv's PyYAML (the CLI's own YAML library) into JSON.
pub fn yaml_to_json(yaml: &str) -> Value {
    use std::io::Write;
    let mut child = Command::new(venv().join("bin/python"))
        .args([
            "-c",
            "import json, sys, yaml; print(json.dumps(yaml.safe_load(sys.stdin)))",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run python");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(yaml.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "not YAML ({}):\n{yaml}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// `rawx manage --data-dir DATA ARGS…` (works with the server down).
pub fn manage(data: &Path, args: &[&str]) -> Out {
    let data = data.to_str().expect("a UTF-8 data dir");
    let mut all = vec!["manage", "--data-dir", data];
    all.extend_from_slice(args);
    rawx(&all)
}

/// One statement with `sqlite3` on the SQLite file of a data dir (a stopped server's, or one
/// whose write the test wants to make behind the API's back); returns the output, trimmed.
pub fn sqlite(data: &Path, sql: &str) -> String {
    sh(Command::new("sqlite3").arg(data.join("rawx.db")).arg(sql))
}

/// `receptorctl --socket SOCKET ARGS…` from the venv.
pub fn receptorctl(socket: &Path, args: &[&str]) -> Out {
    run(Command::new(venv().join("bin/receptorctl"))
        .arg("--socket")
        .arg(socket)
        .args(args)
        .stdin(Stdio::null()))
}

/// `ansible-playbook ARGS…` from the venv (the collection's playbooks, local checks), with
/// `env`, in `dir`. Its own process group, so a hung run is killed with the test.
pub fn ansible_playbook(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Out {
    let mut cmd = Command::new(venv().join("bin/ansible-playbook"));
    cmd.current_dir(dir)
        .args(args)
        .envs(env.iter().copied())
        .env("ANSIBLE_NOCOLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let child = procs::spawn_group(&mut cmd).expect("run ansible-playbook");
    let pgid = child.id();
    let out = child.wait_with_output().expect("ansible-playbook output");
    procs::release_group(pgid);
    Out {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// A private `redis-server` on a free port (nothing on disk), killed on drop: the machine's
/// Redis (127.0.0.1:6379) is shared and must not be restarted. Suites that only need *a*
/// Redis use [`Redis::SHARED`].
pub struct Redis {
    child: Option<Child>,
    pub port: u16,
}

impl Redis {
    /// The machine's Redis, shared by every suite (use a private one to restart it).
    pub const SHARED: &'static str = "redis://127.0.0.1:6379";

    pub fn start_on(port: u16) -> Redis {
        let mut cmd = Command::new("redis-server");
        cmd.args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let child = procs::spawn_group(&mut cmd).expect("redis-server must be installed");
        crate::eventually(Duration::from_secs(10), || {
            std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
        });
        Redis {
            child: Some(child),
            port,
        }
    }

    pub fn start() -> Redis {
        Redis::start_on(procs::free_port())
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Stops it (Redis going away under its clients); [`Redis::start_on`] the same port
    /// brings one back.
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            procs::kill_group(c.id());
            let _ = c.wait();
            procs::release_group(c.id());
        }
    }

    /// `PUBSUB NUMSUB channel` through `redis-cli`: how many connections Redis would send a
    /// message of `channel` to.
    pub fn subscribers(&self, channel: &str) -> u64 {
        let out = run(Command::new("redis-cli").args([
            "-p",
            &self.port.to_string(),
            "PUBSUB",
            "NUMSUB",
            channel,
        ]));
        out.stdout
            .lines()
            .nth(1)
            .and_then(|l| l.trim().parse().ok())
            .unwrap_or_else(|| panic!("unexpected PUBSUB NUMSUB answer:\n{out}"))
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.stop();
    }
}
