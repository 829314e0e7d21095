//! The task role in process, for fast tests: the kit's in-process API (`rawx_testkit::api`: a
//! real SQLite store in a temp dir, AWX's API over it through the router, so objects are made
//! and jobs launched and canceled exactly as users do, and the in-process bus), and task nodes — each the real `TaskRole` components under
//! the real supervisor — whose execution node is a `FakeNode` replaying captured runner
//! streams. No child process, no ansible: a test takes well under a second of work.

#![allow(dead_code)]

use axum::http::StatusCode;
use rawx_bus::Bus;
use rawx_model::resources::INSTANCES;
use rawx_model::secret::SecretKey;
use rawx_model::Row;
use rawx_supervisor::{Restart, ShutdownHandle, Supervisor};
use rawx_testkit::api::Api;
pub use rawx_testkit::eventually_async as eventually;
pub use rawx_testkit::fake_node::{sample, FakeNode, Script};
use serde_json::{json, Value};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// Generous: both cores may be busy with other builds.
pub const LIMIT: Duration = Duration::from_secs(30);

pub const FINAL: [&str; 4] = ["successful", "failed", "error", "canceled"];

/// A successful run of one play on `localhost` (26 events), captured from the real worker.
pub fn good_run() -> Vec<u8> {
    sample("worker-awxlike.out")
}

pub struct Rig {
    /// The database, the bus and the API the task nodes share.
    pub api: Api,
    pub org: i64,
    pub project: i64,
}

/// How a task node runs.
#[derive(Clone)]
pub struct NodeOpts {
    /// Injected failures (`Faults::parse("ingester@commit:1")`); clones share the counts, so
    /// the test can tell that a failure was injected.
    pub faults: rawx_supervisor::Faults,
    /// The reaper's patience with other task nodes.
    pub lost_after: Duration,
}

impl Default for NodeOpts {
    fn default() -> Self {
        NodeOpts {
            faults: rawx_supervisor::Faults::default(),
            lost_after: Duration::from_secs(60),
        }
    }
}

/// One task process: the task role's components under a supervisor, on a fake node.
pub struct TaskNode {
    pub name: String,
    pub node: FakeNode,
    shutdown: ShutdownHandle,
    task: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
}

impl TaskNode {
    /// Stops it as SIGTERM would (no drain): jobs still running are handed back, their units
    /// keep running on the node.
    pub async fn stop(mut self) {
        self.shutdown.trigger();
        if let Some(t) = self.task.take() {
            let r = tokio::time::timeout(LIMIT, t)
                .await
                .expect("the task role stops");
            r.unwrap().unwrap();
        }
    }
}

impl Drop for TaskNode {
    fn drop(&mut self) {
        self.shutdown.trigger();
        if let Some(t) = self.task.take() {
            t.abort();
        }
    }
}

impl Rig {
    /// A seeded database (admin/pw, AWX's instance groups), an organization and a manual
    /// project `demo` holding `hello.yml`.
    pub async fn new() -> Rig {
        let mut rig = Rig {
            api: Api::named("web").await,
            org: 0,
            project: 0,
        };
        rig.org = rig
            .make("/api/v2/organizations/", json!({"name": "Ops"}))
            .await;
        rig.project = rig
            .make(
                "/api/v2/projects/",
                json!({"name": "demo", "organization": rig.org, "scm_type": "", "local_path": "demo"}),
            )
            .await;
        rig
    }

    /// Starts a task node called `name` on `node` (whose id must be `name`: the execution
    /// node is this process's own) and waits until it registered its instance.
    pub async fn task_node(&self, name: &str, node: FakeNode, opts: NodeOpts) -> TaskNode {
        assert_eq!(rawx_mesh::WorkNode::node_id(&node), name);
        let shared = rawx_control::Shared {
            store: self.api.store.clone(),
            bus: self.api.bus.clone() as Arc<dyn Bus>,
            node: Arc::new(node.clone()),
            key: SecretKey::from_text(&self.api.key).unwrap(),
            projects_dir: self.api.projects_dir(),
            jobs_dir: self.api.dir.path().join("jobs"),
            node_name: name.to_string(),
            capacity: 100,
            // Never spawned: the fake node runs nothing.
            environment: rawx_ee::Environment::external(PathBuf::from("/bin/true")),
            ingest: rawx_control::Ingest::new(),
        };
        let faults = opts.faults;
        let mut sup = Supervisor::new()
            .with_faults(faults.clone())
            .with_backoff(Duration::from_millis(20), Duration::from_millis(200));
        let role = rawx_control::TaskRole::new(shared)
            .with_lost_after(Some(opts.lost_after))
            .with_faults(faults);
        for c in role.components() {
            sup.add(c, Restart::Always);
        }
        let shutdown = sup.shutdown_handle();
        let task = tokio::spawn(sup.run());
        let t = TaskNode {
            name: name.to_string(),
            node,
            shutdown,
            task: Some(task),
        };
        eventually(LIMIT, || async { self.instance(name).await }).await;
        t
    }

