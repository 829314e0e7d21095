"""bench/inventory_import.sh's helper: writes the inventory file, drives rawx through its API
(a git project whose checkout the bench writes, an inventory, an SCM source with overwrite,
updates), reads rawx's part from the server log (`import_ms`), and measures the floors on the
same file in the same run: `ansible-inventory --list` itself, and a raw SQLite insert of the
same rows (hosts, groups, memberships, children) in one transaction. Standard library only.
"""

import argparse
import json
import os
import re
import sqlite3
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import Api, die, ts  # noqa: E402


def make_inventory(hosts, groups, parents):
    """`groups` groups (the first `parents` hold the others as children), `hosts` hosts spread
    over the leaf groups, two variables each; what `ansible-inventory --list` reads."""
    leaves = [f"g{i:04d}" for i in range(parents, groups)]
    inv = {"all": {"vars": {"bench": True}, "children": [f"g{i:04d}" for i in range(parents)]}}
    for p in range(parents):
        inv[f"g{p:04d}"] = {"children": leaves[p::parents], "vars": {"parent": p}}
    members = {g: [] for g in leaves}
    hostvars = {}
    for h in range(hosts):
        name = f"host{h:05d}.example.com"
        members[leaves[h % len(leaves)]].append(name)
        hostvars[name] = {"ansible_host": f"10.{h // 65536}.{(h // 256) % 256}.{h % 256}", "rack": h % 40}
    for g, hs in members.items():
        inv[g] = {"hosts": hs, "vars": {"leaf": g}}
    inv["_meta"] = {"hostvars": hostvars}
    return inv


def cmd_make(a):
    inv = make_inventory(a.hosts, a.groups, a.parents)
    os.makedirs(a.dir, exist_ok=True)
    with open(os.path.join(a.dir, "hosts.json"), "w") as f:
        json.dump(inv, f)


def ansible_inventory(venv, path):
    """Seconds of `ansible-inventory --list` on the file (best of two), and its JSON."""
    best, data = None, None
    for _ in range(2):
        out = tempfile.mktemp(suffix=".json")
        t0 = time.monotonic()
        subprocess.run([os.path.join(venv, "bin", "ansible-inventory"), "--list", "--export",
                        "-i", path, "--output", out], check=True, stdout=subprocess.DEVNULL)
        dt = time.monotonic() - t0
        best = dt if best is None else min(best, dt)
        with open(out) as f:
            data = json.load(f)
        os.unlink(out)
    return best, data


def raw_insert(data):
    """Seconds to insert what the import writes, as plain rows in one SQLite transaction with
    the same indexes a rawx database has on them (name unique per inventory, link keys)."""
    db = tempfile.mktemp(suffix=".db")
    c = sqlite3.connect(db)
    c.executescript("""
      PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;
      CREATE TABLE hosts (id INTEGER PRIMARY KEY, name TEXT, inventory INT, variables TEXT, description TEXT, enabled INT, instance_id TEXT, UNIQUE(name, inventory));
      CREATE TABLE groups (id INTEGER PRIMARY KEY, name TEXT, inventory INT, variables TEXT, description TEXT, UNIQUE(name, inventory));
      CREATE TABLE group_hosts (group_id INT, host_id INT, PRIMARY KEY(group_id, host_id));
      CREATE TABLE group_children (parent_id INT, child_id INT, PRIMARY KEY(parent_id, child_id));
      CREATE TABLE source_hosts (s INT, host_id INT, PRIMARY KEY(s, host_id));
      CREATE TABLE source_groups (s INT, group_id INT, PRIMARY KEY(s, group_id));
    """)
    hostvars = data.get("_meta", {}).get("hostvars", {})
    groups = {k: v for k, v in data.items() if k not in ("_meta", "all", "ungrouped")}
    t0 = time.monotonic()
    with c:
        hid = {}
        for i, (name, v) in enumerate(hostvars.items(), 1):
            hid[name] = i
        c.executemany("INSERT INTO hosts VALUES (?,?,1,?, 'imported', 1, '')",
                      [(i, n, json.dumps(hostvars[n])) for n, i in hid.items()])
        gid = {g: i for i, g in enumerate(groups, 1)}
        c.executemany("INSERT INTO groups VALUES (?,?,1,?, 'imported')",
                      [(i, g, json.dumps(groups[g].get("vars", {}))) for g, i in gid.items()])
        c.executemany("INSERT INTO group_hosts VALUES (?,?)",
                      [(gid[g], hid[h]) for g, v in groups.items() for h in v.get("hosts", [])])
        c.executemany("INSERT INTO group_children VALUES (?,?)",
                      [(gid[g], gid[ch]) for g, v in groups.items() for ch in v.get("children", []) if ch in gid])
        c.executemany("INSERT INTO source_hosts VALUES (1,?)", [(i,) for i in hid.values()])
        c.executemany("INSERT INTO source_groups VALUES (1,?)", [(i,) for i in gid.values()])
    dt = time.monotonic() - t0
    c.close()
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(db + suffix):
            os.unlink(db + suffix)
    return dt


