//! Data messages (Go's `handleMessageData` and `forwardMessage`): the firewall on every
//! hop, delivery to a local datagram service or the reserved `ping` and `unreach`, or
//! forwarding to the next hop with one hop less to live; unreachable notices back to the
//! sender when a message cannot go on.

use std::sync::{Arc, Weak};

use bytes::{Buf, Bytes, BytesMut};
use tokio::sync::{broadcast, mpsc};

use super::core::{random_string, Datagram, Inner, Mesh, MessageData, Unreachable, QUEUE};
use super::firewall::{self, Action, Packet};
use super::wire::{self, DataMessage, UnreachableMessage};

impl Mesh {
    /// Names the two ends of a data message; the payload moves, uncopied.
    pub(super) fn translate(&self, d: DataMessage) -> Result<MessageData, String> {
        let (from_node, to_node) = {
            let st = self.lock();
            let name = |h: u64| {
                st.names
                    .get(&h)
                    .cloned()
                    .ok_or_else(|| format!("hash {h:016x} not found"))
            };
            (name(d.from_node)?, name(d.to_node)?)
        };
        Ok(MessageData {
            from_node,
            to_node,
            from_service: d.from_service,
            to_service: d.to_service,
            hops_to_live: d.hops_to_live,
            data: Bytes::from(d.payload),
        })
    }

    /// A data message as a link delivered it (Go's `handleMessageData` of a received message).
    /// It is forwarded as it came, one hop less to live, without being decoded and encoded
    /// again; a local service gets its payload uncopied (a view past the header). A service
    /// stream's every QUIC packet passes here on every hop.
    pub(super) fn handle_data_bytes(&self, mut raw: BytesMut) -> Result<(), String> {
        let md = self.translate(DataMessage::decode_header(&raw).map_err(|e| e.to_string())?)?;
        if !self.passes_firewall(&md) {
            return Ok(());
        }
        if md.to_node == self.inner.node_id {
            raw.advance(wire::DATA_HEADER_LEN);
            return self.deliver(MessageData {
                data: raw.freeze(),
                ..md
            });
        }
        if md.hops_to_live == 0 {
            if md.from_service != "unreach" {
                self.send_unreachable(&md, wire::PROBLEM_EXPIRED);
            }
            return Ok(());
        }
        // As Go re-encodes it: one hop less, the two spare bytes zero.
        raw[1] = md.hops_to_live - 1;
        raw[2] = 0;
        raw[3] = 0;
        self.to_next_hop(&md.to_node, raw.freeze())
    }

    /// Sends `payload` from a local service to a service on another node with the most hops
    /// to live, building the message with one copy (the QUIC packets of service streams).
    pub fn send_datagram(
        &self,
        from_service: &str,
        to_node: &str,
        to_service: &str,
        payload: &[u8],
    ) -> Result<(), String> {
        if to_node == self.inner.node_id || to_node.eq_ignore_ascii_case("localhost") {
            return self.send_message(
                from_service,
                to_node,
                to_service,
                payload.to_vec(),
                wire::MAX_FORWARDING_HOPS,
            );
        }
        // The names are copied for the firewall only when it has rules: this runs for every
        // QUIC packet a node sends.
        if !self.inner.opts.firewall.is_empty() {
            let head = MessageData {
                from_node: self.inner.node_id.clone(),
                from_service: from_service.into(),
                to_node: to_node.into(),
                to_service: to_service.into(),
                hops_to_live: wire::MAX_FORWARDING_HOPS,
                data: Bytes::new(),
            };
            if !self.passes_firewall(&head) {
                return Ok(());
            }
        }
        let bytes = DataMessage::encode_parts(
            wire::MAX_FORWARDING_HOPS,
            wire::name_hash(&self.inner.node_id),
            wire::name_hash(to_node),
            from_service,
            to_service,
            payload,
        )
        .map_err(|e| e.to_string())?;
        self.to_next_hop(to_node, Bytes::from(bytes))
    }

    /// Sends a data message from a local service (Go's `SendMessageWithHopsToLive`).
    pub fn send_message(
        &self,
        from_service: &str,
        to_node: &str,
        to_service: &str,
        data: Vec<u8>,
        hops_to_live: u8,
    ) -> Result<(), String> {
        if from_service.len() > 8 || to_service.len() > 8 {
            return Err("service name too long".into());
        }
        let to_node = if to_node.eq_ignore_ascii_case("localhost") {
            self.inner.node_id.clone()
        } else {
            to_node.to_string()
        };
        self.handle_message_data(MessageData {
            from_node: self.inner.node_id.clone(),
            from_service: from_service.into(),
            to_node,
            to_service: to_service.into(),
            hops_to_live,
            data: Bytes::from(data),
        })
    }

    /// Go's `handleMessageData`: the firewall, then local delivery or forwarding.
    pub(super) fn handle_message_data(&self, md: MessageData) -> Result<(), String> {
        if !self.passes_firewall(&md) {
            return Ok(());
        }
        if md.to_node != self.inner.node_id {
            return self.forward(md);
        }
        self.deliver(md)
    }

