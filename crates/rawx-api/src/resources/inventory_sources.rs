//! Inventory sources and their updates (AWX's `InventorySourceSerializer`,
//! `InventoryUpdateSerializer` and their views): the source's validation, `update/`,
//! `/inventories/N/update_inventory_sources/`, the read-only `/hosts/N/inventory_sources/`
//! and `/groups/N/inventory_sources/`, and the update as a kind of unified job (`stdout/`,
//! `cancel/`, `events/`, `credentials/`). Running an update is the task role's; nothing runs
//! in the request.

use super::unified;
use crate::auth::Auth;
use crate::error::{ApiError, ApiResult};
use crate::handlers::{fetch_visible, page_response};
use crate::resource::{ResourceApi, Routes};
use crate::view::Renderer;
use crate::{AppState, Identity};
use axum::extract::{OriginalUri, Path, RawQuery, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Json;
use rawx_domain::inventory_updates::{can_update, create_update};
use rawx_model::filter::{Cond, Filter, Step};
use rawx_model::resources::{
    CLOUD_PROVIDERS, CREDENTIALS, CREDENTIAL_TYPES, GROUPS, HOSTS, INVENTORIES, INVENTORY_SOURCES,
    INVENTORY_SOURCE_GROUPS, INVENTORY_SOURCE_HOSTS, INVENTORY_UPDATES,
    INVENTORY_UPDATE_CREDENTIALS, INVENTORY_UPDATE_EVENTS, INVENTORY_UPDATE_KIND, PROJECTS,
};
use rawx_model::schema::{int, text, ColumnType, Relation, Resource};
use rawx_model::validate::parse_vars;
use rawx_model::Row;
use serde_json::{json, Map, Value};
use std::sync::Arc;

type Ctx = State<Arc<AppState>>;

/// `INV_ENV_VARIABLE_BLOCKED`: source variables that would replace the update's own
/// environment.
const BLOCKED_ENV: &[&str] = &["HOME", "USER", "_", "TERM", "PATH"];
/// `CONSTRUCTED_INVENTORY_SOURCE_EDITABLE_FIELDS`.
const CONSTRUCTED_EDITABLE: &[&str] =
    &["source_vars", "update_cache_timeout", "limit", "verbosity"];

pub struct InventorySources;

fn bad(body: Value) -> ApiError {
    ApiError::Status(StatusCode::BAD_REQUEST, body)
}

#[async_trait::async_trait]
impl ResourceApi for InventorySources {
    fn schema(&self) -> &'static Resource {
        &INVENTORY_SOURCES
    }

    async fn prepare(
        &self,
        state: &AppState,
        _ident: &Identity,
        row: &mut Row,
        existing: Option<&Row>,
    ) -> ApiResult<()> {
        prepare_source(state, row, existing).await
    }

    /// The hosts and groups a source brought in are listed, never attached by hand (AWX's
    /// lists are read-only).
    async fn check_link(
        &self,
        _state: &AppState,
        relation: &'static Relation,
        _left: i64,
        _right: i64,
    ) -> ApiResult<()> {
        if std::ptr::eq(relation, &INVENTORY_SOURCE_HOSTS)
            || std::ptr::eq(relation, &INVENTORY_SOURCE_GROUPS)
        {
            return Err(ApiError::MethodNotAllowed("POST".into()));
        }
        Ok(())
    }

    async fn before_delete(&self, state: &AppState, _ident: &Identity, row: &Row) -> ApiResult<()> {
        // AWX refuses while an update of the source runs (`UnifiedJobDeletionMixin`'s 409).
        let id = int(row, "id").unwrap_or_default();
        let active: Vec<Value> = state
            .store
            .project(
                &INVENTORY_UPDATES,
                &Filter::eq("inventory_source", ColumnType::Int, json!(id)).and(Filter::On {
                    path: vec![],
                    column: "status",
                    ctype: ColumnType::Text,
                    cond: Cond::In(
                        rawx_domain::JobStatus::names(rawx_domain::JobStatus::is_active)
                            .into_iter()
                            .map(|s| json!(s))
                            .collect(),
                    ),
                }),
                &["id"],
                &[("id", false)],
            )
            .await?
            .into_iter()
            .map(|r| json!({"type": "inventory_update", "id": r["id"]}))
            .collect();
        if !active.is_empty() {
            return Err(ApiError::Status(
                StatusCode::CONFLICT,
                json!({"error": "Resource is being used by running jobs.", "active_jobs": active}),
            ));
        }
        Ok(())
    }

    fn related(&self, row: &Row, related: &mut Map<String, Value>) {
        let id = int(row, "id").unwrap_or_default();
        related.insert(
            "update".into(),
            json!(format!("/api/v2/inventory_sources/{id}/update/")),
        );
    }

    async fn summary_fields(
        &self,
        r: &mut Renderer<'_>,
        row: &Row,
        summary: &mut Map<String, Value>,
    ) -> ApiResult<()> {
        // AWX: `credentials` holds the cloud credential (`credential` too, with `cloud`).
        let mut creds = Vec::new();
        if let Some(cid) = int(row, "credential") {
            if let Some(c) = r.lookup("credentials", cid).await? {
                let kind = match int(&c, "credential_type") {
                    Some(t) => r
                        .lookup("credential_types", t)
                        .await?
                        .map(|t| text(&t, "kind").to_string())
                        .unwrap_or_default(),
                    None => String::new(),
                };
                let s = json!({"id": cid, "name": c["name"], "description": c["description"],
                    "kind": kind, "cloud": true, "credential_type_id": c["credential_type"]});
                summary.insert("credential".into(), s.clone());
                creds.push(s);
            }
        }
        summary.insert("credentials".into(), Value::Array(creds));
        let id = int(row, "id").unwrap_or_default();
        let last = r
            .state
            .store
            .project(
                &INVENTORY_UPDATES,
                &Filter::eq("inventory_source", ColumnType::Int, json!(id)),
                &[
                    "id",
                    "name",
                    "status",
                    "failed",
                    "finished",
                    "description",
                    "license_error",
                ],
                &[("id", true)],
            )
            .await?;
        if let Some(u) = last.first() {
            let s = json!({"id": u["id"], "name": u["name"], "description": u["description"],
                "status": u["status"], "failed": u["failed"], "finished": u["finished"],
                "license_error": u["license_error"]});
            summary.insert("last_job".into(), s.clone());
            summary.insert("last_update".into(), s.clone());
            if rawx_domain::JobStatus::of(u).is_some_and(|st| st.is_active()) {
                summary.insert("current_update".into(), s.clone());
                summary.insert("current_job".into(), s);
            }
        }
        Ok(())
    }

    async fn user_capabilities(
        &self,
        r: &mut Renderer<'_>,
        row: &Row,
        caps: &mut Map<String, Value>,
    ) -> ApiResult<()> {
        let start = may_start(r, row).await?;
        caps.insert("start".into(), json!(start));
        caps.insert("schedule".into(), json!(start));
        Ok(())
    }

    fn routes(&self) -> Routes {
        vec![
            (
                "/api/v2/inventory_sources/{id}/update/",
                get(update_get).post(update_post),
            ),
            (
                "/api/v2/inventories/{id}/update_inventory_sources/",
                get(inventory_update_get).post(inventory_update_post),
            ),
            (
                "/api/v2/hosts/{id}/inventory_sources/",
                get(
                    |s: Ctx, a: Auth, p: Path<String>, u: OriginalUri, q: RawQuery| {
                        member_sources(&HOSTS, &INVENTORY_SOURCE_HOSTS, s, a, p, u, q)
                    },
                ),
            ),
            (
                "/api/v2/groups/{id}/inventory_sources/",
                get(
                    |s: Ctx, a: Auth, p: Path<String>, u: OriginalUri, q: RawQuery| {
                        member_sources(&GROUPS, &INVENTORY_SOURCE_GROUPS, s, a, p, u, q)
                    },
                ),
            ),
        ]
    }
}

