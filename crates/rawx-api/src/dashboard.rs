//! `/api/v2/dashboard/graphs/jobs/`: AWX's job-results chart (`DashboardJobsGraphView`), the
//! number of finished jobs per day and final status over a period, of the jobs the caller
//! may see. The counts of `/api/v2/dashboard/` are in `metrics.rs`.

use crate::auth::Auth;
use crate::error::{ApiError, ApiResult};
use crate::AppState;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use rawx_model::filter::{Cond, Filter, Op};
use rawx_model::rbac::read_filter;
use rawx_model::resources::{JOB_KIND, JOB_KINDS};
use rawx_model::schema::ColumnType;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::Arc;
use time::{Duration, OffsetDateTime, Time};

const STATUSES: [&str; 4] = ["successful", "failed", "canceled", "error"];

pub async fn jobs_graph(
    State(state): State<Arc<AppState>>,
    auth: Auth,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult<Response> {
    let period = q.get("period").map(String::as_str).unwrap_or("month");
    let job_type = q.get("job_type").map(String::as_str).unwrap_or("all");
    let end = OffsetDateTime::now_utc();
    let start = match period {
        // AWX subtracts a calendar month; 30 days is what its UI calls "past month".
        "month" => end - Duration::days(30),
        "two_weeks" => end - Duration::weeks(2),
        "week" => end - Duration::weeks(1),
        "day" => end - Duration::days(1),
        other => {
            return Ok((
                StatusCode::BAD_REQUEST,
                Json(json!({"error": format!("Unknown period \"{other}\"")})),
            )
                .into_response())
        }
    };
    // Only playbook runs and ad hoc commands exist in rawx: `inv_sync` and `scm_update`
    // (inventory and project updates) count nothing, as in AWX when there are none.
    let kinds: Vec<_> = JOB_KINDS
        .iter()
        .filter(|k| match job_type {
            "playbook_run" => std::ptr::eq(**k, &JOB_KIND),
            "inv_sync" | "scm_update" => false,
            _ => true,
        })
        .collect();
    let actor = &auth.0.actor;
    let since = rawx_model::format_time(start);
    let mut per_day: HashMap<(&str, String), u64> = HashMap::new();
    for kind in kinds {
        // `None` is "everything" (a superuser or auditor).
        let visible = read_filter(kind.resource, actor).unwrap_or(Filter::All(vec![]));
        let f = visible
            .and(Filter::On {
                path: vec![],
                column: "status",
                ctype: ColumnType::Text,
                cond: Cond::In(STATUSES.iter().map(|s| json!(s)).collect()),
            })
            .and(Filter::On {
                path: vec![],
                column: "finished",
                ctype: ColumnType::Text,
                cond: Cond::Op(Op::Gte, json!(since)),
            });
        let rows = state
            .store
            .project(kind.resource, &f, &["status", "finished"], &[])
            .await
            .map_err(ApiError::from)?;
        for r in rows {
            let (Some(status), Some(finished)) = (r["status"].as_str(), r["finished"].as_str())
            else {
                continue;
            };
            let Some(s) = STATUSES.iter().find(|s| **s == status) else {
                continue;
            };
            // Stored times are `YYYY-MM-DDT…Z` in UTC: the day is the first ten characters.
            *per_day
                .entry((s, finished.get(..10).unwrap_or("").to_string()))
                .or_default() += 1;
        }
    }
    // One point per day from the start's midnight to now, `[epoch seconds, count]`, as AWX
    // (whose server runs in UTC) renders `time.mktime` of each day.
    let mut out = serde_json::Map::new();
    for s in STATUSES {
        let mut points = Vec::new();
        let mut day = start.replace_time(Time::MIDNIGHT);
        while day <= end {
            let key = rawx_model::format_time(day)[..10].to_string();
            let n = per_day.get(&(s, key)).copied().unwrap_or(0);
            points.push(json!([day.unix_timestamp() as f64, n]));
            day += Duration::days(1);
        }
        out.insert(s.to_string(), Value::Array(points));
    }
    Ok(Json(json!({ "jobs": out })).into_response())
}
