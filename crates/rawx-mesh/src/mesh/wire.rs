//! Receptor's mesh ("netceptor") wire format, pure: no I/O, no clocks.
//!
//! Checked against receptor v1.4.9 `pkg/netceptor/netceptor.go` and `pkg/framer`:
//! * a stream backend (TCP, TLS) frames each message with a `u16` little-endian length;
//! * the first byte of a message is its type: 0 data, 1 routing update, 2 service
//!   advertisement, 3 reject; types 1–3 carry Go's `json.Marshal` of a struct after it;
//! * a data message has a 36-byte header: type, hops-to-live, two zero bytes, the from and to
//!   node IDs as big-endian HighwayHash-64 (all-zero key), the from and to services
//!   NUL-padded to 8 bytes, then the payload.
//!
//! JSON is written as Go writes it ([`go_json`]): struct fields in declaration order, map keys
//! sorted, floats without a trailing `.0`, `<`, `>` and `&` escaped.

use std::collections::BTreeMap;

use bytes::{Buf, BytesMut};
use serde::{Deserialize, Deserializer, Serialize};

pub const MSG_DATA: u8 = 0;
pub const MSG_ROUTE: u8 = 1;
pub const MSG_SERVICE_AD: u8 = 2;
pub const MSG_REJECT: u8 = 3;

/// The largest message the mesh carries (Go's `defaultMTU`).
pub const MTU: usize = 16384;
/// Hops-to-live of a new data message (Go's `defaultMaxForwardingHops`).
pub const MAX_FORWARDING_HOPS: u8 = 30;
pub const DATA_HEADER_LEN: usize = 36;

/// A service advertisement's `ConnType`.
pub const CONN_TYPE_DATAGRAM: u8 = 0;
pub const CONN_TYPE_STREAM: u8 = 1;
pub const CONN_TYPE_STREAM_TLS: u8 = 2;

/// The `Problem` of an unreachable notice.
pub const PROBLEM_SERVICE_UNKNOWN: &str = "service unknown";
pub const PROBLEM_EXPIRED: &str = "message expired";
pub const PROBLEM_REJECTED: &str = "blocked by firewall";

/// A node ID or service name as the data header carries it: HighwayHash-64 with a 32-byte
/// zero key, as `minio/highwayhash.New64(zerokey)` computes it.
pub fn name_hash(name: &str) -> u64 {
    use highway::{HighwayHash, HighwayHasher, Key};
    let mut h = HighwayHasher::new(Key([0; 4]));
    h.append(name.as_bytes());
    h.finalize64()
}

