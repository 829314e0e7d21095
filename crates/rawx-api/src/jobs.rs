//! Jobs in the API: launch (validate, write a pending job, signal the task role — nothing runs
//! in the request), stdout, cancel, relaunch, and the parts of a job's and an event's JSON
//! that AWX derives.

use crate::auth::Auth;
use crate::error::{ApiError, ApiResult};
use crate::handlers::{fetch_visible, json_body};
use crate::render::{url_of, Renderer};
use crate::AppState;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use rawx_domain::{launch, JobStatus};
use rawx_model::filter::Filter;
use rawx_model::resources::{JobKind, JOBS, JOB_CREDENTIALS, JOB_TEMPLATES, VERBOSITY};
use rawx_model::schema::Resource;
use rawx_model::schema::{int, text};
use rawx_model::Row;
use serde_json::{json, Map, Value};
use std::sync::Arc;

type Ctx = State<Arc<AppState>>;

/// Links AWX adds to a job's and a template's `related`.
pub fn related(res: &Resource, row: &Row, related: &mut Map<String, Value>) {
    let id = int(row, "id").unwrap_or_default();
    let base = url_of(res, id);
    let extra: &[&str] = match res.key {
        "jobs" | "ad_hoc_commands" => &["stdout", "cancel", "relaunch"],
        "job_templates" => &["launch"],
        "instances" => &["health_check"],
        _ => &[],
    };
    for name in extra {
        related.insert((*name).into(), json!(format!("{base}{name}/")));
    }
    if res.key == "jobs" {
        if let Some(jt) = int(row, "job_template") {
            related.insert(
                "unified_job_template".into(),
                json!(format!("/api/v2/job_templates/{jt}/")),
            );
        }
    }
}

pub async fn job_summary(
    r: &mut Renderer<'_>,
    row: &Row,
    summary: &mut Map<String, Value>,
) -> ApiResult<()> {
    if let Some(jt) = int(row, "job_template") {
        if let Some(t) = r.lookup("job_templates", jt).await? {
            summary.insert(
                "unified_job_template".into(),
                json!({"id": jt, "name": t["name"], "description": t["description"], "unified_job_type": "job"}),
            );
        }
    }
    let mut creds = Vec::new();
    for cid in r
        .state
        .store
        .linked(&JOB_CREDENTIALS, true, int(row, "id").unwrap_or_default())
        .await?
    {
        if let Some(c) = r.lookup("credentials", cid).await? {
            creds.push(json!({"id": cid, "name": c["name"], "description": c["description"], "kind": c["kind"], "cloud": c["cloud"]}));
        }
    }
    summary.insert("credentials".into(), Value::Array(creds));
    Ok(())
}

pub async fn event_summary(
    r: &mut Renderer<'_>,
    row: &Row,
    summary: &mut Map<String, Value>,
) -> ApiResult<()> {
    let Some(jid) = int(row, "job") else {
        return Ok(());
    };
    if let Some(j) = r.lookup("jobs", jid).await? {
        summary.insert(
            "job".into(),
            json!({
                "id": jid, "name": j["name"], "status": j["status"], "failed": j["failed"],
                "elapsed": j["elapsed"], "type": "job",
                "job_template_id": j["job_template"], "job_template_name": j["name"],
            }),
        );
    }
    Ok(())
}

/// AWX's derived job fields: `launched_by`, and `elapsed` counting up while the job runs.
pub async fn job_fields(
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
    if text(row, "status") == "running" {
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
    let parse = |s: &str| {
        time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).ok()
    };
    match parse(stamp) {
        Some(t) => {
            ((time::OffsetDateTime::now_utc() - t).as_seconds_f64() * 1000.0).round() / 1000.0
        }
        None => 0.0,
    }
}

pub fn truncate_event_stdout(out: &mut Map<String, Value>) {
    let is_playbook_event = out
        .get("event")
        .and_then(Value::as_str)
        .is_some_and(|e| e.starts_with("playbook_on_"));
    if is_playbook_event {
        return;
    }
    if let Some(Value::String(s)) = out.get_mut("stdout") {
        if s.chars().count() > 1024 {
            *s = s.chars().take(1024).collect();
        }
    }
}

fn may_launch(jt_writable: bool) -> ApiResult<()> {
    if jt_writable {
        Ok(())
    } else {
        Err(ApiError::forbidden())
    }
}

