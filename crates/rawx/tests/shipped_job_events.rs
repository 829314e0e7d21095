//! Job events shipped to an external aggregator: their output goes with them, the secrets
//! rawx injected do not, and an aggregator that never reads does not hold the shipper up.

use rawx_testkit::eventually;
use rawx_testkit::lab::{local_vars, tail, Lab};
use rawx_testkit::{Proc, ADMIN_PW};
use serde_json::{json, Value};
use std::process::Command;
use std::time::Duration;

/// A TCP aggregator: every JSON line it receives, kept raw.
struct Aggregator {
    port: u16,
    lines: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl Aggregator {
    fn start() -> Aggregator {
        use std::io::BufRead;
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let lines = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let keep = lines.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming().flatten() {
                let keep = keep.clone();
                std::thread::spawn(move || {
                    for line in std::io::BufReader::new(conn).lines().map_while(Result::ok) {
                        keep.lock().unwrap().push(line);
                    }
                });
            }
        });
        Aggregator { port, lines }
    }

    /// The job-event documents of `job` received so far.
    fn events(&self, job: i64) -> Vec<(String, Value)> {
        self.lines
            .lock()
            .unwrap()
            .iter()
            .filter_map(|l| Some((l.clone(), serde_json::from_str::<Value>(l).ok()?)))
            .filter(|(_, d)| d["logger_name"] == "awx.analytics.job_events" && d["job"] == job)
            .collect()
    }
}

const SECRET: &str = "pw-7c1f-secret";

/// Prints the credential's password by accident (an echoed token, say) and a marker.
const TALKATIVE: &str = "\
- hosts: all
  gather_facts: false
  tasks:
    - name: talk
      debug:
        msg: \"marker-31337 and pw-7c1f-secret\"
";

/// As AWX 24 ships them, each job event carries its `stdout` and its `event_data` (an object);
/// the value of a credential rawx injected never leaves the machine, wherever it appeared.
#[test]
fn shipped_job_events_carry_their_output_with_injected_secrets_masked() {
    let lab = Lab::start();
    let s = &lab.s;
    let agg = Aggregator::start();
    s.admin(
        "PATCH",
        "/api/v2/settings/logging/",
        Some(
            json!({"LOG_AGGREGATOR_ENABLED": true, "LOG_AGGREGATOR_HOST": "127.0.0.1",
                    "LOG_AGGREGATOR_PORT": agg.port, "LOG_AGGREGATOR_TYPE": "logstash",
                    "LOG_AGGREGATOR_PROTOCOL": "tcp", "LOG_AGGREGATOR_LOGGERS": ["job_events"]}),
        ),
        200,
    );
    let p = lab.project("talk", &[("talk.yml", TALKATIVE)]);
    let inv = lab.inventory("One", &[("localhost", local_vars())]);
    let jt = lab.jt("talk", p, inv, "talk.yml", json!({}));
    let cred = lab.credential(
        "machine",
        "Machine",
        json!({"username": "someone", "password": SECRET}),
    );
    lab.attach(jt, cred);
    // The shipper picks the settings up within a second.
    std::thread::sleep(Duration::from_secs(2));
    let id = lab.launch(jt);
    lab.wait_status(id, "successful");
    // Stored with the secret masked (stricter than AWX, which stores output as ansible
    // printed it: here a secret never reaches stdout or events) …
    let stored = lab.stdout(id);
    assert!(!stored.contains(SECRET), "{stored}");
    assert!(stored.contains("marker-31337 and **********"), "{stored}");
    let n = lab.events(id).len();
    eventually(Duration::from_secs(30), || {
        let got = agg.events(id).len();
        if got >= n {
            Ok(())
        } else {
            Err(format!(
                "{got} of {n} events shipped\n{}",
                tail(&s.logs(), 3000)
            ))
        }
    });
    let docs = agg.events(id);
    // … shipped with the output, and without the secret.
    for (raw, _) in &docs {
        assert!(
            !raw.contains(SECRET),
            "a shipped document holds the secret: {raw}"
        );
    }
    let ok = docs
        .iter()
        .map(|(_, d)| d)
        .find(|d| d["event"] == "runner_on_ok")
        .expect("the task's result was shipped");
    let stdout = ok["stdout"].as_str().unwrap_or_default();
    assert!(stdout.contains("marker-31337"), "{ok}");
    assert!(stdout.contains("**********"), "{ok}");
    assert_eq!(ok["event_data"]["task"], "talk", "{ok}");
    assert_eq!(
        ok["event_data"]["res"]["msg"], "marker-31337 and **********",
        "{ok}"
    );
    assert!(docs
        .iter()
        .all(|(_, d)| d.get("stdout").is_some() && d["event_data"].is_object()));
}

