//! Execution environments as AWX's `ExecutionEnvironmentSerializer`, `ExecutionEnvironmentAccess`
//! and `ExecutionEnvironmentDetail` serve them: global (no organization: superusers write them,
//! everyone reads them) or an organization's (its execution environment admins write them);
//! an `image` is a container image reference; a `credential` is a container registry's; the
//! organization may be cleared, never moved; a managed one only changes its `pull` and is never
//! deleted. `copy/` and `unified_job_templates/` as AWX has them. What rawx does with one when a
//! job runs: `rawx_domain::ee`.

use crate::auth::Auth;
use crate::error::{ApiError, ApiResult};
use crate::handlers::fetch_visible;
use crate::resource::ResourceApi;
use crate::view::{Renderer, Summary};
use crate::{AppState, Identity};
use axum::extract::{OriginalUri, Path, RawQuery, State};
use axum::routing::get;
use rawx_domain::roles;
use rawx_model::filter::Filter;
use rawx_model::rbac;
use rawx_model::resources::{
    CREDENTIALS, CREDENTIAL_TYPES, EXECUTION_ENVIRONMENTS, ROLES, ROLE_DEFINITIONS,
};
use rawx_model::schema::{int, text, ColumnType, Resource};
use rawx_model::Row;
use serde_json::{json, Map, Value};
use std::sync::Arc;

pub struct ExecutionEnvironments;

/// The permission an assignment on one execution environment must list to change it (and so
/// to delete it: AWX's `can_delete` is `can_change`).
const CHANGE: &str = "awx.change_executionenvironment";

/// Whether the caller holds, on this execution environment (directly or through a team), a
/// role definition that lists [`CHANGE`]; the object must stay in its organization, which it
/// must have.
async fn by_assignment(r: &mut Renderer<'_>, row: &Row) -> ApiResult<bool> {
    let Some(id) = int(row, "id") else {
        return Ok(false);
    };
    if r.actor.read_only_token {
        return Ok(false);
    }
    let stored = r.lookup(EXECUTION_ENVIRONMENTS.key, id).await?;
    let org = int(row, "organization");
    if org.is_none() || stored.is_some_and(|s| int(&s, "organization") != org) {
        return Ok(false);
    }
    let store = &*r.state.store;
    let mine = rbac::held_roles(r.actor.user_id)
        .and(Filter::eq(
            "content_type",
            ColumnType::Text,
            json!(EXECUTION_ENVIRONMENTS.key),
        ))
        .and(Filter::eq("object_id", ColumnType::Int, json!(id)));
    for role in store.list_all(&ROLES, &mine, &[("id", false)]).await? {
        let Some(def) = text(&role, "role_field")
            .strip_prefix("rd:")
            .and_then(|d| d.parse::<i64>().ok())
        else {
            continue;
        };
        let def = match store.get(&ROLE_DEFINITIONS, def).await {
            Ok(d) => d,
            Err(rawx_store::DbError::NotFound) => continue,
            Err(e) => return Err(e.into()),
        };
        if roles::definition_permissions(&def)
            .iter()
            .any(|p| p == CHANGE)
        {
            return Ok(true);
        }
    }
    Ok(false)
}

/// AWX's `ExecutionEnvironmentJobTemplateList`.
const TEMPLATES: &str = "/api/v2/execution_environments/{id}/unified_job_templates/";

/// The fields `ExecutionEnvironmentDetail.update` guards on a managed one: all but `pull`.
const MANAGED_FIXED: &[&str] = &["name", "description", "organization", "image", "credential"];

