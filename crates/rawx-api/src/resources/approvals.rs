//! Approval nodes (AWX 24.6.1's `WorkflowApprovalTemplate*` and `WorkflowApproval*` views and
//! serializers): an approval template is made by its node
//! (`/workflow_job_template_nodes/N/create_approval_template/`, in `workflows.rs`) and changed
//! or deleted at `/workflow_approval_templates/N/`; the approvals a workflow spawns are listed
//! at `/workflow_approvals/` and ended by `approve/` or `deny/` (`WorkflowApprovalAccess`: the
//! workflow's `approval_role`, which its admins and the organization's approvers hold).

use super::unified;
use crate::auth::Auth;
use crate::error::{ApiError, ApiResult};
use crate::handlers::fetch_visible;
use crate::resource::{ResourceApi, Routes};
use crate::view::{Renderer, Summary};
use crate::{AppState, Identity};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use axum::Json;
use rawx_domain::approvals::{self, Decision};
use rawx_domain::JobStatus;
use rawx_model::resources::{WORKFLOW_APPROVALS, WORKFLOW_APPROVAL_TEMPLATES};
use rawx_model::schema::{int, Resource};
use rawx_model::Row;
use serde_json::{json, Map, Value};
use std::sync::Arc;

use super::workflows::may_admin_workflow;

type Ctx = State<Arc<AppState>>;

/// `WorkflowApprovalAccess.can_approve_or_deny`: a superuser, or a holder of the workflow's
/// `approval_role`.
async fn may_approve(r: &mut Renderer<'_>, approval: &Row) -> ApiResult<bool> {
    if r.actor.read_only_token {
        return Ok(false);
    }
    if r.actor.is_superuser {
        return Ok(true);
    }
    match int(approval, "workflow_job_template") {
        Some(t) => {
            r.holds("workflow_job_templates", t, &["approval_role"])
                .await
        }
        None => Ok(false),
    }
}

pub struct WorkflowApprovalTemplates;

#[async_trait::async_trait]
impl ResourceApi for WorkflowApprovalTemplates {
    fn schema(&self) -> &'static Resource {
        &WORKFLOW_APPROVAL_TEMPLATES
    }

    /// AWX has no list to create them in: a node makes its approval template.
    async fn create(
        &self,
        _state: &AppState,
        _ident: &Identity,
        _parent: Option<&Row>,
        _body: &Value,
    ) -> ApiResult<Option<Response>> {
        Err(ApiError::MethodNotAllowed("POST".into()))
    }
    async fn can_add(&self, _r: &mut Renderer<'_>, _row: &Row) -> ApiResult<bool> {
        Ok(false)
    }
    async fn can_change(&self, r: &mut Renderer<'_>, row: &Row) -> ApiResult<bool> {
        may_admin_workflow(r, int(row, "workflow_job_template")).await
    }
    async fn can_delete(&self, r: &mut Renderer<'_>, row: &Row) -> ApiResult<bool> {
        may_admin_workflow(r, int(row, "workflow_job_template")).await
    }

    /// `RelatedJobsPreventDeleteMixin`: not while one of its approvals waits.
    async fn before_delete(&self, state: &AppState, _ident: &Identity, row: &Row) -> ApiResult<()> {
        let f = rawx_model::filter::Filter::eq(
            "workflow_approval_template",
            rawx_model::schema::ColumnType::Int,
            row["id"].clone(),
        )
        .and(rawx_model::filter::Filter::eq(
            "status",
            rawx_model::schema::ColumnType::Text,
            json!(JobStatus::Pending.as_str()),
        ));
        if state.store.find(&WORKFLOW_APPROVALS, &f).await?.is_some() {
            return Err(ApiError::Status(
                StatusCode::CONFLICT,
                json!({"error": "Resource is being used by running jobs."}),
            ));
        }
        Ok(())
    }

    fn summary(&self) -> Summary {
        Summary {
            fields: &["name", "description", "timeout"],
            ids: &[],
        }
    }

    fn related(&self, row: &Row, related: &mut Map<String, Value>) {
        let id = int(row, "id").unwrap_or_default();
        related.insert(
            "jobs".into(),
            json!(format!(
                "/api/v2/workflow_approval_templates/{id}/approvals/"
            )),
        );
    }
}

pub struct WorkflowApprovals;

const APPROVAL_ORIGIN: unified::Origin = unified::Origin {
    column: "workflow_approval_template",
    templates: "workflow_approval_templates",
    job_type: "workflow_approval",
};

