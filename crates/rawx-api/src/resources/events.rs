//! Job, ad hoc command and project update events: what the ingester stored, read-only. A job event
//! summarizes its job; both cut a long `stdout` in lists, as AWX's event lists do without
//! `no_truncate`.

use crate::error::ApiResult;
use crate::resource::ResourceApi;
use crate::view::Renderer;
use rawx_model::resources::{AD_HOC_COMMAND_EVENTS, JOB_EVENTS, PROJECT_UPDATE_EVENTS};
use rawx_model::schema::{int, Resource};
use rawx_model::Row;
use serde_json::{json, Map, Value};

pub struct JobEvents;
pub struct AdHocCommandEvents;
pub struct ProjectUpdateEvents;

#[async_trait::async_trait]
impl ResourceApi for ProjectUpdateEvents {
    fn schema(&self) -> &'static Resource {
        &PROJECT_UPDATE_EVENTS
    }

    async fn derived(
        &self,
        r: &mut Renderer<'_>,
        _row: &Row,
        out: &mut Map<String, Value>,
    ) -> ApiResult<()> {
        if r.truncate_stdout {
            truncate_event_stdout(out);
        }
        Ok(())
    }
}

#[async_trait::async_trait]
impl ResourceApi for JobEvents {
    fn schema(&self) -> &'static Resource {
        &JOB_EVENTS
    }

    async fn summary_fields(
        &self,
        r: &mut Renderer<'_>,
        row: &Row,
        summary: &mut Map<String, Value>,
    ) -> ApiResult<()> {
        event_summary(r, row, summary).await
    }

    async fn derived(
        &self,
        r: &mut Renderer<'_>,
        _row: &Row,
        out: &mut Map<String, Value>,
    ) -> ApiResult<()> {
        if r.truncate_stdout {
            truncate_event_stdout(out);
        }
        Ok(())
    }
}

#[async_trait::async_trait]
impl ResourceApi for AdHocCommandEvents {
    fn schema(&self) -> &'static Resource {
        &AD_HOC_COMMAND_EVENTS
    }

    async fn derived(
        &self,
        r: &mut Renderer<'_>,
        _row: &Row,
        out: &mut Map<String, Value>,
    ) -> ApiResult<()> {
        if r.truncate_stdout {
            truncate_event_stdout(out);
        }
        Ok(())
    }
}

async fn event_summary(
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

fn truncate_event_stdout(out: &mut Map<String, Value>) {
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
