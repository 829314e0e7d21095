//! What the tests of a separate `rawx receptor` node share: the node process (started through a
//! `receptor` symlink, killed on drop), a lab whose controller runs jobs on it, and playbooks.

#![allow(dead_code)]

use rawx_testkit::clients::receptorctl;
use rawx_testkit::lab::*;
use rawx_testkit::{eventually, procs, venv, venv_path, DataDir, Opts};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A `rawx receptor` process, started through a `receptor` symlink; killed on drop.
pub struct Receptor {
    pub child: Child,
    /// Dropped after the node: kills the units still running in it.
    pub dir: DataDir,
}

impl Drop for Receptor {
    fn drop(&mut self) {
        procs::kill_group(self.child.id());
        let _ = self.child.wait();
        procs::release_group(self.child.id());
    }
}

/// A node's config: its id, its data dir and control socket in `{dir}` (what
/// `Receptor::start` fills in), then `extra` (backends, work commands).
pub fn node(id: &str, extra: &str) -> String {
    format!(
        "- node:\n    id: {id}\n    datadir: {{dir}}/data\n\
         - control-service:\n    service: control\n    filename: {{dir}}/receptor.sock\n{extra}"
    )
}

/// Whether the node in `d` answers on its control socket (`Receptor::start`'s readiness).
pub fn ready(d: &Path) -> bool {
    std::os::unix::net::UnixStream::connect(d.join("receptor.sock")).is_ok()
}

pub fn work_command(verify: bool) -> String {
    format!(
        "- work-command:\n    worktype: ansible-runner\n    command: {}\n    params: worker\n    allowruntimeparams: true\n    verifysignature: {verify}\n",
        venv().join("bin/ansible-runner").display()
    )
}

/// `receptor --config receptor.conf` in `dir`, the venv's tools first on PATH (units inherit it).
pub fn spawn_node(dir: &Path) -> Child {
    let mut cmd = Command::new(dir.join("receptor"));
    cmd.arg("--config")
        .arg(dir.join("receptor.conf"))
        .env("PATH", venv_path())
        .env("RAWX_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit());
    procs::spawn_group(&mut cmd).expect("start receptor")
}

impl Receptor {
    /// `kill -9` of the node, then a new node process on the same config.
    pub fn restart(&mut self) {
        self.restart_after(Duration::from_millis(500));
    }

    /// `kill -9` of the node, `away` without it, then a new node process on the same config.
    pub fn restart_after(&mut self, away: Duration) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        procs::release_group(self.child.id());
        std::thread::sleep(away);
        self.child = spawn_node(self.dir.path());
        eventually(Duration::from_secs(15), || {
            std::os::unix::net::UnixStream::connect(self.socket())
                .map_err(|e| format!("the receptor node did not come back: {e}"))
        });
    }

    /// Writes `config` (with `{dir}` replaced by the node's dir) and starts the node.
    pub fn start(config: &str, dir: DataDir, ready: impl Fn(&Path) -> bool) -> Receptor {
        let conf = dir.path().join("receptor.conf");
        std::fs::write(
            &conf,
            config.replace("{dir}", &dir.path().display().to_string()),
        )
        .unwrap();
        // Installed in place of Receptor's binary: argv[0] `receptor` is the node command.
        let link = dir.path().join("receptor");
        std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_rawx"), &link).unwrap();
        let child = spawn_node(dir.path());
        let rx = Receptor { child, dir };
        eventually(Duration::from_secs(15), || {
            ready(rx.dir.path())
                .then_some(())
                .ok_or("the receptor node did not come up")
        });
        rx
    }

    pub fn unix(node_id: &str) -> Receptor {
        let config = format!(
            "- node:\n    id: {node_id}\n    datadir: {{dir}}/data\n- local-only: null\n\
             - control-service:\n    service: control\n    filename: {{dir}}/receptor.sock\n{}",
            work_command(false)
        );
        Receptor::start(&config, DataDir::new(), |d| {
            std::os::unix::net::UnixStream::connect(d.join("receptor.sock")).is_ok()
        })
    }

    pub fn socket(&self) -> PathBuf {
        self.dir.path().join("receptor.sock")
    }

    /// `receptorctl work list` over the node's Unix socket.
    pub fn work_list(&self) -> Value {
        let out = receptorctl(&self.socket(), &["work", "list"]);
        assert_eq!(out.code, 0, "{out}");
        out.json()
    }
}

pub fn lab_on(socket: &str, extra: &[(&str, &str)]) -> Lab {
    let mut env = vec![("RAWX_RECEPTOR_SOCKET".to_string(), socket.to_string())];
    env.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    Lab::start_with(Opts {
        env,
        ..Default::default()
    })
}

/// Waits for the execution node's first health check and returns its instance.
pub fn checked_instance(lab: &Lab, hostname: &str) -> Value {
    eventually(Duration::from_secs(60), || {
        let list = lab.s.admin(
            "GET",
            &format!("/api/v2/instances/?hostname={hostname}"),
            None,
            200,
        );
        let i = &list["results"][0];
        if i["last_health_check"].is_string() {
            Ok(i.clone())
        } else {
            Err(format!(
                "no health check of {hostname}: {list}\n{}",
                lab.s.logs()
            ))
        }
    })
}

pub const STEPS: &str = "\
- name: Steps
  hosts: all
  gather_facts: false
  tasks:
    - name: first
      debug: {msg: 'step one on {{ awx_execution_node }}'}
    - name: wait
      pause: {seconds: 3}
    - name: second
      debug: {msg: step two}
";

pub const LONG: &str = "\
- name: Long
  hosts: all
  gather_facts: false
  tasks:
    - name: wait a long time
      pause: {seconds: 60}
";