/// Many large events: more than the socket buffers between rawx and an aggregator hold.
const CHATTY: &str = "\
- hosts: all
  gather_facts: false
  tasks:
    - name: big events
      debug:
        msg: \"{{ 'x' * 3000 }} {{ item }}\"
      loop: \"{{ range(700) | list }}\"
";

/// An aggregator that accepts connections but never reads: the shipper's writes time out
/// after `LOG_AGGREGATOR_TCP_TIMEOUT` and what it held goes to the disk buffer, the job's
/// events are all stored, and the job ends normally.
#[test]
fn an_aggregator_that_never_reads_does_not_hold_the_shipper() {
    let lab = Lab::start();
    let s = &lab.s;
    // A receiver with a tiny receive buffer that never reads.
    let mut sink = Proc::spawn(
        Command::new(rawx_testkit::venv().join("bin/python"))
            .args([
                "-c",
                "import socket, sys, time\n\
             l = socket.socket()\n\
             l.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)\n\
             l.bind(('127.0.0.1', 0)); l.listen(8)\n\
             print(l.getsockname()[1], flush=True)\n\
             conns = []\n\
             while True:\n    c, _ = l.accept(); conns.append(c)\n",
            ])
            .stdout(std::process::Stdio::piped()),
    );
    let port = {
        use std::io::BufRead;
        let mut line = String::new();
        std::io::BufReader::new(sink.child().stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        line.trim().to_string()
    };
    s.admin(
        "PATCH",
        "/api/v2/settings/logging/",
        Some(
            json!({"LOG_AGGREGATOR_ENABLED": true, "LOG_AGGREGATOR_HOST": "127.0.0.1",
                    "LOG_AGGREGATOR_PORT": port.parse::<u16>().unwrap(),
                    "LOG_AGGREGATOR_TYPE": "logstash", "LOG_AGGREGATOR_PROTOCOL": "tcp",
                    "LOG_AGGREGATOR_TCP_TIMEOUT": 2, "LOG_AGGREGATOR_LOGGERS": ["job_events"]}),
        ),
        200,
    );
    let p = lab.project("chatty", &[("chatty.yml", CHATTY)]);
    let inv = lab.inventory("One", &[("localhost", local_vars())]);
    let jt = lab.jt("chatty", p, inv, "chatty.yml", json!({}));
    std::thread::sleep(Duration::from_secs(2));
    let id = lab.launch(jt);
    let job = lab.wait_for(id, Duration::from_secs(300));
    assert_eq!(job["status"], "successful", "{job}");
    assert!(lab.events(id).len() > 700);
    // The shipper gives up on the silent aggregator.
    s.wait_logged("buffering them on disk", Duration::from_secs(30));
    // What the silent aggregator's connection could not take went to disk (and is replayed
    // into each new connection, which takes what its socket buffers hold, then stalls again).
    let metrics = s.http("GET", "/api/v2/metrics/", Some(("admin", ADMIN_PW)), None);
    let buffered: f64 = metrics
        .body
        .lines()
        .find(|l| l.starts_with("rawx_logship_buffered_total"))
        .and_then(|l| l.split_whitespace().last()?.parse().ok())
        .unwrap_or(0.0);
    assert!(
        buffered > 0.0,
        "nothing was buffered on disk:\n{}",
        metrics.body
    );
}
