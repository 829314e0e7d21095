//! Job templates: AWX's rules on write (a project, a playbook that project has, an inventory
//! or the prompt for one, the forks limit), one credential per type on a template (a vault per
//! `vault_id`), only the kinds a job takes, the passwords its credentials ask at launch, the template's credentials in its `summary_fields`, and `launch/`: validate,
//! write a pending job, signal the task role — nothing runs in the request.

use crate::auth::Auth;
use crate::error::{ApiError, ApiResult};
use crate::handlers::{fetch_visible, json_body};
use crate::resource::{ResourceApi, Routes};
use crate::view::Renderer;
use crate::{AppState, Identity};
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Json;
use rawx_domain::launch::{self, CredentialView};
use rawx_model::resources::{JOBS, JOB_TEMPLATES, JT_CREDENTIALS, PROJECTS, VERBOSITY};
use rawx_model::schema::{int, text, Relation, Resource};
use rawx_model::validate::FieldErrors;
use rawx_model::Row;
use serde_json::{json, Map, Value};
use std::sync::Arc;

type Ctx = State<Arc<AppState>>;

pub struct JobTemplates;

#[async_trait::async_trait]
impl ResourceApi for JobTemplates {
    fn schema(&self) -> &'static Resource {
        &JOB_TEMPLATES
    }

    async fn prepare(
        &self,
        state: &AppState,
        _ident: &Identity,
        row: &mut Row,
        existing: Option<&Row>,
    ) -> ApiResult<()> {
        let merged = |row: &Row| {
            let mut m = existing.cloned().unwrap_or_default();
            m.extend(row.clone());
            m
        };
        let m = merged(row);
        let mut errors = FieldErrors::default();
        match int(&m, "project") {
            None => errors.add("project", "Job Templates must have a project assigned."),
            Some(pid) => {
                let project = state.store.get(&PROJECTS, pid).await?;
                row.insert(
                    "organization".into(),
                    project.get("organization").cloned().unwrap_or(Value::Null),
                );
                let playbook = text(&m, "playbook");
                // AWX's `JobOptionsSerializer.validate`: a project from source control is
                // checked against its checkout, unless a launch may choose another branch.
                let allow_override = project.get("allow_override") == Some(&json!(true));
                if playbook.is_empty() {
                    errors.add("playbook", "This field is required.");
                } else if text(&project, "scm_type").is_empty() || !allow_override {
                    // A source-control project: what its last update recorded (AWX's
                    // `playbook_files`), else its checkout; a manual one: its directory.
                    let recorded = (!text(&project, "scm_type").is_empty())
                        .then(|| {
                            rawx_domain::project_files::recorded(project.get("playbook_files"))
                        })
                        .flatten();
                    let found = match recorded {
                        Some(files) => files.iter().any(|f| f == playbook),
                        None => {
                            let dir = state.config.projects_dir.join(text(&project, "local_path"));
                            playbook_in(&dir, playbook)
                        }
                    };
                    if !found {
                        errors.add("playbook", "Playbook not found for project.");
                    }
                }
                if !allow_override {
                    if !text(&m, "scm_branch").is_empty() {
                        errors.add("scm_branch", "Project does not allow overriding branch.");
                    }
                    if m.get("ask_scm_branch_on_launch") == Some(&json!(true)) {
                        errors.add(
                            "ask_scm_branch_on_launch",
                            "Project does not allow overriding branch.",
                        );
                    }
                }
            }
        }
        if int(&m, "inventory").is_none() && m.get("ask_inventory_on_launch") != Some(&json!(true))
        {
            errors.add(
                "inventory",
                "Job Template must provide 'inventory' or allow prompting for it.",
            );
        }
        let max = state.settings().get(rawx_domain::settings::MAX_FORKS).await;
        if max > 0 && int(&m, "forks").unwrap_or(0) > max {
            errors.add(
                "forks",
                format!("Maximum number of forks ({max}) exceeded."),
            );
        }
        if !errors.is_empty() {
            return Err(ApiError::Fields(errors));
        }
        Ok(())
    }

    fn used_by_jobs_as(&self) -> Option<&'static str> {
        Some("job_template")
    }

    async fn check_link(
        &self,
        state: &AppState,
        relation: &'static Relation,
        left: i64,
        right: i64,
    ) -> ApiResult<()> {
        if !std::ptr::eq(relation, &JT_CREDENTIALS) {
            return Ok(());
        }
        // AWX's `JobTemplateCredentialsList.is_valid_relation`: one per type (a vault per
        // `vault_id`), and only the kinds a job takes.
        let bad = |m: String| ApiError::Status(StatusCode::BAD_REQUEST, json!({ "error": m }));
        let new = CredentialView::load(&*state.store, right).await?;
        let (key, display) = new.unique_hash();
        for cid in state.store.linked(&JT_CREDENTIALS, true, left).await? {
            if cid == right {
                continue;
            }
            if CredentialView::load(&*state.store, cid)
                .await?
                .unique_hash()
                .0
                == key
            {
                return Err(bad(format!(
                    "Cannot assign multiple {display} credentials."
                )));
            }
        }
        if !rawx_domain::credentials::JOB_KINDS.contains(&new.def.kind.as_str()) {
            return Err(bad(format!(
                "Cannot assign a Credential of kind `{}`.",
                new.def.kind
            )));
        }
        Ok(())
    }

    /// `start` (and `schedule`, which AWX copies from it) as AWX's `get_user_capabilities`
    /// computes them for a template: false while the template could not start whatever the
    /// user (its `validation_errors`: no project, or no inventory and no prompt for one),
    /// else `JobTemplateAccess.can_start`: a superuser, or a holder of its `execute_role`
    /// (`launch_post`'s own check).
    async fn user_capabilities(
        &self,
        r: &mut Renderer<'_>,
        row: &Row,
        caps: &mut Map<String, Value>,
    ) -> ApiResult<()> {
        let startable = int(row, "project").is_some()
            && (int(row, "inventory").is_some()
                || row.get("ask_inventory_on_launch") == Some(&json!(true)));
        let start = startable && may_execute(r, row).await?;
        caps.insert("start".into(), json!(start));
        caps.insert("schedule".into(), json!(start));
        let copy = startable && super::copy::may_copy(r, &COPY, row).await?;
        caps.insert("copy".into(), json!(copy));
        Ok(())
    }

    fn related(&self, row: &Row, related: &mut Map<String, Value>) {
        let id = int(row, "id").unwrap_or_default();
        related.insert(
            "launch".into(),
            json!(format!("/api/v2/job_templates/{id}/launch/")),
        );
        super::copy::related(&COPY, row, related);
        super::surveys::related(&JOB_TEMPLATES, row, related);
    }

    async fn summary_fields(
        &self,
        r: &mut Renderer<'_>,
        row: &Row,
        summary: &mut Map<String, Value>,
    ) -> ApiResult<()> {
        let id = int(row, "id").unwrap_or_default();
        summary.insert(
            "labels".into(),
            super::unified::labels_summary(r, &rawx_model::resources::JT_LABELS, id).await?,
        );
        let mut creds = Vec::new();
        for cid in r.state.store.linked(&JT_CREDENTIALS, true, id).await? {
            if let Some(s) = r.summary("credentials", cid).await? {
                creds.push(s);
            }
        }
        summary.insert("credentials".into(), Value::Array(creds));
        super::surveys::summary(row, summary);
        super::execution_environments::resolved_summary(r, &JOB_TEMPLATES, row, summary).await
    }

    fn routes(&self) -> Routes {
        let mut routes = vec![(
            "/api/v2/job_templates/{id}/launch/",
            get(launch_get).post(launch_post).options(launch_options),
        )];
        routes.extend(super::copy::routes(&COPY));
        routes.extend(super::surveys::routes(&JOB_TEMPLATES));
        routes
    }
}

