//! One log record as the JSON document AWX's `LogstashFormatter` ships: `@timestamp`,
//! `message`, `host`, `type`, `level`, `logger_name`, `tower_uuid`, `cluster_host_id`, then the
//! record's own fields. A job event (`awx.analytics.job_events`) becomes its stored row, as
//! AWX 24's formatter ships every field of the model (`stdout` and `event_data`, an object,
//! included), with `event_data`'s members also folded in (as AWX's older formatter did, which
//! dashboards built on it read), clashing names prefixed, and the values of the credentials
//! rawx injected into the job masked wherever they appear.
//!
//! Job events come at the ingester's rate, so [`Renderer`] writes their documents straight
//! into the batch's output buffer: the settings' part of the header is rendered once, field
//! names are judged once per name (skipped, renamed, masked), `event_data` is read as raw JSON
//! without building values, and nothing is allocated per event in the steady state.

use std::borrow::Cow;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::Arc;
use std::time::SystemTime;

use serde::de::{DeserializeSeed, Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use crate::config::LogConfig;
/// Names not folded in from `event_data` (or shipped from the row): `res` stays inside the
/// shipped `event_data`, once.
const JOB_EVENT_SKIP: &[&str] = &["res", "password"];

/// What an injected credential's value becomes in a shipped document (as in stored job args).
pub const MASK: &str = "**********";

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
    pub time: SystemTime,
    pub level: tracing::Level,
    pub target: &'static str,
    pub message: String,
    pub fields: Vec<(&'static str, Value)>,
    /// The supervised component it came from, if any.
    pub component: Option<String>,
}

/// A stored job event handed over as it is (`ship_job_events`): rendered from the row itself,
/// never from text.
#[derive(Debug, Clone)]
pub struct JobEvent {
    pub time: SystemTime,
    /// The stored event's id: it travels beside its row (the row is written before it has one).
    pub id: Option<i64>,
    pub row: Map<String, Value>,
    /// The values of the credentials rawx injected into the job: masked wherever they appear
    /// in the document (`stdout`, `event_data`, any field).
    pub secrets: Arc<[String]>,
}

/// What waits in the shipper's queue.
#[derive(Debug, Clone)]
pub enum Queued {
    Log(Record),
    Event(JobEvent),
}

impl Queued {
    /// Roughly the memory this holds, for the queue's bound: its strings, plus a fixed cost
    /// per value. Never exact, never expensive (a row is about twenty values).
    pub fn weight(&self) -> usize {
        fn value(v: &Value) -> usize {
            32 + match v {
                Value::String(s) => s.len(),
                Value::Array(a) => a.iter().map(value).sum(),
                Value::Object(m) => m.iter().map(|(k, v)| k.len() + value(v)).sum(),
                _ => 0,
            }
        }
        match self {
            Queued::Log(r) => {
                128 + r.message.len()
                    + r.component.as_ref().map_or(0, String::len)
                    + r.fields.iter().map(|(_, v)| value(v)).sum::<usize>()
            }
            Queued::Event(e) => 128 + e.row.iter().map(|(k, v)| k.len() + value(v)).sum::<usize>(),
        }
    }
}

/// Documents back to back, each ended by `\n`: a TCP stream's framing and the disk buffer's,
/// so a batch goes out in one write; UDP and HTTP take the documents one by one.
#[derive(Debug, Default)]
pub(crate) struct Lines {
    buf: Vec<u8>,
    /// Where each document's line ends (after its `\n`).
    ends: Vec<usize>,
}

impl Lines {
    pub(crate) fn len(&self) -> usize {
        self.ends.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    pub(crate) fn clear(&mut self) {
        self.buf.clear();
        self.ends.clear();
    }

    fn start(&self, i: usize) -> usize {
        if i == 0 {
            0
        } else {
            self.ends[i - 1]
        }
    }

    /// Document `i`, without its newline.
    pub(crate) fn doc(&self, i: usize) -> &[u8] {
        &self.buf[self.start(i)..self.ends[i] - 1]
    }

    /// The lines of documents `i..`, newlines included.
    pub(crate) fn from(&self, i: usize) -> &[u8] {
        if i >= self.len() {
            return &[];
        }
        &self.buf[self.start(i)..]
    }

    /// Appends a line as it is (one read back from the disk buffer).
    pub(crate) fn push_line(&mut self, line: &[u8]) {
        self.buf.extend_from_slice(line);
        self.end();
    }

    fn end(&mut self) {
        self.buf.push(b'\n');
        self.ends.push(self.buf.len());
    }
}

fn timestamp(t: SystemTime) -> String {
    let fmt = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
    );
    time::OffsetDateTime::from(t)
        .format(&fmt)
        .unwrap_or_default()
}

/// How a field name is written, judged once per name.
struct Key {
    name: Box<str>,
    /// One of AWX's skipped fields: not shipped at all.
    skip: bool,
    /// Named like a secret: shipped as `$encrypted$`.
    secret: bool,
    /// `,"name":` as it goes into the document (prefixed `event_` when it would clash).
    text: Box<str>,
}

impl Key {
    fn new(k: &str) -> Key {
        let name = if RENAME.contains(&k) {
            Cow::Owned(format!("event_{k}"))
        } else {
            Cow::Borrowed(k)
        };
        Key {
            name: k.into(),
            skip: JOB_EVENT_SKIP.contains(&k),
            secret: is_secret_name(k),
            text: format!(",{}:", Value::String(name.into_owned())).into(),
        }
    }

    fn write(&self, out: &mut Vec<u8>, value: impl FnOnce(&mut Vec<u8>)) {
        if self.skip {
            return;
        }
        out.extend_from_slice(self.text.as_bytes());
        if self.secret {
            out.extend_from_slice(b"\"$encrypted$\"");
        } else {
            value(out);
        }
    }
}

/// FNV-1a: the key cache hashes short field names several times per event, where SipHash's
/// flooding resistance buys nothing (the cache is bounded and rebuilt when full).
#[derive(Default)]
struct Fnv(u64);

impl Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        let mut h = if self.0 == 0 {
            0xcbf2_9ce4_8422_2325
        } else {
            self.0
        };
        for b in bytes {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        self.0 = h;
    }
}

