"""Issue 21's smart inventory figure (bench/smart_inventory.sh): loads hosts with SQL, makes
smart inventories through the API, times what clients read, and PostgreSQL's own time for the
same selection written by hand (the floor)."""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import Api, basic, die  # noqa: E402

# (label, host_filter, the same selection by hand: a WHERE on hosts h joined to inventories i)
FILTERS = [
    ("name prefix", "name__startswith=web-1",
     "h.name LIKE 'web-1%'"),
    ("fact", "ansible_facts__ansible_distribution=CentOS",
     "CAST(h.ansible_facts AS jsonb) @> '{\"ansible_distribution\": \"CentOS\"}'"),
    ("group and nested fact", "groups__name=g7 and ansible_facts__ansible_lo__ipv6[]__scope=host",
     "h.id IN (SELECT gh.host_id FROM group_hosts gh JOIN groups g ON g.id = gh.group_id WHERE g.name = 'g7')"
     " AND CAST(h.ansible_facts AS jsonb) @> '{\"ansible_lo\": {\"ipv6\": [{\"scope\": \"host\"}]}}'"),
    ("or of both", "name__icontains=42 or (ansible_facts__ansible_processor_vcpus=4 and enabled=true)",
     "(LOWER(h.name) LIKE '%42%' OR (CAST(h.ansible_facts AS jsonb) @> '{\"ansible_processor_vcpus\": 4}' AND h.enabled))"),
]


def psql(url, sql):
    out = subprocess.run(["psql", url, "-q", "-At", "-v", "ON_ERROR_STOP=1", "-c", sql],
                         capture_output=True, text=True)
    if out.returncode != 0:
        die(f"psql: {out.stderr}")
    return out.stdout.strip()


def db_ms(url, sql):
    """PostgreSQL's planning + execution time of `sql`, in ms (median of 3)."""
    times = []
    for _ in range(3):
        plan = json.loads(psql(url, f"EXPLAIN (ANALYZE, FORMAT JSON) {sql}"))[0]
        times.append(plan["Planning Time"] + plan["Execution Time"])
    return statistics.median(times)


def load(api, url, hosts):
    org = api.call("POST", "/api/v2/organizations/", {"name": "Bench"}, expect=(201,))["id"]
    per = hosts // 10
    invs = [api.call("POST", "/api/v2/inventories/", {"name": f"inv{i}", "organization": org},
                     expect=(201,))["id"] for i in range(10)]
    t = time.monotonic()
    for n, inv in enumerate(invs):
        start = n * per
        # Half the hosts have facts; distributions, vcpus and a nested list vary with the id.
        psql(url, f"""
            INSERT INTO hosts (name, inventory, enabled, variables, instance_id, description,
                               ansible_facts, ansible_facts_modified, created, modified)
            SELECT 'web-' || g, {inv}, true, '', '', '',
                   CASE WHEN g % 2 = 0 THEN json_build_object(
                       'ansible_distribution', CASE WHEN g % 4 = 0 THEN 'CentOS' ELSE 'Debian' END,
                       'ansible_processor_vcpus', g % 8,
                       'ansible_lo', json_build_object('ipv6', json_build_array(
                           json_build_object('scope', CASE WHEN g % 3 = 0 THEN 'host' ELSE 'link' END))))::text
                   ELSE '{{}}' END,
                   to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
                   to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
                   to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
            FROM generate_series({start}, {start + per - 1}) AS g""")
        gid = api.call("POST", "/api/v2/groups/", {"name": f"g{n}", "inventory": inv},
                       expect=(201,))["id"]
        psql(url, f"""INSERT INTO group_hosts (group_id, host_id)
                      SELECT {gid}, id FROM hosts WHERE inventory = {inv} AND id % 10 = 0""")
    psql(url, "ANALYZE")
    return org, time.monotonic() - t


def timed(api, path, repeat):
    times, body = [], None
    for _ in range(repeat):
        status, raw, secs = api.raw("GET", path)
        if status != 200:
            die(f"GET {path}: {status} {raw[:300]!r}")
        times.append(secs * 1000)
        body = raw
    return statistics.median(times), json.loads(body)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--password", required=True)
    ap.add_argument("--pg", required=True)
    ap.add_argument("--hosts", type=int, default=100000)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--out", required=True)
    ap.add_argument("--meta", default="{}")
    a = ap.parse_args()
    api = Api(a.port, basic("admin", a.password), timeout=600)
    org, load_s = load(api, a.pg, a.hosts)
    total = int(psql(a.pg, "SELECT count(*) FROM hosts"))
    print(f"loaded {total} hosts in {load_s:.1f} s (SQL, not measured)")
    rows = []
    for label, hf, where in FILTERS:
        inv = api.call("POST", "/api/v2/inventories/",
                       {"name": f"smart {label}", "organization": org, "kind": "smart",
                        "host_filter": hf}, expect=(201,))["id"]
        page_ms, page = timed(api, f"/api/v2/inventories/{inv}/hosts/?page_size=200", a.repeat)
        detail_ms, detail = timed(api, f"/api/v2/inventories/{inv}/", a.repeat)
        script_ms, script = timed(api, f"/api/v2/inventories/{inv}/script/", a.repeat)
        matched = len(script["all"]["hosts"])
        # The same selection by hand: in the organization, one host per name, then its first
        # page and its count (what the page answer needs), and every name (the script's).
        base = (f"FROM hosts h JOIN inventories i ON i.id = h.inventory "
                f"WHERE i.organization = {org} AND ({where})")
        ids = f"SELECT MIN(h.id) {base} GROUP BY h.name"
        floor_page = (db_ms(a.pg, f"SELECT count(*) FROM hosts WHERE id IN ({ids})")
                      + db_ms(a.pg, f"SELECT * FROM hosts WHERE id IN ({ids}) ORDER BY name, id LIMIT 200"))
        floor_script = db_ms(a.pg, f"SELECT name FROM hosts WHERE id IN ({ids}) AND enabled ORDER BY name, id")
        if page["count"] != matched or detail["total_hosts"] != matched:
            die(f"{label}: the page counts {page['count']}, the inventory {detail['total_hosts']}, "
                f"the script {matched}")
        rows.append({"filter": label, "host_filter": hf, "hosts": matched,
                     "page_ms": round(page_ms, 1), "page_floor_ms": round(floor_page, 1),
                     "detail_ms": round(detail_ms, 1),
                     "script_ms": round(script_ms, 1), "script_floor_ms": round(floor_script, 1)})
    print(f"\n{'filter':24} {'hosts':>7} {'page ms':>9} {'floor':>7} {'detail ms':>10} "
          f"{'script ms':>10} {'floor':>7}")
    for r in rows:
        print(f"{r['filter']:24} {r['hosts']:>7} {r['page_ms']:>9} {r['page_floor_ms']:>7} "
              f"{r['detail_ms']:>10} {r['script_ms']:>10} {r['script_floor_ms']:>7}")
    os.makedirs(os.path.dirname(a.out), exist_ok=True)
    with open(a.out, "w") as f:
        json.dump({"meta": json.loads(a.meta), "total_hosts": total, "figures": rows}, f, indent=2)
    print(f"\nwritten: {a.out}")


if __name__ == "__main__":
    main()
