//! Launch: a template and its prompts to a pending job (AWX's launch rules and extra-vars
//! precedence), writing it and waking the task managers; relaunch; cancel requests. Every path
//! that makes a job (the launch endpoint, relaunch, schedules) goes through here, so a job is
//! built one way whoever asks. Permission checks are the caller's: this acts for `actor` only in
//! what it lets it *see* (the inventory and credentials it names).

use crate::access::visible;
use crate::messages::{publish, CancelRequested, StatusChanged, Wake};
use crate::status::JobStatus;
use crate::{DomainError, DomainResult};
use rawx_bus::Bus;
use rawx_model::rbac::Actor;
use rawx_model::resources::{
    JobKind, CREDENTIALS, CREDENTIAL_TYPES, EXECUTION_ENVIRONMENTS, INSTANCE_GROUPS, INVENTORIES,
    JOBS, JOB_CREDENTIALS, JOB_KIND, JOB_LABELS, JOB_TEMPLATES, JT_CREDENTIALS, JT_INSTANCE_GROUPS,
    JT_LABELS, LABELS,
};
use rawx_model::schema::{int, text};
use rawx_model::secret::SecretKey;
use rawx_model::validate::{parse_vars, FieldErrors};
use rawx_model::Row;
use rawx_store::Store;
use serde_json::{json, Map, Value};

/// The prompts a template may accept at launch: `(launch key, template field, ask flag)`.
pub const PROMPTS: &[(&str, &str, &str)] = &[
    ("inventory", "inventory", "ask_inventory_on_launch"),
    ("limit", "limit", "ask_limit_on_launch"),
    ("job_type", "job_type", "ask_job_type_on_launch"),
    ("job_tags", "job_tags", "ask_tags_on_launch"),
    ("skip_tags", "skip_tags", "ask_skip_tags_on_launch"),
    ("verbosity", "verbosity", "ask_verbosity_on_launch"),
    ("diff_mode", "diff_mode", "ask_diff_mode_on_launch"),
    ("scm_branch", "scm_branch", "ask_scm_branch_on_launch"),
    ("forks", "forks", "ask_forks_on_launch"),
    ("timeout", "timeout", "ask_timeout_on_launch"),
    (
        "execution_environment",
        "execution_environment",
        "ask_execution_environment_on_launch",
    ),
    (
        "job_slice_count",
        "job_slice_count",
        "ask_job_slice_count_on_launch",
    ),
];

/// The template fields a job copies.
const COPIED: &[&str] = &[
    "name",
    "description",
    "job_type",
    "inventory",
    "project",
    "playbook",
    "scm_branch",
    "forks",
    "limit",
    "verbosity",
    "job_tags",
    "skip_tags",
    "force_handlers",
    "start_at_task",
    "timeout",
    "use_fact_cache",
    "organization",
    "allow_simultaneous",
    "diff_mode",
    "become_enabled",
    "job_slice_count",
    "webhook_service",
    "execution_environment",
];

/// The job fields a relaunch does not copy: what the run itself wrote.
const RUN_FIELDS: &[&str] = &[
    "status",
    "failed",
    "started",
    "finished",
    "canceled_on",
    "elapsed",
    "job_args",
    "job_cwd",
    "job_env",
    "job_explanation",
    "execution_node",
    "controller_node",
    "result_traceback",
    "event_processing_finished",
    "work_unit_id",
    "artifacts",
    "host_status_counts",
];

/// A pending job not yet written: its row, its credentials, and the prompts the template does
/// not ask for (AWX answers them as `ignored_fields`).
pub struct Launch {
    pub job: Row,
    pub credentials: Vec<i64>,
    /// The labels given at launch when the template asks for them (`ask_labels_on_launch`);
    /// `None`: the job takes the template's.
    pub labels: Option<Vec<i64>>,
    pub ignored: Map<String, Value>,
    /// Launch-time passwords (`credential_passwords`) the credentials ask for, in the clear:
    /// the caller seals them into the job's `start_args`.
    pub passwords: Map<String, Value>,
}

/// A credential with its type, as the launch rules read it.
pub struct CredentialView {
    pub row: Row,
    pub def: crate::credentials::TypeDef,
    pub inputs: Map<String, Value>,
}

