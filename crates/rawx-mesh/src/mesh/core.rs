//! The netceptor core: backend sessions, the handshake, routing updates and their flooding,
//! service advertisements, and data messages (delivery, forwarding, firewall, unreachable
//! notices). Behaviour and timings follow receptor v1.4.9 `pkg/netceptor/netceptor.go`;
//! where rawx differs it says so.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::sync::{broadcast, mpsc};
use tokio_util::sync::CancellationToken;

use super::firewall::Rule;
use super::routing::{self, Costs, Routes};
use super::session::Session;
use super::tick::Tick;
use super::wire::{self, Message, RoutingUpdate, ServiceAd, UnreachableMessage, WorkCommand};

/// Go's `defaultRouteUpdateTime`.
pub const ROUTE_UPDATE_TIME: Duration = Duration::from_secs(10);
/// Go's `defaultServiceAdTime`.
pub const SERVICE_AD_TIME: Duration = Duration::from_secs(60);
/// Go's `defaultMaxConnectionIdleTime`: two route updates missed, plus a second.
pub const MAX_CONNECTION_IDLE_TIME: Duration = Duration::from_secs(21);
const SEEN_UPDATE_EXPIRE: Duration = Duration::from_secs(3600);
/// How many datagrams wait for a slow reader or link before new ones are dropped (Go blocks a
/// goroutine per message instead; datagrams may be lost, and routing updates repeat).
pub(super) const QUEUE: usize = 1024;

/// Per-backend options: `cost`, `nodecost`, `allowedpeers`.
#[derive(Debug, Clone)]
pub struct BackendInfo {
    pub cost: f64,
    pub node_cost: BTreeMap<String, f64>,
    pub allowed_peers: Option<Vec<String>>,
}

/// A service this node advertises (its control service).
#[derive(Debug, Clone)]
pub struct LocalAd {
    pub service: String,
    pub conn_type: u8,
    pub tags: BTreeMap<String, String>,
}

#[derive(Debug, Clone)]
pub struct MeshOptions {
    pub node_id: String,
    pub max_idle: Duration,
    pub firewall: Vec<Rule>,
    pub ads: Vec<LocalAd>,
    pub work_commands: Vec<WorkCommand>,
}

/// One data message, names resolved.
#[derive(Debug, Clone)]
pub struct MessageData {
    pub from_node: String,
    pub from_service: String,
    pub to_node: String,
    pub to_service: String,
    pub hops_to_live: u8,
    pub data: Bytes,
}

/// A datagram delivered to a local service.
#[derive(Debug, Clone)]
pub struct Datagram {
    pub from_node: String,
    pub from_service: String,
    pub data: Bytes,
}

#[derive(Debug, Clone)]
pub struct Unreachable {
    pub message: UnreachableMessage,
    /// The node that sent the notice.
    pub received_from: String,
}

/// What `status` shows of the mesh.
#[derive(Debug, Clone)]
pub struct MeshStatus {
    pub connections: Vec<(String, f64)>,
    pub routing_table: BTreeMap<String, String>,
    pub advertisements: Vec<ServiceAd>,
    pub known_connection_costs: Costs,
}

pub(super) struct Conn {
    pub(super) session: u64,
    pub(super) tx: mpsc::Sender<Bytes>,
    pub(super) cost: f64,
    /// Milliseconds since the mesh started, when a message last arrived.
    pub(super) last_rx: Arc<AtomicU64>,
    pub(super) cancel: CancellationToken,
}

#[derive(Default)]
pub(super) struct State {
    pub(super) sequence: u64,
    pub(super) connections: HashMap<String, Conn>,
    /// Node → (epoch, sequence) of its newest routing update.
    pub(super) known_nodes: HashMap<String, (u64, u64)>,
    pub(super) seen_updates: HashMap<String, Instant>,
    pub(super) costs: Costs,
    pub(super) routes: Routes,
    pub(super) names: HashMap<u64, String>,
    /// Advertisements received from other nodes, by node then service.
    pub(super) ads: BTreeMap<String, BTreeMap<String, ServiceAd>>,
    pub(super) listeners: HashMap<String, mpsc::Sender<Datagram>>,
}

