//! Running a unit's command detached from the node, and finding or stopping it again.
//!
//! The command runs under a unit runner (`runner.rs`: the node's binary re-executed, a child
//! subreaper) or, when the node has no runner program, a small `sh` wrapper, in a process group
//! of its own. The runner, not the node, records the exit code in the unit dir, so the node may
//! die or restart while work runs and still learn how it ended. Cancel sends SIGINT to the
//! group; the runner then kills everything the command started, wherever it detached to.

use std::fs::File;
use std::io;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use rustix::process::{kill_process_group, Pid, Signal};

/// `argv[1]` that turns the binary into a unit runner (`runner.rs`), which this side spawns.
pub const RUNNER_ARG: &str = "__rawx-unit-runner";

/// `$1` is where to record the exit code; the rest is the command. The code goes out in one
/// small write, so a reader sees nothing or all of it, and the node trusts an empty file only
/// once the wrapper is gone. (No `mv`: one exec less per unit.)
const WRAPPER: &str = r#"f=$1; shift; "$@"; echo "$?" > "$f""#;

pub const EXIT_FILE: &str = "exitcode";

pub struct Spawned {
    pub pid: u32,
    /// Kept only so that the node can notice the exit at once; dropping it neither kills the
    /// process nor leaves a zombie (tokio reaps orphaned children).
    pub child: tokio::process::Child,
}

/// Starts `command args…` with the unit's stdin file as stdin and its stdout file as stdout
/// and stderr, under `runner` (the unit runner program) or else the `sh` wrapper.
pub fn spawn(
    dir: &Path,
    runner: Option<&Path>,
    grace: Duration,
    command: &str,
    args: &[String],
) -> io::Result<Spawned> {
    let stdin = File::open(dir.join("stdin"))?;
    let stdout = open_private(&dir.join("stdout"))?;
    let stderr = stdout.try_clone()?;
    let mut cmd = match runner {
        Some(exe) => {
            let mut c = tokio::process::Command::new(exe);
            c.arg(RUNNER_ARG)
                .arg(dir.join(EXIT_FILE))
                .arg(grace.as_millis().to_string());
            c
        }
        None => {
            let mut c = tokio::process::Command::new("sh");
            c.arg("-c")
                .arg(WRAPPER)
                .arg("rawx-unit")
                .arg(dir.join(EXIT_FILE));
            c
        }
    };
    let child = cmd
        .arg(command)
        .args(args)
        .stdin(Stdio::from(stdin))
        .stdout(Stdio::from(stdout))
        .stderr(Stdio::from(stderr))
        .process_group(0)
        .spawn()?;
    let pid = child
        .id()
        .ok_or_else(|| io::Error::other("the unit's process exited before it was watched"))?;
    Ok(Spawned { pid, child })
}

pub fn open_private(path: &Path) -> io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
}

/// Opens (creating, 0600) a file to append to: a remote unit's copy of the far output.
pub fn open_append(path: &Path) -> io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .mode(0o600)
        .open(path)
}

/// The recorded exit code, once the wrapper has written it.
pub fn exit_code(dir: &Path) -> Option<i32> {
    std::fs::read_to_string(dir.join(EXIT_FILE))
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// Fields of `/proc/PID/stat` after the command name: (state, pgrp, starttime).
fn proc_stat(pid: u32) -> Option<(char, u32, u64)> {
    proc_stat_ppid(pid).map(|(state, _, pgrp, start)| (state, pgrp, start))
}

/// (state, ppid, pgrp, starttime) from `/proc/PID/stat`.
fn proc_stat_ppid(pid: u32) -> Option<(char, u32, u32, u64)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces and parentheses; the fields start after the last ')'.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let state = fields.first()?.chars().next()?;
    let ppid = fields.get(1)?.parse().ok()?;
    let pgrp = fields.get(2)?.parse().ok()?;
    let start = fields.get(19)?.parse().ok()?;
    Some((state, ppid, pgrp, start))
}

fn all_pids() -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .collect()
}

/// Sends `sig` to every live descendant of `root` (and to `root` itself when `with_root`).
pub(crate) fn kill_tree(root: u32, sig: Signal, with_root: bool) -> usize {
    let mut n = 0;
    for pid in descendants(root) {
        if let Some(p) = i32::try_from(pid).ok().and_then(Pid::from_raw) {
            if rustix::process::kill_process(p, sig).is_ok() {
                n += 1;
            }
        }
    }
    if with_root {
        if let Some(p) = i32::try_from(root).ok().and_then(Pid::from_raw) {
            let _ = rustix::process::kill_process(p, sig);
        }
    }
    n
}

/// Live (non-zombie) descendants of `root`, by parent PID, children before grandchildren.
pub(crate) fn descendants(root: u32) -> Vec<u32> {
    let mut children: std::collections::HashMap<u32, Vec<u32>> = Default::default();
    let mut zombie = std::collections::HashSet::new();
    for pid in all_pids() {
        if let Some((state, ppid, _, _)) = proc_stat_ppid(pid) {
            children.entry(ppid).or_default().push(pid);
            if state == 'Z' {
                zombie.insert(pid);
            }
        }
    }
    let mut out = Vec::new();
    let mut todo = vec![root];
    while let Some(p) = todo.pop() {
        for &c in children.get(&p).map(Vec::as_slice).unwrap_or(&[]) {
            if c != root && !out.contains(&c) {
                todo.push(c);
                if !zombie.contains(&c) {
                    out.push(c);
                }
            }
        }
    }
    out
}

/// The process's start time, so a later check cannot mistake a recycled PID for the runner.
pub fn start_time(pid: u32) -> Option<u64> {
    proc_stat(pid).map(|(_, _, start)| start)
}

/// Whether the runner `pid` that started at `start` still runs (zombies count as gone).
pub fn runner_alive(pid: u32, start: Option<u64>) -> bool {
    match proc_stat(pid) {
        Some((state, _, started)) => state != 'Z' && start.is_none_or(|s| s == started),
        None => false,
    }
}

/// Whether any live (non-zombie) process is left in the process group.
pub fn group_alive(pgid: u32) -> bool {
    all_pids()
        .into_iter()
        .any(|pid| matches!(proc_stat(pid), Some((state, pgrp, _)) if pgrp == pgid && state != 'Z'))
}

fn signal_group(pgid: u32, sig: Signal) {
    let Some(pid) = i32::try_from(pgid).ok().and_then(Pid::from_raw) else {
        return;
    };
    // ESRCH only means the group is gone already.
    let _ = kill_process_group(pid, sig);
}

/// Stops the unit: SIGINT to its group first (ansible-runner cleans up on it, as under
/// Receptor). A unit runner then kills everything left after `grace` by itself, even if this
/// node dies meanwhile; the node only waits for it, a little longer than the grace. What is
/// still alive after that (a runner killed from outside, or the `sh` wrapper, which cannot
/// follow processes that left the group) gets SIGKILL here: the leader's descendants, then the
/// group. Returns once no live process remains, or after a final bounded wait.
pub async fn stop_group(pgid: u32, grace: Duration) {
    if pgid <= 1 {
        return;
    }
    signal_group(pgid, Signal::INT);
    if wait_gone(pgid, grace + Duration::from_secs(3)).await {
        return;
    }
    kill_tree(pgid, Signal::KILL, false);
    signal_group(pgid, Signal::KILL);
    wait_gone(pgid, Duration::from_secs(5)).await;
}

async fn wait_gone(pgid: u32, limit: Duration) -> bool {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        if !group_alive(pgid) {
            return true;
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}
