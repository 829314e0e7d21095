//! End-to-end: rawx's own logs. Shipping to receivers this test starts (TCP with a buffer
//! replayed after an outage, UDP, HTTPS), with no secret in what is shipped; AWX's rules for the
//! logging settings; JSON logs with a level per component.

use rawx_testkit::lab::{wait_final, Fixture};
use rawx_testkit::ops::*;
use rawx_testkit::{eventually, tail, Server, ADMIN_PW};
use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

// ---- log shipping ------------------------------------------------------------------------
/// What a receiver got: one entry per document (a line, a datagram, a request body).
#[derive(Clone, Default)]
struct Received {
    docs: Arc<Mutex<Vec<String>>>,
    /// `Authorization` headers of HTTP requests.
    auth: Arc<Mutex<Vec<String>>>,
}

impl Received {
    fn all(&self) -> Vec<Value> {
        self.docs
            .lock()
            .unwrap()
            .iter()
            .map(|d| serde_json::from_str(d).unwrap_or_else(|e| panic!("not JSON ({e}): {d}")))
            .collect()
    }

    fn raw(&self) -> String {
        self.docs.lock().unwrap().join("\n")
    }

    /// Waits until `pred` holds of the documents received so far.
    fn wait(&self, s: &Server, what: &str, pred: impl Fn(&[Value]) -> bool) -> Vec<Value> {
        eventually(Duration::from_secs(40), || {
            let docs = self.all();
            if pred(&docs) {
                return Ok(docs);
            }
            Err(format!(
                "{what}: the receiver has {} documents; last: {:?}\n--- server\n{}",
                docs.len(),
                docs.last(),
                tail(&s.logs(), 3000)
            ))
        })
    }
}

/// A TCP receiver of JSON lines, which can be stopped (closing its connections) and started
/// again on the same port, as an aggregator that goes down and comes back.
struct TcpReceiver {
    port: u16,
    got: Received,
    stop: Arc<AtomicBool>,
    conns: Arc<Mutex<Vec<TcpStream>>>,
    accept: Option<std::thread::JoinHandle<()>>,
}

impl TcpReceiver {
    fn start(port: u16, got: Received) -> TcpReceiver {
        let listener = TcpListener::bind(("127.0.0.1", port)).expect("bind the TCP receiver");
        let port = listener.local_addr().unwrap().port();
        let stop = Arc::new(AtomicBool::new(false));
        let conns: Arc<Mutex<Vec<TcpStream>>> = Arc::default();
        let (stop2, conns2, got2) = (stop.clone(), conns.clone(), got.clone());
        let accept = std::thread::spawn(move || {
            for stream in listener.incoming() {
                if stop2.load(Ordering::SeqCst) {
                    return;
                }
                let Ok(stream) = stream else { continue };
                conns2.lock().unwrap().push(stream.try_clone().unwrap());
                let got = got2.clone();
                std::thread::spawn(move || {
                    for line in BufReader::new(stream).lines() {
                        let Ok(line) = line else { return };
                        got.docs.lock().unwrap().push(line);
                    }
                });
            }
        });
        TcpReceiver {
            port,
            got,
            stop,
            conns,
            accept: Some(accept),
        }
    }

    /// Closes the listener and every connection: the aggregator is down.
    fn stop(mut self) -> (u16, Received) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Some(a) = self.accept.take() {
            a.join().unwrap();
        }
        for c in self.conns.lock().unwrap().drain(..) {
            let _ = c.shutdown(std::net::Shutdown::Both);
        }
        (self.port, self.got.clone())
    }
}

fn udp_receiver(got: Received) -> u16 {
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = sock.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let mut buf = vec![0u8; 65536];
        while let Ok(n) = sock.recv(&mut buf) {
            got.docs
                .lock()
                .unwrap()
                .push(String::from_utf8_lossy(&buf[..n]).into_owned());
        }
    });
    port
}

