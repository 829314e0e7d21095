//! `/api/v2/metrics/` (Prometheus text, AWX's metric names) and `/api/v2/dashboard/`.
//!
//! AWX computes its `awx_*` gauges from the database on every scrape; so does rawx, so the
//! figures agree across nodes sharing one database. Counters that live in a process (events
//! ingested, log lines shipped) come from the process's `metrics` recorder, rendered after
//! them; the supervisor's view of each component is rawx's own addition.

use crate::auth::Auth;
use crate::error::{ApiError, ApiResult};
use crate::{AppState, AWX_VERSION};
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Json;
use rawx_domain::JobStatus;
use rawx_model::filter::Filter;
use rawx_model::rbac::read_filter;
use rawx_model::resources::{self as res, JOB_STATUS, LAUNCH_TYPES};
use rawx_model::schema::{ColumnType, Resource};
use serde_json::{json, Value};
use std::fmt::Write as _;
use std::sync::Arc;

/// The Prometheus text exposition format, written by hand: a handful of gauges do not
/// justify a second registry next to the process's `metrics` recorder.
#[derive(Default)]
struct Text(String);

impl Text {
    fn head(&mut self, name: &str, help: &str, kind: &str) {
        let _ = writeln!(self.0, "# HELP {name} {help}\n# TYPE {name} {kind}");
    }

    fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: f64) {
        self.0.push_str(name);
        if !labels.is_empty() {
            self.0.push('{');
            for (i, (k, v)) in labels.iter().enumerate() {
                if i > 0 {
                    self.0.push(',');
                }
                let v = v
                    .replace('\\', "\\\\")
                    .replace('"', "\\\"")
                    .replace('\n', "\\n");
                let _ = write!(self.0, "{k}=\"{v}\"");
            }
            self.0.push('}');
        }
        // AWX's client library prints floats (`1.0`); parsers accept both.
        let _ = writeln!(self.0, " {value:?}");
    }

    fn gauge(&mut self, name: &str, help: &str, value: f64) {
        self.head(name, help, "gauge");
        self.sample(name, &[], value);
    }
}

fn all() -> Filter {
    Filter::All(vec![])
}

fn and(a: Filter, b: Filter) -> Filter {
    Filter::All(vec![a, b])
}

async fn count(state: &AppState, r: &'static Resource, f: &Filter) -> ApiResult<f64> {
    Ok(state.store.count(r, f).await? as f64)
}

fn status_is(s: &str) -> Filter {
    Filter::eq("status", ColumnType::Text, json!(s))
}

fn memory_kb() -> f64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find(|l| l.starts_with("MemTotal:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|n| n.parse().ok())
        })
        .unwrap_or(0.0)
}

