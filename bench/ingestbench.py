#!/usr/bin/env python3
"""Event ingest and launch throughput for bench/ingest.sh (issue 6; Python standard library only).

Subcommands:
  make-stream  expand a captured `ansible-runner worker` result stream to N events (fresh
               counters, uuids, parent uuids, start/end lines, times), keeping its shape:
               status lines first, the events, the stats event, the final status, the artifacts
               zip frame and `{"eof": true}` last. Cached: an existing file made from the same
               sample and N is reused.
  setup        against a running `rawx serve`: a token, an organization, an inventory with
               `localhost`, a manual project and a job template; prints {"token", "jt"}
  ingest       launch one job whose stand-in runner replays the big stream; measure the ingest
               (first event stored -> job final with event_processing_finished), check the event
               count through the API, time GET .../stdout/?format=txt, read rawx's peak RSS
  launch       POST .../launch/ K times from C concurrent clients (one keep-alive connection
               each): 201s per second; then how long until every job is final
  report       print the table of figures beside the goals; write the JSON
  sql-times    sum the statement times sqlx logs (RAWX_LOG=info,sqlx=debug) by statement
  cleanup      stop the process group of every stand-in the log shows still running (the trap
               calls it: a stopped `rawx serve` leaves running units running, by design)

Times: the job's `created`, `started` (right after the node accepted the unit) and `finished`
come from rawx; an event's `created` in rawx is the runner's own time (from the stream), so the
moment the first event is *stored* is seen by polling `job_events/?page_size=1` for a count > 0.
The stand-in appends its own times (start, stdin drained, stream written) to a log.
"""

import argparse
import datetime as dt
import hashlib
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
import uuid

from benchlib import Api, die, proc_cpu, proc_status, ts

FINAL = {"successful", "failed", "error", "canceled"}

UUID_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
# Ansible's object ids (plays, tasks): a fixed prefix per run and a sequence number.
OBJECT_ID_RE = re.compile(r"([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-)([0-9a-f]{12})")

PLAYBOOK = """- hosts: all
  gather_facts: false
  tasks:
    - debug:
        msg: the bench's stand-in runner replays a captured stream instead
"""
HOST_VARS = {"ansible_connection": "local",
             "ansible_python_interpreter": "{{ ansible_playbook_python }}"}


# ---------------------------------------------------------------- the stream

def parse_sample(data):
    """(head lines, events, tail bytes): status lines before the first event, the event
    dicts in order, and everything from the final status on, byte for byte (the base64 zip
    has `{"eof": true}` glued to its end, so it is kept verbatim)."""
    head, events = [], []
    pos = 0
    while pos < len(data):
        nl = data.find(b"\n", pos)
        line = data[pos:nl if nl >= 0 else len(data)]
        obj = json.loads(line)
        if "status" in obj:
            if events:  # the final status: the rest is the tail
                return head, events, data[pos:]
            head.append(line + b"\n")
        elif "event" in obj and obj.get("event") != "keepalive":
            events.append(obj)
        pos = nl + 1 if nl >= 0 else len(data)
    die("the sample has no final status after its events")


