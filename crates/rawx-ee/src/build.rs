//! Building the managed virtualenv, step by step, so that any step can be cut short by a
//! `kill -9` and the next attempt still ends with a sound environment.
//!
//! Layout under `<data dir>/ee/`: `<key>/` is the virtualenv (built in place: a virtualenv
//! cannot be moved, its scripts name their interpreter by absolute path), `<key>.lock` the
//! build lock. Inside the virtualenv, `.rawx-step-*` files record finished steps and
//! `rawx-ee.json` — written last, by rename — says the build is complete. Nothing uses the
//! environment before that file exists.
//!
//! The lock is an `flock` that every child (venv, pip) also holds through an inherited
//! descriptor: when rawx is killed, an installer it left running keeps the lock until it exits,
//! so the next process waits for it instead of building over it.

use crate::Options;
use command_fds::{CommandFdExt, FdMapping};
use serde_json::{json, Value};
use std::collections::VecDeque;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};

const MARKER: &str = "rawx-ee.json";
const STEP_VENV: &str = ".rawx-step-venv";
const PIP_STARTED: &str = ".rawx-step-pip-started";
const STEP_PIP: &str = ".rawx-step-pip";
/// The descriptor number the build lock has in each child (any free one would do).
const LOCK_FD: i32 = 9;
/// Lines of a failed command's output kept for its error message.
const TAIL_LINES: usize = 15;

/// What to do when the build cannot go on, said once for every failure.
const ADVICE_RUNNER: &str = "Or install ansible-core and ansible-runner yourself and put ansible-runner on PATH (or set RAWX_ANSIBLE_RUNNER); rawx then uses it and builds nothing.";

#[derive(Debug, Clone)]
pub(crate) struct Paths {
    pub dir: PathBuf,
    lock: PathBuf,
}

impl Paths {
    pub fn new(root: &Path, key: &str) -> Paths {
        Paths {
            dir: root.join(key),
            lock: root.join(format!("{key}.lock")),
        }
    }

    pub fn wrapper(&self) -> PathBuf {
        self.dir.join("bin").join(crate::WRAPPER)
    }

    fn bin(&self, name: &str) -> PathBuf {
        self.dir.join("bin").join(name)
    }

    fn marker(&self) -> Option<Value> {
        let text = std::fs::read_to_string(self.dir.join(MARKER)).ok()?;
        serde_json::from_str(&text).ok()
    }

    /// Built for these options, and still whole: its interpreter (a symlink to the system's)
    /// and its commands are there. A Python upgrade that removed the interpreter makes it
    /// incomplete, and it is rebuilt.
    pub fn is_complete(&self, opts: &Options) -> bool {
        let Some(m) = self.marker() else {
            return false;
        };
        m["pins"] == json!(opts.pins)
            && m["python"] == json!(opts.python.display().to_string())
            && self.bin("python").exists()
            && self.bin("ansible-runner").is_file()
            && self.wrapper().is_file()
    }
}

