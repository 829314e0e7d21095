//! Notifications: each type's parameters (AWX's backends' `init_parameters`), the checks of a
//! template's configuration and messages (AWX's `NotificationTemplateSerializer`), the
//! templates a job's status change notifies, and the message AWX's defaults (or a template's
//! own) render for it. Sending is the task role's (`rawx_control::notify`); the web role only
//! stores templates.

use crate::DomainResult;
use rawx_model::resources::{
    INVSRC_NT_ERROR, INVSRC_NT_STARTED, INVSRC_NT_SUCCESS, JT_NT_ERROR, JT_NT_STARTED,
    JT_NT_SUCCESS, ORG_NT_APPROVALS, ORG_NT_ERROR, ORG_NT_STARTED, ORG_NT_SUCCESS,
    PROJECT_NT_ERROR, PROJECT_NT_STARTED, PROJECT_NT_SUCCESS, WFJT_NT_APPROVALS, WFJT_NT_ERROR,
    WFJT_NT_STARTED, WFJT_NT_SUCCESS,
};
use rawx_model::schema::Relation;
use rawx_model::secret::{is_sealed, SecretKey, ENCRYPTED};
use rawx_model::Row;
use rawx_store::Store;
use serde_json::{json, Map, Value};

/// A parameter of a notification type: name, AWX's type, default (`None`: required).
pub type Param = (&'static str, &'static str, Option<fn() -> Value>);

fn s_empty() -> Value {
    json!("")
}
fn post() -> Value {
    json!("POST")
}
fn no() -> Value {
    json!(false)
}
fn thirty() -> Value {
    json!(30)
}

/// `(type, parameters, recipient parameter)` of every type (AWX 24.6.1's backends).
pub static TYPES: &[(&str, &[Param], &str)] = &[
    (
        "awssns",
        &[
            ("aws_region", "string", Some(s_empty)),
            ("aws_access_key_id", "string", Some(s_empty)),
            ("aws_secret_access_key", "password", Some(s_empty)),
            ("aws_session_token", "password", Some(s_empty)),
            ("sns_topic_arn", "string", Some(s_empty)),
        ],
        "sns_topic_arn",
    ),
    (
        "email",
        &[
            ("host", "string", None),
            ("port", "int", None),
            ("username", "string", None),
            ("password", "password", None),
            ("use_tls", "bool", None),
            ("use_ssl", "bool", None),
            ("sender", "string", None),
            ("recipients", "list", None),
            ("timeout", "int", Some(thirty)),
        ],
        "recipients",
    ),
    (
        "grafana",
        &[
            ("grafana_url", "string", None),
            ("grafana_key", "password", None),
        ],
        "grafana_url",
    ),
    (
        "irc",
        &[
            ("server", "string", None),
            ("port", "int", None),
            ("nickname", "string", None),
            ("password", "password", None),
            ("use_ssl", "bool", None),
            ("targets", "list", None),
        ],
        "targets",
    ),
    (
        "mattermost",
        &[
            ("mattermost_url", "string", None),
            ("mattermost_no_verify_ssl", "bool", None),
        ],
        "mattermost_url",
    ),
    (
        "pagerduty",
        &[
            ("subdomain", "string", None),
            ("token", "password", None),
            ("service_key", "string", None),
            ("client_name", "string", None),
        ],
        "service_key",
    ),
    (
        "rocketchat",
        &[
            ("rocketchat_url", "string", None),
            ("rocketchat_no_verify_ssl", "bool", None),
        ],
        "rocketchat_url",
    ),
    (
        "slack",
        &[("token", "password", None), ("channels", "list", None)],
        "channels",
    ),
    (
        "twilio",
        &[
            ("account_sid", "string", None),
            ("account_token", "password", None),
            ("from_number", "string", None),
            ("to_numbers", "list", None),
        ],
        "to_numbers",
    ),
    (
        "webhook",
        &[
            ("url", "string", None),
            ("http_method", "string", Some(post)),
            ("disable_ssl_verification", "bool", Some(no)),
            ("username", "string", Some(s_empty)),
            ("password", "password", Some(s_empty)),
            ("headers", "object", None),
        ],
        "url",
    ),
];

pub fn params(kind: &str) -> &'static [Param] {
    TYPES
        .iter()
        .find(|(k, _, _)| *k == kind)
        .map(|(_, p, _)| *p)
        .unwrap_or(&[])
}

