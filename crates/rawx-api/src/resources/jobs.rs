//! Jobs: a job template's runs. Their shared endpoints and fields are `unified.rs`'s; a job
//! adds its template as `unified_job_template`, its credentials in `summary_fields`, and its
//! relaunch (the same job again, as the caller, who must still be allowed to launch the
//! template).

use super::job_templates::may_launch;
use super::unified;
use crate::auth::Auth;
use crate::error::{ApiError, ApiResult};
use crate::handlers::fetch_visible;
use crate::resource::{ResourceApi, Routes};
use crate::view::Renderer;
use crate::{AppState, Identity};
use axum::extract::{Path, State};
use axum::response::Response;
use axum::routing::post;
use rawx_domain::launch;
use rawx_model::resources::{JOBS, JOB_CREDENTIALS, JOB_KIND, JOB_LABELS, JOB_TEMPLATES};
use rawx_model::schema::{int, Resource};
use rawx_model::Row;
use serde_json::{json, Map, Value};
use std::sync::Arc;

type Ctx = State<Arc<AppState>>;

pub struct Jobs;

#[async_trait::async_trait]
impl ResourceApi for Jobs {
    fn schema(&self) -> &'static Resource {
        &JOBS
    }

    async fn before_delete(
        &self,
        _state: &AppState,
        _ident: &Identity,
        row: &Row,
    ) -> ApiResult<()> {
        unified::before_delete(row)
    }

    fn related(&self, row: &Row, related: &mut Map<String, Value>) {
        unified::related("/api/v2/jobs/", row, related);
        unified::template_link(&ORIGIN, row, related);
    }

    async fn summary_fields(
        &self,
        r: &mut Renderer<'_>,
        row: &Row,
        summary: &mut Map<String, Value>,
    ) -> ApiResult<()> {
        job_summary(r, row, summary).await
    }

    async fn derived(
        &self,
        r: &mut Renderer<'_>,
        row: &Row,
        out: &mut Map<String, Value>,
    ) -> ApiResult<()> {
        unified::derived(r, row, out).await?;
        // AWX's `display_artifacts`: a `set_stats` marked `_ansible_no_log` is not shown.
        let artifacts = match row.get("artifacts") {
            Some(Value::String(s)) => serde_json::from_str(s).unwrap_or(Value::Null),
            Some(v) => v.clone(),
            None => Value::Null,
        };
        if artifacts
            .get("_ansible_no_log")
            .is_some_and(|v| v.as_bool().unwrap_or(!v.is_null()))
        {
            out.insert(
                "artifacts".into(),
                json!("$hidden due to Ansible no_log flag$"),
            );
        }
        Ok(())
    }

    /// `start` (AWX's UnifiedJobSerializer `show_capabilities`), as
    /// `JobAccess.get_method_capability` answers it: the execute role of the job's template
    /// (a job of no template: true, and `relaunch` decides). AWX's UI shows Relaunch only
    /// where it is true.
    async fn user_capabilities(
        &self,
        r: &mut Renderer<'_>,
        row: &Row,
        caps: &mut Map<String, Value>,
    ) -> ApiResult<()> {
        let start = !r.actor.read_only_token
            && match int(row, "job_template") {
                Some(jt) => r.holds("job_templates", jt, &["execute_role"]).await?,
                None => true,
            };
        caps.insert("start".into(), json!(start));
        Ok(())
    }

    /// `JobAccess.can_cancel`: the template's admins; a job whose template is gone, the
    /// organization's job template admins.
    async fn can_cancel(&self, r: &mut Renderer<'_>, job: &Row) -> ApiResult<bool> {
        if r.actor.read_only_token {
            return Ok(false);
        }
        match (int(job, "job_template"), int(job, "organization")) {
            (Some(jt), _) => r.holds("job_templates", jt, &["admin_role"]).await,
            (None, Some(org)) => {
                r.holds("organizations", org, &["job_template_admin_role"])
                    .await
            }
            _ => Ok(r.actor.is_superuser),
        }
    }

    fn routes(&self) -> Routes {
        unified::routes(&JOB_KIND, "/api/v2/jobs/", post(relaunch))
    }
}

const ORIGIN: unified::Origin = unified::Origin {
    column: "job_template",
    templates: "job_templates",
    job_type: "job",
};