/// `InventorySourceAccess.can_start`: the inventory's update role.
async fn may_start(r: &mut Renderer<'_>, source: &Row) -> ApiResult<bool> {
    if r.actor.read_only_token {
        return Ok(false);
    }
    match int(source, "inventory") {
        Some(inv) => {
            r.holds("inventories", inv, &["update_role", "admin_role"])
                .await
        }
        None => Ok(false),
    }
}

/// AWX's serializer rules (`InventorySourceSerializer.validate` and its field validators,
/// `cloud_credential_validation`), then what the server sets: the inventory's organization.
async fn prepare_source(state: &AppState, row: &mut Row, existing: Option<&Row>) -> ApiResult<()> {
    let keys: Vec<String> = row.keys().cloned().collect();
    let given = |f: &str| keys.iter().any(|k| k == f);
    let mut m = existing.cloned().unwrap_or_default();
    m.extend(row.clone());
    if let Some(old) = existing {
        // The inventory is set once (read-only after create).
        row.insert(
            "inventory".into(),
            old.get("inventory").cloned().unwrap_or(Value::Null),
        );
        m.insert(
            "inventory".into(),
            old.get("inventory").cloned().unwrap_or(Value::Null),
        );
        if text(old, "source") == "constructed" {
            for (k, v) in row.iter() {
                if old.get(k) != Some(v)
                    && !CONSTRUCTED_EDITABLE.contains(&k.as_str())
                    && k != "inventory"
                {
                    return Err(bad(
                        json!({"error": format!("Cannot change field '{k}' on a constructed inventory source.")}),
                    ));
                }
            }
        }
    }
    // `validate_source_vars`.
    if given("source_vars") {
        if let Ok(vars) = parse_vars(text(row, "source_vars")) {
            for k in vars.keys() {
                if BLOCKED_ENV.contains(&k.as_str()) {
                    return Err(ApiError::field(
                        "source_vars",
                        format!("`{k}` is a prohibited environment variable"),
                    ));
                }
            }
        }
    }
    // `validate_inventory`.
    let inventory = match int(&m, "inventory") {
        Some(i) => state.store.get(&INVENTORIES, i).await?,
        None => return Err(ApiError::field("inventory", "This field is required.")),
    };
    if existing.is_none() && matches!(text(&inventory, "kind"), "constructed" | "smart") {
        return Err(bad(
            json!({"inventory": {"detail": ["Cannot create Inventory Source for Smart or Constructed Inventories"]}}),
        ));
    }
    // `validate_source_project`.
    let project = match int(&m, "source_project") {
        Some(p) => Some(state.store.get(&PROJECTS, p).await?),
        None => None,
    };
    if given("source_project") {
        if let Some(p) = &project {
            if text(p, "scm_type").is_empty() {
                return Err(ApiError::field(
                    "source_project",
                    "Cannot use manual project for SCM-based inventory.",
                ));
            }
        }
    }
    let source = text(&m, "source").to_string();
    let constructed_existing = existing.is_some_and(|o| text(o, "source") == "constructed");
    if constructed_existing {
    } else if source == "scm" {
        if (given("source") || given("source_project")) && project.is_none() {
            return Err(ApiError::field(
                "source_project",
                "Project required for scm type sources.",
            ));
        }
    } else if source == "constructed" {
        return Err(bad(
            json!({"error": "constructed not a valid source for inventory"}),
        ));
    } else {
        let redundant: Vec<&str> = ["source_project", "source_path", "scm_branch"]
            .into_iter()
            .filter(|f| row.get(*f).is_some_and(truthy))
            .collect();
        if !redundant.is_empty() {
            return Err(bad(
                json!({"detail": format!("Cannot set {} if not SCM type.", redundant.join(" "))}),
            ));
        }
    }
    if !text(&m, "scm_branch").is_empty() {
        if let Some(p) = &project {
            if p.get("allow_override") != Some(&json!(true)) {
                return Err(ApiError::field(
                    "scm_branch",
                    "Project does not allow overriding branch.",
                ));
            }
        }
    }
    // `cloud_credential_validation`.
    let cred = match int(&m, "credential") {
        Some(c) => Some(state.store.get(&CREDENTIALS, c).await?),
        None => None,
    };
    if given("credential") || given("source") || existing.is_none() {
        if let Some(msg) = credential_error(state, &source, cred.as_ref()).await? {
            return Err(ApiError::field("credential", msg));
        }
    }
    row.insert(
        "organization".into(),
        inventory
            .get("organization")
            .cloned()
            .unwrap_or(Value::Null),
    );
    Ok(())
}

