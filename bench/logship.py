#!/usr/bin/env python3
"""Issue 9's figure: what log shipping costs event ingest (bench/logship.sh runs it).

Against a running `rawx serve` (URL, admin password, data dir given on the command line):
creates an inventory (localhost, local connection), a manual project whose playbook loops a
`debug` task over ITEMS items (one event per item, plus the play's own), a job template; then
runs the job RUNS times with external logging off and RUNS times with it on (a TCP aggregator
this script runs on loopback, counting lines), interleaved (off, on, off, on, ...).

Per run: events = the job's stored events; seconds = launch -> the job final with
`event_processing_finished` (polled every 20 ms); ingest rate = events / seconds. With
shipping on it also checks that every event reached the aggregator as one document.
Prints the table and writes the JSON to OUT. Standard library only.
"""

import base64
import http.client
import json
import os
import socket
import statistics
import sys
import threading
import time

FINAL = {"successful", "failed", "error", "canceled"}


class Api:
    def __init__(self, url, password):
        host, port = url.replace("http://", "").split(":")
        self.conn = http.client.HTTPConnection(host, int(port), timeout=60)
        self.auth = "Basic " + base64.b64encode(f"admin:{password}".encode()).decode()

    def call(self, method, path, body=None, want=(200, 201, 202, 204)):
        headers = {"Authorization": self.auth}
        data = None
        if body is not None:
            data = json.dumps(body)
            headers["Content-Type"] = "application/json"
        self.conn.request(method, path, body=data, headers=headers)
        resp = self.conn.getresponse()
        raw = resp.read()
        if resp.status not in want:
            sys.exit(f"{method} {path}: {resp.status} {raw[:500]!r}")
        return json.loads(raw) if raw else None


class Receiver:
    """A TCP aggregator on loopback: counts job-event documents by job."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.by_job = {}
        self.lines = 0
        self.lock = threading.Lock()
        threading.Thread(target=self.accept, daemon=True).start()

    def accept(self):
        while True:
            conn, _ = self.sock.accept()
            threading.Thread(target=self.read, args=(conn,), daemon=True).start()

    def read(self, conn):
        buf = b""
        while True:
            chunk = conn.recv(1 << 16)
            if not chunk:
                return
            buf += chunk
            *lines, buf = buf.split(b"\n")
            with self.lock:
                for line in lines:
                    self.lines += 1
                    try:
                        doc = json.loads(line)
                    except ValueError:
                        continue
                    if doc.get("logger_name") == "awx.analytics.job_events":
                        job = doc.get("job")
                        self.by_job[job] = self.by_job.get(job, 0) + 1

    def count(self, job):
        with self.lock:
            return self.by_job.get(job, 0)


def main():
    url, password, data_dir, items, runs, out = sys.argv[1:7]
    items, runs = int(items), int(runs)
    api = Api(url, password)
    rx = Receiver()

    org = api.call("POST", "/api/v2/organizations/", {"name": "bench"})["id"]
    inv = api.call("POST", "/api/v2/inventories/", {"name": "bench", "organization": org})["id"]
    api.call("POST", "/api/v2/hosts/", {"name": "localhost", "inventory": inv, "variables": json.dumps(
        {"ansible_connection": "local", "ansible_python_interpreter": "{{ ansible_playbook_python }}"})})
    pdir = os.path.join(data_dir, "projects", "logbench")
    os.makedirs(pdir, exist_ok=True)
    with open(os.path.join(pdir, "loop.yml"), "w") as f:
        f.write(
            "- hosts: all\n  gather_facts: false\n  tasks:\n"
            "    - name: many events\n      debug:\n        msg: \"item {{ item }}\"\n"
            f"      loop: \"{{{{ range(0, {items}) | list }}}}\"\n"
        )
    proj = api.call("POST", "/api/v2/projects/", {"name": "logbench", "organization": org,
                                                   "scm_type": "", "local_path": "logbench"})["id"]
    jt = api.call("POST", "/api/v2/job_templates/", {"name": "logbench", "project": proj,
                                                      "inventory": inv, "playbook": "loop.yml"})["id"]

    def shipping(on):
        body = {"LOG_AGGREGATOR_ENABLED": on}
        if on:
            body.update({"LOG_AGGREGATOR_HOST": "127.0.0.1", "LOG_AGGREGATOR_PORT": rx.port,
                         "LOG_AGGREGATOR_TYPE": "logstash", "LOG_AGGREGATOR_PROTOCOL": "tcp",
                         "LOG_AGGREGATOR_LOGGERS": ["awx", "job_events"]})
        api.call("PATCH", "/api/v2/settings/logging/", body)
        time.sleep(1.5)  # the shipper reads the settings every second

    def one(on):
        t0 = time.monotonic()
        job = api.call("POST", f"/api/v2/job_templates/{jt}/launch/", {})["job"]
        while True:
            j = api.call("GET", f"/api/v2/jobs/{job}/")
            if j["status"] in FINAL and j["event_processing_finished"]:
                break
            time.sleep(0.02)
        secs = time.monotonic() - t0
        if j["status"] != "successful":
            sys.exit(f"job {job} ended {j['status']}: {j.get('job_explanation')}")
        events = api.call("GET", f"/api/v2/jobs/{job}/job_events/?page_size=1")["count"]
        shipped = None
        if on:
            deadline = time.monotonic() + 30
            while rx.count(job) < events and time.monotonic() < deadline:
                time.sleep(0.05)
            shipped = rx.count(job)
            if shipped != events:
                sys.exit(f"job {job}: {shipped} of {events} events reached the aggregator")
        return {"job": job, "shipping": on, "events": events, "seconds": secs,
                "events_per_s": events / secs, "shipped": shipped}

    results = []
    one(False)  # warm-up: the first job pays for caches, python imports, ...
    for _ in range(runs):
        for on in (False, True):
            shipping(on)
            r = one(on)
            results.append(r)
            print(f"  shipping {'on ' if on else 'off'}  job {r['job']:>3}  {r['events']} events  "
                  f"{r['seconds']:.2f} s  {r['events_per_s']:.0f} events/s", flush=True)
    off = statistics.median(r["events_per_s"] for r in results if not r["shipping"])
    on = statistics.median(r["events_per_s"] for r in results if r["shipping"])
    summary = {"items": items, "runs": runs, "ingest_events_per_s_off": off,
               "ingest_events_per_s_on": on, "ratio_on_off": on / off, "runs_detail": results}
    os.makedirs(os.path.dirname(out), exist_ok=True)
    with open(out, "w") as f:
        json.dump(summary, f, indent=2)
    print(f"\ningest (median events/s): off {off:.0f}, on {on:.0f}, ratio on/off {on / off:.3f} "
          f"(goal >= 0.9)")


if __name__ == "__main__":
    main()