impl CredentialView {
    pub async fn load(store: &dyn Store, id: i64) -> DomainResult<CredentialView> {
        let row = store.get(&CREDENTIALS, id).await?;
        let ctype = store
            .get(
                &CREDENTIAL_TYPES,
                int(&row, "credential_type").unwrap_or_default(),
            )
            .await?;
        let inputs = match row.get("inputs") {
            Some(Value::String(t)) => serde_json::from_str(t).unwrap_or_default(),
            Some(Value::Object(m)) => m.clone(),
            _ => Map::new(),
        };
        Ok(CredentialView {
            def: crate::credentials::TypeDef::from_row(&ctype),
            row,
            inputs,
        })
    }

    pub fn passwords_needed(&self) -> Vec<String> {
        crate::credentials::passwords_needed(&self.def, &self.inputs)
    }

    /// `(key, display)` of AWX's `unique_hash`.
    pub fn unique_hash(&self) -> (String, String) {
        crate::credentials::unique_hash(
            &self.def,
            int(&self.row, "credential_type").unwrap_or_default(),
            &self.inputs,
        )
    }
}

/// The launch-time passwords `credentials` need, in AWX's order (per credential).
pub async fn passwords_needed(store: &dyn Store, credentials: &[i64]) -> DomainResult<Vec<String>> {
    let mut out = Vec::new();
    for c in credentials {
        out.extend(CredentialView::load(store, *c).await?.passwords_needed());
    }
    Ok(out)
}

fn vars_map(v: &Value) -> Result<Map<String, Value>, String> {
    match v {
        Value::Object(m) => Ok(m.clone()),
        Value::String(s) => parse_vars(s),
        Value::Null => Ok(Map::new()),
        other => Err(format!("Input type `{other}` is not a dictionary")),
    }
}

/// Whether `actor` holds the use role of a prompted inventory or credential.
async fn may_use(
    store: &dyn Store,
    actor: &Actor,
    content_type: &'static str,
    id: i64,
) -> DomainResult<bool> {
    Ok(actor.is_superuser
        || crate::roles::holds(store, actor.user_id, content_type, id, &["use_role"]).await?)
}