fn truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::String(s) => !s.is_empty(),
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        _ => true,
    }
}

/// AWX's `InventorySourceOptions.cloud_credential_validation`.
async fn credential_error(
    state: &AppState,
    source: &str,
    cred: Option<&Row>,
) -> ApiResult<Option<String>> {
    if source.is_empty() {
        return Ok(None);
    }
    let kind = match cred {
        Some(c) => {
            let t = state
                .store
                .get(
                    &CREDENTIAL_TYPES,
                    int(c, "credential_type").unwrap_or_default(),
                )
                .await?;
            Some((
                text(&t, "namespace").to_string(),
                text(&t, "kind").to_string(),
            ))
        }
        None => None,
    };
    Ok(match kind {
        // A credential's `kind` in AWX is its type's namespace (`aws`, `gce`, …).
        Some((ns, _)) if !["custom", "scm", "openshift_virtualization"].contains(&source) => {
            (source.replace("ec2", "aws") != ns).then(|| {
                format!("Cloud-based inventory sources (such as {source}) require credentials for the matching cloud service.")
            })
        }
        None if CLOUD_PROVIDERS.contains(&source)
            && !["ec2", "openshift_virtualization"].contains(&source) =>
        {
            Some("Credential is required for a cloud source.".into())
        }
        Some((_, k)) if source == "scm" && ["insights", "vault"].contains(&k.as_str()) => Some(
            "Credentials of type insights and vault are disallowed for scm inventory sources."
                .into(),
        ),
        Some((_, k)) if source == "openshift_virtualization" && k != "kubernetes" => Some(
            "Credentials of type kubernetes is requred for openshift_virtualization inventory sources."
                .into(),
        ),
        _ => None,
    })
}