    /// The instance row of `hostname`, once registered.
    pub async fn instance(&self, hostname: &str) -> Option<Row> {
        let f = rawx_model::filter::Filter::eq(
            "hostname",
            rawx_model::schema::ColumnType::Text,
            json!(hostname),
        );
        self.api.store.find(&INSTANCES, &f).await.unwrap()
    }

    /// Sets an instance's capacity (in forks) behind the health checks' back, so a test
    /// decides what fits.
    pub async fn set_instance(&self, hostname: &str, fields: Value) {
        let row = self.instance(hostname).await.expect("registered");
        let id = row["id"].as_i64().unwrap();
        let r: Row = fields.as_object().unwrap().clone();
        self.api.store.update(&INSTANCES, id, &r).await.unwrap();
    }

    /// `method path body` as admin.
    pub async fn call(&self, method: &str, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        let r = self.api.admin(method, path, body).await;
        (r.status, r.body)
    }

    /// `POST path body` that must create; returns the id.
    pub async fn make(&self, path: &str, body: Value) -> i64 {
        self.api.make(path, body).await
    }

    /// `POST path {"id": id}` (associate).
    pub async fn associate(&self, path: &str, id: i64) {
        self.api.associate(path, id).await
    }

    /// An inventory of `hosts` local hosts.
    pub async fn inventory(&self, name: &str, hosts: usize) -> i64 {
        let inv = self
            .make(
                "/api/v2/inventories/",
                json!({"name": name, "organization": self.org}),
            )
            .await;
        for i in 0..hosts {
            self.make(
                "/api/v2/hosts/",
                json!({"name": format!("{name}-h{i}"), "inventory": inv}),
            )
            .await;
        }
        inv
    }

    /// A template running `hello.yml` on `inventory`; `extra` adds fields.
    pub async fn template(&self, name: &str, inventory: i64, extra: Value) -> i64 {
        let mut body = json!({"name": name, "project": self.project, "inventory": inventory, "playbook": "hello.yml"});
        for (k, v) in extra.as_object().unwrap() {
            body[k] = v.clone();
        }
        self.make("/api/v2/job_templates/", body).await
    }

    pub async fn launch(&self, jt: i64) -> i64 {
        let (status, v) = self
            .call(
                "POST",
                &format!("/api/v2/job_templates/{jt}/launch/"),
                Some(json!({})),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "launch {jt}: {v}");
        v["job"].as_i64().unwrap()
    }

    pub async fn cancel(&self, job: i64) -> StatusCode {
        self.call("POST", &format!("/api/v2/jobs/{job}/cancel/"), None)
            .await
            .0
    }

    pub async fn job(&self, id: i64) -> Value {
        let (status, v) = self.call("GET", &format!("/api/v2/jobs/{id}/"), None).await;
        assert_eq!(status, StatusCode::OK, "job {id}: {v}");
        v
    }

    /// Waits until the job is in `status`.
    pub async fn wait_status(&self, id: i64, status: &str) -> Value {
        eventually(LIMIT, || async {
            let j = self.job(id).await;
            if j["status"] == status {
                Ok(j)
            } else {
                Err(format!(
                    "job {id} is {} ({})",
                    j["status"], j["job_explanation"]
                ))
            }
        })
        .await
    }

    /// Waits until the job is final with all its events stored.
    pub async fn wait_final(&self, id: i64) -> Value {
        eventually(LIMIT, || async {
            let j = self.job(id).await;
            let done = FINAL.contains(&j["status"].as_str().unwrap_or_default())
                && j["event_processing_finished"] == json!(true);
            if done {
                Ok(j)
            } else {
                Err(format!(
                    "job {id} is {} ({})",
                    j["status"], j["job_explanation"]
                ))
            }
        })
        .await
    }

    /// Every stored event of a job, in counter order.
    pub async fn events(&self, id: i64) -> Vec<Value> {
        let (status, v) = self
            .call(
                "GET",
                &format!("/api/v2/jobs/{id}/job_events/?order_by=counter&page_size=200"),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{v}");
        v["results"].as_array().unwrap().clone()
    }

    /// Waits until at least `n` events of the job are stored.
    pub async fn wait_events(&self, id: i64, n: usize) {
        eventually(LIMIT, || async {
            let got = self.events(id).await.len();
            if got >= n {
                Ok(())
            } else {
                Err(format!("{got} events of job {id} stored"))
            }
        })
        .await
    }
}

/// The job a unit ran, from its `--private-data-dir=<jobs>/<id>` parameter.
pub fn job_of(unit: &rawx_testkit::fake_node::Unit) -> i64 {
    let p = unit
        .params
        .split_whitespace()
        .find_map(|w| w.strip_prefix("--private-data-dir="))
        .expect("a job unit");
    p.rsplit('/').next().unwrap().parse().unwrap()
}

/// Counters are exactly 1..=n, each once: nothing lost, nothing stored twice.
pub fn assert_each_once(events: &[Value], n: usize) {
    let counters: Vec<i64> = events
        .iter()
        .map(|e| e["counter"].as_i64().unwrap())
        .collect();
    let want: Vec<i64> = (1..=n as i64).collect();
    assert_eq!(counters, want, "counters of the stored events");
}