#[async_trait::async_trait]
impl ResourceApi for ExecutionEnvironments {
    fn schema(&self) -> &'static Resource {
        &EXECUTION_ENVIRONMENTS
    }

    /// `SUMMARIZABLE_FK_FIELDS['execution_environment']`: the image too.
    fn summary(&self) -> Summary {
        Summary {
            fields: &["name", "description", "image"],
            ids: &[],
        }
    }

    fn routes(&self) -> crate::resource::Routes {
        let mut routes = super::copy::routes(&COPY);
        routes.push((
            TEMPLATES,
            get(
                |State(state): State<Arc<AppState>>,
                 Auth(ident): Auth,
                 Path(raw): Path<String>,
                 uri: OriginalUri,
                 RawQuery(q): RawQuery| async move {
                    let ee =
                        fetch_visible(&state, &ident.actor, &EXECUTION_ENVIRONMENTS, &raw).await?;
                    let id = int(&ee, "id").unwrap_or_default();
                    super::unified::templates_naming(
                        &state,
                        &ident.actor,
                        "execution_environment",
                        id,
                        &uri,
                        &q,
                    )
                    .await
                },
            )
            .options(|Auth(_): Auth| async move {
                crate::options::list(&rawx_model::resources::UNIFIED_JOB_TEMPLATES, false)
            }),
        ));
        routes
    }

    fn related(&self, row: &Row, related: &mut Map<String, Value>) {
        super::copy::related(&COPY, row, related);
        if let Some(id) = int(row, "id") {
            related.insert(
                "unified_job_templates".into(),
                json!(TEMPLATES.replace("{id}", &id.to_string())),
            );
        }
    }

    /// `ExecutionEnvironmentAccess.can_change` with DAB RBAC on: `has_obj_perm(obj,
    /// 'change')` — its organization's execution environment admins, or a role definition
    /// assigned on this one that lists `awx.change_executionenvironment` (the managed
    /// "ExecutionEnvironment Admin") — and moving it to another organization needs that
    /// organization's admin role (`may_write`). A global one: superusers only.
    async fn can_change(&self, r: &mut Renderer<'_>, row: &Row) -> ApiResult<bool> {
        if r.may_write(self.schema(), row).await? {
            return Ok(true);
        }
        by_assignment(r, row).await
    }

    /// `can_delete`: a managed one never (`PermissionDenied`, superusers included); else
    /// `can_change`.
    async fn can_delete(&self, r: &mut Renderer<'_>, row: &Row) -> ApiResult<bool> {
        if row.get("managed") == Some(&json!(true)) {
            return Ok(false);
        }
        self.can_change(r, row).await
    }

    async fn user_capabilities(
        &self,
        r: &mut Renderer<'_>,
        row: &Row,
        caps: &mut Map<String, Value>,
    ) -> ApiResult<()> {
        let copy = super::copy::may_copy(r, &COPY, row).await?;
        caps.insert("copy".into(), json!(copy));
        if row.get("managed") == Some(&json!(true)) {
            caps.insert("delete".into(), json!(false));
        }
        Ok(())
    }

    async fn prepare(
        &self,
        state: &AppState,
        _ident: &Identity,
        row: &mut Row,
        existing: Option<&Row>,
    ) -> ApiResult<()> {
        if let Some(existing) = existing {
            // `ExecutionEnvironmentDetail.update`: only `pull` of a managed one may change
            // (a field sent with its stored value is no change).
            if existing.get("managed") == Some(&json!(true)) {
                let changed = MANAGED_FIXED
                    .iter()
                    .any(|f| row.get(*f).is_some_and(|v| Some(v) != existing.get(*f)));
                if changed {
                    return Err(ApiError::Forbidden(
                        "Only the 'pull' field can be edited for managed execution environments."
                            .into(),
                    ));
                }
            }
            // `ExecutionEnvironmentSerializer.validate`: cleared, yes; moved, no.
            if let Some(org) = int(row, "organization") {
                if int(existing, "organization") != Some(org) {
                    return Err(ApiError::field(
                        "organization",
                        "Cannot change the organization of an execution environment",
                    ));
                }
            }
        }
        // `validate_container_image_name`, on an image sent anew. rawx also takes an absolute
        // path: what its default ones show (the path of the node's own Python environment),
        // so that `awx export` / `awx import` carry them as they read.
        let new_image = row
            .get("image")
            .filter(|v| existing.is_none_or(|e| e.get("image") != Some(*v)));
        if let Some(image) = new_image
            .and_then(Value::as_str)
            .filter(|i| !i.starts_with('/'))
        {
            if let Some(msg) = rawx_domain::ee::image_error(image) {
                return Err(ApiError::field("image", msg));
            }
        }
        // `validate_credential`: a container registry's only.
        if let Some(cid) = int(row, "credential") {
            let cred = state.store.get(&CREDENTIALS, cid).await?;
            let ctype = state
                .store
                .get(
                    &CREDENTIAL_TYPES,
                    int(&cred, "credential_type").unwrap_or_default(),
                )
                .await?;
            if text(&ctype, "kind") != "registry" {
                return Err(ApiError::field(
                    "credential",
                    "Only Container Registry credentials can be associated with an Execution Environment",
                ));
            }
        }
        Ok(())
    }
}

/// AWX's `ExecutionEnvironmentCopy`: every writable field (`managed` is not one: a copy of a
/// managed one is an ordinary one).
static COPY: super::copy::CopySpec = super::copy::CopySpec {
    res: &EXECUTION_ENVIRONMENTS,
    path: "/api/v2/execution_environments/{id}/copy/",
    discard: &[],
    links: &[],
    hosts_and_groups: false,
};

/// `summary_fields.resolved_environment` of a template's detail (not of lists): the execution
/// environment its jobs would run in now (`UnifiedJobTemplateSerializer.get_summary_fields`).
pub(crate) async fn resolved_summary(
    r: &mut Renderer<'_>,
    kind: &'static Resource,
    row: &Row,
    summary: &mut Map<String, Value>,
) -> ApiResult<()> {
    if r.list_view {
        return Ok(());
    }
    let ee = rawx_domain::ee::resolve_for_template(&*r.state.store, kind.key, row).await?;
    if let Some(s) = match ee {
        Some(id) => r.summary(EXECUTION_ENVIRONMENTS.key, id).await?,
        None => None,
    } {
        summary.insert("resolved_environment".into(), s);
    }
    Ok(())
}
