//! Schedules: the rule and template checks on write (`prepare`, from the generic create and
//! update path), who may see and write a schedule of each kind of template (AWX's
//! `ScheduleAccess`), `/schedules/N/jobs/` (jobs of every kind), `/schedules/preview/`,
//! `/schedules/zoneinfo/`. The computed fields and the `scheduler`'s claim and launch are the
//! domain's (`rawx_domain::schedules`).

use crate::auth::Auth;
use crate::error::{ApiError, ApiResult};
use crate::handlers::{fetch_visible, json_body};
use crate::resource::{ResourceApi, Routes};
use crate::view::Renderer;
use crate::{AppState, Identity};
use axum::body::Bytes;
use axum::extract::{OriginalUri, Path, RawQuery, State};
use axum::http::HeaderMap;
use axum::routing::get;
use axum::Json;
use rawx_domain::messages::{publish, SchedulesChanged};
use rawx_domain::schedules as sched;
use rawx_model::filter::{Cond, Filter, Step};
use rawx_model::rbac::{self, Actor};
use rawx_model::resources::{
    children_of, zone_names, SCHEDULES, SCHEDULE_CREDENTIALS, TYPE_COLUMN, UNIFIED_JOBS,
};
use rawx_model::schema::{int, text, ColumnType};
use rawx_model::schema::{Relation, Resource};
use rawx_model::Row;
use serde_json::{json, Map, Value};
use std::sync::Arc;

pub struct Schedules;

#[async_trait::async_trait]
impl ResourceApi for Schedules {
    fn schema(&self) -> &'static Resource {
        &SCHEDULES
    }

    /// `ScheduleAccess.filtered_queryset`: the schedules of templates the user may read; an
    /// inventory source's are its inventory's.
    fn read_filter(&self, actor: &Actor) -> Option<Filter> {
        if actor.sees_all() {
            return None;
        }
        let uid = actor.user_id;
        let col = "unified_job_template";
        let mut any: Vec<Filter> = ["job_templates", "workflow_job_templates", "projects"]
            .iter()
            .map(|ct| rbac::holds(col, ct, &["read_role"], uid))
            .collect();
        let mut of_source = rbac::holds("inventory", "inventories", &["read_role"], uid);
        if let Filter::On { path, .. } = &mut of_source {
            *path = vec![Step::Fk {
                column: col,
                target: "inventory_sources",
            }];
        }
        any.push(of_source);
        Some(Filter::Any(any))
    }

    /// `ScheduleAccess.can_add`: whoever may run the template.
    async fn can_add(&self, r: &mut Renderer<'_>, row: &Row) -> ApiResult<bool> {
        if r.actor.read_only_token {
            return Ok(false);
        }
        match governing(r, row).await? {
            Some((ct, id, run)) => r.holds(ct, id, &[run]).await,
            None => Ok(false),
        }
    }

    /// `ScheduleAccess.can_change`: the template's admins, and whoever made the schedule while
    /// they may still run the template.
    async fn can_change(&self, r: &mut Renderer<'_>, row: &Row) -> ApiResult<bool> {
        if r.actor.read_only_token {
            return Ok(false);
        }
        let Some((ct, id, run)) = governing(r, row).await? else {
            return Ok(r.actor.is_superuser);
        };
        if r.holds(ct, id, &["admin_role"]).await? {
            return Ok(true);
        }
        Ok(int(row, "created_by") == Some(r.actor.user_id) && r.holds(ct, id, &[run]).await?)
    }

    async fn can_delete(&self, r: &mut Renderer<'_>, row: &Row) -> ApiResult<bool> {
        self.can_change(r, row).await
    }

    async fn prepare(
        &self,
        state: &AppState,
        _ident: &Identity,
        row: &mut Row,
        existing: Option<&Row>,
    ) -> ApiResult<()> {
        prepare(state, row, existing).await
    }

    /// Its credentials: AWX's `LaunchConfigCredentialsBase.is_valid_relation`.
    async fn check_link(
        &self,
        state: &AppState,
        relation: &'static Relation,
        left: i64,
        right: i64,
    ) -> ApiResult<()> {
        if !std::ptr::eq(relation, &SCHEDULE_CREDENTIALS) {
            return Ok(());
        }
        let schedule = state.store.get(&SCHEDULES, left).await?;
        super::unified::config_credential(state, relation, &schedule, left, right).await
    }

    /// The template's `next_job_run` forgets this schedule.
    async fn before_delete(&self, state: &AppState, _ident: &Identity, row: &Row) -> ApiResult<()> {
        if let Some(ujt) = int(row, "unified_job_template") {
            sched::template_next_run(&*state.store, ujt, int(row, "id"), None).await?;
        }
        Ok(())
    }

    fn related(&self, row: &Row, related: &mut Map<String, Value>) {
        let id = int(row, "id").unwrap_or_default();
        related.insert(
            "unified_jobs".into(),
            json!(format!("/api/v2/schedules/{id}/jobs/")),
        );
    }

    /// The template as AWX summarises it: with the kind of job it makes.
    async fn summary_fields(
        &self,
        r: &mut Renderer<'_>,
        row: &Row,
        summary: &mut Map<String, Value>,
    ) -> ApiResult<()> {
        let Some(t) = template_row(r, row).await? else {
            return Ok(());
        };
        let kind = text(&t, TYPE_COLUMN);
        summary.insert(
            "unified_job_template".into(),
            json!({"id": t["id"], "name": t["name"], "description": t["description"],
                   "unified_job_type": job_type(kind)}),
        );
        Ok(())
    }

    /// `related.unified_job_template` is the template's own URL.
    async fn derived(
        &self,
        r: &mut Renderer<'_>,
        row: &Row,
        out: &mut Map<String, Value>,
    ) -> ApiResult<()> {
        let Some(t) = template_row(r, row).await? else {
            return Ok(());
        };
        if let (Some(kind), Some(related)) = (
            kind_of(text(&t, TYPE_COLUMN)),
            out.get_mut("related").and_then(Value::as_object_mut),
        ) {
            related.insert(
                "unified_job_template".into(),
                json!(format!("/api/v2/{}/{}/", kind.key, t["id"])),
            );
        }
        Ok(())
    }

    fn routes(&self) -> Routes {
        vec![
            ("/api/v2/schedules/preview/", get(preview_get).post(preview)),
            ("/api/v2/schedules/zoneinfo/", get(zoneinfo)),
            ("/api/v2/schedules/{id}/jobs/", get(jobs)),
        ]
    }
}

