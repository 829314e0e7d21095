//! Schedules' domain: the fields a rule computes, a template's `next_job_run`, the checks of a
//! schedule against its template, and the pass that claims due schedules and launches them
//! (the task role's `scheduler` component runs it). A schedule names any kind of template;
//! what it launches is made by the function the kind's own launch uses
//! (`launch::job_from_template`, `projects::start_update`, `inventory_updates::create_update`,
//! `workflows::create_workflow_job`).

use crate::inventory_updates;
use crate::launch::{create_job, job_from_template};
use crate::messages::{publish, SchedulesChanged};
use crate::projects::{start_update, UpdateRequest};
use crate::workflows::{create_workflow_job, WorkflowLaunch, WORKFLOW_PROMPTS};
use crate::{DomainError, DomainResult};
use rawx_bus::Bus;
use rawx_model::filter::{Cond, Filter, ListQuery, Op};
use rawx_model::rbac::Actor;
use rawx_model::resources::{
    children_of, parse_rule, Rule, INVENTORIES, INVENTORY_UPDATES, PROJECT_UPDATES, SCHEDULES,
    SCHEDULE_CREDENTIALS, SCHEDULE_INSTANCE_GROUPS, SCHEDULE_LABELS, TYPE_COLUMN,
    UNIFIED_JOB_TEMPLATES, WORKFLOW_JOBS,
};
use rawx_model::schema::{int, text, ColumnType, Resource};
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
    ujt: i64,
    this: Option<i64>,
    own: Option<&str>,
) -> DomainResult<()> {
    let mut filter = Filter::eq("unified_job_template", ColumnType::Int, json!(ujt));
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
    let (kind, _) = template_of(store, ujt).await?;
    let mut update = Row::new();
    update.insert("next_job_run".into(), json!(next));
    store.update(kind, ujt, &update).await?;
    Ok(())
}

fn refused(msg: &str) -> DomainError {
    let mut e = FieldErrors::default();
    e.add("unified_job_template", msg);
    DomainError::Fields(e)
}

/// The inventory sources a schedule may run (AWX's `CLOUD_INVENTORY_SOURCES`): the cloud
/// providers and `scm`; not `file` nor `constructed`.
const SCHEDULABLE_SOURCES: &[&str] = &[
    "azure_rm",
    "ec2",
    "gce",
    "vmware",
    "openstack",
    "rhv",
    "satellite6",
    "controller",
    "insights",
    "terraform",
    "openshift_virtualization",
    "scm",
];

/// The checks of a schedule write against its template (`kind`, row `t`), with AWX's
/// messages: `ScheduleSerializer.validate_unified_job_template` when the request names the
/// template, then `LaunchConfigurationBaseSerializer.validate`'s prompts when the request
/// (`given`) sets a prompt the template's kind knows or `extra_data`; the values checked are
/// the schedule as it would be (`merged`). A job or workflow template refuses a prompt it
/// does not ask for unless it equals its own value; a project or an inventory source asks for
/// none, so refuses every prompt and extra data.
pub fn check_template(kind: &Resource, t: &Row, given: &Row, merged: &Row) -> DomainResult<()> {
    let mut errors = FieldErrors::default();
    if given.contains_key("unified_job_template") {
        match kind.type_name {
            "inventory_source" if !SCHEDULABLE_SOURCES.contains(&text(t, "source")) => errors.add(
                "unified_job_template",
                "Inventory Source must be a cloud resource.",
            ),
            "project" if text(t, "scm_type").is_empty() => errors.add(
                "unified_job_template",
                "Manual Project cannot have a schedule set.",
            ),
            _ => {}
        }
        if !errors.is_empty() {
            return Err(DomainError::Fields(errors));
        }
    }
    let asks: &[(&str, &str)] = match kind.type_name {
        "job_template" => PROMPTS,
        "workflow_job_template" => WORKFLOW_PROMPTS,
        _ => &[],
    };
    let set = |f: &str| given.get(f).is_some_and(|v| !v.is_null());
    if !asks.iter().any(|(f, _)| set(f)) && !given.contains_key("extra_data") {
        return Ok(());
    }
    for (field, _) in PROMPTS {
        let Some(v) = merged.get(*field).filter(|v| !v.is_null()) else {
            continue;
        };
        match asks.iter().find(|(f, _)| f == field) {
            Some((_, flag)) => {
                if t.get(*field) != Some(v) && t.get(*flag) != Some(&json!(true)) {
                    errors.add(field, "Field is not configured to prompt on launch.");
                }
            }
            // A workflow template ignores what it has no prompt for.
            None if kind.type_name == "workflow_job_template" => {}
            None => errors.add(field, "Field is not allowed on launch."),
        }
    }
    let data = extra_data(merged);
    if asks.is_empty() && data.as_object().is_some_and(|m| !m.is_empty()) {
        errors.add("extra_data", "Field is not allowed on launch.");
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(DomainError::Fields(errors))
    }
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
            Ok(Some(job)) => {
                tracing::info!(schedule = id, job, due = %s["next_run"], "scheduled job launched")
            }
            Ok(None) => {}
            Err(e) => tracing::warn!(schedule = id, error = %e, "scheduled job not launched"),
        }
    }
    Ok(())
}

