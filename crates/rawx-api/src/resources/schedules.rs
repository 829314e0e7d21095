//! Schedules: the rule checks on write (`prepare`, from the generic create and update path),
//! `/schedules/preview/`, `/schedules/zoneinfo/`. The computed fields and the `scheduler`'s
//! claim and launch are the domain's (`rawx_domain::schedules`).

use crate::auth::Auth;
use crate::error::{ApiError, ApiResult};
use crate::handlers::json_body;
use crate::resource::{ResourceApi, Routes};
use crate::{AppState, Identity};
use axum::body::Bytes;
use axum::http::HeaderMap;
use axum::routing::get;
use axum::Json;
use rawx_domain::messages::{publish, SchedulesChanged};
use rawx_domain::schedules as sched;
use rawx_model::resources::{zone_names, JOB_TEMPLATES, SCHEDULES};
use rawx_model::schema::Resource;
use rawx_model::schema::{int, text};
use rawx_model::validate::FieldErrors;
use rawx_model::Row;
use serde_json::{json, Value};

pub struct Schedules;

#[async_trait::async_trait]
impl ResourceApi for Schedules {
    fn schema(&self) -> &'static Resource {
        &SCHEDULES
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

    /// The template's `next_job_run` forgets this schedule.
    async fn before_delete(&self, state: &AppState, _ident: &Identity, row: &Row) -> ApiResult<()> {
        if let Some(jt) = int(row, "unified_job_template") {
            sched::template_next_run(&*state.store, jt, int(row, "id"), None).await?;
        }
        Ok(())
    }

    fn routes(&self) -> Routes {
        vec![
            ("/api/v2/schedules/preview/", get(preview_get).post(preview)),
            ("/api/v2/schedules/zoneinfo/", get(zoneinfo)),
        ]
    }
}

/// The schedule rules on create and update: the rule with AWX's messages, prompts only where
/// the template asks for them, and the computed fields.
async fn prepare(state: &AppState, row: &mut Row, existing: Option<&Row>) -> ApiResult<()> {
    let mut merged = existing.cloned().unwrap_or_default();
    merged.extend(row.clone());
    let rule = sched::rule_of(text(&merged, "rrule"))?;
    if let Some(jt) = int(&merged, "unified_job_template") {
        let jt = state.store.get(&JOB_TEMPLATES, jt).await?;
        let mut errors = FieldErrors::default();
        for (field, flag) in sched::PROMPTS {
            let given = row.get(*field).is_some_and(|v| !v.is_null());
            if given && jt.get(*flag) != Some(&json!(true)) {
                errors.add(field, "Field is not configured to prompt on launch.");
            }
        }
        if !errors.is_empty() {
            return Err(ApiError::Fields(errors));
        }
    }
    let enabled = merged
        .get("enabled")
        .and_then(Value::as_bool)
        .unwrap_or(true);
    sched::put_computed(row, &rule, enabled);
    if let Some(jt) = int(&merged, "unified_job_template") {
        let this = existing.and_then(|e| int(e, "id"));
        sched::template_next_run(&*state.store, jt, this, row["next_run"].as_str()).await?;
    }
    publish(&*state.bus, &SchedulesChanged { id: None });
    Ok(())
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