pub fn recipient_parameter(kind: &str) -> &'static str {
    TYPES
        .iter()
        .find(|(k, _, _)| *k == kind)
        .map(|(_, _, r)| *r)
        .unwrap_or("")
}

/// A JSON column read as an object (stored as text).
pub fn object(v: Option<&Value>) -> Map<String, Value> {
    match v {
        Some(Value::Object(m)) => m.clone(),
        Some(Value::String(s)) => serde_json::from_str(s).unwrap_or_default(),
        _ => Map::new(),
    }
}

/// Python's `type(x) in expected`: exact types, so a bool is no int.
fn type_ok(t: &str, v: &Value) -> bool {
    match t {
        "string" | "password" => v.is_string(),
        "int" => v.is_i64() || v.is_u64(),
        "bool" => v.is_boolean(),
        "list" => v.is_array(),
        "object" => v.is_object(),
        _ => false,
    }
}

/// AWX's `NotificationTemplateSerializer.validate` for `notification_configuration`: defaults
/// filled, every message AWX gives, password parameters sealed (`$encrypted$` on an update
/// keeps the stored one).
pub fn validate_configuration(
    kind: &str,
    given: &Map<String, Value>,
    stored: Option<&Map<String, Value>>,
    key: &SecretKey,
) -> Result<Map<String, Value>, Vec<String>> {
    let mut config = given.clone();
    let mut missing = Vec::new();
    let mut errors = Vec::new();
    let mut wrong = Vec::new();
    for (name, t, default) in params(kind) {
        if !config.contains_key(*name) {
            match default {
                Some(d) => {
                    config.insert((*name).into(), d());
                }
                None => {
                    missing.push(format!("'{name}'"));
                    continue;
                }
            }
        }
        let v = &config[*name];
        if !type_ok(t, v) {
            wrong.push((*name, *t));
            continue;
        }
        if *t == "list" && v.as_array().is_some_and(Vec::is_empty) {
            errors.push(format!("No values specified for field '{name}'"));
            continue;
        }
        if *name == "http_method"
            && !matches!(
                v.as_str().map(str::to_lowercase).as_deref(),
                Some("put" | "post")
            )
        {
            errors.push("HTTP method must be either 'POST' or 'PUT'.".into());
        }
    }
    if !missing.is_empty() {
        errors.push(format!(
            "Missing required fields for Notification Configuration: [{}].",
            missing.join(", ")
        ));
    }
    for (name, t) in wrong {
        errors.push(format!(
            "Configuration field '{name}' incorrect type, expected {t}."
        ));
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    for (name, t, _) in params(kind) {
        if *t != "password" {
            continue;
        }
        let Some(v) = config.get(*name).and_then(Value::as_str).map(String::from) else {
            continue;
        };
        if v.starts_with(ENCRYPTED) {
            // Unchanged: the stored secret, never the placeholder.
            let kept = stored
                .and_then(|s| s.get(*name))
                .cloned()
                .unwrap_or(json!(""));
            config.insert((*name).into(), kept);
        } else if !v.is_empty() {
            config.insert((*name).into(), json!(key.seal(&v)));
        }
    }
    Ok(config)
}

/// AWX's `display_notification_configuration`: sealed values as `$encrypted$`.
pub fn display_configuration(config: &Map<String, Value>) -> Value {
    let mut out = config.clone();
    for v in out.values_mut() {
        if v.as_str().is_some_and(is_sealed) {
            *v = json!(ENCRYPTED);
        }
    }
    Value::Object(out)
}

/// The configuration with its secrets opened, for sending.
pub fn open_configuration(
    config: &Map<String, Value>,
    key: &SecretKey,
) -> Result<Map<String, Value>, String> {
    let mut out = config.clone();
    for v in out.values_mut() {
        if let Some(s) = v.as_str().filter(|s| is_sealed(s)) {
            *v = json!(key.open(s).map_err(|e| e.to_string())?);
        }
    }
    Ok(out)
}

const EVENTS: &[&str] = &["started", "success", "error", "workflow_approval"];
const APPROVAL_EVENTS: &[&str] = &["running", "approved", "timed_out", "denied"];

/// Python's `type(x)` as AWX formats it into its messages.
fn py_class(v: &Value) -> &'static str {
    match v {
        Value::Null => "<class 'NoneType'>",
        Value::Bool(_) => "<class 'bool'>",
        Value::Number(n) if n.is_f64() => "<class 'float'>",
        Value::Number(_) => "<class 'int'>",
        Value::String(_) => "<class 'str'>",
        Value::Array(_) => "<class 'list'>",
        Value::Object(_) => "<class 'dict'>",
    }
}

