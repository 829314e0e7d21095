//! One control-socket session: the greeting, then one reply per command until EOF. Errors
//! are `ERROR:` lines and the session goes on; only a broken stream ends it early.

use std::collections::BTreeMap;
use std::io;
use std::os::fd::OwnedFd;
use std::time::Instant;

use serde_json::{json, Value};
use tokio::io::unix::AsyncFd;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};

use super::lines::{read_line, Line, Request, MAX_LINE};
use crate::node::{Node, SubmitRequest};
use crate::work::{Outcome, ResultsReader, WorkError};

/// How the client reached us. Receptor checks work signatures on every connection but a
/// Unix socket, whose file mode already says who may connect.
pub enum ConnKind {
    /// Carries a duplicate of the socket, to tell a half-close from a client that vanished.
    Unix(Option<OwnedFd>),
    Tcp,
    /// A service stream over the mesh: `work results` is handed back to the caller, which
    /// gives QUIC the file's bytes as owned buffers (see [`serve_session`]).
    Quic,
}

type Reader<S> = BufReader<tokio::io::ReadHalf<S>>;
type Writer<S> = tokio::io::WriteHalf<S>;

/// Serves one connection until the client closes it. With [`ConnKind::Quic`], a `work
/// results` ends the session once its header line is written and returns the unit's reader:
/// the caller owns the QUIC send stream and can hand it each buffer read from the file
/// (`SendStream::write_chunk`), where writing a slice through the split half would copy every
/// byte into quinn's buffer once more.
pub async fn serve_session<S>(
    node: &Node,
    stream: S,
    kind: ConnKind,
) -> io::Result<Option<ResultsReader>>
where
    S: AsyncRead + AsyncWrite + Send,
{
    let (r, mut w) = tokio::io::split(stream);
    let mut r = BufReader::with_capacity(64 * 1024, r);
    session_loop(node, &mut r, &mut w, &kind).await
}

async fn greet<W: AsyncWrite + Unpin>(w: &mut W, node: &Node) -> io::Result<()> {
    w.write_all(format!("Receptor Control, node {}\n", node.id()).as_bytes())
        .await?;
    w.flush().await
}

async fn session_loop<S>(
    node: &Node,
    r: &mut Reader<S>,
    w: &mut Writer<S>,
    kind: &ConnKind,
) -> io::Result<Option<ResultsReader>>
where
    S: AsyncRead + AsyncWrite + Send,
{
    greet(w, node).await?;
    loop {
        let line = match read_line(r).await? {
            Line::Eof => return Ok(None),
            Line::TooLong(n) => {
                error(
                    w,
                    &format!("command line too long ({n} bytes; the limit is {MAX_LINE})"),
                )
                .await?;
                continue;
            }
            Line::Command(l) => l,
        };
        let req = match Request::parse(&line) {
            None => continue,
            Some(Err(e)) => {
                error(w, &e).await?;
                continue;
            }
            Some(Ok(req)) => req,
        };
        match req.command.as_str() {
            "status" => {
                let fields: Option<Vec<String>> = req
                    .json
                    .as_ref()
                    .and_then(|m| m.get("requested_fields"))
                    .and_then(Value::as_array)
                    .map(|a| {
                        a.iter()
                            .filter_map(|v| v.as_str().map(String::from))
                            .collect()
                    });
                reply(w, &node.status_report(fields.as_deref())).await?
            }
            "ping" => match req.arg(0, "target") {
                None => error(w, "no ping target").await?,
                Some(target) => reply(w, &ping(node, &target).await).await?,
            },
            "traceroute" => match req.arg(0, "target") {
                None => error(w, "no traceroute target").await?,
                Some(target) => reply(w, &traceroute(node, &target).await).await?,
            },
            "reload" => reply(w, &node.reload().await).await?,
            "connect" => {
                let target = req.arg(0, "node").unwrap_or_default();
                let service = req.arg(1, "service").unwrap_or_default();
                let own = node
                    .config()
                    .control_services
                    .iter()
                    .any(|c| c.service == service);
                if target == node.id() && own {
                    // The same node answers as a fresh session would.
                    w.write_all(b"Connecting\n").await?;
                    greet(w, node).await?;
                    continue;
                }
                let tls = req.arg(2, "tls").filter(|t| !t.is_empty());
                match connect(node, &target, &service, tls.as_deref()).await {
                    Ok((stream, connection)) => {
                        w.write_all(b"Connecting\n").await?;
                        w.flush().await?;
                        bridge(r, w, stream, connection).await;
                        return Ok(None);
                    }
                    Err(e) => error(w, &e).await?,
                }
            }
            "work" => match work(node, &req, r, w, kind).await? {
                Flow::Continue => {}
                Flow::End => return Ok(None),
                Flow::Results(reader) => return Ok(Some(reader)),
            },
            _ => error(w, "Unknown command").await?,
        }
    }
}