/// Names remembered before the cache starts over: far more than the events tables' columns
/// and Ansible's `event_data` keys, few enough that odd keys cannot grow it without bound.
const MAX_KEYS: usize = 4096;

/// Renders queued records as documents for one set of settings. The shipper keeps one and
/// makes a new one when the settings change.
pub(crate) struct Renderer {
    cfg: Arc<LogConfig>,
    /// A job event's document from after `@timestamp` up to its own fields.
    job_head: String,
    /// The last timestamp written: a handed-over batch shares one time.
    stamp: (SystemTime, String),
    ids: HashMap<Box<str>, usize, BuildHasherDefault<Fnv>>,
    keys: Vec<Key>,
    /// The key ids of the last row and of the last `event_data`, by position: events share
    /// their shape, so a name is mostly where it was last time and one comparison finds it.
    shapes: [Vec<usize>; 2],
    /// Per key id, the last event whose `event_data` had that key: those win over the row's.
    seen: Vec<u64>,
    event: u64,
    /// The current event's `event_data` fields, written after the row's.
    tail: Vec<u8>,
}

fn json_str(s: &str) -> String {
    Value::String(s.into()).to_string()
}

impl Renderer {
    pub(crate) fn new(cfg: Arc<LogConfig>) -> Renderer {
        let mut job_head = format!(
            ",\"message\":\"Job event data saved.\",\"host\":{},\"type\":{},\"level\":\"INFO\",\"logger_name\":\"awx.analytics.job_events\"",
            json_str(&cfg.node),
            json_str(&cfg.kind)
        );
        if !cfg.install_uuid.is_empty() {
            job_head.push_str(",\"tower_uuid\":");
            job_head.push_str(&json_str(&cfg.install_uuid));
        }
        job_head.push_str(",\"cluster_host_id\":");
        job_head.push_str(&json_str(&cfg.node));
        Renderer {
            cfg,
            job_head,
            stamp: (SystemTime::UNIX_EPOCH, timestamp(SystemTime::UNIX_EPOCH)),
            ids: HashMap::default(),
            keys: Vec::new(),
            shapes: [Vec::new(), Vec::new()],
            seen: Vec::new(),
            event: 0,
            tail: Vec::new(),
        }
    }