/// AWX's `validate_messages`, its structure checks (every message AWX gives, in its order)
/// and the variables a message may name.
pub fn validate_messages(messages: &Value) -> Vec<String> {
    let mut errors = Vec::new();
    let Some(m) = messages.as_object() else {
        if !messages.is_null() {
            errors.push(format!(
                "Expected dict for 'messages' field, found {}",
                py_class(messages)
            ));
        }
        return errors;
    };
    let check = |event: &str, msgs: &Map<String, Value>, errors: &mut Vec<String>| {
        for (t, msg) in msgs {
            if t != "message" && t != "body" {
                errors.push(format!(
                    "Message type '{t}' invalid, must be either 'message' or 'body'"
                ));
                continue;
            }
            let Some(text) = msg.as_str() else {
                if !msg.is_null() {
                    errors.push(format!(
                        "Expected string for '{t}', found {}, ",
                        py_class(msg)
                    ));
                }
                continue;
            };
            if t == "message" && text.contains('\n') {
                errors.push(format!(
                    "Messages cannot contain newlines (found newline in {event} event)"
                ));
                continue;
            }
            if let Err(e) = check_template(text) {
                errors.push(e);
            }
        }
    };
    for (event, v) in m {
        if !EVENTS.contains(&event.as_str()) {
            errors.push(format!("Event '{event}' invalid, must be one of 'started', 'success', 'error', or 'workflow_approval'"));
            continue;
        }
        if v.is_null() {
            continue;
        }
        let Some(ev) = v.as_object() else {
            errors.push(format!(
                "Expected dict for event '{event}', found {}",
                py_class(v)
            ));
            continue;
        };
        if event == "workflow_approval" {
            for (sub, sv) in ev {
                if !APPROVAL_EVENTS.contains(&sub.as_str()) {
                    errors.push(format!("Workflow Approval event '{sub}' invalid, must be one of 'running', 'approved', 'timed_out', or 'denied'"));
                    continue;
                }
                if sv.is_null() {
                    continue;
                }
                match sv.as_object() {
                    Some(o) => check(sub, o, &mut errors),
                    None => errors.push(format!(
                        "Expected dict for workflow approval event '{sub}', found {}",
                        py_class(sv)
                    )),
                }
            }
        } else {
            check(event, ev, &mut errors);
        }
    }
    errors
}

/// AWX's `NotificationTemplate.save`: events the update does not give keep their stored
/// messages, and a given event keeps the stored `message`/`body` it does not name.
pub fn merge_messages(old: &Value, new: &Value) -> Value {
    let (Some(old), Some(newm)) = (old.as_object(), new.as_object()) else {
        return new.clone();
    };
    let mut out = newm.clone();
    for event in ["started", "success", "error", "workflow_approval"] {
        let o = old
            .get(event)
            .filter(|v| v.as_object().is_some_and(|m| !m.is_empty()));
        let n = out
            .get(event)
            .filter(|v| v.as_object().is_some_and(|m| !m.is_empty()));
        match (o, n) {
            (Some(o), None) => {
                out.insert(event.into(), o.clone());
            }
            (Some(o), Some(n)) if event != "workflow_approval" => {
                let mut n = n.as_object().cloned().unwrap_or_default();
                for t in ["message", "body"] {
                    if !n.contains_key(t) && o.get(t).is_some_and(|v| !v.is_null()) {
                        n.insert(t.into(), o[t].clone());
                    }
                }
                out.insert(event.into(), Value::Object(n));
            }
            _ => {
                out.entry(event).or_insert(Value::Null);
            }
        }
    }
    Value::Object(out)
}

/// The expressions `{{ … }}` of a message, or AWX's message for the first it cannot render.
/// rawx renders variable paths (`job.name`, `job.summary_fields.project.name`), which is
/// what AWX's documented messages use; a statement (`{% … %}`) or a filter is refused.
fn check_template(text: &str) -> Result<(), String> {
    let stub = context_stub();
    let mut rest = text;
    while let Some(i) = rest.find("{{") {
        let after = &rest[i + 2..];
        let Some(j) = after.find("}}") else {
            return Err(format!("Unable to render message '{text}': unexpected end of template, expected 'end of print statement'."));
        };
        let expr = after[..j].trim();
        if lookup(&stub, expr).is_none() {
            return Err(format!("Field '{expr}' unavailable"));
        }
        rest = &after[j + 2..];
    }
    if text.contains("{%") {
        return Err(format!(
            "Unable to render message '{text}': statements are not supported"
        ));
    }
    Ok(())
}

