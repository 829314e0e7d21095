//! Workflows: a workflow template and its prompts to a pending workflow job (its nodes and
//! edges copied, AWX's `WorkflowJobTemplate.create_unified_job`), a workflow job's graph loaded
//! for the rules of `dag.rs` (AWX 24.6.1's `dag_workflow.py`), and the job a node spawns
//! (`WorkflowJobNode.get_job_kwargs`: prompts, artifacts, the recursion check). The task role's workflow
//! engine calls these; so do the launch endpoint and bulk launch.

pub use crate::dag::{Dag, Edge, Node};
use crate::launch;
pub use crate::launch::source_workflow_job;
use crate::messages::{publish, StatusChanged};
use crate::status::JobStatus;
use crate::{DomainError, DomainResult};
use rawx_bus::Bus;
use rawx_model::filter::Filter;
use rawx_model::rbac::Actor;
use rawx_model::resources::{
    INVENTORIES, INVENTORY_SOURCES, JOBS, JOB_TEMPLATES, PROJECTS, TYPE_COLUMN, UNIFIED_JOBS,
    UNIFIED_JOB_TEMPLATES, WFJT_EDGES, WFJT_LABELS, WFJT_NODE_CREDENTIALS,
    WFJT_NODE_INSTANCE_GROUPS, WFJ_EDGES, WFJ_LABELS, WFJ_NODE_CREDENTIALS,
    WFJ_NODE_INSTANCE_GROUPS, WORKFLOW_APPROVAL_TEMPLATES, WORKFLOW_JOBS, WORKFLOW_JOB_KIND,
    WORKFLOW_JOB_NODES, WORKFLOW_JOB_TEMPLATES, WORKFLOW_JOB_TEMPLATE_NODES,
};
use rawx_model::schema::{int, text, ColumnType};
use rawx_model::secret::ENCRYPTED;
use rawx_model::validate::parse_vars;
use rawx_model::{Relation, Row};
use rawx_store::Store;
use serde_json::{json, Map, Value};
use std::collections::{HashMap, HashSet};

/// The launch-config fields a node saves and a spawned job takes (when its template asks).
pub const NODE_PROMPTS: &[&str] = &[
    "inventory",
    "scm_branch",
    "job_type",
    "job_tags",
    "skip_tags",
    "limit",
    "diff_mode",
    "verbosity",
    "forks",
    "job_slice_count",
    "timeout",
];

/// The prompts a workflow template may accept at launch: `(key, ask flag)`.
pub const WORKFLOW_PROMPTS: &[(&str, &str)] = &[
    ("inventory", "ask_inventory_on_launch"),
    ("limit", "ask_limit_on_launch"),
    ("scm_branch", "ask_scm_branch_on_launch"),
    ("job_tags", "ask_tags_on_launch"),
    ("skip_tags", "ask_skip_tags_on_launch"),
];

/// AWX's explanation of a workflow that failed for want of an error path.
pub const NO_ERROR_PATH: &str = "No error handling paths found, marking workflow as failed";

fn id_filter(column: &'static str, id: i64) -> Filter {
    Filter::eq(column, ColumnType::Int, json!(id))
}

