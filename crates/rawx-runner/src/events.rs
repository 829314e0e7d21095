//! Job events as the worker sends them, and the fields AWX derives from each when it stores
//! it (awx/main/models/events.py and the callback receiver): host name, play/task/role,
//! failed, changed, level and display name.

use serde_json::{Map, Value};

/// One callback event from the worker, as it travelled.
#[derive(Debug, Clone, PartialEq)]
pub struct RunnerEvent {
    pub uuid: String,
    /// Absent on `playbook_on_start` and on `verbose` lines.
    pub parent_uuid: Option<String>,
    /// 1, 2, 3… per job; the order of events.
    pub counter: u64,
    /// Event name (`runner_on_ok`, …); unknown names are kept as they are.
    pub event: String,
    /// The callback payload; an empty object when absent (verbose events).
    pub event_data: Value,
    /// Rendered text, lines joined by `\r\n`, no final newline; ANSI colours kept.
    pub stdout: String,
    /// Cumulative stdout line numbers, end exclusive.
    pub start_line: u64,
    pub end_line: u64,
    /// ISO-8601 with microseconds and `+00:00`, as sent.
    pub created: Option<String>,
    pub runner_ident: Option<String>,
    /// Top-level `verbosity` when sent (ansible-runner does not send it today), else 0.
    pub verbosity: u64,
    /// Every other top-level key (`pid`, `job_id`, …), kept for whoever needs them.
    pub extra: Map<String, Value>,
}

impl RunnerEvent {
    /// A `verbose` event for a line that reached the stream outside any event (a warning the
    /// worker printed): numbered `counter`, placed after output line `line`.
    pub fn verbose(counter: u64, line: u64, text: String) -> RunnerEvent {
        RunnerEvent {
            uuid: String::new(),
            parent_uuid: None,
            counter,
            event: "verbose".into(),
            event_data: Value::Object(Map::new()),
            stdout: text,
            start_line: line,
            end_line: line + 1,
            created: None,
            runner_ident: None,
            verbosity: 0,
            extra: Map::new(),
        }
    }
}

/// AWX truncates these four fields to 1024 characters when storing an event.
const FIELD_MAX_CHARS: usize = 1024;

/// (event, level, display name, failed-by-default) from AWX's `EVENT_TYPES`.
const EVENT_TYPES: &[(&str, u8, &str, bool)] = &[
    ("runner_on_failed", 3, "Host Failed", true),
    ("runner_on_start", 3, "Host Started", false),
    ("runner_on_ok", 3, "Host OK", false),
    ("runner_on_error", 3, "Host Failure", true),
    ("runner_on_skipped", 3, "Host Skipped", false),
    ("runner_on_unreachable", 3, "Host Unreachable", true),
    ("runner_on_no_hosts", 3, "No Hosts Remaining", false),
    ("runner_on_async_poll", 3, "Host Polling", false),
    ("runner_on_async_ok", 3, "Host Async OK", false),
    ("runner_on_async_failed", 3, "Host Async Failure", true),
    ("runner_item_on_ok", 3, "Item OK", false),
    ("runner_item_on_failed", 3, "Item Failed", true),
    ("runner_item_on_skipped", 3, "Item Skipped", false),
    ("runner_retry", 3, "Host Retry", false),
    ("runner_on_file_diff", 3, "File Difference", false),
    ("playbook_on_start", 0, "Playbook Started", false),
    ("playbook_on_notify", 2, "Running Handlers", false),
    ("playbook_on_include", 2, "Including File", false),
    ("playbook_on_no_hosts_matched", 2, "No Hosts Matched", false),
    (
        "playbook_on_no_hosts_remaining",
        2,
        "No Hosts Remaining",
        false,
    ),
    ("playbook_on_task_start", 2, "Task Started", false),
    ("playbook_on_vars_prompt", 1, "Variables Prompted", false),
    ("playbook_on_setup", 2, "Gathering Facts", false),
    (
        "playbook_on_import_for_host",
        2,
        "internal: on Import for Host",
        false,
    ),
    (
        "playbook_on_not_import_for_host",
        2,
        "internal: on Not Import for Host",
        false,
    ),
    ("playbook_on_play_start", 1, "Play Started", false),
    ("playbook_on_stats", 1, "Playbook Complete", false),
    ("debug", 0, "Debug", false),
    ("verbose", 0, "Verbose", false),
    ("deprecated", 0, "Deprecated", false),
    ("warning", 0, "Warning", false),
    ("system_warning", 0, "System Warning", false),
    ("error", 0, "Error", true),
];

fn event_type(event: &str) -> Option<&'static (&'static str, u8, &'static str, bool)> {
    EVENT_TYPES.iter().find(|t| t.0 == event)
}

