//! End-to-end: the managed execution environment. `rawx serve` runs with no `ansible-runner`
//! on PATH and pip forced offline onto a wheelhouse this file prepares once (the only step
//! that reaches PyPI). A job launched with the real `awx` CLI waits while rawx builds the
//! virtualenv, then runs in it; the environment is listed under `/api/v2/execution_environments/`;
//! a second start reuses it; a build killed with `kill -9` mid-install is resumed by the next
//! start; a build that cannot succeed ends the job in `error` saying what to do.

use rawx_testkit::lab::fixture;
use rawx_testkit::{sh, tail, Opts, Server};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// How long a build may take on a busy 2-core machine (it takes ~10 s when idle).
const BUILD_LIMIT: Duration = Duration::from_secs(300);

/// The pinned wheels (and their dependencies) for this machine's `python3`, downloaded once
/// into a cache under /var/tmp keyed by the pins and the Python version.
fn wheelhouse() -> PathBuf {
    let py =
        sh(Command::new("python3")
            .args(["-c", "import sys; print('%d%d' % sys.version_info[:2])"]));
    let key: String = rawx_ee::PINS
        .join("-")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' {
                c
            } else {
                '-'
            }
        })
        .collect();
    let dir = PathBuf::from(format!("/var/tmp/rawx-ee-wheels-{key}-py{py}"));
    if dir.join(".complete").exists() {
        return dir;
    }
    let tmp = PathBuf::from(format!("{}.tmp-{}", dir.display(), std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    // The test venv's pip (the system Python may have none): same interpreter as python3.
    sh(Command::new(rawx_testkit::venv().join("bin/python"))
        .args([
            "-m",
            "pip",
            "download",
            "--disable-pip-version-check",
            "-q",
            "-d",
        ])
        .arg(&tmp)
        .args(rawx_ee::PINS));
    std::fs::write(tmp.join(".complete"), "").unwrap();
    // Another test process may have won the race: its copy is as good as ours.
    if std::fs::rename(&tmp, &dir).is_err() {
        let _ = std::fs::remove_dir_all(&tmp);
    }
    assert!(
        dir.join(".complete").exists(),
        "no wheelhouse at {}",
        dir.display()
    );
    dir
}

/// PATH without any directory holding an `ansible-runner`.
fn path_without_runner() -> String {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let dirs: Vec<PathBuf> = std::env::split_paths(&path)
        .filter(|d| !d.join("ansible-runner").exists())
        .collect();
    std::env::join_paths(dirs)
        .unwrap()
        .to_string_lossy()
        .into_owned()
}

/// A server with no ansible-runner and pip offline onto `wheels` (plus `extra`).
fn offline_opts(wheels: &Path, extra: &[(&str, &str)]) -> Opts {
    let mut env: Vec<(String, String)> = vec![
        ("PATH".into(), path_without_runner()),
        // Empty counts as unset: the outer environment may name the test venv's runner.
        ("RAWX_ANSIBLE_RUNNER".into(), String::new()),
        ("PIP_NO_INDEX".into(), "1".into()),
        ("PIP_FIND_LINKS".into(), wheels.display().to_string()),
        // A developer's pip.conf must not send pip elsewhere.
        ("PIP_CONFIG_FILE".into(), "/dev/null".into()),
    ];
    env.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    Opts {
        env,
        ..Opts::default()
    }
}

/// The managed environment's directory in a data dir.
fn ee_dir(data: &Path) -> PathBuf {
    data.join("ee").join(rawx_ee::Options::default().key())
}

/// An organization, a local inventory and a template running `demo/hello.yml`; its id.
fn template(s: &Server) -> i64 {
    let f = fixture(
        s,
        "demo",
        &[("hello.yml", rawx_testkit::PLAYBOOK)],
        &["localhost"],
    );
    let jt = s.admin(
        "POST",
        "/api/v2/job_templates/",
        Some(json!({"name": "hello", "project": f.project, "inventory": f.inventory, "playbook": "hello.yml"})),
        201,
    );
    jt["id"].as_i64().unwrap()
}

/// `awx job_templates launch` (no monitor): the new job's id.
fn launch(s: &Server, jt: i64) -> i64 {
    let out = s.awx_json(&["job_templates", "launch", &jt.to_string()]);
    out["id"]
        .as_i64()
        .or_else(|| out["job"].as_i64())
        .unwrap_or_else(|| panic!("no job id in the launch answer: {out}"))
}

fn job(s: &Server, id: i64) -> Value {
    s.admin("GET", &format!("/api/v2/jobs/{id}/"), None, 200)
}

/// Polls a job until it is final; returns it and every (status, explanation) pair seen.
fn follow(s: &Server, id: i64, limit: Duration) -> (Value, Vec<(String, String)>) {
    let deadline = Instant::now() + limit;
    let mut seen: Vec<(String, String)> = Vec::new();
    loop {
        let j = job(s, id);
        let pair = (
            j["status"].as_str().unwrap_or_default().to_string(),
            j["job_explanation"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
        );
        if seen.last() != Some(&pair) {
            seen.push(pair.clone());
        }
        if ["successful", "failed", "error", "canceled"].contains(&pair.0.as_str())
            && j["event_processing_finished"] == json!(true)
        {
            return (j, seen);
        }
        assert!(
            Instant::now() < deadline,
            "job {id} not final within {limit:?}; seen {seen:?}\n--- server\n{}",
            tail(&s.logs(), 6000)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn mtime(p: &Path) -> std::time::SystemTime {
    std::fs::metadata(p)
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
        .modified()
        .unwrap()
}

#[test]
fn a_job_waits_for_the_build_runs_in_it_and_a_restart_reuses_it() {
    let wheels = wheelhouse();
    let opts = offline_opts(&wheels, &[]);
    let s = Server::start_with(opts.clone());
    let dir = ee_dir(&s.data);
    s.wait_logged(
        "will be built when a job first needs it",
        Duration::from_secs(10),
    );
    assert!(!dir.exists(), "nothing is built before a job needs it");

    // Listed before any build, with AWX's default names; the managed one is the virtualenv.
    let ees = s.awx_json(&["execution_environments", "list"]);
    assert_eq!(ees["count"], 2, "{ees}");
    let by_name = |name: &str| -> Value {
        ees["results"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["name"] == name)
            .cloned()
            .unwrap_or_else(|| panic!("no EE {name:?} in {ees}"))
    };
    let cp = by_name("Control Plane Execution Environment");
    assert_eq!(cp["managed"], true, "{cp}");
    assert_eq!(cp["image"], dir.display().to_string(), "{cp}");
    assert_eq!(cp["type"], "execution_environment", "{cp}");
    assert!(
        cp["description"]
            .as_str()
            .unwrap()
            .contains("ansible-core==2.17.7"),
        "{cp}"
    );
    let awx_ee = by_name("AWX EE (latest)");
    assert_eq!(awx_ee["managed"], false, "{awx_ee}");
    assert_eq!(awx_ee["image"], cp["image"]);
    let detail = s.admin(
        "GET",
        &format!("/api/v2/execution_environments/{}/", cp["id"]),
        None,
        200,
    );
    assert_eq!(detail["image"], cp["image"]);
    // The managed one is rawx's: as AWX, only its `pull` changes and it is never deleted.
    s.admin(
        "PATCH",
        &format!("/api/v2/execution_environments/{}/", cp["id"]),
        Some(json!({"image": "quay.io/x"})),
        403,
    );
    s.admin(
        "DELETE",
        &format!("/api/v2/execution_environments/{}/", cp["id"]),
        None,
        403,
    );

    let jt = template(&s);
    let t0 = Instant::now();
    let id = launch(&s, jt);
    let (j, seen) = follow(&s, id, BUILD_LIMIT);
    let first = t0.elapsed();
    assert_eq!(
        j["status"],
        "successful",
        "{j}\nseen {seen:?}\n{}",
        tail(&s.logs(), 6000)
    );
    assert!(
        seen.iter()
            .any(|(st, why)| st == "waiting"
                && why.starts_with("Waiting for the execution environment")),
        "the job never showed that it waits for the environment: {seen:?}"
    );
    assert_eq!(
        j["job_explanation"], "",
        "the wait note is cleared once it runs"
    );
    let out = s.awx_ok(&["jobs", "stdout", &id.to_string()]);
    assert!(out.contains("PLAY [all]"), "{out}");

    let logs = s.logs();
    for step in [
        "creating the virtualenv",
        "installing with pip",
        "managed execution environment ready",
    ] {
        assert!(
            logs.contains(step),
            "the log does not say {step:?}:\n{}",
            tail(&logs, 6000)
        );
    }
    let marker: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("rawx-ee.json")).unwrap()).unwrap();
    assert_eq!(marker["pins"], json!(rawx_ee::PINS));
    assert_eq!(marker["ansible_runner"], "2.4.0", "{marker}");
    assert!(
        marker["ansible_core"].as_str().unwrap().contains("2.17.7"),
        "{marker}"
    );
    let built_at = mtime(&dir.join("rawx-ee.json"));

    // A second start finds it built: no rebuild, and a job runs at once.
    let data = s.stop();
    let s = Server::start_in(data, opts);
    s.wait_logged("already built; not rebuilding", Duration::from_secs(10));
    let t1 = Instant::now();
    let out = s.awx(&["job_templates", "launch", &jt.to_string(), "--monitor"]);
    let second = t1.elapsed();
    assert_eq!(out.code, 0, "{out}\n{}", tail(&s.logs(), 6000));
    let logs = s.logs();
    assert!(
        logs.contains("already built; not rebuilding"),
        "{}",
        tail(&logs, 6000)
    );
    assert!(
        !logs.contains("creating the virtualenv"),
        "{}",
        tail(&logs, 6000)
    );
    assert!(
        !logs.contains("installing with pip"),
        "{}",
        tail(&logs, 6000)
    );
    assert_eq!(
        mtime(&dir.join("rawx-ee.json")),
        built_at,
        "the marker was rewritten"
    );
    println!("first job (with the build): {first:?}; second job (--monitor, built): {second:?}");
}

fn proc_children(pid: u32) -> Vec<u32> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Ok(p) = name.parse::<u32>() else { continue };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{p}/stat")) else {
            continue;
        };
        // "pid (comm) state ppid …": comm may hold spaces, so split after the last ')'.
        let Some((_, rest)) = stat.rsplit_once(')') else {
            continue;
        };
        let ppid: Option<u32> = rest.split_whitespace().nth(1).and_then(|s| s.parse().ok());
        if ppid == Some(pid) {
            out.push(p);
        }
    }
    out
}

