//! One log record as the JSON document AWX's `LogstashFormatter` ships: `@timestamp`,
//! `message`, `host`, `type`, `level`, `logger_name`, `tower_uuid`, `cluster_host_id`, then the
//! record's own fields. A job event (`awx.analytics.job_events`) becomes its stored row with
//! `event_data` folded in, AWX's skipped fields left out and its clashing names prefixed.

use serde_json::{Map, Value};

use crate::config::LogConfig;

/// Fields AWX never ships from a job event: module results and stdout can hold anything the
/// play touched, including secrets.
const JOB_EVENT_SKIP: &[&str] = &["res", "password", "event_data", "stdout"];

/// Names AWX prefixes with `event_` so they cannot clash with the document's own.
const RENAME: &[&str] = &[
    "args",
    "asctime",
    "created",
    "exc_info",
    "exc_text",
    "filename",
    "funcName",
    "id",
    "levelname",
    "levelno",
    "lineno",
    "module",
    "msecs",
    "message",
    "msg",
    "name",
    "pathname",
    "process",
    "processName",
    "relativeCreated",
    "thread",
    "threadName",
    "extra",
    "auth_token",
    "tags",
    "host",
    "host_id",
    "level",
    "port",
    "uuid",
];

/// A field whose name says it holds a secret is shipped as `$encrypted$`, whatever it holds:
/// a log line written carelessly must still not carry a password off the machine.
pub fn is_secret_name(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    [
        "password",
        "passwd",
        "secret",
        "token",
        "passphrase",
        "authorization",
        "ssh_key",
        "private_key",
    ]
    .iter()
    .any(|s| n.contains(s))
}

pub const REDACTED: &str = "$encrypted$";

/// One log record as the layer captured it: cheap to take on the logging thread; rendered
/// into a document later, on the shipper's task.
#[derive(Debug, Clone)]
pub struct Record {
    pub time: std::time::SystemTime,
    pub level: tracing::Level,
    pub target: &'static str,
    pub message: String,
    pub fields: Vec<(&'static str, Value)>,
    /// The supervised component it came from, if any.
    pub component: Option<String>,
    /// A stored job event handed over as it is (`ship_job_events`): rendered from the row
    /// itself, never parsed from text.
    pub row: Option<Map<String, Value>>,
}

fn timestamp(t: std::time::SystemTime) -> String {
    let fmt = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
    );
    time::OffsetDateTime::from(t)
        .format(&fmt)
        .unwrap_or_default()
}

/// The document for one record, as JSON text.
pub fn render(cfg: &LogConfig, rec: Record) -> String {
    let mut doc = Map::new();
    doc.insert("@timestamp".into(), Value::String(timestamp(rec.time)));
    doc.insert("message".into(), Value::String(rec.message));
    doc.insert("host".into(), Value::String(cfg.node.clone()));
    doc.insert("type".into(), Value::String(cfg.kind.clone()));
    doc.insert(
        "level".into(),
        Value::String(crate::config::level_name(&rec.level).into()),
    );
    doc.insert("logger_name".into(), Value::String(rec.target.into()));
    if !cfg.install_uuid.is_empty() {
        doc.insert("tower_uuid".into(), Value::String(cfg.install_uuid.clone()));
    }
    doc.insert("cluster_host_id".into(), Value::String(cfg.node.clone()));
    if let Some(c) = rec.component {
        doc.insert("component".into(), Value::String(c));
    }
    if let Some(row) = rec.row {
        if let Some((_, id)) = rec.fields.iter().find(|(k, _)| *k == "id") {
            doc.insert("event_id".into(), id.clone());
        }
        let mut text = serde_json::to_string(&doc).unwrap_or_default();
        if append_row(&mut text, &row) {
            return text;
        }
        job_event_fields(row, &mut doc);
        return serde_json::to_string(&doc).unwrap_or_default();
    }
    if rec.target == "awx.analytics.job_events" {
        let row = rec
            .fields
            .iter()
            .find(|(k, _)| *k == "event")
            .and_then(|(_, v)| v.as_str());
        let Some(row) = row else {
            return Value::Object(doc).to_string();
        };
        // The stored event's id travels beside its row (the row is written before it has one).
        let id = rec
            .fields
            .iter()
            .find(|(k, _)| *k == "id")
            .map(|(_, v)| v.clone());
        if let Some(id) = &id {
            doc.insert("event_id".into(), id.clone());
        }
        let mut text = serde_json::to_string(&doc).unwrap_or_default();
        if append_job_event(&mut text, row) {
            return text;
        }
        // A row the fast path cannot take (escaped keys): the same through full values.
        if let Ok(row) = serde_json::from_str::<Map<String, Value>>(row) {
            job_event_fields(row, &mut doc);
        }
        return Value::Object(doc).to_string();
    }
    for (k, v) in rec.fields {
        let v = if is_secret_name(k) {
            Value::String(REDACTED.into())
        } else {
            v
        };
        doc.insert(k.into(), v);
    }
    Value::Object(doc).to_string()
}