/// A playbook path inside a project directory: relative, no `..`, an existing file.
fn playbook_in(dir: &std::path::Path, playbook: &str) -> bool {
    let p = std::path::Path::new(playbook);
    p.is_relative()
        && !p
            .components()
            .any(|c| matches!(c, std::path::Component::ParentDir))
        && dir.join(p).is_file()
}

/// `JobTemplateAccess.can_start`: the template's execute role (which its admins, its
/// organization's admins and executors hold). Rights on its inventory and credentials are not
/// needed; a read-only token may not.
pub(super) async fn may_execute(r: &mut Renderer<'_>, jt: &Row) -> ApiResult<bool> {
    if r.actor.read_only_token {
        return Ok(false);
    }
    r.holds(
        "job_templates",
        int(jt, "id").unwrap_or_default(),
        &["execute_role"],
    )
    .await
}

pub(super) fn may_launch(jt_writable: bool) -> ApiResult<()> {
    if jt_writable {
        Ok(())
    } else {
        Err(ApiError::forbidden())
    }
}

pub async fn launch_get(
    State(state): Ctx,
    Auth(ident): Auth,
    Path(raw): Path<String>,
) -> ApiResult<Json<Value>> {
    let jt = fetch_visible(&state, &ident.actor, &JOB_TEMPLATES, &raw).await?;
    let mut r = Renderer::new(&state, &ident.actor);
    let inventory = match int(&jt, "inventory") {
        Some(i) => r
            .lookup("inventories", i)
            .await?
            .map(|inv| json!({"name": inv["name"], "id": i})),
        None => None,
    };
    let ask = |k: &str| jt.get(k).cloned().unwrap_or(json!(false));
    let mut out = Map::new();
    let inventory_needed = inventory.is_none();
    let cred_ids = state
        .store
        .linked(&JT_CREDENTIALS, true, int(&jt, "id").unwrap_or_default())
        .await?;
    let mut needed = Vec::new();
    let mut cred_defaults = Vec::new();
    for cid in &cred_ids {
        let view = CredentialView::load(&*state.store, *cid).await?;
        let pw = view.passwords_needed();
        let mut d = json!({
            "id": cid, "name": view.row["name"], "credential_type": view.row["credential_type"],
            "passwords_needed": pw,
        });
        if view.def.managed
            && view
                .def
                .fields()
                .iter()
                .any(|f| f["id"] == json!("vault_id"))
        {
            d["vault_id"] = view.inputs.get("vault_id").cloned().unwrap_or(Value::Null);
        }
        cred_defaults.push(d);
        needed.extend(pw);
    }
    let variables_needed = rawx_domain::survey::variables_needed(&jt);
    out.insert(
        "can_start_without_user_input".into(),
        json!(!inventory_needed && needed.is_empty() && variables_needed.is_empty()),
    );
    out.insert("passwords_needed_to_start".into(), json!(needed));
    for (_, _, flag) in launch::PROMPTS {
        out.insert((*flag).into(), ask(flag));
    }
    out.insert(
        "ask_variables_on_launch".into(),
        ask("ask_variables_on_launch"),
    );
    out.insert(
        "ask_credential_on_launch".into(),
        ask("ask_credential_on_launch"),
    );
    out.insert(
        "ask_instance_groups_on_launch".into(),
        ask("ask_instance_groups_on_launch"),
    );
    out.insert(
        "survey_enabled".into(),
        json!(rawx_domain::survey::enabled(&jt)),
    );
    out.insert("variables_needed_to_start".into(), json!(variables_needed));
    out.insert("credential_needed_to_start".into(), json!(false));
    out.insert("inventory_needed_to_start".into(), json!(inventory_needed));
    out.insert(
        "job_template_data".into(),
        json!({"name": jt["name"], "id": jt["id"], "description": jt["description"]}),
    );
    let mut defaults = Map::new();
    for (key, field, _) in launch::PROMPTS {
        defaults.insert(
            (*key).into(),
            jt.get(*field).cloned().unwrap_or(Value::Null),
        );
    }
    defaults.insert(
        "inventory".into(),
        inventory.unwrap_or(json!({"name": null, "id": null})),
    );
    defaults.insert("extra_vars".into(), jt["extra_vars"].clone());
    let ee = match int(&jt, "execution_environment") {
        Some(id) => match state
            .store
            .get(&rawx_model::resources::EXECUTION_ENVIRONMENTS, id)
            .await
        {
            Ok(ee) => json!({"id": id, "name": ee["name"]}),
            Err(_) => json!({}),
        },
        None => json!({}),
    };
    defaults.insert("execution_environment".into(), ee);
    if !cred_defaults.is_empty() {
        defaults.insert("credentials".into(), Value::Array(cred_defaults));
    }
    // AWX lists the template's labels as `{id, name}`, and leaves the key out when it has none.
    let jt_id = int(&jt, "id").unwrap_or_default();
    let mut labels = Vec::new();
    for id in state
        .store
        .linked(&rawx_model::resources::JT_LABELS, true, jt_id)
        .await?
    {
        let label = state.store.get(&rawx_model::resources::LABELS, id).await?;
        labels.push(json!({"id": id, "name": label["name"]}));
    }
    if !labels.is_empty() {
        defaults.insert("labels".into(), json!(labels));
    }
    // AWX's `get_defaults` answers an empty list whatever the template's groups are.
    defaults.insert("instance_groups".into(), json!([]));
    out.insert("defaults".into(), Value::Object(defaults));
    Ok(Json(Value::Object(out)))
}