async fn start(state: &AppState, ident: &Identity, source: &Row) -> ApiResult<(i64, Value)> {
    let inventory = state
        .store
        .get(&INVENTORIES, int(source, "inventory").unwrap_or_default())
        .await?;
    let id = create_update(
        &*state.store,
        &*state.bus,
        source,
        Some(ident.actor.user_id),
        "manual",
        text(&inventory, "name"),
    )
    .await?;
    let row = state.store.get(&INVENTORY_UPDATES, id).await?;
    let body = Renderer::new(state, &ident.actor)
        .render(&INVENTORY_UPDATES, &row)
        .await?;
    Ok((id, body))
}

async fn update_get(
    State(state): Ctx,
    Auth(ident): Auth,
    Path(raw): Path<String>,
) -> ApiResult<Json<Value>> {
    let source = fetch_visible(&state, &ident.actor, &INVENTORY_SOURCES, &raw).await?;
    Ok(Json(json!({"can_update": can_update(&source)})))
}

/// `POST /inventory_sources/N/update/`: 202 with the update (and its id under
/// `inventory_update`), 405 when the source cannot update (a file source).
async fn update_post(
    State(state): Ctx,
    Auth(ident): Auth,
    Path(raw): Path<String>,
) -> ApiResult<Response> {
    let source = fetch_visible(&state, &ident.actor, &INVENTORY_SOURCES, &raw).await?;
    if !may_start(&mut Renderer::new(&state, &ident.actor), &source).await? {
        return Err(ApiError::forbidden());
    }
    if !can_update(&source) {
        return Err(ApiError::MethodNotAllowed("POST".into()));
    }
    let (id, body) = start(&state, &ident, &source).await?;
    let mut out = Map::new();
    out.insert("inventory_update".into(), json!(id));
    if let Value::Object(b) = body {
        out.extend(b);
    }
    Ok((
        StatusCode::ACCEPTED,
        [(header::LOCATION, format!("/api/v2/inventory_updates/{id}/"))],
        Json(Value::Object(out)),
    )
        .into_response())
}

async fn inventory_sources_of(state: &AppState, inventory: i64) -> ApiResult<Vec<Row>> {
    Ok(state
        .store
        .list_all(
            &INVENTORY_SOURCES,
            &Filter::eq("inventory", ColumnType::Int, json!(inventory)),
            &[("id", false)],
        )
        .await?
        .into_iter()
        .filter(|s| !text(s, "source").is_empty())
        .collect())
}

async fn inventory_update_get(
    State(state): Ctx,
    Auth(ident): Auth,
    Path(raw): Path<String>,
) -> ApiResult<Json<Value>> {
    let inv = fetch_visible(&state, &ident.actor, &INVENTORIES, &raw).await?;
    let out: Vec<Value> = inventory_sources_of(&state, int(&inv, "id").unwrap_or_default())
        .await?
        .iter()
        .map(|s| json!({"inventory_source": s["id"], "can_update": can_update(s)}))
        .collect();
    Ok(Json(Value::Array(out)))
}

/// `POST /inventories/N/update_inventory_sources/`: every source that can update starts.
async fn inventory_update_post(
    State(state): Ctx,
    Auth(ident): Auth,
    Path(raw): Path<String>,
) -> ApiResult<Response> {
    let inv = fetch_visible(&state, &ident.actor, &INVENTORIES, &raw).await?;
    let inv_id = int(&inv, "id").unwrap_or_default();
    let mut r = Renderer::new(&state, &ident.actor);
    if ident.actor.read_only_token
        || !r
            .holds("inventories", inv_id, &["update_role", "admin_role"])
            .await?
    {
        return Err(ApiError::forbidden());
    }
    let (mut ok, mut failed) = (0, 0);
    let mut out = Vec::new();
    for s in inventory_sources_of(&state, inv_id).await? {
        let mut d = Map::new();
        d.insert("inventory_source".into(), s["id"].clone());
        d.insert("status".into(), Value::Null);
        if can_update(&s) {
            let (id, body) = start(&state, &ident, &s).await?;
            if let Value::Object(b) = body {
                d.extend(b);
            }
            d.insert("status".into(), json!("started"));
            d.insert("inventory_update".into(), json!(id));
            ok += 1;
        } else {
            d.insert(
                "status".into(),
                json!("Could not start because `can_update` returned False"),
            );
            failed += 1;
        }
        out.push(Value::Object(d));
    }
    let code = match (ok, failed) {
        (0, 0) => {
            return Err(bad(json!({"detail": "No inventory sources to update."})));
        }
        (0, _) => StatusCode::BAD_REQUEST,
        (_, 0) => StatusCode::OK,
        _ => StatusCode::ACCEPTED,
    };
    Ok((code, Json(Value::Array(out))).into_response())
}