fn lookup<'a>(ctx: &'a Value, path: &str) -> Option<&'a Value> {
    let mut cur = ctx;
    for part in path.split('.') {
        let part = part.trim();
        if part.is_empty() || !part.chars().all(|c| c.is_alphanumeric() || c == '_') {
            return None;
        }
        cur = cur.get(part)?;
    }
    Some(cur)
}

/// Python's `str()` of a context value, as Jinja prints it.
fn printed(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "None".into(),
        Value::Bool(true) => "True".into(),
        Value::Bool(false) => "False".into(),
        other => crate::survey::py_str(other),
    }
}

/// Renders `{{ path }}` expressions against `ctx`; an unknown path renders empty (AWX's
/// `ChainableUndefined`).
pub fn render(template: &str, ctx: &Value) -> String {
    let mut out = String::new();
    let mut rest = template;
    while let Some(i) = rest.find("{{") {
        out.push_str(&rest[..i]);
        let after = &rest[i + 2..];
        let Some(j) = after.find("}}") else {
            out.push_str(&rest[i..]);
            return out;
        };
        if let Some(v) = lookup(ctx, after[..j].trim()) {
            out.push_str(&printed(v));
        }
        rest = &after[j + 2..];
    }
    out.push_str(rest);
    out
}

/// AWX's `JobNotificationMixin.context_stub`, the context messages are checked against.
pub fn context_stub() -> Value {
    json!({
        "job": {
            "allow_simultaneous": false, "artifacts": {}, "controller_node": "foo_controller",
            "created": "2018-11-13T06:04:00Z", "custom_virtualenv": "my_venv",
            "description": "Sample job description", "diff_mode": false, "elapsed": 0.403018,
            "execution_node": "awx", "failed": false, "finished": false, "force_handlers": false,
            "forks": 0,
            "host_status_counts": {"skipped": 1, "ok": 5, "changed": 3, "failures": 0, "dark": 0,
                                   "failed": false, "processed": 0, "rescued": 0},
            "id": 42, "job_explanation": "Sample job explanation", "job_slice_count": 1,
            "job_slice_number": 0, "job_tags": "", "job_type": "run", "launch_type": "workflow",
            "limit": "bar_limit", "modified": "2018-12-13T06:04:00Z", "name": "Stub JobTemplate",
            "playbook": "ping.yml", "scm_branch": "", "scm_revision": "", "skip_tags": "",
            "start_at_task": "", "started": "2019-07-29T17:38:14.137461Z", "status": "running",
            "summary_fields": {
                "created_by": {"first_name": "", "id": 1, "last_name": "", "username": "admin"},
                "instance_group": {"id": 1, "name": "tower"},
                "inventory": {"description": "Sample inventory description",
                              "has_active_failures": false, "has_inventory_sources": false,
                              "hosts_with_active_failures": 0, "id": 17,
                              "inventory_sources_with_failures": 0, "kind": "",
                              "name": "Stub Inventory", "organization_id": 121,
                              "total_groups": 0, "total_hosts": 1, "total_inventory_sources": 0},
                "job_template": {"description": "Sample job template description", "id": 39,
                                 "name": "Stub JobTemplate"},
                "labels": {"count": 0, "results": []},
                "project": {"description": "Sample project description", "id": 38,
                            "name": "Stub project", "scm_type": "git", "status": "successful"},
                "schedule": {"description": "Sample schedule", "id": 42, "name": "Stub schedule",
                             "next_run": "2038-01-01T00:00:00Z"},
                "unified_job_template": {"description": "Sample unified job template description",
                                         "id": 39, "name": "Stub Job Template",
                                         "unified_job_type": "job"},
            },
            "timeout": 0, "type": "job", "url": "/api/v2/jobs/13/", "use_fact_cache": false,
            "verbosity": 0,
        },
        "job_friendly_name": "Job",
        "url": "https://towerhost/#/jobs/playbook/1010",
        "approval_status": "approved",
        "approval_node_name": "Approve Me",
        "workflow_url": "https://towerhost/#/jobs/workflow/1010",
        "job_metadata": "{}",
    })
}

pub const DEFAULT_MSG: &str =
    "{{ job_friendly_name }} #{{ job.id }} '{{ job.name }}' {{ job.status }}: {{ url }}";