/// `OPTIONS …/launch/`: the CLI turns `actions.POST` into `launch` flags.
pub async fn launch_options(
    State(state): Ctx,
    Auth(ident): Auth,
    Path(raw): Path<String>,
) -> ApiResult<Response> {
    // AWX's metadata describes the POST without the object (`determine_actions` looks one up
    // for PUT only), and the awx CLI reads the launch flags of every template from
    // `job_templates/1/launch/`, which need not be a template (ids are shared with projects,
    // workflow templates and inventory sources).
    let may = match fetch_visible(&state, &ident.actor, &JOB_TEMPLATES, &raw).await {
        Ok(jt) => may_execute(&mut Renderer::new(&state, &ident.actor), &jt).await?,
        Err(ApiError::NotFound) => true,
        Err(e) => return Err(e),
    };
    let choice = |c: Vec<Value>| json!({"type": "choice", "required": false, "choices": c});
    let mut post = Map::new();
    post.insert(
        "extra_vars".into(),
        json!({"type": "json", "required": false, "label": "Extra vars"}),
    );
    post.insert(
        "inventory".into(),
        json!({"type": "id", "required": false, "label": "Inventory"}),
    );
    post.insert(
        "limit".into(),
        json!({"type": "string", "required": false, "label": "Limit"}),
    );
    post.insert(
        "job_type".into(),
        choice(vec![json!(["run", "Run"]), json!(["check", "Check"])]),
    );
    post.insert(
        "verbosity".into(),
        choice(VERBOSITY.iter().map(|(v, l)| json!([v, l])).collect()),
    );
    for k in ["job_tags", "skip_tags", "scm_branch"] {
        post.insert(
            k.into(),
            json!({"type": "string", "required": false, "label": k}),
        );
    }
    post.insert(
        "diff_mode".into(),
        json!({"type": "boolean", "required": false, "label": "Diff mode"}),
    );
    for k in ["forks", "timeout", "job_slice_count"] {
        post.insert(
            k.into(),
            json!({"type": "integer", "required": false, "label": k}),
        );
    }
    post.insert(
        "credentials".into(),
        json!({"type": "list_of_ids", "required": false, "label": "Credentials"}),
    );
    post.insert(
        "labels".into(),
        json!({"type": "list_of_ids", "required": false, "label": "Labels"}),
    );
    // AWX's metadata names only launch-time `credentials` `list_of_ids`; other many-related
    // fields keep DRF's `field` (so the awx CLI sends one integer, which the launch refuses).
    post.insert(
        "instance_groups".into(),
        json!({"type": "field", "required": false, "label": "Instance groups"}),
    );
    post.insert(
        "credential_passwords".into(),
        json!({"type": "field", "required": false, "label": "Credential passwords"}),
    );
    let actions = if may {
        json!({"POST": post})
    } else {
        json!({})
    };
    let body = json!({
        "name": "Job Template Launch", "description": "",
        "renders": ["application/json", "text/html"], "parses": ["application/json"],
        "actions": actions,
    });
    let allow = if may {
        "GET, POST, HEAD, OPTIONS"
    } else {
        "GET, HEAD, OPTIONS"
    };
    Ok(([(header::ALLOW, allow)], Json(body)).into_response())
}

