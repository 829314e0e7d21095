//! A websocket client for the end-to-end suites: Python's `websockets` (the venv's), driven by
//! a list of steps, printing what it received as one JSON line.

use crate::{procs, venv, Server};
use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// The client: connects (session login, bearer token or nothing), then runs `steps` and prints
/// what it saw as one JSON line. `READY` lines tell the test it may act.
pub const CLIENT: &str = r#"
import json, select, sys, urllib.parse, urllib.request, http.cookiejar
from websockets.sync.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

cfg = json.loads(sys.argv[1])
base = cfg["base"]
headers, cookies = {}, {}
if cfg.get("login"):
    user, password = cfg["login"]
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(
        urllib.request.ProxyHandler({}), urllib.request.HTTPCookieProcessor(jar))
    opener.open(base + "/api/login/").read()
    csrf = next(c.value for c in jar if c.name == "csrftoken")
    form = urllib.parse.urlencode({"username": user, "password": password, "next": "/api/"}).encode()
    opener.open(urllib.request.Request(base + "/api/login/", data=form,
        headers={"X-CSRFToken": csrf, "Referer": base + "/api/login/"})).read()
    cookies = {c.name: c.value for c in jar}
    assert "awx_sessionid" in cookies, cookies
if cfg.get("token"):
    headers["Authorization"] = "Bearer " + cfg["token"]
cookies.update(cfg.get("cookies", {}))
if cookies:
    headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in cookies.items())
xrf = cookies.get("csrftoken")
out = {"received": []}

try:
    ws = connect(base.replace("http", "ws", 1) + cfg.get("path", "/websocket/"),
                 additional_headers=headers, open_timeout=10, proxy=None, max_size=None)
except InvalidStatus as e:
    print(json.dumps({"refused": e.response.status_code}), flush=True)
    sys.exit(0)

def recv(timeout):
    try:
        return json.loads(ws.recv(timeout=timeout))
    except TimeoutError:
        return None
    except ConnectionClosed as e:
        return {"closed": e.rcvd.code if e.rcvd else None}

def fill(payload):
    if payload.get("xrftoken") == "$XRF":
        payload["xrftoken"] = xrf
    return payload

out["hello"] = recv(10)
FINAL = ("successful", "failed", "error", "canceled")
for step in cfg["steps"]:
    kind = step[0]
    if kind == "send":
        ws.send(json.dumps(fill(step[1])))
    elif kind == "recv":
        out["received"].append(recv(10))
    elif kind == "ready":
        print("READY", flush=True)
    elif kind == "listen":
        # Everything that arrives until the test writes a line on stdin.
        while not select.select([sys.stdin], [], [], 0)[0]:
            m = recv(0.1)
            if m is not None:
                out["received"].append(m)
        sys.stdin.readline()
        while (m := recv(0.5)) is not None:
            out["received"].append(m)
    elif kind == "follow":
        # As the UI does: on a job's `pending`, subscribe to its events too; stop once its
        # final status and its summary are in.
        job, final, summary = None, False, False
        deadline_msgs = 0
        while not (final and summary):
            m = recv(120)
            if m is None or "closed" in m:
                out["received"].append(m)
                break
            out["received"].append(m)
            if job is None and m.get("group_name") == "jobs" and m.get("status") == "pending":
                job = m["unified_job_id"]
                ws.send(json.dumps(fill({"xrftoken": "$XRF", "groups": {
                    "jobs": ["status_changed", "summary"], "job_events": [job]}})))
            if job is not None and m.get("unified_job_id") == job:
                final = final or m.get("status") in FINAL
                summary = summary or "final_counter" in m
        out["job"] = job
print(json.dumps(out), flush=True)
"#;

/// A running client: its stdin (for `listen`) and its stdout lines.
pub struct Py {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: mpsc::Receiver<String>,
    _dir: tempfile::TempDir,
}

impl Py {
    pub fn start(s: &Server, cfg: Value) -> Py {
        let dir = tempfile::tempdir().unwrap();
        let script = dir.path().join("client.py");
        std::fs::write(&script, CLIENT).unwrap();
        let mut cfg = cfg;
        cfg["base"] = json!(s.url);
        let mut cmd = Command::new(venv().join("bin/python"));
        cmd.arg(&script)
            .arg(cfg.to_string())
            .env("NO_PROXY", "127.0.0.1,localhost")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        let mut child = procs::spawn_group(&mut cmd).expect("run the venv's python");
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        Py {
            stdin: child.stdin.take(),
            child,
            lines,
            _dir: dir,
        }
    }

    pub fn line(&self, limit: Duration) -> String {
        self.lines
            .recv_timeout(limit)
            .unwrap_or_else(|_| panic!("the websocket client printed nothing within {limit:?}"))
    }

    pub fn ready(&self) {
        let l = self.line(Duration::from_secs(30));
        assert_eq!(l, "READY", "the client failed before it was ready");
    }

    /// Ends a `listen` step.
    pub fn stop_listening(&mut self) {
        let stdin = self.stdin.as_mut().unwrap();
        stdin.write_all(b"stop\n").unwrap();
        stdin.flush().unwrap();
    }

    /// What the client printed last: everything it saw.
    pub fn result(mut self, limit: Duration) -> Value {
        let line = self.line(limit);
        // Its group goes with it before it is reaped (a reaped pid may be reused).
        procs::kill_group(self.child.id());
        let _ = self.child.wait();
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("client output ({e}): {line}"))
    }
}

impl Drop for Py {
    fn drop(&mut self) {
        // Not reaped yet (`try_wait` reaps only a leader that has exited): safe to signal.
        if let Ok(None) = self.child.try_wait() {
            procs::kill_group(self.child.id());
            let _ = self.child.wait();
        }
        procs::release_group(self.child.id());
    }
}
