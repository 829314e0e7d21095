//! AWX's websocket (`/websocket/`, `/api/websocket/`): live job status, summaries and events
//! for the UI and `awxkit`'s `WSClient`, in AWX's protocol and message shapes.
//!
//! The handshake is authenticated like the API (bearer token, session cookie, Basic); without
//! an identity it is refused with 403. The handshake's `csrftoken` cookie becomes the client's
//! XRF key: every subscription message must echo it as `xrftoken`. A subscription message
//! replaces the whole subscription; event groups (`job_events-<id>`, …) are granted only for
//! jobs the user may read, with AWX's error text otherwise, and status and summary messages of
//! jobs the user may not read are not sent.
//!
//! One [`Hub`] per server holds one bus subscription: it joins a bus channel when a client
//! first needs it and leaves when the last client leaves, so a group nobody on this node
//! watches costs the node nothing. Each bus message is rendered once into AWX's shape and
//! handed to each subscribed client's bounded queue without waiting. A client whose queue is
//! full is dropped and closed with [`SLOW_CONSUMER`] (4000): a slow browser never slows the
//! hub, the ingester or the other clients; it reconnects and reads what it missed from
//! `/api/v2/jobs/N/job_events/?counter__gt=<last counter seen>`. When the hub itself lost bus
//! messages (its queue overflowed, or Redis went away), clients watching event groups are
//! closed with [`MISSED`] (4001) for the same reason.

use crate::auth::{self, CSRF_COOKIE};
use crate::error::ApiError;
use crate::AppState;
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use futures_util::SinkExt;
use rawx_bus::{Bus, Channels, Received};
use rawx_domain::messages::{EventsSummary, Message as _, StatusChanged};
use rawx_model::filter::Filter;
use rawx_model::rbac::{self, Actor};
use rawx_model::resources::{by_key, WORKFLOW_JOBS, WORKFLOW_JOB_NODES};
use rawx_model::schema::ColumnType;
use rawx_store::DynStore;
use serde_json::{json, Map, Value};
use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use tokio::sync::mpsc;

/// Close code for a client that fell too far behind: resume from the store.
pub const SLOW_CONSUMER: u16 = 4000;
/// Close code for clients of a node whose bus subscription lost messages: resume from the store.
pub const MISSED: u16 = 4001;
/// Frames a client may have waiting before it counts as slow.
const CLIENT_QUEUE: usize = 4096;
/// Frames written before one flush: batching keeps a fast job's events cheap to send.
const WRITE_BATCH: usize = 256;
/// A client that takes no bytes for this long is disconnected: a stuck socket must not hold
/// its queued frames forever. (One that resumes reading sooner gets its queue, then 4000.)
const WRITE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

/// Event groups, the resource whose read permission guards each, and the key naming the
/// job in their messages.
const EVENT_GROUPS: &[(&str, &str, &str)] = &[
    ("job_events", "jobs", "job"),
    ("ad_hoc_command_events", "ad_hoc_commands", "ad_hoc_command"),
    ("project_update_events", "project_updates", "project_update"),
    (
        "inventory_update_events",
        "inventory_updates",
        "inventory_update",
    ),
    ("system_job_events", "system_jobs", "system_job"),
    ("workflow_events", "workflow_jobs", "workflow_job"),
];

const STATUS_GROUP: &str = "jobs-status_changed";
const SUMMARY_GROUP: &str = "jobs-summary";

struct WsState {
    app: Arc<AppState>,
    hub: OnceLock<Arc<Hub>>,
}

impl WsState {
    fn hub(&self) -> Arc<Hub> {
        self.hub
            .get_or_init(|| Hub::start(&*self.app.bus, Some(self.app.store.clone())))
            .clone()
    }
}

/// The websocket routes, with their own state (the hub starts with the first client).
pub fn router(app: Arc<AppState>) -> Router {
    let state = Arc::new(WsState {
        app,
        hub: OnceLock::new(),
    });
    Router::new()
        .route("/websocket/", get(upgrade))
        .route("/api/websocket/", get(upgrade))
        .with_state(state)
}

