//! The AWX job flow through the in-process node API, with the real `ansible-runner` from the
//! test venv: transmit → submit `local` (`ansible-runner worker`) → results → `ansible-runner
//! process`; the `--worker-info` health check; cancel of a running playbook.

mod common;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{eventually_async, pids_naming, venv, DataDir};
use rawx_mesh::{Config, Node, SubmitRequest, WorkOptions, WorkState};

fn write_project(pdd: &Path, playbook: &str) {
    std::fs::create_dir_all(pdd.join("project")).unwrap();
    std::fs::create_dir_all(pdd.join("inventory")).unwrap();
    std::fs::write(pdd.join("project/test.yml"), playbook).unwrap();
    std::fs::write(
        pdd.join("inventory/hosts"),
        format!(
            "localhost ansible_connection=local ansible_python_interpreter={}\n",
            venv().join("bin/python").display()
        ),
    )
    .unwrap();
}

fn transmit(pdd: &Path) -> Vec<u8> {
    let out = Command::new(venv().join("bin/ansible-runner"))
        .arg("transmit")
        .arg(pdd)
        .args(["-p", "test.yml"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn awx_job_flow_with_ansible_runner_worker() {
    let venv_bin = venv().join("bin");
    // The unit inherits the node's environment, as under Receptor; the worker needs
    // ansible-playbook on PATH. This test binary holds only this test.
    let path = format!(
        "{}:{}",
        venv_bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    std::env::set_var("PATH", path);
    let dir = DataDir::new();
    let conf = format!(
        "- node:\n    id: ctl1\n    datadir: {}\n- local-only: null\n\
         - work-command:\n    worktype: local\n    command: ansible-runner\n    params: worker\n    allowruntimeparams: true\n",
        dir.join("data").display()
    );
    let config = Config::parse(&conf, "test").unwrap();
    let node = Node::start(
        &config,
        WorkOptions {
            reap_after: None,
            cancel_grace: Duration::from_secs(5),
            // The standalone node's binary supervises units, as in production.
            unit_runner: Some(env!("CARGO_BIN_EXE_rawx-receptor").into()),
        },
    )
    .unwrap();

    // A job.
    let pdd = dir.join("job");
    write_project(
        &pdd,
        "- hosts: localhost\n  gather_facts: false\n  tasks:\n    - debug: msg='hello from rawx'\n",
    );
    let stream = transmit(&pdd);
    let worker_dir = dir.join("worker");
    let req = SubmitRequest::new("local").param(
        "params",
        &format!("--private-data-dir={} --delete", worker_dir.display()),
    );
    let id = node.submit(&req, &mut stream.as_slice()).await.unwrap();
    let mut results = Vec::new();
    let mut reader = node.results(&id, 0).unwrap();
    tokio::time::timeout(Duration::from_secs(60), reader.copy_to(&mut results))
        .await
        .expect("job finished")
        .unwrap();
    let st = node.status(&id).unwrap();
    assert_eq!(
        st.work_state(),
        Some(WorkState::Succeeded),
        "{st:?}\n{}",
        String::from_utf8_lossy(&results)
    );
    assert_eq!(st.stdout_size, results.len() as u64);
    let processed = dir.join("processed");
    let mut process = Command::new(venv_bin.join("ansible-runner"))
        .arg("process")
        .arg(&processed)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    process.stdin.take().unwrap().write_all(&results).unwrap();
    let out = process.wait_with_output().unwrap();
    assert!(out.status.success());
    let shown = String::from_utf8_lossy(&out.stdout);
    assert!(shown.contains("hello from rawx"), "{shown}");
    assert!(shown.contains("ok=1"), "{shown}");
    // The last 1000 bytes, as AWX fetches them when a unit failed without events.
    let offset = results.len().saturating_sub(1000) as u64;
    let mut tail = Vec::new();
    node.results(&id, offset)
        .unwrap()
        .copy_to(&mut tail)
        .await
        .unwrap();
    assert_eq!(tail, results[offset as usize..]);
    node.release(&id).await.unwrap();

    // The health check: an empty payload, YAML on stdout.
    let req = SubmitRequest::new("local").param("params", "--worker-info");
    let id = node.submit(&req, &mut &b""[..]).await.unwrap();
    let mut info = Vec::new();
    node.results(&id, 0)
        .unwrap()
        .copy_to(&mut info)
        .await
        .unwrap();
    let info = String::from_utf8(info).unwrap();
    assert!(
        info.contains("runner_version") && info.contains("cpu_count"),
        "{info}"
    );
    node.release(&id).await.unwrap();

    // Cancel mid-run leaves no process of the job.
    let marker = format!("rawx-runner-marker-{}", std::process::id());
    let pdd = dir.join("long");
    write_project(
        &pdd,
        &format!("- hosts: localhost\n  gather_facts: false\n  tasks:\n    - command: sh -c 'sleep 120' {marker}\n"),
    );
    let stream = transmit(&pdd);
    let req = SubmitRequest::new("local").param(
        "params",
        &format!("--private-data-dir={}", dir.join("worker2").display()),
    );
    let id = node.submit(&req, &mut stream.as_slice()).await.unwrap();
    // Until the playbook started its task.
    eventually_async(Duration::from_secs(30), || async {
        !pids_naming(&marker).is_empty()
    })
    .await;
    node.cancel(&id).await.unwrap();
    assert_eq!(
        node.status(&id).unwrap().work_state(),
        Some(WorkState::Canceled)
    );
    assert_eq!(
        pids_naming(&marker),
        Vec::<u32>::new(),
        "cancel left processes of the job alive"
    );
    node.release(&id).await.unwrap();
}