pub async fn launch_get(
    State(state): Ctx,
    Auth(ident): Auth,
    Path(raw): Path<String>,
) -> ApiResult<Json<Value>> {
    let jt = fetch_visible(&state, &ident.actor, &JOB_TEMPLATES, &raw).await?;
    let mut r = Renderer::new(&state, &ident.actor);
    let inventory = match int(&jt, "inventory") {
        Some(i) => r
            .lookup("inventories", i)
            .await?
            .map(|inv| json!({"name": inv["name"], "id": i})),
        None => None,
    };
    let ask = |k: &str| jt.get(k).cloned().unwrap_or(json!(false));
    let mut out = Map::new();
    let inventory_needed = inventory.is_none();
    out.insert(
        "can_start_without_user_input".into(),
        json!(!inventory_needed),
    );
    out.insert("passwords_needed_to_start".into(), json!([]));
    for (_, _, flag) in launch::PROMPTS {
        out.insert((*flag).into(), ask(flag));
    }
    out.insert(
        "ask_variables_on_launch".into(),
        ask("ask_variables_on_launch"),
    );
    out.insert(
        "ask_credential_on_launch".into(),
        ask("ask_credential_on_launch"),
    );
    out.insert("survey_enabled".into(), ask("survey_enabled"));
    out.insert("variables_needed_to_start".into(), json!([]));
    out.insert("credential_needed_to_start".into(), json!(false));
    out.insert("inventory_needed_to_start".into(), json!(inventory_needed));
    out.insert(
        "job_template_data".into(),
        json!({"name": jt["name"], "id": jt["id"], "description": jt["description"]}),
    );
    let mut defaults = Map::new();
    for (key, field, _) in launch::PROMPTS {
        defaults.insert(
            (*key).into(),
            jt.get(*field).cloned().unwrap_or(Value::Null),
        );
    }
    defaults.insert(
        "inventory".into(),
        inventory.unwrap_or(json!({"name": null, "id": null})),
    );
    defaults.insert("extra_vars".into(), jt["extra_vars"].clone());
    out.insert("defaults".into(), Value::Object(defaults));
    Ok(Json(Value::Object(out)))
}

/// `OPTIONS …/launch/`: the CLI turns `actions.POST` into `launch` flags.
pub async fn launch_options(
    State(state): Ctx,
    Auth(ident): Auth,
    Path(raw): Path<String>,
) -> ApiResult<Response> {
    let jt = fetch_visible(&state, &ident.actor, &JOB_TEMPLATES, &raw).await?;
    let may = Renderer::new(&state, &ident.actor)
        .may_write(&JOB_TEMPLATES, &jt)
        .await?;
    let choice = |c: Vec<Value>| json!({"type": "choice", "required": false, "choices": c});
    let mut post = Map::new();
    post.insert(
        "extra_vars".into(),
        json!({"type": "json", "required": false, "label": "Extra vars"}),
    );
    post.insert(
        "inventory".into(),
        json!({"type": "id", "required": false, "label": "Inventory"}),
    );
    post.insert(
        "limit".into(),
        json!({"type": "string", "required": false, "label": "Limit"}),
    );
    post.insert(
        "job_type".into(),
        choice(vec![json!(["run", "Run"]), json!(["check", "Check"])]),
    );
    post.insert(
        "verbosity".into(),
        choice(VERBOSITY.iter().map(|(v, l)| json!([v, l])).collect()),
    );
    for k in ["job_tags", "skip_tags", "scm_branch"] {
        post.insert(
            k.into(),
            json!({"type": "string", "required": false, "label": k}),
        );
    }
    post.insert(
        "diff_mode".into(),
        json!({"type": "boolean", "required": false, "label": "Diff mode"}),
    );
    for k in ["forks", "timeout", "job_slice_count"] {
        post.insert(
            k.into(),
            json!({"type": "integer", "required": false, "label": k}),
        );
    }
    post.insert(
        "credentials".into(),
        json!({"type": "list_of_ids", "required": false, "label": "Credentials"}),
    );
    let actions = if may {
        json!({"POST": post})
    } else {
        json!({})
    };
    let body = json!({
        "name": "Job Template Launch", "description": "",
        "renders": ["application/json", "text/html"], "parses": ["application/json"],
        "actions": actions,
    });
    let allow = if may {
        "GET, POST, HEAD, OPTIONS"
    } else {
        "GET, HEAD, OPTIONS"
    };
    Ok(([(header::ALLOW, allow)], Json(body)).into_response())
}

