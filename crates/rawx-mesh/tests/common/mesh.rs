//! Mesh test helpers: real `rawx-receptor` nodes on loopback, each with a control socket, and
//! receptorctl against them. Every node and helper process is the kit's `Proc`, killed with
//! its group when dropped or when the test panics.

#![allow(unused_imports)]

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use serde_json::Value;

pub use super::{eventually, eventually_every, free_port, Proc};
use super::{receptorctl_bin, NODE_BIN};

/// One node process; killed when dropped, so a failing test leaves nothing behind.
pub struct MeshNode {
    pub id: String,
    pub socket: PathBuf,
    pub log: PathBuf,
    pub proc: Option<Proc>,
}

impl MeshNode {
    /// Starts node `id` with a control socket, a `cat` work type and the `extra` config
    /// items; returns once its control socket answers (its listeners are bound by then).
    pub fn start(root: &Path, id: &str, extra: &str) -> MeshNode {
        MeshNode::start_node(root, id, "", extra)
    }

    /// As [`MeshNode::start`], with `node_more` added to the `node` section (indented items
    /// such as `firewallrules:` or `maxidleconnectiontimeout:`).
    pub fn start_node(root: &Path, id: &str, node_more: &str, extra: &str) -> MeshNode {
        let socket = root.join(format!("{id}.sock"));
        let config = root.join(format!("{id}.conf"));
        std::fs::write(
            &config,
            format!(
                "---\n- node:\n    id: {id}\n    datadir: {}\n{node_more}- log-level: info\n\
                 - control-service:\n    service: control\n    filename: {}\n\
                 - work-command:\n    worktype: cat\n    command: cat\n{extra}",
                root.join(format!("{id}-data")).display(),
                socket.display()
            ),
        )
        .unwrap();
        let text = std::fs::read_to_string(&config).unwrap();
        start_with_config(root, id, &text)
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn pid(&self) -> u32 {
        self.proc.as_ref().unwrap().pid()
    }

    /// `kill -9` of the node (a node lost to its peers).
    pub fn kill(&mut self) {
        if let Some(mut p) = self.proc.take() {
            p.kill9();
        }
    }

    pub fn ctl(&self, args: &[&str]) -> Output {
        Command::new(receptorctl_bin())
            .arg("--socket")
            .arg(&self.socket)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap()
    }

    pub fn ctl_ok(&self, args: &[&str]) -> String {
        let out = self.ctl(args);
        assert!(
            out.status.success(),
            "receptorctl {args:?} at {} failed: {}\n{}",
            self.id,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// `status` as JSON, over the socket as AWX asks for it.
    pub fn status(&self) -> Value {
        let s = UnixStream::connect(&self.socket).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        let mut r = BufReader::new(s.try_clone().unwrap());
        let mut line = String::new();
        r.read_line(&mut line).unwrap();
        (&s).write_all(b"{\"command\":\"status\"}\n").unwrap();
        line.clear();
        r.read_line(&mut line).unwrap();
        serde_json::from_str(&line).unwrap_or_else(|_| panic!("bad status {line}"))
    }

    pub fn route(&self, to: &str) -> Option<String> {
        self.status()["RoutingTable"][to].as_str().map(String::from)
    }
}

pub fn listener(port: u16, more: &str) -> String {
    format!("- tcp-listener:\n    bindaddr: 127.0.0.1\n    port: {port}\n{more}")
}

pub fn peer(port: u16, more: &str) -> String {
    format!("- tcp-peer:\n    address: 127.0.0.1:{port}\n{more}")
}

/// Starts a node from a whole config (its control socket at `<root>/<id>.sock`).
pub fn start_with_config(root: &Path, id: &str, config: &str) -> MeshNode {
    let path = root.join(format!("{id}.conf"));
    std::fs::write(&path, config).unwrap();
    let log = root.join(format!("{id}.log"));
    let socket = root.join(format!("{id}.sock"));
    let proc = Proc::spawn(
        Command::new(NODE_BIN)
            .arg("--config")
            .arg(&path)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap()),
    );
    let mut node = MeshNode {
        id: id.into(),
        socket,
        log,
        proc: Some(proc),
    };
    eventually(Duration::from_secs(15), || {
        let proc = node.proc.as_mut().unwrap();
        if !proc.is_running() {
            panic!("node {id} exited: {}", node.log_text());
        }
        UnixStream::connect(&node.socket).map_err(|e| format!("node {id}'s socket: {e}"))
    });
    node
}

/// The venv of the independent peer (aioquic, HighwayHash), built once by
/// `tests/py/setup-peer-venv.sh`.
pub fn peer_python() -> PathBuf {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/py/setup-peer-venv.sh");
    let out = Command::new("bash")
        .arg(&script)
        .stderr(Stdio::inherit())
        .output()
        .expect("run setup-peer-venv.sh");
    assert!(out.status.success(), "setup-peer-venv.sh failed");
    PathBuf::from(String::from_utf8(out.stdout).unwrap().trim()).join("bin/python")
}
