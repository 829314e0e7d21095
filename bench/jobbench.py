#!/usr/bin/env python3
"""Job overhead for bench/jobs.sh (issue 5's figures; Python standard library only).

Subcommands:
  run      against a running `rawx serve`: create an organization, an inventory (localhost),
           a manual project, a job template; then alternate a job launched through rawx with a
           bare `ansible-runner run` of the same playbook and inventory, N times each; print
           the table and write the JSON
  cleanup  stop the process group of every unit the runner wrapper recorded as still running
           (jobs.sh's trap calls it: a stopped `rawx serve` leaves its units running, by design)

Per rawx run it records:
  wall       launch -> final, as a client sees it: from just before POST .../launch/ until a
             GET /api/v2/jobs/N/ (polled every 10 ms on one keep-alive connection) shows a final
             status. This is what the ratio compares with the bare run's wall time.
  submit     job `started` - job `created`: launch (the pending row is written) -> work unit
             submitted and the job marked running (`started` is taken right after the submit).
  close      job `finished` - `created` of its last event (highest counter): the last event
             stored -> the job final.
  and, from the runner wrapper jobs.sh puts in front of ansible-runner (RAWX_ANSIBLE_RUNNER):
  to_exec    job `created` -> the wrapper started (the unit's process is running)
  exit_close wrapper saw `ansible-runner worker` exit -> job `finished`
  runner_s   the wrapper's start -> exit of `ansible-runner worker` (the runner's own time)
  outside_runner  job `created` -> `finished` minus runner_s: all that rawx adds server-side
  and, from the server log (RAWX_LOG_FORMAT=json), `submit_ms` of the "job submitted" line
  (rawx's own timer: job read -> private data dir built -> stream encoded -> unit started).
Per bare run: wall time of `ansible-runner run PDD -p play.yml` (a fresh copy of the private
data dir each time; copying and removing it are outside the timing).
"""

import argparse
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import time

from benchlib import Api, die, ts

FINAL = {"successful", "failed", "error", "canceled"}

PLAYBOOK = """\
- hosts: all
  gather_facts: false
  tasks:
""" + "".join(f"""\
    - name: step {i}
      debug:
        msg: "bench step {i}"
""" for i in range(1, 6))

HOST_VARS = {"ansible_connection": "local",
             "ansible_python_interpreter": "{{ ansible_playbook_python }}"}

INVENTORY_YAML = """\
all:
  hosts:
    localhost:
      ansible_connection: local
      ansible_python_interpreter: "{{ ansible_playbook_python }}"
"""


def setup(a):
    """Token, organization, inventory with localhost, manual project, job template; and the
    bare runner's private data dir template. Returns (api, template id, bare template dir)."""
    api = Api.login(a.port, a.password, description="jobbench")
    org = api.call("POST", "/api/v2/organizations/", {"name": "Bench"}, expect=(201,))
    inv = api.call("POST", "/api/v2/inventories/",
                   {"name": "Bench", "organization": org["id"]}, expect=(201,))
    api.call("POST", "/api/v2/hosts/",
             {"name": "localhost", "inventory": inv["id"], "variables": json.dumps(HOST_VARS)},
             expect=(201,))
    proj_dir = os.path.join(a.data_dir, "projects", "bench")
    os.makedirs(proj_dir, exist_ok=True)
    with open(os.path.join(proj_dir, "play.yml"), "w") as f:
        f.write(PLAYBOOK)
    proj = api.call("POST", "/api/v2/projects/",
                    {"name": "bench", "organization": org["id"], "local_path": "bench"},
                    expect=(201,))
    jt = api.call("POST", "/api/v2/job_templates/",
                  {"name": "bench", "job_type": "run", "inventory": inv["id"],
                   "project": proj["id"], "playbook": "play.yml"}, expect=(201,))

    bare = os.path.join(a.work, "bare-template")
    os.makedirs(os.path.join(bare, "project"), exist_ok=True)
    os.makedirs(os.path.join(bare, "inventory"), exist_ok=True)
    with open(os.path.join(bare, "project", "play.yml"), "w") as f:
        f.write(PLAYBOOK)
    with open(os.path.join(bare, "inventory", "hosts.yml"), "w") as f:
        f.write(INVENTORY_YAML)
    return api, jt["id"], bare


