//! End-to-end: jobs launched through AWX's API and the unmodified `awx` CLI, run by the real
//! `ansible-runner worker` on rawx's in-process node, and read back as a user reads them
//! (`awx jobs get/stdout`, `/job_events/`, `/job_host_summaries/`).
//!
//! Every playbook here really runs. Hosts are local (`ansible_connection: local`) except where a
//! test is about the connection itself: the Machine credential test starts its own unprivileged
//! `sshd` that accepts only one passphrase-protected key. Independent scenarios are separate tests
//! (they run in parallel), and launches inside a test share one server and are started together
//! where the scenario allows, so the file stays fast on a busy machine.

use rawx_testkit::lab::*;

use rawx_testkit::{sh, venv, Opts, PgDb, Server, ADMIN_PW};
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn whoami() -> String {
    let out = Command::new("id").arg("-un").output().expect("run id -un");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn task_names(events: &[Value]) -> Vec<String> {
    events
        .iter()
        .map(|e| e["task"].as_str().unwrap_or_default().to_string())
        .collect()
}

fn ok_tasks(lab: &Lab, id: i64) -> BTreeSet<String> {
    task_names(&lab.events_of(id, "runner_on_ok"))
        .into_iter()
        .collect()
}

const HELLO: &str = "\
- name: Hello play
  hosts: all
  gather_facts: false
  tasks:
    - name: Say hello
      debug:
        msg: Hello from rawx
";

/// Issue 5's first path, as a user types it: launch with `--monitor`, then look at the job with
/// the CLI and the API.
#[test]
fn launch_monitor_and_inspect_with_the_cli() {
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
fn outcomes_failure_ignore_unreachable_loops_several_hosts() {
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

const FIELDS: &str = "\
- name: Fields play
  hosts: all
  gather_facts: false
  vars:
    who: play-default
  tasks:
    - name: setup task
      debug:
        msg: setup ran
      tags: [setup]
    - name: deploy task
      debug:
        msg: deploy ran
      tags: [deploy]
    - name: run a command
      command: echo command-ran
      tags: [cmd]
    - name: show var
      debug:
        msg: \"who={{ who }} keep={{ keep | default('none') }} forks={{ ansible_forks }}\"
      tags: [var]
";

const DIFF: &str = "\
- name: Diff play
  hosts: all
  gather_facts: false
  tasks:
    - name: write a file
      copy:
        content: \"new content\\n\"
        dest: \"{{ out_dir }}/{{ inventory_hostname }}.txt\"
";

const BECOME: &str = "\
- name: Become play
  hosts: all
  gather_facts: false
  tasks:
    - name: who am i
      command: id -un
      register: me
    - name: report
      debug:
        msg: \"user={{ me.stdout }}\"
";

/// Each template field visibly changes what ran.
#[test]
fn template_fields_change_what_ran() {
    let lab = Lab::start();
    let s = &lab.s;
    let scratch = tempfile::tempdir().unwrap();
    let p = lab.project(
        "fields",
        &[
            ("fields.yml", FIELDS),
            ("diff.yml", DIFF),
            ("become.yml", BECOME),
        ],
    );
    // A host variable loses to extra vars in every case below.
    let who_host = json!({"who": "host-var"});
    let inv = lab.inventory(
        "Fields",
        &[
            ("web1", merge(local_vars(), who_host.clone())),
            ("web2", merge(local_vars(), who_host.clone())),
            ("db1", merge(local_vars(), who_host)),
        ],
    );
    let one = lab.inventory("One", &[("localhost", local_vars())]);
    let f = |name: &str, extra: Value| lab.jt(name, p, inv, "fields.yml", extra);
    let jt_prompted = f(
        "prompted",
        json!({"ask_limit_on_launch": true, "ask_tags_on_launch": true}),
    );
    let jt_limit = f("limit", json!({"limit": "db1"}));
    let jt_skip = f("skip", json!({"skip_tags": "deploy,cmd"}));
    let jt_check = f("check", json!({"job_type": "check", "limit": "web1"}));
    let jt_verbose = f("verbose", json!({"verbosity": 3, "limit": "web1"}));
    let jt_forks = f("forks", json!({"forks": 2, "job_tags": "var"}));
    let jt_start = f(
        "start",
        json!({"start_at_task": "run a command", "limit": "web1"}),
    );
    let jt_vars_ask = f(
        "vars-ask",
        json!({"extra_vars": "who: template\nkeep: kept", "ask_variables_on_launch": true,
               "job_tags": "var", "limit": "web1"}),
    );
    let jt_vars_fixed = f(
        "vars-fixed",
        json!({"extra_vars": "{\"who\": \"template\"}", "job_tags": "var", "limit": "web1"}),
    );
    let out_dir = scratch.path().display().to_string();
    let jt_diff = lab.jt(
        "diff",
        p,
        one,
        "diff.yml",
        json!({"diff_mode": true, "extra_vars": json!({"out_dir": out_dir}).to_string()}),
    );
    let jt_nodiff = lab.jt(
        "nodiff",
        p,
        one,
        "diff.yml",
        json!({"extra_vars": json!({"out_dir": format!("{out_dir}/plain")}).to_string()}),
    );
    std::fs::create_dir_all(scratch.path().join("plain")).unwrap();
    // become through `su` to `nobody`: root needs no password for it, and `id -un` shows it.
    let su_vars = json!({"ansible_become_method": "su", "ansible_become_user": "nobody",
                         "ansible_become_flags": "-s /bin/sh", "ansible_pipelining": true});
    // The system Python: `nobody` cannot read the venv's interpreter under /root.
    let su_inv = lab.inventory(
        "Su",
        &[(
            "localhost",
            merge(
                merge(local_vars(), su_vars),
                json!({"ansible_python_interpreter": "/usr/bin/python3"}),
            ),
        )],
    );
    let jt_become = lab.jt(
        "become",
        p,
        su_inv,
        "become.yml",
        json!({"become_enabled": true}),
    );
    let jt_nobecome = lab.jt("nobecome", p, su_inv, "become.yml", json!({}));
    // The same through a Machine credential's become_method and become_username.
    let flags_inv = lab.inventory(
        "SuFlags",
        &[(
            "localhost",
            merge(
                local_vars(),
                json!({"ansible_python_interpreter": "/usr/bin/python3",
                       "ansible_become_flags": "-s /bin/sh", "ansible_pipelining": true}),
            ),
        )],
    );
    let become_cred = lab.credential(
        "become",
        "Machine",
        json!({"username": whoami(), "become_method": "su", "become_username": "nobody"}),
    );
    let jt_become_cred = lab.jt(
        "become-cred",
        p,
        flags_inv,
        "become.yml",
        json!({"become_enabled": true}),
    );
    lab.attach(jt_become_cred, become_cred);

    let limit = lab.launch(jt_limit);
    let skip = lab.launch(jt_skip);
    let check = lab.launch(jt_check);
    let verbose = lab.launch(jt_verbose);
    let forks = lab.launch(jt_forks);
    let start = lab.launch(jt_start);
    let diff = lab.launch(jt_diff);
    let nodiff = lab.launch(jt_nodiff);
    let become_ = lab.launch(jt_become);
    let nobecome = lab.launch(jt_nobecome);
    let become_cred = lab.launch(jt_become_cred);
    let asked = lab.launch_with(jt_vars_ask, json!({"extra_vars": {"who": "launch"}}));
    assert_eq!(asked["ignored_fields"], json!({}), "{asked}");
    let asked = asked["job"].as_i64().unwrap();
    let fixed = lab.launch_with(
        jt_vars_fixed,
        json!({"extra_vars": {"who": "launch"}, "limit": "db1"}),
    );
    assert_eq!(
        fixed["ignored_fields"],
        json!({"extra_vars": {"who": "launch"}, "limit": "db1"}),
        "{fixed}"
    );
    let fixed = fixed["job"].as_i64().unwrap();

    // Prompts through the CLI, as issue 5 shows them.
    let out = s.awx(&[
        "job_templates",
        "launch",
        "prompted",
        "--monitor",
        "--limit",
        "web1",
        "--job_tags",
        "setup",
    ]);
    assert_eq!(out.code, 0, "{out}");
    assert!(out.stdout.contains("setup ran"), "{out}");
    assert!(!out.stdout.contains("deploy ran"), "{out}");
    let prompted = s.admin(
        "GET",
        &format!("/api/v2/job_templates/{jt_prompted}/jobs/"),
        None,
        200,
    )["results"][0]["id"]
        .as_i64()
        .unwrap();
    let job = lab.wait_status(prompted, "successful");
    assert_eq!(
        (job["limit"].as_str(), job["job_tags"].as_str()),
        (Some("web1"), Some("setup"))
    );
    assert_eq!(lab.summaries(prompted).keys().collect::<Vec<_>>(), ["web1"]);
    assert_eq!(
        ok_tasks(&lab, prompted),
        BTreeSet::from(["setup task".to_string()])
    );

    // limit on the template.
    lab.wait_status(limit, "successful");
    assert_eq!(lab.summaries(limit).keys().collect::<Vec<_>>(), ["db1"]);

    // skip_tags.
    lab.wait_status(skip, "successful");
    let ran = ok_tasks(&lab, skip);
    assert!(
        ran.contains("setup task") && ran.contains("show var"),
        "{ran:?}"
    );
    assert!(
        !ran.contains("deploy task") && !ran.contains("run a command"),
        "{ran:?}"
    );
    assert_eq!(lab.summaries(skip).len(), 3);

    // job_type check: the command is not run, only reported as skipped.
    let job = lab.wait_status(check, "successful");
    assert_eq!(job["job_type"], "check");
    assert!(
        job_args(&job).iter().any(|a| a == "--check"),
        "{}",
        job["job_args"]
    );
    let skipped = task_names(&lab.events_of(check, "runner_on_skipped"));
    assert_eq!(
        skipped,
        ["run a command"],
        "in check mode the command must be skipped"
    );
    assert!(!ok_tasks(&lab, check).contains("run a command"));

    // verbosity 3: ansible's connection chatter appears.
    let job = lab.wait_status(verbose, "successful");
    let text = lab.stdout(verbose);
    assert!(text.contains("ESTABLISH LOCAL CONNECTION"), "{text}");
    assert!(
        job_args(&job).iter().any(|a| a == "-vvv"),
        "{}",
        job["job_args"]
    );
    assert!(!lab.stdout(limit).contains("ESTABLISH LOCAL CONNECTION"));
    assert!(!lab.events_of(verbose, "verbose").is_empty());

    // forks: ansible sees the template's value.
    lab.wait_status(forks, "successful");
    assert!(
        lab.stdout(forks).contains("forks=2"),
        "{}",
        lab.stdout(forks)
    );
    assert!(
        lab.stdout(limit).contains("forks=5"),
        "the default is 5: {}",
        lab.stdout(limit)
    );

    // start_at_task.
    lab.wait_status(start, "successful");
    let ran = ok_tasks(&lab, start);
    assert!(
        !ran.contains("setup task") && !ran.contains("deploy task"),
        "{ran:?}"
    );
    assert!(
        ran.contains("run a command") && ran.contains("show var"),
        "{ran:?}"
    );

    // extra vars: launch beats template beats host and play vars when asked; ignored when not.
    lab.wait_status(asked, "successful");
    let text = lab.stdout(asked);
    assert!(text.contains("who=launch keep=kept"), "{text}");
    let job = lab.job(asked);
    let ev: Value = serde_json::from_str(job["extra_vars"].as_str().unwrap()).unwrap();
    assert_eq!(
        (&ev["who"], &ev["keep"]),
        (&json!("launch"), &json!("kept")),
        "{job}"
    );
    lab.wait_status(fixed, "successful");
    let text = lab.stdout(fixed);
    assert!(text.contains("who=template"), "{text}");
    assert_eq!(
        lab.summaries(fixed).keys().collect::<Vec<_>>(),
        ["web1"],
        "limit prompt not ignored"
    );

    // diff_mode: the file change is shown as a diff, and only then.
    lab.wait_status(diff, "successful");
    let text = lab.stdout(diff);
    assert!(text.contains("+new content"), "{text}");
    assert!(text.contains("after"), "{text}");
    lab.wait_status(nodiff, "successful");
    assert!(!lab.stdout(nodiff).contains("+new content"));
    assert!(scratch.path().join("localhost.txt").is_file());

    // become_enabled: the task runs as the become user, and only then.
    let me = whoami();
    let job = lab.wait(become_);
    assert!(
        job_args(&job).iter().any(|a| a == "--become" || a == "-b"),
        "{}",
        job["job_args"]
    );
    lab.wait_status(nobecome, "successful");
    assert!(
        lab.stdout(nobecome).contains(&format!("user={me}")),
        "{}",
        lab.stdout(nobecome)
    );
    let cred_job = lab.wait(become_cred);
    if me == "root" {
        assert_eq!(
            cred_job["status"],
            "successful",
            "{}",
            lab.stdout(become_cred)
        );
        assert!(
            lab.stdout(become_cred).contains("user=nobody"),
            "the credential's become_method/become_username were not used:\n{}",
            lab.stdout(become_cred)
        );
        assert_eq!(job["status"], "successful", "{}", lab.stdout(become_));
        assert!(
            lab.stdout(become_).contains("user=nobody"),
            "{}",
            lab.stdout(become_)
        );
    } else {
        // `su` would need a password; become is then only checked on the command line.
        eprintln!("NOTE: not root, so become (su to nobody) is checked only through job_args");
    }
}

/// An unprivileged `sshd` on a free loopback port that accepts one key, for the current user,
/// and nothing else (no passwords). Killed on drop.
struct Sshd {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
    /// The private key (OpenSSH format, passphrase-protected) and its passphrase.
    key: String,
    passphrase: String,
}

const SSHD: &str = "/usr/sbin/sshd";

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

impl Sshd {
    fn start(passphrase: &str) -> Sshd {
        assert!(
            Path::new(SSHD).is_file(),
            "{SSHD} is missing: the Machine credential test needs Debian's `openssh-server` package \
             (apt-get install -y openssh-server); add it to the machine setup"
        );
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let keygen = |file: &str, pass: &str| {
            sh(Command::new("ssh-keygen")
                .args(["-q", "-t", "ed25519", "-C", "rawx-test", "-N", pass, "-f"])
                .arg(d.join(file)));
        };
        keygen("host_key", "");
        keygen("user_key", passphrase);
        std::fs::copy(d.join("user_key.pub"), d.join("authorized_keys")).unwrap();
        let port = free_port();
        // Running as root, sshd insists on its privilege separation directory, which the
        // package's service unit would create at boot.
        if whoami() == "root" && !Path::new("/run/sshd").is_dir() {
            std::fs::create_dir_all("/run/sshd").expect("create /run/sshd for sshd");
        }
        let config = format!(
            "Port {port}\nListenAddress 127.0.0.1\nHostKey {d}/host_key\nPidFile {d}/sshd.pid\n\
             AuthorizedKeysFile {d}/authorized_keys\nPubkeyAuthentication yes\n\
             PasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\n\
             StrictModes no\nPermitRootLogin prohibit-password\nAllowUsers {user}\n\
             Subsystem sftp internal-sftp\n",
            d = d.display(),
            user = whoami(),
        );
        std::fs::write(d.join("sshd_config"), config).unwrap();
        let log = std::fs::File::create(d.join("sshd.log")).unwrap();
        let child = Command::new(SSHD)
            .args(["-D", "-e", "-f"])
            .arg(d.join("sshd_config"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("spawn sshd");
        let mut sshd = Sshd {
            child,
            port,
            key: std::fs::read_to_string(d.join("user_key")).unwrap(),
            passphrase: passphrase.to_string(),
            dir,
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Ok(Some(st)) = sshd.child.try_wait() {
                panic!("sshd exited ({st}):\n{}", sshd.log());
            }
            assert!(
                Instant::now() < deadline,
                "sshd is not listening:\n{}",
                sshd.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        sshd
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("sshd.log")).unwrap_or_default()
    }

    /// Host variables for a host reached through this sshd.
    fn host_vars(&self) -> Value {
        json!({
            "ansible_connection": "ssh",
            "ansible_host": "127.0.0.1",
            "ansible_port": self.port,
            "ansible_user": whoami(),
            "ansible_python_interpreter": "{{ ansible_playbook_python }}",
            "ansible_ssh_common_args":
                "-o UserKnownHostsFile=/dev/null -o StrictHostKeyChecking=no -o PreferredAuthentications=publickey",
        })
    }

    /// Long runs of the key's body: none of them may be found anywhere after a job.
    fn key_fragments(&self) -> Vec<String> {
        let mut out = Vec::new();
        for line in self.key.lines().filter(|l| !l.starts_with("-----")) {
            for run in line.split(|c: char| !c.is_ascii_alphanumeric()) {
                if run.len() >= 16 {
                    out.push(run.to_string());
                }
            }
        }
        assert!(
            out.len() >= 3,
            "key body too short to check: {:?}",
            self.key
        );
        out
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

const WHO: &str = "\
- name: Remote play
  hosts: all
  gather_facts: false
  tasks:
    - name: who am i over ssh
      command: id -un
";

/// `ansible-vault encrypt_string` output for `value` as variable `name`, as a vars file.
fn vault_vars(dir: &Path, name: &str, value: &str, password: &str, id: Option<&str>) -> String {
    let pw = dir.join(format!("{name}.pw"));
    std::fs::write(&pw, password).unwrap();
    let mut cmd = Command::new(venv().join("bin/ansible-vault"));
    cmd.arg("encrypt_string");
    match id {
        Some(id) => cmd.args(["--vault-id", &format!("{id}@{}", pw.display())]),
        None => cmd.arg("--vault-password-file").arg(&pw),
    };
    let out = sh(cmd.args(["--name", name, value]));
    std::fs::remove_file(&pw).unwrap();
    assert!(out.contains("$ANSIBLE_VAULT;"), "{out}");
    assert!(!out.contains(value));
    out
}

fn vault_play(vars_file: &str, var: &str) -> String {
    format!(
        "- name: Vault play\n  hosts: all\n  gather_facts: false\n  vars_files: [{vars_file}]\n  tasks:\n    - name: show the decrypted value\n      debug:\n        msg: \"plain={{{{ {var} }}}}\"\n"
    )
}

/// Every file under `dir`, recursively.
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            match e.file_type() {
                Ok(t) if t.is_dir() => todo.push(p),
                Ok(t) if t.is_file() => out.push(p),
                _ => {}
            }
        }
    }
    out
}

fn contains(hay: &[u8], needle: &str) -> bool {
    let n = needle.as_bytes();
    !n.is_empty() && hay.windows(n.len()).any(|w| w == n)
}

/// Fails naming where any of `secrets` shows up in `hay`.
fn assert_clean(what: &str, hay: &[u8], secrets: &[(String, String)]) {
    for (name, secret) in secrets {
        assert!(!contains(hay, secret), "the {name} appears in {what}");
    }
}

/// A Machine credential (SSH key with passphrase) and Vault credentials are really used, and
/// afterwards none of the secrets is anywhere a user or an attacker with the data dir could look.
#[test]
fn credentials_are_injected_and_secrets_stay_hidden() {
    let passphrase = "ssh-unlock-Q7zX93w";
    let vault_pw = "vault-pw-Kp29xLq";
    let sshd = Sshd::start(passphrase);
    // Debug logging: "never logged" must hold at the most verbose level too.
    let lab = Lab::start_with(Opts {
        env: vec![("RAWX_LOG".into(), "debug".into())],
        ..Opts::default()
    });
    let scratch = tempfile::tempdir().unwrap();
    let plain_vars = vault_vars(
        scratch.path(),
        "plain_secret",
        "decrypted-plain-77",
        vault_pw,
        None,
    );
    let p = lab.project(
        "creds",
        &[
            ("who.yml", WHO),
            ("plain_vars.yml", &plain_vars),
            (
                "vault_plain.yml",
                &vault_play("plain_vars.yml", "plain_secret"),
            ),
        ],
    );
    let remote = lab.inventory("Remote", &[("sshhost", sshd.host_vars())]);
    let local = lab.inventory("Local", &[("localhost", local_vars())]);

    let machine = lab.credential(
        "key",
        "Machine",
        json!({"username": whoami(), "ssh_key_data": sshd.key, "ssh_key_unlock": passphrase}),
    );
    let vault = lab.credential("vault", "Vault", json!({"vault_password": vault_pw}));
    let shown = s_get(&lab, &format!("/api/v2/credentials/{machine}/"));
    assert_eq!(shown["inputs"]["ssh_key_unlock"], "$encrypted$", "{shown}");
    assert_eq!(shown["inputs"]["ssh_key_data"], "$encrypted$", "{shown}");

    let jt_ssh = lab.jt("ssh", p, remote, "who.yml", json!({}));
    lab.attach(jt_ssh, machine);
    let jt_ssh_bare = lab.jt("ssh-bare", p, remote, "who.yml", json!({}));
    let jt_vault = lab.jt("vault", p, local, "vault_plain.yml", json!({}));
    lab.attach(jt_vault, vault);
    let jt_vault_bare = lab.jt("vault-bare", p, local, "vault_plain.yml", json!({}));

    // Without the credential first, so no earlier connection to the sshd exists.
    let v1 = lab.launch(jt_vault);
    let v3 = lab.launch(jt_vault_bare);
    let bare = lab.launch(jt_ssh_bare);
    let job = lab.wait_status(bare, "failed");
    let ev = lab.events_of(bare, "runner_on_unreachable");
    assert_eq!(
        ev.len(),
        1,
        "without the key the host must be unreachable: {job}"
    );
    assert_eq!(ev[0]["failed"], true);

    let out = lab.s.awx(&["job_templates", "launch", "ssh", "--monitor"]);
    assert_eq!(
        out.code,
        0,
        "launch ssh --monitor:\n{out}\n--- sshd\n{}",
        sshd.log()
    );
    let ssh_job = lab.all(&format!("/api/v2/job_templates/{jt_ssh}/jobs/"))[0]["id"]
        .as_i64()
        .unwrap();
    let job = lab.wait_status(ssh_job, "successful");
    let ok = lab.events_of(ssh_job, "runner_on_ok");
    assert_eq!(ok.len(), 1, "{ok:?}");
    assert_eq!(ok[0]["event_data"]["res"]["stdout"], whoami(), "{}", ok[0]);
    assert!(
        sshd.log().contains("Accepted publickey for"),
        "the job did not log in through the test's sshd:\n{}",
        sshd.log()
    );
    assert!(
        job_args(&job)
            .iter()
            // With an SSH key the runner wraps the command in `ssh-agent sh -c "…"`.
            .any(|a| a == "-u" || a.starts_with("--user") || a.contains(" -u ")),
        "the credential's username is not on the command line: {}",
        job["job_args"]
    );

    lab.wait_status(v1, "successful");
    assert!(
        lab.stdout(v1).contains("plain=decrypted-plain-77"),
        "{}",
        lab.stdout(v1)
    );
    let job = lab.wait(v3);
    assert_ne!(
        job["status"], "successful",
        "decrypted without a vault password: {job}"
    );
    assert!(
        lab.stdout(v3).to_lowercase().contains("vault"),
        "{}",
        lab.stdout(v3)
    );

    // Secrets nowhere.
    let mut secrets = vec![
        ("ssh key passphrase".to_string(), passphrase.to_string()),
        ("vault password".to_string(), vault_pw.to_string()),
    ];
    for f in sshd.key_fragments() {
        secrets.push(("private key body".to_string(), f));
    }
    for id in [bare, ssh_job, v1, v3] {
        for format in ["txt", "ansi", "json", "txt_download"] {
            let r = lab.s.http(
                "GET",
                &format!("/api/v2/jobs/{id}/stdout/?format={format}"),
                Some(("admin", ADMIN_PW)),
                None,
            );
            assert_eq!(r.status, 200, "{r:?}");
            assert_clean(
                &format!("job {id}'s stdout ({format})"),
                r.body.as_bytes(),
                &secrets,
            );
        }
        let cli = lab.s.awx_ok(&["jobs", "stdout", &id.to_string()]);
        assert_clean(&format!("awx jobs stdout {id}"), cli.as_bytes(), &secrets);
        let events = Value::Array(lab.events(id)).to_string();
        assert_clean(&format!("job {id}'s events"), events.as_bytes(), &secrets);
        let job = lab.job(id);
        assert_clean(
            &format!("job {id}'s job_args"),
            job["job_args"].to_string().as_bytes(),
            &secrets,
        );
        assert_clean(
            &format!("job {id}'s job_env"),
            job["job_env"].to_string().as_bytes(),
            &secrets,
        );
        assert_clean(&format!("job {id}"), job.to_string().as_bytes(), &secrets);
    }
    let data = lab.s.data.clone();
    let (dir, logs) = lab.s.stop_with_logs();
    assert!(
        logs.contains("DEBUG") || logs.contains("debug"),
        "RAWX_LOG=debug did not log at debug level"
    );
    assert_clean("rawx's stdout/stderr", logs.as_bytes(), &secrets);
    let mut db = Vec::new();
    for e in std::fs::read_dir(dir.path()).unwrap().flatten() {
        if e.file_name().to_string_lossy().starts_with("rawx.db") {
            db.extend(std::fs::read(e.path()).unwrap());
        }
    }
    // Proves the scan sees stored job output at all.
    assert!(
        contains(&db, "decrypted-plain-77"),
        "the database scan found no job output"
    );
    assert_clean("the SQLite database", &db, &secrets);
    // The work units were released: no transmit stream (which carries the secrets, zipped)
    // stays on the node.
    let units: Vec<PathBuf> = files_under(&data.join("receptor"))
        .into_iter()
        .filter(|f| f.file_name().is_some_and(|n| n == "stdin"))
        .collect();
    assert!(
        units.is_empty(),
        "work units left with their input: {units:?}"
    );
    for sub in ["receptor", "jobs"] {
        for f in files_under(&data.join(sub)) {
            let bytes = std::fs::read(&f).unwrap_or_default();
            assert_clean(&f.display().to_string(), &bytes, &secrets);
        }
    }
    let left: Vec<PathBuf> = files_under(&data.join("jobs"));
    assert!(
        left.is_empty(),
        "the jobs' private data dirs were not removed: {left:?}"
    );
    drop(dir);
}

fn s_get(lab: &Lab, path: &str) -> Value {
    lab.s.admin("GET", path, None, 200)
}

/// A Vault credential with a `vault_id` decrypts what was encrypted under that id, and its
/// password stays out of the job's output.
#[test]
fn vault_credential_with_a_vault_id() {
    let pw = "vault-prod-Mn48vRt";
    let lab = Lab::start();
    let scratch = tempfile::tempdir().unwrap();
    let vars = vault_vars(
        scratch.path(),
        "prod_secret",
        "decrypted-prod-88",
        pw,
        Some("prod"),
    );
    let p = lab.project(
        "vault",
        &[
            ("prod_vars.yml", &vars),
            (
                "vault_prod.yml",
                &vault_play("prod_vars.yml", "prod_secret"),
            ),
        ],
    );
    let inv = lab.inventory("Local", &[("localhost", local_vars())]);
    let cred = lab.credential(
        "vault-prod",
        "Vault",
        json!({"vault_password": pw, "vault_id": "prod"}),
    );
    let jt = lab.jt("vault-prod", p, inv, "vault_prod.yml", json!({}));
    lab.attach(jt, cred);
    let id = lab.launch(jt);
    let job = lab.wait_status(id, "successful");
    let text = lab.stdout(id);
    assert!(text.contains("plain=decrypted-prod-88"), "{text}");
    let secrets = [("vault password".to_string(), pw.to_string())];
    assert_clean("the job", job.to_string().as_bytes(), &secrets);
    assert_clean("the stdout", text.as_bytes(), &secrets);
    assert_clean(
        "the events",
        Value::Array(lab.events(id)).to_string().as_bytes(),
        &secrets,
    );
}

/// A job without credentials must not ride on an SSH connection an earlier job opened with
/// someone's key. AWX gives every job its own `ANSIBLE_SSH_CONTROL_PATH_DIR` in the private data
/// dir; a shared one lets ansible's `ControlPersist` master (60 s) serve the next job.
#[test]
fn ssh_connections_are_not_shared_between_jobs() {
    let sshd = Sshd::start("cp-unlock-Zr81pQ");
    let lab = Lab::start();
    let p = lab.project("cp", &[("who.yml", WHO)]);
    let remote = lab.inventory("Remote", &[("sshhost", sshd.host_vars())]);
    let machine = lab.credential(
        "key",
        "Machine",
        json!({"username": whoami(), "ssh_key_data": sshd.key, "ssh_key_unlock": sshd.passphrase}),
    );
    let jt_key = lab.jt("with-key", p, remote, "who.yml", json!({}));
    lab.attach(jt_key, machine);
    let jt_bare = lab.jt("no-key", p, remote, "who.yml", json!({}));
    let with = lab.launch(jt_key);
    lab.wait_status(with, "successful");
    let without = lab.launch(jt_bare);
    let job = lab.wait(without);
    assert_eq!(
        job["status"],
        "failed",
        "a job without the key reached the host through the previous job's connection:\n{}",
        lab.stdout(without)
    );
}

const COMPARE: &str = "\
- name: Compare play
  hosts: all
  gather_facts: false
  tasks:
    - name: say something
      debug:
        msg: \"hello {{ inventory_hostname }}\"
    - name: change something
      command: echo changed
    - name: never on c2
      debug:
        msg: only c1
      when: inventory_hostname == 'c1'
    - name: loop over items
      debug:
        msg: \"{{ item }}\"
      loop: [one, two]
    - name: fail on c2 but go on
      command: /bin/false
      when: inventory_hostname == 'c2'
      ignore_errors: true
- name: Second play
  hosts: c1
  gather_facts: false
  tasks:
    - name: last words
      debug:
        msg: bye
";

fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            if chars.peek() == Some(&'[') {
                chars.next();
                for c in chars.by_ref() {
                    if c.is_ascii_alphabetic() {
                        break;
                    }
                }
            }
            continue;
        }
        out.push(c);
    }
    out
}

/// Blanks the values ansible prints that differ from run to run (`"start": "2026-…"`,
/// `"end"`, `"delta"`).
fn blank_times(s: &str) -> String {
    let mut out = s.to_string();
    for key in ["\"start\": \"", "\"end\": \"", "\"delta\": \""] {
        let mut from = 0;
        while let Some(i) = out[from..].find(key) {
            let v = from + i + key.len();
            let Some(len) = out[v..].find('"') else { break };
            out.replace_range(v..v + len, "T");
            from = v + 1;
        }
    }
    out
}

/// What an event sequence says, without timestamps, uuids and durations.
fn event_key(e: &Value) -> String {
    let d = &e["event_data"];
    format!(
        "{} host={} play={} task={} stdout={}",
        e["event"].as_str().unwrap_or_default(),
        d["host"]
            .as_str()
            .or(e["host_name"].as_str())
            .unwrap_or_default(),
        d["play"].as_str().unwrap_or_default(),
        d["task"].as_str().unwrap_or_default(),
        blank_times(&strip_ansi(e["stdout"].as_str().unwrap_or_default())).trim_end(),
    )
}

/// rawx's stored events and `stdout?format=txt` are what a bare `ansible-runner run` of the same
/// playbook and inventory produces.
#[test]
fn events_and_stdout_match_a_bare_ansible_runner_run() {
    let lab = Lab::start();
    let p = lab.project("compare", &[("play.yml", COMPARE)]);
    let inv = lab.inventory("Compare", &[("c1", local_vars()), ("c2", local_vars())]);
    // One fork: the event order is then deterministic on both sides.
    let jt = lab.jt("compare", p, inv, "play.yml", json!({"forks": 1}));
    let id = lab.launch(jt);

    let bare = tempfile::tempdir().unwrap();
    let b = bare.path();
    std::fs::create_dir_all(b.join("project")).unwrap();
    std::fs::create_dir_all(b.join("inventory")).unwrap();
    std::fs::create_dir_all(b.join("env")).unwrap();
    std::fs::write(b.join("project/play.yml"), COMPARE).unwrap();
    let hosts = json!({"all": {"hosts": {"c1": local_vars(), "c2": local_vars()}}});
    std::fs::write(b.join("inventory/hosts.json"), hosts.to_string()).unwrap();
    std::fs::write(b.join("env/cmdline"), "--forks 1").unwrap();
    let out = Command::new(venv().join("bin/ansible-runner"))
        .arg("run")
        .arg(b)
        .args(["-p", "play.yml", "--ident", "bare"])
        .env("ANSIBLE_FORCE_COLOR", "True")
        .env(
            "PATH",
            format!(
                "{}:{}",
                venv().join("bin").display(),
                std::env::var("PATH").unwrap_or_default()
            ),
        )
        .env_remove("NO_COLOR")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let bare_stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "bare ansible-runner run failed:\n{bare_stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut bare_events: Vec<Value> = std::fs::read_dir(b.join("artifacts/bare/job_events"))
        .unwrap()
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "json"))
        .map(|e| serde_json::from_slice(&std::fs::read(e.path()).unwrap()).unwrap())
        .collect();
    bare_events.sort_by_key(|e| e["counter"].as_i64().unwrap_or_default());
    let bare_text = std::fs::read_to_string(b.join("artifacts/bare/stdout")).unwrap();

    lab.wait_status(id, "successful");
    let ours = lab.events(id);
    // Ansible interleaves events of different hosts as its workers report (a host's
    // `runner_on_start` may overtake the previous host's queued item results), so the order
    // compared is each host's own sequence, and the sequence of events that print something.
    let per_host = |evs: &[Value]| {
        let mut m: std::collections::BTreeMap<String, Vec<String>> = Default::default();
        for e in evs {
            let host = e["event_data"]["host"]
                .as_str()
                .or(e["host_name"].as_str())
                .unwrap_or_default();
            m.entry(host.to_string()).or_default().push(event_key(e));
        }
        m
    };
    assert_eq!(
        per_host(&ours),
        per_host(&bare_events),
        "each host's events differ from the bare run"
    );
    let printing = |evs: &[Value]| -> Vec<String> {
        evs.iter()
            .filter(|e| !e["stdout"].as_str().unwrap_or_default().is_empty())
            .map(event_key)
            .collect()
    };
    let ours_keys = printing(&ours);
    let bare_keys = printing(&bare_events);
    if ours_keys != bare_keys {
        let diff: Vec<String> = ours_keys
            .iter()
            .zip(bare_keys.iter())
            .enumerate()
            .filter(|(_, (a, b))| a != b)
            .take(5)
            .map(|(i, (a, b))| format!("#{i}\n  rawx: {a}\n  bare: {b}"))
            .collect();
        panic!(
            "events differ ({} rawx, {} bare):\n{}\n--- rawx\n{}\n--- bare\n{}",
            ours_keys.len(),
            bare_keys.len(),
            diff.join("\n"),
            ours_keys.join("\n"),
            bare_keys.join("\n")
        );
    }
    // Counters and line numbers are AWX's: 1.., and lines that tile the stdout.
    let counters: Vec<i64> = ours
        .iter()
        .map(|e| e["counter"].as_i64().unwrap())
        .collect();
    assert_eq!(counters, (1..=ours.len() as i64).collect::<Vec<_>>());
    let mut line = 0;
    for e in &ours {
        assert_eq!(e["start_line"].as_i64(), Some(line), "{e}");
        line = e["end_line"].as_i64().unwrap();
    }
    let bare_changed: std::collections::HashMap<String, bool> = bare_events
        .iter()
        .map(|b| {
            (
                event_key(b),
                b["event_data"]["res"]["changed"] == json!(true),
            )
        })
        .collect();
    for o in &ours {
        assert_eq!(o["failed"], json!(false), "{o}");
        if o["event"] == "runner_on_ok" {
            assert_eq!(
                Some(&o["changed"].as_bool().unwrap_or(false)),
                bare_changed.get(&event_key(o)),
                "{o}"
            );
        }
    }

    let txt = lab.stdout(id);
    let norm = |s: &str| -> String {
        blank_times(&strip_ansi(s))
            .replace("\r\n", "\n")
            .lines()
            .map(str::trim_end)
            .collect::<Vec<_>>()
            .join("\n")
            .trim()
            .to_string()
    };
    assert_eq!(
        norm(&txt),
        norm(&bare_text),
        "stdout?format=txt differs from the bare run"
    );
    let ansi = lab.s.http(
        "GET",
        &format!("/api/v2/jobs/{id}/stdout/?format=ansi"),
        Some(("admin", ADMIN_PW)),
        None,
    );
    assert!(
        ansi.body.contains('\x1b'),
        "ansi stdout has no colour: {:?}",
        ansi.body
    );
    assert_eq!(norm(&ansi.body), norm(&bare_text));
}

