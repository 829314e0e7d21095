//! AWX's API in process (feature `api`): a real SQLite store in a temp dir, seeded as a first
//! start seeds it (admin/pw, AWX's instance groups and credential types), the manual project
//! dir holding `demo/hello.yml`, and the API's router called directly, with no server and no
//! port. For the API's own suites and the task role's fast tests, which make objects and launch
//! and cancel jobs exactly as users do.

use crate::server::{ADMIN_PW, PLAYBOOK};
use axum::body::Body;
use axum::http::{header, HeaderMap, Method, Request, StatusCode};
use base64::Engine;
use http_body_util::BodyExt;
use rawx_bus::{Bus, InProcessBus};
use rawx_model::resources::{ALL, RELATIONS};
use rawx_model::secret::SecretKey;
use rawx_store::DynStore;
use serde_json::{json, Value};
use std::path::PathBuf;
use std::sync::Arc;
use tower::ServiceExt;

/// One answer of the API.
#[derive(Debug)]
pub struct Resp {
    pub status: StatusCode,
    pub headers: HeaderMap,
    /// The body as JSON (`null` when it is not JSON).
    pub body: Value,
    pub text: String,
}

pub struct Api {
    pub router: axum::Router,
    pub store: DynStore,
    pub bus: Arc<InProcessBus>,
    /// The secret key's text (for a task role sharing the database).
    pub key: String,
    /// The data dir: `rawx.db`, `projects/`. Removed on drop.
    pub dir: tempfile::TempDir,
}

impl Api {
    /// A fresh database and an API over it calling itself node `test`.
    pub async fn new() -> Api {
        Api::named("test").await
    }

    /// The same, for a web node called `node_name`.
    pub async fn named(node_name: &str) -> Api {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}", dir.path().join("rawx.db").display());
        let store = rawx_store::open(&url).await.expect("open the store");
        store.migrate().await.expect("migrate");
        let seeded = rawx_api::seed(&store, Some(ADMIN_PW.into()))
            .await
            .expect("seed");
        let projects = dir.path().join("projects");
        std::fs::create_dir_all(projects.join("demo")).unwrap();
        std::fs::write(projects.join("demo/hello.yml"), PLAYBOOK).unwrap();
        let key = SecretKey::generate();
        let bus = InProcessBus::new();
        let config = rawx_api::Config {
            node_name: node_name.into(),
            projects_dir: projects,
            install_uuid: seeded.install_uuid,
        };
        let state = rawx_api::AppState::new(
            store.clone(),
            bus.clone() as Arc<dyn Bus>,
            SecretKey::from_text(&key).unwrap(),
            config,
        );
        Api {
            router: rawx_api::router(state),
            store,
            bus,
            key,
            dir,
        }
    }

    pub fn projects_dir(&self) -> PathBuf {
        self.dir.path().join("projects")
    }

    /// `method path` with HTTP Basic `auth` (anonymous when `None`) and a JSON body.
    pub async fn call(
        &self,
        method: &str,
        path: &str,
        auth: Option<(&str, &str)>,
        body: Option<Value>,
    ) -> Resp {
        let mut req = request(method, path, auth);
        let body = match body {
            Some(v) => {
                req = req.header(header::CONTENT_TYPE, "application/json");
                Body::from(v.to_string())
            }
            None => Body::empty(),
        };
        self.send(req.body(body).unwrap()).await
    }

    /// A body sent as is, with its own content type (malformed JSON, forms).
    pub async fn raw(
        &self,
        method: &str,
        path: &str,
        auth: (&str, &str),
        content_type: &str,
        body: &str,
    ) -> Resp {
        let req = request(method, path, Some(auth))
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
        Resp {
            status,
            headers,
            body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
            text: String::from_utf8_lossy(&bytes).into_owned(),
        }
    }

    /// As the seeded superuser.
    pub async fn admin(&self, method: &str, path: &str, body: Option<Value>) -> Resp {
        self.call(method, path, Some(("admin", ADMIN_PW)), body)
            .await
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

    /// `POST path {"id": id}` as admin (associate), which must succeed.
    pub async fn associate(&self, path: &str, id: i64) {
        let r = self.admin("POST", path, Some(json!({ "id": id }))).await;
        assert_eq!(
            r.status,
            StatusCode::NO_CONTENT,
            "POST {path} id {id}: {}",
            r.text
        );
    }

    pub async fn user(&self, name: &str, password: &str) -> i64 {
        self.make(
            "/api/v2/users/",
            json!({"username": name, "password": password}),
        )
        .await
    }

    /// Everything the database holds (every resource's rows and every relation's links), to
    /// prove that a refused request changed nothing.
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

fn request(method: &str, path: &str, auth: Option<(&str, &str)>) -> axum::http::request::Builder {
    let mut req = Request::builder()
        .method(Method::from_bytes(method.as_bytes()).unwrap())
        .uri(path);
    if let Some((u, p)) = auth {
        let b = base64::engine::general_purpose::STANDARD.encode(format!("{u}:{p}"));
        req = req.header(header::AUTHORIZATION, format!("Basic {b}"));
    }
    req
}
