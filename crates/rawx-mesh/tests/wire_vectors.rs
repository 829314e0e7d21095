//! The mesh wire format against the golden vectors in `data/netceptor-vectors.txt`: every
//! message decodes, and re-encodes byte for byte (JSON in Go's field order and number format).

use rawx_mesh::mesh::wire::{self, DataMessage, Message, UnreachableMessage};

const VECTORS: &str = include_str!("data/netceptor-vectors.txt");

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// (json or None, message bytes, tcp frame or None), in file order.
type Case = (Option<String>, Vec<u8>, Option<Vec<u8>>);

fn cases() -> Vec<Case> {
    let mut out = Vec::new();
    let mut json = None;
    let mut message: Option<Vec<u8>> = None;
    for line in VECTORS.lines() {
        if let Some(j) = line.strip_prefix("json: ") {
            json = Some(j.to_string());
        } else if let Some(h) = line.strip_prefix("message hex: ") {
            message = Some(unhex(h));
        } else if let Some(h) = line.strip_prefix("tcp frame hex: ") {
            let frame = unhex(h);
            // A frame given without its message: the message is the frame's body.
            let msg = message.take().unwrap_or_else(|| frame[2..].to_vec());
            out.push((json.take(), msg, Some(frame)));
        } else if line.starts_with('#') || line.trim().is_empty() {
            if let Some(m) = message.take() {
                out.push((json.take(), m, None));
            }
        }
    }
    if let Some(m) = message.take() {
        out.push((json.take(), m, None));
    }
    out
}

#[test]
fn hashes_match_the_go_library() {
    let mut n = 0;
    for line in VECTORS.lines() {
        let Some(rest) = line.strip_prefix("hash64 '") else {
            continue;
        };
        let (name, hex) = rest.split_once("' = 0x").unwrap();
        assert_eq!(
            wire::name_hash(name),
            u64::from_str_radix(hex, 16).unwrap(),
            "{name}"
        );
        n += 1;
    }
    assert_eq!(n, 5);
}

#[test]
fn every_vector_round_trips_byte_for_byte() {
    let cases = cases();
    assert_eq!(cases.len(), 6, "vectors parsed: {cases:?}");
    for (json, bytes, frame) in &cases {
        let msg = Message::decode(bytes).unwrap();
        assert_eq!(&msg.encode().unwrap(), bytes, "{msg:?}");
        if let Some(frame) = frame {
            assert_eq!(&wire::frame(bytes), frame);
            let mut d = wire::Deframer::default();
            d.push(frame);
            assert_eq!(&d.next_message().unwrap(), bytes);
        }
        match (&msg, json) {
            (Message::Route(_) | Message::ServiceAd(_), Some(j)) => {
                assert_eq!(&bytes[1..], j.as_bytes())
            }
            (Message::Data(d), Some(j)) => {
                // The unreachable notice carries its JSON as the payload.
                assert_eq!(d.payload, j.as_bytes());
                let u: UnreachableMessage = serde_json::from_slice(&d.payload).unwrap();
                assert_eq!(wire::go_json::to_vec(&u), j.as_bytes());
                assert_eq!(u.problem, wire::PROBLEM_SERVICE_UNKNOWN);
            }
            _ => {}
        }
    }
}

#[test]
fn decoded_fields() {
    let cases = cases();
    let Message::Route(r) = Message::decode(&cases[1].1).unwrap() else {
        panic!("not a routing update")
    };
    assert_eq!(r.node_id, "node1");
    assert_eq!(r.update_sequence, 2);
    assert_eq!(r.update_epoch, 28504986034543210);
    assert_eq!(r.connections["hop1"], 1.0);
    let Message::ServiceAd(ad) = Message::decode(&cases[2].1).unwrap() else {
        panic!("not an ad")
    };
    assert_eq!(ad.conn_type, 2);
    assert!(ad.parsed_time().is_some());
    assert_eq!(
        ad.work_commands.as_ref().unwrap()[0].work_type,
        "ansible-runner"
    );
    assert_eq!(Message::decode(&cases[3].1).unwrap(), Message::Reject);
    let Message::Data(d) = Message::decode(&cases[4].1).unwrap() else {
        panic!("not data")
    };
    assert_eq!(
        d,
        DataMessage {
            hops_to_live: 30,
            from_node: wire::name_hash("node1"),
            to_node: wire::name_hash("hop1"),
            from_service: "Ab12Cd34".into(),
            to_service: "ping".into(),
            payload: vec![],
        }
    );
    let Message::Data(u) = Message::decode(&cases[5].1).unwrap() else {
        panic!("not data")
    };
    assert_eq!(
        (u.from_service.as_str(), u.to_service.as_str()),
        ("unreach", "unreach")
    );
    assert_eq!(u.from_node, wire::name_hash("exec1"));
}