const PAUSE: &str = "\
- name: Long play
  hosts: all
  gather_facts: false
  tasks:
    - name: wait a long time
      pause:
        seconds: 60
";

/// Cancel: a running job stops within seconds, ends `canceled` with its events stored, and can
/// no longer be canceled. Nothing of the playbook keeps running.
#[test]
fn cancel_a_running_job() {
    let lab = Lab::start();
    let s = &lab.s;
    let p = lab.project("slow", &[("pause.yml", PAUSE)]);
    let inv = lab.inventory("One", &[("localhost", local_vars())]);
    let jt = lab.jt("slow", p, inv, "pause.yml", json!({}));
    // The template's timeout ends a job the same way, as a failure that says why.
    let jt_timeout = lab.jt("short", p, inv, "pause.yml", json!({"timeout": 3}));
    let timed = lab.launch(jt_timeout);
    let id = lab.launch(jt);
    let path = format!("/api/v2/jobs/{id}/cancel/");
    assert_eq!(
        s.admin("GET", &path, None, 200),
        json!({"can_cancel": true})
    );

    // Wait until the pause task really runs.
    let deadline = Instant::now() + Duration::from_secs(60);
    while !lab
        .events_of(id, "playbook_on_task_start")
        .iter()
        .any(|e| e["task"] == "wait a long time")
    {
        assert!(
            Instant::now() < deadline,
            "the pause task never started: {}",
            lab.job(id)
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(lab.job(id)["status"], "running");
    let del = s.http(
        "DELETE",
        &format!("/api/v2/jobs/{id}/"),
        Some(("admin", ADMIN_PW)),
        None,
    );
    assert_eq!(del.status, 403, "deleting a running job: {del:?}");
    assert_eq!(
        del.json()["detail"],
        "Cannot delete running job resource.",
        "{del:?}"
    );

    let t = Instant::now();
    // awxkit 24.6.1 has no `awx jobs cancel`: this is the request AWX's UI and the collection
    // send.
    let r = s.http("POST", &path, Some(("admin", ADMIN_PW)), None);
    assert_eq!(r.status, 202, "{r:?}");
    assert!(
        r.body.trim().is_empty(),
        "cancel answers an empty body: {r:?}"
    );
    let job = lab.wait_for(id, Duration::from_secs(15));
    let took = t.elapsed();
    eprintln!("cancel took {took:?}");
    assert_eq!(job["status"], "canceled", "{job}");
    assert_eq!(job["failed"], true, "{job}");
    assert_eq!(job["event_processing_finished"], true, "{job}");
    assert!(
        job["finished"].as_str().is_some_and(|f| !f.is_empty()),
        "{job}"
    );
    assert!(
        job["elapsed"].as_f64().unwrap_or(100.0) < 40.0,
        "the pause was not cut short: {job}"
    );
    assert_eq!(
        s.admin("GET", &path, None, 200),
        json!({"can_cancel": false})
    );
    let again = s.http("POST", &path, Some(("admin", ADMIN_PW)), None);
    assert_eq!(again.status, 405, "{again:?}");
    let cli = s.awx_json(&["jobs", "get", &id.to_string()]);
    assert_eq!(cli["status"], "canceled");

    // No process of this job is left: its playbook path is unique to this server's data dir.
    let marker = s.data.display().to_string();
    std::thread::sleep(Duration::from_millis(500));
    let mut left = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let pid = e.file_name().to_string_lossy().into_owned();
        if !pid.chars().all(|c| c.is_ascii_digit()) {
            continue;
        }
        let Ok(cmd) = std::fs::read(e.path().join("cmdline")) else {
            continue;
        };
        let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
        if cmd.contains(&marker) && !cmd.contains("rawx serve") && !cmd.contains(" serve ") {
            left.push(format!("{pid}: {cmd}"));
        }
    }
    assert!(
        left.is_empty(),
        "processes of the canceled job still run:\n{}",
        left.join("\n")
    );

    let job = lab.wait_for(timed, Duration::from_secs(60));
    assert_eq!(job["status"], "failed", "{job}");
    assert_eq!(job["event_processing_finished"], true, "{job}");
    assert!(
        job["job_explanation"]
            .as_str()
            .unwrap_or_default()
            .contains("timeout"),
        "the explanation does not say the job timed out: {job}"
    );
    assert!(
        job["elapsed"].as_f64().unwrap_or(100.0) < 40.0,
        "the timeout did not cut the pause short: {job}"
    );
}

/// A cancel sent within 50 ms of the launch — while the job is pending, being claimed, or its
/// unit being submitted, before the worker has read its input — still ends the job `canceled`
/// and leaves nothing of it running.
#[test]
fn cancel_right_after_launch() {
    let lab = Lab::start();
    let s = &lab.s;
    let p = lab.project("slow", &[("pause.yml", PAUSE)]);
    let inv = lab.inventory("One", &[("localhost", local_vars())]);
    let jt = lab.jt(
        "slow",
        p,
        inv,
        "pause.yml",
        json!({"allow_simultaneous": true}),
    );
    let mut ids = Vec::new();
    for delay_ms in [0u64, 5, 15, 30, 50] {
        let id = lab.launch(jt);
        std::thread::sleep(Duration::from_millis(delay_ms));
        let r = s.http(
            "POST",
            &format!("/api/v2/jobs/{id}/cancel/"),
            Some(("admin", ADMIN_PW)),
            None,
        );
        assert_eq!(r.status, 202, "cancel {delay_ms} ms after launch: {r:?}");
        ids.push((delay_ms, id));
    }
    for (delay_ms, id) in ids {
        let job = lab.wait_for(id, Duration::from_secs(30));
        assert_eq!(
            job["status"], "canceled",
            "cancel {delay_ms} ms after launch: {job}"
        );
        assert_eq!(job["event_processing_finished"], true, "{job}");
    }
    std::thread::sleep(Duration::from_millis(500));
    let marker = s.data.display().to_string();
    let left: Vec<String> = std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| std::fs::read(e.path().join("cmdline")).ok())
        .map(|c| String::from_utf8_lossy(&c).replace('\0', " "))
        .filter(|c| c.contains(&marker) && !c.contains(" serve"))
        .collect();
    assert!(
        left.is_empty(),
        "processes of canceled jobs still run: {left:#?}"
    );
}