async fn render(state: &AppState) -> ApiResult<String> {
    let mut t = Text::default();
    let node = state.config.node_name.as_str();
    let uuid = state.config.install_uuid.as_str();
    let settings = state.settings();
    use rawx_domain::settings as s;
    let logger_on = settings.get(s::LOG_AGGREGATOR_ENABLED).await;
    let logger_type = settings.get(s::LOG_AGGREGATOR_TYPE).await;
    let url_base = settings.get(s::TOWER_URL_BASE).await;

    t.head("awx_system_info", "AWX System Information", "gauge");
    t.sample(
        "awx_system_info",
        &[
            ("install_uuid", uuid),
            ("insights_analytics", "False"),
            ("tower_url_base", url_base.as_str()),
            ("tower_version", AWX_VERSION),
            ("license_type", "open"),
            ("license_expiry", "0"),
            ("pendo_tracking", "off"),
            (
                "external_logger_enabled",
                if logger_on { "True" } else { "False" },
            ),
            (
                "external_logger_type",
                logger_type.as_deref().unwrap_or("None"),
            ),
        ],
        1.0,
    );
    for (name, help, r) in [
        (
            "awx_organizations_total",
            "Number of organizations",
            &res::ORGANIZATIONS,
        ),
        ("awx_users_total", "Number of users", &res::USERS),
        ("awx_teams_total", "Number of teams", &res::TEAMS),
        (
            "awx_inventories_total",
            "Number of inventories",
            &res::INVENTORIES,
        ),
        ("awx_projects_total", "Number of projects", &res::PROJECTS),
        (
            "awx_job_templates_total",
            "Number of job templates",
            &res::JOB_TEMPLATES,
        ),
        (
            "awx_schedules_total",
            "Number of schedules",
            &res::SCHEDULES,
        ),
        (
            "awx_workflow_job_templates_total",
            "Number of workflow job templates",
            &res::WORKFLOW_JOB_TEMPLATES,
        ),
    ] {
        t.gauge(name, help, count(state, r, &all()).await?);
    }
    let hosts = count(state, &res::HOSTS, &all()).await?;
    let enabled = count(
        state,
        &res::HOSTS,
        &Filter::eq("enabled", ColumnType::Bool, json!(true)),
    )
    .await?;
    t.head("awx_hosts_total", "Number of hosts", "gauge");
    t.sample("awx_hosts_total", &[("type", "all")], hosts);
    t.sample("awx_hosts_total", &[("type", "active")], enabled);
    let sessions = count(state, &res::SESSIONS, &all()).await?;
    t.head("awx_sessions_total", "Number of sessions", "gauge");
    t.sample("awx_sessions_total", &[("type", "all")], sessions);
    t.sample("awx_sessions_total", &[("type", "user")], sessions);
    t.sample("awx_sessions_total", &[("type", "anonymous")], 0.0);

    let mut by_status = Vec::new();
    for (s, _) in JOB_STATUS
        .iter()
        .filter(|(s, _)| *s != JobStatus::New.as_str())
    {
        by_status.push((*s, count(state, &res::JOBS, &status_is(s)).await?));
    }
    let of = |s: &str| {
        by_status
            .iter()
            .find(|(k, _)| *k == s)
            .map_or(0.0, |(_, n)| *n)
    };
    t.gauge(
        "awx_running_jobs_total",
        "Number of running jobs on the system",
        of(JobStatus::Running.as_str()),
    );
    t.gauge(
        "awx_pending_jobs_total",
        "Number of pending jobs on the system",
        of(JobStatus::Pending.as_str()),
    );
    t.head("awx_status_total", "Status of Job launched", "gauge");
    for (s, n) in &by_status {
        t.sample("awx_status_total", &[("status", s)], *n);
    }

    let capacity = rawx_model::capacity::local_capacity() as f64;
    // Every kind of job, as `/api/v2/instances/` counts it.
    let consumed = rawx_domain::capacity::consumed(&*state.store, None)
        .await?
        .capacity as f64;
    let cpu = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
    let inst = [
        ("hostname", node),
        ("instance_uuid", uuid),
        ("node_type", "hybrid"),
    ];
    let inst2 = [("hostname", node), ("instance_uuid", uuid)];
    t.head(
        "awx_instance_capacity",
        "Capacity of each node in the system",
        "gauge",
    );
    t.sample("awx_instance_capacity", &inst, capacity);
    t.head(
        "awx_instance_cpu",
        "CPU cores on each node in the system",
        "gauge",
    );
    t.sample("awx_instance_cpu", &inst2, cpu);
    t.head(
        "awx_instance_memory",
        "RAM (Kb) on each node in the system",
        "gauge",
    );
    t.sample("awx_instance_memory", &inst2, memory_kb());
    t.head(
        "awx_instance_info",
        "Info about each node in the system",
        "gauge",
    );
    let mut info = inst.to_vec();
    info.extend([
        ("enabled", "True"),
        ("managed_by_policy", "True"),
        ("version", AWX_VERSION),
    ]);
    t.sample("awx_instance_info", &info, 1.0);
    t.head(
        "awx_instance_consumed_capacity",
        "Consumed capacity of each node in the system",
        "gauge",
    );
    t.sample("awx_instance_consumed_capacity", &inst, consumed);
    t.head(
        "awx_instance_remaining_capacity",
        "Remaining capacity of each node in the system",
        "gauge",
    );
    t.sample(
        "awx_instance_remaining_capacity",
        &inst,
        (capacity - consumed).max(0.0),
    );

    let on_node = Filter::eq("execution_node", ColumnType::Text, json!(node));
    t.head(
        "awx_instance_launch_type_total",
        "Type of Job launched",
        "gauge",
    );
    for (lt, _) in LAUNCH_TYPES {
        let f = and(
            on_node.clone(),
            Filter::eq("launch_type", ColumnType::Text, json!(lt)),
        );
        let n = count(state, &res::JOBS, &f).await?;
        if n > 0.0 {
            t.sample(
                "awx_instance_launch_type_total",
                &[("node", node), ("launch_type", lt)],
                n,
            );
        }
    }
    t.head(
        "awx_instance_status_total",
        "Status of Job launched",
        "gauge",
    );
    for (s, _) in JOB_STATUS {
        let n = count(state, &res::JOBS, &and(on_node.clone(), status_is(s))).await?;
        if n > 0.0 {
            t.sample(
                "awx_instance_status_total",
                &[("node", node), ("status", s)],
                n,
            );
        }
    }
    t.gauge(
        "awx_license_instance_total",
        "Total number of managed hosts provided by your license",
        0.0,
    );
    t.gauge(
        "awx_license_instance_free",
        "Number of remaining managed hosts provided by your license",
        0.0,
    );

    // rawx's own: what the supervisor knows of each component of this process.
    let components = state.ops.components.snapshot();
    t.head(
        "rawx_component_state",
        "State of each supervised component of this node (1 for its current state)",
        "gauge",
    );
    for c in &components {
        for s in ["starting", "running", "backoff", "stopped", "failed"] {
            let v = if c.state == s { 1.0 } else { 0.0 };
            t.sample(
                "rawx_component_state",
                &[("node", node), ("component", c.name), ("state", s)],
                v,
            );
        }
    }
    t.head(
        "rawx_component_restarts_total",
        "Restarts of each supervised component after a failure",
        "counter",
    );
    for c in &components {
        t.sample(
            "rawx_component_restarts_total",
            &[("node", node), ("component", c.name)],
            f64::from(c.restarts),
        );
    }
    if let Some(p) = &state.ops.prometheus {
        t.0.push_str(&p.render());
    }
    Ok(t.0)
}