def import_ms(log, update):
    """rawx's own figure for an update's import, from the server's log line."""
    pat = re.compile(rf"update={update}\b.*import_ms=(\d+)|import_ms=(\d+).*update={update}\b")
    with open(log, errors="replace") as f:
        for line in f:
            if "inventory imported" in line:
                m = pat.search(line)
                if m:
                    return int(m.group(1) or m.group(2))
    return None


def cmd_run(a):
    api = Api.login(a.port, a.password)
    org = api.call("POST", "/api/v2/organizations/", {"name": "bench"}, expect=(201,))
    proj = api.call("POST", "/api/v2/projects/", {
        "name": "inv", "organization": org["id"], "scm_type": "git",
        "scm_url": f"file://{a.project}", "local_path": os.path.basename(a.project)}, expect=(201,))
    inv = api.call("POST", "/api/v2/inventories/", {"name": "big", "organization": org["id"]},
                   expect=(201,))
    src = api.call("POST", "/api/v2/inventory_sources/", {
        "name": "file", "inventory": inv["id"], "source": "scm", "source_project": proj["id"],
        "source_path": "hosts.json", "overwrite": True, "verbosity": 0}, expect=(201,))
    floor_inv, data = ansible_inventory(a.venv, os.path.join(a.project, "hosts.json"))
    floor_sql = raw_insert(data)
    results = {}
    for label in ("first", "unchanged"):
        u = api.call("POST", f"/api/v2/inventory_sources/{src['id']}/update/", {}, expect=(202,))
        t0 = time.monotonic()
        while True:
            row = api.call("GET", f"/api/v2/inventory_updates/{u['id']}/")
            if row["status"] in ("successful", "failed", "error", "canceled"):
                break
            if time.monotonic() - t0 > a.timeout:
                die(f"update {u['id']} still {row['status']} after {a.timeout}s")
            time.sleep(0.2)
        if row["status"] != "successful":
            die(f"update {u['id']} ended {row['status']}: {row.get('job_explanation')}")
        ms = None
        for _ in range(50):
            ms = import_ms(a.log, u["id"])
            if ms is not None:
                break
            time.sleep(0.1)
        results[label] = {"update": u["id"], "import_s": (ms or 0) / 1000.0,
                          "update_elapsed_s": (ts(row["finished"]) or 0) - (ts(row["started"]) or 0)}
    hosts = api.call("GET", f"/api/v2/inventories/{inv['id']}/hosts/?page_size=1")["count"]
    groups = api.call("GET", f"/api/v2/inventories/{inv['id']}/groups/?page_size=1")["count"]
    if hosts != a.hosts or groups != a.groups:
        die(f"imported {hosts} hosts and {groups} groups, expected {a.hosts} and {a.groups}")
    out = {"backend": a.backend, "hosts": hosts, "groups": groups,
           "ansible_inventory_s": floor_inv, "raw_sqlite_insert_s": floor_sql, **results,
           "goal_import_s": 3.0}
    print(f"{a.backend}: {hosts} hosts, {groups} groups")
    print(f"  floor: ansible-inventory --list   {floor_inv:7.2f} s  (reported apart, not rawx's)")
    print(f"  floor: raw SQLite insert, 1 tx    {floor_sql:7.2f} s")
    print(f"  rawx import, first sync           {results['first']['import_s']:7.2f} s  (goal < 3 s)")
    print(f"  rawx import, unchanged re-sync    {results['unchanged']['import_s']:7.2f} s")
    print(f"  whole update, first (start->end)  {results['first']['update_elapsed_s']:7.2f} s")
    with open(a.out, "a") as f:
        f.write(json.dumps(out) + "\n")


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    m = sub.add_parser("make")
    m.add_argument("--dir", required=True)
    m.add_argument("--hosts", type=int, default=10000)
    m.add_argument("--groups", type=int, default=1000)
    m.add_argument("--parents", type=int, default=10)
    r = sub.add_parser("run")
    for k in ("--project", "--log", "--venv", "--out", "--password", "--backend"):
        r.add_argument(k, required=True)
    r.add_argument("--port", type=int, required=True)
    r.add_argument("--hosts", type=int, default=10000)
    r.add_argument("--groups", type=int, default=1000)
    r.add_argument("--timeout", type=float, default=600)
    a = p.parse_args()
    {"make": cmd_make, "run": cmd_run}[a.cmd](a)


if __name__ == "__main__":
    main()
