//! rawx's web role: AWX's REST API (`/api/`, `/api/v2/…`) over the store, in AWX's JSON shapes,
//! so that AWX's own clients — the `awx` CLI, the `awx.awx` collection — work unchanged.
//!
//! API boundary: this crate writes state through `rawx_store::Store` and signals the bus (through
//! `rawx-domain`, which also does launch, cancel and relaunch); it never runs jobs. Every
//! resource route is generic over the schema in `rawx-model`, so request validation, OPTIONS
//! metadata and filtering come from one description; what differs by resource is its
//! `resource::ResourceApi` (`resources/`), never a branch on its key in the generic files.
//!
//! Must never depend on: `rawx-control`, `rawx-supervisor`, `rawx-logship`, `rawx-runner`,
//! `rawx-mesh`, `rawx-ee` (checked by `scripts/check-layout.sh`).
//!
//! Architecture invariant: no handler reads or writes a resource without a permission check —
//! `tests/permissions.rs` walks every route `routes()` lists as an unprivileged user.

mod activity;
pub mod admin;
mod auth;
mod dashboard;
mod error;
mod handlers;
mod license;
mod metrics;
mod named;
mod options;
mod playbooks;
mod render;
mod resource;
mod resources;
mod root;
mod seed;
mod settings;
mod special;
mod stdout;
mod view;
mod write;
pub mod ws;

pub use auth::{hash_password, AuthMethod, Identity};
pub use error::{ApiError, ApiResult};
pub use root::ABSENT as ABSENT_RESOURCES;
pub use seed::{create_user, preload, seed, set_password, show_execution_environment, Seeded};

use axum::http::HeaderValue;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use rawx_model::secret::SecretKey;
use rawx_store::DynStore;
use resource::Routes;
use resources::unified;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// What AWX version rawx answers as: the collection warns unless the major version is 24.
pub const AWX_VERSION: &str = "24.6.1";

#[derive(Debug, Clone)]
pub struct Config {
    /// `X-API-Node` and `ping.active_node`.
    pub node_name: String,
    /// Where manual projects' `local_path` directories live.
    pub projects_dir: PathBuf,
    pub install_uuid: String,
}

/// One supervised component as ping and `/metrics/` show it.
#[derive(Debug, Clone)]
pub struct ComponentState {
    pub name: &'static str,
    /// `starting`, `running`, `backoff`, `stopped` or `failed`.
    pub state: &'static str,
    pub restarts: u32,
    pub last_error: Option<String>,
}

/// The supervisor's view of this process's components, as the binary hands it to the API (the
/// API reads it; it does not supervise anything).
pub trait Components: Send + Sync {
    fn snapshot(&self) -> Vec<ComponentState>;
}

/// No components: the API alone (tests, `rawx manage import`).
impl Components for () {
    fn snapshot(&self) -> Vec<ComponentState> {
        Vec::new()
    }
}

/// What the operations endpoints (ping's `components`, `/api/v2/metrics/`) read from the
/// process around the API; empty when the API runs alone (tests).
#[derive(Clone)]
pub struct Ops {
    /// The supervisor's view of every component of this process.
    pub components: Arc<dyn Components>,
    /// The process's metrics recorder (counters the other roles keep), rendered at `/metrics/`.
    pub prometheus: Option<metrics_exporter_prometheus::PrometheusHandle>,
}

impl Default for Ops {
    fn default() -> Self {
        Ops {
            components: Arc::new(()),
            prometheus: None,
        }
    }
}

pub struct AppState {
    pub store: DynStore,
    pub bus: Arc<dyn rawx_bus::Bus>,
    pub key: SecretKey,
    pub config: Config,
    pub ops: Ops,
    resources: &'static resource::Registry,
    basic_cache: Mutex<HashMap<[u8; 32], Instant>>,
}

impl AppState {
    pub fn new(
        store: DynStore,
        bus: Arc<dyn rawx_bus::Bus>,
        key: SecretKey,
        config: Config,
    ) -> Arc<Self> {
        Self::with_ops(store, bus, key, config, Ops::default())
    }

    pub fn with_ops(
        store: DynStore,
        bus: Arc<dyn rawx_bus::Bus>,
        key: SecretKey,
        config: Config,
        ops: Ops,
    ) -> Arc<Self> {
        Arc::new(AppState {
            store,
            bus,
            key,
            config,
            ops,
            resources: resources::registry(),
            basic_cache: Mutex::new(HashMap::new()),
        })
    }

    /// What differs for `res`: its access questions, checks, JSON and routes.
    fn api(&self, res: &rawx_model::schema::Resource) -> &'static dyn resource::ResourceApi {
        self.resources.get(res.key)
    }

    /// `api` by the resource's key (foreign-key targets and relation sides name it so).
    fn api_of(&self, key: &str) -> &'static dyn resource::ResourceApi {
        self.resources.get(key)
    }

    /// AWX's settings, read through the domain's registry.
    pub fn settings(&self) -> rawx_domain::settings::Settings<'_> {
        rawx_domain::settings::Settings::new(&*self.store, &self.config.install_uuid)
    }

    fn stamp(&self, mut resp: Response, started: Instant, authed: bool) -> Response {
        let h = resp.headers_mut();
        h.insert("X-API-Product-Name", HeaderValue::from_static("AWX"));
        if let Ok(v) = HeaderValue::from_str(&self.config.node_name) {
            h.insert("X-API-Node", v);
        }
        if let Ok(v) = HeaderValue::from_str(&format!("{:.3}s", started.elapsed().as_secs_f64())) {
            h.insert("X-API-Time", v);
        }
        if authed {
            h.insert(
                "X-API-Product-Version",
                HeaderValue::from_static(AWX_VERSION),
            );
        }
        resp
    }
}

