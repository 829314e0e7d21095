//! Mesh test helpers: real `rawx-receptor` nodes on loopback, each with a control socket, and
//! receptorctl against them. Every node and helper process is killed when dropped.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::{receptorctl_bin, NODE_BIN};

/// One node process; killed when dropped, so a failing test leaves nothing behind.
pub struct MeshNode {
    pub id: String,
    pub socket: PathBuf,
    pub log: PathBuf,
    pub child: Option<Child>,
}

impl MeshNode {
    /// Starts node `id` with a control socket, a `cat` work type and the `extra` config
    /// items; returns once its control socket answers (its listeners are bound by then).
    pub fn start(root: &Path, id: &str, extra: &str) -> MeshNode {
        let socket = root.join(format!("{id}.sock"));
        let config = root.join(format!("{id}.conf"));
        std::fs::write(
            &config,
            format!(
                "---\n- node:\n    id: {id}\n    datadir: {}\n- log-level: info\n\
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
        self.child.as_ref().unwrap().id()
    }

    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
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

impl Drop for MeshNode {
    fn drop(&mut self) {
        self.kill();
    }
}

pub fn eventually<T>(what: &str, timeout: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
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
    let child = Command::new(NODE_BIN)
        .arg("--config")
        .arg(&path)
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let mut node = MeshNode {
        id: id.into(),
        socket,
        log,
        child: Some(child),
    };
    let deadline = Instant::now() + Duration::from_secs(15);
    while UnixStream::connect(&node.socket).is_err() {
        if let Some(status) = node.child.as_mut().unwrap().try_wait().unwrap() {
            panic!("node {id} exited with {status}: {}", node.log_text());
        }
        assert!(
            Instant::now() < deadline,
            "node {id} did not open its socket"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
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

/// A helper process killed when the test ends, even by a panic.
pub struct KillOnDrop(pub Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Waits for a child, killing it past `limit` (so a hung peer fails the test, not the suite).
pub fn wait_output(child: &mut Child, limit: Duration) -> Output {
    let deadline = Instant::now() + limit;
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut stdout = Vec::new();
    let mut stderr = Vec::new();
    use std::io::Read;
    if let Some(mut s) = child.stdout.take() {
        let _ = s.read_to_end(&mut stdout);
    }
    if let Some(mut s) = child.stderr.take() {
        let _ = s.read_to_end(&mut stderr);
    }
    Output {
        status: child.wait().unwrap(),
        stdout,
        stderr,
    }
}