pub async fn job_summary(
    r: &mut Renderer<'_>,
    row: &Row,
    summary: &mut Map<String, Value>,
) -> ApiResult<()> {
    unified::template_summary(r, &ORIGIN, row, summary).await?;
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
    let id = int(row, "id").unwrap_or_default();
    summary.insert(
        "labels".into(),
        unified::labels_summary(r, &JOB_LABELS, id).await?,
    );
    super::workflows::source_workflow_job(r, row, summary).await
}

pub async fn relaunch(
    State(state): Ctx,
    Auth(ident): Auth,
    Path(raw): Path<String>,
    headers: axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> ApiResult<Response> {
    let actor = &ident.actor;
    let old = fetch_visible(&state, actor, &JOBS, &raw).await?;
    // `JobAccess.can_start`: the template's execute role; a job whose template is gone, the
    // execute role of its organization.
    let mut r = Renderer::new(&state, actor);
    let may = match (int(&old, "job_template"), int(&old, "organization")) {
        _ if actor.read_only_token => false,
        (Some(jt), _) if state.store.get(&JOB_TEMPLATES, jt).await.is_ok() => {
            r.holds("job_templates", jt, &["execute_role"]).await?
        }
        (_, Some(org)) => r.holds("organizations", org, &["execute_role"]).await?,
        _ => actor.is_superuser,
    };
    may_launch(may)?;
    // Instance groups given at launch go again: a launcher other than a superuser needs `use`
    // of those the template lacks, else its organization's execute role (`JobAccess.can_start`
    // over `JobLaunchConfigAccess.can_add`).
    let given = launch::launch_instance_groups(&old);
    if !actor.is_superuser && !given.is_empty() {
        let template_groups = match int(&old, "job_template") {
            Some(jt) => {
                state
                    .store
                    .linked(&rawx_model::resources::JT_INSTANCE_GROUPS, true, jt)
                    .await?
            }
            None => Vec::new(),
        };
        let mut usable = true;
        for g in given.iter().filter(|g| !template_groups.contains(g)) {
            usable &= r.holds("instance_groups", *g, &["use_role"]).await?;
        }
        let org_execute = match int(&old, "organization") {
            Some(org) if !usable => r.holds("organizations", org, &["execute_role"]).await?,
            _ => false,
        };
        if !usable && !org_execute {
            return Err(ApiError::Forbidden(
                "Job was launched with prompted fields you do not have access to.".into(),
            ));
        }
    }
    // The passwords the job's credentials ask at launch are asked again (AWX's
    // `JobRelaunchSerializer.validate_credential_passwords`).
    let needed: Vec<String> = match old.get("passwords_needed_to_start") {
        Some(Value::String(s)) => serde_json::from_str(s).unwrap_or_default(),
        _ => Vec::new(),
    };
    let mut own = Row::new();
    if !needed.is_empty() {
        let body = if body.is_empty() {
            json!({})
        } else {
            crate::handlers::json_body(&headers, &body)?
        };
        let given = body["credential_passwords"]
            .as_object()
            .cloned()
            .unwrap_or_default();
        let missing: Vec<&str> = needed
            .iter()
            .filter(|p| {
                given
                    .get(*p)
                    .and_then(Value::as_str)
                    .is_none_or(str::is_empty)
            })
            .map(String::as_str)
            .collect();
        if !missing.is_empty() {
            return Err(ApiError::Status(
                axum::http::StatusCode::BAD_REQUEST,
                json!({"credential_passwords": [format!("Missing passwords needed to start: {}", missing.join(", "))]}),
            ));
        }
        let plain = Value::Object(
            given
                .into_iter()
                .filter(|(k, _)| needed.contains(k))
                .collect(),
        )
        .to_string();
        own.insert("start_args".into(), json!(state.key.seal(&plain)));
    }
    let id =
        launch::relaunch_job_with(&*state.store, &*state.bus, actor.user_id, &old, own).await?;
    let stored = state.store.get(&JOBS, id).await?;
    let mut out = Renderer::new(&state, actor).render(&JOBS, &stored).await?;
    out["job"] = json!(id);
    Ok(crate::handlers::created(&JOBS, id, out))
}