/// The kind of template whose `type` this is.
fn kind_of(type_name: &str) -> Option<&'static Resource> {
    children_of(&rawx_model::resources::UNIFIED_JOB_TEMPLATES).find(|k| k.type_name == type_name)
}

/// AWX's `unified_job_type` of a template kind: the type of the jobs it makes.
fn job_type(template_type: &str) -> &'static str {
    match template_type {
        "job_template" => "job",
        "project" => "project_update",
        "inventory_source" => "inventory_update",
        "workflow_job_template" => "workflow_job",
        _ => "",
    }
}

/// The schedule's template as its parent row (name, description, kind).
async fn template_row(r: &mut Renderer<'_>, row: &Row) -> ApiResult<Option<Arc<Row>>> {
    match int(row, "unified_job_template") {
        Some(ujt) => r.lookup("unified_job_templates", ujt).await,
        None => Ok(None),
    }
}

/// Whose roles govern the schedule's template, and the role that runs it: a template's
/// `execute_role`; a project's `update_role` and an inventory source's inventory's (AWX's
/// `check_related` falls back to the kind's `can_start` where the object has no
/// `execute_role`). Administration is the same object's `admin_role`.
async fn governing(
    r: &mut Renderer<'_>,
    row: &Row,
) -> ApiResult<Option<(&'static str, i64, &'static str)>> {
    let Some(ujt) = int(row, "unified_job_template") else {
        return Ok(None);
    };
    let Some(t) = r.lookup("unified_job_templates", ujt).await? else {
        return Ok(None);
    };
    Ok(match text(&t, TYPE_COLUMN) {
        "job_template" => Some(("job_templates", ujt, "execute_role")),
        "workflow_job_template" => Some(("workflow_job_templates", ujt, "execute_role")),
        "project" => Some(("projects", ujt, "update_role")),
        "inventory_source" => r
            .lookup("inventory_sources", ujt)
            .await?
            .and_then(|s| int(&s, "inventory"))
            .map(|inv| ("inventories", inv, "update_role")),
        _ => None,
    })
}

