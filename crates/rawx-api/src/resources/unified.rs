//! What every kind of unified job shares (jobs and ad hoc commands today; project, inventory,
//! workflow and system jobs next): `stdout/`, `cancel/`, `relaunch/` (GET), the derived
//! `launched_by` and `elapsed`, no delete while active, the links AWX adds, and the lists
//! `/unified_jobs/` and `/unified_job_templates/`. A kind's module wires these with its
//! `JobKind`; only its relaunch POST is its own.

use crate::auth::Auth;
use crate::error::{ApiError, ApiResult};
use crate::handlers::fetch_visible;
use crate::resource::Routes;
use crate::view::Renderer;
use crate::AppState;
use axum::extract::{OriginalUri, Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, MethodRouter};
use axum::Json;
use rawx_domain::{launch, JobStatus};
use rawx_model::filter::Cond;
use rawx_model::filter::Filter;
use rawx_model::rbac::Actor;
use rawx_model::resources::{
    children_of, JobKind, TYPE_COLUMN, UNIFIED_JOBS, UNIFIED_JOB_TEMPLATES,
};
use rawx_model::schema::int;
use rawx_model::schema::{ColumnType, Relation, Resource};
use rawx_model::Row;
use serde_json::{json, Map, Value};
use std::collections::HashMap;
use std::sync::Arc;

type Ctx = State<Arc<AppState>>;

/// `stdout/`, `cancel/` and `relaunch/` of a kind (`relaunch` is its POST).
pub fn routes(
    kind: &'static JobKind,
    base: &'static str,
    relaunch: MethodRouter<Arc<AppState>>,
) -> Routes {
    let path = |tail: &str| -> &'static str {
        Box::leak(format!("{base}{{id}}/{tail}/").into_boxed_str())
    };
    vec![
        (
            path("stdout"),
            get(move |s: Ctx, a: Auth, p: Path<String>, q: RawQuery| {
                crate::stdout::stdout(kind, s, a, p, q)
            }),
        ),
        (
            path("cancel"),
            get(move |s: Ctx, a: Auth, p: Path<String>| cancel_get(kind, s, a, p))
                .post(move |s: Ctx, a: Auth, p: Path<String>| cancel_post(kind, s, a, p)),
        ),
        (
            path("relaunch"),
            relaunch.get(move |s: Ctx, a: Auth, p: Path<String>| relaunch_get(kind, s, a, p)),
        ),
    ]
}

/// The links every job has beyond its fields.
pub fn related(base: &str, row: &Row, related: &mut Map<String, Value>) {
    let id = int(row, "id").unwrap_or_default();
    for name in ["stdout", "cancel", "relaunch"] {
        related.insert(name.into(), json!(format!("{base}{id}/{name}/")));
    }
}

/// Where a kind of job comes from: the job's column naming its template, the templates'
/// resource key, and the `unified_job_type` AWX shows for the job.
pub struct Origin {
    pub column: &'static str,
    pub templates: &'static str,
    pub job_type: &'static str,
}

/// `related.unified_job_template`: the job's template.
pub fn template_link(origin: &Origin, row: &Row, related: &mut Map<String, Value>) {
    if let Some(t) = int(row, origin.column) {
        related.insert(
            "unified_job_template".into(),
            json!(format!("/api/v2/{}/{t}/", origin.templates)),
        );
    }
}

/// `summary_fields.unified_job_template`: the job's template, while it exists.
pub async fn template_summary(
    r: &mut Renderer<'_>,
    origin: &Origin,
    row: &Row,
    summary: &mut Map<String, Value>,
) -> ApiResult<()> {
    if let Some(t) = int(row, origin.column) {
        if let Some(found) = r.lookup(origin.templates, t).await? {
            summary.insert(
                "unified_job_template".into(),
                json!({"id": t, "name": found["name"], "description": found["description"],
                       "unified_job_type": origin.job_type}),
            );
        }
    }
    Ok(())
}

/// A job is deleted only once it has ended.
pub fn before_delete(row: &Row) -> ApiResult<()> {
    if !JobStatus::of(row).is_some_and(JobStatus::is_final) {
        return Err(ApiError::Forbidden(
            "Cannot delete running job resource.".into(),
        ));
    }
    Ok(())
}

/// AWX's derived job fields: `launched_by`, and `elapsed` counting up while the job runs.
pub async fn derived(
    r: &mut Renderer<'_>,
    row: &Row,
    out: &mut Map<String, Value>,
) -> ApiResult<()> {
    let launched_by = match int(row, "launched_by_user") {
        Some(uid) => match r.lookup("users", uid).await? {
            Some(u) => {
                json!({"id": uid, "name": u["username"], "type": "user", "url": format!("/api/v2/users/{uid}/")})
            }
            None => json!({}),
        },
        // AWX names the schedule as the launcher of a scheduled job.
        None => match int(row, "schedule") {
            Some(sid) => match r.lookup("schedules", sid).await? {
                Some(s) => {
                    json!({"id": sid, "name": s["name"], "type": "schedule", "url": format!("/api/v2/schedules/{sid}/")})
                }
                None => json!({}),
            },
            None => json!({}),
        },
    };
    out.insert("launched_by".into(), launched_by);
    if JobStatus::of(row) == Some(JobStatus::Running) {
        if let Some(started) = row.get("started").and_then(Value::as_str) {
            out.insert("elapsed".into(), json!(seconds_since(started)));
        }
    }
    if out.get("elapsed").is_none_or(Value::is_null) {
        out.insert("elapsed".into(), json!(0.0));
    }
    Ok(())
}

