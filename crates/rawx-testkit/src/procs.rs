//! Leaving nothing running. Every process the kit starts leads a process group of its own
//! ([`spawn_group`]); the group is killed when its owner drops it and, should a test panic, at
//! once by a panic hook (so a panic that aborts, or an owner that is never dropped, still leaves
//! nothing). Work units outlive the server that started them on purpose (a restarted server
//! re-attaches to them) and run in groups of their own, so they are found by their data dir
//! instead: [`DataDir`]'s drop kills every process whose command line names the dir.

use rustix::process::{kill_process, kill_process_group, Pid, Signal};
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::{Mutex, Once};
use std::thread::ThreadId;

/// Live groups and the thread that started each: a panic kills its own thread's groups only,
/// since other tests of the same binary may run in other threads.
static GROUPS: Mutex<Vec<(ThreadId, u32)>> = Mutex::new(Vec::new());
static HOOK: Once = Once::new();

fn install_hook() {
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let me = std::thread::current().id();
            let mine: Vec<u32> = GROUPS
                .lock()
                .map(|g| {
                    g.iter()
                        .filter(|(t, _)| *t == me)
                        .map(|(_, p)| *p)
                        .collect()
                })
                .unwrap_or_default();
            for pgid in mine {
                kill_group(pgid);
            }
            previous(info)
        }));
    });
}

/// Starts `cmd` as the leader of a new process group, registered for the panic hook. The
/// owner kills the group (if it must) *before* reaping the leader, and releases it once
/// reaped: a reaped leader's pid, hence its group id, may be reused by anyone.
pub fn spawn_group(cmd: &mut Command) -> std::io::Result<Child> {
    use std::os::unix::process::CommandExt;
    install_hook();
    let child = cmd.process_group(0).spawn()?;
    GROUPS
        .lock()
        .unwrap()
        .push((std::thread::current().id(), child.id()));
    Ok(child)
}

/// Makes this test process adopt the orphans of the processes it starts (a child subreaper),
/// for a test that freezes (SIGSTOP) a process of a server it then kills: the server leads its
/// own group, which turns orphaned when it dies if its orphans go to init, and the kernel sends
/// SIGHUP to an orphaned group holding a stopped process. Not the default: a process whose
/// parent is the test rather than init behaves differently enough to change what other suites
/// see (safety's kill -9 test leaves its unit running then).
pub fn adopt_orphans() {
    rustix::process::set_child_subreaper(Some(rustix::process::getpid()))
        .expect("PR_SET_CHILD_SUBREAPER");
}

/// Forgets a group (its owner killed or reaped it).
pub fn release_group(pgid: u32) {
    GROUPS.lock().unwrap().retain(|(_, p)| *p != pgid);
}

/// SIGKILL to every process of the group led by `pgid`.
pub fn kill_group(pgid: u32) {
    if let Some(pid) = i32::try_from(pgid).ok().and_then(Pid::from_raw) {
        // ESRCH only means it is gone already.
        let _ = kill_process_group(pid, Signal::KILL);
    }
}

/// The group a process belongs to, from `/proc/PID/stat`.
fn pgrp_of(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 2..];
    rest.split_whitespace().nth(2)?.parse().ok()
}

/// Processes whose command line contains `needle`, except this one.
pub fn pids_naming(needle: &str) -> Vec<u32> {
    let me = std::process::id();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| *pid != me)
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .is_ok_and(|c| String::from_utf8_lossy(&c).contains(needle))
        })
        .collect()
}

/// `/proc/PID/stat`'s parent and group of every process.
fn process_table() -> Vec<(u32, u32, u32)> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(|pid| {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            let mut f = stat[stat.rfind(')')? + 2..].split_whitespace().skip(1);
            let ppid = f.next()?.parse().ok()?;
            let pgrp = f.next()?.parse().ok()?;
            Some((pid, ppid, pgrp))
        })
        .collect()
}