def rawx_run(api, jt, poll):
    t0 = time.perf_counter()
    job_id = api.call("POST", f"/api/v2/job_templates/{jt}/launch/", {}, expect=(201,))["job"]
    while True:
        job = api.call("GET", f"/api/v2/jobs/{job_id}/")
        if job.get("status") in FINAL:
            break
        if time.perf_counter() - t0 > 600:
            die(f"job {job_id} not final after 600 s (status {job.get('status')})")
        time.sleep(poll)
    wall = time.perf_counter() - t0
    if job["status"] != "successful":
        die(f"job {job_id} ended {job['status']}: {job.get('job_explanation')!r}")
    page = api.call("GET", f"/api/v2/jobs/{job_id}/job_events/?order_by=-counter&page_size=1")
    last = (page.get("results") or [None])[0]
    if not last:
        die(f"job {job_id} has no events")
    created, started, finished = ts(job["created"]), ts(job["started"]), ts(job["finished"])
    return {
        "job": job_id,
        "wall_s": wall,
        "server_s": finished - created,
        "submit_ms": (started - created) * 1000.0,
        "close_ms": (finished - ts(last["created"])) * 1000.0,
        "last_event": last.get("event"),
        "events": page.get("count"),
        "_created": created,
        "_finished": finished,
    }


