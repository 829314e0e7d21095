//! A real API over a real SQLite store in a temp dir, called in-process through the router.

#![allow(dead_code)]

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use base64::Engine;
use http_body_util::BodyExt;
use rawx_api::{AppState, Config};
use rawx_model::resources::{ALL, RELATIONS};
use rawx_model::secret::SecretKey;
use rawx_store::DynStore;
use serde_json::{json, Value};
use tower::ServiceExt;

pub struct Api {
    pub router: axum::Router,
    pub store: DynStore,
    pub dir: tempfile::TempDir,
}

pub struct Resp {
    pub status: StatusCode,
    pub headers: axum::http::HeaderMap,
    pub body: Value,
    pub text: String,
}

impl Api {
    pub async fn new() -> Api {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("rawx.db").display());
        let store = rawx_store::open(&url).await.unwrap();
        store.migrate().await.unwrap();
        let seeded = rawx_api::seed(&store, Some("pw".into())).await.unwrap();
        let projects = dir.path().join("projects");
        std::fs::create_dir_all(projects.join("demo")).unwrap();
        std::fs::write(
            projects.join("demo/hello.yml"),
            "- hosts: all\n  tasks: []\n",
        )
        .unwrap();
        let key = SecretKey::from_text(&SecretKey::generate()).unwrap();
        let config = Config {
            node_name: "test".into(),
            projects_dir: projects,
            install_uuid: seeded.install_uuid,
        };
        let state = AppState::new(store.clone(), rawx_bus::InProcessBus::new(), key, config);
        Api {
            router: rawx_api::router(state),
            store,
            dir,
        }
    }

    pub async fn call(
        &self,
        method: &str,
        path: &str,
        auth: Option<(&str, &str)>,
        body: Option<Value>,
    ) -> Resp {
        let mut req = Request::builder()
            .method(Method::from_bytes(method.as_bytes()).unwrap())
            .uri(path);
        if let Some((u, p)) = auth {
            let b = base64::engine::general_purpose::STANDARD.encode(format!("{u}:{p}"));
            req = req.header(header::AUTHORIZATION, format!("Basic {b}"));
        }
        let body = match body {
            Some(v) => {
                req = req.header(header::CONTENT_TYPE, "application/json");
                Body::from(v.to_string())
            }
            None => Body::empty(),
        };
        self.send(req.body(body).unwrap()).await
    }

    pub async fn raw(
        &self,
        method: &str,
        path: &str,
        auth: (&str, &str),
        content_type: &str,
        body: &str,
    ) -> Resp {
        let b = base64::engine::general_purpose::STANDARD.encode(format!("{}:{}", auth.0, auth.1));
        let req = Request::builder()
            .method(Method::from_bytes(method.as_bytes()).unwrap())
            .uri(path)
            .header(header::AUTHORIZATION, format!("Basic {b}"))
            .header(header::CONTENT_TYPE, content_type)
            .body(Body::from(body.to_string()))
            .unwrap();
        self.send(req).await
    }

    pub async fn send(&self, req: Request<Body>) -> Resp {
        let resp = self.router.clone().oneshot(req).await.unwrap();
        let status = resp.status();
        let headers = resp.headers().clone();
        let bytes = resp.into_body().collect().await.unwrap().to_bytes();
        let text = String::from_utf8_lossy(&bytes).to_string();
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Resp {
            status,
            headers,
            body,
            text,
        }
    }

    pub async fn admin(&self, method: &str, path: &str, body: Option<Value>) -> Resp {
        self.call(method, path, Some(("admin", "pw")), body).await
    }

    /// Creates as admin and returns the new id, failing loudly otherwise.
    pub async fn make(&self, path: &str, body: Value) -> i64 {
        let r = self.admin("POST", path, Some(body.clone())).await;
        assert_eq!(
            r.status,
            StatusCode::CREATED,
            "POST {path} {body}: {}",
            r.text
        );
        r.body["id"].as_i64().unwrap()
    }

    pub async fn user(&self, name: &str, password: &str) -> i64 {
        self.make(
            "/api/v2/users/",
            json!({"username": name, "password": password}),
        )
        .await
    }

    /// Everything the database holds, to prove a refused request changed nothing.
    pub async fn snapshot(&self) -> Value {
        let mut out = serde_json::Map::new();
        for res in ALL {
            let mut rows = Vec::new();
            let mut page = 1;
            loop {
                let q = rawx_model::filter::parse_list_query(
                    res,
                    &[
                        ("page_size".into(), "200".into()),
                        ("page".into(), page.to_string()),
                    ],
                )
                .unwrap();
                let p = self.store.list(res, &q).await.unwrap();
                let n = p.rows.len();
                rows.extend(p.rows.into_iter().map(Value::Object));
                if n < 200 {
                    break;
                }
                page += 1;
            }
            out.insert(res.key.into(), Value::Array(rows));
        }
        for rel in RELATIONS {
            let left = rawx_model::resources::by_key(rel.left.0).unwrap();
            let q =
                rawx_model::filter::parse_list_query(left, &[("page_size".into(), "200".into())])
                    .unwrap();
            let mut links = Vec::new();
            for row in self.store.list(left, &q).await.unwrap().rows {
                let id = row["id"].as_i64().unwrap();
                for r in self.store.linked(rel, true, id).await.unwrap() {
                    links.push(json!([id, r]));
                }
            }
            out.insert(rel.table.into(), Value::Array(links));
        }
        Value::Object(out)
    }
}