/// Launches the schedule's template as AWX's `awx_periodic_scheduler` does: the kind's own
/// job (a job, a project or inventory update, a workflow job) with the prompts the template
/// accepts, marked `launch_type: scheduled` with its `schedule`. `None`: the template's cache
/// timeout has not passed since its last run (`cache_timeout_blocked`), nothing launched.
async fn launch(
    store: &dyn Store,
    bus: &dyn Bus,
    key: &SecretKey,
    s: &Row,
) -> DomainResult<Option<i64>> {
    let ujt = int(s, "unified_job_template").ok_or(DomainError::NotFound)?;
    let sid = s["id"].clone();
    let (kind, t) = template_of(store, ujt).await?;
    let (jobs, id) = match kind.type_name {
        "job_template" => return launch_job(store, bus, key, s, &t).await.map(Some),
        "project" => {
            if cache_blocked(&t, "scm_update_cache_timeout") {
                return Ok(None);
            }
            let req = UpdateRequest {
                launch_type: "scheduled",
                user: None,
                dependent_job: None,
            };
            (&PROJECT_UPDATES, start_update(store, bus, &t, req).await?)
        }
        "inventory_source" => {
            if cache_blocked(&t, "update_cache_timeout") {
                return Ok(None);
            }
            if !inventory_updates::can_update(&t) {
                return Err(refused("The inventory source cannot be updated."));
            }
            let inv = store
                .get(&INVENTORIES, int(&t, "inventory").unwrap_or_default())
                .await?;
            let id = inventory_updates::create_update(
                store,
                bus,
                &t,
                None,
                "scheduled",
                text(&inv, "name"),
            )
            .await?;
            (&INVENTORY_UPDATES, id)
        }
        "workflow_job_template" => {
            let (prompts, extra_vars) = accepted(s, &t, WORKFLOW_PROMPTS);
            // The schedule's labels where the template asks for labels, else the template's;
            // survey passwords in a schedule's extra_data are not sealed apart (a schedule's
            // survey answers are plain extra vars here).
            let own = store
                .linked(&SCHEDULE_LABELS, true, int(s, "id").unwrap_or_default())
                .await?;
            let labels = (!own.is_empty() && t.get("ask_labels_on_launch") == Some(&json!(true)))
                .then_some(own);
            let launch = WorkflowLaunch {
                prompts,
                extra_vars,
                launch_type: "scheduled",
                labels,
                ..WorkflowLaunch::default()
            };
            (
                &WORKFLOW_JOBS,
                create_workflow_job(store, bus, &t, launch).await?,
            )
        }
        other => return Err(refused(&format!("A {other} cannot be scheduled."))),
    };
    // The kinds' creators are shared with manual launches and dependencies; the schedule
    // that launched this one is written after (only a link: nothing acts on it).
    let mut link = Row::new();
    link.insert("schedule".into(), sid);
    store.update(jobs, id, &link).await?;
    Ok(Some(id))
}