/// `GET …/relaunch/`: what a relaunch would need (rawx asks for no passwords at launch yet).
pub async fn relaunch_get(
    kind: &'static JobKind,
    State(state): Ctx,
    Auth(ident): Auth,
    Path(raw): Path<String>,
) -> ApiResult<Json<Value>> {
    fetch_visible(&state, &ident.actor, kind.resource, &raw).await?;
    Ok(Json(json!({"passwords_needed_to_start": []})))
}

pub async fn launch_post(
    State(state): Ctx,
    Auth(ident): Auth,
    Path(raw): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Response> {
    let actor = &ident.actor;
    let jt = fetch_visible(&state, actor, &JOB_TEMPLATES, &raw).await?;
    may_launch(
        Renderer::new(&state, actor)
            .may_write(&JOB_TEMPLATES, &jt)
            .await?,
    )?;
    let body = json_body(&headers, &body)?;
    let prompts = body
        .as_object()
        .cloned()
        .ok_or_else(|| ApiError::field("__all__", "Invalid data. Expected a dictionary."))?;
    let launch = launch::job_from_template(&*state.store, actor, &jt, &prompts).await?;
    let (mut job, ignored) = (launch.job, launch.ignored);
    job.insert("launch_type".into(), json!("manual"));
    job.insert("launched_by_user".into(), json!(actor.user_id));
    let id = launch::create_job(
        &*state.store,
        &*state.bus,
        actor.user_id,
        job,
        &launch.credentials,
    )
    .await?;
    let stored = state.store.get(&JOBS, id).await?;
    let mut out = Renderer::new(&state, actor).render(&JOBS, &stored).await?;
    out["job"] = json!(id);
    out["ignored_fields"] = Value::Object(ignored);
    tracing::info!(job = id, template = %jt["id"], user = ident.username(), "job launched");
    Ok(crate::handlers::created(&JOBS, id, out))
}

pub async fn relaunch(
    State(state): Ctx,
    Auth(ident): Auth,
    Path(raw): Path<String>,
) -> ApiResult<Response> {
    let actor = &ident.actor;
    let old = fetch_visible(&state, actor, &JOBS, &raw).await?;
    if let Some(jt) = int(&old, "job_template") {
        let jt = fetch_visible(&state, actor, &JOB_TEMPLATES, &jt.to_string()).await?;
        may_launch(
            Renderer::new(&state, actor)
                .may_write(&JOB_TEMPLATES, &jt)
                .await?,
        )?;
    } else if !actor.is_superuser {
        return Err(ApiError::forbidden());
    }
    let id = launch::relaunch_job(&*state.store, &*state.bus, actor.user_id, &old).await?;
    let stored = state.store.get(&JOBS, id).await?;
    let mut out = Renderer::new(&state, actor).render(&JOBS, &stored).await?;
    out["job"] = json!(id);
    Ok(crate::handlers::created(&JOBS, id, out))
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
    if !Renderer::new(&state, actor)
        .may_write(kind.resource, &job)
        .await?
        && int(&job, "launched_by_user") != Some(actor.user_id)
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

/// Active jobs that use the object, for AWX's 409 on delete.
pub async fn active_jobs_using(state: &AppState, res: &Resource, id: i64) -> ApiResult<Vec<i64>> {
    let column = match res.key {
        "job_templates" => "job_template",
        "projects" => "project",
        "inventories" => "inventory",
        _ => return Ok(vec![]),
    };
    Ok(launch::active_jobs_using(&*state.store, column, id).await?)
}

/// Whether a status is final (no further change).
pub fn is_final(status: &str) -> bool {
    JobStatus::parse(status).is_some_and(JobStatus::is_final)
}

/// `/api/v2/unified_jobs/`: every kind of job in one list. Jobs are the only kind rawx runs so
/// far, so it is the job list under AWX's name (the CLI monitors workflows through it).
pub async fn unified_jobs(
    State(state): Ctx,
    Auth(ident): Auth,
    uri: axum::extract::OriginalUri,
    RawQuery(q): RawQuery,
) -> ApiResult<Json<Value>> {
    crate::handlers::page_response(&state, &ident.actor, &JOBS, Filter::All(vec![]), &uri, &q).await
}

pub async fn unified_jobs_options(Auth(_): Auth) -> Response {
    crate::options::list(&JOBS, false)
}

/// `/api/v2/unified_job_templates/`: job and workflow templates in one list, each in its own
/// shape. Each kind is filtered by the caller's query and rights, then the two are merged in
/// the requested order and paged.
pub async fn unified_job_templates(
    State(state): Ctx,
    Auth(ident): Auth,
    uri: axum::extract::OriginalUri,
    RawQuery(q): RawQuery,
) -> ApiResult<Json<Value>> {
    use rawx_model::resources::WORKFLOW_JOB_TEMPLATES;
    let params: Vec<(String, String)> = q
        .as_deref()
        .map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
        .unwrap_or_default();
    let filters: Vec<(String, String)> = params
        .iter()
        .filter(|(k, _)| k != "page" && k != "page_size")
        .cloned()
        .collect();
    let page_q = rawx_model::filter::parse_list_query(&JOB_TEMPLATES, &params)?;
    let mut merged: Vec<(Value, Value)> = Vec::new();
    let mut r = Renderer::new(&state, &ident.actor);
    r.list_view = true;
    for res in [&JOB_TEMPLATES, &WORKFLOW_JOB_TEMPLATES] {
        let mut lq = rawx_model::filter::parse_list_query(res, &filters)?;
        if let Some(v) = rawx_model::rbac::read_filter(res, &ident.actor) {
            lq.filter = lq.filter.and(v);
        }
        lq.page_size = 100_000;
        for row in state.store.list(res, &lq).await?.rows {
            let key = row.get(lq.order[0].0).cloned().unwrap_or(Value::Null);
            merged.push((key, r.render(res, &row).await?));
        }
    }
    let desc = page_q.order.first().is_some_and(|(_, d)| *d);
    merged.sort_by(|a, b| {
        let o = match (&a.0, &b.0) {
            (Value::Number(x), Value::Number(y)) => x
                .as_f64()
                .partial_cmp(&y.as_f64())
                .unwrap_or(std::cmp::Ordering::Equal),
            (x, y) => x.to_string().cmp(&y.to_string()),
        };
        if desc {
            o.reverse()
        } else {
            o
        }
    });
    let count = merged.len() as u64;
    let size = page_q.page_size;
    let last = count.div_ceil(size).max(1);
    if page_q.page > last {
        return Err(rawx_model::filter::QueryError::InvalidPage.into());
    }
    let start = ((page_q.page - 1) * size) as usize;
    let results: Vec<Value> = merged
        .into_iter()
        .skip(start)
        .take(size as usize)
        .map(|(_, v)| v)
        .collect();
    let link = |n: u64| {
        let mut s = form_urlencoded::Serializer::new(String::new());
        for (k, v) in &filters {
            s.append_pair(k, v);
        }
        s.append_pair("page", &n.to_string());
        json!(format!("{}?{}", uri.path(), s.finish()))
    };
    Ok(Json(json!({
        "count": count,
        "next": if page_q.page < last { link(page_q.page + 1) } else { Value::Null },
        "previous": if page_q.page > 1 { link(page_q.page - 1) } else { Value::Null },
        "results": results,
    })))
}

pub async fn unified_job_templates_options(Auth(_): Auth) -> Response {
    crate::options::list(&JOB_TEMPLATES, false)
}

/// The endpoints every kind of job has (stdout, cancel), as plain handlers per kind for the
/// route table.
macro_rules! kind_endpoints {
    ($m:ident, $kind:path) => {
        pub mod $m {
            use super::*;
            pub async fn stdout(
                s: Ctx,
                a: Auth,
                p: Path<String>,
                q: RawQuery,
            ) -> ApiResult<Response> {
                crate::stdout::stdout(&$kind, s, a, p, q).await
            }
            pub async fn cancel_get(s: Ctx, a: Auth, p: Path<String>) -> ApiResult<Json<Value>> {
                super::cancel_get(&$kind, s, a, p).await
            }
            pub async fn cancel_post(s: Ctx, a: Auth, p: Path<String>) -> ApiResult<StatusCode> {
                super::cancel_post(&$kind, s, a, p).await
            }
            pub async fn relaunch_get(s: Ctx, a: Auth, p: Path<String>) -> ApiResult<Json<Value>> {
                super::relaunch_get(&$kind, s, a, p).await
            }
        }
    };
}
kind_endpoints!(job, rawx_model::resources::JOB_KIND);
kind_endpoints!(ad_hoc, rawx_model::resources::AD_HOC_KIND);