def bare_run(a, template, i):
    pdd = os.path.join(a.work, f"bare-{i}")
    shutil.rmtree(pdd, ignore_errors=True)
    shutil.copytree(template, pdd)
    out = open(os.path.join(a.work, "bare-last.out"), "w")
    try:
        t0 = time.perf_counter()
        proc = subprocess.Popen([a.runner, "run", pdd, "-p", "play.yml"], cwd=a.work,
                                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
        try:
            rc = proc.wait(600)
        except BaseException:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            raise
        wall = time.perf_counter() - t0
    finally:
        out.close()
    if rc != 0:
        die(f"bare ansible-runner run exited {rc}; output in {a.work}/bare-last.out")
    shutil.rmtree(pdd, ignore_errors=True)
    return {"wall_s": wall}


def wrapper_times(path):
    """job id -> {"start": epoch s, "end": epoch s} from the runner wrapper's log."""
    out = {}
    if not os.path.exists(path):
        return out
    for line in open(path):
        parts = line.split()
        if len(parts) < 4 or parts[0] not in ("start", "end"):
            continue
        m = re.search(r"--private-data-dir=\S*/jobs/(\d+)", line)
        if m:
            out.setdefault(int(m.group(1)), {})[parts[0]] = float(parts[2])
    return out


def log_submit_ms(path):
    """job id -> submit_ms from `job submitted` lines (JSON or text log)."""
    out = {}
    if not path or not os.path.exists(path):
        return out
    for line in open(path, errors="replace"):
        if "job submitted" not in line:
            continue
        try:
            rec = json.loads(line)
            f = rec.get("fields", rec)
            out[int(f["job"])] = float(f["submit_ms"])
        except (ValueError, KeyError, TypeError):
            m = re.search(r"job=(\d+).*submit_ms=(\d+)", line)
            if m:
                out[int(m.group(1))] = float(m.group(2))
    return out


def summary(xs):
    xs = sorted(xs)
    if not xs:
        return None
    p90 = statistics.quantiles(xs, n=10, method="inclusive")[8] if len(xs) > 1 else xs[0]
    return {"n": len(xs), "median": statistics.median(xs), "p90": p90,
            "min": xs[0], "max": xs[-1], "mean": statistics.fmean(xs)}


def rounded(d, nd):
    return None if d is None else {k: (round(v, nd) if isinstance(v, float) else v)
                                   for k, v in d.items()}


def cmd_run(a):
    api, jt, template = setup(a)
    load_start = os.getloadavg()
    order = []
    for _ in range(a.warmup):   # untimed: first imports, caches
        rawx_run(api, jt, a.poll_ms / 1000.0)
        bare_run(a, template, "warmup")
    rawx_runs, bare_runs = [], []
    for i in range(a.runs):
        # interleaved; which one goes first alternates so neither always follows the other
        pair = ("rawx", "bare") if i % 2 == 0 else ("bare", "rawx")
        for kind in pair:
            if kind == "rawx":
                r = rawx_run(api, jt, a.poll_ms / 1000.0)
                rawx_runs.append(r)
            else:
                r = bare_run(a, template, i)
                bare_runs.append(r)
            order.append(kind)
            print(f"  {kind:4} #{i + 1:<3} {r['wall_s'] * 1000:8.0f} ms"
                  + (f"   submit {r['submit_ms']:6.1f} ms   close {r['close_ms']:6.1f} ms"
                     f"   (job {r['job']}, {r['events']} events)" if kind == "rawx" else ""),
                  flush=True)
    load_end = os.getloadavg()

    wrap = wrapper_times(a.wrapper_log)
    logged = log_submit_ms(a.server_log)
    for r in rawx_runs:
        w = wrap.get(r["job"], {})
        r["to_exec_ms"] = (w["start"] - r["_created"]) * 1000.0 if "start" in w else None
        r["exit_close_ms"] = (r["_finished"] - w["end"]) * 1000.0 if "end" in w else None
        r["runner_s"] = w["end"] - w["start"] if "start" in w and "end" in w else None
        r["outside_runner_ms"] = (r["server_s"] - r["runner_s"]) * 1000.0 if r["runner_s"] else None
        r["log_submit_ms"] = logged.get(r["job"])
        del r["_created"], r["_finished"]

    def col(rows, k, scale=1.0):
        return [r[k] * scale for r in rows if r.get(k) is not None]

    rawx_wall = summary(col(rawx_runs, "wall_s", 1000.0))
    bare_wall = summary(col(bare_runs, "wall_s", 1000.0))
    server = summary(col(rawx_runs, "server_s", 1000.0))
    submit = summary(col(rawx_runs, "submit_ms"))
    close = summary(col(rawx_runs, "close_ms"))
    to_exec = summary(col(rawx_runs, "to_exec_ms"))
    exit_close = summary(col(rawx_runs, "exit_close_ms"))
    log_submit = summary(col(rawx_runs, "log_submit_ms"))
    runner = summary(col(rawx_runs, "runner_s", 1000.0))
    outside = summary(col(rawx_runs, "outside_runner_ms"))
    ratio = rawx_wall["median"] / bare_wall["median"]
    ratio_p90 = rawx_wall["p90"] / bare_wall["p90"]

    rows = [
        ("rawx launch -> final (client wall)", rawx_wall, "-"),
        ("bare ansible-runner run (wall)", bare_wall, "-"),
        ("rawx job created -> finished", server, "-"),
        ("launch -> unit submitted", submit, "< 50"),
        ("last event -> job final", close, "< 50"),
        ("  launch -> runner process started", to_exec, "-"),
        ("  runner exited -> job final", exit_close, "-"),
        ("  ansible-runner worker process", runner, "-"),
        ("  created->finished minus the runner", outside, "-"),
        ("  submit_ms (server log)", log_submit, "-"),
    ]
    print()
    print(f"{'figure (ms)':38} {'n':>3} {'median':>8} {'p90':>8} {'max':>8}  goal")
    for name, s, goal in rows:
        if s is None:
            print(f"{name:38} {'-':>3} {'-':>8} {'-':>8} {'-':>8}  {goal}")
            continue
        print(f"{name:38} {s['n']:3d} {s['median']:8.1f} {s['p90']:8.1f} {s['max']:8.1f}  {goal}")
    print(f"{'ratio of medians rawx / bare':38} {'':3} {ratio:8.3f} {ratio_p90:8.3f} {'':8}  <= 1.10"
          "   (p90 column: ratio of p90s)")
    print(f"load average {load_start[0]:.2f} {load_start[1]:.2f} {load_start[2]:.2f} at the start, "
          f"{load_end[0]:.2f} {load_end[1]:.2f} {load_end[2]:.2f} at the end "
          f"({os.cpu_count()} CPUs)")

    goals = {"ratio_max": 1.10, "submit_ms_max": 50, "close_ms_max": 50}
    doc = {
        "generated": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "goals": goals,
        "goals_met": {"ratio": ratio <= 1.10,
                      "submit_median": submit["median"] < 50, "submit_max": submit["max"] < 50,
                      "close_median": close["median"] < 50, "close_max": close["max"] < 50},
        "machine": {"cpus": os.cpu_count(), "loadavg_at_start": load_start,
                    "loadavg_at_end": load_end},
        "playbook": PLAYBOOK,
        "runs_each": a.runs, "warmup_each": a.warmup, "poll_interval_ms": a.poll_ms, "order": order,
        "ratio_of_medians": round(ratio, 4), "ratio_of_p90s": round(ratio_p90, 4),
        "rawx_wall_ms": rounded(rawx_wall, 1), "bare_wall_ms": rounded(bare_wall, 1),
        "rawx_server_ms": rounded(server, 1),
        "launch_to_submitted_ms": rounded(submit, 1), "last_event_to_final_ms": rounded(close, 1),
        "launch_to_runner_started_ms": rounded(to_exec, 1),
        "runner_exit_to_final_ms": rounded(exit_close, 1),
        "runner_worker_ms": rounded(runner, 1),
        "outside_runner_ms": rounded(outside, 1),
        "log_submit_ms": rounded(log_submit, 1),
        "rawx_runs": [{k: (round(v, 4) if isinstance(v, float) else v) for k, v in r.items()}
                      for r in rawx_runs],
        "bare_runs": [{k: round(v, 4) for k, v in r.items()} for r in bare_runs],
    }
    if a.meta:
        doc.update(json.loads(a.meta))
    os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
    tmp = a.out + ".tmp"
    with open(tmp, "w") as f:
        json.dump(doc, f, indent=2)
        f.write("\n")
    os.replace(tmp, a.out)
    print(f"\nJSON written to {a.out}")


def cmd_cleanup(a):
    """SIGTERM (then SIGKILL) the process group of each wrapper that started and did not end."""
    if not os.path.exists(a.wrapper_log):
        return
    live = {}
    for line in open(a.wrapper_log):
        parts = line.split()
        if len(parts) >= 4 and parts[0] in ("start", "end"):
            pid = int(parts[1])
            if parts[0] == "start":
                live[pid] = int(parts[3])   # pgid
            else:
                live.pop(pid, None)
    for pid, pgid in live.items():
        try:
            cmdline = open(f"/proc/{pid}/cmdline", "rb").read()
        except OSError:
            continue
        if b"ansible-runner" not in cmdline and b"runner-wrapper" not in cmdline:
            continue
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(pgid, sig)
            except ProcessLookupError:
                break
            time.sleep(2)
        print(f"jobbench: stopped a unit left running (pid {pid}, group {pgid})", file=sys.stderr)


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("run")
    s.add_argument("--port", type=int, required=True)
    s.add_argument("--password", required=True)
    s.add_argument("--data-dir", required=True, help="rawx serve's --data-dir")
    s.add_argument("--work", required=True, help="scratch dir for the bare runs")
    s.add_argument("--runner", required=True, help="the ansible-runner for the bare runs")
    s.add_argument("--wrapper-log", required=True)
    s.add_argument("--server-log")
    s.add_argument("--runs", type=int, default=10)
    s.add_argument("--warmup", type=int, default=1)
    s.add_argument("--poll-ms", type=float, default=10)
    s.add_argument("--out", required=True)
    s.add_argument("--meta")
    s = sub.add_parser("cleanup")
    s.add_argument("--wrapper-log", required=True)
    a = p.parse_args()
    {"run": cmd_run, "cleanup": cmd_cleanup}[a.cmd](a)


if __name__ == "__main__":
    main()