pub(super) struct Inner {
    pub node_id: String,
    epoch: u64,
    pub(super) opts: MeshOptions,
    started: Instant,
    pub(super) state: Mutex<State>,
    route_tick: Mutex<Option<Tick>>,
    pub(super) unreach: broadcast::Sender<Unreachable>,
    next_session: AtomicU64,
    /// Cancelled when the mesh stops, or when this node learns it is a duplicate.
    pub stop: CancellationToken,
    /// The running backends and their sessions (a child of `stop`); `reload` cancels it and
    /// starts the configured ones again under a new one.
    backends: Mutex<CancellationToken>,
}

#[derive(Clone)]
pub struct Mesh {
    pub(super) inner: Arc<Inner>,
}

impl Mesh {
    /// Starts the periodic tasks (route updates every 10 s, advertisements every 60 s, the
    /// idle-link check every 5 s). Backends are attached with [`Mesh::run_session`].
    pub fn new(opts: MeshOptions) -> Mesh {
        let epoch = (time::OffsetDateTime::now_utc().unix_timestamp() as u64) * (1 << 24)
            + rand::random::<u64>() % (1 << 24);
        let (unreach, _) = broadcast::channel(64);
        let stop = CancellationToken::new();
        let inner = Arc::new(Inner {
            node_id: opts.node_id.clone(),
            epoch,
            opts,
            started: Instant::now(),
            state: Mutex::new(State::default()),
            route_tick: Mutex::new(None),
            unreach,
            next_session: AtomicU64::new(1),
            backends: Mutex::new(stop.child_token()),
            stop,
        });
        let mesh = Mesh { inner };
        mesh.add_name(&mesh.inner.node_id.clone());
        let weak = Arc::downgrade(&mesh.inner);
        let tick = Tick::spawn(
            ROUTE_UPDATE_TIME,
            Duration::from_millis(100),
            mesh.inner.stop.clone(),
            move || {
                if let Some(m) = upgrade(&weak) {
                    m.send_routing_update(0);
                }
            },
        );
        *mesh.inner.route_tick.lock().expect("lock") = Some(tick);
        let weak = Arc::downgrade(&mesh.inner);
        // Go sends the first advertisements 5 s after a service starts listening.
        let ads = Tick::spawn(
            SERVICE_AD_TIME,
            Duration::from_secs(5),
            mesh.inner.stop.clone(),
            move || {
                if let Some(m) = upgrade(&weak) {
                    m.send_service_ads(None);
                }
            },
        );
        ads.request(Duration::ZERO);
        tokio::spawn(monitor(Arc::downgrade(&mesh.inner)));
        mesh
    }

    pub fn node_id(&self) -> &str {
        &self.inner.node_id
    }

    pub fn epoch(&self) -> u64 {
        self.inner.epoch
    }

    pub fn stopped(&self) -> CancellationToken {
        self.inner.stop.clone()
    }

    pub fn shutdown(&self) {
        self.inner.stop.cancel();
    }

    /// The token the running backends stop on.
    pub fn backend_token(&self) -> CancellationToken {
        self.inner.backends.lock().expect("lock").clone()
    }

    /// Stops every backend and closes their sessions (Go's `CancelBackends`); backends
    /// started afterwards run under a fresh token.
    pub fn cancel_backends(&self) {
        let mut t = self.inner.backends.lock().expect("lock");
        t.cancel();
        *t = self.inner.stop.child_token();
    }