def make_stream(sample_path, n, out_path):
    data = open(sample_path, "rb").read()
    head, events, tail = parse_sample(data)
    if events[0]["event"] != "playbook_on_start" or events[-1]["event"] != "playbook_on_stats":
        die("the sample must start with playbook_on_start and end with playbook_on_stats")
    start, body, stats = events[0], events[1:-1], events[-1]
    if n < 3:
        die("at least 3 events (start, one body event, stats)")
    playbook_uuid = start["uuid"]
    line_span = body[-1]["end_line"] - body[0]["start_line"]
    obj_span = 1 + max((int(m.group(2), 16) for ev in body
                        for m in OBJECT_ID_RE.finditer(json.dumps(ev))
                        if m.group(1).startswith("02fc0000-")), default=0)
    t0 = dt.datetime.fromisoformat(start["created"])
    step = dt.timedelta(microseconds=1000)  # events 1 ms apart: a plausible, monotonic clock

    def created(counter):
        return (t0 + step * (counter - 1)).isoformat()

    tmp = out_path + ".tmp"
    counter = 1
    with open(tmp, "wb") as f:
        for line in head:
            f.write(line)
        ev = dict(start)
        ev["created"] = created(counter)
        f.write(dump(ev))
        copy = 0
        body_out = 0
        last_end = start["end_line"]
        while counter < n - 1:
            mapping = {}
            for orig in body:
                if counter >= n - 1:
                    break
                counter += 1
                ev = json.loads(json.dumps(orig))  # a deep copy
                ev["counter"] = counter
                ev["start_line"] = orig["start_line"] + copy * line_span
                ev["end_line"] = orig["end_line"] + copy * line_span
                ev["created"] = created(counter)
                last_end = max(last_end, ev["end_line"])
                text = json.dumps(ev)

                def fresh(m):
                    old = m.group(0)
                    if old == playbook_uuid:
                        return old
                    if old not in mapping:
                        o = OBJECT_ID_RE.fullmatch(old)
                        if o and o.group(1).startswith("02fc0000-"):
                            seq = copy * obj_span + int(o.group(2), 16)
                            mapping[old] = f"{o.group(1)}{seq:012x}"
                        else:
                            mapping[old] = str(uuid.uuid4())
                    return mapping[old]

                f.write(UUID_RE.sub(fresh, text).encode() + b"\n")
                body_out += 1
            copy += 1
        # The recap: counts scale with the copies of the body, lines follow the last copy.
        counter += 1
        ev = json.loads(json.dumps(stats))
        ev["counter"] = counter
        width = stats["end_line"] - stats["start_line"]
        ev["start_line"], ev["end_line"] = last_end, last_end + width
        ev["created"] = created(counter)
        scale = body_out / len(body)
        for key in ("changed", "dark", "failures", "ignored", "ok", "rescued", "skipped"):
            if isinstance(ev["event_data"].get(key), dict):
                ev["event_data"][key] = {h: max(1, round(c * scale)) if c else 0
                                         for h, c in ev["event_data"][key].items()}
        f.write(dump(ev))
        f.write(tail)
    os.replace(tmp, out_path)
    return {"events": counter, "bytes": os.path.getsize(out_path), "copies": copy}


def dump(ev):
    # Python's own separators and ASCII escapes, as the runner writes them
    return json.dumps(ev).encode() + b"\n"


def cmd_make_stream(a):
    digest = hashlib.sha256(open(a.sample, "rb").read()).hexdigest()[:12]
    out = os.path.join(a.cache_dir, f"stream-{digest}-{a.events}.out")
    meta_path = out + ".json"
    if os.path.exists(out) and os.path.exists(meta_path):
        meta = json.load(open(meta_path))
        if meta.get("bytes") == os.path.getsize(out):
            meta["cached"] = True
            print(json.dumps(meta))
            return
    os.makedirs(a.cache_dir, exist_ok=True)
    t0 = time.perf_counter()
    meta = make_stream(a.sample, a.events, out)
    meta.update({"path": out, "sample": os.path.abspath(a.sample),
                 "seconds_to_make": round(time.perf_counter() - t0, 1)})
    with open(meta_path, "w") as f:
        json.dump(meta, f)
    meta["cached"] = False
    print(json.dumps(meta))


# ---------------------------------------------------------------- the API

def cmd_setup(a):
    api = Api.login(a.port, a.password, description="ingestbench", timeout=120)
    org = api.call("POST", "/api/v2/organizations/", {"name": "Bench"}, expect=(201,))
    inv = api.call("POST", "/api/v2/inventories/",
                   {"name": "Bench", "organization": org["id"]}, expect=(201,))
    # the captured stream's events are about `localhost`: its events link to this host
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
                   "project": proj["id"], "playbook": "play.yml",
                   # the launch test queues hundreds of jobs of one template
                   "allow_simultaneous": True}, expect=(201,))
    print(json.dumps({"token": api.token, "jt": jt["id"]}))