/// The `rawx serve` child of this test process serving `data`.
fn server_pid(data: &Path) -> u32 {
    let me = std::process::id();
    let want = data.display().to_string();
    let found: Vec<u32> = proc_children(me)
        .into_iter()
        .filter(|p| {
            let cmd = std::fs::read(format!("/proc/{p}/cmdline")).unwrap_or_default();
            let args: Vec<String> = cmd
                .split(|b| *b == 0)
                .map(|a| String::from_utf8_lossy(a).into_owned())
                .collect();
            args.windows(2)
                .any(|w| w[0] == "--data-dir" && w[1] == want)
        })
        .collect();
    assert_eq!(found.len(), 1, "rawx serve processes on {want}: {found:?}");
    found[0]
}

/// Every descendant of `pid`, children first seen first.
fn descendants(pid: u32) -> Vec<u32> {
    let mut out = Vec::new();
    let mut todo = vec![pid];
    while let Some(p) = todo.pop() {
        for c in proc_children(p) {
            out.push(c);
            todo.push(c);
        }
    }
    out
}

fn signal(sig: &str, pids: &[u32]) {
    for p in pids {
        let _ = Command::new("kill").args([sig, &p.to_string()]).status();
    }
}

/// Packages pip has finished writing into the virtualenv so far (pip itself aside).
fn installed(dir: &Path) -> Vec<String> {
    let Ok(lib) = std::fs::read_dir(dir.join("lib")) else {
        return Vec::new();
    };
    lib.flatten()
        .flat_map(|py| {
            std::fs::read_dir(py.path().join("site-packages"))
                .into_iter()
                .flatten()
        })
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| {
            n.ends_with(".dist-info") && !n.starts_with("pip-") && !n.starts_with("setuptools-")
        })
        .collect()
}

