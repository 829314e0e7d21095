//! Schedules: the rule checks on write (`prepare`, from the generic create and update path),
//! `/schedules/preview/`, `/schedules/zoneinfo/`, and the `scheduler` component that launches
//! what is due. It lives here, beside launch, so a scheduled job is built by the same
//! `jobs::job_from_template` as one launched through the API.

use crate::auth::Auth;
use crate::error::{ApiError, ApiResult};
use crate::handlers::json_body;
use crate::jobs::{create_job, job_from_template};
use crate::AppState;
use axum::body::Bytes;
use axum::http::HeaderMap;
use axum::Json;
use rawx_model::filter::{Cond, Filter, ListQuery, Op};
use rawx_model::rbac::Actor;
use rawx_model::resources::{parse_rule, zone_names, Rule, JOB_TEMPLATES, SCHEDULES};
use rawx_model::schema::{int, text, ColumnType};
use rawx_model::validate::FieldErrors;
use rawx_model::Row;
use rawx_supervisor::{Component, Shutdown};
use serde_json::{json, Map, Value};
use std::sync::Arc;
use std::time::Duration;

/// Published when a schedule is written or advanced: wakes the schedulers, and is AWX's
/// websocket group of the same name.
pub const CHANGED: &str = "schedules-changed";

/// How often a scheduler looks for due schedules when nothing wakes it: a run starts at most
/// this late.
const TICK: Duration = Duration::from_secs(1);

/// The prompts a schedule may carry: `(schedule field, template ask flag)`; the launch takes
/// them by the same names.
const PROMPTS: &[(&str, &str)] = &[
    ("inventory", "ask_inventory_on_launch"),
    ("limit", "ask_limit_on_launch"),
    ("job_type", "ask_job_type_on_launch"),
    ("job_tags", "ask_tags_on_launch"),
    ("skip_tags", "ask_skip_tags_on_launch"),
    ("verbosity", "ask_verbosity_on_launch"),
    ("diff_mode", "ask_diff_mode_on_launch"),
    ("scm_branch", "ask_scm_branch_on_launch"),
    ("forks", "ask_forks_on_launch"),
    ("timeout", "ask_timeout_on_launch"),
];

fn rule_of(text: &str) -> ApiResult<Rule> {
    parse_rule(text).map_err(|msgs| {
        let mut e = FieldErrors::default();
        for m in msgs {
            e.add("rrule", m);
        }
        ApiError::Fields(e)
    })
}

/// Writes the fields the rule decides (AWX's `update_computed_fields`) into `row`.
fn put_computed(row: &mut Row, rule: &Rule, enabled: bool) {
    let c = rule.computed(enabled, time::OffsetDateTime::now_utc());
    row.insert("rrule".into(), json!(c.rrule));
    row.insert("next_run".into(), json!(c.next_run));
    row.insert("dtstart".into(), json!(c.dtstart));
    row.insert("dtend".into(), json!(c.dtend));
    row.insert("timezone".into(), json!(c.timezone));
    row.insert("until".into(), json!(c.until));
}

