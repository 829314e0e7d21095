//! The web UI end to end: a real `rawx serve` (real ansible-runner), driven in real headless
//! Chromium by `tests/ui/e2e.mjs` (playwright-core) — log in, create an organization, an
//! inventory with a host, a project and a template, launch it and watch its output arrive
//! live, cancel a long job, scroll a 100,000-event job to its end, field errors, what a user
//! without rights sees, session expiry. Screenshots and figures go to `ARTIFACTS`
//! (`/var/tmp/rawx-ui-artifacts/`, or `RAWX_UI_ARTIFACTS`).
//!
//! Needs Debian's `chromium` and playwright-core (`scripts/setup-ui-test.sh`, which
//! `scripts/test.sh` runs first). When they cannot be had, `scripts/test.sh` sets
//! `RAWX_SKIP_UI=1` and lists this suite as SKIPPED; without that flag a missing browser fails.

use rawx_model::filter::Filter;
use rawx_model::resources::JOB_EVENTS;
use rawx_model::schema::ColumnType;
use rawx_testkit::lab::{local_vars, Lab};
use rawx_testkit::procs::{kill_group, release_group, spawn_group};
use rawx_testkit::{workspace_root, ADMIN_PW};
use serde_json::{json, Value};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const HELLO: &str = "- hosts: all
  gather_facts: false
  tasks:
    - debug: msg=\"first half {{ item }}\"
      loop: [1, 2, 3]
    - name: pause
      command: sleep 4
    - debug: msg=\"second half {{ item }}\"
      loop: [1, 2, 3]
";
const LONG: &str = "- hosts: all
  gather_facts: false
  tasks:
    - name: sleep
      command: sleep 600
";
const BULK: usize = 100_000;

/// The node process, leading its own process group (the kit's, so a panic kills it too),
/// stopped on drop if it still runs: SIGTERM first (Playwright then closes the browsers it
/// started, which live in sessions of their own), then SIGKILL for the group, before reaping.
struct Node(std::process::Child);
impl Node {
    fn stop(&mut self) {
        if matches!(self.0.try_wait(), Ok(None)) {
            if let Some(pid) = i32::try_from(self.0.id())
                .ok()
                .and_then(rustix::process::Pid::from_raw)
            {
                let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
            }
            let until = Instant::now() + Duration::from_secs(10);
            while matches!(self.0.try_wait(), Ok(None)) && Instant::now() < until {
                std::thread::sleep(Duration::from_millis(100));
            }
            // Only while the leader is unreaped: a reaped leader's group id may be reused.
            if matches!(self.0.try_wait(), Ok(None)) {
                kill_group(self.0.id());
            }
        }
        let _ = self.0.wait();
        release_group(self.0.id());
    }
}
impl Drop for Node {
    fn drop(&mut self) {
        self.stop();
    }
}

fn node_modules() -> Option<String> {
    if std::env::var("RAWX_SKIP_UI").is_ok_and(|v| !v.is_empty() && v != "0") {
        return None;
    }
    let out = Command::new("bash")
        .arg(workspace_root().join("scripts/setup-ui-test.sh"))
        .stderr(Stdio::inherit())
        .output()
        .expect("run scripts/setup-ui-test.sh");
    assert!(
        out.status.success(),
        "scripts/setup-ui-test.sh failed: no Chromium or playwright-core (set RAWX_SKIP_UI=1 to skip, loudly)"
    );
    Some(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// Appends `BULK` events to a finished job, through the store as the ingester writes them
/// (copies of one of its real events, renumbered): a 100,000-event job in seconds, not the
/// many minutes ansible would take to print one. Two plays of 50,000 events, a task every
/// 1,000, so the UI's outline (plays and tasks collapsible) has real boundaries to fold.
fn bulk_events(lab: &Lab, job: i64) -> i64 {
    let url = format!("sqlite://{}", lab.s.data.join("rawx.db").display());
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let store = rawx_store::open(&url)
            .await
            .expect("open the server's store");
        let events = store
            .list_all(
                &JOB_EVENTS,
                &Filter::eq("job", ColumnType::Int, json!(job)),
                &[("counter", false)],
            )
            .await
            .unwrap();
        let last = events
            .iter()
            .filter_map(|e| e["counter"].as_i64())
            .max()
            .unwrap();
        let model = |kind: &str| {
            events
                .iter()
                .find(|e| e["event"] == kind)
                .unwrap_or_else(|| panic!("a {kind} event"))
                .clone()
        };
        let (ok, play, task) = (
            model("runner_on_ok"),
            model("playbook_on_play_start"),
            model("playbook_on_task_start"),
        );
        let mut rows = Vec::with_capacity(5000);
        for i in 1..=BULK as i64 {
            let (mut r, stdout) = if (i - 1) % 50_000 == 0 {
                let k = (i - 1) / 50_000 + 1;
                let mut r = play.clone();
                r.insert("play".into(), json!(format!("bulk play {k}")));
                (r, format!("\r\nPLAY [bulk play {k}] ****\r\n"))
            } else if (i - 1) % 1000 == 0 {
                let k = (i - 1) / 1000 + 1;
                let mut r = task.clone();
                r.insert("task".into(), json!(format!("bulk task {k}")));
                (r, format!("\r\nTASK [bulk task {k}] ****\r\n"))
            } else {
                (
                    ok.clone(),
                    format!("\u{1b}[0;32mok: [localhost] => bulk event {i}\u{1b}[0m"),
                )
            };
            r.remove("id");
            r.insert("counter".into(), json!(last + i));
            r.insert("uuid".into(), json!(format!("bulk-{i}")));
            r.insert("start_line".into(), json!(last + i));
            r.insert("end_line".into(), json!(last + i + 1));
            r.insert("stdout".into(), json!(stdout));
            rows.push(r);
            if rows.len() == 5000 {
                store.insert_many(&JOB_EVENTS, &rows).await.unwrap();
                rows.clear();
            }
        }
        last + BULK as i64
    })
}