/// Opens a stream to a service on another node (Go's `connect`: `Dial` with the named
/// `tls-client`, or the insecure mode without one).
async fn connect(
    node: &Node,
    target: &str,
    service: &str,
    tls: Option<&str>,
) -> Result<(crate::mesh::quic::ServiceStream, quinn::Connection), String> {
    let Some(mesh) = node.mesh() else {
        return Err("no route to node".into());
    };
    let tls = match tls {
        None => None,
        Some(name) => Some(crate::mesh::receptor_client_config(
            node.config(),
            name,
            target,
        )?),
    };
    mesh.dial_stream(target, service, tls).await
}

/// Copies both ways until both sides have ended (Go's `BridgeConns`), passing a half-close
/// on: the client's end of input becomes the stream's FIN, and the service's end closes the
/// client's side.
async fn bridge<S>(
    r: &mut Reader<S>,
    w: &mut Writer<S>,
    stream: crate::mesh::quic::ServiceStream,
    connection: quinn::Connection,
) where
    S: AsyncRead + AsyncWrite + Send,
{
    let (mut recv, mut send) = stream.into_inner();
    let up = async {
        let _ = tokio::io::copy(r, &mut send).await;
        let _ = send.finish();
        let _ = send.stopped().await;
    };
    let down = async {
        let _ = tokio::io::copy(&mut recv, w).await;
        let _ = w.shutdown().await;
    };
    tokio::join!(up, down);
    connection.close(0u32.into(), b"normal close");
}

enum Flow {
    Continue,
    End,
    /// `work results` on a [`ConnKind::Quic`] stream: the header is written, the caller
    /// sends the rest.
    Results(ResultsReader),
}