/// Builds (or finishes building) the environment; `progress` hears each step. The error says
/// what failed and what to do.
pub(crate) async fn build(
    p: &Paths,
    opts: &Options,
    progress: &(dyn Fn(&str) + Sync),
) -> Result<(), String> {
    let root = p.dir.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(root).map_err(|e| format!("cannot create {}: {e}", root.display()))?;
    let lock = acquire(p, progress).await?;
    if p.is_complete(opts) {
        tracing::info!(dir = %p.dir.display(), "another process finished building the managed execution environment");
        return Ok(());
    }

    let venv_done = p.dir.join(STEP_VENV).exists() && p.bin("python").exists();
    if !venv_done {
        if p.dir.exists() {
            tracing::info!(dir = %p.dir.display(), "removing a virtualenv whose creation did not finish");
            std::fs::remove_dir_all(&p.dir)
                .map_err(|e| format!("cannot remove the unfinished {}: {e}", p.dir.display()))?;
        }
        progress("creating the virtualenv");
        tracing::info!(dir = %p.dir.display(), python = %opts.python.display(), "managed execution environment: creating the virtualenv");
        let mut cmd = std::process::Command::new(&opts.python);
        cmd.arg("-m").arg("venv").arg(&p.dir);
        run(&mut cmd, &lock, "venv").await.map_err(|e| match e {
            RunError::NotFound => format!(
                "the Python interpreter {:?} was not found. Install Python 3 with its venv module \
                 (Debian/Ubuntu: apt-get install python3-venv) or point RAWX_EE_PYTHON at one. {ADVICE_RUNNER}",
                opts.python.display().to_string()
            ),
            RunError::Failed(what) => format!(
                "`{} -m venv {}` failed ({what}). Install Python's venv module (Debian/Ubuntu: \
                 apt-get install python3-venv) or point RAWX_EE_PYTHON at another Python 3. {ADVICE_RUNNER}",
                opts.python.display(),
                p.dir.display()
            ),
        })?;
        touch(&p.dir.join(STEP_VENV))?;
    }

    if !p.dir.join(STEP_PIP).exists() {
        // An install cut short can leave a package half written yet looking installed to pip:
        // the retry rewrites every package instead of trusting what it finds.
        let resuming = p.dir.join(PIP_STARTED).exists();
        touch(&p.dir.join(PIP_STARTED))?;
        let pins = opts.pins.join(" ");
        progress(&format!("installing {pins} with pip"));
        tracing::info!(dir = %p.dir.display(), pins = %pins, resuming, "managed execution environment: installing with pip");
        let mut cmd = std::process::Command::new(p.bin("python"));
        cmd.args([
            "-m",
            "pip",
            "install",
            "--disable-pip-version-check",
            "--no-input",
        ]);
        if resuming {
            cmd.arg("--ignore-installed");
        }
        cmd.args(&opts.pip_args).args(&opts.pins);
        run(&mut cmd, &lock, "pip").await.map_err(|e| {
            let what = match e {
                RunError::NotFound => format!("{} is missing", p.bin("python").display()),
                RunError::Failed(what) => what,
            };
            format!(
                "pip could not install {pins} ({what}). Check that this node reaches the package \
                 index (PIP_INDEX_URL, HTTPS_PROXY), or build offline from a directory of wheels: \
                 PIP_NO_INDEX=1 PIP_FIND_LINKS=/path/to/wheels (`pip download {pins}` fills one); \
                 more pip arguments go in RAWX_EE_PIP_ARGS. {ADVICE_RUNNER}"
            )
        })?;
        touch(&p.dir.join(STEP_PIP))?;
    }

    progress("checking the installed ansible-runner");
    write_wrapper(p)?;
    let runner = version(&p.wrapper(), &lock).await?;
    let core = version(&p.bin("ansible-playbook"), &lock).await?;
    let built = time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    let marker = json!({
        "pins": opts.pins,
        "python": opts.python.display().to_string(),
        "ansible_runner": runner,
        "ansible_core": core.lines().next().unwrap_or_default(),
        "built": built,
    });
    write_atomic(&p.dir.join(MARKER), marker.to_string().as_bytes(), 0o644)?;
    drop(lock);
    Ok(())
}

/// Takes the build lock, waiting (without blocking a thread, so shutdown stays prompt) while
/// another process — or an installer a killed rawx left behind — holds it.
async fn acquire(p: &Paths, progress: &(dyn Fn(&str) + Sync)) -> Result<File, String> {
    use rustix::fs::{flock, FlockOperation};
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&p.lock)
        .map_err(|e| format!("cannot open the build lock {}: {e}", p.lock.display()))?;
    let mut told = false;
    loop {
        match flock(&file, FlockOperation::NonBlockingLockExclusive) {
            Ok(()) => return Ok(file),
            Err(e) if e == rustix::io::Errno::WOULDBLOCK => {
                if !told {
                    tracing::info!(lock = %p.lock.display(), "another process is building the managed execution environment; waiting for it");
                    progress("waiting for another process that is building it");
                    told = true;
                }
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
            Err(e) => return Err(format!("cannot lock {}: {e}", p.lock.display())),
        }
    }
}

enum RunError {
    NotFound,
    /// How it failed: exit status and the last lines it printed.
    Failed(String),
}