/// The template a schedule names, as its own kind (AWX's `UnifiedJobTemplate` subclass),
/// and its row.
pub async fn template_of(store: &dyn Store, id: i64) -> DomainResult<(&'static Resource, Row)> {
    let parent = store.get(&UNIFIED_JOB_TEMPLATES, id).await?;
    let kind = children_of(&UNIFIED_JOB_TEMPLATES)
        .find(|k| k.type_name == text(&parent, TYPE_COLUMN))
        .ok_or(DomainError::NotFound)?;
    Ok((kind, store.get(kind, id).await?))
}

/// AWX's `cache_timeout_blocked` of projects and inventory sources: the last run is younger
/// than the template's cache timeout (`timeout` names the column), so a schedule skips it.
fn cache_blocked(t: &Row, timeout: &str) -> bool {
    let Some(last) = t.get("last_job_run").and_then(Value::as_str) else {
        return false;
    };
    let Ok(last) =
        time::OffsetDateTime::parse(last, &time::format_description::well_known::Rfc3339)
    else {
        return false;
    };
    let timeout = int(t, timeout).unwrap_or(0);
    let blocked = last + time::Duration::seconds(timeout) > time::OffsetDateTime::now_utc();
    if blocked {
        tracing::warn!(template = %t["id"], "cache timeout is in the future, bypassing schedule");
    }
    blocked
}

/// The schedule's prompts a template accepts (`_accept_or_ignore_job_kwargs`): each of
/// `asks` its flag allows, and the extra data when it asks for variables or has a survey.
fn accepted(s: &Row, t: &Row, asks: &[(&str, &str)]) -> (Map<String, Value>, Map<String, Value>) {
    let mut prompts = Map::new();
    for (field, flag) in asks {
        if let Some(v) = s.get(*field).filter(|v| !v.is_null()) {
            if t.get(*flag) == Some(&json!(true)) {
                prompts.insert((*field).into(), v.clone());
            }
        }
    }
    let takes_vars = ["ask_variables_on_launch", "survey_enabled"]
        .iter()
        .any(|f| t.get(*f) == Some(&json!(true)));
    let extra = match extra_data(s) {
        Value::Object(m) if takes_vars => m,
        _ => Map::new(),
    };
    (prompts, extra)
}

fn extra_data(s: &Row) -> Value {
    match s.get("extra_data") {
        Some(Value::String(t)) => serde_json::from_str(t).unwrap_or(Value::Null),
        Some(v) => v.clone(),
        None => Value::Null,
    }
}

/// Launches a job template with the schedule's prompts, as the launch endpoint would.
async fn launch_job(
    store: &dyn Store,
    bus: &dyn Bus,
    key: &SecretKey,
    s: &Row,
    jt: &Row,
) -> DomainResult<i64> {
    let mut prompts = Map::new();
    for (field, _) in PROMPTS {
        if let Some(v) = s.get(*field).filter(|v| !v.is_null()) {
            prompts.insert((*field).into(), v.clone());
        }
    }
    let extra = extra_data(s);
    if extra.as_object().is_some_and(|m| !m.is_empty()) {
        prompts.insert("extra_vars".into(), extra);
    }
    // The schedule's own credentials and labels (its launch configuration), as prompts.
    let sid = int(s, "id").unwrap_or_default();
    let own = store.linked(&SCHEDULE_CREDENTIALS, true, sid).await?;
    if !own.is_empty() {
        let jt_id = int(jt, "id").unwrap_or_default();
        let creds = crate::launch::config_credentials(store, jt_id, &own).await?;
        prompts.insert("credentials".into(), json!(creds));
    }
    let labels = store.linked(&SCHEDULE_LABELS, true, sid).await?;
    if !labels.is_empty() {
        prompts.insert("labels".into(), json!(labels));
    }
    let groups = store.linked(&SCHEDULE_INSTANCE_GROUPS, true, sid).await?;
    if !groups.is_empty() {
        prompts.insert("instance_groups".into(), json!(groups));
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
    let launch = job_from_template(store, &system, jt, &prompts, key).await?;
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
