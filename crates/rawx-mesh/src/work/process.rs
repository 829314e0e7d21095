//! Running a unit's command detached from the node, and finding or stopping it again.
//!
//! The command runs under a small `sh` wrapper in a process group of its own. The wrapper, not
//! the node, records the exit code in the unit dir, so the node may die or restart while work
//! runs and still learn how it ended. Everything the command starts shares the group, which is
//! what cancel stops.

use std::fs::File;
use std::io;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use rustix::process::{kill_process_group, Pid, Signal};

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
/// and stderr.
pub fn spawn(dir: &Path, command: &str, args: &[String]) -> io::Result<Spawned> {
    let stdin = File::open(dir.join("stdin"))?;
    let stdout = open_private(&dir.join("stdout"))?;
    let stderr = stdout.try_clone()?;
    let child = tokio::process::Command::new("sh")
        .arg("-c")
        .arg(WRAPPER)
        .arg("rawx-unit")
        .arg(dir.join(EXIT_FILE))
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
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces and parentheses; the fields start after the last ')'.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let state = fields.first()?.chars().next()?;
    let pgrp = fields.get(2)?.parse().ok()?;
    let start = fields.get(19)?.parse().ok()?;
    Some((state, pgrp, start))
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
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return false;
    };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .any(|pid| matches!(proc_stat(pid), Some((state, pgrp, _)) if pgrp == pgid && state != 'Z'))
}

fn signal_group(pgid: u32, sig: Signal) {
    let Some(pid) = i32::try_from(pgid).ok().and_then(Pid::from_raw) else {
        return;
    };
    // ESRCH only means the group is gone already.
    let _ = kill_process_group(pid, sig);
}

/// Stops the whole group: SIGINT first (ansible-runner cleans up on it, as under Receptor),
/// SIGKILL for whatever is left after `grace`. Returns once no live process remains, or
/// after a final bounded wait.
pub async fn stop_group(pgid: u32, grace: Duration) {
    if pgid <= 1 {
        return;
    }
    signal_group(pgid, Signal::INT);
    if wait_gone(pgid, grace).await {
        return;
    }
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
