//! rawx's bus: how one role tells another that something happened — the API that a job is
//! pending, the ingester that events were stored — without either waiting on the other.
//! Messages are hints and live updates, never the record: the store is the source of truth,
//! so a subscriber that misses messages (lagging, restarting) re-reads the store.
//!
//! Architecture invariant: depends on no other rawx crate. One trait; the in-process bus serves
//! a single `rawx serve`, a Redis bus (later) several nodes.

use serde_json::Value;
use std::sync::Arc;
use tokio::sync::broadcast;

/// Channel the task manager listens on: "there may be work to schedule".
pub const SCHEDULE: &str = "task_manager";
/// Channel the dispatcher listens on for cancel requests: `{"job": id}`.
pub const CANCEL: &str = "job_cancel";
/// Channel of job status changes (`jobs-status_changed` for websockets).
pub const JOB_STATUS: &str = "jobs-status_changed";

#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    pub channel: String,
    pub payload: Value,
}

pub trait Bus: Send + Sync + 'static {
    /// Sends to every current subscriber of `channel`; nobody listening is not an error.
    fn publish(&self, channel: &str, payload: Value);
    fn subscribe(&self) -> Subscription;
}

/// Receives every message published after it was made.
pub struct Subscription {
    rx: broadcast::Receiver<Message>,
}

/// What a subscriber gets: a message, or word that some were missed (re-read the store).
#[derive(Debug, PartialEq)]
pub enum Received {
    Message(Message),
    Missed(u64),
    Closed,
}

impl Subscription {
    pub async fn recv(&mut self) -> Received {
        match self.rx.recv().await {
            Ok(m) => Received::Message(m),
            Err(broadcast::error::RecvError::Lagged(n)) => Received::Missed(n),
            Err(broadcast::error::RecvError::Closed) => Received::Closed,
        }
    }
}

/// The bus of a single process.
pub struct InProcessBus {
    tx: broadcast::Sender<Message>,
}

impl InProcessBus {
    pub fn new() -> Arc<Self> {
        let (tx, _) = broadcast::channel(4096);
        Arc::new(InProcessBus { tx })
    }
}

impl Bus for InProcessBus {
    fn publish(&self, channel: &str, payload: Value) {
        let _ = self.tx.send(Message {
            channel: channel.to_string(),
            payload,
        });
    }
    fn subscribe(&self) -> Subscription {
        Subscription {
            rx: self.tx.subscribe(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn subscribers_get_messages_published_after_they_subscribe_and_hear_of_losses() {
        let bus = InProcessBus::new();
        bus.publish(SCHEDULE, Value::Null);
        let mut sub = bus.subscribe();
        bus.publish(
            JOB_STATUS,
            serde_json::json!({"unified_job_id": 1, "status": "running"}),
        );
        match sub.recv().await {
            Received::Message(m) => {
                assert_eq!(m.channel, JOB_STATUS);
                assert_eq!(m.payload["status"], "running");
            }
            other => panic!("{other:?}"),
        }
        for _ in 0..5000 {
            bus.publish(SCHEDULE, Value::Null);
        }
        assert!(matches!(sub.recv().await, Received::Missed(_)));
    }
}
