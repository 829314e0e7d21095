//! End-to-end: jobs launched through AWX's API and the unmodified `awx` CLI, run by the real
//! `ansible-runner worker` on rawx's in-process node, and read back as a user reads them: how a
//! job runs and how its outcome is reported (failures, ignored errors, unreachable hosts, loops),
//! its command line, on PostgreSQL, and the preload data's demo template.
//!
//! Every playbook here really runs, on local hosts. What the task role decides without ansible
//! (capacity, claims, cancel states, recovery) is tested in process in `rawx-control/tests/`.

use rawx_testkit::lab::*;
use rawx_testkit::plays::*;
use rawx_testkit::{Opts, PgDb, Server, ADMIN_PW};
use serde_json::json;
use std::collections::BTreeSet;
use std::process::Command;
use std::time::Instant;

/// Issue 5's first path, as a user types it: launch with `--monitor`, then look at the job with
/// the CLI and the API.
#[test]
fn a_job_launched_with_monitor_is_inspected_with_the_cli() {
    let lab = Lab::start();
    let s = &lab.s;
    let p = lab.project("hello", &[("hello.yml", HELLO)]);
    let inv = lab.inventory("Lab", &[("localhost", local_vars())]);
    let jt = lab.jt("hello", p, inv, "hello.yml", json!({}));

    let t = Instant::now();
    let out = s.awx(&["job_templates", "launch", "hello", "--monitor"]);
    let took = t.elapsed();
    assert_eq!(out.code, 0, "launch --monitor:\n{out}");
    for want in [
        "PLAY [Hello play]",
        "TASK [Say hello]",
        "Hello from rawx",
        "PLAY RECAP",
    ] {
        assert!(
            out.stdout.contains(want),
            "--monitor did not print {want:?}:\n{out}"
        );
    }
    eprintln!("launch --monitor took {took:?}");

    let list = s.awx_json(&["jobs", "list"]);
    assert_eq!(list["count"], 1, "{list}");
    let id = list["results"][0]["id"].as_i64().unwrap();
    assert_eq!(list["results"][0]["name"], "hello", "{list}");
    assert_eq!(list["results"][0]["job_template"], jt, "{list}");

    let job = s.awx_json(&["jobs", "get", &id.to_string()]);
    assert_eq!(job["status"], "successful", "{job}");
    assert_eq!(job["failed"], false, "{job}");
    assert_eq!(job["event_processing_finished"], true, "{job}");
    assert!(job["elapsed"].as_f64().unwrap_or(0.0) > 0.0, "{job}");
    for f in ["started", "finished", "created"] {
        assert!(
            job[f].as_str().is_some_and(|v| !v.is_empty()),
            "{f} not set: {job}"
        );
    }
    assert!(
        job["started"].as_str() <= job["finished"].as_str(),
        "started after finished: {job}"
    );
    assert_eq!(job["playbook"], "hello.yml");
    assert_eq!(job["launch_type"], "manual");
    let args = job_args(&job);
    assert!(
        args.iter().any(|a| a.contains("ansible-playbook"))
            && args.iter().any(|a| a == "hello.yml"),
        "job_args does not show what ran: {args:?}"
    );

    let stdout = s.awx_ok(&["jobs", "stdout", &id.to_string()]);
    assert!(stdout.contains("Hello from rawx"), "{stdout}");
    assert!(stdout.contains("ok=1"), "no recap in:\n{stdout}");
    assert!(!stdout.contains('\x1b'), "txt stdout kept ANSI: {stdout:?}");

    let ok = lab.events_of(id, "runner_on_ok");
    assert_eq!(ok.len(), 1, "{ok:?}");
    assert_eq!(ok[0]["host_name"], "localhost");
    assert_eq!(ok[0]["task"], "Say hello");
    assert_eq!(ok[0]["play"], "Hello play");
    assert_eq!(ok[0]["failed"], false);
    assert_eq!(
        ok[0]["event_data"]["res"]["msg"], "Hello from rawx",
        "{}",
        ok[0]
    );
    let host_id = ok[0]["host"].as_i64().expect("the event names its host");

    let all = lab.events(id);
    let names: Vec<&str> = all.iter().map(|e| e["event"].as_str().unwrap()).collect();
    assert_eq!(names.first(), Some(&"playbook_on_start"), "{names:?}");
    assert_eq!(names.last(), Some(&"playbook_on_stats"), "{names:?}");
    let counters: Vec<i64> = all.iter().map(|e| e["counter"].as_i64().unwrap()).collect();
    assert_eq!(counters, (1..=all.len() as i64).collect::<Vec<_>>());

    let sums = lab.summaries(id);
    assert_eq!(sums.len(), 1, "{sums:?}");
    let h = &sums["localhost"];
    assert_eq!(
        (
            h["ok"].as_i64(),
            h["changed"].as_i64(),
            h["failures"].as_i64(),
            h["dark"].as_i64()
        ),
        (Some(1), Some(0), Some(0), Some(0)),
        "{h}"
    );
    assert_eq!(h["failed"], false);

    // The host's own view of what ran on it.
    let by_host = lab.all(&format!("/api/v2/hosts/{host_id}/job_events/"));
    assert!(
        by_host
            .iter()
            .any(|e| e["event"] == "runner_on_ok" && e["job"] == id),
        "{by_host:?}"
    );

    // The other stdout formats carry the same text.
    let j = s.admin(
        "GET",
        &format!("/api/v2/jobs/{id}/stdout/?format=json"),
        None,
        200,
    );
    assert!(
        j["content"]
            .as_str()
            .unwrap_or_default()
            .contains("Hello from rawx"),
        "{j}"
    );
    let dl = s.http(
        "GET",
        &format!("/api/v2/jobs/{id}/stdout/?format=txt_download"),
        Some(("admin", ADMIN_PW)),
        None,
    );
    assert_eq!(dl.status, 200);
    assert!(
        dl.header("content-disposition")
            .is_some_and(|v| v.contains(&format!("job_{id}.txt"))),
        "{dl:?}"
    );
    assert_eq!(dl.body.trim_end(), lab.stdout(id).trim_end());
    let adl = s.http(
        "GET",
        &format!("/api/v2/jobs/{id}/stdout/?format=ansi_download"),
        Some(("admin", ADMIN_PW)),
        None,
    );
    assert_eq!(adl.status, 200);
    assert!(
        adl.header("content-disposition")
            .is_some_and(|v| v.contains(&format!("job_{id}.ansi.txt"))),
        "{adl:?}"
    );
    assert!(adl.body.contains("Hello from rawx"), "{adl:?}");
    let html = s.http(
        "GET",
        &format!("/api/v2/jobs/{id}/stdout/?format=html"),
        Some(("admin", ADMIN_PW)),
        None,
    );
    assert_eq!(html.status, 200);
    assert!(
        html.body.contains("<html") && html.body.contains("Hello from rawx"),
        "{html:?}"
    );

    // Relaunch runs the same thing again.
    let re = s.admin(
        "POST",
        &format!("/api/v2/jobs/{id}/relaunch/"),
        Some(json!({})),
        201,
    );
    let rid = re["id"]
        .as_i64()
        .or(re["job"].as_i64())
        .expect("relaunch names the job");
    assert_ne!(rid, id);
    lab.wait_status(rid, "successful");
    assert!(lab.stdout(rid).contains("Hello from rawx"));
    let jobs = s.awx_json(&["jobs", "list"]);
    assert_eq!(jobs["count"], 2, "{jobs}");
}