fn as_u64(v: Option<&Value>) -> Option<u64> {
    match v? {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

impl RunnerEvent {
    /// Builds an event from a decoded line. Like ansible-runner's `process`, an event without
    /// a truthy `counter` and `uuid` is refused (process drops it silently; we say why).
    pub fn from_json(mut m: Map<String, Value>) -> Result<Self, String> {
        let counter = match as_u64(m.get("counter")) {
            Some(c) if c > 0 => c,
            _ => return Err("missing or zero \"counter\"".into()),
        };
        let uuid = m
            .get("uuid")
            .filter(|v| truthy(v))
            .and_then(scalar_string)
            .ok_or("missing or empty \"uuid\"")?;
        let event = m
            .get("event")
            .and_then(Value::as_str)
            .ok_or("missing \"event\" name")?
            .to_string();
        let take_str =
            |m: &mut Map<String, Value>, k: &str| m.remove(k).as_ref().and_then(scalar_string);
        let stdout = take_str(&mut m, "stdout").unwrap_or_default();
        let parent_uuid = take_str(&mut m, "parent_uuid").filter(|s| !s.is_empty());
        let created = take_str(&mut m, "created");
        let runner_ident = take_str(&mut m, "runner_ident");
        let start_line = as_u64(m.remove("start_line").as_ref()).unwrap_or(0);
        let end_line = as_u64(m.remove("end_line").as_ref()).unwrap_or(start_line);
        let verbosity = as_u64(m.remove("verbosity").as_ref()).unwrap_or(0);
        let event_data = match m.remove("event_data") {
            Some(v @ Value::Object(_)) => v,
            _ => Value::Object(Map::new()),
        };
        for k in ["uuid", "counter", "event"] {
            m.remove(k);
        }
        Ok(RunnerEvent {
            uuid,
            parent_uuid,
            counter,
            event,
            event_data,
            stdout,
            start_line,
            end_line,
            created,
            runner_ident,
            verbosity,
            extra: m,
        })
    }

    fn data(&self, key: &str) -> Option<&Value> {
        self.event_data.get(key)
    }

    /// A trimmed, AWX-truncated string field of event_data; `""` when absent.
    fn data_field(&self, key: &str) -> String {
        let s = self.data(key).and_then(scalar_string).unwrap_or_default();
        truncate_chars(s.trim(), FIELD_MAX_CHARS)
    }

    /// `event_data.host`, trimmed; `""` when the event is not about one host. (AWX uses `host`
    /// only; `remote_addr` is the connection address, which may be an IP.)
    pub fn host_name(&self) -> String {
        self.data("host")
            .and_then(Value::as_str)
            .map(|s| s.trim().to_string())
            .unwrap_or_default()
    }

    pub fn playbook(&self) -> String {
        self.data_field("playbook")
    }

    pub fn play(&self) -> String {
        self.data_field("play")
    }

    pub fn task(&self) -> String {
        self.data_field("task")
    }

    pub fn role(&self) -> String {
        self.data_field("role")
    }

    /// AWX's rule: a failing event type (host failed/unreachable/async failed, item failed,
    /// error) is failed unless `event_data.ignore_errors`; `playbook_on_stats` is failed when
    /// any host has failures or is unreachable. (AWX later also marks the parents of failed
    /// events failed when the stats event arrives; that needs the stored events, not this.)
    pub fn failed(&self) -> bool {
        if self.event == "playbook_on_stats" {
            return self.stats_sum(&["failures", "dark"]) > 0;
        }
        let ignored = self.data("ignore_errors").is_some_and(truthy);
        event_type(&self.event).is_some_and(|t| t.3) && !ignored
    }

    /// AWX's rule: `event_data.res.changed` is truthy (whatever the event type);
    /// `playbook_on_stats` is changed when any host changed.
    pub fn changed(&self) -> bool {
        if self.event == "playbook_on_stats" {
            return self.stats_sum(&["changed"]) > 0;
        }
        self.data("res")
            .and_then(|r| r.get("changed"))
            .is_some_and(truthy)
    }

    fn stats_sum(&self, keys: &[&str]) -> u64 {
        keys.iter()
            .filter_map(|k| self.data(k).and_then(Value::as_object))
            .flat_map(|m| m.values())
            .filter_map(Value::as_u64)
            .sum()
    }

    /// 0 playbook/verbose, 1 play/stats, 2 task, 3 host; unknown events 0.
    pub fn event_level(&self) -> u8 {
        event_type(&self.event).map_or(0, |t| t.1)
    }

    /// AWX's `event_display` (its `get_event_display2`): the type's name, with the play or
    /// task appended, and the async and handler special cases.
    pub fn event_display(&self) -> String {
        let mut msg =
            event_type(&self.event).map_or_else(|| self.event.clone(), |t| t.2.to_string());
        match self.event.as_str() {
            "playbook_on_play_start" => {
                let play = self.play();
                if !play.is_empty() {
                    msg = format!("{msg} ({play})");
                }
            }
            "playbook_on_task_start" => {
                let task = self.task();
                if !task.is_empty() {
                    if self.data("is_conditional").is_some_and(truthy) {
                        msg = "Handler Notified".into();
                    }
                    let role = self.role();
                    msg = if role.is_empty() {
                        format!("{msg} ({task})")
                    } else {
                        format!("{msg} ({role} | {task})")
                    };
                }
            }
            _ => {}
        }
        let res = self.data("res");
        let res_get = |k: &str| res.and_then(|r| r.get(k));
        if self.event == "runner_on_async_ok"
            && (res_get("failed").is_some_and(truthy)
                || res_get("rc")
                    .and_then(Value::as_i64)
                    .is_some_and(|rc| rc != 0))
        {
            msg = "Host Async Failed".into();
        }
        if matches!(self.event.as_str(), "runner_on_ok" | "runner_on_failed") {
            let module = res
                .and_then(|r| r.pointer("/invocation/module_name"))
                .and_then(Value::as_str);
            if let (Some(module), Some(_)) = (module, res_get("ansible_job_id")) {
                msg = if module == "async_status" {
                    "Host Async Checking".into()
                } else {
                    "Host Async Started".into()
                };
            }
        }
        if matches!(
            self.event.as_str(),
            "runner_on_failed" | "runner_on_async_failed"
        ) && res_get("msg").and_then(Value::as_str) == Some("timed out")
        {
            msg = "Host Async Timeout".into();
        }
        msg
    }
}

/// Python truthiness of a JSON value.
fn truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
    }
}