/// The edges of the nodes whose `column` is `owner` (a template's or a job's nodes).
async fn edges_of(
    store: &dyn Store,
    relations: &[(&str, &'static Relation); 3],
    column: &'static str,
    owner: i64,
) -> DomainResult<Vec<(i64, i64, Edge)>> {
    let mut out = Vec::new();
    for (kind, (_, rel)) in Edge::ALL.iter().zip(relations.iter()) {
        for (from, to) in store.pairs(rel, &id_filter(column, owner)).await? {
            out.push((from, to, *kind));
        }
    }
    Ok(out)
}

/// A workflow template's graph (for the cycle check of a new edge).
pub async fn template_dag(store: &dyn Store, wfjt: i64) -> DomainResult<Dag> {
    let rows = store
        .list_all(
            &WORKFLOW_JOB_TEMPLATE_NODES,
            &id_filter("workflow_job_template", wfjt),
            &[("id", false)],
        )
        .await?;
    Ok(Dag {
        nodes: rows
            .iter()
            .map(|r| Node {
                id: int(r, "id").unwrap_or_default(),
                has_template: int(r, "unified_job_template").is_some(),
                ..Node::default()
            })
            .collect(),
        edges: edges_of(store, &WFJT_EDGES, "workflow_job_template", wfjt).await?,
    })
}

/// A workflow job's graph with its nodes' jobs' statuses, and the node rows by id.
pub async fn job_dag(store: &dyn Store, wj: i64) -> DomainResult<(Dag, HashMap<i64, Row>)> {
    let rows = store
        .list_all(
            &WORKFLOW_JOB_NODES,
            &id_filter("workflow_job", wj),
            &[("id", false)],
        )
        .await?;
    let job_ids: Vec<Value> = rows
        .iter()
        .filter_map(|r| r.get("job").cloned())
        .filter(|v| !v.is_null())
        .collect();
    let mut statuses = HashMap::new();
    if !job_ids.is_empty() {
        let f = Filter::On {
            path: vec![],
            column: "id",
            ctype: ColumnType::Int,
            cond: rawx_model::filter::Cond::In(job_ids),
        };
        for j in store.list_all(&UNIFIED_JOBS, &f, &[("id", false)]).await? {
            statuses.insert(int(&j, "id").unwrap_or_default(), JobStatus::of(&j));
        }
    }
    let nodes = rows
        .iter()
        .map(|r| {
            let job = int(r, "job");
            Node {
                id: int(r, "id").unwrap_or_default(),
                has_template: int(r, "unified_job_template").is_some(),
                job,
                // A job that is gone counts as failed (its node cannot say otherwise).
                status: job.map(|j| {
                    statuses
                        .get(&j)
                        .copied()
                        .flatten()
                        .unwrap_or(JobStatus::Failed)
                }),
                do_not_run: r.get("do_not_run") == Some(&json!(true)),
                converge: r.get("all_parents_must_converge") == Some(&json!(true)),
            }
        })
        .collect();
    let by_id = rows
        .into_iter()
        .map(|r| (int(&r, "id").unwrap_or_default(), r))
        .collect();
    Ok((
        Dag {
            nodes,
            edges: edges_of(store, &WFJ_EDGES, "workflow_job", wj).await?,
        },
        by_id,
    ))
}

fn vars_of(v: Option<&Value>) -> Map<String, Value> {
    match v {
        Some(Value::Object(m)) => m.clone(),
        Some(Value::String(s)) if !s.trim().is_empty() => parse_vars(s).unwrap_or_default(),
        _ => Map::new(),
    }
}

/// What a workflow job is launched with beyond its template.
#[derive(Default)]
pub struct WorkflowLaunch {
    /// Prompts the template accepted (`inventory`, `limit`, …), already checked.
    pub prompts: Map<String, Value>,
    /// Extra vars given at launch and accepted (over the template's).
    pub extra_vars: Map<String, Value>,
    pub launch_type: &'static str,
    pub user: Option<i64>,
    /// Survey password answers, sealed (the workflow job's `survey_passwords`), which its
    /// nodes' jobs carry on.
    pub survey_passwords: Option<String>,
    /// Labels given at launch (`ask_labels_on_launch`); `None`: the template's.
    pub labels: Option<Vec<i64>>,
}

/// Writes a pending workflow job of `wfjt` with a copy of its nodes and edges (AWX's
/// `create_unified_job` + `create_relaunch_workflow_job`'s node copy), marks the template
/// pending and wakes the task role.
pub async fn create_workflow_job(
    store: &dyn Store,
    bus: &dyn Bus,
    wfjt: &Row,
    launch: WorkflowLaunch,
) -> DomainResult<i64> {
    let wfjt_id = int(wfjt, "id").unwrap_or_default();
    let mut vars = vars_of(wfjt.get("extra_vars"));
    vars.extend(launch.extra_vars);
    let mut row = Row::new();
    for f in [
        "name",
        "description",
        "allow_simultaneous",
        "organization",
        "inventory",
        "limit",
        "scm_branch",
        "job_tags",
        "skip_tags",
    ] {
        row.insert(f.into(), wfjt.get(f).cloned().unwrap_or(Value::Null));
    }
    row.extend(launch.prompts);
    row.insert("workflow_job_template".into(), json!(wfjt_id));
    row.insert("unified_job_template".into(), json!(wfjt_id));
    row.insert(
        "extra_vars".into(),
        json!(if vars.is_empty() {
            String::new()
        } else {
            Value::Object(vars).to_string()
        }),
    );
    if let Some(p) = launch.survey_passwords {
        row.insert(crate::survey::PASSWORDS_FIELD.into(), json!(p));
    }
    row.insert("status".into(), json!(JobStatus::Pending.as_str()));
    row.insert("launch_type".into(), json!(launch.launch_type));
    row.insert("launched_by_user".into(), json!(launch.user));
    row.insert("created_by".into(), json!(launch.user));
    row.insert("modified_by".into(), json!(launch.user));
    rawx_model::validate::with_defaults(&WORKFLOW_JOBS, &mut row);
    let id = store.insert(&WORKFLOW_JOBS, &row).await?;
    copy_nodes(store, wfjt_id, id, &row).await?;
    // AWX copies the template's labels to the workflow job, or takes the prompted ones.
    let labels = match launch.labels {
        Some(l) => l,
        None => store.linked(&WFJT_LABELS, true, wfjt_id).await?,
    };
    for label in labels {
        store.link(&WFJ_LABELS, id, label).await?;
    }
    let mut status = Row::new();
    status.insert("status".into(), json!(JobStatus::Pending.as_str()));
    status.insert("last_job_run".into(), json!(rawx_model::now_string()));
    let _ = store
        .update(&WORKFLOW_JOB_TEMPLATES, wfjt_id, &status)
        .await;
    launch::pending(bus, &WORKFLOW_JOB_KIND, id, json!(wfjt_id));
    Ok(id)
}

/// The workflow job's nodes: one per template node, same prompts, edges and credentials.
async fn copy_nodes(store: &dyn Store, wfjt: i64, wj: i64, wj_row: &Row) -> DomainResult<()> {
    let nodes = store
        .list_all(
            &WORKFLOW_JOB_TEMPLATE_NODES,
            &id_filter("workflow_job_template", wfjt),
            &[("id", false)],
        )
        .await?;
    let mut ids = HashMap::new();
    for n in &nodes {
        let mut row = Row::new();
        for f in WORKFLOW_JOB_NODES
            .fields
            .iter()
            .filter(|f| !f.read_only || f.name == "unified_job_template")
        {
            if let Some(v) = n.get(f.name) {
                row.insert(f.name.into(), v.clone());
            }
        }
        row.insert(
            "unified_job_template".into(),
            n.get("unified_job_template")
                .cloned()
                .unwrap_or(Value::Null),
        );
        row.insert("workflow_job".into(), json!(wj));
        row.insert(
            "organization".into(),
            wj_row.get("organization").cloned().unwrap_or(Value::Null),
        );
        row.insert("do_not_run".into(), json!(false));
        rawx_model::validate::with_defaults(&WORKFLOW_JOB_NODES, &mut row);
        let old = int(n, "id").unwrap_or_default();
        let new = store.insert(&WORKFLOW_JOB_NODES, &row).await?;
        ids.insert(old, new);
        for c in store.linked(&WFJT_NODE_CREDENTIALS, true, old).await? {
            store.link(&WFJ_NODE_CREDENTIALS, new, c).await?;
        }
        for g in store.linked(&WFJT_NODE_INSTANCE_GROUPS, true, old).await? {
            store.link(&WFJ_NODE_INSTANCE_GROUPS, new, g).await?;
        }
    }
    for ((_, from_rel), (_, to_rel)) in WFJT_EDGES.iter().zip(WFJ_EDGES.iter()) {
        for (a, b) in store
            .pairs(from_rel, &id_filter("workflow_job_template", wfjt))
            .await?
        {
            if let (Some(a), Some(b)) = (ids.get(&a), ids.get(&b)) {
                store.link(to_rel, *a, *b).await?;
            }
        }
    }
    Ok(())
}

/// Creates a workflow job whose nodes are given directly, not copied from a template (AWX's
/// bulk job launch): `nodes` are rows of `workflow_job_nodes` fields with their credentials.
/// One job of a bulk launch: its node's fields, credentials and instance groups.
pub type BulkNode = (Row, Vec<i64>, Vec<i64>);

pub async fn create_bulk_workflow_job(
    store: &dyn Store,
    bus: &dyn Bus,
    mut row: Row,
    nodes: Vec<BulkNode>,
) -> DomainResult<i64> {
    row.insert("status".into(), json!(JobStatus::Pending.as_str()));
    rawx_model::validate::with_defaults(&WORKFLOW_JOBS, &mut row);
    let id = store.insert(&WORKFLOW_JOBS, &row).await?;
    for (mut n, creds, groups) in nodes {
        n.insert("workflow_job".into(), json!(id));
        n.insert(
            "organization".into(),
            row.get("organization").cloned().unwrap_or(Value::Null),
        );
        rawx_model::validate::with_defaults(&WORKFLOW_JOB_NODES, &mut n);
        let nid = store.insert(&WORKFLOW_JOB_NODES, &n).await?;
        for c in creds {
            store.link(&WFJ_NODE_CREDENTIALS, nid, c).await?;
        }
        for g in groups {
            store.link(&WFJ_NODE_INSTANCE_GROUPS, nid, g).await?;
        }
    }
    launch::pending(bus, &WORKFLOW_JOB_KIND, id, Value::Null);
    Ok(id)
}

/// The job a node spawns, made pending (or, when it cannot start, made `failed` with AWX's
/// explanation, so the workflow follows its failure path). Returns its id.
pub async fn spawn_node_job(
    store: &dyn Store,
    bus: &dyn Bus,
    key: &rawx_model::secret::SecretKey,
    wj: &Row,
    node: &Row,
) -> DomainResult<Option<i64>> {
    let Some(ujt) = int(node, "unified_job_template") else {
        return Ok(None);
    };
    let user = int(wj, "launched_by_user");
    let parent = match store.get(&UNIFIED_JOB_TEMPLATES, ujt).await {
        Ok(p) => p,
        Err(rawx_store::DbError::NotFound) => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    match text(&parent, TYPE_COLUMN) {
        "job_template" => spawn_job(store, bus, key, wj, node, ujt, user)
            .await
            .map(Some),
        "project" => {
            let project = store.get(&PROJECTS, ujt).await?;
            let req = crate::projects::UpdateRequest {
                launch_type: "workflow",
                user,
                dependent_job: None,
            };
            crate::projects::start_update(store, bus, &project, req)
                .await
                .map(Some)
        }
        "inventory_source" => {
            let source = store.get(&INVENTORY_SOURCES, ujt).await?;
            let inv = store
                .get(&INVENTORIES, int(&source, "inventory").unwrap_or_default())
                .await?;
            crate::inventory_updates::create_update(
                store,
                bus,
                &source,
                user,
                "workflow",
                text(&inv, "name"),
            )
            .await
            .map(Some)
        }
        "workflow_job_template" => {
            let wfjt = store.get(&WORKFLOW_JOB_TEMPLATES, ujt).await?;
            let launch = nested_launch(store, key, wj, node, &wfjt, user).await?;
            let ancestors = ancestor_workflows(store, wj).await?;
            let id = create_workflow_job(store, bus, &wfjt, launch).await?;
            if ancestors.iter().any(|(t, _)| *t == ujt) {
                // AWX's refusal of a workflow-in-workflow that leads back to an ancestor.
                let shown: Vec<String> = std::iter::once((ujt, text(&wfjt, "name").to_string()))
                    .chain(ancestors)
                    .map(|(id, name)| format!("<{name}-{id}>"))
                    .collect();
                let why = format!(
                    "Workflow Job spawned from workflow could not start because it would result in recursion (spawn order, most recent first: {})",
                    shown.join(", ")
                );
                tracing::info!(
                    workflow_job = id,
                    template = ujt,
                    "refusing to start recursive workflow-in-workflow"
                );
                fail_unstarted(store, bus, &WORKFLOW_JOB_KIND, id, json!(ujt), &why).await?;
            }
            Ok(Some(id))
        }
        "workflow_approval_template" => {
            let template = store.get(&WORKFLOW_APPROVAL_TEMPLATES, ujt).await?;
            crate::approvals::spawn(store, bus, wj, &template)
                .await
                .map(Some)
        }
        _ => Ok(None),
    }
}

/// The node's prompts, then the workflow job's own (which win: AWX's `get_job_kwargs`),
/// through the template's launch rules; the workflow job's extra vars over everything.
async fn spawn_job(
    store: &dyn Store,
    bus: &dyn Bus,
    key: &rawx_model::secret::SecretKey,
    wj: &Row,
    node: &Row,
    jt_id: i64,
    user: Option<i64>,
) -> DomainResult<i64> {
    let jt = store.get(&JOB_TEMPLATES, jt_id).await?;
    let mut prompts = Map::new();
    for k in NODE_PROMPTS {
        match node.get(*k) {
            None | Some(Value::Null) => {}
            Some(v) => {
                prompts.insert((*k).into(), v.clone());
            }
        }
    }
    for (k, _) in WORKFLOW_PROMPTS {
        match wj.get(*k) {
            None | Some(Value::Null) => {}
            Some(Value::String(s)) if s.is_empty() => {}
            Some(v) => {
                prompts.insert((*k).into(), v.clone());
            }
        }
    }
    let data = vars_of(node.get("extra_data"));
    if !data.is_empty() {
        prompts.insert("extra_vars".into(), Value::Object(data));
    }
    let node_id = int(node, "id").unwrap_or_default();
    let node_creds = store.linked(&WFJ_NODE_CREDENTIALS, true, node_id).await?;
    if !node_creds.is_empty() {
        let creds = launch::config_credentials(store, jt_id, &node_creds).await?;
        prompts.insert("credentials".into(), json!(creds));
    }
    let node_groups = store
        .linked(&WFJ_NODE_INSTANCE_GROUPS, true, node_id)
        .await?;
    if !node_groups.is_empty() {
        prompts.insert("instance_groups".into(), json!(node_groups));
    }
    // What runs was decided when the node was saved; the spawn acts for the system, as
    // AWX's workflow manager does.
    let system = Actor {
        user_id: user.unwrap_or_default(),
        is_superuser: true,
        is_system_auditor: false,
        member_of: vec![],
        admin_of: vec![],
        read_only_token: false,
    };
    let made = launch::job_from_template(store, &system, &jt, &prompts, key).await;
    let mut l = match made {
        Ok(l) => l,
        Err(DomainError::Fields(_)) | Err(DomainError::Forbidden) => {
            return failed_job(store, bus, &jt, user).await;
        }
        Err(e) => return Err(e),
    };
    // AWX's precedence: the template's and the node's accepted variables, then what earlier
    // nodes' jobs gave with `set_stats`, then the workflow job's own.
    let mut vars = vars_of(l.job.get("extra_vars"));
    let artifacts = ancestor_artifacts(store, wj, node).await?;
    vars.extend(artifacts.vars.clone());
    vars.extend(vars_of(wj.get("extra_vars")));
    // Survey passwords answered at the workflow's launch go with its extra vars (AWX's
    // `wj_special_passwords`), next to the job template's own.
    let mut passwords = opened_passwords(
        key,
        &[
            text(&l.job, crate::survey::PASSWORDS_FIELD),
            text(wj, crate::survey::PASSWORDS_FIELD),
        ],
    );
    artifacts.hide(&mut vars, &mut passwords);
    if !vars.is_empty() {
        l.job
            .insert("extra_vars".into(), json!(Value::Object(vars).to_string()));
    }
    if !passwords.is_empty() {
        l.job.insert(
            crate::survey::PASSWORDS_FIELD.into(),
            json!(key.seal(&Value::Object(passwords).to_string())),
        );
    }
    l.job.insert("launch_type".into(), json!("workflow"));
    l.job.insert("launched_by_user".into(), json!(user));
    launch::create_job(
        store,
        bus,
        user.unwrap_or_default(),
        l.job,
        &l.credentials,
        l.labels.as_deref(),
    )
    .await
}

/// A job made pending that may not start after all: `failed` with AWX's explanation.
async fn fail_unstarted(
    store: &dyn Store,
    bus: &dyn Bus,
    kind: &'static rawx_model::resources::JobKind,
    id: i64,
    template: Value,
    why: &str,
) -> DomainResult<()> {
    let mut row = Row::new();
    row.insert("status".into(), json!(JobStatus::Failed.as_str()));
    row.insert("failed".into(), json!(true));
    row.insert("job_explanation".into(), json!(why));
    store.update(kind.resource, id, &row).await?;
    publish(
        bus,
        &StatusChanged::new(kind, id, JobStatus::Failed).template(template),
    );
    Ok(())
}

/// The templates of the workflow jobs above `wj`, `wj`'s own first, as `(id, name)` (AWX's
/// `get_ancestor_workflows` seen from a job `wj` spawns).
async fn ancestor_workflows(store: &dyn Store, wj: &Row) -> DomainResult<Vec<(i64, String)>> {
    let mut out = Vec::new();
    let mut seen = HashSet::new();
    let mut current = Some(wj.clone());
    while let Some(w) = current {
        let (Some(id), Some(t)) = (int(&w, "id"), int(&w, "workflow_job_template")) else {
            break;
        };
        if !seen.insert(id) {
            tracing::error!(workflow_job = id, "cycle in the workflow jobs graph");
            break;
        }
        let name = match store.get(&WORKFLOW_JOB_TEMPLATES, t).await {
            Ok(row) => text(&row, "name").to_string(),
            Err(_) => text(&w, "name").to_string(),
        };
        out.push((t, name));
        current = source_workflow_job(store, id).await?;
    }
    Ok(out)
}

/// The sealed survey passwords of `sealed` (a job's, a workflow job's), opened and merged in
/// order.
fn opened_passwords(key: &rawx_model::secret::SecretKey, sealed: &[&str]) -> Map<String, Value> {
    let mut passwords = Map::new();
    for s in sealed {
        if !s.is_empty() {
            if let Ok(plain) = key.open(s) {
                passwords.extend(vars_of(Some(&json!(plain))));
            }
        }
    }
    passwords
}

/// The launch of the workflow a node nests (AWX's `get_job_kwargs` for a workflow template):
/// the workflow job's prompts over the node's, taken where the nested template asks for them;
/// the node's `extra_data` under the workflow job's variables, through the nested template's
/// survey and `ask_variables_on_launch` (what it would not take is dropped, as AWX logs and
/// drops it); then the parents' artifacts over those (for a nested workflow AWX adds them
/// last). Survey passwords travel sealed.
async fn nested_launch(
    store: &dyn Store,
    key: &rawx_model::secret::SecretKey,
    wj: &Row,
    node: &Row,
    wfjt: &Row,
    user: Option<i64>,
) -> DomainResult<WorkflowLaunch> {
    let mut prompts = Map::new();
    for (k, flag) in WORKFLOW_PROMPTS {
        if wfjt.get(*flag) != Some(&json!(true)) {
            continue;
        }
        let given = [wj.get(*k), node.get(*k)]
            .into_iter()
            .flatten()
            .find(|v| !v.is_null() && v.as_str() != Some(""));
        if let Some(v) = given {
            prompts.insert((*k).into(), v.clone());
        }
    }
    let mut runtime = vars_of(node.get("extra_data"));
    runtime.extend(vars_of(wj.get("extra_vars")));
    let ask = wfjt.get("ask_variables_on_launch") == Some(&json!(true));
    let applied = crate::survey::apply(wfjt, vars_of(wfjt.get("extra_vars")), runtime, ask, key);
    let mut extra_vars = applied.extra_vars;
    let artifacts = ancestor_artifacts(store, wj, node).await?;
    extra_vars.extend(artifacts.vars.clone());
    let mut passwords = applied.passwords;
    passwords.extend(opened_passwords(
        key,
        &[text(wj, crate::survey::PASSWORDS_FIELD)],
    ));
    artifacts.hide(&mut extra_vars, &mut passwords);
    Ok(WorkflowLaunch {
        prompts,
        extra_vars,
        launch_type: "workflow",
        user,
        survey_passwords: (!passwords.is_empty())
            .then(|| key.seal(&Value::Object(passwords).to_string())),
        labels: None,
    })
}

/// What a node's parents pass down.
struct Artifacts {
    /// The variables (`_ansible_no_log` is not one).
    vars: Map<String, Value>,
    /// A parent's `set_stats` carried `_ansible_no_log`: every passed variable is secret.
    no_log: bool,
}

impl Artifacts {
    /// AWX marks every passed variable of a `no_log` artifact set as a survey password
    /// (`$encrypted$` wherever the job's variables are shown). rawx does as it does for
    /// survey passwords: the value moves into the sealed `passwords` (the run gets it, and
    /// masks it in output) and the shown variables keep `$encrypted$`.
    fn hide(&self, vars: &mut Map<String, Value>, passwords: &mut Map<String, Value>) {
        if !self.no_log {
            return;
        }
        for k in self.vars.keys() {
            if let Some(v) = vars.get_mut(k) {
                if v.as_str() != Some(ENCRYPTED) {
                    passwords.insert(k.clone(), std::mem::replace(v, json!(ENCRYPTED)));
                }
            }
        }
    }
}

/// What the node's parents pass down (AWX's `ancestor_artifacts`): each parent's own
/// ancestor artifacts, then its job's effective artifacts (`set_stats`). Kept on the node
/// (internal) for its children; `_ansible_no_log` is not a variable.
async fn ancestor_artifacts(store: &dyn Store, wj: &Row, node: &Row) -> DomainResult<Artifacts> {
    let wj_id = int(wj, "id").unwrap_or_default();
    let node_id = int(node, "id").unwrap_or_default();
    let mut parents = Vec::new();
    for (_, rel) in WFJ_EDGES.iter() {
        for (from, to) in store.pairs(rel, &id_filter("workflow_job", wj_id)).await? {
            if to == node_id && !parents.contains(&from) {
                parents.push(from);
            }
        }
    }
    parents.sort();
    let mut aa = Map::new();
    for p in &parents {
        let Ok(parent) = store.get(&WORKFLOW_JOB_NODES, *p).await else {
            continue;
        };
        aa.extend(vars_of(parent.get("ancestor_artifacts")));
        if let Some(job) = int(&parent, "job") {
            aa.extend(effective_artifacts(store, job, &HashSet::from([wj_id])).await?);
        }
    }
    if !aa.is_empty() && !parents.is_empty() {
        let mut row = Row::new();
        row.insert(
            "ancestor_artifacts".into(),
            json!(Value::Object(aa.clone()).to_string()),
        );
        store.update(&WORKFLOW_JOB_NODES, node_id, &row).await?;
    }
    // AWX tests the key's presence (`'_ansible_no_log' in aa_dict`), not its value.
    let no_log = aa.remove("_ansible_no_log").is_some();
    Ok(Artifacts { vars: aa, no_log })
}

/// A boxed future (the artifacts of a nested workflow recurse).
type Boxed<'a, T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send + 'a>>;

/// A job's artifacts as passed downstream (AWX's `get_effective_artifacts`): a job's own;
/// a workflow job's, those of its nodes' ended jobs in the order they finished; none for
/// other kinds.
fn effective_artifacts<'a>(
    store: &'a dyn Store,
    job: i64,
    parents: &'a HashSet<i64>,
) -> Boxed<'a, DomainResult<Map<String, Value>>> {
    Box::pin(async move {
        let Ok(parent) = store.get(&UNIFIED_JOBS, job).await else {
            return Ok(Map::new());
        };
        match text(&parent, TYPE_COLUMN) {
            "job" => Ok(vars_of(store.get(&JOBS, job).await?.get("artifacts"))),
            "workflow_job" => {
                let nodes = store
                    .list_all(
                        &WORKFLOW_JOB_NODES,
                        &id_filter("workflow_job", job),
                        &[("id", false)],
                    )
                    .await?;
                let mut ended = Vec::new();
                for n in nodes {
                    let Some(j) = int(&n, "job") else { continue };
                    if parents.contains(&j) {
                        continue;
                    }
                    if let Ok(row) = store.get(&UNIFIED_JOBS, j).await {
                        if matches!(text(&row, "status"), "successful" | "failed") {
                            ended.push((text(&row, "finished").to_string(), j));
                        }
                    }
                }
                ended.sort();
                let mut inner = parents.clone();
                inner.insert(job);
                let mut out = Map::new();
                for (_, j) in ended {
                    out.extend(effective_artifacts(store, j, &inner).await?);
                }
                Ok(out)
            }
            _ => Ok(Map::new()),
        }
    })
}

/// A job that could not start (AWX marks the job it made `failed`, so the failure path runs).
async fn failed_job(
    store: &dyn Store,
    bus: &dyn Bus,
    jt: &Row,
    user: Option<i64>,
) -> DomainResult<i64> {
    let mut job = Row::new();
    for f in [
        "name",
        "description",
        "organization",
        "project",
        "inventory",
        "playbook",
    ] {
        job.insert(f.into(), jt.get(f).cloned().unwrap_or(Value::Null));
    }
    job.insert("job_template".into(), jt["id"].clone());
    job.insert("unified_job_template".into(), jt["id"].clone());
    job.insert("launch_type".into(), json!("workflow"));
    job.insert("launched_by_user".into(), json!(user));
    job.insert("status".into(), json!(JobStatus::Failed.as_str()));
    job.insert("failed".into(), json!(true));
    job.insert("finished".into(), json!(rawx_model::now_string()));
    job.insert(
        "job_explanation".into(),
        json!("Job spawned from workflow could not start because it was missing a related resource such as project or inventory"),
    );
    rawx_model::validate::with_defaults(&JOBS, &mut job);
    let id = store.insert(&JOBS, &job).await?;
    publish(
        bus,
        &StatusChanged::new(&rawx_model::resources::JOB_KIND, id, JobStatus::Failed)
            .template(jt["id"].clone()),
    );
    Ok(id)
}
