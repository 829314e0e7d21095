//! rawx's bus: how one role tells another that something happened — the API that a job is
//! pending, the ingester that events were stored — without either waiting on the other.
//! Messages are hints and live updates, never the record: the store is the source of truth,
//! so a subscriber that misses messages (lagging, restarting) re-reads the store.
//!
//! A subscription names its channels and may join and leave more later; a message reaches only
//! the subscriptions that joined its channel, so a channel nobody on a node listens to costs
//! that node nothing (with Redis, the node is not even sent it).
//!
//! Architecture invariant: depends on no other rawx crate. One trait, two implementations:
//! [`InProcessBus`] for a single `rawx serve`, [`RedisBus`] for several nodes; both pass the
//! one suite in `tests/bus.rs`.
//!
//! Invariant: `publish` never waits. A subscriber that does not keep up loses messages and is
//! told how many (`Received::Missed`); the publisher is never slowed by it.

mod redis;

pub use crate::redis::RedisBus;

use serde_json::Value;
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use tokio::sync::mpsc;

/// Channel the task manager listens on: "there may be work to schedule".
pub const SCHEDULE: &str = "task_manager";
/// Channel the dispatcher listens on for cancel requests: `{"job": id}`.
pub const CANCEL: &str = "job_cancel";
/// Channel of job status changes (`jobs-status_changed` for websockets).
pub const JOB_STATUS: &str = "jobs-status_changed";

/// How many messages a subscription holds before it starts losing them. The queue grows on
/// demand, so an idle subscription costs nothing near this.
pub const QUEUE: usize = 65_536;

#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    pub channel: String,
    pub payload: Value,
}

pub trait Bus: Send + Sync + 'static {
    /// Sends to every current subscriber of `channel`; nobody listening is not an error.
    /// Never waits: a message that cannot be handed on at once is dropped (and counted).
    fn publish(&self, channel: &str, payload: Value);
    /// Receives every message published on `channels` (and on channels joined later) after
    /// the subscription exists.
    fn subscribe(&self, channels: &[&str]) -> Subscription;
    /// Whether a message on `channel` could reach anyone, so a publisher can skip building it.
    /// `true` unless the bus knows better (a shared bus cannot see other nodes' subscribers).
    fn wanted(&self, _channel: &str) -> bool {
        true
    }
}

/// What a subscriber gets: a message, or word that some were missed (re-read the store).
#[derive(Debug, PartialEq)]
pub enum Received {
    Message(Message),
    /// Messages were lost: the count dropped because this subscriber's queue was full, plus
    /// one for each lost connection to the bus (whatever was published meanwhile is gone).
    Missed(u64),
    Closed,
}

/// Where a bus implementation puts a subscription's messages.
pub(crate) struct Inbox {
    tx: mpsc::Sender<Message>,
    missed: AtomicU64,
}

impl Inbox {
    /// Hands a message on without waiting; `false` once the subscription is gone.
    pub(crate) fn deliver(&self, msg: Message) -> bool {
        match self.tx.try_send(msg) {
            Ok(()) => true,
            Err(mpsc::error::TrySendError::Full(_)) => {
                self.missed.fetch_add(1, Ordering::Relaxed);
                true
            }
            Err(mpsc::error::TrySendError::Closed(_)) => false,
        }
    }

    pub(crate) fn lost(&self, n: u64) {
        self.missed.fetch_add(n, Ordering::Relaxed);
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.tx.is_closed()
    }
}

/// How an implementation changes which channels a subscription hears.
pub(crate) trait Membership: Send + Sync {
    fn join(&self, channel: &str);
    fn leave(&self, channel: &str);
    /// The subscription was dropped: leave everything.
    fn close(&self);
}

/// A handle to change a subscription's channels from elsewhere (the subscription itself is
/// owned by whoever receives).
#[derive(Clone)]
pub struct Channels(Arc<dyn Membership>);

impl Channels {
    pub fn join(&self, channel: &str) {
        self.0.join(channel)
    }
    pub fn leave(&self, channel: &str) {
        self.0.leave(channel)
    }
}

pub struct Subscription {
    rx: mpsc::Receiver<Message>,
    inbox: Arc<Inbox>,
    channels: Channels,
}

impl Subscription {
    pub(crate) fn inbox(capacity: usize) -> (Arc<Inbox>, mpsc::Receiver<Message>) {
        let (tx, rx) = mpsc::channel(capacity);
        let inbox = Arc::new(Inbox {
            tx,
            missed: AtomicU64::new(0),
        });
        (inbox, rx)
    }