    /// The settings this renders for.
    pub(crate) fn config(&self) -> &Arc<LogConfig> {
        &self.cfg
    }

    fn stamp(&mut self, t: SystemTime) -> &str {
        if self.stamp.0 != t {
            self.stamp = (t, timestamp(t));
        }
        &self.stamp.1
    }

    /// The id of name `k`, found at position `pos` of a row (`shape` 0) or of `event_data`
    /// (`shape` 1).
    fn key(&mut self, shape: usize, pos: usize, k: &str) -> usize {
        let guess = self.shapes[shape].get(pos).copied();
        if let Some(id) = guess.filter(|id| *self.keys[*id].name == *k) {
            return id;
        }
        let id = match self.ids.get(k) {
            Some(id) => *id,
            None => {
                let id = self.keys.len();
                self.keys.push(Key::new(k));
                self.seen.push(0);
                self.ids.insert(k.into(), id);
                id
            }
        };
        let known = &mut self.shapes[shape];
        if pos < known.len() {
            known[pos] = id;
        } else if pos == known.len() {
            known.push(id);
        }
        id
    }

    /// Appends one record's document to `out`, as one line.
    pub(crate) fn render(&mut self, rec: Queued, out: &mut Lines) {
        match rec {
            Queued::Event(e) => self.job_event(e, &mut out.buf),
            Queued::Log(r) => self.log(r, &mut out.buf),
        }
        out.end();
    }

    fn log(&mut self, rec: Record, out: &mut Vec<u8>) {
        let cfg = &self.cfg;
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
        for (k, v) in rec.fields {
            let v = if is_secret_name(k) {
                Value::String(REDACTED.into())
            } else {
                v
            };
            doc.insert(k.into(), v);
        }
        // Values cannot fail to serialize (every key is a string).
        let _ = serde_json::to_writer(&mut *out, &doc);
    }

    /// A stored row, reshaped as AWX's formatter does: the row's fields, then `event_data`'s
    /// (which win when both have a name), AWX's skipped ones left out.
    fn job_event(&mut self, e: JobEvent, out: &mut Vec<u8>) {
        if self.keys.len() > MAX_KEYS {
            self.ids.clear();
            self.keys.clear();
            self.seen.clear();
            self.shapes.iter_mut().for_each(Vec::clear);
        }
        self.event += 1;
        self.tail.clear();
        let start = out.len();
        // How `event_data` itself is shipped: an object, as AWX's model field is.
        let mut data_json: Option<Cow<'_, str>> = None;
        match e.row.get("event_data") {
            Some(Value::String(text)) => {
                // Not an object: shipped as the text it is.
                data_json = Some(
                    self.event_data(text)
                        .unwrap_or_else(|| Cow::Owned(json_str(text))),
                );
            }
            // Not as the store keeps it, but as AWX would take it.
            Some(Value::Object(data)) => {
                data_json = serde_json::to_string(data).ok().map(Cow::Owned);
                for (pos, (k, v)) in data.iter().enumerate() {
                    let id = self.key(1, pos, k);
                    self.seen[id] = self.event;
                    self.keys[id].write(&mut self.tail, |o| {
                        let _ = serde_json::to_writer(o, v);
                    });
                }
            }
            _ => {}
        }
        out.extend_from_slice(b"{\"@timestamp\":\"");
        let stamp = self.stamp(e.time).as_bytes();
        out.extend_from_slice(stamp);
        out.push(b'"');
        out.extend_from_slice(self.job_head.as_bytes());
        if let Some(id) = e.id {
            use std::io::Write as _;
            let _ = write!(out, ",\"event_id\":{id}");
        }
        for (pos, (k, v)) in e.row.iter().enumerate() {
            let id = self.key(0, pos, k);
            if self.seen[id] == self.event {
                continue;
            }
            if k == "event_data" {
                if let Some(text) = &data_json {
                    out.extend_from_slice(b",\"event_data\":");
                    out.extend_from_slice(text.as_bytes());
                }
                continue;
            }
            self.keys[id].write(out, |o| {
                let _ = serde_json::to_writer(o, v);
            });
        }
        out.extend_from_slice(&self.tail);
        out.push(b'}');
        mask_values(out, start, &e.secrets);
    }