/// The schedule rules on create and update: the rule with AWX's messages, the template's
/// rules (`sched::check_template`), and the computed fields. Disabling a schedule is checked
/// no further (AWX: its template may no longer accept its prompts).
async fn prepare(state: &AppState, row: &mut Row, existing: Option<&Row>) -> ApiResult<()> {
    let mut merged = existing.cloned().unwrap_or_default();
    merged.extend(row.clone());
    let rule = sched::rule_of(text(&merged, "rrule"))?;
    let only_disabling =
        existing.is_some() && row.len() == 1 && row.get("enabled") == Some(&json!(false));
    if let (Some(ujt), false) = (int(&merged, "unified_job_template"), only_disabling) {
        let (kind, t) = sched::template_of(&*state.store, ujt).await?;
        sched::check_template(kind, &t, row, &merged)?;
    }
    let enabled = merged
        .get("enabled")
        .and_then(Value::as_bool)
        .unwrap_or(true);
    sched::put_computed(row, &rule, enabled);
    if let Some(ujt) = int(&merged, "unified_job_template") {
        let this = existing.and_then(|e| int(e, "id"));
        sched::template_next_run(&*state.store, ujt, this, row["next_run"].as_str()).await?;
        // A schedule moved to another template leaves the old one's `next_job_run`.
        if let Some(old) = existing
            .and_then(|e| int(e, "unified_job_template"))
            .filter(|old| *old != ujt)
        {
            sched::template_next_run(&*state.store, old, this, None).await?;
        }
    }
    // AWX's `update_computed_fields` names the schedule (a new one's id is not known yet).
    let id = existing.and_then(|e| int(e, "id"));
    publish(&*state.bus, &SchedulesChanged { id });
    Ok(())
}

/// `GET /schedules/N/jobs/` (AWX's `ScheduleUnifiedJobsList`): the jobs of every kind the
/// schedule launched, each rendered as its kind.
async fn jobs(
    State(state): State<Arc<AppState>>,
    Auth(ident): Auth,
    Path(raw): Path<String>,
    uri: OriginalUri,
    RawQuery(q): RawQuery,
) -> ApiResult<Json<Value>> {
    let schedule = fetch_visible(&state, &ident.actor, &SCHEDULES, &raw).await?;
    let of = Filter::eq("schedule", ColumnType::Int, schedule["id"].clone());
    let mut ids = vec![json!(-1)];
    for kind in children_of(&UNIFIED_JOBS).filter(|k| k.column_type("schedule").is_some()) {
        for r in state
            .store
            .project(kind, &of, &["id"], &[("id", false)])
            .await?
        {
            ids.extend(r.get("id").cloned());
        }
    }
    let base = Filter::On {
        path: vec![],
        column: "id",
        ctype: ColumnType::Int,
        cond: Cond::In(ids),
    };
    super::unified::list_of(&state, &ident.actor, &UNIFIED_JOBS, &uri, &q, base).await
}

/// `POST /schedules/preview/`: the next ten occurrences, in the rule's zone and in UTC.
pub async fn preview(Auth(_): Auth, headers: HeaderMap, body: Bytes) -> ApiResult<Json<Value>> {
    let body = json_body(&headers, &body)?;
    let Some(rrule) = body.get("rrule").and_then(Value::as_str) else {
        return Err(ApiError::field("rrule", "This field is required."));
    };
    let rule = sched::rule_of(rrule)?;
    let now = time::OffsetDateTime::now_utc();
    let utc: Vec<String> = rule
        .occurrences_after(now, 10)
        .into_iter()
        .map(|s| s.replace(".000000Z", "Z"))
        .collect();
    Ok(Json(
        json!({"local": rule.local_after(now, 10), "utc": utc}),
    ))
}

/// `GET /schedules/preview/`: AWX's preview answers POST only; the caller is identified first,
/// as in AWX, so an anonymous GET is a 401 like everywhere else.
pub async fn preview_get(Auth(_): Auth) -> ApiResult<Json<Value>> {
    Err(ApiError::MethodNotAllowed("GET".into()))
}

/// `GET /schedules/zoneinfo/`: the zone names a `TZID` may use.
pub async fn zoneinfo(Auth(_): Auth) -> Json<Value> {
    Json(json!({"zones": zone_names(), "links": {}}))
}