/// AWX allows system administrators and auditors only.
pub async fn metrics(
    State(state): State<Arc<AppState>>,
    auth: Auth,
    headers: axum::http::HeaderMap,
) -> ApiResult<Response> {
    let a = &auth.0.actor;
    if !(a.is_superuser || a.is_system_auditor) {
        return Err(ApiError::forbidden());
    }
    let body = render(&state).await?;
    // `awx metrics` (awxkit) asks for JSON, as AWX's renderer gives it.
    let wants_json = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("application/json"));
    if wants_json {
        return Ok(Json(as_json(&body)).into_response());
    }
    Ok((
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        body,
    )
        .into_response())
}

/// AWX's dashboard counts, of what the caller may see.
pub async fn dashboard(State(state): State<Arc<AppState>>, auth: Auth) -> ApiResult<Json<Value>> {
    let actor = &auth.0.actor;
    let visible = |r: &'static Resource| read_filter(r, actor).unwrap_or_else(all);
    let n = |f: Filter, r: &'static Resource| {
        let state = state.clone();
        async move { state.store.count(r, &f).await.map_err(ApiError::from) }
    };
    let url = |k: &str| format!("/api/v2/{k}/");
    let inv = n(visible(&res::INVENTORIES), &res::INVENTORIES).await?;
    let hosts = n(visible(&res::HOSTS), &res::HOSTS).await?;
    let failed_hosts = n(
        and(
            visible(&res::HOSTS),
            Filter::eq("has_active_failures", ColumnType::Bool, json!(true)),
        ),
        &res::HOSTS,
    )
    .await
    .unwrap_or(0);
    let groups = n(visible(&res::GROUPS), &res::GROUPS).await?;
    let projects = n(visible(&res::PROJECTS), &res::PROJECTS).await?;
    let failed_projects = n(
        and(
            visible(&res::PROJECTS),
            Filter::eq("last_job_failed", ColumnType::Bool, json!(true)),
        ),
        &res::PROJECTS,
    )
    .await
    .unwrap_or(0);
    let mut scm = serde_json::Map::new();
    for (key, scm_type, label) in [
        ("git", "git", "Git"),
        ("svn", "svn", "Subversion"),
        ("archive", "archive", "Remote Archive"),
        ("insights", "insights", "Insights"),
    ] {
        let total = n(
            and(
                visible(&res::PROJECTS),
                Filter::eq("scm_type", ColumnType::Text, json!(scm_type)),
            ),
            &res::PROJECTS,
        )
        .await
        .unwrap_or(0);
        scm.insert(
            key.into(),
            json!({"url": format!("/api/v2/projects/?scm_type={scm_type}"), "label": label,
                   "failures_url": format!("/api/v2/projects/?scm_type={scm_type}&last_job_failed=True"),
                   "total": total, "failed": 0}),
        );
    }
    let users = n(visible(&res::USERS), &res::USERS).await?;
    let orgs = n(visible(&res::ORGANIZATIONS), &res::ORGANIZATIONS).await?;
    let teams = n(visible(&res::TEAMS), &res::TEAMS).await?;
    let creds = n(visible(&res::CREDENTIALS), &res::CREDENTIALS).await?;
    let jts = n(visible(&res::JOB_TEMPLATES), &res::JOB_TEMPLATES).await?;
    Ok(Json(json!({
        "inventories": {"url": url("inventories"), "total": inv, "total_with_inventory_source": 0,
                        "job_failed": 0, "inventory_failed": 0},
        "inventory_sources": {},
        "groups": {"url": url("groups"), "failures_url": "/api/v2/groups/?has_active_failures=True",
                   "total": groups, "inventory_failed": 0},
        "hosts": {"url": url("hosts"), "failures_url": "/api/v2/hosts/?has_active_failures=True",
                  "total": hosts, "failed": failed_hosts},
        "projects": {"url": url("projects"), "failures_url": "/api/v2/projects/?last_job_failed=True",
                     "total": projects, "failed": failed_projects},
        "scm_types": scm,
        "users": {"url": url("users"), "total": users},
        "organizations": {"url": url("organizations"), "total": orgs},
        "teams": {"url": url("teams"), "total": teams},
        "credentials": {"url": url("credentials"), "total": creds},
        "job_templates": {"url": url("job_templates"), "total": jts},
    })))
}

