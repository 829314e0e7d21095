//! What the node's suites share beyond the kit (`rawx_testkit`: scratch dirs that kill what
//! still runs in them, processes killed with their group even on panic, `eventually`, the venv
//! with the real receptorctl): a real `rawx-receptor` process and the sample signing keys.

#![allow(dead_code, unused_imports)]

pub mod mesh;

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

pub use rawx_testkit::procs::pids_naming;
pub use rawx_testkit::{
    eventually, eventually_async, eventually_every, free_port, venv, venv_path, DataDir, Proc,
};

pub const NODE_BIN: &str = env!("CARGO_BIN_EXE_rawx-receptor");

pub fn receptorctl_bin() -> PathBuf {
    venv().join("bin/receptorctl")
}

pub struct TestNode {
    pub dir: DataDir,
    pub config: PathBuf,
    pub socket: PathBuf,
    pub proc: Option<Proc>,
}

pub const NODE_ID: &str = "node1";

impl TestNode {
    /// Writes a config with work types `cat`, `sh -c` and AWX's `local` (ansible-runner
    /// worker), runtime params allowed for the last two, and starts the node.
    pub fn start() -> TestNode {
        let dir = DataDir::new();
        let socket = dir.join("ctl.sock");
        let config = dir.join("receptor.conf");
        std::fs::write(
            &config,
            format!(
                "---\n- node:\n    id: {NODE_ID}\n    datadir: {}\n- log-level: info\n- local-only: null\n\
                 - control-service:\n    service: control\n    filename: {}\n    permissions: 0660\n\
                 - work-command:\n    worktype: cat\n    command: cat\n\
                 - work-command:\n    worktype: sh\n    command: sh\n    params: -c\n    allowruntimeparams: true\n\
                 - work-command:\n    worktype: local\n    command: ansible-runner\n    params: worker\n    allowruntimeparams: true\n",
                dir.join("data").display(),
                socket.display()
            ),
        )
        .unwrap();
        let mut node = TestNode {
            dir,
            config,
            socket,
            proc: None,
        };
        node.spawn();
        node
    }

    pub fn spawn(&mut self) {
        let _ = std::fs::remove_file(&self.socket);
        let proc = Proc::spawn(
            Command::new(NODE_BIN)
                .args(["--config".as_ref(), self.config.as_os_str()])
                .args(["--cancel-grace", "1s"])
                .env("RUST_LOG", "warn")
                // Units inherit the node's environment; `local` needs the venv's ansible tools.
                .env("PATH", venv_path())
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::inherit()),
        );
        self.proc = Some(proc);
        eventually(Duration::from_secs(10), || {
            UnixStream::connect(&self.socket).map_err(|e| format!("node socket: {e}"))
        });
    }

    /// `kill -9` of the node alone (its units keep running, in groups of their own).
    pub fn kill9(&mut self) {
        if let Some(mut p) = self.proc.take() {
            p.kill9();
        }
    }

    /// A graceful stop (SIGTERM); the node must exit 0.
    pub fn terminate(&mut self) {
        if let Some(mut p) = self.proc.take() {
            let exit = p.terminate(Duration::from_secs(20));
            assert!(exit.success(), "node exited with {exit}");
        }
    }

    pub fn ctl(&self, args: &[&str]) -> Output {
        self.ctl_with_stdin(args, None)
    }

    pub fn ctl_with_stdin(&self, args: &[&str], stdin: Option<&[u8]>) -> Output {
        let mut cmd = Command::new(receptorctl_bin());
        cmd.arg("--socket").arg(&self.socket).args(args);
        cmd.stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        });
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("run receptorctl");
        if let Some(data) = stdin {
            let mut pipe = child.stdin.take().unwrap();
            let data = data.to_vec();
            std::thread::spawn(move || {
                let _ = pipe.write_all(&data);
            });
        }
        child.wait_with_output().unwrap()
    }

    /// receptorctl, which must succeed; returns stdout.
    pub fn ctl_ok(&self, args: &[&str]) -> String {
        let out = self.ctl(args);
        assert!(
            out.status.success(),
            "receptorctl {args:?} failed: {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// A raw session: greeting already read.
    pub fn raw(&self) -> (BufReader<UnixStream>, UnixStream) {
        let s = UnixStream::connect(&self.socket).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        let mut r = BufReader::new(s.try_clone().unwrap());
        let mut greeting = String::new();
        r.read_line(&mut greeting).unwrap();
        assert_eq!(greeting, format!("Receptor Control, node {NODE_ID}\n"));
        (r, s)
    }

    /// One command on a fresh connection; returns the reply line.
    pub fn command(&self, line: &str) -> String {
        let (mut r, mut w) = self.raw();
        w.write_all(format!("{line}\n").as_bytes()).unwrap();
        let mut reply = String::new();
        r.read_line(&mut reply).unwrap();
        reply
    }

    /// Submits through receptorctl and returns the unit ID.
    pub fn submit(&self, args: &[&str]) -> String {
        let out = self.ctl_ok(&[&["work", "submit"], args].concat());
        out.lines()
            .find_map(|l| l.strip_prefix("Unit ID: "))
            .unwrap_or_else(|| panic!("no unit ID in {out}"))
            .to_string()
    }

    pub fn status(&self, unit: &str) -> serde_json::Value {
        let reply = self.command(&format!("work status {unit}"));
        serde_json::from_str(&reply).unwrap_or_else(|_| panic!("bad status reply {reply}"))
    }

    pub fn wait_state(&self, unit: &str, state: i64) -> serde_json::Value {
        eventually(Duration::from_secs(20), || {
            let st = self.status(unit);
            if st["State"] == state {
                Ok(st)
            } else {
                Err(format!("unit {unit} is not in state {state}: {st}"))
            }
        })
    }
}

pub fn read_all(r: &mut impl Read) -> Vec<u8> {
    let mut v = Vec::new();
    r.read_to_end(&mut v).unwrap();
    v
}

/// Writes one PEM block (by label) of the sample work-signing key pair into `dir`.
pub fn signing_key_file(dir: &Path, label: &str) -> PathBuf {
    let vectors = include_str!("../data/work-signing-vectors.txt");
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let start = vectors.find(&begin).expect("label in vectors");
    let stop = vectors.find(&end).expect("label in vectors") + end.len();
    let path = dir.join(label.replace(' ', "-").to_lowercase() + ".pem");
    std::fs::write(&path, format!("{}\n", &vectors[start..stop])).unwrap();
    path
}