    pub(crate) fn assemble(
        rx: mpsc::Receiver<Message>,
        inbox: Arc<Inbox>,
        membership: Arc<dyn Membership>,
    ) -> Subscription {
        Subscription {
            rx,
            inbox,
            channels: Channels(membership),
        }
    }

    pub async fn recv(&mut self) -> Received {
        let lost = self.inbox.missed.swap(0, Ordering::Relaxed);
        if lost > 0 {
            return Received::Missed(lost);
        }
        match self.rx.recv().await {
            Some(m) => Received::Message(m),
            None => Received::Closed,
        }
    }

    pub fn join(&self, channel: &str) {
        self.channels.join(channel)
    }

    pub fn leave(&self, channel: &str) {
        self.channels.leave(channel)
    }

    pub fn channels(&self) -> Channels {
        self.channels.clone()
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.channels.0.close();
    }
}

/// The bus of a single process: a map from channel to the inboxes that joined it.
pub struct InProcessBus {
    routes: Arc<Mutex<Routes>>,
}

#[derive(Default)]
struct Routes {
    by_channel: HashMap<String, Vec<Arc<Inbox>>>,
}

impl InProcessBus {
    pub fn new() -> Arc<Self> {
        Arc::new(InProcessBus {
            routes: Arc::new(Mutex::new(Routes::default())),
        })
    }
}

impl Bus for InProcessBus {
    fn wanted(&self, channel: &str) -> bool {
        self.routes
            .lock()
            .expect("bus routes lock")
            .by_channel
            .contains_key(channel)
    }

    fn publish(&self, channel: &str, payload: Value) {
        let mut routes = self.routes.lock().expect("bus routes lock");
        let Some(inboxes) = routes.by_channel.get_mut(channel) else {
            return;
        };
        let msg = Message {
            channel: channel.to_string(),
            payload,
        };
        inboxes.retain(|i| i.deliver(msg.clone()));
        if inboxes.is_empty() {
            routes.by_channel.remove(channel);
        }
    }

    fn subscribe(&self, channels: &[&str]) -> Subscription {
        let (inbox, rx) = Subscription::inbox(QUEUE);
        let member = Arc::new(InProcessMember {
            routes: Arc::downgrade(&self.routes),
            inbox: inbox.clone(),
            joined: Mutex::new(HashSet::new()),
        });
        for c in channels {
            member.join(c);
        }
        Subscription::assemble(rx, inbox, member)
    }
}

struct InProcessMember {
    routes: Weak<Mutex<Routes>>,
    inbox: Arc<Inbox>,
    joined: Mutex<HashSet<String>>,
}

impl InProcessMember {
    fn remove(routes: &mut Routes, channel: &str, inbox: &Arc<Inbox>) {
        if let Some(v) = routes.by_channel.get_mut(channel) {
            v.retain(|i| !Arc::ptr_eq(i, inbox));
            if v.is_empty() {
                routes.by_channel.remove(channel);
            }
        }
    }
}

impl Membership for InProcessMember {
    fn join(&self, channel: &str) {
        let Some(routes) = self.routes.upgrade() else {
            return;
        };
        if self
            .joined
            .lock()
            .expect("joined lock")
            .insert(channel.to_string())
        {
            let mut routes = routes.lock().expect("bus routes lock");
            routes
                .by_channel
                .entry(channel.to_string())
                .or_default()
                .push(self.inbox.clone());
        }
    }

    fn leave(&self, channel: &str) {
        let Some(routes) = self.routes.upgrade() else {
            return;
        };
        if self.joined.lock().expect("joined lock").remove(channel) {
            Self::remove(
                &mut routes.lock().expect("bus routes lock"),
                channel,
                &self.inbox,
            );
        }
    }

    fn close(&self) {
        let joined = std::mem::take(&mut *self.joined.lock().expect("joined lock"));
        if let Some(routes) = self.routes.upgrade() {
            let mut routes = routes.lock().expect("bus routes lock");
            for c in &joined {
                Self::remove(&mut routes, c, &self.inbox);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_dropped_subscription_leaves_no_route_behind() {
        let bus = InProcessBus::new();
        let sub = bus.subscribe(&["a", "b"]);
        sub.join("c");
        assert_eq!(bus.routes.lock().unwrap().by_channel.len(), 3);
        sub.leave("a");
        assert_eq!(bus.routes.lock().unwrap().by_channel.len(), 2);
        drop(sub);
        assert!(bus.routes.lock().unwrap().by_channel.is_empty());
    }
}