def thread_cpu(pid):
    """thread name -> utime + stime seconds, summed over pid's threads of that name."""
    out = {}
    hz = os.sysconf("SC_CLK_TCK")
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except FileNotFoundError:
        return out
    for tid in tids:
        try:
            raw = open(f"/proc/{pid}/task/{tid}/stat").read()
        except OSError:
            continue  # the thread ended
        name = raw[raw.index("(") + 1:raw.rindex(")")]
        f = raw.rsplit(")", 1)[1].split()
        # pooled threads are numbered (tokio-runtime-w, sqlx-sqlite-w…): one group each
        key = re.sub(r"[-_ ]?\d+$", "", name)
        out[key] = out.get(key, 0.0) + (int(f[11]) + int(f[12])) / hz
    return out


def pg_backend_cpu(pg_url, db):
    """utime + stime seconds of the PostgreSQL backends connected to db (same machine)."""
    if not pg_url or not db:
        return None
    try:
        pids = subprocess.run(
            ["psql", f"{pg_url}/postgres", "-At", "-c",
             f"SELECT pid FROM pg_stat_activity WHERE datname = '{db}'"],
            capture_output=True, text=True, timeout=10).stdout.split()
    except (OSError, subprocess.SubprocessError):
        return None
    total = 0.0
    for p in pids:
        c = proc_cpu(int(p))
        if c is not None:
            total += c
    return {"backends": len(pids), "cpu_s": total}


def machine_cpu():
    """(busy, total) jiffies of the whole machine."""
    parts = [int(x) for x in open("/proc/stat").readline().split()[1:]]
    idle = parts[3] + parts[4]
    return sum(parts) - idle, sum(parts)


def standin_times(path):
    """job id -> {"start", "drained", "end"}: epoch seconds from the stand-in's log."""
    out = {}
    if not path or not os.path.exists(path):
        return out
    for line in open(path):
        parts = line.split()
        if len(parts) < 4 or parts[0] not in ("start", "drained", "end"):
            continue
        m = re.search(r"--private-data-dir=\S*/jobs/(\d+)", line)
        if m:
            out.setdefault(int(m.group(1)), {})[parts[0]] = float(parts[2])
    return out


