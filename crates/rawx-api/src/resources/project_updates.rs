//! Project updates: a project's checkouts, made by `/projects/N/update/`, a project's create
//! or SCM change, or a launch that needs one (`rawx_domain::projects`), and run by the task
//! role (`rawx_model::resources::PROJECT_UPDATE_KIND`). Read-only here, with `stdout/`,
//! `cancel/` and `events/` as every kind of job has them; no relaunch (AWX has none: a new
//! update is asked of the project).

use super::unified;
use crate::error::ApiResult;
use crate::resource::{ResourceApi, Routes};
use crate::view::Renderer;
use crate::{AppState, Identity};
use rawx_model::resources::{PROJECT_UPDATES, PROJECT_UPDATE_KIND};
use rawx_model::schema::{int, Resource};
use rawx_model::Row;
use serde_json::{json, Map, Value};

pub struct ProjectUpdates;

const ORIGIN: unified::Origin = unified::Origin {
    column: "project",
    templates: "projects",
    job_type: "project_update",
};

#[async_trait::async_trait]
impl ResourceApi for ProjectUpdates {
    fn schema(&self) -> &'static Resource {
        &PROJECT_UPDATES
    }

    /// `ProjectUpdateAccess.can_cancel`: the project's admins ("project updates cascade
    /// delete with project"), not those who may only update it (its launcher always may).
    async fn can_cancel(&self, r: &mut Renderer<'_>, job: &Row) -> ApiResult<bool> {
        match int(job, "project") {
            Some(p) if !r.actor.read_only_token => r.holds("projects", p, &["admin_role"]).await,
            _ => Ok(false),
        }
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
        unified::related("/api/v2/project_updates/", row, related);
        related.remove("relaunch");
        unified::template_link(&ORIGIN, row, related);
    }

    async fn summary_fields(
        &self,
        r: &mut Renderer<'_>,
        row: &Row,
        summary: &mut Map<String, Value>,
    ) -> ApiResult<()> {
        unified::template_summary(r, &ORIGIN, row, summary).await
    }

    async fn derived(
        &self,
        r: &mut Renderer<'_>,
        row: &Row,
        out: &mut Map<String, Value>,
    ) -> ApiResult<()> {
        unified::derived(r, row, out).await?;
        if !r.list_view {
            let id = int(row, "id").unwrap_or_default();
            let count = |event: &'static str| {
                rawx_model::filter::Filter::eq(
                    "project_update",
                    rawx_model::schema::ColumnType::Int,
                    json!(id),
                )
                .and(rawx_model::filter::Filter::eq(
                    "event",
                    rawx_model::schema::ColumnType::Text,
                    json!(event),
                ))
            };
            let events = &rawx_model::resources::PROJECT_UPDATE_EVENTS;
            let plays = r
                .state
                .store
                .count(events, &count("playbook_on_play_start"))
                .await?;
            let tasks = r
                .state
                .store
                .count(events, &count("playbook_on_task_start"))
                .await?;
            out.insert(
                "playbook_counts".into(),
                json!({"play_count": plays, "task_count": tasks}),
            );
        }
        Ok(())
    }

    fn routes(&self) -> Routes {
        // AWX has no relaunch of a project update: the project is updated again instead.
        let mut routes = unified::routes(
            &PROJECT_UPDATE_KIND,
            "/api/v2/project_updates/",
            axum::routing::MethodRouter::new(),
        );
        routes.retain(|(path, _)| !path.ends_with("/relaunch/"));
        routes
    }
}
