#!/usr/bin/env python3
"""Issue 9's ingest figure: what log shipping costs event ingest (bench/logship.sh runs it).

Against a running `rawx serve` whose ansible-runner is ingest.sh's stand-in (it replays a
prepared N-event result stream at full speed), with the job template `ingestbench.py setup`
made: runs the ingest job RUNS times with external logging off and RUNS times with it on,
interleaved (off, on, off, on, ...). With it on, the aggregator is a TCP receiver this script
runs on loopback; it counts the job-event documents per job, and a run whose documents do not
all arrive fails the bench.

Each run is `ingestbench.py ingest` (first event stored -> job final with
event_processing_finished, polled every 10 ms): its events/s is the ingest rate. The figure is
the ratio of the medians, on / off (issue 9's goal: >= 0.9). Standard library only.
"""

import base64
import http.client
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import threading
import time

JOB_RE = re.compile(rb'"job":(\d+)')
MARK = b'"logger_name":"awx.analytics.job_events"'


class Receiver:
    """A TCP aggregator on loopback counting job-event documents by job."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.by_job = {}
        self.lock = threading.Lock()
        threading.Thread(target=self.accept, daemon=True).start()

    def accept(self):
        while True:
            conn, _ = self.sock.accept()
            threading.Thread(target=self.read, args=(conn,), daemon=True).start()

    def read(self, conn):
        buf = b""
        while True:
            chunk = conn.recv(1 << 20)
            if not chunk:
                return
            buf += chunk
            *lines, buf = buf.split(b"\n")
            counts = {}
            for line in lines:
                if MARK in line:
                    m = JOB_RE.search(line)
                    if m:
                        job = int(m.group(1))
                        counts[job] = counts.get(job, 0) + 1
            with self.lock:
                for job, n in counts.items():
                    self.by_job[job] = self.by_job.get(job, 0) + n

    def count(self, job):
        with self.lock:
            return self.by_job.get(job, 0)


def patch_logging(port, password, body):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    auth = "Basic " + base64.b64encode(f"admin:{password}".encode()).decode()
    conn.request("PATCH", "/api/v2/settings/logging/", body=json.dumps(body),
                 headers={"Authorization": auth, "Content-Type": "application/json"})
    resp = conn.getresponse()
    raw = resp.read()
    if resp.status != 200:
        sys.exit(f"PATCH /api/v2/settings/logging/: {resp.status} {raw[:300]!r}")


def main():
    (port, password, pid, token, jt, events, runs, standin_log, out) = sys.argv[1:10]
    port, events, runs = int(port), int(events), int(runs)
    rx = Receiver()
    ingest = os.path.join(os.path.dirname(os.path.abspath(__file__)), "ingestbench.py")

    def shipping(on):
        body = {"LOG_AGGREGATOR_ENABLED": on}
        if on:
            body.update({"LOG_AGGREGATOR_HOST": "127.0.0.1", "LOG_AGGREGATOR_PORT": rx.port,
                         "LOG_AGGREGATOR_TYPE": "logstash", "LOG_AGGREGATOR_PROTOCOL": "tcp",
                         "LOG_AGGREGATOR_LOGGERS": ["awx", "job_events"]})
        patch_logging(port, password, body)
        time.sleep(1.5)  # the shipper reads the settings every second

    results = []
    for _ in range(runs):
        for on in (False, True):
            shipping(on)
            r = json.loads(subprocess.run(
                [sys.executable, ingest, "ingest", "--port", str(port), "--token", token,
                 "--jt", jt, "--pid", pid, "--events", str(events), "--standin-log", standin_log],
                check=True, capture_output=True, text=True).stdout)
            if not r["count_ok"]:
                sys.exit(f"job {r['job']}: {r['events_counted']} of {events} events stored")
            shipped = None
            if on:
                deadline = time.monotonic() + 120
                while rx.count(r["job"]) < events and time.monotonic() < deadline:
                    time.sleep(0.05)
                shipped = rx.count(r["job"])
                if shipped != events:
                    sys.exit(f"job {r['job']}: {shipped} of {events} events reached the aggregator")
            row = {"job": r["job"], "shipping": on, "events_per_s": r["events_per_s"],
                   "ingest_s": r["ingest_s"], "shipped": shipped,
                   "rawx_cpu_s": r.get("rawx_cpu_s_first_event_to_final")}
            results.append(row)
            print(f"  shipping {'on ' if on else 'off'}  job {row['job']:>3}  {events} events  "
                  f"{row['ingest_s']:.2f} s  {row['events_per_s']:.0f} events/s"
                  + (f"  (all {shipped} shipped)" if on else ""), flush=True)
    off = statistics.median(r["events_per_s"] for r in results if not r["shipping"])
    on = statistics.median(r["events_per_s"] for r in results if r["shipping"])
    summary = {"events": events, "runs": runs, "ingest_events_per_s_off": off,
               "ingest_events_per_s_on": on, "ratio_on_off": on / off, "runs_detail": results}
    with open(out, "w") as f:
        json.dump(summary, f, indent=2)
    print(f"\ningest (median events/s): off {off:.0f}, on {on:.0f}, ratio on/off {on / off:.3f} "
          f"(goal >= 0.9)")


if __name__ == "__main__":
    main()
