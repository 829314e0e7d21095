//! What a job leaves running, found by markers in command lines: the suites that prove a
//! cancel, a timeout or a lost node leaves no process of the job look for these.

use rustix::process::{kill_process, Pid, Signal};
use std::time::{Duration, Instant};

/// A sleep length no other process on the machine uses, so `sleep <nap>` is findable.
pub fn unique_nap() -> String {
    let n = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!("2999.{:06}{}", n % 1_000_000, std::process::id() % 1000)
}

fn cmdline(pid: &str) -> Option<String> {
    let raw = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    Some(String::from_utf8_lossy(&raw).replace('\0', " "))
}

fn zombie(pid: &str) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| s.rfind(')').map(|i| s[i + 2..].starts_with('Z')))
        .unwrap_or(true)
}

/// Live processes (`"PID: command line"`) whose command line holds any of `markers`, except
/// rawx servers (a unit's runner, also the rawx binary, counts: it is part of the job).
pub fn job_processes(markers: &[String]) -> Vec<String> {
    let me = std::process::id().to_string();
    let rawx = crate::rawx_bin().display().to_string();
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let pid = e.file_name().to_string_lossy().into_owned();
        if !pid.chars().all(|c| c.is_ascii_digit()) || pid == me {
            continue;
        }
        let Some(cmd) = cmdline(&pid) else { continue };
        let server = cmd.starts_with(&rawx) && !cmd.contains("__rawx-unit-runner");
        if !server && markers.iter().any(|m| cmd.contains(m.as_str())) && !zombie(&pid) {
            out.push(format!("{pid}: {cmd}"));
        }
    }
    out
}

/// How many `sleep <nap>` run.
pub fn sleepers(nap: &str) -> usize {
    job_processes(&[nap.to_string()])
        .iter()
        .filter(|p| {
            p.split_once(": ")
                .is_some_and(|(_, c)| c.starts_with("sleep "))
        })
        .count()
}

/// Waits until no live process holds any of `markers`; returns how long that took. Looks every
/// 50 ms: the time is a figure the suites report.
#[track_caller]
pub fn gone_within(markers: &[String], limit: Duration) -> Duration {
    let t = Instant::now();
    crate::eventually_every(limit, Duration::from_millis(50), || {
        let left = job_processes(markers);
        if left.is_empty() {
            Ok(t.elapsed())
        } else {
            Err(format!(
                "{} processes of the job still run after its end was asked for:\n{}",
                left.len(),
                left.join("\n")
            ))
        }
    })
}

/// Kills every process holding one of its markers when dropped, even when the test panics:
/// what a test's jobs may have left outside any data dir (a detached `sleep <nap>`).
pub struct Leftovers(pub Vec<String>);

impl Drop for Leftovers {
    fn drop(&mut self) {
        for _ in 0..50 {
            let left = job_processes(&self.0);
            if left.is_empty() {
                return;
            }
            for p in left {
                let pid = p.split(':').next().and_then(|p| p.parse::<i32>().ok());
                if let Some(pid) = pid.and_then(Pid::from_raw) {
                    let _ = kill_process(pid, Signal::KILL);
                }
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// A job's sleeps and everything started with its private data dir (`<data>/jobs/<id>`; the
/// data dir too, since other servers on this machine have a job `id` as well).
pub fn job_markers(nap: &str, data: &std::path::Path, id: i64) -> Vec<String> {
    let data = data.display();
    vec![
        nap.to_string(),
        format!("{data}/jobs/{id}/"),
        format!("{data}/jobs/{id} "),
    ]
}

/// How long a job's processes may take to go once its end was asked for: the grace is
/// Receptor's 10 s (a SIGINT that ansible-runner honours ends it much earlier), and the limit
/// allows for a loaded machine.
pub const GONE_LIMIT: Duration = Duration::from_secs(16);