async fn work<S>(
    node: &Node,
    req: &Request,
    r: &mut Reader<S>,
    w: &mut Writer<S>,
    kind: &ConnKind,
) -> io::Result<Flow>
where
    S: AsyncRead + AsyncWrite + Send,
{
    let sub = match &req.json {
        Some(m) => m
            .get("subcommand")
            .and_then(Value::as_str)
            .map(str::to_ascii_lowercase),
        None => req.args.first().map(|s| s.to_ascii_lowercase()),
    };
    // The text form's words after the subcommand.
    let arg = |i: usize, key: &str| req.arg(i + 1, key);
    let Some(sub) = sub else {
        error(w, "work: no subcommand").await?;
        return Ok(Flow::Continue);
    };
    // Go checks signatures on these, not on `status` or `list` (a remote unit's node asks
    // `work status` unsigned).
    if matches!(
        sub.as_str(),
        "results" | "cancel" | "release" | "force-release"
    ) {
        let required = arg(0, "unitid")
            .and_then(|id| node.status(&id).ok())
            .map(|st| node.unit_requires_signature(&st));
        if let Some(required) = required {
            if let Err(e) = authorize(node, req, kind, required) {
                error(w, &e).await?;
                return Ok(Flow::Continue);
            }
        }
    }
    match sub.as_str() {
        "submit" => return submit(node, req, r, w, kind).await,
        "list" => {
            let units = node.list();
            let picked: Result<BTreeMap<_, _>, _> = match arg(0, "unitid") {
                None => Ok(units),
                Some(id) => match units.get(&id) {
                    Some(st) => Ok(BTreeMap::from([(id, st.clone())])),
                    None => Err(WorkError::UnknownUnit(id)),
                },
            };
            match picked {
                Ok(units) => {
                    let m: serde_json::Map<String, Value> =
                        units.into_iter().map(|(k, v)| (k, v.to_reply())).collect();
                    reply(w, &Value::Object(m)).await?
                }
                Err(e) => error(w, &e.to_string()).await?,
            }
        }
        "status" => match unit_arg(w, arg(0, "unitid")).await? {
            None => {}
            Some(id) => match node.status(&id) {
                Ok(st) => reply(w, &st.to_reply()).await?,
                Err(e) => error(w, &e.to_string()).await?,
            },
        },
        "results" => {
            let Some(id) = unit_arg(w, arg(0, "unitid")).await? else {
                return Ok(Flow::Continue);
            };
            let start = match arg(1, "startpos").map(|s| s.parse::<u64>()) {
                None => 0,
                Some(Ok(n)) => n,
                Some(Err(_)) => {
                    error(
                        w,
                        "work results: the start position must be a non-negative integer",
                    )
                    .await?;
                    return Ok(Flow::Continue);
                }
            };
            match node.results(&id, start) {
                Err(e) => error(w, &e.to_string()).await?,
                Ok(mut reader) => {
                    w.write_all(format!("Streaming results for work unit {id}\n").as_bytes())
                        .await?;
                    if matches!(kind, ConnKind::Quic) {
                        w.flush().await?;
                        return Ok(Flow::Results(reader));
                    }
                    match unix_out(kind) {
                        Some(out) => {
                            reader.send_to_socket(&out).await?;
                        }
                        None => {
                            reader.copy_to(w).await?;
                        }
                    }
                    // Receptor closes the connection once the results are complete.
                    w.shutdown().await?;
                    return Ok(Flow::End);
                }
            }
        }
        "cancel" | "release" | "force-release" => {
            let Some(id) = unit_arg(w, arg(0, "unitid")).await? else {
                return Ok(Flow::Continue);
            };
            let release = sub != "cancel";
            let result = node.stop_unit(&id, release, sub == "force-release").await;
            let key = match (release, result.as_ref().ok()) {
                (false, Some(Outcome::Pending)) => "cancel pending",
                (false, _) => "cancelled",
                (true, Some(Outcome::Pending)) => "release pending",
                (true, _) => "released",
            };
            match result {
                Ok(_) => reply(w, &json!({ key: id })).await?,
                Err(e) => error(w, &e.to_string()).await?,
            }
        }
        other => error(w, &format!("work: unknown subcommand {other}")).await?,
    }
    Ok(Flow::Continue)
}

async fn submit<S>(
    node: &Node,
    req: &Request,
    r: &mut Reader<S>,
    w: &mut Writer<S>,
    kind: &ConnKind,
) -> io::Result<Flow>
where
    S: AsyncRead + AsyncWrite + Send,
{
    let parsed = match &req.json {
        Some(m) => submit_from_json(m),
        None => submit_from_text(&req.args),
    };
    let sub = match parsed {
        Ok(s) => s,
        Err(e) => {
            error(w, &e).await?;
            return Ok(Flow::Continue);
        }
    };
    if let Err(e) = authorize(node, req, kind, node.requires_signature(&sub.work_type)) {
        error(w, &e).await?;
        return Ok(Flow::Continue);
    }
    let pending = match node.create_unit(&sub) {
        Ok(p) => p,
        Err(e) => {
            error(w, &e.to_string()).await?;
            return Ok(Flow::Continue);
        }
    };
    let id = pending.id().to_string();
    w.write_all(format!("Work unit created with ID {id}. Send stdin data and EOF.\n").as_bytes())
        .await?;
    w.flush().await?;
    if let Err(e) = node.write_payload(&pending, r).await {
        // The stream is broken; the unit has been marked Failed.
        let _ = error(w, &e.to_string()).await;
        return Ok(Flow::End);
    }
    if let ConnKind::Unix(Some(fd)) = kind {
        if peer_hung_up(fd) {
            node.abandon_unit(
                pending,
                "Error: payload truncated: the client closed the connection instead of half-closing it after the payload",
            );
            tracing::warn!(unit = %id, "work submit: client vanished before the payload was complete");
            return Ok(Flow::End);
        }
    }
    match node.start_unit_reporting(pending).await {
        Ok((id, true)) => reply(w, &json!({"result": "Job Started", "unitid": id})).await?,
        // A remote unit whose node cannot be reached yet: it goes on trying.
        Ok((id, false)) => reply(w, &json!({"result": "Job Submitted", "unitid": id})).await?,
        Err(e) => error(w, &e.to_string()).await?,
    }
    Ok(Flow::Continue)
}