/// Org "Ops" (id 1) with one of everything, all with id 1; returns nothing, ids are known.
pub async fn world(api: &Api) {
    assert_eq!(
        api.make("/api/v2/organizations/", json!({"name": "Ops"}))
            .await,
        1
    );
    assert_eq!(
        api.make(
            "/api/v2/inventories/",
            json!({"name": "Lab", "organization": 1})
        )
        .await,
        1
    );
    assert_eq!(
        api.make("/api/v2/hosts/", json!({"name": "web1", "inventory": 1}))
            .await,
        1
    );
    assert_eq!(
        api.make("/api/v2/groups/", json!({"name": "web", "inventory": 1}))
            .await,
        1
    );
    let r = api
        .admin("POST", "/api/v2/groups/1/hosts/", Some(json!({"id": 1})))
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    assert_eq!(
        api.make(
            "/api/v2/credentials/",
            json!({"name": "key", "organization": 1, "credential_type": 1, "inputs": {"username": "u", "password": "s3cret"}})
        )
        .await,
        1
    );
    assert_eq!(
        api.make(
            "/api/v2/projects/",
            json!({"name": "demo", "organization": 1, "local_path": "demo"})
        )
        .await,
        1
    );
    assert_eq!(
        api.make(
            "/api/v2/labels/",
            json!({"name": "prod", "organization": 1})
        )
        .await,
        1
    );
    assert_eq!(
        api.make(
            "/api/v2/job_templates/",
            json!({"name": "hello", "project": 1, "inventory": 1, "playbook": "hello.yml"})
        )
        .await,
        1
    );
    let r = api
        .admin(
            "POST",
            "/api/v2/job_templates/1/credentials/",
            Some(json!({"id": 1})),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    assert_eq!(
        api.make("/api/v2/teams/", json!({"name": "ops", "organization": 1}))
            .await,
        1
    );
    assert_eq!(
        api.make("/api/v2/tokens/", json!({"description": "admin's"}))
            .await,
        1
    );
    api.make(
        "/api/v2/workflow_job_templates/",
        json!({"name": "flow", "organization": 1}),
    )
    .await;
    assert_eq!(
        api.make(
            "/api/v2/job_templates/1/schedules/",
            json!({"name": "nightly",
                "rrule": "DTSTART;TZID=Europe/Paris:20300101T020000 RRULE:FREQ=DAILY;INTERVAL=1"})
        )
        .await,
        1
    );
    // A job, launched and left pending: no task role runs in these tests.
    assert_eq!(
        api.make("/api/v2/job_templates/1/launch/", json!({})).await,
        1
    );
    // What the event ingester would have stored for it.
    let mut ev = rawx_model::Row::new();
    for (k, v) in [
        ("job", json!(1)),
        ("event", json!("runner_on_ok")),
        ("counter", json!(1)),
        ("host", json!(1)),
        ("host_name", json!("web1")),
        ("stdout", json!("ok: [web1]")),
        ("start_line", json!(0)),
        ("end_line", json!(1)),
        ("event_data", json!("{}")),
        ("uuid", json!("u-1")),
    ] {
        ev.insert(k.into(), v);
    }
    api.store
        .insert(&rawx_model::resources::JOB_EVENTS, &ev)
        .await
        .unwrap();
    // An ad hoc command, pending, with one stored event.
    assert_eq!(
        api.make(
            "/api/v2/ad_hoc_commands/",
            json!({"inventory": 1, "credential": 1, "module_name": "ping"})
        )
        .await,
        1
    );
    let mut aev = rawx_model::Row::new();
    for (k, v) in [
        ("ad_hoc_command", json!(1)),
        ("event", json!("runner_on_ok")),
        ("counter", json!(1)),
        ("host", json!(1)),
        ("host_name", json!("web1")),
        ("stdout", json!("web1 | SUCCESS")),
        ("start_line", json!(0)),
        ("end_line", json!(1)),
        ("event_data", json!("{}")),
        ("uuid", json!("a-1")),
    ] {
        aev.insert(k.into(), v);
    }
    api.store
        .insert(&rawx_model::resources::AD_HOC_COMMAND_EVENTS, &aev)
        .await
        .unwrap();
    let mut hs = rawx_model::Row::new();
    for (k, v) in [
        ("job", json!(1)),
        ("host", json!(1)),
        ("host_name", json!("web1")),
        ("ok", json!(1)),
    ] {
        hs.insert(k.into(), v);
    }
    api.store
        .insert(&rawx_model::resources::JOB_HOST_SUMMARIES, &hs)
        .await
        .unwrap();
    // The node the task role would have registered (no task role runs in these tests).
    let mut node = rawx_model::Row::new();
    for (k, v) in [
        ("hostname", json!("node1")),
        ("node_type", json!("hybrid")),
        ("capacity_adjustment", json!("1.00")),
        ("cpu_capacity", json!(8)),
        ("mem_capacity", json!(20)),
        ("capacity", json!(20)),
        ("enabled", json!(true)),
        ("node_state", json!("ready")),
    ] {
        node.insert(k.into(), v);
    }
    let node = api
        .store
        .insert(&rawx_model::resources::INSTANCES, &node)
        .await
        .unwrap();
    // A hybrid node is in both of the installer's groups (the task role's policies say so).
    for group in 1..=2 {
        api.store
            .link(&rawx_model::resources::INSTANCE_GROUP_MEMBERS, group, node)
            .await
            .unwrap();
    }
    // Where its Receptor listens (the task role learns that from the mesh).
    let mut addr = rawx_model::Row::new();
    for (k, v) in [
        ("address", json!("node1")),
        ("port", json!(27199)),
        ("protocol", json!("tcp")),
        ("canonical", json!(true)),
        ("instance", json!(node)),
    ] {
        addr.insert(k.into(), v);
    }
    api.store
        .insert(&rawx_model::resources::RECEPTOR_ADDRESSES, &addr)
        .await
        .unwrap();
}