#[derive(Debug, Clone, PartialEq)]
pub enum Message {
    Data(DataMessage),
    Route(RoutingUpdate),
    ServiceAd(ServiceAd),
    Reject,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataMessage {
    pub hops_to_live: u8,
    /// Node IDs as hashed on the wire; names are learned from routing updates.
    pub from_node: u64,
    pub to_node: u64,
    pub from_service: String,
    pub to_service: String,
    pub payload: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RoutingUpdate {
    #[serde(rename = "NodeID")]
    pub node_id: String,
    #[serde(rename = "UpdateID")]
    pub update_id: String,
    pub update_epoch: u64,
    pub update_sequence: u64,
    #[serde(deserialize_with = "null_as_default")]
    pub connections: BTreeMap<String, f64>,
    pub forwarding_node: String,
    pub suspected_duplicate: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkCommand {
    #[serde(rename = "WorkType")]
    pub work_type: String,
    #[serde(rename = "Secure")]
    pub secure: bool,
}

/// Go's `serviceAdvertisementFull`: the advertisement's fields, then `Cancel`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ServiceAd {
    #[serde(rename = "NodeID")]
    pub node_id: String,
    pub service: String,
    /// RFC 3339 with nanoseconds, as Go's `time.Time` marshals; kept as text so a flooded
    /// advertisement is passed on exactly as received.
    pub time: String,
    pub conn_type: u8,
    pub tags: Option<BTreeMap<String, String>>,
    pub work_commands: Option<Vec<WorkCommand>>,
    #[serde(default)]
    pub cancel: bool,
}

impl ServiceAd {
    /// The advertisement as `status` shows it (Go's `ServiceAdvertisement`, without `Cancel`).
    pub fn status_json(&self) -> serde_json::Value {
        serde_json::json!({
            "NodeID": self.node_id,
            "Service": self.service,
            "Time": self.time,
            "ConnType": self.conn_type,
            "Tags": self.tags,
            "WorkCommands": self.work_commands,
        })
    }

    /// The time, for "a newer advertisement wins".
    pub fn parsed_time(&self) -> Option<time::OffsetDateTime> {
        time::OffsetDateTime::parse(&self.time, &time::format_description::well_known::Rfc3339).ok()
    }
}

/// The body of a data message to the reserved `unreach` service.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UnreachableMessage {
    pub from_node: String,
    pub to_node: String,
    pub from_service: String,
    pub to_service: String,
    pub problem: String,
}

fn null_as_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum WireError {
    #[error("empty message")]
    Empty,
    #[error("data too short to be a valid message")]
    Short,
    #[error("unknown message type {0}")]
    UnknownType(u8),
    #[error("malformed {what}: {message}")]
    Json { what: &'static str, message: String },
    #[error("service name {0:?} is longer than 8 bytes")]
    ServiceTooLong(String),
}

impl Message {
    pub fn decode(data: &[u8]) -> Result<Message, WireError> {
        let (&kind, body) = data.split_first().ok_or(WireError::Empty)?;
        let json = |what| {
            move |e: serde_json::Error| WireError::Json {
                what,
                message: e.to_string(),
            }
        };
        match kind {
            MSG_DATA => DataMessage::decode(data).map(Message::Data),
            MSG_ROUTE => serde_json::from_slice(body)
                .map(Message::Route)
                .map_err(json("routing update")),
            MSG_SERVICE_AD => serde_json::from_slice(body)
                .map(Message::ServiceAd)
                .map_err(json("service advertisement")),
            // Go ignores the body of a reject.
            MSG_REJECT => Ok(Message::Reject),
            other => Err(WireError::UnknownType(other)),
        }
    }

    pub fn encode(&self) -> Result<Vec<u8>, WireError> {
        match self {
            Message::Data(d) => d.encode(),
            Message::Route(r) => Ok(typed_json(MSG_ROUTE, r)),
            Message::ServiceAd(a) => Ok(typed_json(MSG_SERVICE_AD, a)),
            Message::Reject => Ok(typed_json(MSG_REJECT, &Vec::<String>::new())),
        }
    }
}

fn typed_json<T: Serialize>(kind: u8, value: &T) -> Vec<u8> {
    let mut out = vec![kind];
    out.extend_from_slice(&go_json::to_vec(value));
    out
}

impl DataMessage {
    pub fn decode(data: &[u8]) -> Result<DataMessage, WireError> {
        let mut d = DataMessage::decode_header(data)?;
        d.payload = data[DATA_HEADER_LEN..].to_vec();
        Ok(d)
    }

    /// The header alone (the payload left empty): what a hop needs to pass a message on.
    pub fn decode_header(data: &[u8]) -> Result<DataMessage, WireError> {
        if data.len() < DATA_HEADER_LEN {
            return Err(WireError::Short);
        }
        let u64_at = |i: usize| u64::from_be_bytes(data[i..i + 8].try_into().expect("8 bytes"));
        Ok(DataMessage {
            hops_to_live: data[1],
            from_node: u64_at(4),
            to_node: u64_at(12),
            from_service: fixed_string(&data[20..28]),
            to_service: fixed_string(&data[28..36]),
            payload: Vec::new(),
        })
    }

    pub fn encode(&self) -> Result<Vec<u8>, WireError> {
        DataMessage::encode_parts(
            self.hops_to_live,
            self.from_node,
            self.to_node,
            &self.from_service,
            &self.to_service,
            &self.payload,
        )
    }

    /// Encodes a data message from its parts, the payload copied once.
    pub fn encode_parts(
        hops_to_live: u8,
        from_node: u64,
        to_node: u64,
        from_service: &str,
        to_service: &str,
        payload: &[u8],
    ) -> Result<Vec<u8>, WireError> {
        let mut out = Vec::with_capacity(DATA_HEADER_LEN + payload.len());
        out.extend_from_slice(&[MSG_DATA, hops_to_live, 0, 0]);
        out.extend_from_slice(&from_node.to_be_bytes());
        out.extend_from_slice(&to_node.to_be_bytes());
        for s in [from_service, to_service] {
            if s.len() > 8 {
                return Err(WireError::ServiceTooLong(s.to_string()));
            }
            let mut field = [0u8; 8];
            field[..s.len()].copy_from_slice(s.as_bytes());
            out.extend_from_slice(&field);
        }
        out.extend_from_slice(payload);
        Ok(out)
    }
}

/// Go's `stringFromFixedLenBytes`: the bytes without trailing NULs.
fn fixed_string(b: &[u8]) -> String {
    let end = b.iter().rposition(|&c| c != 0).map_or(0, |p| p + 1);
    String::from_utf8_lossy(&b[..end]).into_owned()
}

/// The framing of a stream backend: a `u16` little-endian length, then the message.
pub fn frame(message: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(message.len() + 2);
    // Go truncates the length to 16 bits; messages never exceed the MTU, so it fits.
    out.extend_from_slice(&(message.len() as u16).to_le_bytes());
    out.extend_from_slice(message);
    out
}

/// Splits frames out of a byte stream (Go's `framer`). Bytes are read straight into its
/// buffer ([`Deframer::buffer`]) and each message is cut from it without a copy: a hop passes
/// the very bytes it read on to the next link, and a local service gets a view of them.
#[derive(Default)]
pub struct Deframer {
    buf: BytesMut,
}

impl Deframer {
    pub fn push(&mut self, data: &[u8]) {
        self.buf.extend_from_slice(data);
    }

    /// The buffer to read into, with room for at least `room` more bytes. Messages already
    /// taken keep their share of the old allocation; only a partial frame moves.
    pub fn buffer(&mut self, room: usize) -> &mut BytesMut {
        self.buf.reserve(room);
        &mut self.buf
    }

    pub fn next_message(&mut self) -> Option<BytesMut> {
        if self.buf.len() < 2 {
            return None;
        }
        let len = u16::from_le_bytes([self.buf[0], self.buf[1]]) as usize;
        if self.buf.len() < len + 2 {
            return None;
        }
        self.buf.advance(2);
        Some(self.buf.split_to(len))
    }
}

/// JSON as Go's `encoding/json` writes it.
pub mod go_json {
    use std::io;

    use serde::Serialize;

    pub fn to_vec<T: Serialize + ?Sized>(value: &T) -> Vec<u8> {
        let mut out = Vec::new();
        let mut ser = serde_json::Serializer::with_formatter(&mut out, GoFormatter);
        value
            .serialize(&mut ser)
            .expect("plain data always serializes");
        out
    }

    /// Go's number and string rules: `strconv.AppendFloat(f, 'f', -1)` between 1e-6 and 1e21
    /// (so `1.0` is `1`), exponent form outside; HTML characters and U+2028/9 escaped.
    struct GoFormatter;

    impl serde_json::ser::Formatter for GoFormatter {
        fn write_f64<W: ?Sized + io::Write>(&mut self, w: &mut W, value: f64) -> io::Result<()> {
            w.write_all(go_float(value).as_bytes())
        }

        fn write_f32<W: ?Sized + io::Write>(&mut self, w: &mut W, value: f32) -> io::Result<()> {
            w.write_all(go_float(value as f64).as_bytes())
        }

        fn write_string_fragment<W: ?Sized + io::Write>(
            &mut self,
            w: &mut W,
            fragment: &str,
        ) -> io::Result<()> {
            let mut last = 0;
            for (i, c) in fragment.char_indices() {
                let esc = match c {
                    '<' => "\\u003c",
                    '>' => "\\u003e",
                    '&' => "\\u0026",
                    '\u{2028}' => "\\u2028",
                    '\u{2029}' => "\\u2029",
                    _ => continue,
                };
                w.write_all(&fragment.as_bytes()[last..i])?;
                w.write_all(esc.as_bytes())?;
                last = i + c.len_utf8();
            }
            w.write_all(&fragment.as_bytes()[last..])
        }
    }

    pub fn go_float(v: f64) -> String {
        let abs = v.abs();
        if abs != 0.0 && !(1e-6..1e21).contains(&abs) {
            // Rust writes `1e21` and `1e-7`; Go writes `1e+21` and `1e-7`.
            let s = format!("{v:e}");
            match s.split_once('e') {
                Some((m, e)) if !e.starts_with('-') => format!("{m}e+{e:0>2}"),
                _ => s,
            }
        } else {
            // Rust's Display is the shortest representation that round-trips, as Go's -1.
            format!("{v}")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_floats() {
        use go_json::go_float;
        assert_eq!(go_float(1.0), "1");
        assert_eq!(go_float(1.5), "1.5");
        assert_eq!(go_float(0.1), "0.1");
        assert_eq!(go_float(100.0), "100");
        assert_eq!(go_float(1e21), "1e+21");
        assert_eq!(go_float(1e-7), "1e-7");
        assert_eq!(go_float(0.0), "0");
    }

    #[test]
    fn html_escapes() {
        let v = serde_json::json!({"a": "<x&y>"});
        assert_eq!(go_json::to_vec(&v), br#"{"a":"\u003cx\u0026y\u003e"}"#);
    }

    #[test]
    fn deframer_splits_across_reads() {
        let mut d = Deframer::default();
        let mut stream = frame(b"hello");
        stream.extend(frame(b""));
        stream.extend(frame(b"x"));
        for b in &stream {
            d.push(&[*b]);
        }
        assert_eq!(&d.next_message().unwrap()[..], b"hello");
        assert_eq!(&d.next_message().unwrap()[..], b"");
        assert_eq!(&d.next_message().unwrap()[..], b"x");
        assert!(d.next_message().is_none());
    }
}