type RawFields<'a> = Vec<(&'a str, &'a serde_json::value::RawValue)>;

/// A JSON object's members as raw JSON, without parsing the values into a tree. `None` for a
/// key with an escape in it (it cannot be borrowed) or anything not an object.
fn raw_fields(text: &str) -> Option<RawFields<'_>> {
    serde_json::from_str::<std::collections::HashMap<&str, &serde_json::value::RawValue>>(text)
        .ok()
        .map(|m| m.into_iter().collect())
}

fn push_key(doc: &mut String, k: &str) {
    if k.contains(['"', '\\']) || k.chars().any(char::is_control) {
        doc.push(',');
        doc.push_str(&Value::String(k.into()).to_string());
        doc.push(':');
        return;
    }
    doc.push_str(if RENAME.contains(&k) {
        ",\"event_"
    } else {
        ",\""
    });
    doc.push_str(k);
    doc.push_str("\":");
}

/// [`job_event_fields`] for a row handed over as values (`ship_job_events`): appends to
/// `doc` (a rendered JSON object) without building another map; `event_data`, stored as
/// text, is folded in as the raw JSON it is. False when it cannot.
fn append_row(doc: &mut String, row: &Map<String, Value>) -> bool {
    let data = match row.get("event_data") {
        Some(Value::String(t)) => match raw_fields(t) {
            Some(d) => d,
            None => return false,
        },
        None | Some(Value::Null) => Vec::new(),
        Some(_) => return false,
    };
    if !doc.ends_with('}') {
        return false;
    }
    doc.pop();
    for (k, v) in row {
        if JOB_EVENT_SKIP.contains(&k.as_str()) || data.iter().any(|(d, _)| d == k) {
            continue;
        }
        push_key(doc, k);
        if is_secret_name(k) {
            doc.push_str("\"$encrypted$\"");
        } else {
            doc.push_str(&serde_json::to_string(v).unwrap_or_else(|_| "null".into()));
        }
    }
    for (k, v) in &data {
        if JOB_EVENT_SKIP.contains(k) {
            continue;
        }
        push_key(doc, k);
        if is_secret_name(k) {
            doc.push_str("\"$encrypted$\"");
        } else {
            doc.push_str(v.get());
        }
    }
    doc.push('}');
    true
}

/// The fast path of [`job_event_fields`]: appends the row's fields to `doc` (a rendered JSON
/// object) as the raw JSON they already are, so a field is never parsed into a value and
/// printed again: this runs once per event at the ingester's rate. False when it cannot.
fn append_job_event(doc: &mut String, row: &str) -> bool {
    use serde_json::value::RawValue;
    type Fields<'a> = Vec<(&'a str, &'a RawValue)>;
    fn fields(text: &str) -> Option<Fields<'_>> {
        serde_json::from_str::<std::collections::HashMap<&str, &RawValue>>(text)
            .ok()
            .map(|m| m.into_iter().collect())
    }
    let Some(mut row) = fields(row) else {
        return false;
    };
    // The store keeps event_data as JSON text; AWX folds its keys into the document.
    let data_text: Option<String> =
        row.iter()
            .find(|(k, _)| *k == "event_data")
            .and_then(|(_, v)| match v.get().as_bytes().first() {
                Some(b'"') => serde_json::from_str::<String>(v.get()).ok(),
                Some(b'{') => Some(v.get().to_string()),
                _ => None,
            });
    let data = match data_text.as_deref().map(fields) {
        Some(Some(d)) => d,
        Some(None) => return false,
        None => Vec::new(),
    };
    row.retain(|(k, _)| !data.iter().any(|(d, _)| d == k));
    if !doc.ends_with('}') {
        return false;
    }
    doc.pop();
    for (k, v) in row.iter().chain(data.iter()) {
        if JOB_EVENT_SKIP.contains(k) {
            continue;
        }
        // A key that parsed as a borrowed `&str` had no escape in its source, so it holds no
        // quote nor backslash and needs none now.
        doc.push_str(if RENAME.contains(k) {
            ",\"event_"
        } else {
            ",\""
        });
        doc.push_str(k);
        doc.push_str("\":");
        if is_secret_name(k) {
            doc.push_str("\"$encrypted$\"");
        } else {
            doc.push_str(v.get());
        }
    }
    doc.push('}');
    true
}