/// The Unix socket itself, registered for writing, so `work results` can hand the file's
/// pages to it with `sendfile` (see `ResultsReader::send_to_socket`). The session writes
/// through tokio's unbuffered socket, so nothing it wrote before is still pending. `None` for
/// other connections (TLS and QUIC streams need their bytes in user space), or when the
/// duplicate cannot be made.
fn unix_out(kind: &ConnKind) -> Option<AsyncFd<OwnedFd>> {
    let ConnKind::Unix(Some(fd)) = kind else {
        return None;
    };
    let dup = rustix::io::dup(fd).ok()?;
    // Deprecated because a borrowed fd could be closed while registered; an `OwnedFd` lives
    // exactly as long as its registration, and `register_with_interest` is `unsafe`, which
    // this crate forbids.
    #[allow(deprecated)]
    AsyncFd::with_interest(dup, tokio::io::Interest::WRITABLE).ok()
}

/// Receptor checks signatures on every connection but the Unix socket, whose file mode
/// already says who may connect.
fn authorize(node: &Node, req: &Request, kind: &ConnKind, required: bool) -> Result<(), String> {
    if matches!(kind, ConnKind::Unix(_)) {
        return Ok(());
    }
    let signature = req
        .json
        .as_ref()
        .and_then(|m| m.get("signature"))
        .and_then(Value::as_str);
    if required {
        node.verify_signature(signature).map_err(|e| e.to_string())
    } else if signature.is_some_and(|s| !s.is_empty()) {
        Err("work type did not expect a signature".into())
    } else {
        Ok(())
    }
}

fn submit_from_json(m: &serde_json::Map<String, Value>) -> Result<SubmitRequest, String> {
    let mut sub = SubmitRequest::default();
    for (k, v) in m {
        let Value::String(s) = v else {
            return Err(format!("work submit: value of {k} must be a string"));
        };
        match k.as_str() {
            "command" | "subcommand" | "signature" => {}
            "node" => sub.node = Some(s.clone()),
            "worktype" => sub.work_type = s.clone(),
            "tlsclient" => sub.tls_client = Some(s.clone()).filter(|s| !s.is_empty()),
            "ttl" => sub.ttl = Some(s.clone()).filter(|s| !s.is_empty()),
            "signwork" => sub.sign_work = crate::config::parse_bool_text(s).unwrap_or(false),
            _ => {
                sub.params.insert(k.clone(), s.clone());
            }
        }
    }
    if sub.work_type.is_empty() {
        return Err("work submit: no worktype".into());
    }
    Ok(sub)
}

/// `work submit NODE TYPE [params…]`.
fn submit_from_text(args: &[String]) -> Result<SubmitRequest, String> {
    let (Some(node), Some(work_type)) = (args.get(1), args.get(2)) else {
        return Err("work submit: expected NODE WORKTYPE [params...]".into());
    };
    let mut sub = SubmitRequest::new(work_type);
    sub.node = Some(node.clone());
    let params = args[3..].join(" ");
    if !params.trim().is_empty() {
        sub.params.insert("params".into(), params);
    }
    Ok(sub)
}

async fn unit_arg<W: AsyncWrite + Unpin>(
    w: &mut W,
    id: Option<String>,
) -> io::Result<Option<String>> {
    if id.is_none() {
        error(w, "no work unit ID given").await?;
    }
    Ok(id)
}

async fn ping(node: &Node, target: &str) -> Value {
    let started = Instant::now();
    let Some(mesh) = node.mesh() else {
        // An in-process node without a mesh answers for itself only.
        if target == node.id() || target.eq_ignore_ascii_case("localhost") {
            let ns = started.elapsed().as_nanos().max(1) as u64;
            return json!({"From": node.id(), "Success": true, "Time": ns, "TimeStr": go_duration(ns)});
        }
        return json!({"Error": "no route to node", "Success": false});
    };
    let p = mesh
        .ping(target, crate::mesh::wire::MAX_FORWARDING_HOPS)
        .await;
    let ns = p.time.as_nanos() as u64;
    // Go fills a map: keys sorted when marshalled.
    match p.result {
        Ok(()) => json!({"From": p.from, "Success": true, "Time": ns, "TimeStr": go_duration(ns)}),
        Err(e) => json!({"Error": e, "Success": false}),
    }
}