pub async fn launch_post(
    State(state): Ctx,
    Auth(ident): Auth,
    Path(raw): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Response> {
    let actor = &ident.actor;
    let jt = fetch_visible(&state, actor, &JOB_TEMPLATES, &raw).await?;
    may_launch(may_execute(&mut Renderer::new(&state, actor), &jt).await?)?;
    let body = json_body(&headers, &body)?;
    let prompts = body
        .as_object()
        .cloned()
        .ok_or_else(|| ApiError::field("__all__", "Invalid data. Expected a dictionary."))?;
    let launch = launch::job_from_template(&*state.store, actor, &jt, &prompts, &state.key).await?;
    let (mut job, ignored) = (launch.job, launch.ignored);
    if !launch.passwords.is_empty() {
        // Sealed until the task role builds the job (AWX's encrypted `start_args`).
        let plain = Value::Object(launch.passwords).to_string();
        job.insert("start_args".into(), json!(state.key.seal(&plain)));
    }
    job.insert("launch_type".into(), json!("manual"));
    job.insert("launched_by_user".into(), json!(actor.user_id));
    let id = launch::create_job(
        &*state.store,
        &*state.bus,
        actor.user_id,
        job,
        &launch.credentials,
        launch.labels.as_deref(),
    )
    .await?;
    let stored = state.store.get(&JOBS, id).await?;
    let mut out = Renderer::new(&state, actor).render(&JOBS, &stored).await?;
    out["job"] = json!(id);
    out["ignored_fields"] = Value::Object(ignored);
    tracing::info!(job = id, template = %jt["id"], user = ident.username(), "job launched");
    Ok(crate::handlers::created(&JOBS, id, out))
}

/// Job templates: their credentials, labels and instance groups (awx/main/models/jobs.py).
static COPY: super::copy::CopySpec = super::copy::CopySpec {
    res: &JOB_TEMPLATES,
    path: "/api/v2/job_templates/{id}/copy/",
    discard: &["vault_credential", "credential"],
    links: &[
        &rawx_model::resources::JT_CREDENTIALS,
        &rawx_model::resources::JT_LABELS,
        &rawx_model::resources::JT_INSTANCE_GROUPS,
    ],
    hosts_and_groups: false,
};