/// An HTTPS receiver with a fresh self-signed certificate: records each POST's body and its
/// `Authorization` header, answers 200.
fn https_receiver(got: Received) -> u16 {
    let cert =
        rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()]).unwrap();
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(cert.key_pair.serialize_der().into());
    let config = Arc::new(
        rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert.cert.der().clone()], key)
        .unwrap(),
    );
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            let (config, got) = (config.clone(), got.clone());
            std::thread::spawn(move || {
                let conn = rustls::ServerConnection::new(config).unwrap();
                let mut tls = BufReader::new(rustls::StreamOwned::new(conn, stream));
                loop {
                    let mut line = String::new();
                    if tls.read_line(&mut line).unwrap_or(0) == 0 {
                        return;
                    }
                    let mut length = 0;
                    loop {
                        let mut h = String::new();
                        if tls.read_line(&mut h).unwrap_or(0) == 0 {
                            return;
                        }
                        let h = h.trim_end();
                        if h.is_empty() {
                            break;
                        }
                        let (k, v) = h.split_once(':').unwrap_or((h, ""));
                        match k.to_ascii_lowercase().as_str() {
                            "content-length" => length = v.trim().parse().unwrap_or(0),
                            "authorization" => got.auth.lock().unwrap().push(v.trim().into()),
                            _ => {}
                        }
                    }
                    let mut body = vec![0u8; length];
                    if tls.read_exact(&mut body).is_err() {
                        return;
                    }
                    got.docs
                        .lock()
                        .unwrap()
                        .push(String::from_utf8_lossy(&body).into_owned());
                    let ok = b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n";
                    if tls.get_mut().write_all(ok).is_err() {
                        return;
                    }
                    let _ = tls.get_mut().flush();
                }
            });
        }
    });
    port
}

/// Secrets a careless shipper could leak: the aggregator's own password and a credential's.
const AGG_SECRET: &str = "agg-s3cret-7781";

const CRED_SECRET: &str = "cred-s3cret-5523";

fn logging(s: &Server, body: Value) -> Value {
    s.admin("PATCH", "/api/v2/settings/logging/", Some(body), 200)
}

/// Posts the logging test until its message reaches the receiver (the shipper picks new
/// settings up within a second).
fn connection_test_arrives(s: &Server, got: &Received) {
    eventually(Duration::from_secs(20), || {
        let r = s.http(
            "POST",
            "/api/v2/settings/logging/test/",
            Some(("admin", ADMIN_PW)),
            Some(&json!({})),
        );
        assert_eq!(r.status, 202, "{r:?}");
        std::thread::sleep(Duration::from_millis(300));
        let arrived = got
            .all()
            .iter()
            .any(|d| d["message"] == "AWX Connection Test Message");
        arrived
            .then_some(())
            .ok_or_else(|| format!("the test message never arrived\n{}", tail(&s.logs(), 3000)))
    });
}

/// A template whose job carries a Machine credential with a password, so a leak would show.
fn template_with_secret(s: &Server, lab: &Fixture, name: &str) -> i64 {
    let jt = template(s, lab, name, "play.yml", json!({"pause_s": 0}));
    let machine = s.admin("GET", "/api/v2/credential_types/?name=Machine", None, 200)["results"][0]
        ["id"]
        .as_i64()
        .unwrap();
    let org = s.admin("GET", "/api/v2/organizations/?name=Ops", None, 200)["results"][0]["id"]
        .as_i64()
        .unwrap();
    let cred = s.admin(
        "POST",
        "/api/v2/credentials/",
        Some(
            json!({"name": format!("{name}-cred"), "organization": org, "credential_type": machine,
                    "inputs": {"username": "someone", "password": CRED_SECRET}}),
        ),
        201,
    )["id"]
        .as_i64()
        .unwrap();
    s.admin(
        "POST",
        &format!("/api/v2/job_templates/{jt}/credentials/"),
        Some(json!({"id": cred})),
        204,
    );
    jt
}

fn job_event_docs(docs: &[Value], job: i64) -> Vec<&Value> {
    docs.iter()
        .filter(|d| d["logger_name"] == "awx.analytics.job_events" && d["job"] == job)
        .collect()
}

fn event_count(s: &Server, job: i64) -> usize {
    s.admin("GET", &format!("/api/v2/jobs/{job}/job_events/"), None, 200)["count"]
        .as_u64()
        .unwrap() as usize
}