/// `/hosts/N/inventory_sources/`, `/groups/N/inventory_sources/`: the sources that brought
/// the host or group in.
async fn member_sources(
    res: &'static Resource,
    relation: &'static Relation,
    State(state): Ctx,
    Auth(ident): Auth,
    Path(raw): Path<String>,
    uri: OriginalUri,
    RawQuery(q): RawQuery,
) -> ApiResult<Json<Value>> {
    let member = fetch_visible(&state, &ident.actor, res, &raw).await?;
    let f = Filter::On {
        path: vec![Step::Link {
            relation,
            from_left: true,
        }],
        column: "id",
        ctype: ColumnType::Int,
        cond: Cond::In(vec![member["id"].clone()]),
    };
    page_response(&state, &ident.actor, &INVENTORY_SOURCES, f, &uri, &q).await
}

pub struct InventoryUpdates;

const UPDATE_ORIGIN: unified::Origin = unified::Origin {
    column: "inventory_source",
    templates: "inventory_sources",
    job_type: "inventory_update",
};

#[async_trait::async_trait]
impl ResourceApi for InventoryUpdates {
    fn schema(&self) -> &'static Resource {
        &INVENTORY_UPDATES
    }

    async fn before_delete(
        &self,
        _state: &AppState,
        _ident: &Identity,
        row: &Row,
    ) -> ApiResult<()> {
        unified::before_delete(row)
    }

    fn related(&self, row: &Row, related: &mut Map<String, Value>) {
        let id = int(row, "id").unwrap_or_default();
        for name in ["stdout", "cancel"] {
            related.insert(
                name.into(),
                json!(format!("/api/v2/inventory_updates/{id}/{name}/")),
            );
        }
        unified::template_link(&UPDATE_ORIGIN, row, related);
    }

    async fn summary_fields(
        &self,
        r: &mut Renderer<'_>,
        row: &Row,
        summary: &mut Map<String, Value>,
    ) -> ApiResult<()> {
        let id = int(row, "id").unwrap_or_default();
        unified::template_summary(r, &UPDATE_ORIGIN, row, summary).await?;
        let creds = r
            .state
            .store
            .linked(&INVENTORY_UPDATE_CREDENTIALS, true, id)
            .await?;
        if let Some(c) = creds.first() {
            if let Some(cred) = r.lookup("credentials", *c).await? {
                let t = match int(&cred, "credential_type") {
                    Some(t) => r.lookup("credential_types", t).await?,
                    None => None,
                };
                let kind = t
                    .as_ref()
                    .map(|t| text(t, "namespace").to_string())
                    .unwrap_or_default();
                let cloud = t.as_ref().is_some_and(|t| text(t, "kind") == "cloud");
                summary.insert(
                    "credential".into(),
                    json!({"id": c, "name": cred["name"], "description": cred["description"],
                           "kind": kind, "cloud": cloud}),
                );
            }
        }
        Ok(())
    }

    async fn derived(
        &self,
        r: &mut Renderer<'_>,
        row: &Row,
        out: &mut Map<String, Value>,
    ) -> ApiResult<()> {
        unified::derived(r, row, out).await
    }

    fn routes(&self) -> Routes {
        let mut routes = unified::routes(
            &INVENTORY_UPDATE_KIND,
            "/api/v2/inventory_updates/",
            // Inventory updates have no relaunch in AWX: a source is updated again instead.
            post(|| async { ApiError::MethodNotAllowed("POST".into()) }),
        );
        routes.retain(|(p, _)| !p.ends_with("/relaunch/"));
        routes
    }
}

pub struct InventoryUpdateEvents;

#[async_trait::async_trait]
impl ResourceApi for InventoryUpdateEvents {
    fn schema(&self) -> &'static Resource {
        &INVENTORY_UPDATE_EVENTS
    }
}