/// The pending job a launch of `jt` with `prompts` makes, by AWX's launch rules. The caller
/// adds who launched it and how, then `create_job`.
pub async fn job_from_template(
    store: &dyn Store,
    actor: &Actor,
    jt: &Row,
    prompts: &Map<String, Value>,
    key: &SecretKey,
) -> DomainResult<Launch> {
    let mut job = Row::new();
    let mut ignored = Map::new();
    let mut errors = FieldErrors::default();
    for f in COPIED {
        job.insert((*f).into(), jt.get(*f).cloned().unwrap_or(Value::Null));
    }
    for (key, field, flag) in PROMPTS {
        let Some(v) = prompts.get(*key) else { continue };
        if jt.get(*flag) != Some(&json!(true)) {
            ignored.insert((*key).into(), v.clone());
            continue;
        }
        let f = JOB_TEMPLATES.field(field).expect("prompt field");
        match rawx_model::validate::validate(
            &JOB_TEMPLATES,
            &json!({ *field: v }),
            rawx_model::validate::Mode::Patch,
        ) {
            Ok(row) => {
                job.insert(
                    (*field).into(),
                    row.get(f.name).cloned().unwrap_or(Value::Null),
                );
            }
            Err(e) => {
                for (k, msgs) in e.0 {
                    for m in msgs {
                        errors.add(&k, m);
                    }
                }
            }
        }
    }
    // Extra vars, in AWX's precedence: the template's, the survey's defaults, then those given
    // at launch — survey answers even when the template does not ask for variables.
    let template_vars = vars_map(&jt["extra_vars"]).unwrap_or_default();
    let runtime = match prompts.get("extra_vars") {
        Some(v) => vars_map(v).unwrap_or_else(|e| {
            errors.add("extra_vars", e);
            Map::new()
        }),
        None => Map::new(),
    };
    let ask_variables = jt.get("ask_variables_on_launch") == Some(&json!(true));
    let applied = crate::survey::apply(jt, template_vars, runtime, ask_variables, key);
    for e in applied.errors {
        errors.add("variables_needed_to_start", e);
    }
    if !applied.ignored.is_empty() {
        ignored.insert("extra_vars".into(), Value::Object(applied.ignored));
    }
    let vars = applied.extra_vars;
    if !applied.passwords.is_empty() {
        job.insert(
            crate::survey::PASSWORDS_FIELD.into(),
            json!(key.seal(&Value::Object(applied.passwords).to_string())),
        );
    }
    let template_credentials = store
        .linked(&JT_CREDENTIALS, true, int(jt, "id").unwrap_or_default())
        .await?;
    let mut credentials = template_credentials.clone();
    if let Some(v) = prompts.get("credentials") {
        if jt.get("ask_credential_on_launch") == Some(&json!(true)) {
            match v
                .as_array()
                .map(|a| a.iter().map(Value::as_i64).collect::<Option<Vec<_>>>())
            {
                Some(Some(ids)) => {
                    credentials = ids;
                    check_prompted_credentials(
                        store,
                        &template_credentials,
                        &credentials,
                        &mut errors,
                    )
                    .await?;
                }
                _ => errors.add("credentials", "Expected a list of credential ids."),
            }
        } else {
            ignored.insert("credentials".into(), v.clone());
        }
    }
    // AWX's JobLaunchSerializer: `labels` is a list of label ids the launcher can see, taken
    // in place of the template's when it asks for them.
    let labels = prompted_labels(
        store,
        actor,
        jt,
        prompts.get("labels"),
        &mut errors,
        &mut ignored,
    )
    .await;
    // AWX's JobLaunchSerializer: `instance_groups`, group ids the job runs in instead of every
    // group it would prefer (no fallback), in the order given.
    let instance_groups = prompted_instance_groups(
        store,
        jt,
        prompts.get("instance_groups"),
        &mut errors,
        &mut ignored,
    )
    .await?;
    // Executing a template needs no rights on its own inventory and credentials; what is
    // prompted for needs `use` of it (`JobLaunchConfigAccess.can_add`), else 403.
    let template_creds = store
        .linked(&JT_CREDENTIALS, true, int(jt, "id").unwrap_or_default())
        .await?;
    let prompted_inventory = int(&job, "inventory").filter(|i| int(jt, "inventory") != Some(*i));
    let mut forbidden = false;
    // Groups the template has already are the launcher's to run in; any other needs `use`.
    let template_groups = store
        .linked(&JT_INSTANCE_GROUPS, true, int(jt, "id").unwrap_or_default())
        .await?;
    for g in instance_groups
        .iter()
        .filter(|g| !template_groups.contains(g))
    {
        forbidden |= !may_use(store, actor, "instance_groups", *g).await?;
    }
    if !instance_groups.is_empty() {
        job.insert(
            LAUNCH_INSTANCE_GROUPS.into(),
            json!(json!(instance_groups).to_string()),
        );
    }
    // Passwords the credentials ask for at launch (AWX's `passwords_needed_to_start`).
    let given = prompts
        .get("credential_passwords")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let mut passwords = Map::new();
    let mut needed_all = Vec::new();
    for cid in &credentials {
        let Ok(view) = CredentialView::load(store, *cid).await else {
            continue;
        };
        for p in view.passwords_needed() {
            match given.get(&p) {
                Some(v) => {
                    passwords.insert(p.clone(), v.clone());
                }
                None => errors.add("passwords_needed_to_start", p.clone()),
            }
            needed_all.push(json!(p));
        }
    }
    job.insert(
        "passwords_needed_to_start".into(),
        json!(Value::Array(needed_all).to_string()),
    );
    match int(&job, "inventory") {
        None => errors.add(
            "inventory",
            "Job Template 'inventory' is missing or undefined.",
        ),
        Some(i) if prompted_inventory.is_some() => match store.get(&INVENTORIES, i).await {
            Ok(_) => forbidden |= !may_use(store, actor, "inventories", i).await?,
            Err(rawx_store::DbError::NotFound) => errors.add(
                "inventory",
                format!("Invalid pk \"{i}\" - object does not exist."),
            ),
            Err(e) => return Err(e.into()),
        },
        Some(_) => {}
    }
    // AWX's JobLaunchSerializer: a prompted execution environment must exist; using it asks
    // only to see it (`check_related(..., role_field='read_role')`).
    if let Some(ee) =
        int(&job, "execution_environment").filter(|e| int(jt, "execution_environment") != Some(*e))
    {
        match visible(store, actor, &EXECUTION_ENVIRONMENTS, ee).await {
            Ok(Some(_)) => {}
            Ok(None) | Err(DomainError::NotFound) => errors.add(
                "execution_environment",
                format!("Invalid pk \"{ee}\" - object does not exist."),
            ),
            Err(e) => return Err(e),
        }
    }
    if int(&job, "project").is_none() {
        errors.add("project", "A project is required to run a job.");
    }
    for cid in credentials.iter().filter(|c| !template_creds.contains(c)) {
        match store.get(&CREDENTIALS, *cid).await {
            Ok(_) => forbidden |= !may_use(store, actor, "credentials", *cid).await?,
            Err(rawx_store::DbError::NotFound) => errors.add(
                "credentials",
                format!("Credential {cid} does not exist or you may not use it."),
            ),
            Err(e) => return Err(e.into()),
        }
    }
    if forbidden && errors.is_empty() {
        return Err(DomainError::Forbidden);
    }
    if !errors.is_empty() {
        return Err(DomainError::Fields(errors));
    }
    job.insert(
        "extra_vars".into(),
        json!(if vars.is_empty() {
            String::new()
        } else {
            Value::Object(vars).to_string()
        }),
    );
    job.insert("job_template".into(), jt["id"].clone());
    job.insert("unified_job_template".into(), jt["id"].clone());
    job.insert("status".into(), json!(JobStatus::Pending.as_str()));
    Ok(Launch {
        job,
        credentials,
        labels,
        ignored,
        passwords,
    })
}

