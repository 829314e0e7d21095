#!/usr/bin/env python3
"""Helpers for bench/run.sh (Python standard library only).

Subcommands:
  free-port                      print a free TCP port on 127.0.0.1
  start-times                    spawn `rawx serve` N times, time exec -> first /api/v2/ping/ 200
  wait-ready                     poll /api/v2/ping/ until 200 (or the process dies / timeout)
  rss PID                        print VmRSS of PID in KiB
  token                          create an API token with Basic auth, print it
  load                           create an organization, an inventory and N hosts concurrently
  parse-wrk FILE                 turn wrk --latency output into JSON
  report FILE...                 print the summary table and merge the per-backend JSON files

Every rawx process this helper spawns has its pid appended to $RAWX_BENCH_PIDFILE (when set)
so run.sh's trap can end it even if this helper is killed first.
"""

import argparse
import http.client
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import threading
import time

from benchlib import Api, die, free_port


def ping_ok(port, timeout=1.0):
    """One GET /api/v2/ping/ on a fresh connection; True on 200."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", "/api/v2/ping/")
        resp = conn.getresponse()
        resp.read()
        return resp.status == 200
    except (OSError, http.client.HTTPException):
        return False
    finally:
        conn.close()


def wait_ping(port, proc=None, pid=None, timeout=60.0, interval=0.005):
    """Polls until ping answers 200; returns seconds waited. Dies if the process exits."""
    t0 = time.perf_counter()
    while True:
        if ping_ok(port):
            return time.perf_counter() - t0
        if proc is not None and proc.poll() is not None:
            die(f"rawx exited with status {proc.returncode} before answering /api/v2/ping/")
        if pid is not None and not os.path.exists(f"/proc/{pid}"):
            die(f"rawx (pid {pid}) exited before answering /api/v2/ping/")
        if time.perf_counter() - t0 > timeout:
            die(f"no 200 from /api/v2/ping/ on port {port} within {timeout:.0f} s")
        time.sleep(interval)


def record_pid(pid):
    path = os.environ.get("RAWX_BENCH_PIDFILE")
    if path:
        with open(path, "a") as f:
            f.write(f"{pid}\n")


def stop(proc, grace=10.0):
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            print(f"rawxbench: rawx pid {proc.pid} ignored SIGTERM for {grace:.0f} s; killing",
                  file=sys.stderr)
            proc.kill()
            proc.wait()


def cmd_start_times(a):
    """Each start: exec rawx, poll ping every 5 ms on a fresh connection, stop it (SIGTERM)."""
    times = []
    for i in range(a.runs):
        port = free_port()
        argv = [a.bin, "serve", "--data-dir", a.data_dir, "--bind", f"127.0.0.1:{port}"]
        if a.database_url:
            argv += ["--database-url", a.database_url]
        log = open(a.log, "a") if a.log else subprocess.DEVNULL
        t0 = time.perf_counter()
        proc = subprocess.Popen(argv, stdout=log, stderr=log, stdin=subprocess.DEVNULL)
        record_pid(proc.pid)
        try:
            wait_ping(port, proc=proc)
            elapsed = time.perf_counter() - t0
        finally:
            stop(proc)
            if log is not subprocess.DEVNULL:
                log.close()
        times.append(elapsed * 1000.0)
    print(json.dumps({"runs_ms": [round(t, 1) for t in times],
                      "median_ms": round(statistics.median(times), 1)}))


def cmd_wait_ready(a):
    waited = wait_ping(a.port, pid=a.pid, timeout=a.timeout)
    print(f"{waited * 1000:.1f}")


def cmd_rss(a):
    try:
        with open(f"/proc/{a.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    print(line.split()[1])  # KiB
                    return
    except FileNotFoundError:
        die(f"no process {a.pid}")
    die(f"no VmRSS for {a.pid}")


def cmd_token(a):
    print(Api.login(a.port, a.password, a.user, timeout=30).token)


def cmd_load(a):
    api = Api(a.port, f"Bearer {a.token}")
    org = api.call("POST", "/api/v2/organizations/", {"name": "Bench"}, expect=(201,))
    inv = api.call("POST", "/api/v2/inventories/", {"name": "Bench", "organization": org["id"]},
                   expect=(201,))
    api.close()
    inv_id = inv["id"]

    next_i = iter(range(a.hosts))
    lock = threading.Lock()
    errors = []
    done = [0]

    def worker():
        c = Api(a.port, api.auth)
        while True:
            with lock:
                if errors:
                    return
                i = next(next_i, None)
            if i is None:
                break
            body = {"name": f"host-{i:05d}.bench.example", "inventory": inv_id,
                    "variables": json.dumps({"ansible_host": f"10.{i // 65536}.{i // 256 % 256}.{i % 256}"})}
            try:
                status, resp = c.request("POST", "/api/v2/hosts/", body)
            except (OSError, http.client.HTTPException) as e:
                with lock:
                    errors.append(f"host {i}: {e}")
                return
            if status != 201:
                with lock:
                    errors.append(f"host {i}: {status} {resp}")
                return
            with lock:
                done[0] += 1
        c.close()

    t0 = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(a.concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - t0
    if errors:
        die(f"loading hosts failed after {done[0]} hosts: {errors[0]}")

    # check the list the load test reads
    status, page = Api(a.port, api.auth).request("GET", "/api/v2/hosts/?page_size=200")
    if status != 200 or page.get("count") != a.hosts or len(page.get("results", [])) != 200:
        die(f"GET /api/v2/hosts/?page_size=200 answered {status}, count "
            f"{page.get('count') if isinstance(page, dict) else '?'}")
    print(json.dumps({"hosts": a.hosts, "seconds": round(elapsed, 2),
                      "hosts_per_s": round(a.hosts / elapsed, 1),
                      "concurrency": a.concurrency, "inventory": inv_id}))


UNIT = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0, "h": 3600000.0}


def to_ms(text):
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m|h)", text)
    if not m:
        die(f"cannot read wrk duration {text!r}")
    return float(m.group(1)) * UNIT[m.group(2)]


def cmd_parse_wrk(a):
    text = open(a.file).read()
    out = {}
    for pct in ("50", "75", "90", "99"):
        m = re.search(rf"^\s+{pct}%\s+(\S+)", text, re.M)
        if m:
            out[f"p{pct}_ms"] = round(to_ms(m.group(1)), 2)
    m = re.search(r"^Requests/sec:\s+([\d.]+)", text, re.M)
    if m:
        out["req_per_s"] = round(float(m.group(1)), 1)
    m = re.search(r"^\s+(\d+) requests in", text, re.M)
    if m:
        out["requests"] = int(m.group(1))
    m = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", text)
    out["non_2xx"] = int(m.group(1)) if m else 0
    m = re.search(r"Socket errors:\s+connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    out["socket_errors"] = sum(int(x) for x in m.groups()) if m else 0
    if "p50_ms" not in out or "req_per_s" not in out:
        die(f"cannot read wrk output in {a.file}")
    print(json.dumps(out))


def fmt(v, spec):
    return "-" if v is None else format(v, spec)


def cmd_report(a):
    rows = [json.load(open(f)) for f in a.files]
    cols = [("backend", 10), ("idle RSS MiB", 12), ("start ms cold/warm", 18),
            ("load hosts/s", 12), ("p50 ms", 8), ("p99 ms", 8), ("req/s", 8),
            ("RSS after MiB", 13)]
    print("  ".join(name.rjust(w) if i else name.ljust(w) for i, (name, w) in enumerate(cols)))
    for r in rows:
        cells = [r["backend"],
                 fmt(r.get("idle_rss_mib"), ".1f"),
                 f"{fmt(r.get('start_cold_ms'), '.0f')}/{fmt(r.get('start_warm_median_ms'), '.0f')}",
                 fmt(r.get("load_hosts_per_s"), ".0f"),
                 fmt(r.get("p50_ms"), ".2f"),
                 fmt(r.get("p99_ms"), ".2f"),
                 fmt(r.get("req_per_s"), ".1f"),
                 fmt(r.get("rss_after_mib"), ".1f")]
        print("  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, (_, w)) in enumerate(zip(cells, cols))))
    goals = {"idle_rss_mib_max": 40, "start_ms_max": 1000}
    for r in rows:
        r["goals_met"] = {
            "idle_rss": r.get("idle_rss_mib") is not None and r["idle_rss_mib"] <= 40,
            "start_warm": r.get("start_warm_median_ms") is not None and r["start_warm_median_ms"] < 1000,
            "start_cold": r.get("start_cold_ms") is not None and r["start_cold_ms"] < 1000,
        }
    doc = {"generated": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "goals": goals,
           "machine": {"cpus": os.cpu_count(), "loadavg_at_end": os.getloadavg()},
           "results": rows}
    if a.meta:
        doc.update(json.loads(a.meta))
    os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
    tmp = a.out + ".tmp"
    with open(tmp, "w") as f:
        json.dump(doc, f, indent=2)
        f.write("\n")
    os.replace(tmp, a.out)
    print(f"\nJSON written to {a.out}")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)

    sub.add_parser("free-port")

    s = sub.add_parser("start-times")
    s.add_argument("--bin", required=True)
    s.add_argument("--data-dir", required=True)
    s.add_argument("--database-url")
    s.add_argument("--runs", type=int, default=5)
    s.add_argument("--log")

    s = sub.add_parser("wait-ready")
    s.add_argument("--port", type=int, required=True)
    s.add_argument("--pid", type=int)
    s.add_argument("--timeout", type=float, default=60)

    s = sub.add_parser("rss")
    s.add_argument("pid", type=int)

    s = sub.add_parser("token")
    s.add_argument("--port", type=int, required=True)
    s.add_argument("--user", default="admin")
    s.add_argument("--password", required=True)

    s = sub.add_parser("load")
    s.add_argument("--port", type=int, required=True)
    s.add_argument("--token", required=True)
    s.add_argument("--hosts", type=int, default=10000)
    s.add_argument("--concurrency", type=int, default=8)

    s = sub.add_parser("parse-wrk")
    s.add_argument("file")

    s = sub.add_parser("report")
    s.add_argument("--out", required=True)
    s.add_argument("--meta")
    s.add_argument("files", nargs="+")

    a = p.parse_args()
    if a.cmd == "free-port":
        print(free_port())
    else:
        {"start-times": cmd_start_times, "wait-ready": cmd_wait_ready, "rss": cmd_rss,
         "token": cmd_token, "load": cmd_load, "parse-wrk": cmd_parse_wrk,
         "report": cmd_report}[a.cmd](a)


if __name__ == "__main__":
    main()