pub const DEFAULT_BODY: &str = "{{ job_friendly_name }} #{{ job.id }} had status {{ job.status }}, view details at {{ url }}\n\n{{ job_metadata }}";

/// AWX's per-type default `(message, body)` templates for a job event.
pub fn default_messages(kind: &str) -> (Option<&'static str>, Option<&'static str>) {
    match kind {
        "email" => (Some(DEFAULT_MSG), Some(DEFAULT_BODY)),
        "webhook" | "grafana" | "pagerduty" | "awssns" => {
            (Some(DEFAULT_MSG), Some("{{ job_metadata }}"))
        }
        _ => (Some(DEFAULT_MSG), None),
    }
}

/// The event a status notifies (AWX's `STATUS_TO_TEMPLATE_TYPE`); `None`: no notification.
pub fn event_of(status: crate::JobStatus) -> Option<&'static str> {
    use crate::JobStatus as S;
    match status {
        S::Running => Some("started"),
        S::Successful => Some("success"),
        S::Failed | S::Error | S::Canceled => Some("error"),
        _ => None,
    }
}

/// Where a kind of job finds its notification templates: `(column of the job naming the
/// object, its started/success/error relations)`, in AWX's order (`JobTemplate`'s own and its
/// project's, then its organization's).
type Source = (&'static str, [&'static Relation; 3]);
static SOURCES: &[(&str, &[Source])] = &[
    (
        "jobs",
        &[
            (
                "job_template",
                [&JT_NT_STARTED, &JT_NT_SUCCESS, &JT_NT_ERROR],
            ),
            (
                "project",
                [&PROJECT_NT_STARTED, &PROJECT_NT_SUCCESS, &PROJECT_NT_ERROR],
            ),
            (
                "organization",
                [&ORG_NT_STARTED, &ORG_NT_SUCCESS, &ORG_NT_ERROR],
            ),
        ],
    ),
    (
        "project_updates",
        &[
            (
                "project",
                [&PROJECT_NT_STARTED, &PROJECT_NT_SUCCESS, &PROJECT_NT_ERROR],
            ),
            (
                "organization",
                [&ORG_NT_STARTED, &ORG_NT_SUCCESS, &ORG_NT_ERROR],
            ),
        ],
    ),
    (
        "workflow_jobs",
        &[
            (
                "workflow_job_template",
                [&WFJT_NT_STARTED, &WFJT_NT_SUCCESS, &WFJT_NT_ERROR],
            ),
            (
                "organization",
                [&ORG_NT_STARTED, &ORG_NT_SUCCESS, &ORG_NT_ERROR],
            ),
        ],
    ),
    (
        "inventory_updates",
        &[
            (
                "inventory_source",
                [&INVSRC_NT_STARTED, &INVSRC_NT_SUCCESS, &INVSRC_NT_ERROR],
            ),
            (
                "organization",
                [&ORG_NT_STARTED, &ORG_NT_SUCCESS, &ORG_NT_ERROR],
            ),
        ],
    ),
];

/// The templates `event` of `job` (a row of `kind`) notifies, each once.
pub async fn templates_for(
    store: &dyn Store,
    kind: &str,
    job: &Row,
    event: &str,
) -> DomainResult<Vec<i64>> {
    let idx = match event {
        "started" => 0,
        "success" => 1,
        _ => 2,
    };
    let mut out = Vec::new();
    let sources = SOURCES
        .iter()
        .find(|(k, _)| *k == kind)
        .map(|(_, s)| *s)
        .unwrap_or(&[]);
    for (col, rels) in sources {
        if let Some(id) = job.get(*col).and_then(Value::as_i64) {
            attached_once(store, &mut out, rels[idx], id).await?;
        }
    }
    Ok(out)
}

/// Adds the templates `relation` attaches to object `id` that `out` does not hold yet.
async fn attached_once(
    store: &dyn Store,
    out: &mut Vec<i64>,
    relation: &'static Relation,
    id: i64,
) -> DomainResult<()> {
    for nt in store.linked(relation, true, id).await? {
        if !out.contains(&nt) {
            out.push(nt);
        }
    }
    Ok(())
}