    pub(super) fn lock(&self) -> MutexGuard<'_, State> {
        self.inner.state.lock().expect("mesh state lock")
    }

    fn now_ms(&self) -> u64 {
        self.inner.started.elapsed().as_millis() as u64
    }

    fn request_route_flood(&self) {
        if let Some(t) = &*self.inner.route_tick.lock().expect("lock") {
            t.request(Duration::ZERO);
        }
    }

    /// Hashes a name and remembers it, so data messages naming it can be read.
    pub fn add_name(&self, name: &str) -> u64 {
        let name = if name.eq_ignore_ascii_case("localhost") {
            self.inner.node_id.as_str()
        } else {
            name
        };
        let h = wire::name_hash(name);
        self.lock()
            .names
            .entry(h)
            .or_insert_with(|| name.to_string());
        h
    }

    pub fn status(&self) -> MeshStatus {
        let st = self.lock();
        let mut ads: Vec<ServiceAd> = self.own_ads();
        ads.extend(st.ads.values().flat_map(|m| m.values().cloned()));
        MeshStatus {
            connections: st
                .connections
                .iter()
                .map(|(n, c)| (n.clone(), c.cost))
                .collect(),
            routing_table: st.routes.next_hop.clone(),
            advertisements: ads,
            known_connection_costs: st.costs.clone(),
        }
    }

    /// Our advertisements, stamped now; the control service's carries the work types.
    fn own_ads(&self) -> Vec<ServiceAd> {
        let now = now_rfc3339();
        self.inner
            .opts
            .ads
            .iter()
            .map(|a| ServiceAd {
                node_id: self.inner.node_id.clone(),
                service: a.service.clone(),
                time: now.clone(),
                conn_type: a.conn_type,
                tags: Some(a.tags.clone()),
                work_commands: (a.tags.get("type").map(String::as_str) == Some("Control Service")
                    && !self.inner.opts.work_commands.is_empty())
                .then(|| self.inner.opts.work_commands.clone()),
                cancel: false,
            })
            .collect()
    }

    /// Sends our advertisements to every neighbour, or to one.
    fn send_service_ads(&self, only: Option<&str>) {
        let st = self.lock();
        for ad in self.own_ads() {
            let Ok(bytes) = Message::ServiceAd(ad).encode() else {
                continue;
            };
            send_to(&st, only, None, Bytes::from(bytes));
        }
    }

    /// Every advertisement this node knows, its own included, to one neighbour.
    fn send_all_ads(&self, to: &str) {
        self.send_service_ads(Some(to));
        let st = self.lock();
        let Some(conn) = st.connections.get(to) else {
            return;
        };
        for ad in st.ads.values().flat_map(|m| m.values()) {
            if let Ok(b) = Message::ServiceAd(ad.clone()).encode() {
                let _ = conn.tx.try_send(Bytes::from(b));
            }
        }
    }

    fn make_routing_update(&self, st: &mut State, suspected_duplicate: u64) -> RoutingUpdate {
        st.sequence += 1;
        RoutingUpdate {
            node_id: self.inner.node_id.clone(),
            update_id: random_string(8),
            update_epoch: self.inner.epoch,
            update_sequence: st.sequence,
            connections: st
                .connections
                .iter()
                .map(|(n, c)| (n.clone(), c.cost))
                .collect(),
            forwarding_node: self.inner.node_id.clone(),
            suspected_duplicate,
        }
    }

    fn send_routing_update(&self, suspected_duplicate: u64) {
        let mut st = self.lock();
        if st.connections.is_empty() {
            return;
        }
        let ru = self.make_routing_update(&mut st, suspected_duplicate);
        tracing::debug!(id = %ru.update_id, connections = ?ru.connections, "sending routing update");
        if let Ok(bytes) = Message::Route(ru).encode() {
            send_to(&st, None, None, Bytes::from(bytes));
        }
    }

    fn recompute_routes(&self, st: &mut State) {
        st.routes = routing::compute(&self.inner.node_id, &st.costs);
        tracing::debug!(routes = ?st.routes.next_hop, "routing table");
    }

    fn remove_connection(&self, remote: &str, session: u64) {
        let mut st = self.lock();
        if st.connections.get(remote).map(|c| c.session) != Some(session) {
            return;
        }
        st.connections.remove(remote);
        let me = self.inner.node_id.clone();
        if let Some(m) = st.costs.get_mut(remote) {
            m.remove(&me);
        }
        if let Some(m) = st.costs.get_mut(&me) {
            m.remove(remote);
        }
        // Go recomputes 100 ms later; at once reroutes sooner and gives the same table.
        self.recompute_routes(&mut st);
    }

    /// Runs the protocol on one backend session until it ends (Go's `runProtocol`).
    pub async fn run_session(
        &self,
        mut sess: Session,
        info: Arc<BackendInfo>,
        stop: CancellationToken,
    ) {
        let session = self.inner.next_session.fetch_add(1, Ordering::Relaxed);
        let me = self.inner.node_id.clone();
        let cancel = sess.cancel.clone();
        let last_rx = Arc::new(AtomicU64::new(self.now_ms()));
        let init_done = CancellationToken::new();
        tokio::spawn(initial_updates(
            Arc::downgrade(&self.inner),
            sess.tx.clone(),
            cancel.clone(),
            init_done.clone(),
        ));
        let mut remote = String::new();
        let mut established = false;
        let mut remote_established = false;
        let mut cost = info.cost;
        let outcome: Result<(), String> = loop {
            let data = tokio::select! {
                _ = cancel.cancelled() => break Ok(()),
                _ = stop.cancelled() => break Ok(()),
                d = sess.rx.recv() => match d {
                    Some(d) => d,
                    None => break Ok(()),
                },
            };
            last_rx.store(self.now_ms(), Ordering::Relaxed);
            if established && data.first() == Some(&wire::MSG_DATA) {
                // The bulk of the traffic: passed on or delivered without a decode.
                if let Err(e) = self.handle_data_bytes(data) {
                    tracing::debug!(error = %e, "data message not handled");
                }
                continue;
            }
            let msg = match Message::decode(&data) {
                Ok(m) => m,
                Err(e) => {
                    tracing::warn!(peer = %remote, error = %e, "dropping a malformed message");
                    continue;
                }
            };
            if !established {
                match msg {
                    Message::Route(ru) => {
                        remote = ru.forwarding_node.clone();
                        if remote == me {
                            break Err("it tried to connect using our own node ID".into());
                        }
                        if let Some(allowed) = &info.allowed_peers {
                            if !allowed.contains(&remote) {
                                break Err("it is not in the allowed peers list".into());
                            }
                        }
                        if let Some(c) = info.node_cost.get(&remote) {
                            cost = *c;
                        }
                        {
                            let mut st = self.lock();
                            if st.connections.contains_key(&remote) {
                                break Err(
                                    "it connected using a node ID we are already connected to"
                                        .into(),
                                );
                            }
                            st.connections.insert(
                                remote.clone(),
                                Conn {
                                    session,
                                    tx: sess.tx.clone(),
                                    cost,
                                    last_rx: last_rx.clone(),
                                    cancel: cancel.clone(),
                                },
                            );
                            let h = wire::name_hash(&remote);
                            st.names.entry(h).or_insert_with(|| remote.clone());
                            st.costs
                                .entry(me.clone())
                                .or_default()
                                .insert(remote.clone(), cost);
                            st.costs
                                .entry(remote.clone())
                                .or_default()
                                .insert(me.clone(), cost);
                            self.recompute_routes(&mut st);
                        }
                        init_done.cancel();
                        let weak = Arc::downgrade(&self.inner);
                        let last_rx = last_rx.clone();
                        let _ = sess.data_path.set(Box::new(move |data| {
                            let Some(m) = upgrade(&weak) else { return };
                            last_rx.store(m.now_ms(), Ordering::Relaxed);
                            if let Err(e) = m.handle_data_bytes(data) {
                                tracing::debug!(error = %e, "data message not handled");
                            }
                        }));
                        tracing::info!("Connection established with {remote}");
                        established = true;
                        self.request_route_flood();
                    }
                    Message::Reject => break Err("__rejected".into()),
                    _ => {}
                }
                continue;
            }
            match msg {
                Message::Data(d) => match self.translate(d) {
                    Ok(md) => {
                        if let Err(e) = self.handle_message_data(md) {
                            tracing::debug!(error = %e, "data message not handled");
                        }
                    }
                    Err(e) => tracing::warn!(error = %e, "data message from unknown node"),
                },
                Message::Route(ru) => {
                    if ru.forwarding_node != remote {
                        self.remove_connection(&remote, session);
                        break Err(format!(
                            "remote node ID changed unexpectedly from {remote} to {}",
                            ru.node_id
                        ));
                    }
                    if ru.node_id == remote {
                        match ru.connections.get(&me) {
                            None if remote_established => {
                                self.remove_connection(&remote, session);
                                break Err("remote node no longer lists us as a connection".into());
                            }
                            // A late initial update: not a routing update yet.
                            None => continue,
                            Some(&c) => {
                                if !remote_established {
                                    // rawx addition: once the peer has taken the link (it
                                    // lists us), it gets every advertisement we know now,
                                    // rather than within the next 60 s round; earlier, it
                                    // would drop them.
                                    self.send_all_ads(&remote);
                                }
                                remote_established = true;
                                if c != cost {
                                    self.remove_connection(&remote, session);
                                    break Err("we disagree about the connection cost".into());
                                }
                            }
                        }
                    }
                    self.handle_routing_update(ru, &remote);
                }
                Message::ServiceAd(ad) => self.handle_service_ad(data, ad, &remote),
                Message::Reject => {
                    self.remove_connection(&remote, session);
                    break Err("__rejected".into());
                }
            }
        };
        match outcome {
            Ok(()) => {}
            Err(e) if e == "__rejected" => {
                tracing::warn!("Received a rejection message from peer {remote}.")
            }
            Err(reason) => {
                tracing::error!("{me}: rejected connection with node {remote} because {reason}");
                if let Ok(b) = Message::Reject.encode() {
                    let _ = sess.tx.try_send(Bytes::from(b));
                }
            }
        }
        if !remote.is_empty() {
            self.remove_connection(&remote, session);
        }
        init_done.cancel();
        sess.close().await;
        if established {
            tracing::info!("Connection with {remote} closed");
            self.request_route_flood();
        }
    }

    /// Go's `handleRoutingUpdate`.
    fn handle_routing_update(&self, mut ru: RoutingUpdate, recv_conn: &str) {
        if ru.node_id.is_empty() {
            return;
        }
        let epoch = self.inner.epoch;
        if ru.node_id == self.inner.node_id {
            if ru.update_epoch == epoch {
                return;
            }
            if ru.suspected_duplicate == epoch {
                tracing::error!(
                    "We are a duplicate node with ID {} and epoch {epoch}.  Shutting down.",
                    self.inner.node_id
                );
                self.shutdown();
                return;
            }
            if ru.update_epoch > epoch {
                tracing::error!("Duplicate node ID {} detected via {recv_conn}", ru.node_id);
                self.send_routing_update(ru.update_epoch);
            }
            return;
        }
        let mut st = self.lock();
        if st.seen_updates.contains_key(&ru.update_id) {
            return;
        }
        st.seen_updates.insert(ru.update_id.clone(), Instant::now());
        if ru.suspected_duplicate != 0 {
            tracing::warn!(
                "Node {} with epoch {} sent update {} suspecting a duplicate node with epoch {}",
                ru.node_id,
                ru.update_epoch,
                ru.update_id,
                ru.suspected_duplicate
            );
            if let Some(ni) = st.known_nodes.get_mut(&ru.node_id) {
                if ni.0 == ru.suspected_duplicate {
                    *ni = (ru.update_epoch, ru.update_sequence);
                }
            }
        } else {
            match st.known_nodes.get(&ru.node_id) {
                Some(&(e, s)) => {
                    if ru.update_epoch < e || (ru.update_epoch == e && ru.update_sequence <= s) {
                        return;
                    }
                }
                None => {
                    // A node we did not know: tell the mesh about ourselves, so it learns
                    // the rest of the mesh from the answers.
                    self.request_route_flood();
                    let h = wire::name_hash(&ru.node_id);
                    st.names.entry(h).or_insert_with(|| ru.node_id.clone());
                }
            }
            st.known_nodes
                .insert(ru.node_id.clone(), (ru.update_epoch, ru.update_sequence));
            if st.costs.get(&ru.node_id) != Some(&ru.connections) {
                st.costs.insert(ru.node_id.clone(), ru.connections.clone());
                let me = self.inner.node_id.clone();
                for (node, links) in st.costs.iter_mut() {
                    if *node != me && !ru.connections.contains_key(node) {
                        links.remove(&ru.node_id);
                    }
                }
                self.recompute_routes(&mut st);
            }
        }
        ru.forwarding_node = self.inner.node_id.clone();
        if let Ok(b) = Message::Route(ru).encode() {
            send_to(&st, None, Some(recv_conn), Bytes::from(b));
        }
    }

    /// Go's `handleServiceAdvertisement`: a newer `Time` replaces, `Cancel` removes, and
    /// what changed is flooded on exactly as received.
    fn handle_service_ad(&self, raw: bytes::BytesMut, ad: ServiceAd, recv_conn: &str) {
        if ad.node_id == self.inner.node_id {
            // Ours, come back around a loop; our own advertisements come from the config.
            return;
        }
        let mut st = self.lock();
        if let Some(cur) = st.ads.get(&ad.node_id).and_then(|m| m.get(&ad.service)) {
            let newer = match (ad.parsed_time(), cur.parsed_time()) {
                (Some(a), Some(b)) => a > b,
                _ => false,
            };
            if !newer {
                return;
            }
        }
        if ad.cancel {
            if let Some(m) = st.ads.get_mut(&ad.node_id) {
                m.remove(&ad.service);
                if m.is_empty() {
                    st.ads.remove(&ad.node_id);
                }
            }
        } else {
            st.ads
                .entry(ad.node_id.clone())
                .or_default()
                .insert(ad.service.clone(), ad);
        }
        send_to(&st, None, Some(recv_conn), raw.freeze());
    }

    /// Drops links silent for longer than the idle limit.
    fn expire_idle(&self) {
        let limit = self.inner.opts.max_idle.as_millis() as u64;
        let now = self.now_ms();
        let mut st = self.lock();
        for (node, c) in &st.connections {
            if now.saturating_sub(c.last_rx.load(Ordering::Relaxed)) > limit {
                tracing::warn!(
                    "Timing out connection {node}, idle for the past {:?}",
                    self.inner.opts.max_idle
                );
                c.cancel.cancel();
            }
        }
        let cutoff = Instant::now().checked_sub(SEEN_UPDATE_EXPIRE);
        if let Some(cutoff) = cutoff {
            st.seen_updates.retain(|_, t| *t >= cutoff);
        }
    }
}

