#!/usr/bin/env python3
"""Issue 9's ingest figure: what log shipping costs event ingest (bench/logship.sh runs it).

Against a running `rawx serve` whose ansible-runner is ingest.sh's stand-in (it replays a
prepared N-event result stream at full speed), with the job template `ingestbench.py setup`
made: runs the ingest job RUNS times with external logging off and RUNS times with it on,
interleaved (off, on, off, on, ...). With it on, the aggregator is a TCP receiver this script
runs on loopback; it counts the job-event documents of each run, and a run whose documents do
not all arrive (or arrive twice) fails the bench.

Each run is `ingestbench.py ingest` (first event stored -> job final with
event_processing_finished, polled every 10 ms): its events/s is the ingest rate. The figure is
the ratio of the medians, on / off (issue 9's goal: >= 0.9); beside it the ratio of each
off/on pair and rawx's CPU seconds per run, which the machine's load moves less than the rate.
Standard library only.
"""

import json
import os
import socket
import statistics
import subprocess
import sys
import threading
import time

from benchlib import Api, basic

MARK = b'"logger_name":"awx.analytics.job_events"'


class Receiver:
    """A TCP aggregator on loopback counting job-event documents.

    It shares the machine's cores with the server it measures (an aggregator would not), so
    it only counts the documents' logger mark in each read, in C; the runs are one job at a
    time, so the count since a run began is that job's. Its CPU is kept (`bench_cpu_s`)."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.docs = 0
        self.lock = threading.Lock()
        threading.Thread(target=self.accept, daemon=True).start()

    def accept(self):
        while True:
            conn, _ = self.sock.accept()
            threading.Thread(target=self.read, args=(conn,), daemon=True).start()

    def read(self, conn):
        rest = b""
        while True:
            chunk = conn.recv(1 << 20)
            if not chunk:
                return
            data = rest + chunk
            cut = data.rfind(b"\n") + 1  # a mark split across reads counts once, whole
            rest = data[cut:]
            n = data.count(MARK, 0, cut)
            with self.lock:
                self.docs += n

    def count(self):
        with self.lock:
            return self.docs


def patch_logging(port, password, body):
    Api(port, basic("admin", password)).call("PATCH", "/api/v2/settings/logging/", body)


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
            before = rx.count()
            cpu0 = time.process_time()
            r = json.loads(subprocess.run(
                [sys.executable, ingest, "ingest", "--port", str(port), "--token", token,
                 "--jt", jt, "--pid", pid, "--events", str(events), "--standin-log", standin_log],
                check=True, capture_output=True, text=True).stdout)
            if not r["count_ok"]:
                sys.exit(f"job {r['job']}: {r['events_counted']} of {events} events stored")
            shipped = None
            if on:
                deadline = time.monotonic() + 120
                while rx.count() - before < events and time.monotonic() < deadline:
                    time.sleep(0.05)
                time.sleep(0.2)  # anything beyond the job's events would show now
                shipped = rx.count() - before
                if shipped != events:
                    sys.exit(f"job {r['job']}: {shipped} of {events} events reached the aggregator")
            # This process's CPU over the run: the receiver's, which the server competes with.
            bench_cpu = time.process_time() - cpu0
            row = {"job": r["job"], "shipping": on, "events_per_s": r["events_per_s"],
                   "ingest_s": r["ingest_s"], "shipped": shipped,
                   "rawx_cpu_s": r.get("rawx_cpu_s_first_event_to_final"),
                   "bench_cpu_s": bench_cpu}
            results.append(row)
            print(f"  shipping {'on ' if on else 'off'}  job {row['job']:>3}  {events} events  "
                  f"{row['ingest_s']:.2f} s  {row['events_per_s']:.0f} events/s  rawx cpu {row['rawx_cpu_s']} s"
                  + (f"  (all {shipped} shipped)" if on else ""), flush=True)
    off = statistics.median(r["events_per_s"] for r in results if not r["shipping"])
    on = statistics.median(r["events_per_s"] for r in results if r["shipping"])
    pairs = [b["events_per_s"] / a["events_per_s"] for a, b in zip(results[::2], results[1::2])]
    cpu = {k: statistics.median(r["rawx_cpu_s"] for r in results if r["shipping"] == k)
           for k in (False, True) if all(r["rawx_cpu_s"] is not None for r in results)}
    summary = {"events": events, "runs": runs, "ingest_events_per_s_off": off,
               "ingest_events_per_s_on": on, "ratio_on_off": on / off, "pair_ratios": pairs,
               "rawx_cpu_s_off": cpu.get(False), "rawx_cpu_s_on": cpu.get(True),
               "runs_detail": results}
    with open(out, "w") as f:
        json.dump(summary, f, indent=2)
    print(f"\ningest (median events/s): off {off:.0f}, on {on:.0f}, ratio on/off {on / off:.3f} "
          f"(goal >= 0.9); pairs {', '.join(f'{p:.2f}' for p in pairs)}"
          + (f"; rawx cpu (median s) off {cpu[False]}, on {cpu[True]}" if cpu else ""))


if __name__ == "__main__":
    main()