/// Runs a build command with the lock passed down, logging its output line by line (that is
/// the build's progress in the log) and keeping the tail for an error message.
async fn run(cmd: &mut std::process::Command, lock: &File, what: &str) -> Result<String, RunError> {
    let held = lock
        .try_clone()
        .map_err(|e| RunError::Failed(format!("cannot pass the build lock on: {e}")))?;
    cmd.fd_mappings(vec![FdMapping {
        parent_fd: held.into(),
        child_fd: LOCK_FD,
    }])
    .map_err(|e| RunError::Failed(e.to_string()))?;
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut cmd =
        tokio::process::Command::from(std::mem::replace(cmd, std::process::Command::new("true")));
    // A graceful stop mid-build ends the child too; only a kill -9 of rawx leaves it behind.
    cmd.kill_on_drop(true);
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(RunError::NotFound),
        Err(e) => return Err(RunError::Failed(format!("cannot start it: {e}"))),
    };
    let mut out = BufReader::new(child.stdout.take().expect("piped")).lines();
    let mut err = BufReader::new(child.stderr.take().expect("piped")).lines();
    let mut tail: VecDeque<String> = VecDeque::new();
    let mut all = String::new();
    let (mut out_open, mut err_open) = (true, true);
    while out_open || err_open {
        let line = tokio::select! {
            l = out.next_line(), if out_open => match l { Ok(Some(l)) => l, _ => { out_open = false; continue } },
            l = err.next_line(), if err_open => match l { Ok(Some(l)) => l, _ => { err_open = false; continue } },
        };
        if line.trim().is_empty() {
            continue;
        }
        tracing::info!(step = what, "{line}");
        all.push_str(&line);
        all.push('\n');
        if tail.len() == TAIL_LINES {
            tail.pop_front();
        }
        tail.push_back(line);
    }
    let status = child
        .wait()
        .await
        .map_err(|e| RunError::Failed(format!("cannot wait for it: {e}")))?;
    if status.success() {
        Ok(all)
    } else {
        let lines: Vec<String> = tail.into_iter().collect();
        Err(RunError::Failed(format!(
            "{status}; its last output: {}",
            lines.join(" | ")
        )))
    }
}

/// `<program> --version`, which must work for the build to count.
async fn version(program: &Path, lock: &File) -> Result<String, String> {
    let mut cmd = std::process::Command::new(program);
    cmd.arg("--version");
    match run(&mut cmd, lock, "check").await {
        Ok(out) => Ok(out.trim().to_string()),
        Err(e) => Err(format!(
            "the installed {} does not run ({}). Remove {} to rebuild it from scratch. {ADVICE_RUNNER}",
            program.display(),
            match e {
                RunError::NotFound => "not found".to_string(),
                RunError::Failed(w) => w,
            },
            program.parent().and_then(Path::parent).unwrap_or(program).display()
        )),
    }
}

/// The node's command: ansible-runner looks up `ansible-playbook` on PATH, so the
/// virtualenv's `bin/` must come first, as an activated virtualenv would have it.
fn write_wrapper(p: &Paths) -> Result<(), String> {
    let quote = |path: PathBuf| -> Result<String, String> {
        let s = path.display().to_string();
        shlex::try_quote(&s)
            .map(|q| q.into_owned())
            .map_err(|_| format!("the data dir path {s:?} cannot be written in a shell script"))
    };
    let script = format!(
        "#!/bin/sh\n# Written by rawx: runs this virtualenv's ansible-runner with its bin/ first on PATH.\nPATH={}:\"$PATH\"\nexport PATH\nexec {} \"$@\"\n",
        quote(p.dir.join("bin"))?,
        quote(p.bin("ansible-runner"))?,
    );
    write_atomic(&p.wrapper(), script.as_bytes(), 0o755)
}

fn touch(path: &Path) -> Result<(), String> {
    write_atomic(path, b"", 0o644)
}

/// Writes through a temporary file, synced, then renamed over `path`: a reader sees the old
/// file or the whole new one, even after a crash.
fn write_atomic(path: &Path, bytes: &[u8], mode: u32) -> Result<(), String> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let tmp = path.with_extension("tmp");
    let fail = |e: std::io::Error| format!("cannot write {}: {e}", path.display());
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(mode)
        .open(&tmp)
        .map_err(fail)?;
    f.write_all(bytes).map_err(fail)?;
    f.sync_all().map_err(fail)?;
    std::fs::rename(&tmp, path).map_err(fail)?;
    if let Some(dir) = path.parent() {
        // The rename itself must reach the disk before the marker counts.
        let _ = File::open(dir).and_then(|d| d.sync_all());
    }
    Ok(())
}