/// AWX's JSON form of the Prometheus text: each metric by name, with its help text, type and
/// samples (`labels`, `value`).
fn as_json(text: &str) -> Value {
    let mut out = serde_json::Map::new();
    let entry = |out: &mut serde_json::Map<String, Value>, name: &str| {
        out.entry(name.to_string())
            .or_insert_with(|| json!({"help_text": "", "type": "", "samples": []}))
            .clone()
    };
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let (name, help) = rest.split_once(' ').unwrap_or((rest, ""));
            let mut e = entry(&mut out, name);
            e["help_text"] = json!(help);
            out.insert(name.into(), e);
        } else if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').unwrap_or((rest, ""));
            let mut e = entry(&mut out, name);
            e["type"] = json!(kind);
            out.insert(name.into(), e);
        } else if !line.starts_with('#') && !line.trim().is_empty() {
            let (series, value) = line.rsplit_once(' ').unwrap_or((line, ""));
            let (name, labels) = match series.split_once('{') {
                Some((n, l)) => (n, l.trim_end_matches('}')),
                None => (series, ""),
            };
            let mut map = serde_json::Map::new();
            for pair in split_labels(labels) {
                if let Some((k, v)) = pair.split_once('=') {
                    map.insert(k.into(), json!(v.trim_matches('"')));
                }
            }
            let value = value
                .parse::<f64>()
                .map(|v| json!(v))
                .unwrap_or(json!(value));
            // A summary's or histogram's series belong to their family's name.
            let family = ["_bucket", "_sum", "_count", "_total"]
                .iter()
                .find_map(|sfx| name.strip_suffix(sfx).filter(|f| out.contains_key(*f)))
                .unwrap_or(name);
            let mut e = entry(&mut out, family);
            if let Some(samples) = e["samples"].as_array_mut() {
                samples.push(json!({"labels": map, "value": value}));
            }
            out.insert(family.into(), e);
        }
    }
    Value::Object(out)
}

/// `a="x",b="y,z"` → the pairs, commas inside quotes kept.
fn split_labels(labels: &str) -> Vec<&str> {
    let (mut out, mut start, mut quoted) = (Vec::new(), 0, false);
    for (i, c) in labels.char_indices() {
        match c {
            '"' => quoted = !quoted,
            ',' if !quoted => {
                out.push(&labels[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    if start < labels.len() {
        out.push(&labels[start..]);
    }
    out
}

#[cfg(test)]
mod json_tests {
    #[test]
    fn prometheus_text_becomes_awx_json() {
        let text = "# HELP awx_status_total Status of Job launched\n# TYPE awx_status_total gauge\nawx_status_total{status=\"successful\",node=\"a,b\"} 3.0\nawx_status_total{status=\"failed\"} 1\n";
        let j = super::as_json(text);
        assert_eq!(j["awx_status_total"]["type"], "gauge");
        assert_eq!(j["awx_status_total"]["help_text"], "Status of Job launched");
        let s = j["awx_status_total"]["samples"].as_array().unwrap();
        assert_eq!(s.len(), 2);
        assert_eq!(s[0]["labels"]["status"], "successful");
        assert_eq!(s[0]["labels"]["node"], "a,b");
        assert_eq!(s[0]["value"], 3.0);
    }
}