fn seconds_since(stamp: &str) -> f64 {
    rawx_model::elapsed_secs(stamp, &rawx_model::now_string())
}

/// `GET …/relaunch/`: what a relaunch would need: the passwords the job's credentials ask at
/// launch, as stored with the job.
pub async fn relaunch_get(
    kind: &'static JobKind,
    State(state): Ctx,
    Auth(ident): Auth,
    Path(raw): Path<String>,
) -> ApiResult<Json<Value>> {
    let job = fetch_visible(&state, &ident.actor, kind.resource, &raw).await?;
    let needed = match job.get("passwords_needed_to_start") {
        Some(Value::String(s)) => serde_json::from_str(s).unwrap_or(json!([])),
        Some(v @ Value::Array(_)) => v.clone(),
        _ => json!([]),
    };
    Ok(Json(json!({ "passwords_needed_to_start": needed })))
}

pub async fn cancel_get(
    kind: &'static JobKind,
    State(state): Ctx,
    Auth(ident): Auth,
    Path(raw): Path<String>,
) -> ApiResult<Json<Value>> {
    let job = fetch_visible(&state, &ident.actor, kind.resource, &raw).await?;
    let can = JobStatus::of(&job).is_some_and(JobStatus::can_cancel);
    Ok(Json(json!({"can_cancel": can})))
}

pub async fn cancel_post(
    kind: &'static JobKind,
    State(state): Ctx,
    Auth(ident): Auth,
    Path(raw): Path<String>,
) -> ApiResult<StatusCode> {
    let actor = &ident.actor;
    let job = fetch_visible(&state, actor, kind.resource, &raw).await?;
    // `JobAccess.can_cancel`: its launcher, or who the kind says.
    let own = int(&job, "launched_by_user") == Some(actor.user_id) && !actor.read_only_token;
    if !own
        && !state
            .api(kind.resource)
            .can_cancel(&mut Renderer::new(&state, actor), &job)
            .await?
    {
        return Err(ApiError::forbidden());
    }
    if !launch::request_cancel(&*state.store, &*state.bus, kind, &job).await? {
        return Err(ApiError::MethodNotAllowed("POST".into()));
    }
    let id = int(&job, "id").unwrap_or_default();
    tracing::info!(
        job = id,
        kind = kind.resource.type_name,
        user = ident.username(),
        "cancel requested"
    );
    Ok(StatusCode::ACCEPTED)
}

/// `/api/v2/unified_jobs/`: every kind of job in one list, as AWX's `UnifiedJobList`.
pub async fn unified_jobs(
    State(state): Ctx,
    Auth(ident): Auth,
    uri: OriginalUri,
    RawQuery(q): RawQuery,
) -> ApiResult<Json<Value>> {
    // `unified_job_node__workflow_job=N` (awxkit's workflow monitor): the jobs a workflow
    // job's nodes spawned, a span over a reverse relation the filter language does not know.
    let pairs: Vec<(String, String)> = q
        .as_deref()
        .map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
        .unwrap_or_default();
    let key = "unified_job_node__workflow_job";
    let Some((_, wj)) = pairs.iter().find(|(k, _)| k == key) else {
        return list_of(
            &state,
            &ident.actor,
            &UNIFIED_JOBS,
            &uri,
            &q,
            Filter::All(vec![]),
        )
        .await;
    };
    let wj: i64 = wj
        .parse()
        .map_err(|_| ApiError::field(key, "Enter a whole number."))?;
    let nodes = state
        .store
        .list_all(
            &rawx_model::resources::WORKFLOW_JOB_NODES,
            &Filter::eq("workflow_job", ColumnType::Int, json!(wj)),
            &[("id", false)],
        )
        .await?;
    let mut ids: Vec<Value> = nodes
        .iter()
        .filter_map(|n| n.get("job").cloned())
        .filter(|v| !v.is_null())
        .collect();
    if ids.is_empty() {
        ids.push(json!(-1));
    }
    let base = Filter::On {
        path: vec![],
        column: "id",
        ctype: ColumnType::Int,
        cond: Cond::In(ids),
    };
    let rest = {
        let mut rest = form_urlencoded::Serializer::new(String::new());
        for (k, v) in pairs.iter().filter(|(k, _)| k != key) {
            rest.append_pair(k, v);
        }
        Some(rest.finish())
    };
    list_of(&state, &ident.actor, &UNIFIED_JOBS, &uri, &rest, base).await
}

