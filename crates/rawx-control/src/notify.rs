//! Notifications from the task role: when a job starts or ends, a pending notification per
//! template attached for that event (`job_status`, called by `job_state::set`); the supervised
//! component `notifier` sends every pending notification (those and `test/`'s) once across the
//! task nodes (compare-and-set on `claimed`), and records `successful` or `failed` with AWX's
//! error. A failed delivery never touches the job.

use crate::Shared;
use rawx_domain::notify;
use rawx_domain::JobStatus;
use rawx_model::filter::{Filter, ListQuery};
use rawx_model::resources::{
    JobKind, NOTIFICATIONS, NOTIFICATION_TEMPLATES, UNIFIED_JOBS, WORKFLOW_JOB_NODES,
};
use rawx_model::schema::{int, text, ColumnType};
use rawx_model::Row;
use rawx_supervisor::{Component, Shutdown};
use serde_json::{json, Map, Value};
use std::time::Duration;

/// How often the notifier looks for pending notifications.
const POLL: Duration = Duration::from_millis(500);
/// AWX's webhook backend: redirects followed at most this often.
const MAX_RETRIES: usize = 5;

/// Records the notifications a job's new `status` sends (none for most statuses). Errors are
/// logged: a notification never fails a job.
pub async fn job_status(shared: &Shared, kind: &JobKind, job: i64, status: JobStatus) {
    if let Err(e) = job_status_inner(shared, kind, job, status).await {
        tracing::warn!(job, error = %e, "notifications not recorded");
    }
}

async fn job_status_inner(
    shared: &Shared,
    kind: &JobKind,
    job: i64,
    status: JobStatus,
) -> anyhow::Result<()> {
    let Some(event) = notify::event_of(status) else {
        return Ok(());
    };
    let key = kind.resource.key;
    let row = shared.store.get(kind.resource, job).await?;
    let templates = notify::templates_for(&*shared.store, key, &row, event).await?;
    if templates.is_empty() {
        return Ok(());
    }
    let summary = summary(shared, &row).await;
    let base = shared
        .settings()
        .get(rawx_domain::settings::TOWER_URL_BASE)
        .await;
    let extra = match key {
        "workflow_jobs" => workflow_metadata(shared, &row, &summary).await?,
        _ => Map::new(),
    };
    let ctx = notify::context(key, &row, &base, &summary, extra);
    for nt_id in templates {
        let nt = shared.store.get(&NOTIFICATION_TEMPLATES, nt_id).await?;
        let (subject, body) = notify::build_message(&nt, event, &ctx);
        notify::record(&*shared.store, &nt, &subject, &json!(body)).await?;
    }
    Ok(())
}

/// What a workflow job's `job_metadata` adds (AWX's `WorkflowJob.notification_data`): a
/// summary of its nodes' jobs in `body`, its inventory's name, limit and extra vars.
async fn workflow_metadata(
    shared: &Shared,
    wj: &Row,
    summary: &Map<String, Value>,
) -> anyhow::Result<Map<String, Value>> {
    let store = &*shared.store;
    let id = int(wj, "id").unwrap_or_default();
    let nodes = store
        .list_all(
            &WORKFLOW_JOB_NODES,
            &Filter::eq("workflow_job", ColumnType::Int, json!(id)),
            &[("id", false)],
        )
        .await?;
    let mut lines = vec!["Workflow job summary:".to_string(), String::new()];
    for n in &nodes {
        let node = int(n, "id").unwrap_or_default();
        let job = match int(n, "job") {
            Some(j) => store.get(&UNIFIED_JOBS, j).await.ok(),
            None => None,
        };
        lines.push(match job {
            Some(j) => format!(
                "- node #{node} spawns job #{}, \"{}\", which finished with status {}.",
                int(&j, "id").unwrap_or_default(),
                text(&j, "name"),
                text(&j, "status")
            ),
            None => format!("- node #{node} spawns no job."),
        });
    }
    let mut out = Map::new();
    out.insert("body".into(), json!(lines.join("\n")));
    out.insert(
        "inventory".into(),
        summary
            .get("inventory")
            .and_then(|i| i.get("name"))
            .cloned()
            .unwrap_or(Value::Null),
    );
    out.insert(
        "limit".into(),
        wj.get("limit").cloned().unwrap_or(Value::Null),
    );
    out.insert(
        "extra_vars".into(),
        wj.get("extra_vars").cloned().unwrap_or(json!("")),
    );
    Ok(out)
}