/// Django's `Truncator(s).chars(n)`: at most `n` characters, the last one `…` when cut.
fn truncate_chars(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        return s.to_string();
    }
    let mut out: String = s.chars().take(n - 1).collect();
    out.push('…');
    out
}

/// A string, or a number shown as text (ident may be an int on the wire).
pub(crate) fn scalar_string(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ev(v: Value) -> RunnerEvent {
        let Value::Object(m) = v else { unreachable!() };
        RunnerEvent::from_json(m).unwrap()
    }

    #[test]
    fn failed_and_changed_follow_awx() {
        let failed = ev(
            json!({"uuid": "u", "counter": 1, "event": "runner_on_failed",
            "event_data": {"host": " web1 ", "res": {"changed": true}, "ignore_errors": null}}),
        );
        assert!(failed.failed() && failed.changed());
        assert_eq!(failed.host_name(), "web1");
        let ignored = ev(
            json!({"uuid": "u", "counter": 1, "event": "runner_on_failed",
            "event_data": {"ignore_errors": true}}),
        );
        assert!(!ignored.failed());
        let item = ev(json!({"uuid": "u", "counter": 1, "event": "runner_item_on_failed"}));
        assert!(item.failed());
        let skipped = ev(
            json!({"uuid": "u", "counter": 2, "event": "runner_on_skipped",
            "event_data": {"res": {"changed": false}}}),
        );
        assert!(!skipped.failed() && !skipped.changed());
    }

    #[test]
    fn display_names() {
        let t = ev(
            json!({"uuid": "u", "counter": 1, "event": "playbook_on_task_start",
            "event_data": {"task": "Install", "role": "web", "is_conditional": true}}),
        );
        assert_eq!(t.event_display(), "Handler Notified (web | Install)");
        assert_eq!(t.event_level(), 2);
        let p = ev(
            json!({"uuid": "u", "counter": 1, "event": "playbook_on_play_start",
            "event_data": {"play": "Site"}}),
        );
        assert_eq!(p.event_display(), "Play Started (Site)");
        let a = ev(
            json!({"uuid": "u", "counter": 1, "event": "runner_on_ok", "event_data":
            {"res": {"ansible_job_id": "1", "invocation": {"module_name": "async_status"}}}}),
        );
        assert_eq!(a.event_display(), "Host Async Checking");
        let unknown = ev(json!({"uuid": "u", "counter": 1, "event": "something_new"}));
        assert_eq!(
            (unknown.event_display().as_str(), unknown.event_level()),
            ("something_new", 0)
        );
    }

    #[test]
    fn refuses_events_without_counter_or_uuid() {
        for v in [
            json!({"uuid": "u", "counter": 0, "event": "x"}),
            json!({"uuid": "", "counter": 3, "event": "x"}),
            json!({"uuid": 0, "counter": 0, "event": "keepalive"}),
        ] {
            let Value::Object(m) = v else { unreachable!() };
            assert!(RunnerEvent::from_json(m).is_err());
        }
    }

    #[test]
    fn long_fields_are_truncated_like_django() {
        let e = ev(
            json!({"uuid": "u", "counter": 1, "event": "x", "event_data": {"task": "é".repeat(2000)}}),
        );
        let t = e.task();
        assert_eq!(t.chars().count(), 1024);
        assert!(t.ends_with('…'));
    }
}