/// Every route of the API, in one table: the router is built from it and `routes()` expands
/// it, so a route added here or by a resource's `ResourceApi::routes` is served and
/// permission-tested at once. The generic routes come last.
fn table() -> Routes {
    let mut out = fixed();
    let mut extra: Vec<_> = resources::registry().all().collect();
    extra.sort_by_key(|api| api.schema().key);
    for api in extra {
        out.extend(api.routes());
    }
    out.extend(generic());
    out
}

/// Routes that belong to no one resource.
fn fixed() -> Routes {
    vec![
        ("/api/", get(root::api_root)),
        ("/api/login/", get(root::login_form).post(root::login)),
        ("/api/logout/", get(root::logout).post(root::logout)),
        ("/api/o/", get(root::oauth_root)),
        ("/api/v2/", get(root::v2_root)),
        ("/api/v2/ping/", get(special::ping)),
        (
            "/api/v2/config/",
            get(special::config)
                .post(license::post_config)
                .delete(license::delete_config),
        ),
        (
            "/api/v2/config/subscriptions/",
            get(license::post_only).post(license::subscriptions),
        ),
        (
            "/api/v2/config/attach/",
            get(license::post_only).post(license::attach),
        ),
        ("/api/v2/me/", get(special::me)),
        ("/api/v2/metrics/", get(metrics::metrics)),
        ("/api/v2/dashboard/", get(metrics::dashboard)),
        ("/api/v2/dashboard/graphs/jobs/", get(dashboard::jobs_graph)),
        (
            "/api/v2/mesh_visualizer/",
            get(resources::receptor_addresses::mesh_visualizer),
        ),
        ("/api/v2/projects/{id}/playbooks/", get(playbooks::list)),
        (
            "/api/v2/projects/{id}/inventories/",
            get(playbooks::inventories),
        ),
        (
            "/api/v2/settings/",
            get(settings::categories).options(settings::options_categories),
        ),
        (
            "/api/v2/settings/logging/test/",
            get(settings::logging_test_get).post(settings::logging_test),
        ),
        (
            "/api/v2/settings/{slug}/",
            get(settings::get_category)
                .put(settings::put_category)
                .patch(settings::patch_category)
                .delete(settings::reset_category)
                .options(settings::options_category),
        ),
        ("/api/v2/bulk/", get(resources::bulk::root)),
        (
            "/api/v2/bulk/host_create/",
            get(resources::bulk::host_create_get).post(resources::bulk::host_create),
        ),
        (
            "/api/v2/bulk/host_delete/",
            get(resources::bulk::host_delete_get).post(resources::bulk::host_delete),
        ),
        (
            "/api/v2/bulk/job_launch/",
            get(resources::bulk::job_launch_get).post(resources::bulk::job_launch),
        ),
        (
            "/api/v2/unified_jobs/",
            get(unified::unified_jobs).options(unified::unified_jobs_options),
        ),
        (
            "/api/v2/unified_job_templates/",
            get(unified::unified_job_templates).options(unified::unified_job_templates_options),
        ),
        (
            "/api/v2/applications/",
            get(root::absent_list).options(root::absent_options),
        ),
        (
            "/api/v2/system_job_templates/",
            get(root::absent_list).options(root::absent_options),
        ),
    ]
}

/// The generic resource routes, for every resource of the schema.
fn generic() -> Routes {
    vec![
        (
            "/api/v2/{res}/",
            get(handlers::list)
                .post(handlers::create)
                .options(handlers::list_options),
        ),
        (
            "/api/v2/{res}/{id}/",
            get(handlers::retrieve)
                .put(handlers::replace)
                .patch(handlers::patch)
                .delete(handlers::destroy)
                .options(handlers::detail_options),
        ),
        (
            "/api/v2/{res}/{id}/{sub}/",
            get(handlers::sub_list)
                .post(handlers::sub_post)
                .options(handlers::sub_options),
        ),
    ]
}

pub fn router(state: Arc<AppState>) -> Router {
    table()
        .into_iter()
        .fold(Router::new(), |r, (path, methods)| r.route(path, methods))
        .fallback(root::not_found)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            auth::identify,
        ))
        .with_state(state.clone())
        // Outside `identify`: a websocket handshake that fails to authenticate gets 403.
        .merge(ws::router(state))
}

/// Concrete paths of every route of `table()`, with `1` for ids: what the permission suite
/// walks.
pub fn routes() -> Vec<String> {
    let public: Vec<_> = rawx_model::resources::ALL
        .iter()
        .filter(|r| r.is_public())
        .collect();
    let mut out = Vec::new();
    for (path, _) in table() {
        if path.contains("{slug}") {
            out.extend(
                rawx_domain::settings::categories()
                    .into_iter()
                    .map(|(s, _)| path.replace("{slug}", s)),
            );
        } else if path.contains("{sub}") {
            for res in &public {
                for sub in res.subs {
                    out.push(
                        path.replace("{res}", res.key)
                            .replace("{id}", "1")
                            .replace("{sub}", sub.name),
                    );
                }
            }
        } else if path.contains("{res}") {
            out.extend(
                public
                    .iter()
                    .map(|r| path.replace("{res}", r.key).replace("{id}", "1")),
            );
        } else {
            out.push(path.replace("{id}", "1"));
        }
    }
    out
}

/// Serves `router` on an already-bound listener until `shutdown` resolves, finishing
/// in-flight requests first. Taking a listener lets tests bind port 0.
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: Router,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router)
        .with_graceful_shutdown(shutdown)
        .await
}
