//! End-to-end: what a job's output looks like. Stored events and `stdout` match a bare
//! `ansible-runner run` of the same playbook; `job_env` is masked as AWX masks it; stray lines
//! from the worker are kept and a broken result stream is explained.

use rawx_testkit::lab::*;
use rawx_testkit::plays::*;
use rawx_testkit::{venv, Opts, ADMIN_PW};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

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