/// AWX stores `job_args` as a JSON list of the command's words
/// (`job_args=json.dumps(runner_config.command)` in awx/main/tasks/jobs.py).
#[test]
fn job_args_is_a_json_list_as_in_awx() {
    let lab = Lab::start();
    let p = lab.project("hello", &[("hello.yml", HELLO)]);
    let inv = lab.inventory("Lab", &[("localhost", local_vars())]);
    let jt = lab.jt("hello", p, inv, "hello.yml", json!({}));
    let id = lab.launch(jt);
    let job = lab.wait_status(id, "successful");
    let args: Vec<String> = serde_json::from_str(job["job_args"].as_str().unwrap_or_default())
        .unwrap_or_else(|e| panic!("job_args is not a JSON list ({e}): {}", job["job_args"]));
    assert_eq!(
        args.first().map(String::as_str),
        Some("ansible-playbook"),
        "{args:?}"
    );
    assert_eq!(
        args.last().map(String::as_str),
        Some("hello.yml"),
        "{args:?}"
    );
}

const FAIL: &str = "\
- name: Failing play
  hosts: all
  gather_facts: false
  tasks:
    - name: Break
      command: /bin/false
    - name: Never reached
      debug:
        msg: unreachable line
";

const IGNORE: &str = "\
- name: Ignoring play
  hosts: all
  gather_facts: false
  tasks:
    - name: Break but ignore
      command: /bin/false
      ignore_errors: true
    - name: After the break
      debug:
        msg: carried on
