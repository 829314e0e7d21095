//! A server that runs jobs, and what tests do with it: organizations, manual projects,
//! inventories of local hosts, templates, credentials, launching and waiting, reading events.

use crate::{eventually, venv, Opts, Server, ADMIN_PW};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

pub use crate::tail;

/// Variables that make a host run on this machine with the venv's Python.
pub fn local_vars() -> Value {
    json!({
        "ansible_connection": "local",
        "ansible_python_interpreter": "{{ ansible_playbook_python }}",
    })
}

pub fn merge(mut a: Value, b: Value) -> Value {
    if let (Some(a), Some(b)) = (a.as_object_mut(), b.as_object()) {
        for (k, v) in b {
            a.insert(k.clone(), v.clone());
        }
    }
    a
}

pub const FINAL: [&str; 4] = ["successful", "failed", "error", "canceled"];

/// A server that can run jobs, with an organization to put things in.
pub struct Lab {
    pub s: Server,
    pub org: Value,
}

/// The environment a server needs to run jobs: where the real `ansible-runner` is.
pub fn runner_env() -> Vec<(String, String)> {
    vec![(
        "RAWX_ANSIBLE_RUNNER".into(),
        venv().join("bin/ansible-runner").display().to_string(),
    )]
}

impl Lab {
    pub fn start() -> Lab {
        Lab::start_with(Opts::default())
    }

    pub fn start_with(mut opts: Opts) -> Lab {
        let mut env = runner_env();
        env.append(&mut opts.env);
        opts.env = env;
        let s = Server::start_with(opts);
        let org = s.admin(
            "POST",
            "/api/v2/organizations/",
            Some(json!({"name": "Ops"})),
            201,
        );
        Lab { s, org }
    }

    /// A manual project `name` holding `files` (path → content) under the server's projects dir.
    pub fn project(&self, name: &str, files: &[(&str, &str)]) -> i64 {
        let dir = self.s.data.join("projects").join(name);
        for (path, content) in files {
            let p = dir.join(path);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(&p, content).unwrap();
        }
        std::fs::create_dir_all(&dir).unwrap();
        let p = self.s.admin(
            "POST",
            "/api/v2/projects/",
            Some(json!({"name": name, "organization": self.org["id"], "scm_type": "", "local_path": name})),
            201,
        );
        p["id"].as_i64().unwrap()
    }

    /// An inventory with `hosts` (name → variables).
    pub fn inventory(&self, name: &str, hosts: &[(&str, Value)]) -> i64 {
        let inv = self.s.admin(
            "POST",
            "/api/v2/inventories/",
            Some(json!({"name": name, "organization": self.org["id"]})),
            201,
        );
        for (host, vars) in hosts {
            self.s.admin(
                "POST",
                "/api/v2/hosts/",
                Some(json!({"name": host, "inventory": inv["id"], "variables": vars.to_string()})),
                201,
            );
        }
        inv["id"].as_i64().unwrap()
    }

    /// A job template; `extra` holds any other template fields.
    pub fn jt(
        &self,
        name: &str,
        project: i64,
        inventory: i64,
        playbook: &str,
        extra: Value,
    ) -> i64 {
        let body = merge(
            json!({"name": name, "project": project, "inventory": inventory, "playbook": playbook}),
            extra,
        );
        let jt = self
            .s
            .admin("POST", "/api/v2/job_templates/", Some(body), 201);
        jt["id"].as_i64().unwrap()
    }

    /// A credential of the type named `kind` in the lab's organization.
    pub fn credential(&self, name: &str, kind: &str, inputs: Value) -> i64 {
        self.credential_typed(name, self.credential_type(kind), inputs)
    }

    /// The id of the credential type named `name`.
    pub fn credential_type(&self, name: &str) -> i64 {
        let path = format!(
            "/api/v2/credential_types/?name={}",
            name.replace(' ', "%20")
        );
        let r = self.s.admin("GET", &path, None, 200);
        r["results"][0]["id"]
            .as_i64()
            .unwrap_or_else(|| panic!("no credential type {name}: {r}"))
    }

    /// A credential of credential type `type_id` in the lab's organization.
    pub fn credential_typed(&self, name: &str, type_id: i64, inputs: Value) -> i64 {
        let c = self.s.admin(
            "POST",
            "/api/v2/credentials/",
            Some(json!({"name": name, "organization": self.org["id"], "credential_type": type_id, "inputs": inputs})),
            201,
        );
        c["id"].as_i64().unwrap()
    }

    pub fn attach(&self, jt: i64, cred: i64) {
        self.s.admin(
            "POST",
            &format!("/api/v2/job_templates/{jt}/credentials/"),
            Some(json!({"id": cred})),
            204,
        );
    }