/// AWX's launch rules for prompted credentials (`JobLaunchSerializer.validate`): one per type
/// (vaults per `vault_id`), only the kinds a job takes, and no template credential dropped
/// without one of its type in its place.
async fn check_prompted_credentials(
    store: &dyn Store,
    template: &[i64],
    given: &[i64],
    errors: &mut FieldErrors,
) -> DomainResult<()> {
    let mut seen = Vec::new();
    let mut provided = std::collections::HashSet::new();
    for cid in given {
        let Ok(view) = CredentialView::load(store, *cid).await else {
            continue;
        };
        let (key, display) = view.unique_hash();
        if seen.contains(&key) {
            errors.add(
                "credentials",
                format!("Cannot assign multiple {display} credentials."),
            );
        }
        if !crate::credentials::JOB_KINDS.contains(&view.def.kind.as_str()) {
            errors.add(
                "credentials",
                format!("Cannot assign a Credential of kind `{}`", view.def.kind),
            );
        }
        seen.push(key.clone());
        provided.insert(key);
    }
    let removed: Vec<i64> = template
        .iter()
        .filter(|c| !given.contains(c))
        .copied()
        .collect();
    let mut names = Vec::new();
    for cid in &removed {
        if let Ok(v) = CredentialView::load(store, *cid).await {
            names.push(rawx_model::schema::text(&v.row, "name").to_string());
        }
    }
    for cid in &removed {
        let Ok(view) = CredentialView::load(store, *cid).await else {
            continue;
        };
        let (key, display) = view.unique_hash();
        if !provided.contains(&key) {
            errors.add(
                "credentials",
                format!("Removing {display} credential at launch time without replacement is not supported. Provided list lacked credential(s): {}.", names.join(", ")),
            );
        }
    }
    Ok(())
}