/// The job's `summary_fields` a message may name (AWX's allowed subset).
async fn summary(shared: &Shared, job: &Row) -> Map<String, Value> {
    let mut out = Map::new();
    let store = &*shared.store;
    let pick = |r: &Row, keys: &[&str]| {
        Value::Object(
            keys.iter()
                .filter_map(|k| r.get(*k).map(|v| ((*k).to_string(), v.clone())))
                .collect(),
        )
    };
    let parts: &[(&str, &str, &[&str])] = &[
        (
            "job_template",
            "job_templates",
            &["id", "name", "description"],
        ),
        (
            "project",
            "projects",
            &["id", "name", "description", "status", "scm_type"],
        ),
        (
            "inventory",
            "inventories",
            &["id", "name", "description", "kind", "total_hosts"],
        ),
        (
            "launched_by_user",
            "users",
            &["id", "username", "first_name", "last_name"],
        ),
    ];
    for (col, res, keys) in parts {
        let Some(id) = int(job, col) else { continue };
        let Some(res) = rawx_model::resources::by_key(res) else {
            continue;
        };
        if let Ok(r) = store.get(res, id).await {
            let name = if *col == "launched_by_user" {
                "created_by"
            } else {
                col
            };
            out.insert(name.into(), pick(&r, keys));
        }
    }
    out
}

pub(crate) struct Notifier {
    pub(crate) shared: Shared,
}

#[async_trait::async_trait]
impl Component for Notifier {
    fn name(&self) -> &'static str {
        "notifier"
    }

    async fn run(&self, mut shutdown: Shutdown) -> anyhow::Result<()> {
        let mut tick = tokio::time::interval(POLL);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = shutdown.wait() => return Ok(()),
                _ = tick.tick() => {}
            }
            if let Err(e) = self.pass().await {
                tracing::warn!(error = %e, "notifier pass failed");
            }
        }
    }
}

impl Notifier {
    async fn pass(&self) -> anyhow::Result<()> {
        let store = &*self.shared.store;
        let unclaimed = Filter::eq("claimed", ColumnType::Bool, json!(false));
        let q = ListQuery {
            filter: unclaimed
                .clone()
                .and(Filter::eq("status", ColumnType::Text, json!("pending"))),
            order: vec![("id", false)],
            page: 1,
            page_size: 50,
        };
        for n in store.list(&NOTIFICATIONS, &q).await?.rows {
            let id = int(&n, "id").unwrap_or_default();
            let mut claim = Row::new();
            claim.insert("claimed".into(), json!(true));
            if !store
                .update_if(&NOTIFICATIONS, id, &unclaimed, &claim)
                .await?
            {
                continue;
            }
            let outcome = self.send(&n).await;
            let mut done = Row::new();
            match outcome {
                Ok(sent) => {
                    done.insert("status".into(), json!("successful"));
                    done.insert("notifications_sent".into(), json!(sent));
                }
                Err(e) => {
                    tracing::warn!(notification = id, error = %e, "notification not sent");
                    done.insert("status".into(), json!("failed"));
                    done.insert("error".into(), json!(e));
                }
            }
            store.update(&NOTIFICATIONS, id, &done).await?;
        }
        Ok(())
    }