/// AWX's `JobNotificationMixin.context` for a job: its allowed fields, friendly name, UI url
/// and `job_metadata` (AWX's `notification_data`, as indented JSON).
///
/// `extra` goes into `job_metadata` beside the common keys (a workflow job's node summary,
/// AWX's `WorkflowJob.notification_data`).
pub fn context(
    kind: &str,
    job: &Row,
    base_url: &str,
    summary: &Map<String, Value>,
    extra: Map<String, Value>,
) -> Value {
    const ALLOWED: &[&str] = &[
        "id",
        "type",
        "url",
        "created",
        "modified",
        "name",
        "description",
        "job_type",
        "playbook",
        "forks",
        "limit",
        "verbosity",
        "job_tags",
        "force_handlers",
        "skip_tags",
        "start_at_task",
        "timeout",
        "use_fact_cache",
        "launch_type",
        "status",
        "failed",
        "started",
        "finished",
        "elapsed",
        "job_explanation",
        "execution_node",
        "controller_node",
        "allow_simultaneous",
        "scm_revision",
        "diff_mode",
        "job_slice_number",
        "job_slice_count",
        "scm_branch",
        "artifacts",
    ];
    let id = job.get("id").and_then(Value::as_i64).unwrap_or_default();
    let (friendly, type_name, ui) = match kind {
        "project_updates" => ("Project Update", "project_update", "project"),
        "inventory_updates" => ("Inventory Update", "inventory_update", "inventory"),
        "workflow_jobs" => ("Workflow Job", "workflow_job", "workflow"),
        _ => ("Job", "job", "playbook"),
    };
    let mut j = Map::new();
    for k in ALLOWED {
        if let Some(v) = job.get(*k) {
            j.insert((*k).into(), v.clone());
        }
    }
    j.insert("type".into(), json!(type_name));
    j.insert("url".into(), json!(format!("/api/v2/{kind}/{id}/")));
    j.insert(
        "host_status_counts".into(),
        job.get("host_status_counts")
            .map(|v| match v {
                Value::String(s) => serde_json::from_str(s).unwrap_or(json!({})),
                other => other.clone(),
            })
            .unwrap_or(json!({})),
    );
    j.insert("summary_fields".into(), Value::Object(summary.clone()));
    let url = format!("{}/#/jobs/{ui}/{id}", base_url.trim_end_matches('/'));
    let mut metadata = json!({
        "id": id, "name": job.get("name").cloned().unwrap_or(json!("")),
        "url": url, "created_by": summary.get("created_by").and_then(|c| c.get("username")).cloned().unwrap_or(json!("")),
        "started": job.get("started").cloned().unwrap_or(Value::Null),
        "finished": job.get("finished").cloned().unwrap_or(Value::Null),
        "status": job.get("status").cloned().unwrap_or(json!("")),
        "traceback": job.get("result_traceback").cloned().unwrap_or(json!("")),
        "friendly_name": friendly,
    });
    for k in ["playbook", "limit"] {
        if let Some(v) = job.get(k) {
            metadata[k] = v.clone();
        }
    }
    for (k, field) in [("inventory", "inventory"), ("project", "project")] {
        if let Some(n) = summary.get(field).and_then(|s| s.get("name")) {
            metadata[k] = n.clone();
        }
    }
    if let Value::Object(m) = &mut metadata {
        m.extend(extra);
    }
    json!({
        "job": j,
        "job_friendly_name": friendly,
        "url": url,
        "job_metadata": serde_json::to_string_pretty(&metadata).unwrap_or_default(),
    })
}

/// The template's type and its own `(message, body)` at `path` in its `messages` (an event,
/// or `workflow_approval` then a status) over `defaults`, rendered in `ctx`.
fn rendered(
    nt: &Row,
    path: &[&str],
    defaults: impl FnOnce(&str) -> (Option<String>, Option<String>),
    ctx: &Value,
) -> (String, String) {
    let kind = nt
        .get("notification_type")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let own = Value::Object(object(nt.get("messages")));
    let custom = path
        .iter()
        .try_fold(&own, |v, k| v.get(*k))
        .and_then(Value::as_object);
    let pick = |k: &str| {
        custom
            .and_then(|c| c.get(k))
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(String::from)
    };
    let (dm, db) = defaults(kind);
    let msg = pick("message").or(dm).map(|t| render(&t, ctx));
    let body = pick("body").or(db).map(|t| render(&t, ctx));
    (msg.unwrap_or_default(), body.unwrap_or_default())
}

/// The `(subject, body)` a template sends for `event` in `ctx`: its own messages where it
/// has them, else its type's defaults (AWX's `build_notification_message`).
pub fn build_message(nt: &Row, event: &str, ctx: &Value) -> (String, String) {
    let defaults = |kind: &str| {
        let (m, b) = default_messages(kind);
        (m.map(String::from), b.map(String::from))
    };
    let (msg, mut body) = rendered(nt, &[event], defaults, ctx);
    if body.trim().lines().next().is_none() {
        body = [
            "The template rendering return a blank body.",
            "Please check the template.",
            "Refer to https://github.com/ansible/awx/issues/13983",
            "for further information.",
        ]
        .join("\r\n");
    }
    (msg, body)
}

