#!/usr/bin/env python3
"""Job throughput of one vs two `rawx task` processes (issue 8; Python standard library only).

For each count of task nodes: a fresh PostgreSQL database, one `rawx web`, that many
`rawx task` (all on the machine's Redis), a trivial playbook run by the real ansible-runner;
K jobs are launched at once and the time from the first launch to the last job final gives
jobs/s. Prints both figures and their ratio (goal >= 1.8x), and writes them as JSON.

usage: scaleoutbench.py --rawx BIN --venv DIR [--jobs K] [--out FILE]
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time

from benchlib import Api, basic

PW = "bench-admin-pw"
PLAYBOOK = """- hosts: all
  gather_facts: false
  tasks:
    - debug:
        msg: trivial
"""
FINAL = {"successful", "failed", "error", "canceled"}


def psql(sql):
    subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", "postgres",
                    "-v", "ON_ERROR_STOP=1", "-qtAc", sql], check=True)


OK = (200, 201, 202, 204)


def admin(url):
    """The admin's Api on the web node `url` (http://127.0.0.1:PORT)."""
    return Api(int(url.rsplit(":", 1)[1]), basic("admin", PW))


def start(binary, role, name, env, data):
    log = open(os.path.join(data, "log"), "w")
    p = subprocess.Popen([binary, role, "--data-dir", data, "--bind", "127.0.0.1:0"],
                         env=dict(env, RAWX_NODE_NAME=name), stdout=subprocess.PIPE,
                         stderr=log, text=True)
    for line in p.stdout:
        if " serving " in line:
            url = line.split(" serving ")[1].split()[0].rstrip("/")
            return p, url[: -len("/api")] if url.endswith("/api") else url
        if " task node " in line:
            return p, None
    sys.exit(f"{role} {name} did not start; see {data}/log")


def run(binary, venv, tasks, jobs):
    db = f"rawx_bench_scale_{os.getpid()}_{tasks}"
    psql(f"CREATE DATABASE {db}")
    work = tempfile.mkdtemp(prefix="rawx-bench-scale.")
    procs = []
    try:
        projects = os.path.join(work, "projects")
        os.makedirs(os.path.join(projects, "p"))
        with open(os.path.join(projects, "p", "play.yml"), "w") as f:
            f.write(PLAYBOOK)
        env = dict(os.environ, RAWX_DATABASE_URL=f"postgres://postgres@127.0.0.1/{db}",
                   RAWX_REDIS_URL="redis://127.0.0.1:6379", RAWX_PROJECTS_DIR=projects,
                   RAWX_ADMIN_PASSWORD=PW, RAWX_PRELOAD_DATA="false",
                   RAWX_ANSIBLE_RUNNER=os.path.join(venv, "bin/ansible-runner"),
                   RAWX_LOG="warn")
        wdata = os.path.join(work, "web")
        os.makedirs(wdata)
        web, url = start(binary, "web", "web", env, wdata)
        procs.append(web)
        env["RAWX_SECRET_KEY"] = open(os.path.join(wdata, "secret.key")).read().strip()
        for i in range(tasks):
            d = os.path.join(work, f"task{i}")
            os.makedirs(d)
            procs.append(start(binary, "task", f"task-{i}", env, d)[0])
        api = admin(url)
        org = api.call("POST", "/api/v2/organizations/", {"name": "B"}, OK)["id"]
        inv = api.call("POST", "/api/v2/inventories/", {"name": "I", "organization": org}, OK)["id"]
        api.call("POST", "/api/v2/hosts/", {"name": "localhost", "inventory": inv,
                 "variables": json.dumps({"ansible_connection": "local",
                                          "ansible_python_interpreter": "{{ ansible_playbook_python }}"})}, OK)
        proj = api.call("POST", "/api/v2/projects/", {"name": "p", "organization": org,
                        "scm_type": "", "local_path": "p"}, OK)["id"]
        jt = api.call("POST", "/api/v2/job_templates/", {"name": "t", "project": proj,
                      "inventory": inv, "playbook": "play.yml", "allow_simultaneous": True}, OK)["id"]
        t0 = time.monotonic()
        ids = []
        lock = threading.Lock()

        def launch(n):
            own = admin(url)  # a connection per thread
            for _ in range(n):
                j = own.call("POST", f"/api/v2/job_templates/{jt}/launch/", {}, OK)["job"]
                with lock:
                    ids.append(j)
        threads = [threading.Thread(target=launch, args=(jobs // 4,)) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        pending = set(ids)
        nodes = {}
        while pending:
            time.sleep(0.2)
            for j in list(pending):
                row = api.call("GET", f"/api/v2/jobs/{j}/")
                if row["status"] in FINAL and row["event_processing_finished"]:
                    pending.discard(j)
                    if row["status"] != "successful":
                        sys.exit(f"job {j} ended {row['status']}: {row['job_explanation']}")
                    nodes[row["execution_node"]] = nodes.get(row["execution_node"], 0) + 1
            if time.monotonic() - t0 > 900:
                sys.exit("jobs did not finish within 15 minutes")
        took = time.monotonic() - t0
        return {"task_nodes": tasks, "jobs": len(ids), "seconds": round(took, 2),
                "jobs_per_s": round(len(ids) / took, 2), "by_node": nodes}
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
        shutil.rmtree(work, ignore_errors=True)
        psql(f"DROP DATABASE IF EXISTS {db} WITH (FORCE)")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rawx", required=True)
    ap.add_argument("--venv", required=True)
    ap.add_argument("--jobs", type=int, default=40)
    ap.add_argument("--out", default="/var/tmp/rawx-bench/scaleout.json")
    a = ap.parse_args()
    one = run(a.rawx, a.venv, 1, a.jobs)
    two = run(a.rawx, a.venv, 2, a.jobs)
    ratio = two["jobs_per_s"] / one["jobs_per_s"]
    load = os.getloadavg()
    print(f"\n{'task nodes':>10} {'jobs':>5} {'seconds':>8} {'jobs/s':>7}  by node")
    for r in (one, two):
        print(f"{r['task_nodes']:>10} {r['jobs']:>5} {r['seconds']:>8} {r['jobs_per_s']:>7}  {r['by_node']}")
    print(f"\ntwo task nodes vs one: {ratio:.2f}x (goal >= 1.8x); {os.cpu_count()} CPUs, "
          f"load average {load[0]:.1f}")
    os.makedirs(os.path.dirname(a.out), exist_ok=True)
    with open(a.out, "w") as f:
        json.dump({"one": one, "two": two, "ratio": round(ratio, 3), "cpus": os.cpu_count(),
                   "loadavg": load}, f, indent=2)


if __name__ == "__main__":
    main()