    /// Sends one notification: how many messages went out, or AWX's error text.
    async fn send(&self, n: &Row) -> Result<i64, String> {
        let nt_id = int(n, "notification_template").unwrap_or_default();
        let nt = self
            .shared
            .store
            .get(&NOTIFICATION_TEMPLATES, nt_id)
            .await
            .map_err(|e| e.to_string())?;
        let config = notify::open_configuration(
            &notify::object(nt.get("notification_configuration")),
            &self.shared.key,
        )?;
        let subject = n
            .get("subject")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let body: Value = match n.get("body") {
            Some(Value::String(s)) => serde_json::from_str(s).unwrap_or(json!(s)),
            Some(v) => v.clone(),
            None => json!(""),
        };
        let body_text = match &body {
            Value::String(s) => s.clone(),
            Value::Object(m) if m.contains_key("body") => {
                m["body"].as_str().map(String::from).unwrap_or_default()
            }
            other => other.to_string(),
        };
        let kind = n
            .get("notification_type")
            .and_then(Value::as_str)
            .unwrap_or_default();
        match kind {
            "webhook" => webhook(&config, &body_text).await,
            "mattermost" => {
                let url = str_of(&config, "mattermost_url");
                let no_verify = config.get("mattermost_no_verify_ssl") == Some(&json!(true));
                post_json(&url, &json!({"text": subject}), no_verify, &[]).await
            }
            "rocketchat" => {
                let url = str_of(&config, "rocketchat_url");
                let no_verify = config.get("rocketchat_no_verify_ssl") == Some(&json!(true));
                post_json(&url, &json!({"text": subject}), no_verify, &[]).await
            }
            "grafana" => {
                let url = format!("{}/api/annotations", str_of(&config, "grafana_url"));
                let auth = format!("Bearer {}", str_of(&config, "grafana_key"));
                let now = time::OffsetDateTime::now_utc().unix_timestamp() * 1000;
                let data = json!({"text": subject, "time": now, "timeEnd": now, "isRegion": true, "tags": []});
                post_json(&url, &data, false, &[("Authorization", auth.as_str())]).await
            }
            "email" => crate::smtp::send(&config, &subject, &body_text).await,
            other => Err(format!(
                "Sending {other} notifications is not supported by this rawx"
            )),
        }
    }
}

fn str_of(config: &Map<String, Value>, k: &str) -> String {
    config
        .get(k)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

fn client(no_verify: bool) -> Result<reqwest::Client, String> {
    reqwest::Client::builder()
        .danger_accept_invalid_certs(no_verify)
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
        .map_err(|e| e.to_string())
}

fn user_agent() -> String {
    format!("AWX {} (open)", env!("CARGO_PKG_VERSION"))
}

async fn post_json(
    url: &str,
    data: &Value,
    no_verify: bool,
    headers: &[(&str, &str)],
) -> Result<i64, String> {
    let mut req = client(no_verify)?
        .post(url)
        .header("Content-Type", "application/json")
        .header("User-Agent", user_agent())
        .body(data.to_string());
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp = req.send().await.map_err(|e| e.to_string())?;
    if resp.status().as_u16() >= 400 {
        return Err(format!(
            "Error sending notification: {}",
            resp.status().as_u16()
        ));
    }
    Ok(1)
}

/// AWX's `WebhookBackend.send_messages`: the body a JSON object (else `{}`), its method,
/// AWX's headers then the template's, basic auth when a user or password is set, redirects
/// (301, 307) followed by hand up to five times.
async fn webhook(config: &Map<String, Value>, body: &str) -> Result<i64, String> {
    let method = str_of(config, "http_method").to_uppercase();
    let method = match method.as_str() {
        "POST" => reqwest::Method::POST,
        "PUT" => reqwest::Method::PUT,
        _ => return Err("HTTP method must be either 'POST' or 'PUT'.".into()),
    };
    let data = match serde_json::from_str::<Value>(body) {
        Ok(v @ Value::Object(_)) => v,
        _ => json!({}),
    };
    let no_verify = config.get("disable_ssl_verification") == Some(&json!(true));
    let http = client(no_verify)?;
    let (user, password) = (str_of(config, "username"), str_of(config, "password"));
    let mut url = str_of(config, "url");
    for _ in 0..MAX_RETRIES {
        let mut req = http
            .request(method.clone(), &url)
            .header("Content-Type", "application/json")
            .header("User-Agent", user_agent());
        if let Some(h) = config.get("headers").and_then(Value::as_object) {
            for (k, v) in h {
                let v = v
                    .as_str()
                    .map(String::from)
                    .unwrap_or_else(|| v.to_string());
                req = req.header(k.as_str(), v);
            }
        }
        if !user.is_empty() || !password.is_empty() {
            req = req.basic_auth(&user, Some(&password));
        }
        let resp = req
            .body(data.to_string())
            .send()
            .await
            .map_err(|e| e.to_string())?;
        let code = resp.status().as_u16();
        if code == 301 || code == 307 {
            match resp.headers().get("Location").and_then(|l| l.to_str().ok()) {
                Some(l) => {
                    url = l.to_string();
                    continue;
                }
                None => {
                    return Err(format!(
                        "Webhook notification received redirect to a blank URL from {url}."
                    ))
                }
            }
        }
        if code >= 400 {
            return Err(format!("Error sending webhook notification: {code}"));
        }
        return Ok(1);
    }
    Err(format!("Webhook notification max number of retries [{MAX_RETRIES}] exceeded. Failed to send webhook notification to {url}"))
}