fn assert_no_secret(got: &Received) {
    let raw = got.raw();
    for secret in [AGG_SECRET, CRED_SECRET] {
        assert!(
            !raw.contains(secret),
            "the aggregator received a secret ({secret})"
        );
    }
}

#[test]
fn logs_ship_over_tcp_and_the_buffer_is_replayed_after_an_outage() {
    let s = Server::start_with(opts(&[]));
    let lab = ops_lab(&s);
    let got = Received::default();
    let rx = TcpReceiver::start(0, got.clone());
    let shown = logging(
        &s,
        json!({"LOG_AGGREGATOR_ENABLED": true, "LOG_AGGREGATOR_HOST": "127.0.0.1",
               "LOG_AGGREGATOR_PORT": rx.port, "LOG_AGGREGATOR_TYPE": "logstash",
               "LOG_AGGREGATOR_PROTOCOL": "tcp", "LOG_AGGREGATOR_USERNAME": "agg-user",
               "LOG_AGGREGATOR_PASSWORD": AGG_SECRET,
               "LOG_AGGREGATOR_LOGGERS": ["awx", "job_events"]}),
    );
    assert_eq!(shown["LOG_AGGREGATOR_PASSWORD"], "$encrypted$", "{shown}");
    connection_test_arrives(&s, &got);

    // A job's events arrive one document each, in AWX's shape.
    let jt = template_with_secret(&s, &lab, "shipped");
    let first = launch(&s, jt);
    assert_eq!(wait_final(&s, first)["status"], "successful");
    let n = event_count(&s, first);
    let docs = got.wait(&s, "every event of the first job", |d| {
        job_event_docs(d, first).len() >= n
    });
    let events = job_event_docs(&docs, first);
    assert_eq!(events.len(), n, "an event was shipped twice");
    let stats = events
        .iter()
        .find(|d| d["event"] == "playbook_on_stats")
        .expect("the stats event was shipped");
    for key in [
        "@timestamp",
        "cluster_host_id",
        "tower_uuid",
        "event_id",
        "event_uuid",
        "counter",
        "host",
        "event_host",
        "job",
    ] {
        assert!(stats.get(key).is_some(), "no {key} in {stats}");
    }
    assert_eq!(stats["type"], "logstash");
    let stored = s.admin(
        "GET",
        &format!("/api/v2/jobs/{first}/job_events/?event=playbook_on_stats"),
        None,
        200,
    );
    assert_eq!(stats["event_id"], stored["results"][0]["id"], "{stats}");
    assert_eq!(stats["level"], "INFO");
    // rawx's own log lines travel too, with their structured fields.
    assert!(
        docs.iter().any(|d| d["logger_name"] == "rawx_control::run"
            && d["message"] == "job finished"
            && d["job"] == first
            && d["status"] == "successful"),
        "the service's own log line was not shipped: {:?}",
        docs.iter()
            .map(|d| d["logger_name"].clone())
            .collect::<Vec<_>>()
    );

    // The aggregator goes down; a job runs; its events wait on disk.
    let (port, got) = rx.stop();
    let second = launch(&s, jt);
    assert_eq!(wait_final(&s, second)["status"], "successful");
    eventually(Duration::from_secs(20), || {
        let logs = s.logs();
        if logs.contains("buffering them on disk") {
            Ok(())
        } else {
            Err(format!("no outage was noticed:\n{}", tail(&logs, 3000)))
        }
    });
    assert!(
        job_event_docs(&got.all(), second).is_empty(),
        "events reached a receiver that was down"
    );
    let buffered = metrics(&s).value("rawx_logship_buffered_total", &[]);
    assert!(buffered >= 1.0, "nothing was buffered: {buffered}");

    // It comes back on the same port: the buffer is replayed, in order, once.
    let rx = TcpReceiver::start(port, got.clone());
    let n = event_count(&s, second);
    let docs = got.wait(&s, "the buffered events after the outage", |d| {
        job_event_docs(d, second).len() >= n
    });
    let events = job_event_docs(&docs, second);
    assert_eq!(events.len(), n, "an event was replayed twice");
    let counters: Vec<i64> = events
        .iter()
        .map(|d| d["counter"].as_i64().unwrap())
        .collect();
    let mut sorted = counters.clone();
    sorted.sort();
    assert_eq!(counters, sorted, "the replay is out of order");
    assert_no_secret(&got);
    drop(rx.stop());
}

