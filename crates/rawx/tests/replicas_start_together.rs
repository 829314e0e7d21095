//! Replicas started together on a fresh database all come up, with one seed.

use rawx_testkit::eventually;
use rawx_testkit::lab::tail;
use rawx_testkit::{Opts, Server, ADMIN_PW};
use std::time::Duration;

/// `GET path` as admin until it answers 200. PostgreSQL's 100 connections are shared with every
/// other suite running at the time: a request that finds none answers 500 after its pool's
/// 10 s, which says nothing about seeding.
fn get_ok(s: &Server, path: &str) -> rawx_testkit::Resp {
    eventually(Duration::from_secs(90), || {
        let r = s.http("GET", path, Some(("admin", ADMIN_PW)), None);
        if r.status == 200 {
            Ok(r)
        } else {
            Err(format!("GET {path}: {r:?}"))
        }
    })
}

/// Three `rawx web` and two `rawx task` started at the same moment on a fresh PostgreSQL
/// database (after `rawx manage migrate`, as an installer does), five rounds: every process
/// comes up, and the database holds one superuser and one of each seeded object.
#[test]
fn five_replicas_started_together_all_come_up_with_one_seed() {
    const ROUNDS: usize = 5;
    let roles: [(&'static str, &str); 5] = [
        ("web", "web-1"),
        ("web", "web-2"),
        ("web", "web-3"),
        ("task", "task-1"),
        ("task", "task-2"),
    ];
    let key = "5afe".repeat(16);
    let mut failures = Vec::new();
    for round in 1..=ROUNDS {
        let Some(db) = rawx_testkit::PgDb::create("seedrace") else {
            return;
        };
        let scratch = tempfile::tempdir().unwrap();
        let data = scratch.path().display().to_string();
        let out = rawx_testkit::rawx(&[
            "manage",
            "--database-url",
            &db.url,
            "--data-dir",
            &data,
            "migrate",
        ]);
        assert_eq!(out.code, 0, "{out}");
        let projects = tempfile::tempdir().unwrap();
        let gate = std::sync::Arc::new(std::sync::Barrier::new(roles.len()));
        let starts: Vec<_> = roles
            .iter()
            .map(|(role, name)| {
                let opts = Opts {
                    database_url: Some(db.url.clone()),
                    role: Some(role),
                    env: vec![
                        ("RAWX_NODE_NAME".into(), name.to_string()),
                        ("RAWX_SECRET_KEY".into(), key.clone()),
                        ("RAWX_PRELOAD_DATA".into(), "true".into()),
                        (
                            "RAWX_PROJECTS_DIR".into(),
                            projects.path().display().to_string(),
                        ),
                        (
                            "RAWX_ANSIBLE_RUNNER".into(),
                            rawx_testkit::venv()
                                .join("bin/ansible-runner")
                                .display()
                                .to_string(),
                        ),
                    ],
                };
                let gate = gate.clone();
                std::thread::spawn(move || {
                    gate.wait();
                    Server::start_with(opts)
                })
            })
            .collect();
        let mut servers = Vec::new();
        for (t, (role, name)) in starts.into_iter().zip(roles) {
            match t.join() {
                Ok(s) => servers.push(s),
                Err(e) => {
                    let why = e
                        .downcast_ref::<String>()
                        .cloned()
                        .unwrap_or_else(|| "panicked".into());
                    failures.push(format!(
                        "round {round}: {role} {name} did not come up: {}",
                        tail(&why, 1500)
                    ));
                }
            }
        }
        if servers.len() < roles.len() {
            continue;
        }
        let web = &servers[0];
        let count = |path: &str| get_ok(web, path).json()["count"].as_u64().unwrap();
        assert_eq!(
            count("/api/v2/users/?is_superuser=true"),
            1,
            "round {round}"
        );
        assert_eq!(
            count("/api/v2/organizations/?name=Default"),
            1,
            "round {round}"
        );
        assert_eq!(
            count("/api/v2/job_templates/?name=Demo+Job+Template"),
            1,
            "round {round}"
        );
        assert_eq!(count("/api/v2/instance_groups/"), 2, "round {round}");
        assert_eq!(count("/api/v2/execution_environments/"), 2, "round {round}");
        assert_eq!(
            count("/api/v2/credential_types/?name=Machine"),
            1,
            "round {round}"
        );
        for s in &servers[1..3] {
            get_ok(s, "/api/v2/ping/");
        }
        drop(servers);
    }
    let failed: std::collections::BTreeSet<&str> = failures
        .iter()
        .filter_map(|f| f.split(':').next())
        .collect();
    eprintln!(
        "FIGURE replicas started together: {} of {ROUNDS} rounds with all five up",
        ROUNDS - failed.len()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