/// One entry per hop, keyed "0", "1", …: From, Time, TimeStr and, on failure, Error.
async fn traceroute(node: &Node, target: &str) -> Value {
    let Some(mesh) = node.mesh() else {
        let p = ping(node, target).await;
        let mut hop = serde_json::Map::new();
        for key in ["Error", "From", "Time", "TimeStr"] {
            if let Some(v) = p.get(key) {
                hop.insert(key.into(), v.clone());
            }
        }
        return json!({ "0": hop });
    };
    let hops = mesh.traceroute(target).await;
    let mut out = serde_json::Map::new();
    for (i, h) in hops.into_iter().enumerate() {
        let ns = h.time.as_nanos() as u64;
        let mut hop = serde_json::Map::new();
        if let Some(e) = h.error {
            hop.insert("Error".into(), json!(e));
        }
        hop.insert("From".into(), json!(h.from));
        hop.insert("Time".into(), json!(ns));
        hop.insert("TimeStr".into(), json!(go_duration(ns)));
        out.insert(i.to_string(), Value::Object(hop));
    }
    Value::Object(out)
}

/// Go's `time.Duration.String()` for the short times a ping takes.
pub(crate) fn go_duration(ns: u64) -> String {
    let trim = |v: f64| {
        let s = format!("{v:.9}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    };
    match ns {
        0 => "0s".into(),
        n if n < 1_000 => format!("{n}ns"),
        n if n < 1_000_000 => format!("{}µs", trim(n as f64 / 1e3)),
        n if n < 1_000_000_000 => format!("{}ms", trim(n as f64 / 1e6)),
        n => format!("{}s", trim(n as f64 / 1e9)),
    }
}

fn peer_hung_up(fd: &OwnedFd) -> bool {
    use rustix::event::{poll, PollFd, PollFlags};
    let mut fds = [PollFd::new(fd, PollFlags::IN | PollFlags::RDHUP)];
    let zero = rustix::event::Timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    match poll(&mut fds, Some(&zero)) {
        Ok(_) => fds[0].revents().contains(PollFlags::HUP),
        Err(_) => false,
    }
}

async fn reply<W: AsyncWrite + Unpin>(w: &mut W, v: &Value) -> io::Result<()> {
    // As Go marshals it: `1` for a float 1.0, `<>&` escaped.
    let mut line = crate::mesh::wire::go_json::to_vec(v);
    line.push(b'\n');
    w.write_all(&line).await?;
    w.flush().await
}

async fn error<W: AsyncWrite + Unpin>(w: &mut W, message: &str) -> io::Result<()> {
    let one_line = message.replace('\n', " ");
    w.write_all(format!("ERROR: {one_line}\n").as_bytes())
        .await?;
    w.flush().await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations() {
        assert_eq!(go_duration(1_234_567), "1.234567ms");
        assert_eq!(go_duration(20_000), "20µs");
        assert_eq!(go_duration(900), "900ns");
        assert_eq!(go_duration(1_500_000_000), "1.5s");
    }

    #[test]
    fn submit_forms() {
        let json = serde_json::from_str::<Value>(
            r#"{"command": "work", "subcommand": "submit", "node": "localhost", "worktype": "local", "params": "--private-data-dir=/tmp/x --delete"}"#,
        )
        .unwrap();
        let sub = submit_from_json(json.as_object().unwrap()).unwrap();
        assert_eq!(sub.work_type, "local");
        assert_eq!(sub.params["params"], "--private-data-dir=/tmp/x --delete");
        assert_eq!(sub.params.len(), 1);
        let bad = serde_json::from_str::<Value>(
            r#"{"command":"work","subcommand":"submit","worktype":"x","ttl":20}"#,
        )
        .unwrap();
        assert!(submit_from_json(bad.as_object().unwrap())
            .unwrap_err()
            .contains("ttl"));
        let args: Vec<String> = "submit n1 cat -n x".split(' ').map(String::from).collect();
        let sub = submit_from_text(&args).unwrap();
        assert_eq!(
            (sub.node.as_deref(), sub.params["params"].as_str()),
            (Some("n1"), "-n x")
        );
    }
}