    /// `event_data` as the store keeps it, JSON text: its fields go into `tail` as the raw
    /// JSON they are. Text that is not an object adds nothing (AWX folds only a dict in).
    /// Returns the object as one line of JSON to ship as `event_data`, when it is one.
    fn event_data<'t>(&mut self, text: &'t str) -> Option<Cow<'t, str>> {
        // A raw newline (whitespace between tokens) would split the document's line: such
        // text is written again, compact, through values.
        if text.contains(['\n', '\r']) {
            if let Ok(Value::Object(data)) = serde_json::from_str::<Value>(text) {
                for (pos, (k, v)) in data.iter().enumerate() {
                    let id = self.key(1, pos, k);
                    self.seen[id] = self.event;
                    self.keys[id].write(&mut self.tail, |o| {
                        let _ = serde_json::to_writer(o, v);
                    });
                }
                return serde_json::to_string(&data).ok().map(Cow::Owned);
            }
            return None;
        }
        let mut de = serde_json::Deserializer::from_str(text);
        let read = DataFields(self)
            .deserialize(&mut de)
            .and_then(|()| de.end());
        if read.is_err() {
            // Forget what was read of it: the row's fields stand, none of this text's.
            self.event += 1;
            self.tail.clear();
            return None;
        }
        Some(Cow::Borrowed(text))
    }
}

/// Replaces each secret in the document `out[start..]` with [`MASK`]: as JSON writes it, and as
/// Python's `json.dumps` does (`\uXXXX` for anything not ASCII), since `event_data` is shipped
/// as the text ansible-runner wrote. Costs one search per secret when none is there.
fn mask_values(out: &mut Vec<u8>, start: usize, secrets: &[String]) {
    for secret in secrets.iter().filter(|s| s.len() >= 3) {
        let quoted = json_str(secret);
        let plain = &quoted[1..quoted.len() - 1];
        let mut ascii = String::with_capacity(plain.len());
        for c in plain.chars() {
            if c.is_ascii() {
                ascii.push(c);
            } else {
                let mut units = [0u16; 2];
                for u in c.encode_utf16(&mut units) {
                    ascii.push_str(&format!("\\u{u:04x}"));
                }
            }
        }
        replace_from(out, start, plain.as_bytes(), MASK.as_bytes());
        if ascii != plain {
            replace_from(out, start, ascii.as_bytes(), MASK.as_bytes());
        }
    }
}

fn replace_from(out: &mut Vec<u8>, start: usize, needle: &[u8], with: &[u8]) {
    let finder = memchr::memmem::Finder::new(needle);
    let mut at = start;
    while let Some(i) = finder.find(&out[at..]) {
        let i = at + i;
        out.splice(i..i + needle.len(), with.iter().copied());
        at = i + with.len();
    }
}

/// Reads `event_data`'s members as raw JSON into the renderer's tail, without a tree.
struct DataFields<'r>(&'r mut Renderer);

impl<'de> DeserializeSeed<'de> for DataFields<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for DataFields<'_> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let r = self.0;
        let mut pos = 0;
        while let Some(KeyText(k)) = map.next_key::<KeyText<'de>>()? {
            let v: &'de RawValue = map.next_value()?;
            let id = r.key(1, pos, &k);
            pos += 1;
            r.seen[id] = r.event;
            r.keys[id].write(&mut r.tail, |o| o.extend_from_slice(v.get().as_bytes()));
        }
        Ok(())
    }
}

/// A member name, borrowed from the text unless it had an escape in it.
struct KeyText<'a>(Cow<'a, str>);

impl<'de> serde::Deserialize<'de> for KeyText<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = KeyText<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E>(self, s: &'de str) -> Result<KeyText<'de>, E> {
                Ok(KeyText(Cow::Borrowed(s)))
            }
            fn visit_str<E>(self, s: &str) -> Result<KeyText<'de>, E> {
                Ok(KeyText(Cow::Owned(s.to_owned())))
            }
        }
        d.deserialize_str(V)
    }
}