async fn upgrade(
    State(state): State<Arc<WsState>>,
    headers: HeaderMap,
    ws: Result<WebSocketUpgrade, axum::extract::ws::rejection::WebSocketUpgradeRejection>,
) -> Response {
    // Any failure to authenticate refuses the handshake, as AWX's daphne does (403).
    let ident = match auth::resolve(&state.app, &headers).await {
        Ok(Some(ident)) => ident,
        Ok(None) | Err(ApiError::Unauthenticated) => return ApiError::forbidden().into_response(),
        Err(e) => return e.into_response(),
    };
    let ws = match ws {
        Ok(ws) => ws,
        Err(rejection) => return rejection.into_response(),
    };
    let xrf = auth::cookie(&headers, CSRF_COOKIE)
        .filter(|c| !c.is_empty())
        .map(str::to_string);
    let hub = state.hub();
    let store = state.app.store.clone();
    // Idle clients are most of them: keep their buffers small (they grow when needed).
    ws.read_buffer_size(4096)
        .max_message_size(1 << 20)
        .on_upgrade(move |socket| {
            let client = Client {
                id: 0,
                store,
                hub,
                actor: ident.actor,
                user: ident.user["id"].as_i64().unwrap_or_default(),
                xrf,
                groups: BTreeSet::new(),
                visible: HashMap::new(),
            };
            client.run(socket)
        })
}

/// A rendered message: its text once for every client, and the job it is about when
/// whether a client may see it depends on the job (status and summary messages).
struct Frame {
    text: Utf8Bytes,
    about: Option<(&'static str, i64)>,
}

struct ClientEntry {
    tx: mpsc::Sender<Arc<Frame>>,
    groups: BTreeSet<String>,
    close: Arc<AtomicU16>,
}

#[derive(Default)]
struct Registry {
    next_id: u64,
    clients: HashMap<u64, ClientEntry>,
    members: HashMap<String, HashSet<u64>>,
    /// How many clients need each bus channel.
    channel_refs: HashMap<String, usize>,
}

/// This node's fan-out from the bus to its websocket clients.
pub struct Hub {
    registry: Mutex<Registry>,
    channels: Channels,
    /// To find the workflow job that spawned a job whose status changed (`workflow_events`).
    store: Option<DynStore>,
}

/// The bus channel a group's messages travel on: a workflow job's group carries the statuses
/// of the jobs it spawned (AWX's `_websocket_emit_status`), read from the status channel.
fn channel_of(group: &str) -> &str {
    if group == SUMMARY_GROUP || group.starts_with("workflow_events-") {
        rawx_bus::JOB_STATUS
    } else {
        group
    }
}

/// `(workflow job, its node, its template)` of a job a workflow spawned.
type Spawner = Option<(i64, i64, Value)>;

impl Hub {
    fn start(bus: &dyn Bus, store: Option<DynStore>) -> Arc<Hub> {
        let sub = bus.subscribe(&[]);
        let hub = Arc::new(Hub {
            registry: Mutex::new(Registry::default()),
            channels: sub.channels(),
            store,
        });
        tokio::spawn(dispatch(Arc::downgrade(&hub), sub));
        hub
    }

    fn register(&self) -> (u64, mpsc::Receiver<Arc<Frame>>, Arc<AtomicU16>) {
        let (tx, rx) = mpsc::channel(CLIENT_QUEUE);
        let close = Arc::new(AtomicU16::new(0));
        let mut reg = self.registry.lock().expect("hub lock");
        reg.next_id += 1;
        let id = reg.next_id;
        reg.clients.insert(
            id,
            ClientEntry {
                tx,
                groups: BTreeSet::new(),
                close: close.clone(),
            },
        );
        (id, rx, close)
    }

    /// Replaces a client's groups, joining and leaving bus channels as their first client
    /// arrives or last one goes.
    fn set_groups(&self, id: u64, groups: &BTreeSet<String>) {
        let mut reg = self.registry.lock().expect("hub lock");
        let Some(old) = reg.clients.get(&id).map(|c| c.groups.clone()) else {
            return;
        };
        for g in old.difference(groups) {
            self.leave_group(&mut reg, id, g);
        }
        for g in groups.difference(&old) {
            reg.members.entry(g.clone()).or_default().insert(id);
            let refs = reg
                .channel_refs
                .entry(channel_of(g).to_string())
                .or_default();
            *refs += 1;
            if *refs == 1 {
                self.channels.join(channel_of(g));
            }
        }
        if let Some(c) = reg.clients.get_mut(&id) {
            c.groups = groups.clone();
        }
    }

