//! What the operations suites (supervision, metrics, logging, `manage` on jobs) share: a
//! playbook with a pause to catch a job in the middle, a failing one, a server that runs
//! them, and `/api/v2/metrics/` read by the real Prometheus parser.

use crate::lab::{fixture, Fixture};
use crate::{venv, Opts, Server, ADMIN_PW};
use serde_json::{json, Value};
use std::io::Write;
use std::process::{Command, Stdio};

/// Two debug tasks, a pause of `pause_s` seconds (1 unless set), one more task.
pub const PLAY: &str = "\
- hosts: all
  gather_facts: false
  tasks:
    - name: first
      debug:
        msg: first-done
    - name: second
      debug:
        msg: second-done
    - name: wait in the pause
      pause:
        seconds: \"{{ pause_s | default(1) }}\"
    - name: last
      debug:
        msg: last-done
";

pub const FAILING: &str = "\
- hosts: all
  gather_facts: false
  tasks:
    - name: this one fails
      fail:
        msg: failing on purpose
";

pub fn opts(env: &[(&str, &str)]) -> Opts {
    let mut all = vec![(
        "RAWX_ANSIBLE_RUNNER".to_string(),
        venv().join("bin/ansible-runner").display().to_string(),
    )];
    all.extend(env.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    Opts {
        env: all,
        ..Opts::default()
    }
}

/// An organization, a project with `play.yml` and `fail.yml`, an inventory of one local host.
pub fn ops_lab(s: &Server) -> Fixture {
    fixture(
        s,
        "ops",
        &[("play.yml", PLAY), ("fail.yml", FAILING)],
        &["localhost"],
    )
}

pub fn template(s: &Server, lab: &Fixture, name: &str, playbook: &str, extra_vars: Value) -> i64 {
    s.admin(
        "POST",
        "/api/v2/job_templates/",
        Some(
            json!({"name": name, "project": lab.project, "inventory": lab.inventory,
                    "playbook": playbook, "extra_vars": extra_vars.to_string()}),
        ),
        201,
    )["id"]
        .as_i64()
        .unwrap()
}

pub fn launch(s: &Server, jt: i64) -> i64 {
    s.admin(
        "POST",
        &format!("/api/v2/job_templates/{jt}/launch/"),
        Some(json!({})),
        201,
    )["job"]
        .as_i64()
        .unwrap()
}

/// Samples from the real Prometheus text parser (`prometheus_client.parser`).
pub struct Metrics(pub Vec<Value>);

impl Metrics {
    pub fn value(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.find(name, labels)
            .unwrap_or_else(|| panic!("no sample {name}{labels:?} in {:?}", self.names()))
    }

    pub fn find(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        self.0
            .iter()
            .find(|s| s["name"] == name && labels.iter().all(|(k, v)| s["labels"][k] == *v))
            .and_then(|s| s["value"].as_f64())
    }

    pub fn names(&self) -> Vec<&str> {
        let mut n: Vec<&str> = self.0.iter().filter_map(|s| s["name"].as_str()).collect();
        n.dedup();
        n
    }
}

pub fn parse_prometheus(text: &str) -> Metrics {
    let script = r#"
import json, sys
from prometheus_client.parser import text_string_to_metric_families
out = []
for fam in text_string_to_metric_families(sys.stdin.read()):
    for s in fam.samples:
        out.append({"family": fam.name, "type": fam.type, "name": s.name, "labels": s.labels, "value": s.value})
print(json.dumps(out))
"#;
    let mut child = Command::new(venv().join("bin/python"))
        .args(["-c", script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run python");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "the Prometheus parser rejected /metrics/: {}\n{text}",
        String::from_utf8_lossy(&out.stderr)
    );
    Metrics(serde_json::from_slice::<Vec<Value>>(&out.stdout).expect("parser output is JSON"))
}

pub fn metrics(s: &Server) -> Metrics {
    let r = s.http("GET", "/api/v2/metrics/", Some(("admin", ADMIN_PW)), None);
    assert_eq!(r.status, 200, "{r:?}");
    assert!(
        r.header("content-type")
            .unwrap_or_default()
            .starts_with("text/plain"),
        "{r:?}"
    );
    parse_prometheus(&r.body)
}