    /// `POST …/launch/` → the launch answer (job id in `job`).
    pub fn launch_with(&self, jt: i64, body: Value) -> Value {
        self.s.admin(
            "POST",
            &format!("/api/v2/job_templates/{jt}/launch/"),
            Some(body),
            201,
        )
    }

    pub fn launch(&self, jt: i64) -> i64 {
        self.launch_with(jt, json!({}))["job"].as_i64().unwrap()
    }

    pub fn job(&self, id: i64) -> Value {
        self.s
            .admin("GET", &format!("/api/v2/jobs/{id}/"), None, 200)
    }

    /// Polls `/api/v2/<res>/<id>/` (any kind of job) until it is final with all its events.
    pub fn wait_on(&self, res: &str, id: i64, limit: Duration) -> Value {
        wait_final_on(&self.s, res, id, limit)
    }

    /// `/api/v2/<res>/<id>/stdout/?format=txt` of any kind of job.
    pub fn stdout_on(&self, res: &str, id: i64) -> String {
        stdout_of(&self.s, res, id)
    }

    /// Polls until the job is final and all its events are stored.
    pub fn wait(&self, id: i64) -> Value {
        self.wait_for(id, Duration::from_secs(150))
    }

    pub fn wait_for(&self, id: i64, limit: Duration) -> Value {
        self.wait_on("jobs", id, limit)
    }

    /// Waits and requires `status`; shows the stdout when it differs.
    pub fn wait_status(&self, id: i64, status: &str) -> Value {
        let j = self.wait(id);
        if j["status"] != status {
            panic!(
                "job {id}: status {} (want {status}), explanation {:?}\n--- stdout\n{}\n--- job\n{j}",
                j["status"],
                j["job_explanation"],
                self.stdout(id)
            );
        }
        j
    }

    /// `stdout?format=txt`.
    pub fn stdout(&self, id: i64) -> String {
        self.stdout_on("jobs", id)
    }

    /// Every event of a job, all pages, not truncated, in counter order.
    pub fn events(&self, id: i64) -> Vec<Value> {
        self.all(&format!(
            "/api/v2/jobs/{id}/job_events/?no_truncate=1&order_by=counter&page_size=200"
        ))
    }

    pub fn events_of(&self, id: i64, event: &str) -> Vec<Value> {
        self.all(&format!(
            "/api/v2/jobs/{id}/job_events/?event={event}&order_by=counter"
        ))
    }

    pub fn summaries(&self, id: i64) -> BTreeMap<String, Value> {
        self.all(&format!("/api/v2/jobs/{id}/job_host_summaries/"))
            .into_iter()
            .map(|h| (h["host_name"].as_str().unwrap_or_default().to_string(), h))
            .collect()
    }

    /// Follows `next` from `path` and returns every result.
    pub fn all(&self, path: &str) -> Vec<Value> {
        all_pages(&self.s, path)
    }
}

/// This node's instance, once the task role has registered and checked it.
pub fn own_instance(s: &Server) -> Value {
    eventually(Duration::from_secs(30), || {
        let list = s.admin("GET", "/api/v2/instances/", None, 200);
        list["results"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| !i["last_seen"].is_null() && i["capacity"].as_i64() > Some(0))
            .cloned()
            .ok_or(format!("no instance registered: {list}"))
    })
}

/// Polls job `id` until `done` holds (at most 120 s); the failure names what was awaited and
/// shows the server's log.
pub fn wait_job_until(s: &Server, id: i64, done: impl Fn(&Value) -> bool, what: &str) -> Value {
    eventually(Duration::from_secs(120), || {
        let j = s.admin("GET", &format!("/api/v2/jobs/{id}/"), None, 200);
        if done(&j) {
            Ok(j)
        } else {
            Err(format!(
                "job {id}: {what}: {j}\n--- server\n{}",
                crate::tail(&s.logs(), 4000)
            ))
        }
    })
}

/// Polls `/api/v2/<res>/<id>/` (any kind of job) until it is final with all its events.
pub fn wait_final_on(s: &Server, res: &str, id: i64, limit: Duration) -> Value {
    let j = eventually(limit, || {
        let j = s.admin("GET", &format!("/api/v2/{res}/{id}/"), None, 200);
        let status = j["status"].as_str().unwrap_or_default();
        if FINAL.contains(&status) && j["event_processing_finished"] == json!(true) {
            Ok(j)
        } else {
            Err(format!(
                "{res} {id} not final with its events: {j}\n--- server\n{}",
                tail(&s.logs(), 4000)
            ))
        }
    });
    j
}

/// How long the job helpers wait for a job to end: generous, the machine may be loaded.
pub const JOB_LIMIT: Duration = Duration::from_secs(150);

/// `/api/v2/jobs/<id>/`.
pub fn job(s: &Server, id: i64) -> Value {
    s.admin("GET", &format!("/api/v2/jobs/{id}/"), None, 200)
}