    fn leave_group(&self, reg: &mut Registry, id: u64, group: &str) {
        if let Some(m) = reg.members.get_mut(group) {
            m.remove(&id);
            if m.is_empty() {
                reg.members.remove(group);
            }
        }
        let channel = channel_of(group);
        if let Some(refs) = reg.channel_refs.get_mut(channel) {
            *refs -= 1;
            if *refs == 0 {
                reg.channel_refs.remove(channel);
                self.channels.leave(channel);
            }
        }
    }

    /// Forgets a client; dropping its sender ends its queue, and `code` (if not 0) tells it
    /// why it is being closed.
    fn remove(&self, reg: &mut Registry, id: u64, code: u16) {
        let Some(entry) = reg.clients.remove(&id) else {
            return;
        };
        if code != 0 {
            entry.close.store(code, Ordering::Relaxed);
        }
        for g in &entry.groups {
            self.leave_group(reg, id, g);
        }
    }

    fn unregister(&self, id: u64) {
        let mut reg = self.registry.lock().expect("hub lock");
        self.remove(&mut reg, id, 0);
    }

    /// Hands a frame to every member of `group` without waiting.
    fn fan_out(&self, group: &str, frame: Frame) {
        let frame = Arc::new(frame);
        let mut reg = self.registry.lock().expect("hub lock");
        let Some(members) = reg.members.get(group) else {
            return;
        };
        let mut slow = Vec::new();
        for id in members {
            if let Some(c) = reg.clients.get(id) {
                if let Err(mpsc::error::TrySendError::Full(_)) = c.tx.try_send(frame.clone()) {
                    slow.push(*id);
                }
            }
        }
        for id in slow {
            tracing::info!(
                client = id,
                group,
                "websocket client too slow; closing it (code 4000)"
            );
            self.remove(&mut reg, id, SLOW_CONSUMER);
        }
    }

    /// A status of a job a workflow spawned, to `workflow_events-<workflow job>` as AWX sends
    /// it (the status message with `workflow_job_id`, `workflow_node_id`,
    /// `workflow_job_template_id`), when some client here watches a workflow job. The
    /// subscription was checked against the workflow job's read rule.
    async fn to_workflow(&self, mut status: Value, spawners: &mut HashMap<i64, Spawner>) {
        let watched = {
            let reg = self.registry.lock().expect("hub lock");
            reg.members
                .keys()
                .any(|g| g.starts_with("workflow_events-"))
        };
        let (Some(store), true) = (&self.store, watched) else {
            return;
        };
        if status["type"] == "workflow_job" {
            return;
        }
        let Some(job) = status["unified_job_id"].as_i64() else {
            return;
        };
        if !spawners.contains_key(&job) {
            let by = Filter::eq("job", ColumnType::Int, json!(job));
            let found = match store.find(&WORKFLOW_JOB_NODES, &by).await {
                Ok(Some(node)) => {
                    let wj = rawx_model::schema::int(&node, "workflow_job").unwrap_or_default();
                    let wfjt = match store.get(&WORKFLOW_JOBS, wj).await {
                        Ok(w) => w.get("workflow_job_template").cloned(),
                        Err(_) => None,
                    };
                    let node = rawx_model::schema::int(&node, "id").unwrap_or_default();
                    Some((wj, node, wfjt.unwrap_or(Value::Null)))
                }
                Ok(None) => None,
                Err(e) => {
                    tracing::warn!(job, error = %e, "websocket: workflow of a job not found");
                    return;
                }
            };
            if spawners.len() > 10_000 {
                spawners.clear();
            }
            spawners.insert(job, found);
        }
        let Some(Some((wj, node, wfjt))) = spawners.get(&job).cloned() else {
            return;
        };
        status["group_name"] = json!("workflow_events");
        status["workflow_job_id"] = json!(wj);
        status["workflow_node_id"] = json!(node);
        status["workflow_job_template_id"] = wfjt;
        self.fan_out(
            &format!("workflow_events-{wj}"),
            Frame {
                text: text(&status),
                about: None,
            },
        );
    }

