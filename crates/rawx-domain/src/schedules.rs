//! Schedules' domain: the fields a rule computes, a template's `next_job_run`, and the pass
//! that claims due schedules and launches them (the task role's `scheduler` component runs it).
//! A scheduled job is built by `launch::job_from_template`, as one launched through the API.

use crate::launch::{create_job, job_from_template};
use crate::messages::{publish, SchedulesChanged};
use crate::{DomainError, DomainResult};
use rawx_bus::Bus;
use rawx_model::filter::{Cond, Filter, ListQuery, Op};
use rawx_model::rbac::Actor;
use rawx_model::resources::{parse_rule, Rule, JOB_TEMPLATES, SCHEDULES};
use rawx_model::schema::{int, text, ColumnType};
use rawx_model::secret::SecretKey;
use rawx_model::validate::FieldErrors;
use rawx_model::Row;
use rawx_store::Store;
use serde_json::{json, Map, Value};
use std::time::Duration;

/// How often a scheduler looks for due schedules when nothing wakes it: a run starts at most
/// this late.
pub const TICK: Duration = Duration::from_secs(1);

/// The prompts a schedule may carry: `(schedule field, template ask flag)`; the launch takes
/// them by the same names.
pub const PROMPTS: &[(&str, &str)] = &[
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

/// The rule, or AWX's messages under `rrule`.
pub fn rule_of(text: &str) -> DomainResult<Rule> {
    parse_rule(text).map_err(|msgs| {
        let mut e = FieldErrors::default();
        for m in msgs {
            e.add("rrule", m);
        }
        DomainError::Fields(e)
    })
}

/// Writes the fields the rule decides (AWX's `update_computed_fields`) into `row`.
pub fn put_computed(row: &mut Row, rule: &Rule, enabled: bool) {
    let c = rule.computed(enabled, time::OffsetDateTime::now_utc());
    row.insert("rrule".into(), json!(c.rrule));
    row.insert("next_run".into(), json!(c.next_run));
    row.insert("dtstart".into(), json!(c.dtstart));
    row.insert("dtend".into(), json!(c.dtend));
    row.insert("timezone".into(), json!(c.timezone));
    row.insert("until".into(), json!(c.until));
}

/// The earliest `next_run` of the enabled schedules that match `filter`.
async fn first_run(store: &dyn Store, filter: Filter) -> DomainResult<Option<String>> {
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
    let page = store.list(&SCHEDULES, &q).await?;
    Ok(page.rows.first().map(|r| text(r, "next_run").to_string()))
}

/// AWX shows a template's earliest schedule run as its `next_job_run`. `this` is the schedule
/// being written, whose new `next_run` (`own`) is not stored yet.
pub async fn template_next_run(
    store: &dyn Store,
    jt: i64,
    this: Option<i64>,
    own: Option<&str>,
) -> DomainResult<()> {
    let mut filter = Filter::eq("unified_job_template", ColumnType::Int, json!(jt));
    if let Some(id) = this {
        filter = filter.and(Filter::Not(Box::new(Filter::eq(
            "id",
            ColumnType::Int,
            json!(id),
        ))));
    }
    let others = first_run(store, filter).await?;
    // Stored times are fixed-width UTC text, so text order is time order.
    let next = match (others, own) {
        (Some(a), Some(b)) => Some(a.min(b.to_string())),
        (a, b) => a.or(b.map(str::to_string)),
    };
    let mut update = Row::new();
    update.insert("next_job_run".into(), json!(next));
    store.update(&JOB_TEMPLATES, jt, &update).await?;
    Ok(())
}

/// When the earliest enabled schedule is due, as a tokio instant (only if within a tick: the
/// tick covers the rest, and a schedule written meanwhile).
pub async fn earliest(store: &dyn Store) -> DomainResult<Option<tokio::time::Instant>> {
    let Some(at) = first_run(store, Filter::All(vec![])).await? else {
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
pub async fn run_due(store: &dyn Store, bus: &dyn Bus, key: &SecretKey) -> DomainResult<()> {
    let now = rawx_model::now_string();
    let due = Filter::eq("enabled", ColumnType::Bool, json!(true)).and(Filter::On {
        path: vec![],
        column: "next_run",
        ctype: ColumnType::Text,
        cond: Cond::Op(Op::Lte, json!(now)),
    });
    for s in store
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
        if !store.update_if(&SCHEDULES, id, &guard, &advance).await? {
            continue;
        }
        publish(bus, &SchedulesChanged { id: Some(id) });
        if let Some(jt) = int(&s, "unified_job_template") {
            let own = advance.get("next_run").and_then(Value::as_str);
            if let Err(e) = template_next_run(store, jt, Some(id), own).await {
                tracing::warn!(schedule = id, error = %e, "template next_job_run not updated");
            }
        }
        if rule.is_err() {
            continue;
        }
        match launch(store, bus, key, &s).await {
            Ok(job) => {
                tracing::info!(schedule = id, job, due = %s["next_run"], "scheduled job launched")
            }
            Err(e) => tracing::warn!(schedule = id, error = %e, "scheduled job not launched"),
        }
    }
    Ok(())
}

/// Launches the schedule's template with its prompts, as the launch endpoint would.
async fn launch(store: &dyn Store, bus: &dyn Bus, key: &SecretKey, s: &Row) -> DomainResult<i64> {
    let jt_id = int(s, "unified_job_template").ok_or(DomainError::NotFound)?;
    let jt = store.get(&JOB_TEMPLATES, jt_id).await?;
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
    let launch = job_from_template(store, &system, &jt, &prompts, key).await?;
    let (mut job, credentials, labels, ignored) = (
        launch.job,
        launch.credentials,
        launch.labels,
        launch.ignored,
    );
    if !ignored.is_empty() {
        tracing::info!(schedule = %s["id"], ignored = ?ignored.keys().collect::<Vec<_>>(), "schedule prompts the template does not ask for were ignored");
    }
    job.insert("launch_type".into(), json!("scheduled"));
    job.insert("schedule".into(), s["id"].clone());
    create_job(store, bus, owner, job, &credentials, labels.as_deref()).await
}