";

const PING: &str = "\
- name: Ping play
  hosts: all
  gather_facts: false
  tasks:
    - name: Reach the host
      ping:
";

const LOOP: &str = "\
- name: Loop play
  hosts: all
  gather_facts: false
  tasks:
    - name: Each item
      debug:
        msg: \"item is {{ item }}\"
      loop: [alpha, beta, gamma]
";

const LONG: &str = "\
- name: Long play
  hosts: all
  gather_facts: false
  tasks:
    - name: Say a lot
      debug:
        msg: \"{{ 'x' * 3000 }}\"
";

const MULTI: &str = "\
- name: Multi play
  hosts: all
  gather_facts: false
  tasks:
    - name: Everyone says hi
      debug:
        msg: \"hi from {{ inventory_hostname }}\"
";

/// Success and failure as AWX reports them: failed tasks, `ignore_errors`, unreachable hosts,
/// loops and several hosts.
#[test]
fn failures_ignored_errors_unreachable_hosts_and_loops_are_reported_as_in_awx() {
    let lab = Lab::start();
    let s = &lab.s;
    let p = lab.project(
        "outcomes",
        &[
            ("fail.yml", FAIL),
            ("ignore.yml", IGNORE),
            ("ping.yml", PING),
            ("loop.yml", LOOP),
            ("multi.yml", MULTI),
            ("long.yml", LONG),
        ],
    );
    let one = lab.inventory("One", &[("localhost", local_vars())]);
    let three = lab.inventory(
        "Three",
        &[
            ("h1", local_vars()),
            ("h2", local_vars()),
            ("h3", local_vars()),
        ],
    );
    // Port 1 on loopback refuses connections: a host ansible cannot reach.
    let bad = lab.inventory(
        "Bad",
        &[(
            "ghost",
            json!({"ansible_connection": "ssh", "ansible_host": "127.0.0.1", "ansible_port": 1,
                   "ansible_ssh_common_args": "-o ConnectTimeout=5"}),
        )],
    );
    let jt_fail = lab.jt("failing", p, one, "fail.yml", json!({}));
    let jt_ignore = lab.jt("ignoring", p, one, "ignore.yml", json!({}));
    let jt_unreach = lab.jt("unreachable", p, bad, "ping.yml", json!({}));
    let jt_loop = lab.jt("looping", p, one, "loop.yml", json!({}));
    let jt_multi = lab.jt("multi", p, three, "multi.yml", json!({}));

    // These run while the CLI monitors the failing one.
    let ignore = lab.launch(jt_ignore);
    let unreach = lab.launch(jt_unreach);
    let looping = lab.launch(jt_loop);
    let multi = lab.launch(jt_multi);
    let jt_long = lab.jt("long", p, one, "long.yml", json!({}));
    let long = lab.launch(jt_long);

    let out = s.awx(&["job_templates", "launch", "failing", "--monitor"]);
    assert_eq!(
        out.code, 1,
        "a failed job must make --monitor exit 1:\n{out}"
    );
    assert!(out.stdout.contains("fatal: [localhost]"), "{out}");
    let failing = s.admin(
        "GET",
        &format!("/api/v2/job_templates/{jt_fail}/jobs/"),
        None,
        200,
    )["results"][0]["id"]
        .as_i64()
        .expect("the failing template has a job");
    let job = lab.wait_status(failing, "failed");
    assert_eq!(job["failed"], true);
    assert_eq!(job["event_processing_finished"], true);
    let cli_job = s.awx_json(&["jobs", "get", &failing.to_string()]);
    assert_eq!(cli_job["status"], "failed");
    let failed = lab.events_of(failing, "runner_on_failed");
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert_eq!(failed[0]["failed"], true);
    assert_eq!(failed[0]["task"], "Break");
    assert_eq!(failed[0]["host_name"], "localhost");
    assert!(
        !task_names(&lab.events(failing)).contains(&"Never reached".to_string()),
        "a task after the failure ran"
    );
    assert!(!lab.stdout(failing).contains("unreachable line"));
    let sums = lab.summaries(failing);
    assert_eq!(sums["localhost"]["failures"], 1, "{sums:?}");
    assert_eq!(sums["localhost"]["failed"], true, "{sums:?}");
    let jt = s.admin(
        "GET",
        &format!("/api/v2/job_templates/{jt_fail}/"),
        None,
        200,
    );
    assert_eq!(jt["last_job_failed"], true, "{jt}");

    // ignore_errors: the failure is shown but neither fails the event nor the job.
    lab.wait_status(ignore, "successful");
    let ev = lab.events_of(ignore, "runner_on_failed");
    assert_eq!(ev.len(), 1, "{ev:?}");
    assert_eq!(
        ev[0]["failed"], false,
        "an ignored failure counts as failed: {}",
        ev[0]
    );
    assert_eq!(ev[0]["event_data"]["ignore_errors"], true, "{}", ev[0]);
    assert!(ok_tasks(&lab, ignore).contains("After the break"));
    let text = lab.stdout(ignore);
    assert!(text.contains("...ignoring"), "{text}");
    let sums = lab.summaries(ignore);
    assert_eq!(sums["localhost"]["failures"], 0, "{sums:?}");
    assert_eq!(sums["localhost"]["failed"], false, "{sums:?}");

    // Unreachable: the job fails, the event is failed, the host counts as dark.
    let job = lab.wait_status(unreach, "failed");
    assert_eq!(job["failed"], true);
    let ev = lab.events_of(unreach, "runner_on_unreachable");
    assert_eq!(ev.len(), 1, "{ev:?}");
    assert_eq!(ev[0]["failed"], true);
    assert_eq!(ev[0]["host_name"], "ghost");
    let sums = lab.summaries(unreach);
    assert_eq!(sums["ghost"]["dark"], 1, "{sums:?}");
    assert!(lab.stdout(unreach).contains("UNREACHABLE!"));

    // Loops: one item event per item, in order.
    lab.wait_status(looping, "successful");
    let items = lab.events_of(looping, "runner_item_on_ok");
    let got: Vec<&str> = items
        .iter()
        .map(|e| e["event_data"]["res"]["item"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(got, ["alpha", "beta", "gamma"], "{items:?}");
    let text = lab.stdout(looping);
    for i in ["alpha", "beta", "gamma"] {
        assert!(text.contains(&format!("(item={i})")), "{text}");
    }

    // Several hosts: one summary each.
    lab.wait_status(multi, "successful");
    let sums = lab.summaries(multi);
    assert_eq!(
        sums.keys().map(String::as_str).collect::<Vec<_>>(),
        ["h1", "h2", "h3"],
        "{sums:?}"
    );
    for (h, v) in &sums {
        assert_eq!(v["ok"], 1, "{h}: {v}");
    }
    let hosts: BTreeSet<String> = lab
        .events_of(multi, "runner_on_ok")
        .iter()
        .map(|e| e["host_name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(hosts.len(), 3, "{hosts:?}");
    let counts = &lab.job(multi)["host_status_counts"];
    assert_eq!(counts["ok"], 3, "{counts}");

    // Long output: list views cut an event's stdout to 1024 bytes unless no_truncate is given;
    // the event itself and the stdout keep it all.
    lab.wait_status(long, "successful");
    let cut = lab.events_of(long, "runner_on_ok");
    let cut_len = cut[0]["stdout"].as_str().unwrap_or_default().len();
    assert!(
        cut_len <= 1024,
        "list stdout not truncated ({cut_len} bytes)"
    );
    let full = lab.all(&format!(
        "/api/v2/jobs/{long}/job_events/?event=runner_on_ok&no_truncate=1"
    ));
    let full_stdout = full[0]["stdout"].as_str().unwrap_or_default();
    assert!(full_stdout.contains(&"x".repeat(3000)), "{full_stdout:?}");
    let one_event = s.admin(
        "GET",
        &format!("/api/v2/job_events/{}/", full[0]["id"]),
        None,
        200,
    );
    assert_eq!(one_event["stdout"].as_str(), Some(full_stdout));
    assert!(lab.stdout(long).contains(&"x".repeat(3000)));
}

/// A smoke run on PostgreSQL: the same launch path works on a fresh database.
#[test]
fn a_job_runs_on_postgresql() {
    let Some(db) = PgDb::create("jobs") else {
        return;
    };
    let lab = Lab::start_with(Opts {
        database_url: Some(db.url.clone()),
        ..Opts::default()
    });
    let p = lab.project("hello", &[("hello.yml", HELLO)]);
    let inv = lab.inventory("Lab", &[("localhost", local_vars())]);
    lab.jt("hello", p, inv, "hello.yml", json!({}));
    let out = lab
        .s
        .awx(&["job_templates", "launch", "hello", "--monitor"]);
    assert_eq!(out.code, 0, "{out}");
    assert!(out.stdout.contains("Hello from rawx"), "{out}");
    let list = lab.s.awx_json(&["jobs", "list"]);
    let id = list["results"][0]["id"].as_i64().unwrap();
    let job = lab.wait_status(id, "successful");
    assert_eq!(job["event_processing_finished"], true);
    assert_eq!(lab.events_of(id, "runner_on_ok").len(), 1);
    assert_eq!(lab.summaries(id)["localhost"]["ok"], 1);
    assert!(lab
        .s
        .awx_ok(&["jobs", "stdout", &id.to_string()])
        .contains("Hello from rawx"));

    // A credential's secret is not in a pg_dump after a job that used it.
    let pw = "pg-vault-pw-Hq62Ls";
    let scratch = tempfile::tempdir().unwrap();
    let vars = vault_vars(scratch.path(), "pg_secret", "decrypted-pg-55", pw, None);
    let vp = lab.project(
        "vault",
        &[
            ("vars.yml", &vars),
            ("vault.yml", &vault_play("vars.yml", "pg_secret")),
        ],
    );
    let cred = lab.credential("vault", "Vault", json!({"vault_password": pw}));
    let jt = lab.jt("vault", vp, inv, "vault.yml", json!({}));
    lab.attach(jt, cred);
    let vid = lab.launch(jt);
    lab.wait_status(vid, "successful");
    let dump = Command::new("pg_dump")
        .args([
            "-h",
            "127.0.0.1",
            "-p",
            "5432",
            "-U",
            "postgres",
            "-d",
            &db.name,
        ])
        .output()
        .expect("run pg_dump");
    assert!(
        dump.status.success(),
        "pg_dump failed: {}",
        String::from_utf8_lossy(&dump.stderr)
    );
    assert!(
        contains(&dump.stdout, "decrypted-pg-55"),
        "the pg_dump holds no job output, so the scan proves nothing"
    );
    assert_clean(
        "the pg_dump",
        &dump.stdout,
        &[("vault password".to_string(), pw.to_string())],
    );
    drop(lab);
    drop(db);
}

/// A newcomer's first minute: the preload data's Demo Job Template runs out of the box.
#[test]
fn the_preloaded_demo_job_template_runs() {
    let s = Server::start_with(Opts {
        env: {
            let mut e = runner_env();
            e.push(("RAWX_PRELOAD_DATA".into(), "true".into()));
            e
        },
        ..Opts::default()
    });
    // AWX's Demo Project: git, its GitHub repository, no update made at creation.
    let p =
        s.admin("GET", "/api/v2/projects/?name=Demo%20Project", None, 200)["results"][0].clone();
    assert_eq!(p["scm_type"], "git", "{p}");
    assert_eq!(
        p["scm_url"], "https://github.com/ansible/ansible-tower-samples",
        "{p}"
    );
    let rev = p["scm_revision"].as_str().unwrap_or_default().to_string();
    assert_eq!(rev.len(), 40, "a revision checked out: {p}");
    assert_eq!(
        p["local_path"],
        format!("_{}__demo_project", p["id"]),
        "{p}"
    );
    assert_eq!(
        p["status"], "successful",
        "as AWX makes it (skip_update): {p}"
    );
    let books = s.admin(
        "GET",
        &format!("/api/v2/projects/{}/playbooks/", p["id"]),
        None,
        200,
    );
    assert_eq!(books, json!(["hello_world.yml"]));
    // AWX's preload gives the Default organization the public Galaxy.
    let org = p["organization"].as_i64().unwrap();
    let galaxy = s.admin(
        "GET",
        &format!("/api/v2/organizations/{org}/galaxy_credentials/"),
        None,
        200,
    );
    assert_eq!(rawx_testkit::names(&galaxy), ["Ansible Galaxy"], "{galaxy}");

    // It runs offline (this machine reaches no GitHub): the checkout rawx made.
    let out = s.awx(&["job_templates", "launch", "Demo Job Template", "--monitor"]);
    assert_eq!(out.code, 0, "{out}\n--- server\n{}", tail(&s.logs(), 3000));
    assert!(out.stdout.contains("Hello World!"), "{out}");
    let jobs = s.awx_json(&["jobs", "list"]);
    assert_eq!(jobs["count"], 1, "{jobs}");
    assert_eq!(jobs["results"][0]["status"], "successful", "{jobs}");
    assert_eq!(jobs["results"][0]["scm_revision"], rev.as_str(), "{jobs}");
}