#[test]
fn logs_ship_over_udp_and_https() {
    let s = Server::start_with(opts(&[]));
    let lab = ops_lab(&s);
    let jt = template_with_secret(&s, &lab, "shipped");

    let udp = Received::default();
    let port = udp_receiver(udp.clone());
    logging(
        &s,
        json!({"LOG_AGGREGATOR_ENABLED": true, "LOG_AGGREGATOR_HOST": "127.0.0.1",
               "LOG_AGGREGATOR_PORT": port, "LOG_AGGREGATOR_TYPE": "other",
               "LOG_AGGREGATOR_PROTOCOL": "udp", "LOG_AGGREGATOR_PASSWORD": AGG_SECRET,
               "LOG_AGGREGATOR_LEVEL": "ERROR"}),
    );
    connection_test_arrives(&s, &udp);
    let id = launch(&s, jt);
    assert_eq!(wait_final(&s, id)["status"], "successful");
    let n = event_count(&s, id);
    let docs = udp.wait(&s, "every event over UDP", |d| {
        job_event_docs(d, id).len() >= n
    });
    // The level threshold holds back the service's info lines, not AWX's analytics loggers.
    let info: Vec<&Value> = docs
        .iter()
        .filter(|d| d["level"] == "INFO" && d["logger_name"] != "awx.analytics.job_events")
        .collect();
    assert!(
        info.is_empty(),
        "info lines shipped at level ERROR: {info:?}"
    );
    assert_no_secret(&udp);

    // HTTPS with a self-signed certificate: refused while it is verified, shipped once not.
    let https = Received::default();
    let port = https_receiver(https.clone());
    logging(
        &s,
        json!({"LOG_AGGREGATOR_HOST": format!("https://127.0.0.1:{port}/collect"),
               "LOG_AGGREGATOR_PORT": null, "LOG_AGGREGATOR_TYPE": "splunk",
               "LOG_AGGREGATOR_PROTOCOL": "https", "LOG_AGGREGATOR_USERNAME": "agg-user",
               "LOG_AGGREGATOR_VERIFY_CERT": true}),
    );
    let r = s.http(
        "POST",
        "/api/v2/settings/logging/test/",
        Some(("admin", ADMIN_PW)),
        Some(&json!({})),
    );
    assert_eq!(
        r.status, 400,
        "an untrusted certificate was accepted: {r:?}"
    );
    assert!(
        r.body.contains("certificate") || r.body.contains("TLS"),
        "{r:?}"
    );
    logging(&s, json!({"LOG_AGGREGATOR_VERIFY_CERT": false}));
    connection_test_arrives(&s, &https);
    let id = launch(&s, jt);
    assert_eq!(wait_final(&s, id)["status"], "successful");
    let n = event_count(&s, id);
    let docs = https.wait(&s, "every event over HTTPS", |d| {
        job_event_docs(d, id).len() >= n
    });
    assert!(docs.iter().all(|d| d["type"] == "splunk"));
    let want = format!("Basic {}", base64_encode(&format!("agg-user:{AGG_SECRET}")));
    assert!(
        https.auth.lock().unwrap().iter().all(|a| *a == want),
        "the aggregator was not authenticated with its username and password"
    );
    assert_no_secret(&https);
}