/// Polls until the job is final with all its events stored ([`JOB_LIMIT`]).
pub fn wait_final(s: &Server, id: i64) -> Value {
    wait_final_on(s, "jobs", id, JOB_LIMIT)
}

/// `POST /api/v2/job_templates/<jt>/launch/` with `body` → the job's id.
pub fn launch_jt(s: &Server, jt: i64, body: Value) -> i64 {
    let r = s.admin(
        "POST",
        &format!("/api/v2/job_templates/{jt}/launch/"),
        Some(body),
        201,
    );
    r["job"].as_i64().unwrap_or_else(|| panic!("no job in {r}"))
}

/// Waits until the job has started the task named `task` (its task-start event is stored),
/// failing early if the job ends first: how a test catches a job in the middle.
pub fn wait_in_task(s: &Server, id: i64, task: &str) {
    eventually(Duration::from_secs(90), || {
        let started = all_pages(
            s,
            &format!("/api/v2/jobs/{id}/job_events/?event=playbook_on_task_start&order_by=counter"),
        )
        .iter()
        .any(|e| e["task"] == task);
        if started {
            return Ok(());
        }
        let j = job(s, id);
        assert!(
            !FINAL.contains(&j["status"].as_str().unwrap_or("")),
            "job {id} ended before its task {task:?}: {j}\n--- server\n{}",
            tail(&s.logs(), 4000)
        );
        Err(format!(
            "job {id} has not reached {task:?}: {}",
            j["status"]
        ))
    })
}

/// `/api/v2/<res>/<id>/stdout/?format=txt` of any kind of job.
pub fn stdout_of(s: &Server, res: &str, id: i64) -> String {
    let r = s.http(
        "GET",
        &format!("/api/v2/{res}/{id}/stdout/?format=txt"),
        Some(("admin", ADMIN_PW)),
        None,
    );
    assert_eq!(r.status, 200, "{r:?}");
    r.body
}

/// Follows `next` from `path` and returns every result.
pub fn all_pages(s: &Server, path: &str) -> Vec<Value> {
    let mut out = Vec::new();
    let mut next = Some(path.to_string());
    let mut pages = 0;
    while let Some(p) = next {
        pages += 1;
        assert!(pages < 100, "runaway pagination at {p}");
        let page = s.admin("GET", &p, None, 200);
        out.extend(
            page["results"]
                .as_array()
                .unwrap_or_else(|| panic!("not a list: {page}"))
                .iter()
                .cloned(),
        );
        next = page["next"].as_str().map(str::to_string);
    }
    out
}

/// The command line that ran, as words. AWX stores a JSON list; a plain command line is
/// accepted here (see `job_args_is_a_json_list_as_in_awx`) so other checks still run.
pub fn job_args(job: &Value) -> Vec<String> {
    let raw = job["job_args"].as_str().unwrap_or_default();
    serde_json::from_str(raw)
        .unwrap_or_else(|_| raw.split_whitespace().map(str::to_string).collect())
}

/// What most job suites start from: an organization, a manual project and an inventory.
pub struct Fixture {
    pub org: i64,
    pub project: i64,
    pub inventory: i64,
}

/// An organization `Ops`, a manual project `name` holding `files` (written under
/// `projects_dir/name`), and an inventory of local `hosts` (run with the venv's Python).
pub fn fixture_in(
    s: &Server,
    projects_dir: &Path,
    name: &str,
    files: &[(&str, &str)],
    hosts: &[&str],
) -> Fixture {
    let id = |v: Value| v["id"].as_i64().unwrap();
    let org = id(s.admin(
        "POST",
        "/api/v2/organizations/",
        Some(json!({"name": "Ops"})),
        201,
    ));
    let dir = projects_dir.join(name);
    std::fs::create_dir_all(&dir).unwrap();
    for (file, content) in files {
        std::fs::write(dir.join(file), content).unwrap();
    }
    let project = id(s.admin(
        "POST",
        "/api/v2/projects/",
        Some(json!({"name": name, "organization": org, "scm_type": "", "local_path": name})),
        201,
    ));
    let inventory = id(s.admin(
        "POST",
        "/api/v2/inventories/",
        Some(json!({"name": "Local", "organization": org})),
        201,
    ));
    for h in hosts {
        s.admin(
            "POST",
            "/api/v2/hosts/",
            Some(json!({"name": h, "inventory": inventory, "variables": local_vars().to_string()})),
            201,
        );
    }
    Fixture {
        org,
        project,
        inventory,
    }
}

/// `fixture_in` the server's own projects dir.
pub fn fixture(s: &Server, name: &str, files: &[(&str, &str)], hosts: &[&str]) -> Fixture {
    fixture_in(s, &s.data.join("projects"), name, files, hosts)
}