    /// The hub lost bus messages: every client watching events may have a gap.
    fn lost(&self, n: u64) {
        let mut reg = self.registry.lock().expect("hub lock");
        let watching: Vec<u64> = reg
            .clients
            .iter()
            .filter(|(_, c)| c.groups.iter().any(|g| event_kind(g).is_some()))
            .map(|(id, _)| *id)
            .collect();
        tracing::warn!(
            lost = n,
            clients = watching.len(),
            "websocket hub missed bus messages; closing clients that watch events (code 4001)"
        );
        for id in watching {
            self.remove(&mut reg, id, MISSED);
        }
    }
}

/// Reads the hub's bus subscription until the hub is gone.
async fn dispatch(hub: std::sync::Weak<Hub>, mut sub: rawx_bus::Subscription) {
    // Which workflow spawned each job seen (a job's statuses come in fours).
    let mut spawners: HashMap<i64, Spawner> = HashMap::new();
    loop {
        let received = sub.recv().await;
        let Some(hub) = hub.upgrade() else { return };
        match received {
            Received::Message(m) => {
                let status = (m.channel == rawx_bus::JOB_STATUS)
                    .then(|| StatusChanged::from_json(&m.payload).map(|s| s.to_json()))
                    .flatten();
                for (group, frame) in render(&m.channel, m.payload) {
                    hub.fan_out(&group, frame);
                }
                if let Some(status) = status {
                    hub.to_workflow(status, &mut spawners).await;
                }
            }
            Received::Missed(n) => hub.lost(n),
            Received::Closed => {
                tracing::error!("the bus closed the websocket hub's subscription");
                return;
            }
        }
    }
}

/// `job_events-42` → the event group's entry.
fn event_kind(group: &str) -> Option<&'static (&'static str, &'static str, &'static str)> {
    let (kind, id) = group.rsplit_once('-')?;
    id.parse::<i64>().ok()?;
    EVENT_GROUPS.iter().find(|(k, _, _)| *k == kind)
}

fn text(v: &Value) -> Utf8Bytes {
    Utf8Bytes::from(v.to_string())
}

/// A bus message in AWX's shapes, with the groups it goes to.
fn render(channel: &str, payload: Value) -> Vec<(String, Frame)> {
    if channel == rawx_bus::JOB_STATUS {
        // The bus carries the domain's two messages on this channel; read them as such.
        if let Some(summary) = EventsSummary::from_json(&payload) {
            let msg = json!({
                "group_name": "jobs",
                "unified_job_id": summary.job,
                "final_counter": summary.final_counter,
            });
            return vec![(
                SUMMARY_GROUP.to_string(),
                Frame {
                    text: text(&msg),
                    about: Some((summary.kind.resource.key, summary.job)),
                },
            )];
        }
        let Some(status) = StatusChanged::from_json(&payload) else {
            return vec![];
        };
        return vec![(
            STATUS_GROUP.to_string(),
            Frame {
                text: text(&status.to_json()),
                about: Some((status.kind.resource.key, status.job)),
            },
        )];
    }
    if let Some((kind, _, key)) = event_kind(channel) {
        let Value::Object(row) = payload else {
            return vec![];
        };
        return vec![(
            channel.to_string(),
            Frame {
                text: text(&event_message(kind, key, row)),
                about: None,
            },
        )];
    }
    // Other groups (`schedules-changed`, `control-limit_reached_<uid>`, …) are sent as
    // published.
    vec![(
        channel.to_string(),
        Frame {
            text: text(&payload),
            about: None,
        },
    )]
}

