//! The bus over Redis pub/sub, for several rawx nodes sharing one Redis.
//!
//! Each subscription is one Redis connection that SUBSCRIBEs to exactly the channels it
//! joined, so a node is never sent a channel none of its subscribers listens to. Publishing
//! goes through one queue to one task that pipelines PUBLISH commands on a multiplexed
//! connection: `publish` only enqueues, so a slow or absent Redis never slows the caller.
//!
//! Redis going away is survived: the publisher and every subscription reconnect with a short
//! backoff, subscriptions re-join their channels and report the gap as `Received::Missed`.
//! Whatever was published while Redis was unreachable is lost (counted in the log); the store
//! holds the record.

use crate::{Bus, Inbox, Membership, Message, Subscription, QUEUE};
use futures_util::StreamExt;
use serde_json::Value;
use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

/// How long one Redis round trip may take before the connection is given up and remade.
const REDIS_TIMEOUT: Duration = Duration::from_secs(5);
/// How many queued messages one pipeline carries.
const PIPELINE: usize = 512;

pub struct RedisBus {
    client: ::redis::Client,
    prefix: Arc<str>,
    out: mpsc::Sender<(String, String)>,
    dropped: AtomicU64,
}

impl RedisBus {
    /// Connects to `url` (`redis://host:port/`) and checks that Redis answers. `namespace`
    /// keeps installations sharing one Redis apart: nodes of one installation must use the
    /// same (rawx uses its install UUID). Needs a tokio runtime: it starts the publisher task.
    pub async fn connect(url: &str, namespace: &str) -> Result<Arc<Self>, String> {
        let client = ::redis::Client::open(url)
            .map_err(|e| format!("invalid Redis URL {}: {e}", redact(url)))?;
        let mut conn =
            tokio::time::timeout(REDIS_TIMEOUT, client.get_multiplexed_async_connection())
                .await
                .map_err(|_| format!("Redis at {} did not answer in time", redact(url)))?
                .map_err(|e| format!("cannot reach Redis at {}: {e}", redact(url)))?;
        let _: String = ::redis::cmd("PING")
            .query_async(&mut conn)
            .await
            .map_err(|e| format!("Redis at {} refused PING: {e}", redact(url)))?;
        let prefix: Arc<str> = format!("rawx:{namespace}:").into();
        let (out, rx) = mpsc::channel(QUEUE);
        tokio::spawn(publisher(client.clone(), prefix.clone(), rx, Some(conn)));
        Ok(Arc::new(RedisBus {
            client,
            prefix,
            out,
            dropped: AtomicU64::new(0),
        }))
    }
}

/// A Redis URL may carry a password; logs and errors show only where it points.
fn redact(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => match rest.rsplit_once('@') {
            Some((_, host)) => format!("{scheme}://…@{host}"),
            None => url.to_string(),
        },
        None => url.to_string(),
    }
}

impl Bus for RedisBus {
    fn publish(&self, channel: &str, payload: Value) {
        let msg = (format!("{}{channel}", self.prefix), payload.to_string());
        if self.out.try_send(msg).is_err() {
            // One line per power of two, not one per message: an outage drops many.
            let n = self.dropped.fetch_add(1, Ordering::Relaxed) + 1;
            if n.is_power_of_two() {
                tracing::warn!(
                    channel,
                    dropped = n,
                    "Redis publish queue is full; messages dropped (is Redis reachable?)"
                );
            }
        }
    }

    fn subscribe(&self, channels: &[&str]) -> Subscription {
        let (inbox, rx) = Subscription::inbox(QUEUE);
        let (cmds, cmd_rx) = mpsc::unbounded_channel();
        let joined: HashSet<String> = channels.iter().map(|c| c.to_string()).collect();
        tokio::spawn(subscriber(
            self.client.clone(),
            self.prefix.clone(),
            inbox.clone(),
            cmd_rx,
            joined,
        ));
        let member = Arc::new(RedisMember {
            cmds,
            closed: AtomicBool::new(false),
        });
        Subscription::assemble(rx, inbox, member)
    }
}

enum Cmd {
    Join(String),
    Leave(String),
    Close,
}

struct RedisMember {
    cmds: mpsc::UnboundedSender<Cmd>,
    closed: AtomicBool,
}

impl Membership for RedisMember {
    fn join(&self, channel: &str) {
        let _ = self.cmds.send(Cmd::Join(channel.to_string()));
    }
    fn leave(&self, channel: &str) {
        let _ = self.cmds.send(Cmd::Leave(channel.to_string()));
    }
    fn close(&self) {
        if !self.closed.swap(true, Ordering::Relaxed) {
            let _ = self.cmds.send(Cmd::Close);
        }
    }
}

