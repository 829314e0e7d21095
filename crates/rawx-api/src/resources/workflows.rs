//! Workflows (AWX 24.6.1's workflow views and serializers): workflow templates with
//! `launch/`, their nodes and the edges between them (`success_nodes/`, `failure_nodes/`,
//! `always_nodes/`, with AWX's cycle and relationship checks), and the workflow jobs a launch
//! makes with their nodes, `cancel/` and `relaunch/`. The task role's workflow engine runs
//! them (`rawx-control/src/workflow.rs`).

use super::unified;
use crate::auth::Auth;
use crate::error::{ApiError, ApiResult};
use crate::handlers::{fetch_visible, json_body};
use crate::resource::{ResourceApi, Routes};
use crate::view::Renderer;
use crate::write;
use crate::{AppState, Identity};
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Json;
use rawx_domain::workflows::{self, WorkflowLaunch, WORKFLOW_PROMPTS};
use rawx_domain::{launch, survey};
use rawx_model::resources::{
    INVENTORIES, LABELS, TYPE_COLUMN, UNIFIED_JOB_TEMPLATES, WFJT_EDGES, WFJT_LABELS,
    WFJT_NODE_CREDENTIALS, WFJ_EDGES, WFJ_LABELS, WORKFLOW_APPROVAL_TEMPLATES, WORKFLOW_JOBS,
    WORKFLOW_JOB_KIND, WORKFLOW_JOB_NODES, WORKFLOW_JOB_TEMPLATES, WORKFLOW_JOB_TEMPLATE_NODES,
};
use rawx_model::schema::{int, text, Relation, Resource};
use rawx_model::validate::{parse_vars, FieldErrors};
use rawx_model::Row;
use serde_json::{json, Map, Value};
use std::sync::Arc;

type Ctx = State<Arc<AppState>>;

/// The `related` path of a unified job template by its kind.
fn template_path(kind: &str) -> &'static str {
    match kind {
        "job_template" => "job_templates",
        "project" => "projects",
        "inventory_source" => "inventory_sources",
        "workflow_job_template" => "workflow_job_templates",
        "workflow_approval_template" => "workflow_approval_templates",
        _ => "unified_job_templates",
    }
}

/// The `related` path of a unified job by its kind.
fn job_path(kind: &str) -> &'static str {
    match kind {
        "job" => "jobs",
        "project_update" => "project_updates",
        "inventory_update" => "inventory_updates",
        "workflow_job" => "workflow_jobs",
        "ad_hoc_command" => "ad_hoc_commands",
        "workflow_approval" => "workflow_approvals",
        _ => "unified_jobs",
    }
}

/// A node's `unified_job_template` in `summary_fields`, and `related`'s link to it.
async fn template_summary(
    r: &mut Renderer<'_>,
    row: &Row,
    summary: &mut Map<String, Value>,
) -> ApiResult<()> {
    let Some(ujt) = int(row, "unified_job_template") else {
        return Ok(());
    };
    if let Ok(t) = r.state.store.get(&UNIFIED_JOB_TEMPLATES, ujt).await {
        summary.insert(
            "unified_job_template".into(),
            json!({"id": ujt, "name": t["name"], "description": t["description"],
                "unified_job_type": text(&t, TYPE_COLUMN).replace("_template", "").replace("project", "project_update").replace("inventory_source", "inventory_update")}),
        );
    }
    Ok(())
}

