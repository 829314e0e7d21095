//! Round trips through the real `ansible-runner worker`: a transmit stream encoded here goes in,
//! the result stream coming out is decoded here. The worker comes from `$RAWX_VENV` or the
//! venv `scripts/setup-venv.sh` builds; these tests never skip.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use rawx_runner::{
    build_cmdline, encode_transmit, stdout_txt, Artifacts, CmdlineOptions, Frame, PrivateDataDir,
    ResultDecoder, RunnerEvent, StatusFrame, INVENTORY_PATH,
};
use serde_json::{json, Map, Value};

fn venv() -> &'static Path {
    static VENV: OnceLock<PathBuf> = OnceLock::new();
    VENV.get_or_init(|| {
        if let Some(v) = std::env::var_os("RAWX_VENV").filter(|v| !v.is_empty()) {
            return PathBuf::from(v);
        }
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/setup-venv.sh");
        let out = Command::new("bash")
            .arg(&script)
            .stderr(Stdio::inherit())
            .output()
            .unwrap_or_else(|e| panic!("run {}: {e}", script.display()));
        assert!(out.status.success(), "{} failed", script.display());
        PathBuf::from(String::from_utf8(out.stdout).unwrap().trim())
    })
}

fn temp_dir(tag: &str) -> PathBuf {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static N: AtomicUsize = AtomicUsize::new(0);
    let n = N.fetch_add(1, Ordering::SeqCst);
    let dir = std::env::temp_dir().join(format!("rxr-{tag}-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

struct Run {
    statuses: Vec<StatusFrame>,
    events: Vec<RunnerEvent>,
    artifacts: Artifacts,
    exit: Option<i32>,
}

impl Run {
    fn final_status(&self) -> &str {
        &self.statuses.last().unwrap().status
    }

    fn events_named(&self, name: &str) -> Vec<&RunnerEvent> {
        self.events.iter().filter(|e| e.event == name).collect()
    }
}

/// Pipes `stream` into a real worker and decodes its stdout in small chunks as it arrives.
fn run_worker(stream: Vec<u8>) -> Run {
    let venv = venv();
    let bin = venv.join("bin/ansible-runner");
    assert!(
        bin.exists(),
        "{} is missing: rebuild the venv",
        bin.display()
    );
    let dir = temp_dir("pdd");
    let path = format!(
        "{}:{}",
        venv.join("bin").display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut child = Command::new(&bin)
        .args(["worker", "--private-data-dir"])
        .arg(&dir)
        .arg("--delete")
        .env("PATH", path)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn ansible-runner worker");
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || stdin.write_all(&stream));
    let mut stdout = child.stdout.take().unwrap();
    let mut d = ResultDecoder::new();
    let (mut statuses, mut events, mut artifacts) = (Vec::new(), Vec::new(), None);
    let mut buf = [0u8; 997];
    loop {
        let n = stdout.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        for item in d.feed(&buf[..n]) {
            match item.unwrap_or_else(|e| panic!("decoding the worker's output: {e}")) {
                Frame::Status(s) => statuses.push(s),
                Frame::Event(e) => events.push(*e),
                Frame::Artifacts(zip) => artifacts = Some(Artifacts::from_zip(&zip).unwrap()),
                Frame::Keepalive | Frame::Eof => {}
                Frame::Text(t) => panic!("the worker printed a line that is not JSON: {t}"),
            }
        }
    }
    writer.join().unwrap().unwrap();
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    let exit = child.wait().unwrap().code();
    d.finish()
        .unwrap_or_else(|e| panic!("{e}\nworker stderr:\n{stderr}"));
    let _ = std::fs::remove_dir_all(&dir);
    Run {
        statuses,
        events,
        artifacts: artifacts.expect("no artifacts zip"),
        exit,
    }
}

fn inventory() -> Value {
    json!({
        "all": {"hosts": ["localhost"]},
        "_meta": {"hostvars": {"localhost": {
            "ansible_connection": "local",
            "ansible_python_interpreter": "{{ ansible_playbook_python }}",
        }}},
    })
}

fn obj(v: Value) -> Map<String, Value> {
    let Value::Object(m) = v else {
        panic!("not an object")
    };
    m
}

const PLAYBOOK: &str = r#"- hosts: all
  gather_facts: false
  tasks:
    - name: Say hello
      debug:
        msg: "hello {{ who }}"
    - name: Read the secret from the environment
      debug:
        msg: "env says {{ lookup('env', 'RAWX_SECRET') }}"
    - name: Ask for the magic word
      pause:
        prompt: "Enter the magic word"
      register: answer
    - name: Echo the answer
      debug:
        msg: "answered {{ answer.user_input }}"
    - name: Change something
      command: /bin/true
    - name: Only with the tag
      debug:
        msg: "tagged"
      tags: [extra]
"#;

/// Every env file honoured by the real worker while kwargs carry no secret: extravars,
/// envvars, passwords (answering a prompt), settings, cmdline; a symlinked playbook from a
/// project directory on disk; the inventory script's exec bit.
#[test]
fn successful_playbook_round_trip() {
    let project = temp_dir("project");
    std::fs::write(project.join("site.yml"), PLAYBOOK).unwrap();
    std::os::unix::fs::symlink("site.yml", project.join("main.yml")).unwrap();

    let cmdline = build_cmdline(&CmdlineOptions {
        limit: Some("localhost".into()),
        skip_tags: Some("extra".into()),
        forks: 3,
        ..Default::default()
    })
    .unwrap();
    let pdd = PrivateDataDir::new()
        .project_dir(&project)
        .unwrap()
        .inventory_json(inventory())
        .extravars(obj(json!({"who": "rawx"})))
        .envvars(obj(json!({"RAWX_SECRET": "s3cr3t-env", "JOB_ID": 7})))
        .passwords(obj(json!({"Enter the magic word": "xyzzy"})))
        .settings(obj(json!({"suppress_output_file": true})))
        .cmdline(cmdline);
    let kwargs = obj(json!({"ident": 7, "playbook": "main.yml", "inventory": INVENTORY_PATH}));
    let mut stream = Vec::new();
    encode_transmit(&kwargs, pdd.entries(), &mut stream).unwrap();
    // Nothing secret in the clear on the wire: the kwargs line has none, the zip is deflated.
    let text = String::from_utf8_lossy(&stream);
    for secret in ["s3cr3t-env", "xyzzy"] {
        assert!(
            !text.contains(secret),
            "{secret} visible in the transmit stream"
        );
    }

    let run = run_worker(stream);
    let names: Vec<&str> = run.statuses.iter().map(|s| s.status.as_str()).collect();
    assert_eq!(
        names,
        ["starting", "running", "successful"],
        "{:#?}",
        run.events
    );
    assert_eq!((run.artifacts.rc, run.exit), (Some(0), Some(0)));
    assert_eq!(run.artifacts.status.as_deref(), Some("successful"));
    assert_eq!(
        run.artifacts.stdout, None,
        "env/settings suppress_output_file is honoured"
    );

    let starting = &run.statuses[0];
    assert_eq!(starting.runner_ident.as_deref(), Some("7"));
    let cmd = starting.command.clone().unwrap();
    for arg in [
        "--forks=3",
        "-l",
        "localhost",
        "--skip-tags=extra",
        "main.yml",
    ] {
        assert!(cmd.iter().any(|a| a == arg), "{arg} missing from {cmd:?}");
    }
    let env = starting.env.as_ref().unwrap();
    assert_eq!(
        env.get("RAWX_SECRET"),
        Some(&json!("s3cr3t-env")),
        "env/envvars honoured"
    );
    assert_eq!(env.get("JOB_ID"), Some(&json!("7")));

    let txt = stdout_txt(&run.events);
    assert!(txt.contains("\"msg\": \"hello rawx\""), "extravars:\n{txt}");
    assert!(txt.contains("env says s3cr3t-env"), "envvars:\n{txt}");
    assert!(txt.contains("answered xyzzy"), "passwords:\n{txt}");
    assert!(!txt.contains("tagged"), "cmdline --skip-tags:\n{txt}");

    let counters: Vec<u64> = run.events.iter().map(|e| e.counter).collect();
    assert_eq!(counters, (1..=run.events.len() as u64).collect::<Vec<_>>());
    assert_eq!(run.events[0].event, "playbook_on_start");
    assert_eq!(run.events[0].playbook(), "main.yml");
    let oks = run.events_named("runner_on_ok");
    assert_eq!(oks.len(), 5);
    assert!(oks
        .iter()
        .all(|e| e.host_name() == "localhost" && !e.failed()));
    let changed: Vec<String> = oks
        .iter()
        .filter(|e| e.changed())
        .map(|e| e.task())
        .collect();
    assert_eq!(changed, ["Change something"]);
    let stats = run.events.last().unwrap();
    assert_eq!(stats.event, "playbook_on_stats");
    let hosts = rawx_runner::host_stats(&stats.event_data);
    assert_eq!((hosts["localhost"].ok, hosts["localhost"].changed), (5, 1));
    assert!(!stats.failed() && stats.changed());
    let _ = std::fs::remove_dir_all(&project);
}

#[test]
fn failing_playbook_round_trip() {
    let pdd = PrivateDataDir::new()
        .project_file(
            "fail.yml",
            0o644,
            "- hosts: all\n  gather_facts: false\n  tasks:\n    - name: Fail here\n      command: /bin/false\n    - name: Never runs\n      debug: msg=no\n",
        )
        .inventory_json(inventory());
    let kwargs =
        obj(json!({"ident": "failing", "playbook": "fail.yml", "inventory": INVENTORY_PATH}));
    let mut stream = Vec::new();
    encode_transmit(&kwargs, pdd.entries(), &mut stream).unwrap();

    let run = run_worker(stream);
    assert_eq!(run.final_status(), "failed");
    assert_eq!((run.artifacts.rc, run.exit), (Some(2), Some(2)));
    let failed = run.events_named("runner_on_failed");
    assert_eq!(failed.len(), 1);
    assert!(failed[0].failed());
    assert_eq!(failed[0].event_display(), "Host Failed");
    assert_eq!(failed[0].task(), "Fail here");
    assert!(run.events_named("runner_on_ok").is_empty());
    let stats = run.events.last().unwrap();
    assert!(stats.failed());
    assert_eq!(
        rawx_runner::host_status_counts(&stats.event_data).get("failures"),
        Some(&1)
    );
    let txt = stdout_txt(&run.events);
    assert!(txt.contains("fatal: [localhost]: FAILED!"), "{txt}");
    assert_eq!(
        run.artifacts
            .stdout
            .as_deref()
            .map(|s| s.contains("FAILED!")),
        Some(true)
    );
}

/// `env/ssh_key` from the zip is loaded into the worker's ssh-agent: a task sees it.
#[test]
fn ssh_key_file_reaches_the_agent() {
    let dir = temp_dir("key");
    let key_path = dir.join("id");
    let st = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "rawx-test-key", "-f"])
        .arg(&key_path)
        .status()
        .expect("ssh-keygen (openssh-client) is needed for this test");
    assert!(st.success());
    let key = std::fs::read_to_string(&key_path).unwrap();
    let pdd = PrivateDataDir::new()
        .project_file(
            "agent.yml",
            0o644,
            "- hosts: all\n  gather_facts: false\n  tasks:\n    - command: ssh-add -l\n",
        )
        .inventory_json(inventory())
        .ssh_key(key.clone());
    let kwargs = obj(json!({"ident": "agent", "playbook": "agent.yml"}));
    let mut stream = Vec::new();
    encode_transmit(&kwargs, pdd.entries(), &mut stream).unwrap();
    assert!(!String::from_utf8_lossy(&stream).contains("PRIVATE KEY"));

    let run = run_worker(stream);
    assert_eq!(run.final_status(), "successful");
    let cmd = run.statuses[0].command.clone().unwrap();
    assert_eq!(
        cmd[0], "ssh-agent",
        "the worker wraps the run in ssh-agent: {cmd:?}"
    );
    let ok = &run.events_named("runner_on_ok")[0];
    let listed = ok.event_data["res"]["stdout"].as_str().unwrap_or_default();
    assert!(listed.contains("rawx-test-key"), "{listed}");
    let _ = std::fs::remove_dir_all(&dir);
}