/// Writes a pending job with its credentials and labels (`None`: its template's) and wakes
/// the task managers.
pub async fn create_job(
    store: &dyn Store,
    bus: &dyn Bus,
    user: i64,
    mut job: Row,
    credentials: &[i64],
    labels: Option<&[i64]>,
) -> DomainResult<i64> {
    rawx_model::validate::with_defaults(&JOBS, &mut job);
    job.insert("created_by".into(), json!(user));
    job.insert("modified_by".into(), json!(user));
    let id = store.insert(&JOBS, &job).await?;
    for c in credentials {
        store.link(&JOB_CREDENTIALS, id, *c).await?;
    }
    // The labels given, else the template's (AWX's `_update_unified_job_kwargs`).
    let labels = match (labels, int(&job, "job_template")) {
        (Some(given), _) => given.to_vec(),
        (None, Some(jt)) => store.linked(&JT_LABELS, true, jt).await?,
        (None, None) => Vec::new(),
    };
    for label in labels {
        store.link(&JOB_LABELS, id, label).await?;
    }
    let mut jt_status = Row::new();
    jt_status.insert("status".into(), json!(JobStatus::Pending.as_str()));
    jt_status.insert("last_job_run".into(), json!(rawx_model::now_string()));
    if let Some(jt) = int(&job, "job_template") {
        let _ = store.update(&JOB_TEMPLATES, jt, &jt_status).await;
    }
    pending(bus, &JOB_KIND, id, job["job_template"].clone());
    Ok(id)
}

/// A job of any kind is pending: wake the task managers and tell live watchers.
pub fn pending(bus: &dyn Bus, kind: &JobKind, id: i64, template: Value) {
    publish(
        bus,
        &Wake {
            job: Some((kind, id)),
        },
    );
    publish(
        bus,
        &StatusChanged::new(kind, id, JobStatus::Pending).template(template),
    );
}

/// The job a relaunch of `old` makes, launched by `user` with `old`'s credentials.
pub async fn relaunch_job(
    store: &dyn Store,
    bus: &dyn Bus,
    user: i64,
    old: &Row,
) -> DomainResult<i64> {
    relaunch_job_with(store, bus, user, old, Row::new()).await
}

/// `relaunch_job` with fields of the new job's own (the sealed launch-time passwords).
pub async fn relaunch_job_with(
    store: &dyn Store,
    bus: &dyn Bus,
    user: i64,
    old: &Row,
    own: Row,
) -> DomainResult<i64> {
    let mut job = Row::new();
    for f in JOBS
        .fields
        .iter()
        .filter(|f| !f.internal && !RUN_FIELDS.contains(&f.name))
    {
        job.insert(
            f.name.into(),
            old.get(f.name).cloned().unwrap_or(Value::Null),
        );
    }
    // The groups given at launch are the job's launch configuration: a relaunch runs there
    // too (AWX's relaunch prompts from `launch_config`).
    if let Some(v) = old.get(LAUNCH_INSTANCE_GROUPS) {
        job.insert(LAUNCH_INSTANCE_GROUPS.into(), v.clone());
    }
    job.extend(own);
    job.insert("launch_type".into(), json!("relaunch"));
    job.insert("status".into(), json!(JobStatus::Pending.as_str()));
    job.insert("launched_by_user".into(), json!(user));
    let old_id = int(old, "id").unwrap_or_default();
    let creds = store.linked(&JOB_CREDENTIALS, true, old_id).await?;
    // A relaunch keeps the job's own labels, prompted ones included.
    let labels = store.linked(&JOB_LABELS, true, old_id).await?;
    create_job(store, bus, user, job, &creds, Some(&labels)).await
}

/// Asks for a job to be cancelled: stamps `canceled_on` (the job's own task reads it) and
/// tells the task role. `false` when the job is past cancelling.
pub async fn request_cancel(
    store: &dyn Store,
    bus: &dyn Bus,
    kind: &JobKind,
    job: &Row,
) -> DomainResult<bool> {
    if !JobStatus::of(job).is_some_and(JobStatus::can_cancel) {
        return Ok(false);
    }
    let id = int(job, "id").unwrap_or_default();
    let mut row = Row::new();
    row.insert("canceled_on".into(), json!(rawx_model::now_string()));
    store.update(kind.resource, id, &row).await?;
    publish(bus, &CancelRequested { kind, job: id });
    Ok(true)
}