/// A smoke run on PostgreSQL: the same launch path works on a fresh database.
#[test]
fn launch_on_postgresql() {
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
fn preload_demo_job_template_runs() {
    let s = Server::start_with(Opts {
        env: {
            let mut e = runner_env();
            e.push(("RAWX_PRELOAD_DATA".into(), "true".into()));
            e
        },
        ..Opts::default()
    });
    let out = s.awx(&["job_templates", "launch", "Demo Job Template", "--monitor"]);
    assert_eq!(out.code, 0, "{out}\n--- server\n{}", tail(&s.logs(), 3000));
    assert!(out.stdout.contains("Hello World!"), "{out}");
    let jobs = s.awx_json(&["jobs", "list"]);
    assert_eq!(jobs["count"], 1, "{jobs}");
    assert_eq!(jobs["results"][0]["status"], "successful", "{jobs}");
}

/// `job_env` is masked as AWX's `build_safe_env` masks it: names matching
/// `API|TOKEN|KEY|SECRET|PASS` hidden, `ANSIBLE_*` shown as is, and a password inside a URL
/// replaced. rawx runs jobs with its own environment, so whatever the service was started with
/// ends up stored in every job.
#[test]
fn job_env_is_masked_like_awx() {
    let lab = Lab::start_with(Opts {
        env: vec![
            (
                "CORP_MIRROR_URL".into(),
                "https://deploy:mirror-pw-Xy12@mirror.example/simple".into(),
            ),
            ("SMTP_PASS".into(), "smtp-pass-Vb71".into()),
            ("VENDOR_API".into(), "vendor-api-Lk55".into()),
        ],
        ..Opts::default()
    });
    let p = lab.project("hello", &[("hello.yml", HELLO)]);
    let inv = lab.inventory("Lab", &[("localhost", local_vars())]);
    let jt = lab.jt("hello", p, inv, "hello.yml", json!({}));
    let id = lab.launch(jt);
    let job = lab.wait_status(id, "successful");
    let env = &job["job_env"];
    let want = [
        ("ANSIBLE_HOST_KEY_CHECKING", "False"),
        ("SMTP_PASS", "**********"),
        ("VENDOR_API", "**********"),
        (
            "CORP_MIRROR_URL",
            "https://deploy:**********@mirror.example/simple",
        ),
    ];
    let wrong: Vec<String> = want
        .iter()
        .filter(|(k, v)| env[*k] != *v)
        .map(|(k, v)| format!("{k}: want {v:?}, got {}", env[*k]))
        .collect();
    assert!(
        wrong.is_empty(),
        "job_env differs from AWX's masking:\n{}",
        wrong.join("\n")
    );
}

/// AWX refuses a Machine credential whose key cannot work: an encrypted key without
/// `ssh_key_unlock` ("must be set when SSH key is encrypted.") and data that is no key at all.
/// Accepted, such a key makes the job hang: `ssh-add` waits for a passphrase nobody types.
#[test]
fn machine_credential_keys_are_validated_like_awx() {
    let lab = Lab::start();
    let dir = tempfile::tempdir().unwrap();
    sh(Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "some-passphrase", "-f"])
        .arg(dir.path().join("k")));
    let key = std::fs::read_to_string(dir.path().join("k")).unwrap();
    let ct = lab
        .s
        .admin("GET", "/api/v2/credential_types/?name=Machine", None, 200)["results"][0]["id"]
        .clone();
    for (inputs, field) in [
        (
            json!({"username": "u", "ssh_key_data": key}),
            "ssh_key_unlock",
        ),
        (
            json!({"username": "u", "ssh_key_data": "not a key"}),
            "ssh_key_data",
        ),
    ] {
        let r = lab.s.http(
            "POST",
            "/api/v2/credentials/",
            Some(("admin", ADMIN_PW)),
            Some(&json!({"name": field, "organization": lab.org["id"], "credential_type": ct, "inputs": inputs})),
        );
        assert_eq!(r.status, 400, "{field}: {r:?}");
        assert!(
            r.json()["inputs"][field].is_array(),
            "the error is not keyed by inputs.{field}: {r:?}"
        );
    }
}