/// The reference for job events (a value tree, as AWX's formatter builds its dict): what
/// [`Renderer`] must render, field for field.
#[cfg(test)]
fn job_event_fields(mut row: Map<String, Value>, out: &mut Map<String, Value>) {
    // The store keeps event_data as JSON text; AWX ships it as an object, and its keys are
    // also folded into the document.
    let event_data = match row.remove("event_data") {
        Some(Value::String(s)) => match serde_json::from_str::<Value>(&s) {
            Ok(Value::Object(o)) => Some(Value::Object(o)),
            _ => Some(Value::String(s)),
        },
        Some(v) => Some(v),
        None => None,
    };
    if let Some(Value::Object(data)) = &event_data {
        for (k, v) in data {
            row.insert(k.clone(), v.clone());
        }
    }
    if let Some(data) = event_data {
        out.insert("event_data".into(), data);
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

    fn cfg() -> Arc<LogConfig> {
        Arc::new(LogConfig {
            node: "node1".into(),
            install_uuid: "u-1".into(),
            kind: "logstash".into(),
            ..LogConfig::default()
        })
    }

    /// The documents as the aggregator reads them, each checked to be one line.
    fn docs(r: &mut Renderer, recs: Vec<Queued>) -> Vec<Map<String, Value>> {
        let mut lines = Lines::default();
        for rec in recs {
            r.render(rec, &mut lines);
        }
        let text = std::str::from_utf8(lines.from(0)).unwrap();
        assert_eq!(text.lines().count(), lines.len(), "{text}");
        (0..lines.len())
            .map(|i| serde_json::from_slice(lines.doc(i)).unwrap())
            .collect()
    }

    fn doc(rec: Queued) -> Map<String, Value> {
        docs(&mut Renderer::new(cfg()), vec![rec]).remove(0)
    }

    fn event(row: Value, id: Option<i64>) -> Queued {
        Queued::Event(JobEvent {
            time: SystemTime::UNIX_EPOCH,
            id,
            row: serde_json::from_value(row).unwrap(),
            secrets: Arc::from(Vec::new()),
        })
    }

    #[test]
    fn a_job_event_is_its_row_with_event_data_folded_in() {
        let row = json!({
            "job": 3, "event": "runner_on_ok", "counter": 4, "host_name": "localhost",
            "created": "2024-01-01T00:00:00Z", "stdout": "ok: [localhost]",
            "event_data": json!({"task": "ping", "res": {"secret": "x"}, "play": "p"}).to_string(),
        });
        let doc = doc(event(row, Some(7)));
        assert_eq!(doc["@timestamp"], "1970-01-01T00:00:00.000Z");
        assert_eq!(doc["message"], "Job event data saved.");
        assert_eq!(doc["logger_name"], "awx.analytics.job_events");
        assert_eq!(doc["level"], "INFO");
        assert_eq!(doc["type"], "logstash");
        assert_eq!(doc["host"], "node1");
        assert_eq!(doc["event_id"], 7);
        assert_eq!(doc["event_created"], "2024-01-01T00:00:00Z");
        assert_eq!(doc["job"], 3);
        assert_eq!(doc["event"], "runner_on_ok");
        assert_eq!(doc["task"], "ping");
        assert_eq!(doc["tower_uuid"], "u-1");
        assert_eq!(doc["cluster_host_id"], "node1");
        // As AWX 24's formatter: the output and the whole event_data, `res` inside it once.
        assert_eq!(doc["stdout"], "ok: [localhost]");
        assert_eq!(doc["event_data"]["res"], json!({"secret": "x"}));
        assert!(doc.get("res").is_none());
    }

    #[test]
    fn injected_secret_values_are_masked_everywhere() {
        let row = json!({
            "job": 3, "event": "runner_on_ok", "counter": 4, "task": "use s3cr\u{e9}t-pw",
            "stdout": "the password is s3cr\u{e9}t-pw, \"quoted\" too",
            // As ansible-runner writes it: ASCII only.
            "event_data": "{\"res\": {\"stdout\": \"s3cr\\u00e9t-pw\"}, \"play\": \"x\\\"y\"}",
        });
        let Queued::Event(mut e) = event(row, Some(1)) else {
            unreachable!()
        };
        e.secrets = Arc::from(vec!["s3cr\u{e9}t-pw".to_string(), "x\"y".to_string()]);
        let mut r = Renderer::new(cfg());
        let mut out = Lines::default();
        r.render(Queued::Event(e), &mut out);
        let text = String::from_utf8(out.doc(0).to_vec()).unwrap();
        assert!(!text.contains("s3cr"), "{text}");
        assert!(!text.contains("x\\\"y"), "{text}");
        let d: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            d["stdout"],
            format!("the password is {MASK}, \"quoted\" too")
        );
        assert_eq!(d["event_data"]["res"]["stdout"], MASK);
        assert_eq!(d["event_data"]["play"], MASK);
        assert_eq!(d["task"], format!("use {MASK}"));
    }

    #[test]
    fn the_renderer_ships_what_awx_formatter_would() {
        let data = json!({"task": "t\u{e9} \"q\"", "res": {"a": 1}, "nested": {"b": [1, 2]},
                          "host": "h1", "a\"key": "escaped", "vault_password": "v"});
        let row = json!({
            "job": 3, "event": "runner_on_ok", "counter": 4, "host": 2, "task": "row's",
            "uuid": "u", "stdout": "ok", "created": "c", "ssh_password": "x",
            "event_data": data.to_string(),
        });
        let mut want = Map::new();
        job_event_fields(serde_json::from_value(row.clone()).unwrap(), &mut want);
        let mut pretty = row.clone();
        pretty["event_data"] = json!(serde_json::to_string_pretty(&data).unwrap());
        let mut as_object = row.clone();
        as_object["event_data"] = data.clone();
        // The same renderer for several events: what it remembers of one must not leak into
        // the next (the event without event_data keeps its own task).
        let mut bare = row.clone();
        bare.as_object_mut().unwrap().remove("event_data");
        let mut r = Renderer::new(cfg());
        let got = docs(
            &mut r,
            vec![
                event(row.clone(), None),
                event(pretty, None),
                event(as_object, None),
                event(bare, None),
            ],
        );
        for doc in &got[..3] {
            for (k, v) in &want {
                assert_eq!(&doc[k], v, "{k}");
            }
            let own = 8; // @timestamp, message, host, type, level, logger_name, tower_uuid, cluster_host_id
            assert_eq!(doc.len(), want.len() + own, "{doc:?}");
        }
        assert_eq!(got[0]["ssh_password"], REDACTED);
        assert_eq!(got[0]["vault_password"], REDACTED);
        assert_eq!(got[0]["task"], "t\u{e9} \"q\"");
        assert_eq!(got[0]["event_host"], "h1");
        assert_eq!(got[0]["a\"key"], "escaped");
        assert_eq!(got[3]["task"], "row's");
        assert_eq!(got[3]["event_host"], 2);
        // Not an object, or not JSON: the row alone.
        for text in ["[1,2]", "{\"nested\": 1, \"task\": ", "null"] {
            let mut row = row.clone();
            row["event_data"] = json!(text);
            let doc = docs(&mut r, vec![event(row, None)]).remove(0);
            assert_eq!(doc["task"], "row's", "{text}");
            assert!(doc.get("nested").is_none(), "{text}");
        }
    }

    #[test]
    fn secret_looking_fields_are_masked() {
        let doc = doc(Queued::Log(Record {
            time: SystemTime::now(),
            level: tracing::Level::WARN,
            target: "rawx_api::auth",
            message: "m\nsecond line".into(),
            fields: vec![("password", json!("hunter2")), ("user", json!("bob"))],
            component: Some("web".into()),
        }));
        assert_eq!(doc["password"], REDACTED);
        assert_eq!(doc["user"], "bob");
        assert_eq!(doc["level"], "WARNING");
        assert_eq!(doc["component"], "web");
        assert_eq!(doc["message"], "m\nsecond line");
    }
}