/// `success_nodes`, `failure_nodes`, `always_nodes`: the children's ids.
async fn edge_ids(
    r: &mut Renderer<'_>,
    edges: &[(&str, &'static Relation); 3],
    row: &Row,
    out: &mut Map<String, Value>,
) -> ApiResult<()> {
    let id = int(row, "id").unwrap_or_default();
    for (name, rel) in edges {
        let ids = r.state.store.linked(rel, true, id).await?;
        out.insert((*name).into(), json!(ids));
    }
    Ok(())
}

fn extra_data_object(out: &mut Map<String, Value>) {
    if let Some(Value::String(s)) = out.get("extra_data") {
        let v = serde_json::from_str(s).unwrap_or(json!({}));
        out.insert("extra_data".into(), v);
    }
}

pub struct WorkflowJobTemplates;

#[async_trait::async_trait]
impl ResourceApi for WorkflowJobTemplates {
    fn schema(&self) -> &'static Resource {
        &WORKFLOW_JOB_TEMPLATES
    }

    fn related(&self, row: &Row, related: &mut Map<String, Value>) {
        let id = int(row, "id").unwrap_or_default();
        related.insert(
            "launch".into(),
            json!(format!("/api/v2/workflow_job_templates/{id}/launch/")),
        );
        super::surveys::related(&WORKFLOW_JOB_TEMPLATES, row, related);
    }

    async fn summary_fields(
        &self,
        r: &mut Renderer<'_>,
        row: &Row,
        summary: &mut Map<String, Value>,
    ) -> ApiResult<()> {
        super::surveys::summary(row, summary);
        let id = int(row, "id").unwrap_or_default();
        summary.insert(
            "labels".into(),
            unified::labels_summary(r, &WFJT_LABELS, id).await?,
        );
        Ok(())
    }

    async fn user_capabilities(
        &self,
        r: &mut Renderer<'_>,
        row: &Row,
        caps: &mut Map<String, Value>,
    ) -> ApiResult<()> {
        let start = !r.actor.read_only_token
            && r.holds(
                "workflow_job_templates",
                int(row, "id").unwrap_or_default(),
                &["execute_role"],
            )
            .await?;
        caps.insert("start".into(), json!(start));
        caps.insert("schedule".into(), json!(start));
        Ok(())
    }

    fn routes(&self) -> Routes {
        let mut routes: Routes = vec![(
            "/api/v2/workflow_job_templates/{id}/launch/",
            get(launch_get).post(launch_post),
        )];
        routes.extend(super::surveys::routes(&WORKFLOW_JOB_TEMPLATES));
        routes
    }
}

/// `GET …/launch/` (AWX's `WorkflowJobLaunchSerializer`).
async fn launch_get(
    State(state): Ctx,
    Auth(ident): Auth,
    Path(raw): Path<String>,
) -> ApiResult<Json<Value>> {
    let wfjt = fetch_visible(&state, &ident.actor, &WORKFLOW_JOB_TEMPLATES, &raw).await?;
    let ask = |k: &str| wfjt.get(k).cloned().unwrap_or(json!(false));
    let mut out = Map::new();
    for (_, flag) in WORKFLOW_PROMPTS {
        out.insert((*flag).into(), ask(flag));
    }
    for flag in ["ask_variables_on_launch", "ask_labels_on_launch"] {
        out.insert(flag.into(), ask(flag));
    }
    out.insert("survey_enabled".into(), json!(survey::enabled(&wfjt)));
    let inventory = match int(&wfjt, "inventory") {
        Some(i) => match state.store.get(&INVENTORIES, i).await {
            Ok(inv) => json!({"id": i, "name": inv["name"]}),
            Err(_) => json!({"id": null, "name": null}),
        },
        None => json!({"id": null, "name": null}),
    };
    let mut defaults = Map::new();
    defaults.insert("extra_vars".into(), wfjt["extra_vars"].clone());
    defaults.insert("inventory".into(), inventory);
    for k in ["limit", "scm_branch", "job_tags", "skip_tags"] {
        defaults.insert(k.into(), wfjt.get(k).cloned().unwrap_or(Value::Null));
    }
    // AWX lists the template's labels as `{id, name}` when it has some.
    let mut labels = Vec::new();
    let id = int(&wfjt, "id").unwrap_or_default();
    for l in state.store.linked(&WFJT_LABELS, true, id).await? {
        let label = state.store.get(&LABELS, l).await?;
        labels.push(json!({"id": l, "name": label["name"]}));
    }
    if !labels.is_empty() {
        defaults.insert("labels".into(), json!(labels));
    }
    out.insert("defaults".into(), Value::Object(defaults));
    let needed = survey::variables_needed(&wfjt);
    out.insert(
        "can_start_without_user_input".into(),
        json!(needed.is_empty()),
    );
    out.insert("extra_vars".into(), wfjt["extra_vars"].clone());
    out.insert("variables_needed_to_start".into(), json!(needed));
    out.insert(
        "node_templates_missing".into(),
        json!(missing_nodes(&state, &wfjt).await?),
    );
    out.insert("node_prompts_rejected".into(), json!([]));
    out.insert(
        "workflow_job_template_data".into(),
        json!({"name": wfjt["name"], "id": wfjt["id"], "description": wfjt["description"]}),
    );
    Ok(Json(Value::Object(out)))
}

async fn missing_nodes(state: &AppState, wfjt: &Row) -> ApiResult<Vec<i64>> {
    let f = rawx_model::filter::Filter::eq(
        "workflow_job_template",
        rawx_model::schema::ColumnType::Int,
        wfjt["id"].clone(),
    );
    Ok(state
        .store
        .list_all(&WORKFLOW_JOB_TEMPLATE_NODES, &f, &[("id", false)])
        .await?
        .iter()
        .filter(|n| int(n, "unified_job_template").is_none())
        .filter_map(|n| int(n, "id"))
        .collect())
}

/// `POST …/launch/`: prompts the template asks for are taken, the others come back as
/// `ignored_fields`; extra vars given at launch go over the template's when it asks for them.
async fn launch_post(
    State(state): Ctx,
    Auth(ident): Auth,
    Path(raw): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Response> {
    let actor = &ident.actor;
    let wfjt = fetch_visible(&state, actor, &WORKFLOW_JOB_TEMPLATES, &raw).await?;
    let id = int(&wfjt, "id").unwrap_or_default();
    let mut r = Renderer::new(&state, actor);
    if actor.read_only_token
        || !r
            .holds("workflow_job_templates", id, &["execute_role"])
            .await?
    {
        return Err(ApiError::forbidden());
    }
    let body = if body.is_empty() {
        json!({})
    } else {
        json_body(&headers, &body)?
    };
    let given = body
        .as_object()
        .cloned()
        .ok_or_else(|| ApiError::field("__all__", "Invalid data. Expected a dictionary."))?;
    let mut launch = WorkflowLaunch {
        launch_type: "manual",
        user: Some(actor.user_id),
        ..WorkflowLaunch::default()
    };
    let mut ignored = Map::new();
    let mut errors = FieldErrors::default();
    for (key, flag) in WORKFLOW_PROMPTS {
        let Some(v) = given.get(*key) else { continue };
        if wfjt.get(*flag) != Some(&json!(true)) {
            ignored.insert((*key).into(), v.clone());
            continue;
        }
        if *key == "inventory" {
            match v.as_i64() {
                Some(i) => match state.store.get(&INVENTORIES, i).await {
                    Ok(_) => {
                        if !r.holds("inventories", i, &["use_role"]).await? {
                            return Err(ApiError::forbidden());
                        }
                    }
                    Err(_) => {
                        errors.add(
                            "inventory",
                            format!("Invalid pk \"{i}\" - object does not exist."),
                        );
                        continue;
                    }
                },
                None if v.is_null() => {}
                None => {
                    errors.add("inventory", "Incorrect type. Expected pk value.");
                    continue;
                }
            }
        }
        launch.prompts.insert((*key).into(), v.clone());
    }
    // Variables as a job template takes them (`SurveyJobTemplateMixin`, shared): the survey's
    // answers always, others when the template asks; the template's own under them.
    let runtime = match given.get("extra_vars") {
        Some(Value::Object(m)) => m.clone(),
        Some(Value::String(s)) => parse_vars(s).unwrap_or_else(|e| {
            errors.add("extra_vars", e);
            Map::new()
        }),
        None | Some(Value::Null) => Map::new(),
        Some(other) => {
            errors.add(
                "extra_vars",
                format!("Input type `{other}` is not a dictionary"),
            );
            Map::new()
        }
    };
    let template_vars = match &wfjt["extra_vars"] {
        Value::String(s) if !s.trim().is_empty() => parse_vars(s).unwrap_or_default(),
        _ => Map::new(),
    };
    let ask_variables = wfjt.get("ask_variables_on_launch") == Some(&json!(true));
    let applied = survey::apply(&wfjt, template_vars, runtime, ask_variables, &state.key);
    for e in applied.errors {
        errors.add("variables_needed_to_start", e);
    }
    if !applied.ignored.is_empty() {
        ignored.insert("extra_vars".into(), Value::Object(applied.ignored));
    }
    launch.extra_vars = applied.extra_vars;
    if !applied.passwords.is_empty() {
        launch.survey_passwords = Some(
            state
                .key
                .seal(&Value::Object(applied.passwords).to_string()),
        );
    }
    launch.labels = launch::prompted_labels(
        &*state.store,
        actor,
        &wfjt,
        given.get("labels"),
        &mut errors,
        &mut ignored,
    )
    .await;
    if !errors.is_empty() {
        return Err(ApiError::Fields(errors));
    }
    let wj = workflows::create_workflow_job(&*state.store, &*state.bus, &wfjt, launch).await?;
    let stored = state.store.get(&WORKFLOW_JOBS, wj).await?;
    let mut out = Renderer::new(&state, actor)
        .render(&WORKFLOW_JOBS, &stored)
        .await?;
    out["workflow_job"] = json!(wj);
    out["ignored_fields"] = Value::Object(ignored);
    tracing::info!(
        workflow_job = wj,
        template = id,
        user = ident.username(),
        "workflow launched"
    );
    Ok(crate::handlers::created(&WORKFLOW_JOBS, wj, out))
}

pub struct WorkflowJobTemplateNodes;

#[async_trait::async_trait]
impl ResourceApi for WorkflowJobTemplateNodes {
    fn schema(&self) -> &'static Resource {
        &WORKFLOW_JOB_TEMPLATE_NODES
    }

    /// `WorkflowJobTemplateNodeAccess`: who may change the workflow may change its nodes.
    async fn can_add(&self, r: &mut Renderer<'_>, row: &Row) -> ApiResult<bool> {
        may_admin_workflow(r, int(row, "workflow_job_template")).await
    }
    async fn can_change(&self, r: &mut Renderer<'_>, row: &Row) -> ApiResult<bool> {
        may_admin_workflow(r, int(row, "workflow_job_template")).await
    }
    async fn can_delete(&self, r: &mut Renderer<'_>, row: &Row) -> ApiResult<bool> {
        may_admin_workflow(r, int(row, "workflow_job_template")).await
    }
    async fn can_attach(
        &self,
        r: &mut Renderer<'_>,
        owner: &Row,
        _relation: &'static Relation,
        _other: Option<&Row>,
    ) -> ApiResult<bool> {
        may_admin_workflow(r, int(owner, "workflow_job_template")).await
    }

    async fn prepare(
        &self,
        state: &AppState,
        _ident: &Identity,
        row: &mut Row,
        existing: Option<&Row>,
    ) -> ApiResult<()> {
        if let Some(old) = existing {
            // The workflow is set when the node is made (AWX: read-only afterwards).
            row.insert(
                "workflow_job_template".into(),
                old["workflow_job_template"].clone(),
            );
        }
        let mut errors = FieldErrors::default();
        if let Some(ujt) = row.get("unified_job_template").and_then(Value::as_i64) {
            match state.store.get(&UNIFIED_JOB_TEMPLATES, ujt).await {
                Ok(t)
                    if matches!(
                        text(&t, TYPE_COLUMN),
                        "job_template"
                            | "project"
                            | "inventory_source"
                            | "workflow_job_template"
                            | "workflow_approval_template"
                    ) => {}
                _ => errors.add(
                    "unified_job_template",
                    format!("Invalid pk \"{ujt}\" - object does not exist."),
                ),
            }
        }
        if let Some(wfjt) = int(row, "workflow_job_template") {
            let w = state.store.get(&WORKFLOW_JOB_TEMPLATES, wfjt).await?;
            row.insert(
                "organization".into(),
                w.get("organization").cloned().unwrap_or(Value::Null),
            );
        }
        if existing.is_none() && text(row, "identifier").is_empty() {
            row.insert("identifier".into(), json!(uuid4()));
        }
        if !errors.is_empty() {
            return Err(ApiError::Fields(errors));
        }
        Ok(())
    }

    /// AWX's `WorkflowJobTemplateNodeChildrenBaseList.is_valid_relation` for edges,
    /// `LaunchConfigCredentialsBase`'s for credentials.
    async fn check_link(
        &self,
        state: &AppState,
        relation: &'static Relation,
        left: i64,
        right: i64,
    ) -> ApiResult<()> {
        if std::ptr::eq(relation, &WFJT_NODE_CREDENTIALS) {
            let node = state.store.get(&WORKFLOW_JOB_TEMPLATE_NODES, left).await?;
            return unified::config_credential(state, relation, &node, left, right).await;
        }
        let Some(kind) = WFJT_EDGES
            .iter()
            .position(|(_, r)| std::ptr::eq(*r, relation))
        else {
            return Ok(());
        };
        let bad = |m: &str| ApiError::Status(StatusCode::BAD_REQUEST, json!({ "Error": m }));
        let store = &*state.store;
        // Already linked this way: a re-add or a removal, both fine.
        if store.linked(relation, true, left).await?.contains(&right) {
            return Ok(());
        }
        if left == right {
            return Err(bad("Cycle detected."));
        }
        for (i, (_, other)) in WFJT_EDGES.iter().enumerate() {
            if i != kind && store.linked(other, true, left).await?.contains(&right) {
                return Err(bad("Relationship not allowed."));
            }
        }
        let parent = store.get(&WORKFLOW_JOB_TEMPLATE_NODES, left).await?;
        let child = store.get(&WORKFLOW_JOB_TEMPLATE_NODES, right).await?;
        let wfjt = int(&parent, "workflow_job_template").unwrap_or_default();
        if int(&child, "workflow_job_template") != Some(wfjt) {
            return Err(bad("Relationship not allowed."));
        }
        let mut dag = workflows::template_dag(store, wfjt).await?;
        dag.edges
            .push((left, right, rawx_domain::workflows::Edge::ALL[kind]));
        if dag.has_cycle() {
            return Err(bad("Cycle detected."));
        }
        Ok(())
    }

    fn routes(&self) -> Routes {
        vec![(
            "/api/v2/workflow_job_template_nodes/{id}/create_approval_template/",
            get(create_approval_get).post(create_approval_post),
        )]
    }

    fn related(&self, row: &Row, related: &mut Map<String, Value>) {
        let id = int(row, "id").unwrap_or_default();
        related.insert(
            "create_approval_template".into(),
            json!(format!(
                "/api/v2/workflow_job_template_nodes/{id}/create_approval_template/"
            )),
        );
    }

    async fn summary_fields(
        &self,
        r: &mut Renderer<'_>,
        row: &Row,
        summary: &mut Map<String, Value>,
    ) -> ApiResult<()> {
        template_summary(r, row, summary).await
    }

    async fn derived(
        &self,
        r: &mut Renderer<'_>,
        row: &Row,
        out: &mut Map<String, Value>,
    ) -> ApiResult<()> {
        edge_ids(r, &WFJT_EDGES, row, out).await?;
        extra_data_object(out);
        if let Some(ujt) = int(row, "unified_job_template") {
            if let Ok(t) = r.state.store.get(&UNIFIED_JOB_TEMPLATES, ujt).await {
                if let Some(Value::Object(rel)) = out.get_mut("related") {
                    rel.insert(
                        "unified_job_template".into(),
                        json!(format!(
                            "/api/v2/{}/{ujt}/",
                            template_path(text(&t, TYPE_COLUMN))
                        )),
                    );
                }
            }
        }
        Ok(())
    }
}

/// `GET …/create_approval_template/`: AWX's serializer shows nothing; reading needs the
/// workflow's read access.
async fn create_approval_get(
    State(state): Ctx,
    Auth(ident): Auth,
    Path(raw): Path<String>,
) -> ApiResult<Json<Value>> {
    fetch_visible(&state, &ident.actor, &WORKFLOW_JOB_TEMPLATE_NODES, &raw).await?;
    Ok(Json(json!({})))
}

/// `POST …/create_approval_template/` (AWX's `WorkflowJobTemplateNodeCreateApproval`): a new
/// approval template from `name`, `description`, `timeout`, which the node then runs; 201
/// with the template. Needs the right to change the node's workflow.
async fn create_approval_post(
    State(state): Ctx,
    Auth(ident): Auth,
    Path(raw): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Response> {
    let actor = &ident.actor;
    let node = fetch_visible(&state, actor, &WORKFLOW_JOB_TEMPLATE_NODES, &raw).await?;
    let wfjt = int(&node, "workflow_job_template");
    let mut r = Renderer::new(&state, actor);
    if !may_admin_workflow(&mut r, wfjt).await? {
        return Err(ApiError::forbidden());
    }
    let given = if body.is_empty() {
        json!({})
    } else {
        json_body(&headers, &body)?
    };
    // The serializer's three fields; anything else sent (the collection sends the node's
    // own fields too) is ignored.
    let mut only = Map::new();
    for k in ["name", "description", "timeout"] {
        if let Some(v) = given.get(k) {
            only.insert(k.into(), v.clone());
        }
    }
    let mut row = rawx_model::validate::validate(
        &WORKFLOW_APPROVAL_TEMPLATES,
        &Value::Object(only),
        rawx_model::validate::Mode::Create,
    )
    .map_err(ApiError::Fields)?;
    let org = match wfjt {
        Some(w) => state
            .store
            .get(&WORKFLOW_JOB_TEMPLATES, w)
            .await?
            .get("organization")
            .cloned()
            .unwrap_or(Value::Null),
        None => Value::Null,
    };
    row.insert("workflow_job_template".into(), json!(wfjt));
    row.insert("organization".into(), org);
    row.insert("created_by".into(), json!(actor.user_id));
    row.insert("modified_by".into(), json!(actor.user_id));
    let id = write::create(&state, &ident, &WORKFLOW_APPROVAL_TEMPLATES, &row).await?;
    let mut link = Row::new();
    link.insert("unified_job_template".into(), json!(id));
    let node_id = int(&node, "id").unwrap_or_default();
    write::update(&state, &ident, &WORKFLOW_JOB_TEMPLATE_NODES, node_id, &link).await?;
    let stored = state.store.get(&WORKFLOW_APPROVAL_TEMPLATES, id).await?;
    let out = r.render(&WORKFLOW_APPROVAL_TEMPLATES, &stored).await?;
    Ok(crate::handlers::created(
        &WORKFLOW_APPROVAL_TEMPLATES,
        id,
        out,
    ))
}

/// A random identifier in UUID v4 form (AWX's node `identifier` default, `uuid4()`).
fn uuid4() -> String {
    let b: [u8; 16] = rand::random();
    let mut b = b;
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

pub struct WorkflowJobs;

const WORKFLOW_ORIGIN: unified::Origin = unified::Origin {
    column: "workflow_job_template",
    templates: "workflow_job_templates",
    job_type: "workflow_job",
};

#[async_trait::async_trait]
impl ResourceApi for WorkflowJobs {
    fn schema(&self) -> &'static Resource {
        &WORKFLOW_JOBS
    }

    /// `WorkflowJobAccess.can_delete`: its template's organization's workflow admins.
    async fn can_delete(&self, r: &mut Renderer<'_>, row: &Row) -> ApiResult<bool> {
        if r.actor.read_only_token {
            return Ok(false);
        }
        if r.actor.is_superuser {
            return Ok(true);
        }
        let Some(t) = int(row, "workflow_job_template") else {
            return Ok(false);
        };
        let Some(wfjt) = r.lookup(WORKFLOW_JOB_TEMPLATES.key, t).await? else {
            return Ok(false);
        };
        match int(&wfjt, "organization") {
            Some(org) => {
                r.holds("organizations", org, &["workflow_admin_role"])
                    .await
            }
            None => Ok(false),
        }
    }

    /// `start` (`WorkflowJobAccess.get_method_capability`): its template's execute role; a
    /// job of no template, superusers.
    async fn user_capabilities(
        &self,
        r: &mut Renderer<'_>,
        row: &Row,
        caps: &mut Map<String, Value>,
    ) -> ApiResult<()> {
        let start = !r.actor.read_only_token
            && match int(row, "workflow_job_template") {
                Some(t) => {
                    r.holds("workflow_job_templates", t, &["execute_role"])
                        .await?
                }
                None => r.actor.is_superuser,
            };
        caps.insert("start".into(), json!(start));
        let delete = self.can_delete(r, row).await?;
        caps.insert("delete".into(), json!(delete));
        Ok(())
    }

    async fn before_delete(
        &self,
        _state: &AppState,
        _ident: &Identity,
        row: &Row,
    ) -> ApiResult<()> {
        unified::before_delete(row)
    }

    /// `WorkflowJobAccess.can_cancel`: the workflow's admins (its launcher always may).
    async fn can_cancel(&self, r: &mut Renderer<'_>, job: &Row) -> ApiResult<bool> {
        may_admin_workflow(r, int(job, "workflow_job_template")).await
    }

    fn related(&self, row: &Row, related: &mut Map<String, Value>) {
        unified::related("/api/v2/workflow_jobs/", row, related);
        related.remove("stdout");
        unified::template_link(&WORKFLOW_ORIGIN, row, related);
    }

    async fn summary_fields(
        &self,
        r: &mut Renderer<'_>,
        row: &Row,
        summary: &mut Map<String, Value>,
    ) -> ApiResult<()> {
        unified::template_summary(r, &WORKFLOW_ORIGIN, row, summary).await?;
        let id = int(row, "id").unwrap_or_default();
        summary.insert(
            "labels".into(),
            unified::labels_summary(r, &WFJ_LABELS, id).await?,
        );
        Ok(())
    }

    async fn derived(
        &self,
        r: &mut Renderer<'_>,
        row: &Row,
        out: &mut Map<String, Value>,
    ) -> ApiResult<()> {
        unified::derived(r, row, out).await?;
        // AWX's `WorkflowJobSerializer` leaves these out.
        for k in [
            "execution_environment",
            "execution_node",
            "controller_node",
            "event_processing_finished",
        ] {
            out.remove(k);
        }
        Ok(())
    }

    fn routes(&self) -> Routes {
        let mut routes =
            unified::routes(&WORKFLOW_JOB_KIND, "/api/v2/workflow_jobs/", post(relaunch));
        // A workflow job has no output of its own.
        routes.retain(|(path, _)| !path.ends_with("/stdout/"));
        routes
    }
}

/// `POST /workflow_jobs/N/relaunch/`: a new workflow job of the same template with the same
/// variables and prompts (AWX's `WorkflowJobRelaunch`).
async fn relaunch(
    State(state): Ctx,
    Auth(ident): Auth,
    Path(raw): Path<String>,
) -> ApiResult<Response> {
    let actor = &ident.actor;
    let old = fetch_visible(&state, actor, &WORKFLOW_JOBS, &raw).await?;
    let Some(t) = int(&old, "workflow_job_template") else {
        return Err(ApiError::Status(
            StatusCode::BAD_REQUEST,
            json!({"detail": "Cannot relaunch slice workflow job orphaned from job template."}),
        ));
    };
    let wfjt = state.store.get(&WORKFLOW_JOB_TEMPLATES, t).await?;
    if actor.read_only_token
        || !Renderer::new(&state, actor)
            .holds("workflow_job_templates", t, &["execute_role"])
            .await?
    {
        return Err(ApiError::forbidden());
    }
    let mut prompts = Map::new();
    for (k, _) in WORKFLOW_PROMPTS {
        prompts.insert((*k).into(), old.get(*k).cloned().unwrap_or(Value::Null));
    }
    let launch = WorkflowLaunch {
        prompts,
        extra_vars: match old.get("extra_vars") {
            Some(Value::String(s)) if !s.is_empty() => parse_vars(s).unwrap_or_default(),
            _ => Map::new(),
        },
        launch_type: "relaunch",
        user: Some(actor.user_id),
        survey_passwords: Some(text(&old, survey::PASSWORDS_FIELD).to_string())
            .filter(|p| !p.is_empty()),
        labels: Some(
            state
                .store
                .linked(&WFJ_LABELS, true, int(&old, "id").unwrap_or_default())
                .await?,
        ),
    };
    let id = workflows::create_workflow_job(&*state.store, &*state.bus, &wfjt, launch).await?;
    let stored = state.store.get(&WORKFLOW_JOBS, id).await?;
    let mut out = Renderer::new(&state, actor)
        .render(&WORKFLOW_JOBS, &stored)
        .await?;
    out["workflow_job"] = json!(id);
    Ok(crate::handlers::created(&WORKFLOW_JOBS, id, out))
}

pub struct WorkflowJobNodes;

#[async_trait::async_trait]
impl ResourceApi for WorkflowJobNodes {
    fn schema(&self) -> &'static Resource {
        &WORKFLOW_JOB_NODES
    }

    async fn summary_fields(
        &self,
        r: &mut Renderer<'_>,
        row: &Row,
        summary: &mut Map<String, Value>,
    ) -> ApiResult<()> {
        template_summary(r, row, summary).await?;
        if let Some(j) = int(row, "job") {
            if let Ok(job) = r
                .state
                .store
                .get(&rawx_model::resources::UNIFIED_JOBS, j)
                .await
            {
                summary.insert(
                    "job".into(),
                    json!({"id": j, "name": job["name"], "description": job["description"],
                        "status": job["status"], "failed": job["failed"], "elapsed": job["elapsed"],
                        "type": job[TYPE_COLUMN]}),
                );
            }
        }
        if let Some(w) = int(row, "workflow_job") {
            if let Some(wj) = r.lookup("workflow_jobs", w).await? {
                summary.insert(
                    "workflow_job".into(),
                    json!({"id": w, "name": wj["name"], "description": wj["description"],
                        "status": wj["status"], "failed": wj["failed"], "elapsed": wj["elapsed"]}),
                );
            }
        }
        Ok(())
    }

    async fn derived(
        &self,
        r: &mut Renderer<'_>,
        row: &Row,
        out: &mut Map<String, Value>,
    ) -> ApiResult<()> {
        edge_ids(r, &WFJ_EDGES, row, out).await?;
        extra_data_object(out);
        let mut links = Map::new();
        if let Some(ujt) = int(row, "unified_job_template") {
            if let Ok(t) = r.state.store.get(&UNIFIED_JOB_TEMPLATES, ujt).await {
                links.insert(
                    "unified_job_template".into(),
                    json!(format!(
                        "/api/v2/{}/{ujt}/",
                        template_path(text(&t, TYPE_COLUMN))
                    )),
                );
            }
        }
        if let Some(j) = int(row, "job") {
            if let Ok(job) = r
                .state
                .store
                .get(&rawx_model::resources::UNIFIED_JOBS, j)
                .await
            {
                links.insert(
                    "job".into(),
                    json!(format!(
                        "/api/v2/{}/{j}/",
                        job_path(text(&job, TYPE_COLUMN))
                    )),
                );
            }
        }
        if let Some(Value::Object(rel)) = out.get_mut("related") {
            rel.extend(links);
        }
        Ok(())
    }
}

/// Who may change the workflow `wfjt` (`WorkflowJobTemplateAccess.can_change`).
pub(super) async fn may_admin_workflow(r: &mut Renderer<'_>, wfjt: Option<i64>) -> ApiResult<bool> {
    if r.actor.read_only_token {
        return Ok(false);
    }
    match wfjt {
        Some(id) => r.holds("workflow_job_templates", id, &["admin_role"]).await,
        None => Ok(r.actor.is_superuser),
    }
}

/// `summary_fields.source_workflow_job` of a job a workflow spawned.
pub async fn source_workflow_job(
    r: &mut Renderer<'_>,
    row: &Row,
    summary: &mut Map<String, Value>,
) -> ApiResult<()> {
    if text(row, "launch_type") != "workflow" {
        return Ok(());
    }
    let id = int(row, "id").unwrap_or_default();
    if let Some(wj) = workflows::source_workflow_job(&*r.state.store, id).await? {
        summary.insert(
            "source_workflow_job".into(),
            json!({"id": wj["id"], "name": wj["name"], "description": wj["description"],
                "status": wj["status"], "failed": wj["failed"], "elapsed": wj["elapsed"]}),
        );
    }
    Ok(())
}