/// `kill -9` of rawx mid-install: its pip lives on, orphaned, holding the build lock, so the
/// next start waits for it instead of building over it; once the orphan is gone too (killed
/// here, its install half written), the next start keeps the virtualenv, resumes the install
/// (rewriting every package, since one may be half written), and jobs run.
#[test]
fn a_build_killed_mid_install_is_resumed_by_the_next_start() {
    // The pip frozen below must survive its server's death (see `adopt_orphans`).
    rawx_testkit::procs::adopt_orphans();
    let wheels = wheelhouse();
    let opts = offline_opts(&wheels, &[]);
    let s = Server::start_with(opts.clone());
    let dir = ee_dir(&s.data);
    let jt = template(&s);
    let doomed = launch(&s, jt);

    // Kill once pip has written some packages but before it is done.
    let deadline = Instant::now() + BUILD_LIMIT;
    while installed(&dir).is_empty() {
        assert!(
            Instant::now() < deadline,
            "pip never started installing\n{}",
            tail(&s.logs(), 6000)
        );
        assert!(
            !dir.join("rawx-ee.json").exists(),
            "the build finished before it could be killed"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let pid = server_pid(&s.data);
    let tree = descendants(pid);
    assert!(
        tree.iter().any(|p| {
            std::fs::read(format!("/proc/{p}/cmdline"))
                .map(|c| String::from_utf8_lossy(&c).contains("pip"))
                .unwrap_or(false)
        }),
        "no pip running under rawx ({tree:?})"
    );
    // `kill -9` of rawx alone leaves its pip running, orphaned. Freeze the orphan first, so
    // that the next start meets it still holding the build lock however fast this machine is.
    signal("-STOP", &tree);
    signal("-KILL", &[pid]);
    let (data, first_logs) = s.stop_with_logs();
    assert!(
        first_logs.contains("installing with pip"),
        "{}",
        tail(&first_logs, 4000)
    );
    assert!(
        !dir.join("rawx-ee.json").exists(),
        "a killed build has no marker"
    );
    let venv_made = mtime(&dir.join("bin/python"));

    // The next start resumes the interrupted build, but first waits for the orphan's lock.
    let s = Server::start_in(data, opts);
    s.wait_logged(
        "another process is building the managed execution environment; waiting for it",
        Duration::from_secs(30),
    );
    std::thread::sleep(Duration::from_secs(1));
    assert!(
        !s.logs().contains("installing with pip"),
        "built while the orphaned installer held the lock:\n{}",
        tail(&s.logs(), 6000)
    );
    // The orphan dies too, its install half written.
    let partial = installed(&dir);
    signal("-KILL", &tree);
    s.wait_logged("managed execution environment ready", BUILD_LIMIT);
    let logs = s.logs();
    assert!(
        logs.contains("was interrupted; resuming it"),
        "{}",
        tail(&logs, 6000)
    );
    assert!(
        !logs.contains("creating the virtualenv"),
        "the virtualenv was made again instead of resumed:\n{}",
        tail(&logs, 6000)
    );
    // pip again over the half-written packages, rewriting each.
    assert!(logs.contains("resuming=true"), "{}", tail(&logs, 6000));
    assert_eq!(mtime(&dir.join("bin/python")), venv_made);

    // The job the kill interrupted had not started: it went back in the queue and runs now;
    // a new one runs too.
    let (j, _) = follow(&s, doomed, BUILD_LIMIT);
    assert_eq!(j["status"], "successful", "{j}\n{}", tail(&s.logs(), 6000));
    assert!(s.logs().contains("requeued a job that had not started"));
    let id = launch(&s, jt);
    let (j, seen) = follow(&s, id, BUILD_LIMIT);
    assert_eq!(
        j["status"],
        "successful",
        "{j}\nseen {seen:?}\n{}",
        tail(&s.logs(), 6000)
    );
    println!(
        "killed after {} packages were installed: {partial:?}",
        partial.len()
    );
}

/// When the build cannot succeed the job ends in `error`, and its explanation says what failed
/// and what to do: a missing interpreter, then pip with nothing to install from.
#[test]
fn a_build_that_cannot_succeed_ends_the_job_in_error_saying_what_to_do() {
    let empty = tempfile::tempdir().unwrap();
    let s = Server::start_with(offline_opts(
        empty.path(),
        &[("RAWX_EE_PYTHON", "/nonexistent/python3")],
    ));
    let jt = template(&s);
    let id = launch(&s, jt);
    let (j, _) = follow(&s, id, Duration::from_secs(60));
    assert_eq!(j["status"], "error", "{j}");
    let why = j["job_explanation"].as_str().unwrap();
    for want in [
        "/nonexistent/python3",
        "RAWX_EE_PYTHON",
        "RAWX_ANSIBLE_RUNNER",
    ] {
        assert!(why.contains(want), "{want} missing from: {why}");
    }
    drop(s);

    let s = Server::start_with(offline_opts(empty.path(), &[]));
    let jt = template(&s);
    let id = launch(&s, jt);
    let (j, _) = follow(&s, id, BUILD_LIMIT);
    assert_eq!(j["status"], "error", "{j}");
    let why = j["job_explanation"].as_str().unwrap();
    for want in [
        "pip could not install",
        "PIP_FIND_LINKS",
        "PIP_NO_INDEX",
        "RAWX_EE_PIP_ARGS",
    ] {
        assert!(why.contains(want), "{want} missing from: {why}");
    }
    // The venv is kept for the next attempt; nothing claims to be complete.
    assert!(ee_dir(&s.data).join("bin/python").exists());
    assert!(!ee_dir(&s.data).join("rawx-ee.json").exists());
}