#[async_trait::async_trait]
impl ResourceApi for WorkflowApprovals {
    fn schema(&self) -> &'static Resource {
        &WORKFLOW_APPROVALS
    }

    async fn before_delete(
        &self,
        _state: &AppState,
        _ident: &Identity,
        row: &Row,
    ) -> ApiResult<()> {
        unified::before_delete(row)
    }

    fn summary(&self) -> Summary {
        Summary {
            fields: &["name", "description", "timeout"],
            ids: &[],
        }
    }

    fn related(&self, row: &Row, related: &mut Map<String, Value>) {
        let id = int(row, "id").unwrap_or_default();
        unified::template_link(&APPROVAL_ORIGIN, row, related);
        if let Some(t) = int(row, "workflow_approval_template") {
            related.insert(
                "workflow_approval_template".into(),
                json!(format!("/api/v2/workflow_approval_templates/{t}/")),
            );
        }
        for action in ["approve", "deny"] {
            related.insert(
                action.into(),
                json!(format!("/api/v2/workflow_approvals/{id}/{action}/")),
            );
        }
        if let Some(u) = int(row, "approved_or_denied_by") {
            related.insert(
                "approved_or_denied_by".into(),
                json!(format!("/api/v2/users/{u}/")),
            );
        }
    }

    async fn summary_fields(
        &self,
        r: &mut Renderer<'_>,
        row: &Row,
        summary: &mut Map<String, Value>,
    ) -> ApiResult<()> {
        unified::template_summary(r, &APPROVAL_ORIGIN, row, summary).await?;
        if let Some(u) = int(row, "approved_or_denied_by") {
            if let Some(user) = r.lookup("users", u).await? {
                summary.insert(
                    "approved_or_denied_by".into(),
                    json!({"id": u, "username": user["username"],
                        "first_name": user["first_name"], "last_name": user["last_name"]}),
                );
            }
        }
        super::workflows::source_workflow_job(r, row, summary).await
    }

    async fn derived(
        &self,
        r: &mut Renderer<'_>,
        row: &Row,
        out: &mut Map<String, Value>,
    ) -> ApiResult<()> {
        unified::derived(r, row, out).await?;
        // AWX's `WorkflowApprovalSerializer` leaves these out.
        for k in ["controller_node", "execution_node"] {
            out.remove(k);
        }
        let pending = JobStatus::of(row) == Some(JobStatus::Pending);
        let can = pending && may_approve(r, row).await?;
        out.insert("can_approve_or_deny".into(), json!(can));
        // `created + timeout` while it waits (AWX's `approval_expiration`).
        let expiration = match (pending, row.get("expires")) {
            (true, Some(Value::String(s))) => json!(s),
            _ => Value::Null,
        };
        out.insert("approval_expiration".into(), expiration);
        Ok(())
    }

    fn routes(&self) -> Routes {
        vec![
            (
                "/api/v2/workflow_approvals/{id}/approve/",
                get(decision_get).post(|s: Ctx, a: Auth, p: Path<String>| {
                    decision_post(Decision::Approve, s, a, p)
                }),
            ),
            (
                "/api/v2/workflow_approvals/{id}/deny/",
                get(decision_get).post(|s: Ctx, a: Auth, p: Path<String>| {
                    decision_post(Decision::Deny, s, a, p)
                }),
            ),
        ]
    }
}

/// `GET …/approve/` and `…/deny/`: AWX's `WorkflowApprovalViewSerializer` has no fields.
async fn decision_get(
    State(state): Ctx,
    Auth(ident): Auth,
    Path(raw): Path<String>,
) -> ApiResult<Json<Value>> {
    fetch_visible(&state, &ident.actor, &WORKFLOW_APPROVALS, &raw).await?;
    Ok(Json(json!({})))
}

/// `POST …/approve/` and `…/deny/` (AWX's `WorkflowApprovalApprove`/`Deny`): 204, or 403 for
/// who may not, or 400 once it is no longer pending.
async fn decision_post(
    decision: Decision,
    State(state): Ctx,
    Auth(ident): Auth,
    Path(raw): Path<String>,
) -> ApiResult<StatusCode> {
    let actor = &ident.actor;
    let approval = fetch_visible(&state, actor, &WORKFLOW_APPROVALS, &raw).await?;
    if !may_approve(&mut Renderer::new(&state, actor), &approval).await? {
        return Err(ApiError::Forbidden(
            "User does not have permission to approve or deny this workflow.".into(),
        ));
    }
    let done = JobStatus::of(&approval) == Some(JobStatus::Pending)
        && approvals::decide(
            &*state.store,
            &*state.bus,
            &approval,
            decision,
            actor.user_id,
        )
        .await?;
    if !done {
        return Err(ApiError::Status(
            StatusCode::BAD_REQUEST,
            json!({"error": "This workflow step has already been approved or denied."}),
        ));
    }
    tracing::info!(
        approval = int(&approval, "id").unwrap_or_default(),
        decision = ?decision,
        user = ident.username(),
        "workflow approval answered"
    );
    Ok(StatusCode::NO_CONTENT)
}