/// AWX's approval texts (`CustomNotificationBase.DEFAULT_APPROVAL_*`): `(message, body)` for
/// an approval `status` (`running`, `approved`, `timed_out`, `denied`).
fn approval_texts(status: &str) -> (String, String) {
    let (what, seen) = match status {
        "running" => (
            "needs review. This node can be viewed at:",
            "needs review. This approval node can be viewed at:",
        ),
        "approved" => ("was approved.", "was approved."),
        "timed_out" => ("has timed out.", "has timed out."),
        _ => ("was denied.", "was denied."),
    };
    (
        format!("The approval node \"{{{{ approval_node_name }}}}\" {what} {{{{ workflow_url }}}}"),
        format!(
            "The approval node \"{{{{ approval_node_name }}}}\" {seen} {{{{ workflow_url }}}}\n\n{{{{ job_metadata }}}}"
        ),
    )
}

/// A type's default `(message, body)` for an approval `status`, as its AWX backend declares
/// them: email, Grafana and PagerDuty the full texts; webhook and SNS a JSON `{"body": …}`
/// and no subject (`job_metadata_messages`); the chat types the message only.
pub fn approval_default_messages(kind: &str, status: &str) -> (Option<String>, Option<String>) {
    let (msg, body) = approval_texts(status);
    match kind {
        "email" | "grafana" | "pagerduty" => (Some(msg), Some(body)),
        "webhook" | "awssns" => (None, Some(json!({ "body": msg }).to_string())),
        _ => (Some(msg), None),
    }
}

/// The `(subject, body)` a template sends for an approval `status` (AWX's
/// `build_approval_notification_message`): its own `workflow_approval` messages where it has
/// them, else its type's defaults. No blank-body replacement here: AWX has none either.
pub fn build_approval_message(nt: &Row, status: &str, ctx: &Value) -> (String, String) {
    let defaults = |kind: &str| approval_default_messages(kind, status);
    rendered(nt, &["workflow_approval", status], defaults, ctx)
}

/// AWX's `WorkflowApproval.context`: the approval's status and node name, its workflow job's
/// UI url, and `job_metadata` (the approval's `notification_data`: the common keys and the
/// workflow job's extra vars, as shown).
pub fn approval_context(
    approval: &Row,
    wj: &Row,
    status: &str,
    base_url: &str,
    created_by: &str,
) -> Value {
    let wj_id = wj.get("id").and_then(Value::as_i64).unwrap_or_default();
    let url = format!("{}/#/jobs/workflow/{wj_id}", base_url.trim_end_matches('/'));
    let field = |k: &str| approval.get(k).cloned().unwrap_or(Value::Null);
    let metadata = json!({
        "id": field("id"),
        "name": field("name"),
        "url": url,
        "created_by": created_by,
        "started": field("started"),
        "finished": field("finished"),
        "status": field("status"),
        "traceback": approval.get("result_traceback").cloned().unwrap_or(json!("")),
        "extra_vars": wj.get("extra_vars").cloned().unwrap_or(json!("")),
    });
    json!({
        "approval_status": status,
        "approval_node_name": field("name"),
        "workflow_url": url,
        "job_metadata": serde_json::to_string_pretty(&metadata).unwrap_or_default(),
    })
}

/// The templates an approval of workflow template `wfjt` (of `organization`) notifies: the
/// template's approval attachments, then its organization's, each once.
pub async fn approval_templates(
    store: &dyn Store,
    wfjt: i64,
    organization: Option<i64>,
) -> DomainResult<Vec<i64>> {
    let mut out = Vec::new();
    attached_once(store, &mut out, &WFJT_NT_APPROVALS, wfjt).await?;
    if let Some(org) = organization {
        attached_once(store, &mut out, &ORG_NT_APPROVALS, org).await?;
    }
    Ok(out)
}