pub(super) fn upgrade(w: &Weak<Inner>) -> Option<Mesh> {
    w.upgrade().map(|inner| Mesh { inner })
}

/// Queues a message for every neighbour (or one), except `exclude`, never waiting.
fn send_to(st: &State, only: Option<&str>, exclude: Option<&str>, msg: Bytes) {
    for (node, c) in &st.connections {
        if only.is_some_and(|o| o != node) || exclude == Some(node.as_str()) {
            continue;
        }
        if c.tx.try_send(msg.clone()).is_err() {
            tracing::debug!(peer = %node, "link queue full: message dropped");
        }
    }
}

/// Go's `sendInitialConnectMessage`: our routing update every second until the peer names
/// itself; after 11 tries the session is given up.
async fn initial_updates(
    mesh: Weak<Inner>,
    tx: mpsc::Sender<Bytes>,
    cancel: CancellationToken,
    done: CancellationToken,
) {
    let mut count = 0;
    loop {
        let Some(m) = upgrade(&mesh) else { return };
        let ru = {
            let mut st = m.lock();
            m.make_routing_update(&mut st, 0)
        };
        drop(m);
        let Ok(bytes) = Message::Route(ru).encode() else {
            return;
        };
        tokio::select! {
            r = tx.send(Bytes::from(bytes)) => if r.is_err() { return },
            _ = cancel.cancelled() => return,
            _ = done.cancelled() => return,
        }
        count += 1;
        if count > 10 {
            tracing::warn!("Giving up on connection initialization");
            cancel.cancel();
            return;
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            _ = cancel.cancelled() => return,
            _ = done.cancelled() => return,
        }
    }
}

/// Go's `monitorConnectionAging` and `expireSeenUpdates`.
async fn monitor(mesh: Weak<Inner>) {
    loop {
        tokio::time::sleep(Duration::from_secs(5)).await;
        let Some(m) = upgrade(&mesh) else { return };
        if m.inner.stop.is_cancelled() {
            return;
        }
        m.expire_idle();
    }
}

/// Go's `randstr.RandomString`.
pub fn random_string(n: usize) -> String {
    use rand::Rng;
    const CHARSET: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
    let mut rng = rand::thread_rng();
    (0..n)
        .map(|_| CHARSET[rng.gen_range(0..CHARSET.len())] as char)
        .collect()
}

pub fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}