/// The wait before reconnect attempt `attempt`: 50 ms doubling to 1 s.
async fn backoff(attempt: u32) {
    use backon::BackoffBuilder;
    let delay = backon::ExponentialBuilder::default()
        .with_min_delay(Duration::from_millis(50))
        .with_max_delay(Duration::from_secs(1))
        .without_max_times()
        .build()
        .nth(attempt as usize)
        .unwrap_or(Duration::from_secs(1));
    tokio::time::sleep(delay).await;
}

/// Sends queued messages in pipelines. A failed pipeline is retried once on a fresh
/// connection (the usual failure is a connection Redis dropped when it restarted).
async fn publisher(
    client: ::redis::Client,
    prefix: Arc<str>,
    mut rx: mpsc::Receiver<(String, String)>,
    mut conn: Option<::redis::aio::MultiplexedConnection>,
) {
    let mut batch = Vec::with_capacity(PIPELINE);
    let mut down = false;
    let mut lost: u64 = 0;
    while rx.recv_many(&mut batch, PIPELINE).await > 0 {
        let mut pipe = ::redis::pipe();
        for (channel, text) in &batch {
            pipe.cmd("PUBLISH").arg(channel).arg(text).ignore();
        }
        let mut sent = false;
        for _ in 0..2 {
            if conn.is_none() {
                conn =
                    tokio::time::timeout(REDIS_TIMEOUT, client.get_multiplexed_async_connection())
                        .await
                        .ok()
                        .and_then(Result::ok);
            }
            let Some(c) = conn.as_mut() else { break };
            match tokio::time::timeout(REDIS_TIMEOUT, pipe.query_async::<()>(c)).await {
                Ok(Ok(())) => {
                    sent = true;
                    break;
                }
                _ => conn = None,
            }
        }
        if sent {
            if down {
                tracing::info!(lost, prefix = &*prefix, "Redis is back: publishing again");
                down = false;
                lost = 0;
            }
        } else {
            if !down {
                tracing::warn!("Redis is unreachable: live messages are dropped until it is back");
                down = true;
            }
            lost += batch.len() as u64;
        }
        batch.clear();
    }
}

/// One subscription's connection: SUBSCRIBEs to what it joined, hands messages to the inbox,
/// and reconnects (re-joining everything) when the connection is lost.
async fn subscriber(
    client: ::redis::Client,
    prefix: Arc<str>,
    inbox: Arc<Inbox>,
    mut cmds: mpsc::UnboundedReceiver<Cmd>,
    mut joined: HashSet<String>,
) {
    let mut attempt = 0u32;
    let mut connected_before = false;
    'connect: loop {
        if inbox.is_closed() {
            return;
        }
        let pubsub = tokio::select! {
            r = tokio::time::timeout(REDIS_TIMEOUT, client.get_async_pubsub()) => r.ok().and_then(Result::ok),
            cmd = cmds.recv() => {
                match cmd {
                    Some(Cmd::Join(c)) => { joined.insert(c); }
                    Some(Cmd::Leave(c)) => { joined.remove(&c); }
                    Some(Cmd::Close) | None => return,
                }
                continue 'connect;
            }
        };
        let Some(pubsub) = pubsub else {
            attempt += 1;
            backoff(attempt).await;
            continue;
        };
        let (mut sink, mut stream) = pubsub.split();
        if !joined.is_empty() {
            let names: Vec<String> = joined.iter().map(|c| format!("{prefix}{c}")).collect();
            if tokio::time::timeout(REDIS_TIMEOUT, sink.subscribe(names))
                .await
                .ok()
                .and_then(Result::ok)
                .is_none()
            {
                attempt += 1;
                backoff(attempt).await;
                continue;
            }
        }
        attempt = 0;
        if connected_before {
            tracing::info!("Redis subscription restored");
            inbox.lost(1);
        }
        connected_before = true;
        loop {
            tokio::select! {
                cmd = cmds.recv() => {
                    let ok = match cmd {
                        Some(Cmd::Join(c)) => {
                            let name = format!("{prefix}{c}");
                            !joined.insert(c)
                                || tokio::time::timeout(REDIS_TIMEOUT, sink.subscribe(name)).await.is_ok_and(|r| r.is_ok())
                        }
                        Some(Cmd::Leave(c)) => {
                            let name = format!("{prefix}{c}");
                            !joined.remove(&c)
                                || tokio::time::timeout(REDIS_TIMEOUT, sink.unsubscribe(name)).await.is_ok_and(|r| r.is_ok())
                        }
                        Some(Cmd::Close) | None => return,
                    };
                    if !ok {
                        break;
                    }
                }
                msg = stream.next() => {
                    let Some(msg) = msg else { break };
                    let Some(channel) = msg.get_channel_name().strip_prefix(&*prefix) else {
                        continue;
                    };
                    let payload = serde_json::from_slice(msg.get_payload_bytes()).unwrap_or(Value::Null);
                    let delivered = inbox.deliver(Message { channel: channel.to_string(), payload });
                    if !delivered {
                        return;
                    }
                }
            }
        }
        tracing::warn!("lost the Redis subscription connection; reconnecting");
    }
}
