//! Approval nodes (AWX 24.6.1's `WorkflowApproval`): the approval a node spawns (pending from
//! the start, `started` at once: AWX's `signal_start`), its approval or denial (a
//! compare-and-set on `pending`, so two answers cannot both win), its timeout (the task
//! manager's `timeout_approval_node`), and its cancel with its workflow. Each end publishes the
//! status change, which also wakes the workflow engine to follow the node's edges.

use crate::messages::{publish, StatusChanged};
use crate::status::JobStatus;
use crate::DomainResult;
use rawx_bus::Bus;
use rawx_model::filter::Filter;
use rawx_model::resources::{
    NOTIFICATION_TEMPLATES, USERS, WORKFLOW_APPROVALS, WORKFLOW_APPROVAL_KIND,
    WORKFLOW_APPROVAL_TEMPLATES,
};
use rawx_model::schema::{int, text, ColumnType};
use rawx_model::Row;
use rawx_store::Store;
use serde_json::{json, Value};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

fn pending() -> Filter {
    Filter::eq(
        "status",
        ColumnType::Text,
        json!(JobStatus::Pending.as_str()),
    )
}

fn stamp(t: OffsetDateTime) -> String {
    rawx_model::format_time(t)
}

fn parse(s: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(s, &Rfc3339).ok()
}

/// The approval a workflow job's node spawns from approval template `template` (AWX's
/// `create_unified_job` + `signal_start`): pending, started now, expiring after its timeout.
pub async fn spawn(
    store: &dyn Store,
    bus: &dyn Bus,
    wj: &Row,
    template: &Row,
) -> DomainResult<i64> {
    let now = OffsetDateTime::now_utc();
    let timeout = int(template, "timeout").unwrap_or_default();
    let tid = int(template, "id").unwrap_or_default();
    let mut row = Row::new();
    row.insert("name".into(), template["name"].clone());
    row.insert(
        "description".into(),
        template.get("description").cloned().unwrap_or(json!("")),
    );
    row.insert("timeout".into(), json!(timeout));
    row.insert(
        "expires".into(),
        match timeout {
            0 => Value::Null,
            t => json!(stamp(now + time::Duration::seconds(t))),
        },
    );
    row.insert("unified_job_template".into(), json!(tid));
    row.insert("workflow_approval_template".into(), json!(tid));
    row.insert("status".into(), json!(JobStatus::Pending.as_str()));
    row.insert("launch_type".into(), json!("workflow"));
    row.insert("started".into(), json!(stamp(now)));
    row.insert("event_processing_finished".into(), json!(true));
    for (to, from) in [
        ("launched_by_user", "launched_by_user"),
        ("workflow_job_template", "workflow_job_template"),
        ("organization", "organization"),
        ("created_by", "created_by"),
    ] {
        row.insert(to.into(), wj.get(from).cloned().unwrap_or(Value::Null));
    }
    rawx_model::validate::with_defaults(&WORKFLOW_APPROVALS, &mut row);
    let id = store.insert(&WORKFLOW_APPROVALS, &row).await?;
    template_status(store, tid, JobStatus::Pending).await;
    publish(
        bus,
        &StatusChanged::new(&WORKFLOW_APPROVAL_KIND, id, JobStatus::Pending).template(json!(tid)),
    );
    row.insert("id".into(), json!(id));
    notify(store, &row, "running", Some(wj)).await;
    Ok(id)
}

/// How an approval ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    Approve,
    Deny,
}

/// AWX's `approve()` / `deny()`: `successful` or `failed`, by `user`. `false` when the
/// approval was no longer pending (AWX's 400 "already approved or denied").
pub async fn decide(
    store: &dyn Store,
    bus: &dyn Bus,
    approval: &Row,
    decision: Decision,
    user: i64,
) -> DomainResult<bool> {
    let status = match decision {
        Decision::Approve => JobStatus::Successful,
        Decision::Deny => JobStatus::Failed,
    };
    let mut row = Row::new();
    row.insert("approved_or_denied_by".into(), json!(user));
    end(store, bus, approval, status, row).await
}

/// Ends a pending approval with `status` and the fields of `row` (compare-and-set).
async fn end(
    store: &dyn Store,
    bus: &dyn Bus,
    approval: &Row,
    status: JobStatus,
    mut row: Row,
) -> DomainResult<bool> {
    let id = int(approval, "id").unwrap_or_default();
    let now = OffsetDateTime::now_utc();
    row.insert("status".into(), json!(status.as_str()));
    row.insert("failed".into(), json!(status != JobStatus::Successful));
    row.insert("finished".into(), json!(stamp(now)));
    let elapsed = approval
        .get("started")
        .and_then(Value::as_str)
        .and_then(parse)
        .map(|s| ((now - s).as_seconds_f64() * 1000.0).round() / 1000.0)
        .unwrap_or_default();
    row.insert("elapsed".into(), json!(elapsed));
    if !store
        .update_if(&WORKFLOW_APPROVALS, id, &pending(), &row)
        .await?
    {
        return Ok(false);
    }
    let template = approval
        .get("workflow_approval_template")
        .cloned()
        .unwrap_or(Value::Null);
    if let Some(t) = template.as_i64() {
        template_status(store, t, status).await;
    }
    let mut msg = StatusChanged::new(&WORKFLOW_APPROVAL_KIND, id, status).template(template);
    msg.finished = row.get("finished").cloned();
    publish(bus, &msg);
    let said = match status {
        JobStatus::Successful => Some("approved"),
        JobStatus::Failed if row.get("timed_out") == Some(&json!(true)) => Some("timed_out"),
        JobStatus::Failed => Some("denied"),
        // A workflow's cancel notifies nothing of its approval (AWX sends on approve, deny,
        // start and timeout only).
        _ => None,
    };
    if let Some(said) = said {
        let mut ended = approval.clone();
        ended.extend(row);
        notify(store, &ended, said, None).await;
    }
    tracing::info!(
        approval = id,
        status = status.as_str(),
        "workflow approval ended"
    );
    Ok(true)
}

