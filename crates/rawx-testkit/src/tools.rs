//! Where the tools under test are: the workspace, the `rawx` binary, and the Python venv with
//! the real clients (`awx`, ansible-runner, receptorctl). Below `clients` and `server`, which
//! both run them.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The `rawx` binary under test: `$RAWX_BIN`, else the one nextest names
/// (`NEXTEST_BIN_EXE_rawx`), else the one cargo built beside the test binary
/// (`target/debug/deps/TEST` → `target/debug/rawx`). Cargo builds it for `rawx`'s own
/// integration tests; a suite elsewhere must build it first (`cargo build -p rawx`).
pub fn rawx_bin() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        for var in ["RAWX_BIN", "NEXTEST_BIN_EXE_rawx"] {
            if let Ok(v) = std::env::var(var) {
                if !v.is_empty() {
                    return PathBuf::from(v);
                }
            }
        }
        let exe = std::env::current_exe().expect("the test binary's path");
        let dir = exe.parent().expect("deps dir");
        let dir = if dir.ends_with("deps") {
            dir.parent().unwrap()
        } else {
            dir
        };
        let bin = dir.join("rawx");
        assert!(
            bin.is_file(),
            "no rawx binary at {} (set RAWX_BIN or `cargo build -p rawx`)",
            bin.display()
        );
        bin
    })
    .clone()
}

/// The venv holding the real awx CLI: `$RAWX_VENV`, or the project's cached one built by
/// `scripts/setup-venv.sh`. A missing venv is a failure, never a silent skip: these tests are
/// the only proof that the unmodified CLI works.
pub fn venv() -> &'static Path {
    static VENV: OnceLock<PathBuf> = OnceLock::new();
    VENV.get_or_init(|| {
        let path = match std::env::var("RAWX_VENV") {
            Ok(v) if !v.is_empty() => PathBuf::from(v),
            _ => {
                let script = workspace_root().join("scripts/setup-venv.sh");
                let out = Command::new("bash")
                    .arg(&script)
                    .output()
                    .unwrap_or_else(|e| panic!("cannot run {}: {e}", script.display()));
                assert!(
                    out.status.success(),
                    "{} failed ({}):\n{}",
                    script.display(),
                    out.status,
                    String::from_utf8_lossy(&out.stderr)
                );
                PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())
            }
        };
        assert!(
            path.join("bin/awx").is_file(),
            "no awx CLI at {}/bin/awx: set RAWX_VENV or run scripts/setup-venv.sh",
            path.display()
        );
        path
    })
}

/// `PATH` with the venv's tools first, for a process whose children need them (a node's
/// work units inherit its environment: `ansible-runner`, `ansible-playbook`).
pub fn venv_path() -> String {
    format!(
        "{}:{}",
        venv().join("bin").display(),
        std::env::var("PATH").unwrap_or_default()
    )
}