/// Kills every process naming `path` in its command line, everything descended from them,
/// and their groups (a unit's runner names its unit dir; `ansible-runner worker` its private
/// data dir). Descendants go first and by pid, not only by group: what a job detaches
/// (`setsid`, `sleep 300 &`) leaves the unit's group but stays below the unit's runner, a
/// child subreaper, and would be re-parented away from it (escaping) if the runner died
/// first. Never this test's own process or group.
pub fn kill_naming(path: &Path) {
    let needle = path.display().to_string();
    let me = std::process::id();
    let own = pgrp_of(me);
    let roots = pids_naming(&needle);
    if roots.is_empty() {
        return;
    }
    let table = process_table();
    // Breadth-first from the roots; killed in reverse, the deepest first.
    let mut order: Vec<u32> = roots.clone();
    let mut i = 0;
    while i < order.len() {
        let parent = order[i];
        for (pid, ppid, _) in &table {
            if *ppid == parent && *pid != me && !order.contains(pid) {
                order.push(*pid);
            }
        }
        i += 1;
    }
    // Frozen first, parents before children, then killed: a parent that saw its child die
    // before its own SIGKILL arrived could otherwise carry on (a shell runs its next command
    // and exits 0).
    let pids: Vec<Pid> = order
        .iter()
        .filter_map(|pid| i32::try_from(*pid).ok().and_then(Pid::from_raw))
        .collect();
    for p in &pids {
        let _ = kill_process(*p, Signal::STOP);
    }
    for p in pids.iter().rev() {
        let _ = kill_process(*p, Signal::KILL);
    }
    for pid in roots {
        if let Some(g) = table.iter().find(|(p, _, _)| *p == pid).map(|(_, _, g)| *g) {
            if Some(g) != own && g > 1 {
                kill_group(g);
            }
        }
    }
}

/// A child process leading a group of its own (see [`spawn_group`]): the whole group is killed
/// when it is dropped, and by the panic hook should the test panic. For the processes a suite
/// starts itself (a node, a peer written in Python, an `sshd`).
pub struct Proc {
    child: Option<Child>,
}

impl Proc {
    /// Starts `cmd` in a group of its own.
    pub fn spawn(cmd: &mut Command) -> Proc {
        let child = spawn_group(cmd).unwrap_or_else(|e| panic!("cannot start {cmd:?}: {e}"));
        Proc { child: Some(child) }
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("still running").id()
    }

    /// The process itself, for its pipes or `try_wait`.
    pub fn child(&mut self) -> &mut Child {
        self.child.as_mut().expect("still running")
    }