/// Stores a pending notification of `nt` (AWX's `generate_notification`): the task role's
/// notifier sends it.
pub async fn record(store: &dyn Store, nt: &Row, subject: &str, body: &Value) -> DomainResult<i64> {
    let kind = nt
        .get("notification_type")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let config = object(nt.get("notification_configuration"));
    let recipients = config
        .get(recipient_parameter(kind))
        .map(crate::survey::py_str)
        .unwrap_or_default();
    let mut row = Row::new();
    row.insert("notification_template".into(), nt["id"].clone());
    row.insert(
        "organization".into(),
        nt.get("organization").cloned().unwrap_or(Value::Null),
    );
    row.insert("notification_type".into(), json!(kind));
    row.insert("status".into(), json!("pending"));
    row.insert("recipients".into(), json!(recipients));
    row.insert("subject".into(), json!(subject));
    row.insert("body".into(), json!(body.to_string()));
    Ok(store
        .insert(&rawx_model::resources::NOTIFICATIONS, &row)
        .await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn approval_messages_are_awx_texts_per_type() {
        let wj = json!({"id": 7, "extra_vars": "{}"});
        let approval = json!({"id": 9, "name": "ship \"it\"", "status": "pending"});
        let ctx = approval_context(
            approval.as_object().unwrap(),
            wj.as_object().unwrap(),
            "running",
            "https://ctl/",
            "admin",
        );
        let hook = json!({"notification_type": "webhook", "messages": null});
        let (subject, body) = build_approval_message(hook.as_object().unwrap(), "running", &ctx);
        assert_eq!(subject, "");
        assert_eq!(
            body,
            "{\"body\":\"The approval node \\\"ship \"it\"\\\" needs review. This node can be viewed at: https://ctl/#/jobs/workflow/7\"}"
        );
        let mail = json!({"notification_type": "email",
                          "messages": {"workflow_approval": {"denied": {"message": "no: {{ approval_node_name }}"}}}});
        let (subject, body) = build_approval_message(mail.as_object().unwrap(), "denied", &ctx);
        assert_eq!(subject, "no: ship \"it\"");
        assert!(
            body.starts_with(
                "The approval node \"ship \"it\"\" was denied. https://ctl/#/jobs/workflow/7\n\n{"
            ),
            "{body}"
        );
        let slack = json!({"notification_type": "slack"});
        let (subject, body) = build_approval_message(slack.as_object().unwrap(), "timed_out", &ctx);
        assert_eq!(
            subject,
            "The approval node \"ship \"it\"\" has timed out. https://ctl/#/jobs/workflow/7"
        );
        assert_eq!(body, "");
    }

    #[test]
    fn configuration_checks_are_awx_messages() {
        let key = SecretKey::from_bytes(&[3u8; 32]).unwrap();
        let e = validate_configuration("email", &Map::new(), None, &key).unwrap_err();
        assert_eq!(e, vec!["Missing required fields for Notification Configuration: ['host', 'port', 'username', 'password', 'use_tls', 'use_ssl', 'sender', 'recipients']."]);
        let given =
            json!({"url": "http://x", "http_method": "GET", "headers": [], "password": "pw"});
        let e =
            validate_configuration("webhook", given.as_object().unwrap(), None, &key).unwrap_err();
        assert_eq!(
            e,
            vec![
                "HTTP method must be either 'POST' or 'PUT'.",
                "Configuration field 'headers' incorrect type, expected object."
            ]
        );
        let given = json!({"url": "http://x", "headers": {}, "password": "pw"});
        let ok = validate_configuration("webhook", given.as_object().unwrap(), None, &key).unwrap();
        assert!(is_sealed(ok["password"].as_str().unwrap()));
        assert_eq!(ok["http_method"], json!("POST"));
        assert_eq!(display_configuration(&ok)["password"], json!("$encrypted$"));
        let again = json!({"url": "http://x", "headers": {}, "password": "$encrypted$"});
        let kept =
            validate_configuration("webhook", again.as_object().unwrap(), Some(&ok), &key).unwrap();
        assert_eq!(kept["password"], ok["password"]);
    }

    #[test]
    fn messages_render_and_check() {
        assert!(validate_messages(&json!({"started": {"message": "{{ job.name }}"}})).is_empty());
        assert_eq!(
            validate_messages(&json!({"started": {"message": "{{ job.nope }}"}, "bogus": null})),
            // In the order they were given, as AWX walks the dict.
            vec![
                "Field 'job.nope' unavailable",
                "Event 'bogus' invalid, must be one of 'started', 'success', 'error', or 'workflow_approval'"
            ]
        );
        let ctx = json!({"job": {"id": 7, "name": "n"}, "url": "u"});
        assert_eq!(
            render("#{{ job.id }} {{job.name}} {{ x }}!", &ctx),
            "#7 n !"
        );
    }
}