/// A stored event row as AWX's websocket sends it (`emit_event_detail`): a fixed set of
/// keys, `event_data` as an object, `url` without a trailing slash.
fn event_message(kind: &str, key: &str, mut row: Map<String, Value>) -> Value {
    let mut take = |k: &str, default: Value| row.remove(k).unwrap_or(default);
    let id = take("id", Value::Null);
    let url = match (&id, kind) {
        (Value::Number(n), "job_events" | "ad_hoc_command_events") => {
            format!("/api/v2/{kind}/{n}")
        }
        _ => String::new(),
    };
    let event_data = match take("event_data", json!({})) {
        Value::String(s) => serde_json::from_str(&s).unwrap_or(json!({})),
        v => v,
    };
    let created = take("created", Value::Null);
    let modified = take("modified", created.clone());
    json!({
        "id": id,
        key: take(key, Value::Null),
        "created": created,
        "modified": modified,
        "group_name": kind,
        "url": url,
        "stdout": take("stdout", json!("")),
        "counter": take("counter", Value::Null),
        "uuid": take("uuid", json!("")),
        "parent_uuid": take("parent_uuid", json!("")),
        "start_line": take("start_line", json!(0)),
        "end_line": take("end_line", json!(0)),
        "event": take("event", json!("")),
        "event_data": event_data,
        "failed": take("failed", json!(false)),
        "changed": take("changed", json!(false)),
        "event_level": take("event_level", json!(0)),
        "play": take("play", json!("")),
        "role": take("role", json!("")),
        "task": take("task", json!("")),
    })
}

/// One connected websocket.
struct Client {
    /// This client's number in the hub (set when it registers).
    id: u64,
    store: DynStore,
    hub: Arc<Hub>,
    actor: Actor,
    user: i64,
    xrf: Option<String>,
    groups: BTreeSet<String>,
    /// Whether this user may read a job, per (resource, id), for status and summary frames.
    visible: HashMap<(&'static str, i64), bool>,
}

enum Step {
    Continue,
    Stop,
}

impl Client {
    async fn run(mut self, mut socket: WebSocket) {
        let (id, mut rx, close) = self.hub.register();
        self.id = id;
        let hello = json!({"accept": true, "user": self.user});
        if socket.send(Message::Text(text(&hello))).await.is_ok() {
            self.serve(&mut socket, &mut rx, &close).await;
        }
        self.hub.unregister(id);
    }

    async fn serve(
        &mut self,
        socket: &mut WebSocket,
        rx: &mut mpsc::Receiver<Arc<Frame>>,
        close: &AtomicU16,
    ) {
        let mut batch = Vec::with_capacity(WRITE_BATCH);
        loop {
            tokio::select! {
                incoming = socket.recv() => {
                    let Some(Ok(msg)) = incoming else { return };
                    let step = match msg {
                        Message::Text(t) => self.handle(socket, t.as_str()).await,
                        Message::Close(_) => Step::Stop,
                        _ => Step::Continue,
                    };
                    if let Step::Stop = step {
                        return;
                    }
                }
                n = rx.recv_many(&mut batch, WRITE_BATCH) => {
                    if n == 0 {
                        // The hub let go of this client: say why, and let it resume.
                        let code = close.load(Ordering::Relaxed);
                        let reason = if code == SLOW_CONSUMER {
                            "slow consumer: messages were dropped; resume from /api/v2/jobs/N/job_events/?counter__gt=<last counter>"
                        } else {
                            "live messages were lost; resume from /api/v2/jobs/N/job_events/?counter__gt=<last counter>"
                        };
                        let frame = CloseFrame { code: if code == 0 { MISSED } else { code }, reason: reason.into() };
                        let _ = tokio::time::timeout(WRITE_TIMEOUT, socket.send(Message::Close(Some(frame)))).await;
                        return;
                    }
                    for frame in batch.drain(..) {
                        if let Some(about) = frame.about {
                            if !self.may_see(about).await {
                                continue;
                            }
                        }
                        let fed = socket.feed(Message::Text(frame.text.clone()));
                        if !matches!(tokio::time::timeout(WRITE_TIMEOUT, fed).await, Ok(Ok(()))) {
                            return;
                        }
                    }
                    if !matches!(tokio::time::timeout(WRITE_TIMEOUT, socket.flush()).await, Ok(Ok(()))) {
                        return;
                    }
                }
            }
        }
    }

    async fn send(&self, socket: &mut WebSocket, v: Value) -> Step {
        match socket.send(Message::Text(text(&v))).await {
            Ok(()) => Step::Continue,
            Err(_) => Step::Stop,
        }
    }

    async fn deny(&self, socket: &mut WebSocket) -> Step {
        self.send(socket, json!({"error": "access denied to channel"}))
            .await
    }