pub async fn unified_jobs_options(Auth(_): Auth) -> Response {
    crate::options::list(&UNIFIED_JOBS, false)
}

/// `/api/v2/unified_job_templates/`: job and workflow templates in one list, as AWX's
/// `UnifiedJobTemplateList`.
pub async fn unified_job_templates(
    State(state): Ctx,
    Auth(ident): Auth,
    uri: OriginalUri,
    RawQuery(q): RawQuery,
) -> ApiResult<Json<Value>> {
    list_of(
        &state,
        &ident.actor,
        &UNIFIED_JOB_TEMPLATES,
        &uri,
        &q,
        Filter::All(vec![]),
    )
    .await
}

/// A sub-list of the templates of every kind whose `column` names `id` (an execution
/// environment's `unified_job_templates/`, AWX's `ExecutionEnvironmentJobTemplateList`).
pub(crate) async fn templates_naming(
    state: &AppState,
    actor: &Actor,
    column: &'static str,
    id: i64,
    uri: &OriginalUri,
    q: &Option<String>,
) -> ApiResult<Json<Value>> {
    let base = Filter::eq(column, ColumnType::Int, json!(id));
    list_of(state, actor, &UNIFIED_JOB_TEMPLATES, uri, q, base).await
}

pub async fn unified_job_templates_options(Auth(_): Auth) -> Response {
    crate::options::list(&UNIFIED_JOB_TEMPLATES, false)
}

/// A parent table's list: the parent is filtered, ordered and paged (its columns are the ones
/// every kind shares, its read filter every kind's: the organization's), then each row is
/// rendered as its kind (AWX's `get_sub_serializer`), with one query per kind on the page.
pub(crate) async fn list_of(
    state: &AppState,
    actor: &Actor,
    parent: &'static Resource,
    uri: &OriginalUri,
    q: &Option<String>,
    base: Filter,
) -> ApiResult<Json<Value>> {
    let (params, lq, page) = crate::handlers::page_rows(state, actor, parent, base, q).await?;
    let mut children: HashMap<i64, (&'static Resource, Row)> = HashMap::new();
    for kind in children_of(parent) {
        let ids: Vec<Value> = page
            .rows
            .iter()
            .filter(|r| r.get(TYPE_COLUMN).and_then(Value::as_str) == Some(kind.type_name))
            .filter_map(|r| r.get("id").cloned())
            .collect();
        if ids.is_empty() {
            continue;
        }
        let f = Filter::On {
            path: vec![],
            column: "id",
            ctype: ColumnType::Int,
            cond: Cond::In(ids),
        };
        for row in state.store.list_all(kind, &f, &[("id", false)]).await? {
            children.insert(int(&row, "id").unwrap_or_default(), (kind, row));
        }
    }
    let mut r = Renderer::new(state, actor);
    r.list_view = true;
    r.truncate_stdout = !params.iter().any(|(k, _)| k == "no_truncate");
    let mut results = Vec::with_capacity(page.rows.len());
    for row in &page.rows {
        // A row whose kind's row went between the two reads is left out of this page.
        if let Some((kind, child)) = children.get(&int(row, "id").unwrap_or_default()) {
            results.push(r.render(kind, child).await?);
        }
    }
    Ok(crate::handlers::page_json(
        uri, &params, &lq, page.count, results,
    ))
}

/// A credential joining a saved launch configuration (a workflow node, a schedule: `owner`,
/// id `left`, through `relation`): AWX's 400 `{"msg": …}` when it may not. A credential
/// already there (a re-add, a removal) passes.
pub async fn config_credential(
    state: &AppState,
    relation: &'static Relation,
    owner: &Row,
    left: i64,
    right: i64,
) -> ApiResult<()> {
    let existing = state.store.linked(relation, true, left).await?;
    if existing.contains(&right) {
        return Ok(());
    }
    launch::check_config_credential(
        &*state.store,
        int(owner, "unified_job_template"),
        &existing,
        right,
    )
    .await?
    .map_err(|m| ApiError::Status(StatusCode::BAD_REQUEST, json!({ "msg": m })))
}

/// AWX's `LabelsListMixin._summary_field_labels`: `{count, results}` with the first ten of
/// the object's labels (`relation`, the object on its left), in the labels' order.
pub async fn labels_summary(
    r: &mut Renderer<'_>,
    relation: &'static Relation,
    id: i64,
) -> ApiResult<Value> {
    let mut labels = Vec::new();
    for l in r.state.store.linked(relation, true, id).await? {
        if let Ok(row) = r.state.store.get(&rawx_model::resources::LABELS, l).await {
            labels.push((
                int(&row, "organization").unwrap_or_default(),
                rawx_model::schema::text(&row, "name").to_string(),
                l,
            ));
        }
    }
    labels.sort();
    let results: Vec<Value> = labels
        .iter()
        .take(10)
        .map(|(_, name, id)| json!({"id": id, "name": name}))
        .collect();
    Ok(json!({"count": labels.len(), "results": results}))
}