#[test]
fn web_ui_in_chromium() {
    let Some(modules) = node_modules() else {
        eprintln!("!!! SKIPPED: web UI browser suite (RAWX_SKIP_UI is set: no Chromium)");
        return;
    };
    let lab = Lab::start();
    let s = &lab.s;
    // The project the UI creates points at this directory (a manual project).
    let dir = s.data.join("projects/uiproject");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("hello.yml"), HELLO).unwrap();
    std::fs::write(dir.join("long.yml"), LONG).unwrap();

    // A finished job, made 100,000 events long.
    let proj = lab.project("bulk", &[("bulk.yml", HELLO)]);
    let inv = lab.inventory("bulk", &[("localhost", local_vars())]);
    let jt = lab.jt("Bulk", proj, inv, "bulk.yml", json!({}));
    let big = lab.launch(jt);
    lab.wait_status(big, "successful");
    let t = Instant::now();
    let total = bulk_events(&lab, big);
    eprintln!("{BULK} events stored in {:?}", t.elapsed());

    s.admin(
        "POST",
        "/api/v2/users/",
        Some(json!({"username": "alice", "password": "alice-pw-1"})),
        201,
    );

    let artifacts = std::env::var("RAWX_UI_ARTIFACTS")
        .unwrap_or_else(|_| "/var/tmp/rawx-ui-artifacts".to_string());
    let script = workspace_root().join("crates/rawx/tests/ui/e2e.mjs");
    let mut cmd = Command::new("node");
    cmd.arg(&script)
        .env("RAWX_UI_NODE_MODULES", &modules)
        .env("BASE", &s.url)
        .env("ADMIN_PW", ADMIN_PW)
        .env("USER", "alice")
        .env("USER_PW", "alice-pw-1")
        .env("PROJECT_DIR", "uiproject")
        .env("BIG_JOB", big.to_string())
        .env("BIG_JOB_EVENTS", total.to_string())
        .env("ARTIFACTS", &artifacts)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = Node(spawn_group(&mut cmd).expect("run node"));
    // Read both pipes as they fill, so a chatty failure cannot stall the browser.
    let reader = |mut r: Box<dyn std::io::Read + Send>| {
        std::thread::spawn(move || {
            let mut s = String::new();
            let _ = r.read_to_string(&mut s);
            s
        })
    };
    let out_t = reader(Box::new(child.0.stdout.take().unwrap()));
    let err_t = reader(Box::new(child.0.stderr.take().unwrap()));
    // The whole walk takes a few minutes; wait up to ten on a loaded machine.
    let deadline = Instant::now() + Duration::from_secs(600);
    while child.0.try_wait().unwrap().is_none() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(200));
    }
    let timed_out = child.0.try_wait().unwrap().is_none();
    child.stop();
    let status = child.0.wait().unwrap();
    let out = out_t.join().unwrap();
    let err = err_t.join().unwrap();
    eprintln!("{out}");
    let logs = s.logs();
    let tail: String = logs
        .chars()
        .skip(logs.chars().count().saturating_sub(4000))
        .collect();
    assert!(
        !timed_out && status.success(),
        "the browser walk failed ({status}, timed out: {timed_out}):\n--- stdout\n{out}\n--- stderr\n{err}\n--- server\n{tail}"
    );
    let figures: Value = out
        .lines()
        .find_map(|l| l.strip_prefix("FIGURES "))
        .map(|f| serde_json::from_str(f).unwrap())
        .expect("the walk prints its figures");
    eprintln!("figures: {figures}");
    assert!(figures["first_load_bytes"].as_u64().unwrap() < 300 * 1024);
}