def cmd_ingest(a):
    api = Api(a.port, f"Bearer {a.token}", timeout=120)
    cpu0, mach0 = proc_cpu(a.pid), machine_cpu()
    t_launch = time.time()
    job_id = api.call("POST", f"/api/v2/job_templates/{a.jt}/launch/", {}, expect=(201,))["job"]
    events_path = f"/api/v2/jobs/{job_id}/job_events/?page_size=1"
    first_seen = None
    rss_samples = []
    t_poll0 = time.perf_counter()
    # Until the first event is stored, poll the event count (cheap while the table is empty
    # for this job); after that only the job row, so polling costs the ingest little.
    while first_seen is None:
        page = api.call("GET", events_path)
        if page.get("count", 0) > 0:
            first_seen = time.time()
            break
        job = api.call("GET", f"/api/v2/jobs/{job_id}/")
        if job.get("status") in FINAL:
            die(f"job {job_id} ended {job['status']} before any event was stored: "
                f"{job.get('job_explanation')!r}")
        if time.perf_counter() - t_poll0 > a.timeout:
            die(f"no event of job {job_id} stored within {a.timeout:.0f} s")
        time.sleep(a.poll_ms / 1000.0)
    cpu_first = proc_cpu(a.pid)
    threads_first = thread_cpu(a.pid)
    pg_first = pg_backend_cpu(a.pg_url, a.pg_db)
    while True:
        job = api.call("GET", f"/api/v2/jobs/{job_id}/")
        rss_samples.append((round(time.time() - first_seen, 3), proc_status(a.pid).get("VmRSS")))
        if job.get("status") in FINAL and job.get("event_processing_finished"):
            final_seen = time.time()
            if a.perf_pid:
                # the profile is of the ingest only, not of the stdout requests below
                try:
                    os.kill(a.perf_pid, signal.SIGINT)
                except ProcessLookupError:
                    pass
            break
        if time.perf_counter() - t_poll0 > a.timeout:
            die(f"job {job_id} not final within {a.timeout:.0f} s (status {job.get('status')})")
        # the end is rawx's own `finished`, so this poll needs no fine grain; each GET of a
        # job costs the server several queries, which would compete with the ingest
        time.sleep(max(a.poll_ms, 100) / 1000.0)
    cpu1, mach1 = proc_cpu(a.pid), machine_cpu()
    threads_final = thread_cpu(a.pid)
    pg_final = pg_backend_cpu(a.pg_url, a.pg_db)

    created, started, finished = ts(job["created"]), ts(job["started"]), ts(job["finished"])
    count = api.call("GET", events_path)["count"]
    # the last event by counter must be the stream's last (the recap)
    last = api.call("GET", f"/api/v2/jobs/{job_id}/job_events/?order_by=-counter&page_size=1")
    last_ev = (last.get("results") or [{}])[0]

    mem_ingest = proc_status(a.pid)
    # stdout as a user asks for it, then the full text (AWX serves only the download above 1 MiB)
    status, body, txt_s = api.raw("GET", f"/api/v2/jobs/{job_id}/stdout/?format=txt")
    if status != 200:
        die(f"GET /api/v2/jobs/{job_id}/stdout/?format=txt answered {status}: {body[:300]!r}")
    too_large = body.startswith(b"Standard Output too large to display")
    status_d, body_d, dl_s = api.raw("GET", f"/api/v2/jobs/{job_id}/stdout/?format=txt_download")
    if status_d != 200:
        die(f"GET /api/v2/jobs/{job_id}/stdout/?format=txt_download answered {status_d}")
    mem = proc_status(a.pid)

    st = standin_times(a.standin_log).get(job_id, {})
    ingest_from, basis = first_seen, "first event seen stored"
    if first_seen >= finished:
        # a short stream: the job was over before the poll saw its first event
        ingest_from, basis = started, "unit submitted (the job ended before the poll saw an event)"
    ingest_s = finished - ingest_from
    busy = (mach1[0] - mach0[0]) / max(1, mach1[1] - mach0[1])
    res = {
        "job": job_id,
        "status": job["status"],
        "events_expected": a.events,
        "events_counted": count,
        "count_ok": count == a.events,
        "last_counter": last_ev.get("counter"),
        "last_event": last_ev.get("event"),
        "stream_bytes": a.stream_bytes,
        # first event stored (client's poll) -> job finished (rawx's own time)
        "ingest_s": round(ingest_s, 3),
        "ingest_from": basis,
        "events_per_s": round(a.events / ingest_s, 1),
        # unit submitted (job started) -> job finished: includes the stand-in's start and cat
        "started_to_finished_s": round(finished - started, 3),
        "events_per_s_from_started": round(a.events / (finished - started), 1),
        "launch_to_started_ms": round((started - created) * 1000.0, 1),
        "first_event_poll_ms": a.poll_ms,
        "final_seen_after_finished_ms": round((final_seen - finished) * 1000.0, 1),
        "standin": {k: round(v - started, 3) for k, v in st.items()},
        "stdout_txt_s": round(txt_s, 3),
        "stdout_txt_bytes": len(body),
        "stdout_txt_too_large": too_large,
        "stdout_txt_head": body[:160].decode(errors="replace"),
        "stdout_download_s": round(dl_s, 3),
        "stdout_download_bytes": len(body_d),
        # VmHWM: the process's peak so far (a fresh `rawx serve` for this job)
        "peak_rss_ingest_mib": round(mem_ingest.get("VmHWM", 0) / 1024, 1),
        "peak_rss_mib": round(mem.get("VmHWM", 0) / 1024, 1),
        "rss_end_mib": round(mem.get("VmRSS", 0) / 1024, 1),
        "rss_samples_mib": [(t, round(r / 1024, 1)) for t, r in rss_samples[:: max(1, len(rss_samples) // 40)] if r],
        "rawx_cpu_s_launch_to_final": round(cpu1 - cpu0, 2) if cpu0 is not None else None,
        "rawx_cpu_s_first_event_to_final": round(cpu1 - cpu_first, 2) if cpu_first is not None else None,
        "machine_busy_fraction": round(busy, 3),
        "launched_at": t_launch,
        "loadavg_at_launch": os.getloadavg(),
    }
    # where rawx's CPU went during the ingest, by thread kind (sqlx runs each SQLite
    # connection on its own thread, so SQLite's own work shows apart from tokio's)
    res["rawx_thread_cpu_s_during_ingest"] = {
        k: round(v - threads_first.get(k, 0.0), 2) for k, v in sorted(threads_final.items())
        if v - threads_first.get(k, 0.0) >= 0.01}
    if pg_first and pg_final:
        # backends that came and went in between are missed: a lower bound
        res["postgres_backend_cpu_s_during_ingest"] = round(pg_final["cpu_s"] - pg_first["cpu_s"], 2)
    if res["rawx_cpu_s_first_event_to_final"] is not None:
        res["rawx_cores_busy_during_ingest"] = round(res["rawx_cpu_s_first_event_to_final"] / ingest_s, 2)
    print(json.dumps(res))


def cmd_launch(a):
    auth = f"Bearer {a.token}"
    lock = threading.Lock()
    jobs, errors, lat = [], [], []
    remaining = [a.count]

    def client():
        api = Api(a.port, auth, timeout=120)
        while True:
            with lock:
                if remaining[0] == 0 or errors:
                    return
                remaining[0] -= 1
            try:
                status, raw, secs = api.raw("POST", f"/api/v2/job_templates/{a.jt}/launch/", {})
            except (OSError, http.client.HTTPException) as e:
                with lock:
                    errors.append(str(e))
                return
            with lock:
                if status == 201:
                    jobs.append(json.loads(raw)["job"])
                    lat.append(secs)
                else:
                    errors.append(f"{status} {raw[:300]!r}")

    admin = Api(a.port, auth, timeout=120)
    instances = []
    if a.hold:
        # The launch alone: the instances disabled (AWX's way to stop a node taking work), so
        # the task role runs nothing while the requests come in; enabled again afterwards.
        instances = [i["id"] for i in admin.call("GET", "/api/v2/instances/?page_size=200")["results"]]
        for i in instances:
            admin.call("PATCH", f"/api/v2/instances/{i}/", {"enabled": False})
    load0 = os.getloadavg()
    t0 = time.perf_counter()
    wall0 = time.time()
    threads = [threading.Thread(target=client) for _ in range(a.concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    launch_s = time.perf_counter() - t0
    if errors:
        die(f"launch failed after {len(jobs)} jobs: {errors[0]}")

    # until every job is final: the list, filtered server-side, one request per poll
    api = admin
    ids = set(jobs)
    lo, hi = min(ids), max(ids)
    held_not_pending = None
    if a.hold:
        held_not_pending = api.call(
            "GET", f"/api/v2/jobs/?id__gte={lo}&id__lte={hi}&not__status=pending&page_size=1")["count"]
        t_release = time.perf_counter()
        for i in instances:
            api.call("PATCH", f"/api/v2/instances/{i}/", {"enabled": True})
    q = f"/api/v2/jobs/?id__gte={lo}&id__lte={hi}&page_size=1"
    while True:
        not_final = api.call("GET", q + "&not__status__in=successful,failed,error,canceled")["count"]
        if not_final == 0:
            break
        if time.perf_counter() - t0 > a.timeout:
            die(f"{not_final} of {len(jobs)} jobs not final after {a.timeout:.0f} s")
        time.sleep(0.2)
    all_final_s = time.perf_counter() - t0
    release_final_s = time.perf_counter() - t_release if a.hold else None
    by_status = {}
    for s in ("successful", "failed", "error", "canceled"):
        by_status[s] = api.call("GET", f"/api/v2/jobs/?id__gte={lo}&id__lte={hi}&status={s}&page_size=1")["count"]
    # the last job's own times: when did the task role get to it
    last = api.call("GET", f"/api/v2/jobs/?id__gte={lo}&id__lte={hi}&order_by=-finished&page_size=1")["results"][0]
    first = api.call("GET", f"/api/v2/jobs/?id__gte={lo}&id__lte={hi}&order_by=started&page_size=1")["results"][0]
    lat.sort()
    res = {
        "launched": len(jobs),
        "concurrency": a.concurrency,
        "launch_s": round(launch_s, 3),
        "launches_per_s": round(len(jobs) / launch_s, 1),
        "launch_latency_ms": {"p50": round(statistics.median(lat) * 1000, 1),
                              "p90": round(lat[int(len(lat) * 0.9) - 1] * 1000, 1),
                              "max": round(lat[-1] * 1000, 1)},
        "all_final_s": round(all_final_s, 2),
        "held": a.hold,
        # with --hold: jobs that left `pending` while the instances were disabled (should be 0)
        "held_not_pending": held_not_pending,
        "release_to_all_final_s": round(release_final_s, 2) if a.hold else None,
        "jobs_finished_per_s": round(len(jobs) / all_final_s, 1),
        "by_status": by_status,
        "loadavg_at_start": load0,
        "loadavg_at_end": os.getloadavg(),
        "first_started_after_s": round(ts(first["started"]) - wall0, 3) if first.get("started") else None,
        "last_finished_after_s": round(ts(last["finished"]) - wall0, 3) if last.get("finished") else None,
    }
    if by_status["successful"] != len(jobs):
        res["warning"] = "not every job ended successful"
    print(json.dumps(res))


# ---------------------------------------------------------------- report

GOALS = {"events_per_s_sqlite_min": 150000, "events_per_s_postgres_min": 100000,
         "stdout_txt_s_max": 1.0, "launches_per_s_min": 100}


def cmd_report(a):
    rows = [json.load(open(f)) for f in a.files]
    print(f"{'figure':44} {'sqlite':>12} {'postgres':>12}  goal")
    by = {r["backend"]: r for r in rows}

    def cell(backend, path, spec):
        r = by.get(backend)
        v = r
        for k in path:
            v = v.get(k) if isinstance(v, dict) else None
        return "-" if v is None else (format(v, spec) if spec else str(v))

    lines = [
        ("events in the stream", ("ingest", "events_expected"), "", ""),
        ("events/s (first stored -> job final)", ("ingest", "events_per_s"), ".0f",
         ">= 150,000 (SQLite) / 100,000 (PostgreSQL); AWX 1,100-1,630"),
        ("  ingest s", ("ingest", "ingest_s"), ".2f", ""),
        ("  events/s (unit submitted -> final)", ("ingest", "events_per_s_from_started"), ".0f", ""),
        ("  rawx CPU cores busy during ingest", ("ingest", "rawx_cores_busy_during_ingest"), ".2f", ""),
        ("event count through the API = N", ("ingest", "count_ok"), "", "true"),
        ("stdout ?format=txt s", ("ingest", "stdout_txt_s"), ".3f", "< 1 s"),
        ("  answered with AWX's too-large message", ("ingest", "stdout_txt_too_large"), "", ""),
        ("  ?format=txt_download s (full text)", ("ingest", "stdout_download_s"), ".3f", ""),
        ("  full text MiB", ("ingest", "stdout_download_mib"), ".1f", ""),
        ("peak RSS of rawx MiB, ingest (VmHWM)", ("ingest", "peak_rss_ingest_mib"), ".1f", "-"),
        ("  peak RSS MiB incl. the stdout requests", ("ingest", "peak_rss_mib"), ".1f", "-"),
        ("  load average (1 min) at the launch", ("ingest", "load1"), ".1f", ""),
        ("launches/s (201s per second)", ("launch", "launches_per_s"), ".1f", ">= 100; AWX ~1"),
        ("  load average (1 min) at the start", ("launch", "load1"), ".1f", ""),
        ("  jobs launched (clients)", ("launch", "launched_and_clients"), "", ""),
        ("  launch -> all final s", ("launch", "all_final_s"), ".1f", "-"),
        ("  jobs finished per s", ("launch", "jobs_finished_per_s"), ".1f", "-"),
        ("launches/s, launch alone (instances disabled)", ("launch_held", "launches_per_s"), ".1f", ">= 100"),
        ("  latency p50 ms", ("launch_held", "launch_latency_ms", "p50"), ".1f", ""),
        ("  jobs not pending while held (0 expected)", ("launch_held", "held_not_pending"), "", ""),
        ("  enabled -> all final s", ("launch_held", "release_to_all_final_s"), ".1f", "-"),
    ]
    for r in rows:
        ing = r.get("ingest") or {}
        if "stdout_download_bytes" in ing:
            ing["stdout_download_mib"] = ing["stdout_download_bytes"] / 1048576
        if ing.get("loadavg_at_launch"):
            ing["load1"] = ing["loadavg_at_launch"][0]
        la = r.get("launch") or {}
        if la.get("loadavg_at_start"):
            la["load1"] = la["loadavg_at_start"][0]
        if la:
            la["launched_and_clients"] = f"{la['launched']} ({la['concurrency']})"
    for name, path, spec, goal in lines:
        print(f"{name:44} {cell('sqlite', path, spec):>12} {cell('postgres', path, spec):>12}  {goal}")

    for r in rows:
        ing, la = r.get("ingest") or {}, r.get("launch") or {}
        need = GOALS["events_per_s_sqlite_min" if r["backend"] == "sqlite" else "events_per_s_postgres_min"]
        r["goals_met"] = {
            "events_per_s": ing.get("events_per_s", 0) >= need,
            "count": bool(ing.get("count_ok")),
            "stdout_txt": ing.get("stdout_txt_s", 99) < GOALS["stdout_txt_s_max"],
            "launches_per_s": la.get("launches_per_s", 0) >= GOALS["launches_per_s_min"],
            "launches_per_s_alone": (r.get("launch_held") or {}).get("launches_per_s", 0)
            >= GOALS["launches_per_s_min"],
        }
    doc = {"generated": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "goals": GOALS,
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


def cmd_merge(a):
    """One backend's result: {"backend", "ingest": {...}, "launch": {...}} from the parts."""
    doc = {"backend": a.backend}
    for kv in a.parts:
        k, path = kv.split("=", 1)
        doc[k] = json.load(open(path))
    print(json.dumps(doc))


def sql_shape(stmt):
    """A statement with its literals and parameter lists folded, to group by."""
    s = " ".join(stmt.split())
    s = re.sub(r"\(\s*(\$\d+|\?)(\s*,\s*(\$\d+|\?))*\s*\)", "(…)", s)   # (?, ?, ?) -> (…)
    s = re.sub(r"(\(…\)\s*,\s*)+\(…\)", "(…), …", s)                      # VALUES (…), (…)
    s = re.sub(r"\$\d+", "?", s)
    s = re.sub(r"'[^']*'", "'…'", s)
    s = re.sub(r"SELECT .{120,}? FROM", "SELECT <columns> FROM", s)
    return s[:220]


def cmd_sql_times(a):
    """Sums sqlx's per-statement times (RAWX_LOG=…,sqlx=debug, JSON log) by statement shape,
    between the first and the last log line that names the job."""
    groups = {}
    total = 0.0
    for line in open(a.log, errors="replace"):
        if '"sqlx::query"' not in line:
            continue
        try:
            rec = json.loads(line)
        except ValueError:
            continue
        f = rec.get("fields", {})
        stmt = f.get("db.statement") or f.get("summary") or ""
        secs = f.get("elapsed_secs")
        if secs is None:
            continue
        g = groups.setdefault(sql_shape(stmt), [0, 0.0, 0])
        g[0] += 1
        g[1] += secs
        g[2] += f.get("rows_returned", 0) or 0
        total += secs
    print(f"{'count':>7} {'total s':>8} {'avg ms':>8} {'rows out':>9}  statement (total {total:.2f} s)")
    for shape, (n, secs, rows) in sorted(groups.items(), key=lambda kv: -kv[1][1])[:a.top]:
        print(f"{n:7d} {secs:8.2f} {secs / n * 1000:8.2f} {rows:9d}  {shape}")


def cmd_cleanup(a):
    """SIGTERM (then SIGKILL) the process group of each stand-in that started and did not end."""
    if not os.path.exists(a.log):
        return
    live = {}
    for line in open(a.log):
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
        if b"stand-in" not in cmdline:
            continue
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(pgid, sig)
            except ProcessLookupError:
                break
            time.sleep(1)
        print(f"ingestbench: stopped a stand-in left running (pid {pid}, group {pgid})",
              file=sys.stderr)


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)

    s = sub.add_parser("make-stream")
    s.add_argument("--sample", required=True)
    s.add_argument("--events", type=int, default=100000)
    s.add_argument("--cache-dir", required=True)

    s = sub.add_parser("setup")
    s.add_argument("--port", type=int, required=True)
    s.add_argument("--password", required=True)
    s.add_argument("--data-dir", required=True)

    s = sub.add_parser("ingest")
    s.add_argument("--port", type=int, required=True)
    s.add_argument("--token", required=True)
    s.add_argument("--jt", type=int, required=True)
    s.add_argument("--pid", type=int, required=True, help="rawx serve's pid (RSS, CPU)")
    s.add_argument("--events", type=int, required=True)
    s.add_argument("--stream-bytes", type=int)
    s.add_argument("--standin-log")
    s.add_argument("--poll-ms", type=float, default=10)
    s.add_argument("--timeout", type=float, default=1800)
    s.add_argument("--pg-url", help="PostgreSQL server URL, to read its backends' CPU")
    s.add_argument("--pg-db")
    s.add_argument("--perf-pid", type=int, help="a `perf record` to stop when the job is final")

    s = sub.add_parser("launch")
    s.add_argument("--port", type=int, required=True)
    s.add_argument("--token", required=True)
    s.add_argument("--jt", type=int, required=True)
    s.add_argument("--count", type=int, default=500)
    s.add_argument("--concurrency", type=int, default=8)
    s.add_argument("--timeout", type=float, default=1800)
    s.add_argument("--hold", action="store_true",
                   help="disable the instances while launching (the launch alone), then enable them")

    s = sub.add_parser("merge")
    s.add_argument("--backend", required=True)
    s.add_argument("parts", nargs="+", help="name=file.json")

    s = sub.add_parser("report")
    s.add_argument("--out", required=True)
    s.add_argument("--meta")
    s.add_argument("files", nargs="+")

    s = sub.add_parser("cleanup")
    s.add_argument("--log", required=True)

    s = sub.add_parser("sql-times")
    s.add_argument("log")
    s.add_argument("--top", type=int, default=12)

    a = p.parse_args()
    {"make-stream": cmd_make_stream, "setup": cmd_setup, "ingest": cmd_ingest,
     "launch": cmd_launch, "merge": cmd_merge, "report": cmd_report,
     "cleanup": cmd_cleanup, "sql-times": cmd_sql_times}[a.cmd](a)


if __name__ == "__main__":
    main()