    /// A message from the client: AWX's subscription protocol.
    async fn handle(&mut self, socket: &mut WebSocket, text: &str) -> Step {
        let Ok(Value::Object(data)) = serde_json::from_str::<Value>(text) else {
            return Step::Continue;
        };
        let xrf_ok = match (&self.xrf, data.get("xrftoken").and_then(Value::as_str)) {
            (Some(key), Some(sent)) => !sent.is_empty() && sent == key,
            _ => false,
        };
        if !xrf_ok {
            return self.deny(socket).await;
        }
        let Some(groups) = data.get("groups") else {
            return Step::Continue;
        };
        let Some(groups) = groups.as_object() else {
            return self.deny(socket).await;
        };
        // Every value must be a list before anything changes.
        if groups.values().any(|v| !v.is_array()) {
            return self.deny(socket).await;
        }
        let mut wanted = BTreeSet::new();
        for (kind, values) in groups {
            for v in values.as_array().into_iter().flatten() {
                let oid = match v {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                if let Some((_, resource, _)) = EVENT_GROUPS.iter().find(|(k, _, _)| k == kind) {
                    let readable = match oid.parse::<i64>() {
                        Ok(n) => self.readable(resource, n).await,
                        Err(_) => false,
                    };
                    if !readable {
                        let err = format!("access denied to channel {kind} for resource id {oid}");
                        if let Step::Stop = self.send(socket, json!({"error": err})).await {
                            return Step::Stop;
                        }
                        continue;
                    }
                }
                wanted.insert(format!("{kind}-{oid}"));
            }
        }
        let left: Vec<&String> = self.groups.difference(&wanted).collect();
        let joined: Vec<&String> = wanted.difference(&self.groups).collect();
        let reply = json!({"groups_current": wanted, "groups_left": left, "groups_joined": joined});
        self.hub.set_groups(self.id, &wanted);
        self.groups = wanted;
        self.send(socket, reply).await
    }

    /// Whether the user may read object `id` of `resource` (the API's read rule).
    async fn readable(&self, resource: &str, id: i64) -> bool {
        let Some(res) = by_key(resource) else {
            return false;
        };
        let by_id = Filter::eq("id", ColumnType::Int, json!(id));
        let filter = match rbac::read_filter(res, &self.actor) {
            Some(rule) => by_id.and(rule),
            None => by_id,
        };
        matches!(self.store.find(res, &filter).await, Ok(Some(_)))
    }

    async fn may_see(&mut self, about: (&'static str, i64)) -> bool {
        // Those who read everything need no look-up (and see job types rawx has no table for).
        if self.actor.is_superuser || self.actor.is_system_auditor {
            return true;
        }
        if let Some(v) = self.visible.get(&about) {
            return *v;
        }
        let v = self.readable(about.0, about.1).await;
        if self.visible.len() > 10_000 {
            self.visible.clear();
        }
        self.visible.insert(about, v);
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn groups(names: &[&str]) -> BTreeSet<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    #[tokio::test]
    async fn a_bus_channel_is_joined_while_some_client_needs_it() {
        let bus = rawx_bus::InProcessBus::new();
        let hub = Hub::start(&*bus, None);
        let (a, _ra, _) = hub.register();
        let (b, _rb, _) = hub.register();
        hub.set_groups(a, &groups(&["job_events-1", "jobs-summary"]));
        hub.set_groups(b, &groups(&["job_events-1", "jobs-status_changed"]));
        let refs = |hub: &Hub| {
            let reg = hub.registry.lock().unwrap();
            let mut v: Vec<(String, usize)> = reg
                .channel_refs
                .iter()
                .map(|(k, v)| (k.clone(), *v))
                .collect();
            v.sort();
            v
        };
        // Summary and status share the bus channel.
        assert_eq!(
            refs(&hub),
            [
                ("job_events-1".into(), 2),
                ("jobs-status_changed".into(), 2)
            ]
        );
        hub.set_groups(a, &BTreeSet::new());
        assert_eq!(
            refs(&hub),
            [
                ("job_events-1".into(), 1),
                ("jobs-status_changed".into(), 1)
            ]
        );
        hub.unregister(b);
        assert!(refs(&hub).is_empty());
    }

    #[tokio::test]
    async fn a_client_that_does_not_read_is_dropped_not_waited_for() {
        let bus = rawx_bus::InProcessBus::new();
        let hub = Hub::start(&*bus, None);
        let (slow, mut rx, close) = hub.register();
        let (_fast, mut fast_rx, _) = hub.register();
        hub.set_groups(slow, &groups(&["job_events-9"]));
        hub.set_groups(_fast, &groups(&["job_events-9"]));
        for counter in 0..CLIENT_QUEUE + 10 {
            bus.publish(
                "job_events-9",
                json!({"id": counter, "job": 9, "counter": counter}),
            );
            // The fast one keeps up.
            let f = tokio::time::timeout(std::time::Duration::from_secs(5), fast_rx.recv())
                .await
                .unwrap()
                .unwrap();
            let v: Value = serde_json::from_str(f.text.as_str()).unwrap();
            assert_eq!(v["counter"], counter);
        }
        // The slow one got what fitted, then its queue ended with the slow-consumer code.
        let mut got = 0;
        while rx.recv().await.is_some() {
            got += 1;
        }
        assert_eq!(got, CLIENT_QUEUE);
        assert_eq!(close.load(Ordering::Relaxed), SLOW_CONSUMER);
        assert!(!hub.registry.lock().unwrap().clients.contains_key(&slow));
    }

    #[test]
    fn events_are_sent_in_awx_shape() {
        let row = json!({
            "id": 12, "job": 3, "counter": 2, "event": "runner_on_ok", "created": "2024-01-01T00:00:00.000000Z",
            "event_data": "{\"host\": \"h\"}", "stdout": "ok: [h]", "uuid": "u", "parent_uuid": "p",
            "start_line": 1, "end_line": 2, "failed": false, "changed": true, "event_level": 3,
            "play": "P", "role": "", "task": "T", "host_name": "h", "verbosity": 0, "group_name": "job_events",
        });
        let out = render("job_events-3", row);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].0, "job_events-3");
        let v: Value = serde_json::from_str(out[0].1.text.as_str()).unwrap();
        assert_eq!(
            v,
            json!({"id": 12, "job": 3, "created": "2024-01-01T00:00:00.000000Z",
                "modified": "2024-01-01T00:00:00.000000Z", "group_name": "job_events",
                "url": "/api/v2/job_events/12", "stdout": "ok: [h]", "counter": 2, "uuid": "u",
                "parent_uuid": "p", "start_line": 1, "end_line": 2, "event": "runner_on_ok",
                "event_data": {"host": "h"}, "failed": false, "changed": true, "event_level": 3,
                "play": "P", "role": "", "task": "T"})
        );
        assert!(out[0].1.about.is_none());

        let summary = render(
            rawx_bus::JOB_STATUS,
            json!({"group_name": "jobs", "unified_job_id": 3, "final_counter": 9, "type": "summary"}),
        );
        assert_eq!(summary[0].0, SUMMARY_GROUP);
        assert_eq!(
            serde_json::from_str::<Value>(summary[0].1.text.as_str()).unwrap(),
            json!({"group_name": "jobs", "unified_job_id": 3, "final_counter": 9})
        );
        assert_eq!(summary[0].1.about, Some(("jobs", 3)));
        let adhoc = render(
            rawx_bus::JOB_STATUS,
            json!({"group_name": "jobs", "unified_job_id": 3, "final_counter": 9, "type": "summary", "job_type": "ad_hoc_command"}),
        );
        assert_eq!(adhoc[0].1.about, Some(("ad_hoc_commands", 3)));
        assert_eq!(
            serde_json::from_str::<Value>(adhoc[0].1.text.as_str()).unwrap(),
            json!({"group_name": "jobs", "unified_job_id": 3, "final_counter": 9})
        );
        let status = render(
            rawx_bus::JOB_STATUS,
            json!({"unified_job_id": 4, "status": "running", "type": "job", "group_name": "jobs"}),
        );
        assert_eq!(status[0].0, STATUS_GROUP);
        assert_eq!(status[0].1.about, Some(("jobs", 4)));
    }
}