/// A stand-in for `ansible-runner` that reads its input, then writes `lines` of a real worker
/// capture with a Python warning after the 6th line, then stops there.
fn replaying_runner(dir: &Path, lines: usize) -> PathBuf {
    let sample = rawx_testkit::workspace_root().join("crates/rawx-runner/tests/data/worker.out");
    assert!(sample.is_file(), "{} is missing", sample.display());
    let script = dir.join("runner");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\ncat > /dev/null\nhead -n 6 '{s}'\necho '/usr/lib/python3/dist-packages/x.py:9: DeprecationWarning: old API'\nsed -n '7,{lines}p' '{s}'\n",
            s = sample.display()
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    script
}

/// What the worker prints that is not JSON is kept as a `verbose` event in its place; a result
/// stream that stops before its final status and `eof` ends the job in `error` naming the
/// break, keeping every event that came before it.
#[test]
fn stray_lines_are_kept_and_a_broken_stream_is_explained() {
    let dir = tempfile::tempdir().unwrap();
    for (lines, complete) in [(40, true), (9, false)] {
        let runner = replaying_runner(dir.path(), lines);
        let lab = Lab::start_with(Opts {
            env: vec![("RAWX_ANSIBLE_RUNNER".into(), runner.display().to_string())],
            ..Opts::default()
        });
        let p = lab.project("p", &[("site.yml", HELLO)]);
        let inv = lab.inventory("One", &[("localhost", local_vars())]);
        let jt = lab.jt("replay", p, inv, "site.yml", json!({}));
        let id = lab.launch(jt);
        let job = lab.wait_for(id, Duration::from_secs(60));
        let evs = lab.events(id);
        let counters: Vec<i64> = evs.iter().map(|e| e["counter"].as_i64().unwrap()).collect();
        assert_eq!(
            counters,
            (1..=evs.len() as i64).collect::<Vec<_>>(),
            "{job}"
        );
        let verbose: Vec<&Value> = evs.iter().filter(|e| e["event"] == "verbose").collect();
        assert_eq!(verbose.len(), 1, "{evs:?}");
        assert_eq!(verbose[0]["counter"], 5, "the warning keeps its place");
        assert!(verbose[0]["stdout"]
            .as_str()
            .unwrap()
            .contains("DeprecationWarning: old API"));
        assert!(lab.stdout(id).contains("DeprecationWarning: old API"));
        if complete {
            // The capture's own outcome (a failed task), all 28 events plus the warning.
            assert_eq!(job["status"], "failed", "{job}");
            assert_eq!(evs.len(), 29);
        } else {
            assert_eq!(job["status"], "error", "{job}");
            let why = job["job_explanation"].as_str().unwrap_or_default();
            assert!(
                why.contains("broke off") && why.contains("no eof"),
                "the explanation does not name the break: {why}"
            );
            // Lines 3-9 of the capture are events 1-7: all kept, with the warning.
            assert_eq!(evs.len(), 8, "{evs:?}");
        }
    }
}
