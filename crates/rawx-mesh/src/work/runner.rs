//! The unit runner: the node's own binary re-executed (`<exe> __rawx-unit-runner EXITFILE
//! GRACE_MS COMMAND ARGS…`) as the supervisor of one unit, in place of a `sh` wrapper.
//!
//! A process group is not enough to stop a job: ansible's forked workers call `setsid()`,
//! `async` tasks daemonize, and a `shell` task may leave `sleep 300 &` behind; all of them
//! leave the unit's group. The runner is a *child subreaper* (`PR_SET_CHILD_SUBREAPER`), so
//! every process the command starts stays its descendant however it detaches (orphans are
//! re-parented to it, not to init). That gives the guarantee AWX gets from killing the job's
//! container, without containers or cgroups (which a non-root node rarely may create):
//!
//! - cancel: the node sends SIGINT to the unit's group (the command stops cleanly and writes
//!   its last events); the runner, which catches it, waits for the command up to the grace
//!   (Receptor's 10 s), then SIGKILLs every descendant, again and again until it has no child;
//! - the command's end (success, failure, ansible-runner's own timeout): whatever it left
//!   behind is killed the same way, as a container's end would;
//! - only then is the exit code written (one small write, as the wrapper did), so "exit code
//!   recorded" means "nothing of the unit runs". The runner does not depend on the node: a node
//!   restarted or killed mid-cancel changes nothing, and a restarted node finds it again by the
//!   PID and start time in the unit dir.

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

use rustix::process::{Signal, WaitOptions};

use super::process::{kill_tree, RUNNER_ARG};

/// Runs the unit runner when the process was started as one; `None` otherwise. Binaries that
/// host a node call this first thing in `main`.
pub fn run_if_requested() -> Option<std::process::ExitCode> {
    let mut args = std::env::args_os();
    args.next();
    if args.next().as_deref() != Some(std::ffi::OsStr::new(RUNNER_ARG)) {
        return None;
    }
    let rest: Vec<OsString> = args.collect();
    Some(main(rest))
}

fn main(args: Vec<OsString>) -> std::process::ExitCode {
    let mut it = args.into_iter();
    let (Some(exit_file), Some(grace), Some(command)) = (it.next(), it.next(), it.next()) else {
        eprintln!("{RUNNER_ARG}: expected EXITFILE GRACE_MS COMMAND [ARGS…]");
        return std::process::ExitCode::from(2);
    };
    let grace = Duration::from_millis(
        grace
            .to_str()
            .and_then(|g| g.parse().ok())
            .unwrap_or(10_000),
    );
    let exit_file = PathBuf::from(exit_file);
    let code = match supervise(command, it.collect(), grace) {
        Ok(code) => code,
        Err(e) => {
            // stderr is the unit's stdout: the same place `sh` put "command not found".
            eprintln!("{RUNNER_ARG}: {e}");
            127
        }
    };
    // One small write: a reader sees nothing or all of it.
    let _ = std::fs::write(&exit_file, format!("{code}\n"));
    std::process::ExitCode::SUCCESS
}

enum Event {
    Exited(i32),
    NoChildren,
}

fn supervise(command: OsString, args: Vec<OsString>, grace: Duration) -> std::io::Result<i32> {
    rustix::process::set_child_subreaper(Some(rustix::process::getpid()))?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        use tokio::signal::unix::{signal, SignalKind};
        // Installing the handlers is what keeps the node's SIGINT (sent to the whole group)
        // from killing the runner; the command gets it with default handling (exec resets it).
        let mut int = signal(SignalKind::interrupt())?;
        let mut term = signal(SignalKind::terminate())?;
        let child = std::process::Command::new(&command).args(&args).spawn()?;
        let main_pid = child.id();
        drop(child); // reaped below with every orphan, by `wait` on any child
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        std::thread::spawn(move || reap(main_pid, tx));
        let mut code = None;
        tokio::select! {
            ev = rx.recv() => if let Some(Event::Exited(c)) = ev { code = Some(c) },
            _ = int.recv() => {}
            _ = term.recv() => {}
        }
        if code.is_none() {
            // Canceled: the command has its SIGINT; give it the grace to stop by itself.
            let deadline = tokio::time::sleep(grace);
            tokio::pin!(deadline);
            loop {
                tokio::select! {
                    ev = rx.recv() => match ev {
                        Some(Event::Exited(c)) => { code = Some(c); break }
                        Some(Event::NoChildren) | None => break,
                    },
                    _ = &mut deadline => break,
                    // A second request changes nothing: the grace already runs.
                    _ = int.recv() => {}
                    _ = term.recv() => {}
                }
            }
        }
        // Nothing the command started may outlive it. Kill every descendant, then again for
        // whatever forked meanwhile (its children are re-parented to us, so they are found),
        // until we have no child at all.
        loop {
            kill_descendants(Signal::KILL);
            match tokio::time::timeout(Duration::from_millis(50), rx.recv()).await {
                Ok(Some(Event::Exited(c))) => code = code.or(Some(c)),
                Ok(Some(Event::NoChildren)) | Ok(None) => break,
                Err(_) => {}
            }
        }
        Ok(code.unwrap_or(128 + 9))
    })
}

/// Waits for every child (the command and each orphan re-parented to the runner), reporting
/// the command's status and, at last, that no child is left.
fn reap(main_pid: u32, tx: tokio::sync::mpsc::UnboundedSender<Event>) {
    loop {
        match rustix::process::wait(WaitOptions::empty()) {
            Ok(Some((pid, status))) => {
                if pid.as_raw_nonzero().get() as u32 == main_pid {
                    let code = status
                        .exit_status()
                        .or_else(|| status.terminating_signal().map(|s| 128 + s))
                        .unwrap_or(1);
                    let _ = tx.send(Event::Exited(code));
                }
            }
            Ok(None) => {}
            Err(rustix::io::Errno::INTR) => {}
            Err(_) => {
                let _ = tx.send(Event::NoChildren);
                return;
            }
        }
    }
}

/// Sends `sig` to every live descendant of this process (found through `/proc` by parent
/// PID). Returns how many were signalled.
pub(crate) fn kill_descendants(sig: Signal) -> usize {
    let me = rustix::process::getpid().as_raw_nonzero().get() as u32;
    kill_tree(me, sig, false)
}