/// Active jobs (pending, waiting, running) whose `column` names `id`, for AWX's 409 on delete.
pub async fn active_jobs_using(
    store: &dyn Store,
    column: &'static str,
    id: i64,
) -> DomainResult<Vec<i64>> {
    use rawx_model::filter::{Cond, Filter, ListQuery};
    use rawx_model::schema::ColumnType;
    let f = Filter::eq(column, ColumnType::Int, json!(id)).and(Filter::On {
        path: vec![],
        column: "status",
        ctype: ColumnType::Text,
        cond: Cond::In(
            JobStatus::names(JobStatus::is_active)
                .into_iter()
                .map(|s| json!(s))
                .collect(),
        ),
    });
    let q = ListQuery {
        filter: f,
        order: vec![("id", false)],
        page: 1,
        page_size: 200,
    };
    Ok(store
        .list(&JOBS, &q)
        .await?
        .rows
        .iter()
        .filter_map(|r| int(r, "id"))
        .collect())
}

/// A saved launch configuration's credentials (a schedule's, a workflow node's) over its job
/// template's: each replaces the template's of the same type (AWX's `unique_hash`), as a
/// prompted credential does at launch.
pub async fn config_credentials(
    store: &dyn Store,
    jt: i64,
    config: &[i64],
) -> DomainResult<Vec<i64>> {
    let mut hashes = Vec::new();
    for c in config {
        hashes.push(CredentialView::load(store, *c).await?.unique_hash().0);
    }
    let mut out = Vec::new();
    for c in store.linked(&JT_CREDENTIALS, true, jt).await? {
        if !hashes.contains(&CredentialView::load(store, c).await?.unique_hash().0) {
            out.push(c);
        }
    }
    out.extend_from_slice(config);
    Ok(out)
}

/// AWX's `LaunchConfigCredentialsBase.is_valid_relation`: may `credential` join a saved launch
/// configuration (a schedule, a workflow node) of template `ujt` that has `existing`? `Err`
/// holds AWX's message (its 400 `{"msg": …}`).
pub async fn check_config_credential(
    store: &dyn Store,
    ujt: Option<i64>,
    existing: &[i64],
    credential: i64,
) -> DomainResult<Result<(), String>> {
    let Some(ujt) = ujt else {
        return Ok(Err(
            "Cannot assign credential when related template is null.".into(),
        ));
    };
    let Ok(jt) = store.get(&JOB_TEMPLATES, ujt).await else {
        // Only job templates ask for credentials (`get_ask_mapping`).
        return Ok(Err(
            "Related template cannot accept credentials on launch.".into()
        ));
    };
    let new = CredentialView::load(store, credential).await?;
    if !new.passwords_needed().is_empty() {
        return Ok(Err("Credential that requires user input on launch cannot be used in saved launch configuration.".into()));
    }
    if jt.get("ask_credential_on_launch") != Some(&json!(true)) {
        return Ok(Err(
            "Related template is not configured to accept credentials on launch.".into(),
        ));
    }
    let (key, display) = new.unique_hash();
    for c in existing {
        if *c != credential && CredentialView::load(store, *c).await?.unique_hash().0 == key {
            return Ok(Err(format!(
                "This launch configuration already provides a {display} credential."
            )));
        }
    }
    if store
        .linked(&JT_CREDENTIALS, true, ujt)
        .await?
        .contains(&credential)
    {
        return Ok(Err(format!(
            "Related template already uses {} credential.",
            text(&new.row, "name")
        )));
    }
    Ok(Ok(()))
}

/// The job field that keeps the instance groups given at launch (a JSON list of ids).
pub const LAUNCH_INSTANCE_GROUPS: &str = "launch_instance_groups";

/// The instance groups a job was launched with (empty: none given, it runs where its
/// template, inventory and organization say).
pub fn launch_instance_groups(job: &Row) -> Vec<i64> {
    serde_json::from_str(text(job, LAUNCH_INSTANCE_GROUPS)).unwrap_or_default()
}