/// A stored job event row, reshaped as AWX's formatter does.
fn job_event_fields(mut row: Map<String, Value>, out: &mut Map<String, Value>) {
    // The store keeps event_data as JSON text; AWX folds its keys into the document.
    let event_data = match row.remove("event_data") {
        Some(Value::String(s)) => serde_json::from_str::<Value>(&s).ok(),
        Some(v) => Some(v),
        None => None,
    };
    if let Some(Value::Object(data)) = event_data {
        for (k, v) in data {
            row.insert(k, v);
        }
    }
    for (k, v) in row {
        if JOB_EVENT_SKIP.contains(&k.as_str()) {
            continue;
        }
        let v = if is_secret_name(&k) {
            Value::String(REDACTED.into())
        } else {
            v
        };
        let key = if RENAME.contains(&k.as_str()) {
            format!("event_{k}")
        } else {
            k
        };
        out.insert(key, v);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn doc(rec: Record) -> Value {
        serde_json::from_str(&render(&cfg(), rec)).unwrap()
    }

    fn cfg() -> LogConfig {
        LogConfig {
            node: "node1".into(),
            install_uuid: "u-1".into(),
            kind: "logstash".into(),
            ..LogConfig::default()
        }
    }

    #[test]
    fn a_job_event_is_its_row_with_event_data_folded_in() {
        let row = json!({
            "id": 7, "job": 3, "event": "runner_on_ok", "counter": 4, "host_name": "localhost",
            "created": "2024-01-01T00:00:00Z", "stdout": "ok: [localhost]",
            "event_data": json!({"task": "ping", "res": {"secret": "x"}, "play": "p"}).to_string(),
        });
        let doc = doc(Record {
            time: std::time::SystemTime::UNIX_EPOCH,
            level: tracing::Level::INFO,
            target: "awx.analytics.job_events",
            message: "Job event data saved.".into(),
            fields: vec![("event", Value::String(row.to_string()))],
            component: None,
            row: None,
        });
        assert_eq!(doc["@timestamp"], "1970-01-01T00:00:00.000Z");
        assert_eq!(doc["logger_name"], "awx.analytics.job_events");
        assert_eq!(doc["event_id"], 7);
        assert_eq!(doc["event_created"], "2024-01-01T00:00:00Z");
        assert_eq!(doc["job"], 3);
        assert_eq!(doc["event"], "runner_on_ok");
        assert_eq!(doc["task"], "ping");
        assert_eq!(doc["tower_uuid"], "u-1");
        assert_eq!(doc["cluster_host_id"], "node1");
        assert!(doc.get("res").is_none() && doc.get("stdout").is_none());
        assert!(doc.get("event_data").is_none());
    }

    #[test]
    fn the_fast_path_renders_what_the_full_one_does() {
        let row = json!({
            "id": 7, "job": 3, "event": "runner_on_ok", "counter": 4, "host": 2,
            "uuid": "u", "stdout": "ok", "created": "c", "ssh_password": "x",
            "event_data": json!({"task": "t\u{e9} \"q\"", "res": {"a": 1}, "nested": {"b": [1, 2]}}).to_string(),
        })
        .to_string();
        let fast = doc(Record {
            time: std::time::SystemTime::UNIX_EPOCH,
            level: tracing::Level::INFO,
            target: "awx.analytics.job_events",
            message: "m".into(),
            fields: vec![("event", Value::String(row.clone()))],
            component: None,
            row: None,
        });
        let handed = doc(Record {
            time: std::time::SystemTime::UNIX_EPOCH,
            level: tracing::Level::INFO,
            target: "awx.analytics.job_events",
            message: "m".into(),
            fields: vec![],
            component: None,
            row: serde_json::from_str(&row).ok(),
        });
        let mut slow = Map::new();
        job_event_fields(serde_json::from_str(&row).unwrap(), &mut slow);
        for (k, v) in &slow {
            assert_eq!(&fast[k], v, "{k}");
            assert_eq!(&handed[k], v, "{k}");
        }
        assert_eq!(fast["ssh_password"], REDACTED);
        assert_eq!(fast["task"], "t\u{e9} \"q\"");
        assert!(fast.get("res").is_none() && fast.get("stdout").is_none());
    }

    #[test]
    fn secret_looking_fields_are_masked() {
        let doc = doc(Record {
            time: std::time::SystemTime::now(),
            level: tracing::Level::WARN,
            target: "rawx_api::auth",
            message: "m".into(),
            fields: vec![("password", json!("hunter2")), ("user", json!("bob"))],
            component: Some("web".into()),
            row: None,
        });
        assert_eq!(doc["password"], REDACTED);
        assert_eq!(doc["user"], "bob");
        assert_eq!(doc["level"], "WARNING");
        assert_eq!(doc["component"], "web");
    }
}