    /// Whether it is still running (reaps it if it ended).
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.as_mut().map(|c| c.try_wait()), Some(Ok(None)))
    }

    /// `kill -9` of the process alone (a crash: what it started in other groups keeps running),
    /// reaped.
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
            release_group(c.id());
        }
    }

    /// SIGTERM to the process; waits up to `limit` for it to exit (then kills its group and
    /// panics) and returns how it ended.
    pub fn terminate(&mut self, limit: std::time::Duration) -> std::process::ExitStatus {
        if let Some(pid) = i32::try_from(self.pid()).ok().and_then(Pid::from_raw) {
            let _ = kill_process(pid, Signal::TERM);
        }
        let deadline = std::time::Instant::now() + limit;
        loop {
            if let Some(status) = self.child().try_wait().expect("wait") {
                // Reaped by `try_wait` above (clippy's zombie lint does not see that).
                release_group(self.child.take().map(|c| c.id()).unwrap_or_default());
                return status;
            }
            if std::time::Instant::now() > deadline {
                self.kill();
                panic!("process did not exit within {limit:?} of SIGTERM");
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }

    /// Waits up to `limit` for the process to end by itself and returns what it printed on
    /// the pipes it was given; past the limit its group is killed first (so a hung helper
    /// fails its test, not the suite).
    pub fn output(mut self, limit: std::time::Duration) -> std::process::Output {
        let deadline = std::time::Instant::now() + limit;
        while self.is_running() && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        let mut c = self.child.take().expect("started");
        let pid = c.id();
        if matches!(c.try_wait(), Ok(None)) {
            kill_group(pid);
        }
        let out = c.wait_with_output().expect("wait");
        release_group(pid);
        out
    }

    /// Kills the group and reaps the leader.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            // Killed before the reap: until then the group id cannot belong to anyone else.
            // A leader already reaped (it ended by itself) is left alone for that reason.
            if matches!(c.try_wait(), Ok(None)) {
                kill_group(c.id());
            }
            let _ = c.wait();
            release_group(c.id());
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A TCP port free on 127.0.0.1 a moment ago (for a process the test configures to listen).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// A server's data dir (a temp dir). Dropping it kills what still runs on it, then removes it
/// (keeps it when the test is failing, for a look).
/// A stopped server hands it back ([`crate::Server::stop`]) so a test can start again on it.
pub struct DataDir {
    dir: Option<tempfile::TempDir>,
    path: PathBuf,
    /// Killed servers, not yet reaped (so their group ids cannot be reused): what is left of
    /// their groups goes with the dir.
    adopted: Vec<Child>,
}

impl DataDir {
    pub fn new() -> DataDir {
        tempfile::tempdir().expect("temp dir").into()
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Takes over a group leader started by [`spawn_group`] (killed or not, but not reaped):
    /// its group is killed and it is reaped when the dir is dropped.
    pub fn adopt(&mut self, leader: Child) {
        self.adopted.push(leader);
    }
}

impl std::ops::Deref for DataDir {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.path
    }
}

impl Default for DataDir {
    fn default() -> Self {
        DataDir::new()
    }
}

impl From<tempfile::TempDir> for DataDir {
    fn from(dir: tempfile::TempDir) -> Self {
        let path = dir.path().to_path_buf();
        DataDir {
            dir: Some(dir),
            path,
            adopted: Vec::new(),
        }
    }
}

impl Drop for DataDir {
    fn drop(&mut self) {
        for mut leader in self.adopted.drain(..) {
            kill_group(leader.id());
            let _ = leader.wait();
            release_group(leader.id());
        }
        // Again until nothing names the dir: a process may fork while its group is killed.
        let needle = self.path.display().to_string();
        for _ in 0..50 {
            kill_naming(&self.path);
            if pids_naming(&needle).is_empty() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        match self.dir.take() {
            // Kept for a look when the test failed (what ran in it is gone all the same).
            Some(dir) if std::thread::panicking() => {
                eprintln!("kept the failed test's dir {}", dir.keep().display());
            }
            dir => drop(dir),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn alive(pid: u32) -> bool {
        std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .is_ok_and(|s| !s[s.rfind(')').unwrap() + 2..].starts_with('Z'))
    }

    /// A child that nobody drops (leaked, as when a panic aborts a drop) is killed, with what
    /// it started, by the panic of the thread that started it.
    #[test]
    fn a_panic_kills_the_groups_its_thread_started() {
        let (tx, rx) = std::sync::mpsc::channel();
        let t = std::thread::spawn(move || {
            let child =
                spawn_group(Command::new("sh").args(["-c", "sleep 300 & sleep 300"])).unwrap();
            tx.send(child.id()).unwrap();
            std::mem::forget(child);
            panic!("the test failed");
        });
        let pid = rx.recv().unwrap();
        assert!(t.join().is_err());
        crate::eventually(Duration::from_secs(10), || {
            let left = pids_naming("sleep 300")
                .into_iter()
                .filter(|p| pgrp_of(*p) == Some(pid) && alive(*p))
                .count();
            (left == 0).then_some(())
        });
        release_group(pid);
    }

    /// Work units run in groups of their own, outliving the server; the data dir's drop kills
    /// every process naming it.
    #[test]
    fn dropping_a_data_dir_kills_what_still_runs_on_it() {
        let dir = DataDir::new();
        let marker = dir.path().join("exitcode");
        let mut cmd = Command::new("sh");
        // `setsid` leaves the group, as ansible's forks and `async` tasks do.
        cmd.args(["-c", "setsid sleep 297 & sleep 300; echo", "unit"])
            .arg(&marker);
        let mut child = spawn_group(&mut cmd).unwrap();
        release_group(child.id());
        let pid = child.id();
        let needle = marker.display().to_string();
        crate::eventually(Duration::from_secs(10), || {
            pids_naming(&needle).contains(&pid)
        });
        drop(dir);
        let status = child.wait().unwrap();
        assert!(!status.success(), "the unit ran to its end");
        assert!(!alive(pid));
        crate::eventually(Duration::from_secs(10), || {
            let left: Vec<u32> = pids_naming("sleep 297")
                .into_iter()
                .filter(|p| alive(*p))
                .collect();
            if left.is_empty() {
                Ok(())
            } else {
                Err(format!("what the unit detached still runs: {left:?}"))
            }
        });
    }
}