    /// The firewall's verdict; a rejected message gets an unreachable notice back.
    fn passes_firewall(&self, md: &MessageData) -> bool {
        if self.inner.opts.firewall.is_empty() {
            return true;
        }
        let action = firewall::decide(
            &self.inner.opts.firewall,
            &Packet {
                from_node: &md.from_node,
                to_node: &md.to_node,
                from_service: &md.from_service,
                to_service: &md.to_service,
            },
        );
        match action {
            Action::Accept => true,
            Action::Drop => false,
            Action::Reject => {
                if md.from_service != "unreach" {
                    self.send_unreachable(md, wire::PROBLEM_REJECTED);
                }
                false
            }
        }
    }

    /// A message for this node: the reserved `ping` and `unreach`, or a listening service.
    fn deliver(&self, md: MessageData) -> Result<(), String> {
        match md.to_service.as_str() {
            "ping" => {
                return self.send_message(
                    "ping",
                    &md.from_node,
                    &md.from_service,
                    Vec::new(),
                    wire::MAX_FORWARDING_HOPS,
                )
            }
            "unreach" => {
                let message: UnreachableMessage =
                    serde_json::from_slice(&md.data).map_err(|e| e.to_string())?;
                tracing::warn!(
                    "Received unreachable message from {} (service {}) to {} (service {}): ttl {}, data {}",
                    md.from_node, md.from_service, md.to_node, md.to_service, md.hops_to_live, message.problem
                );
                let _ = self.inner.unreach.send(Unreachable {
                    message,
                    received_from: md.from_node,
                });
                return Ok(());
            }
            _ => {}
        }
        let listener = self.lock().listeners.get(&md.to_service).cloned();
        match listener {
            Some(tx) if !tx.is_closed() => {
                let _ = tx.try_send(Datagram {
                    from_node: md.from_node,
                    from_service: md.from_service,
                    data: md.data,
                });
                Ok(())
            }
            _ if md.from_node == self.inner.node_id => Err(wire::PROBLEM_SERVICE_UNKNOWN.into()),
            _ => {
                self.send_unreachable(&md, wire::PROBLEM_SERVICE_UNKNOWN);
                Ok(())
            }
        }
    }

    fn send_unreachable(&self, md: &MessageData, problem: &str) {
        let body = wire::go_json::to_vec(&UnreachableMessage {
            from_node: md.from_node.clone(),
            to_node: md.to_node.clone(),
            from_service: md.from_service.clone(),
            to_service: md.to_service.clone(),
            problem: problem.into(),
        });
        let _ = self.send_message(
            "unreach",
            &md.from_node,
            "unreach",
            body,
            wire::MAX_FORWARDING_HOPS,
        );
    }

    fn forward(&self, md: MessageData) -> Result<(), String> {
        if md.hops_to_live == 0 {
            if md.from_service != "unreach" {
                self.send_unreachable(&md, wire::PROBLEM_EXPIRED);
            }
            return Ok(());
        }
        let from = self.add_name(&md.from_node);
        let to = self.add_name(&md.to_node);
        let bytes = DataMessage::encode_parts(
            md.hops_to_live - 1,
            from,
            to,
            &md.from_service,
            &md.to_service,
            &md.data,
        )
        .map_err(|e| e.to_string())?;
        self.to_next_hop(&md.to_node, Bytes::from(bytes))
    }

    /// Queues an encoded message on the link the routing table names for `to_node`.
    fn to_next_hop(&self, to_node: &str, bytes: Bytes) -> Result<(), String> {
        let st = self.lock();
        let next = st.routes.next_hop.get(to_node).ok_or("no route to node")?;
        let conn = st
            .connections
            .get(next)
            .ok_or("no connection to next hop")?;
        conn.tx
            .try_send(bytes)
            .map_err(|_| "the link to the next hop is full or closed".to_string())
    }

    /// Registers a datagram service; `None` picks an unused 8-character name.
    pub fn listen(&self, service: Option<&str>) -> Result<PacketListener, String> {
        let mut st = self.lock();
        let service = match service {
            Some(s) if s.len() > 8 => return Err(format!("service name {s} too long")),
            Some(s) => s.to_string(),
            None => loop {
                let s = random_string(8);
                if !st.listeners.contains_key(&s) && s != "ping" && s != "unreach" {
                    break s;
                }
            },
        };
        if service == "ping" || service == "unreach" || st.listeners.contains_key(&service) {
            return Err(format!("service {service} is already listening"));
        }
        let (tx, rx) = mpsc::channel(QUEUE);
        st.listeners.insert(service.clone(), tx);
        Ok(PacketListener {
            service,
            rx,
            mesh: Arc::downgrade(&self.inner),
        })
    }

    pub fn subscribe_unreachable(&self) -> broadcast::Receiver<Unreachable> {
        self.inner.unreach.subscribe()
    }
}

/// A datagram service on this node; unregistered when dropped.
pub struct PacketListener {
    pub service: String,
    pub rx: mpsc::Receiver<Datagram>,
    mesh: Weak<Inner>,
}

impl Drop for PacketListener {
    fn drop(&mut self) {
        if let Some(inner) = self.mesh.upgrade() {
            inner
                .state
                .lock()
                .expect("mesh state lock")
                .listeners
                .remove(&self.service);
        }
    }
}