/// A pending approval ends `canceled` with its workflow (AWX's `cancel` of a job that has
/// not started).
pub async fn cancel(store: &dyn Store, bus: &dyn Bus, approval: &Row) -> DomainResult<bool> {
    let mut row = Row::new();
    row.insert("canceled_on".into(), json!(rawx_model::now_string()));
    end(store, bus, approval, JobStatus::Canceled, row).await
}

/// Fails every pending approval whose timeout has passed (AWX's
/// `get_expired_workflow_approvals` + `timeout_approval_node`); their ids.
pub async fn expire_due(store: &dyn Store, bus: &dyn Bus) -> DomainResult<Vec<i64>> {
    let now = OffsetDateTime::now_utc();
    let mut expired = Vec::new();
    for a in store
        .list_all(&WORKFLOW_APPROVALS, &pending(), &[("id", false)])
        .await?
    {
        let due = a
            .get("expires")
            .and_then(Value::as_str)
            .and_then(parse)
            .is_some_and(|e| e < now);
        if !due {
            continue;
        }
        let id = int(&a, "id").unwrap_or_default();
        let why = format!(
            "The approval node {} ({id}) has expired after {} seconds.",
            text(&a, "name"),
            int(&a, "timeout").unwrap_or_default()
        );
        tracing::warn!(approval = id, "{why}");
        let mut row = Row::new();
        row.insert("timed_out".into(), json!(true));
        row.insert("job_explanation".into(), json!(why));
        if end(store, bus, &a, JobStatus::Failed, row).await? {
            expired.push(id);
        }
    }
    Ok(expired)
}

/// AWX's `send_approval_notification`: a pending notification (the task role's notifier
/// sends it) per template attached for approvals to the approval's workflow template or its
/// organization. `wj`: the workflow job when the caller has it (at the spawn the node does not
/// name its approval yet). Errors are logged: a notification never changes an approval.
async fn notify(store: &dyn Store, approval: &Row, status: &str, wj: Option<&Row>) {
    if let Err(e) = notify_inner(store, approval, status, wj).await {
        tracing::warn!(approval = ?approval.get("id"), error = %e, "approval notifications not recorded");
    }
}

async fn notify_inner(
    store: &dyn Store,
    approval: &Row,
    status: &str,
    wj: Option<&Row>,
) -> DomainResult<()> {
    let Some(wfjt) = int(approval, "workflow_job_template") else {
        return Ok(());
    };
    let templates =
        crate::notify::approval_templates(store, wfjt, int(approval, "organization")).await?;
    if templates.is_empty() {
        return Ok(());
    }
    let wj = match wj {
        Some(w) => w.clone(),
        None => {
            let id = int(approval, "id").unwrap_or_default();
            match crate::launch::source_workflow_job(store, id).await? {
                Some(w) => w,
                None => return Ok(()),
            }
        }
    };
    let created_by = match int(&wj, "created_by") {
        Some(u) => match store.get(&USERS, u).await {
            Ok(user) => text(&user, "username").to_string(),
            Err(_) => String::new(),
        },
        None => String::new(),
    };
    let base = crate::settings::Settings::new(store, "")
        .get(crate::settings::TOWER_URL_BASE)
        .await;
    let ctx = crate::notify::approval_context(approval, &wj, status, &base, &created_by);
    for nt in templates {
        let nt = store.get(&NOTIFICATION_TEMPLATES, nt).await?;
        let (subject, body) = crate::notify::build_approval_message(&nt, status, &ctx);
        crate::notify::record(store, &nt, &subject, &json!(body)).await?;
    }
    Ok(())
}

/// The approval template's `status`, `last_job_run`, `last_job_failed` follow its newest
/// approval.
async fn template_status(store: &dyn Store, template: i64, status: JobStatus) {
    let mut row = Row::new();
    row.insert("status".into(), json!(status.as_str()));
    row.insert("last_job_run".into(), json!(rawx_model::now_string()));
    if status.is_final() {
        row.insert(
            "last_job_failed".into(),
            json!(status != JobStatus::Successful),
        );
    }
    if let Err(e) = store
        .update(&WORKFLOW_APPROVAL_TEMPLATES, template, &row)
        .await
    {
        tracing::debug!(template, error = %e, "approval template status not kept");
    }
}