/// The schedule rules on create and update: the rule with AWX's messages, prompts only where
/// the template asks for them, and the computed fields.
pub async fn prepare(state: &AppState, row: &mut Row, existing: Option<&Row>) -> ApiResult<()> {
    let mut merged = existing.cloned().unwrap_or_default();
    merged.extend(row.clone());
    let rule = rule_of(text(&merged, "rrule"))?;
    if let Some(jt) = int(&merged, "unified_job_template") {
        let jt = state.store.get(&JOB_TEMPLATES, jt).await?;
        let mut errors = FieldErrors::default();
        for (field, flag) in PROMPTS {
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
    put_computed(row, &rule, enabled);
    if let Some(jt) = int(&merged, "unified_job_template") {
        let this = existing.and_then(|e| int(e, "id"));
        template_next_run(state, jt, this, row["next_run"].as_str()).await?;
    }
    state
        .bus
        .publish(CHANGED, json!({"group_name": "schedules"}));
    Ok(())
}

/// The earliest `next_run` of the enabled schedules that match `filter`.
async fn first_run(state: &AppState, filter: Filter) -> ApiResult<Option<String>> {
    let filter = filter
        .and(Filter::eq("enabled", ColumnType::Bool, json!(true)))
        .and(Filter::On {
            path: vec![],
            column: "next_run",
            ctype: ColumnType::Text,
            cond: Cond::IsNull(false),
        });
    let q = ListQuery {
        filter,
        order: vec![("next_run", false), ("id", false)],
        page: 1,
        page_size: 1,
    };
    let page = state.store.list(&SCHEDULES, &q).await?;
    Ok(page.rows.first().map(|r| text(r, "next_run").to_string()))
}

/// AWX shows a template's earliest schedule run as its `next_job_run`. `this` is the schedule
/// being written, whose new `next_run` (`own`) is not stored yet.
pub(crate) async fn template_next_run(
    state: &AppState,
    jt: i64,
    this: Option<i64>,
    own: Option<&str>,
) -> ApiResult<()> {
    let mut filter = Filter::eq("unified_job_template", ColumnType::Int, json!(jt));
    if let Some(id) = this {
        filter = filter.and(Filter::Not(Box::new(Filter::eq(
            "id",
            ColumnType::Int,
            json!(id),
        ))));
    }
    let others = first_run(state, filter).await?;
    // Stored times are fixed-width UTC text, so text order is time order.
    let next = match (others, own) {
        (Some(a), Some(b)) => Some(a.min(b.to_string())),
        (a, b) => a.or(b.map(str::to_string)),
    };
    let mut update = Row::new();
    update.insert("next_job_run".into(), json!(next));
    state.store.update(&JOB_TEMPLATES, jt, &update).await?;
    Ok(())
}

/// `POST /schedules/preview/`: the next ten occurrences, in the rule's zone and in UTC.
pub async fn preview(Auth(_): Auth, headers: HeaderMap, body: Bytes) -> ApiResult<Json<Value>> {
    let body = json_body(&headers, &body)?;
    let Some(rrule) = body.get("rrule").and_then(Value::as_str) else {
        return Err(ApiError::field("rrule", "This field is required."));
    };
    let rule = rule_of(rrule)?;
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

/// The `scheduler` component: launches every enabled schedule whose `next_run` has come, once
/// across all task processes, and moves `next_run` to the first occurrence after now (so a
/// schedule that missed several runs while nothing ran launches once, as AWX's does).
pub struct Scheduler {
    state: Arc<AppState>,
}

/// The component a task process adds to its supervisor.
pub fn scheduler(state: Arc<AppState>) -> Arc<dyn Component> {
    Arc::new(Scheduler { state })
}

#[async_trait::async_trait]
impl Component for Scheduler {
    fn name(&self) -> &'static str {
        "scheduler"
    }

    async fn run(&self, mut shutdown: Shutdown) -> anyhow::Result<()> {
        let mut sub = self.state.bus.subscribe(&[CHANGED]);
        let mut tick = tokio::time::interval(TICK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut next: Option<tokio::time::Instant> = None;
        loop {
            tokio::select! {
                _ = shutdown.wait() => return Ok(()),
                _ = tick.tick() => {}
                // Wake at the earliest occurrence itself, not at the tick after it.
                _ = tokio::time::sleep_until(next.unwrap_or_else(tokio::time::Instant::now)), if next.is_some() => {}
                r = sub.recv() => {
                    if matches!(r, rawx_bus::Received::Closed) {
                        sub = self.state.bus.subscribe(&[CHANGED]);
                    }
                }
            }
            match run_due(&self.state).await {
                Ok(()) => {}
                Err(e) => tracing::warn!(error = %e, "scheduler pass failed"),
            }
            next = match earliest(&self.state).await {
                Ok(n) => n,
                Err(e) => {
                    tracing::warn!(error = %e, "scheduler could not read the next run");
                    None
                }
            };
        }
    }
}

/// When the earliest enabled schedule is due, as a tokio instant (only if within a tick: the
/// tick covers the rest, and a schedule written meanwhile).
async fn earliest(state: &AppState) -> ApiResult<Option<tokio::time::Instant>> {
    let Some(at) = first_run(state, Filter::All(vec![])).await? else {
        return Ok(None);
    };
    let Ok(at) = time::OffsetDateTime::parse(&at, &time::format_description::well_known::Rfc3339)
    else {
        return Ok(None);
    };
    let wait = (at - time::OffsetDateTime::now_utc()).max(time::Duration::ZERO);
    let wait = Duration::from_secs_f64(wait.as_seconds_f64());
    Ok((wait < TICK).then(|| tokio::time::Instant::now() + wait))
}

fn next_run_is(v: &Value) -> Filter {
    match v {
        Value::Null => Filter::On {
            path: vec![],
            column: "next_run",
            ctype: ColumnType::Text,
            cond: Cond::IsNull(true),
        },
        v => Filter::eq("next_run", ColumnType::Text, v.clone()),
    }
}

/// One pass: claim each due schedule by moving its `next_run` on with a compare-and-set on the
/// value read (the way task managers claim jobs), and launch only what this process claimed.
pub async fn run_due(state: &AppState) -> ApiResult<()> {
    let now = rawx_model::now_string();
    let due = Filter::eq("enabled", ColumnType::Bool, json!(true)).and(Filter::On {
        path: vec![],
        column: "next_run",
        ctype: ColumnType::Text,
        cond: Cond::Op(Op::Lte, json!(now)),
    });
    for s in state
        .store
        .list_all(&SCHEDULES, &due, &[("next_run", false)])
        .await?
    {
        let id = int(&s, "id").unwrap_or_default();
        let mut advance = Row::new();
        let rule = parse_rule(text(&s, "rrule"));
        match &rule {
            Ok(rule) => put_computed(&mut advance, rule, true),
            // A rule that no longer parses (written by an older rawx) stops, rather than
            // being retried every pass.
            Err(e) => {
                tracing::warn!(schedule = id, errors = ?e, "schedule rule does not parse");
                advance.insert("next_run".into(), Value::Null);
            }
        }
        let guard =
            Filter::eq("enabled", ColumnType::Bool, json!(true)).and(next_run_is(&s["next_run"]));
        if !state
            .store
            .update_if(&SCHEDULES, id, &guard, &advance)
            .await?
        {
            continue;
        }
        state
            .bus
            .publish(CHANGED, json!({"id": id, "group_name": "schedules"}));
        if let Some(jt) = int(&s, "unified_job_template") {
            let own = advance.get("next_run").and_then(Value::as_str);
            if let Err(e) = template_next_run(state, jt, Some(id), own).await {
                tracing::warn!(schedule = id, error = %e, "template next_job_run not updated");
            }
        }
        if rule.is_err() {
            continue;
        }
        match launch(state, &s).await {
            Ok(job) => {
                tracing::info!(schedule = id, job, due = %s["next_run"], "scheduled job launched")
            }
            Err(e) => tracing::warn!(schedule = id, error = %e, "scheduled job not launched"),
        }
    }
    Ok(())
}

/// Launches the schedule's template with its prompts, as the launch endpoint would.
async fn launch(state: &AppState, s: &Row) -> ApiResult<i64> {
    let jt_id = int(s, "unified_job_template").ok_or(ApiError::NotFound)?;
    let jt = state.store.get(&JOB_TEMPLATES, jt_id).await?;
    let mut prompts = Map::new();
    for (field, _) in PROMPTS {
        if let Some(v) = s.get(*field).filter(|v| !v.is_null()) {
            prompts.insert((*field).into(), v.clone());
        }
    }
    let extra: Value = match s.get("extra_data") {
        Some(Value::String(t)) => serde_json::from_str(t).unwrap_or(Value::Null),
        Some(v) => v.clone(),
        None => Value::Null,
    };
    if extra.as_object().is_some_and(|m| !m.is_empty()) {
        prompts.insert("extra_vars".into(), extra);
    }
    // Whoever wrote the schedule was checked then (as in AWX, a schedule runs without a user):
    // the launch sees every object, so a template's own inventory and credentials always do.
    let owner = int(s, "created_by").unwrap_or_default();
    let system = Actor {
        user_id: owner,
        is_superuser: true,
        is_system_auditor: false,
        member_of: vec![],
        admin_of: vec![],
        read_only_token: false,
    };
    let (mut job, credentials, ignored) = job_from_template(state, &system, &jt, &prompts).await?;
    if !ignored.is_empty() {
        tracing::info!(schedule = %s["id"], ignored = ?ignored.keys().collect::<Vec<_>>(), "schedule prompts the template does not ask for were ignored");
    }
    job.insert("launch_type".into(), json!("scheduled"));
    job.insert("schedule".into(), s["id"].clone());
    create_job(state, owner, job, &credentials).await
}
