//! Shared helpers: a real `rawx-receptor` process and the real `receptorctl` from the test venv.

#![allow(dead_code)]

pub mod mesh;

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

pub const NODE_BIN: &str = env!("CARGO_BIN_EXE_rawx-receptor");

/// The venv with receptorctl: `$RAWX_VENV`, else whatever `scripts/setup-venv.sh` builds.
/// Never skips: without receptorctl these tests fail.
pub fn venv() -> &'static Path {
    static VENV: OnceLock<PathBuf> = OnceLock::new();
    VENV.get_or_init(|| {
        if let Some(v) = std::env::var_os("RAWX_VENV").filter(|v| !v.is_empty()) {
            return PathBuf::from(v);
        }
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let out = Command::new("bash")
            .arg(root.join("scripts/setup-venv.sh"))
            .stderr(Stdio::inherit())
            .output()
            .expect("run scripts/setup-venv.sh");
        assert!(out.status.success(), "scripts/setup-venv.sh failed");
        PathBuf::from(String::from_utf8(out.stdout).unwrap().trim())
    })
}

pub fn receptorctl_bin() -> PathBuf {
    let bin = venv().join("bin/receptorctl");
    assert!(
        bin.exists(),
        "{} is missing: rebuild the venv",
        bin.display()
    );
    bin
}

/// A scratch dir, removed when the test passes (kept for a look when it fails).
pub struct TempDir(PathBuf);

impl std::ops::Deref for TempDir {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

pub fn temp_dir(tag: &str) -> TempDir {
    static N: AtomicUsize = AtomicUsize::new(0);
    let n = N.fetch_add(1, Ordering::SeqCst);
    let dir = std::env::temp_dir().join(format!("rxm-{tag}-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    TempDir(dir)
}

pub struct TestNode {
    pub dir: TempDir,
    pub config: PathBuf,
    pub socket: PathBuf,
    pub child: Option<Child>,
}

pub const NODE_ID: &str = "node1";

impl TestNode {
    /// Writes a config with work types `cat`, `sh -c` and AWX's `local` (ansible-runner
    /// worker), runtime params allowed for the last two, and starts the node.
    pub fn start(tag: &str) -> TestNode {
        let dir = temp_dir(tag);
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
            child: None,
        };
        node.spawn();
        node
    }

    pub fn spawn(&mut self) {
        let _ = std::fs::remove_file(&self.socket);
        let child = Command::new(NODE_BIN)
            .args(["--config".as_ref(), self.config.as_os_str()])
            .args(["--cancel-grace", "1s"])
            .env("RUST_LOG", "warn")
            // Units inherit the node's environment; `local` needs the venv's ansible tools.
            .env("PATH", path_with_venv())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start rawx-receptor");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while UnixStream::connect(&self.socket).is_err() {
            assert!(Instant::now() < deadline, "node did not open its socket");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// `kill -9`.
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            c.kill().unwrap();
            c.wait().unwrap();
        }
    }

    /// A graceful stop (SIGTERM); the node must exit 0.
    pub fn terminate(&mut self) {
        if let Some(mut c) = self.child.take() {
            let status = Command::new("kill")
                .args(["-TERM", &c.id().to_string()])
                .status()
                .unwrap();
            assert!(status.success());
            let exit = c.wait().unwrap();
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
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let st = self.status(unit);
            if st["State"] == state {
                return st;
            }
            assert!(
                Instant::now() < deadline,
                "unit {unit} never reached state {state}: {st}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for TestNode {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

pub fn read_all(r: &mut impl Read) -> Vec<u8> {
    let mut v = Vec::new();
    r.read_to_end(&mut v).unwrap();
    v
}

/// Processes whose command line contains `marker`.
pub fn pgrep(marker: &str) -> String {
    let out = Command::new("pgrep")
        .args(["-af", marker])
        .output()
        .expect("run pgrep");
    String::from_utf8_lossy(&out.stdout).into_owned()
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

pub fn path_with_venv() -> String {
    format!(
        "{}:{}",
        venv().join("bin").display(),
        std::env::var("PATH").unwrap_or_default()
    )
}