/// Instance groups given at launch (`instance_groups`, a list of ids of groups that exist)
/// when the template asks for them (`ask_instance_groups_on_launch`), else put in `ignored`.
/// Empty when none were taken: as in AWX, an empty list leaves the job its usual groups.
async fn prompted_instance_groups(
    store: &dyn Store,
    jt: &Row,
    given: Option<&Value>,
    errors: &mut FieldErrors,
    ignored: &mut Map<String, Value>,
) -> DomainResult<Vec<i64>> {
    let Some(v) = given else {
        return Ok(Vec::new());
    };
    if jt.get("ask_instance_groups_on_launch") != Some(&json!(true)) {
        ignored.insert("instance_groups".into(), v.clone());
        return Ok(Vec::new());
    }
    // DRF's `PrimaryKeyRelatedField(many=True)` messages.
    let type_name = |v: &Value| match v {
        Value::String(_) => "str",
        Value::Object(_) => "dict",
        Value::Array(_) => "list",
        Value::Bool(_) => "bool",
        Value::Null => "NoneType",
        Value::Number(n) if n.is_f64() => "float",
        Value::Number(_) => "int",
    };
    let Value::Array(items) = v else {
        errors.add(
            "instance_groups",
            format!(
                "Expected a list of items but got type \"{}\".",
                type_name(v)
            ),
        );
        return Ok(Vec::new());
    };
    let mut ids = Vec::new();
    for item in items {
        let Some(id) = item.as_i64() else {
            errors.add(
                "instance_groups",
                format!(
                    "Incorrect type. Expected pk value, received {}.",
                    type_name(item)
                ),
            );
            return Ok(Vec::new());
        };
        match store.get(&INSTANCE_GROUPS, id).await {
            Ok(_) => {}
            Err(rawx_store::DbError::NotFound) => {
                errors.add(
                    "instance_groups",
                    format!("Invalid pk \"{id}\" - object does not exist."),
                );
                return Ok(Vec::new());
            }
            Err(e) => return Err(e.into()),
        }
        if !ids.contains(&id) {
            ids.push(id);
        }
    }
    Ok(ids)
}

/// Labels given at launch (`labels`, a list of ids the launcher can see) when the template
/// asks for them (`ask_labels_on_launch`), else put in `ignored`: job and workflow templates
/// alike (AWX's `JobLaunchSerializer` and `WorkflowJobLaunchSerializer`).
pub async fn prompted_labels(
    store: &dyn Store,
    actor: &Actor,
    template: &Row,
    given: Option<&Value>,
    errors: &mut FieldErrors,
    ignored: &mut Map<String, Value>,
) -> Option<Vec<i64>> {
    let v = given?;
    if template.get("ask_labels_on_launch") != Some(&json!(true)) {
        ignored.insert("labels".into(), v.clone());
        return None;
    }
    let ids = match v {
        Value::Array(a) => a.iter().map(Value::as_i64).collect::<Option<Vec<_>>>(),
        _ => None,
    };
    match ids {
        Some(ids) => {
            for id in &ids {
                if !matches!(visible(store, actor, &LABELS, *id).await, Ok(Some(_))) {
                    errors.add(
                        "labels",
                        format!("Invalid pk \"{id}\" - object does not exist."),
                    );
                }
            }
            Some(ids)
        }
        None => {
            errors.add(
                "labels",
                format!(
                    "Expected a list of items but got type \"{}\".",
                    match v {
                        Value::String(_) => "str",
                        Value::Object(_) => "dict",
                        _ => "int",
                    }
                ),
            );
            None
        }
    }
}

/// The workflow job that spawned job `id` (any kind), if one did: AWX's
/// `summary_fields.source_workflow_job`. Here, below both the workflow engine and approvals,
/// which each need it.
pub async fn source_workflow_job(store: &dyn Store, id: i64) -> DomainResult<Option<Row>> {
    let Some(node) = store
        .find(
            &rawx_model::resources::WORKFLOW_JOB_NODES,
            &rawx_model::filter::Filter::eq("job", rawx_model::schema::ColumnType::Int, json!(id)),
        )
        .await?
    else {
        return Ok(None);
    };
    match store
        .get(
            &rawx_model::resources::WORKFLOW_JOBS,
            int(&node, "workflow_job").unwrap_or_default(),
        )
        .await
    {
        Ok(wj) => Ok(Some(wj)),
        Err(rawx_store::DbError::NotFound) => Ok(None),
        Err(e) => Err(e.into()),
    }
}