#[test]
fn logging_settings_follow_awx_rules() {
    let s = Server::start();
    // Enabling without a host or type is refused, keyed as AWX keys it.
    let r = s.http(
        "PATCH",
        "/api/v2/settings/logging/",
        Some(("admin", ADMIN_PW)),
        Some(&json!({"LOG_AGGREGATOR_ENABLED": true})),
    );
    assert_eq!(r.status, 400, "{r:?}");
    let errs = r.json()["LOG_AGGREGATOR_ENABLED"].clone();
    assert!(
        errs.to_string().contains("without providing host")
            && errs.to_string().contains("without providing type"),
        "{errs}"
    );
    let r = s.http(
        "PATCH",
        "/api/v2/settings/logging/",
        Some(("admin", ADMIN_PW)),
        Some(&json!({"LOG_AGGREGATOR_PROTOCOL": "smtp", "LOG_AGGREGATOR_LOGGERS": "awx"})),
    );
    assert_eq!(r.status, 400, "{r:?}");
    assert_eq!(
        r.json(),
        json!({
            "LOG_AGGREGATOR_PROTOCOL": ["\"smtp\" is not a valid choice."],
            "LOG_AGGREGATOR_LOGGERS": ["Expected a list of items but got type \"str\"."],
        })
    );
    // Off: the test endpoint says so, as AWX's does.
    let r = s.http(
        "POST",
        "/api/v2/settings/logging/test/",
        Some(("admin", ADMIN_PW)),
        Some(&json!({})),
    );
    assert_eq!(r.status, 409, "{r:?}");
    assert_eq!(r.json()["error"], "Logging not enabled");
    // The password is sealed at rest, shown masked, and kept when written back masked.
    logging(&s, json!({"LOG_AGGREGATOR_PASSWORD": AGG_SECRET}));
    let shown = logging(&s, json!({"LOG_AGGREGATOR_PASSWORD": "$encrypted$"}));
    assert_eq!(shown["LOG_AGGREGATOR_PASSWORD"], "$encrypted$");
    let all = s.admin("GET", "/api/v2/settings/all/", None, 200);
    assert_eq!(all["LOG_AGGREGATOR_PASSWORD"], "$encrypted$");
    assert_eq!(all["LOG_AGGREGATOR_LEVEL"], "INFO");
    assert_eq!(all["LOG_AGGREGATOR_ACTION_QUEUE_SIZE"], 131072);
    let dir = s.stop();
    let db = std::fs::read(dir.path().join("rawx.db")).unwrap();
    assert!(
        !String::from_utf8_lossy(&db).contains(AGG_SECRET),
        "the aggregator's password is stored in clear"
    );
}

fn base64_encode(s: &str) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let b = s.as_bytes();
    let mut out = String::new();
    for chunk in b.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, c)| n | (u32::from(*c) << (16 - 8 * i)));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(T[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[test]
fn json_logs_with_a_level_per_component() {
    // The task role's crate at warn, the web's at info: one's lines show, the other's do not.
    let s = Server::start_with(opts(&[
        ("RAWX_LOG_FORMAT", "json"),
        ("RAWX_LOG", "info,rawx_control=warn"),
    ]));
    let lab = ops_lab(&s);
    let jt = template(&s, &lab, "quiet", "play.yml", json!({"pause_s": 0}));
    let id = launch(&s, jt);
    assert_eq!(wait_final(&s, id)["status"], "successful");
    let (_dir, logs) = s.stop_with_logs();
    let lines: Vec<Value> = logs
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    assert!(
        // Launch moved with the job templates' module (rawx_api::resources::job_templates).
        lines.iter().any(|l| l["target"]
            .as_str()
            .is_some_and(|t| t.starts_with("rawx_api::"))
            && l["level"] == "INFO"
            && l["fields"]["job"] == id),
        "the web role's launch line is missing:\n{}",
        tail(&logs, 3000)
    );
    assert!(
        !lines.iter().any(|l| l["target"]
            .as_str()
            .is_some_and(|t| t.starts_with("rawx_control"))
            && l["level"] == "INFO"),
        "the task role logged at info although set to warn:\n{}",
        tail(&logs, 3000)
    );
    // Only the stdout banner lines are not JSON.
    let stray: Vec<&str> = logs
        .lines()
        .filter(|l| !l.starts_with('{'))
        .filter(|l| !l.starts_with("Created") && !l.starts_with("rawx ") && !l.starts_with('('))
        .collect();
    assert!(stray.is_empty(), "lines that are not JSON: {stray:?}");
}
