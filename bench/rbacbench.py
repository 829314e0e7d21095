"""Issue 19's figure: list latency of hosts for a user who reads half of 100 inventories
(10,000 hosts in all) against a superuser's, the floor, in the same run and server. The
permission filter must not make lists slow. Standard library only."""

import argparse
import json
import statistics
import sys
import os

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import Api, basic, die  # noqa: E402


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--password", required=True)
    p.add_argument("--inventories", type=int, default=100)
    p.add_argument("--hosts", type=int, default=100, help="per inventory")
    p.add_argument("--runs", type=int, default=20)
    p.add_argument("--out", required=True)
    a = p.parse_args()
    admin = Api.login(a.port, a.password)
    org = admin.call("POST", "/api/v2/organizations/", {"name": "bench"}, expect=(201,))["id"]
    admin.call("POST", "/api/v2/users/", {"username": "op", "password": "op-pw-1234"},
               expect=(201,))
    user = admin.call("GET", "/api/v2/users/?username=op")["results"][0]["id"]
    readable = 0
    for i in range(a.inventories):
        inv = admin.call("POST", "/api/v2/inventories/",
                         {"name": f"inv{i}", "organization": org}, expect=(201,))
        for start in range(0, a.hosts, 100):
            hosts = [{"name": f"h{i}-{n}"} for n in range(start, min(a.hosts, start + 100))]
            admin.call("POST", "/api/v2/bulk/host_create/",
                       {"inventory": inv["id"], "hosts": hosts}, expect=(200, 201))
        if i % 2 == 0:
            role = inv["summary_fields"]["object_roles"]["read_role"]["id"]
            admin.call("POST", f"/api/v2/users/{user}/roles/", {"id": role}, expect=(204,))
            readable += a.hosts
    op = Api.login(a.port, "op-pw-1234", user="op")
    total = a.inventories * a.hosts
    paths = {
        "first_page": "/api/v2/hosts/?page_size=200",
        "deep_page": "/api/v2/hosts/?page_size=200&page=20",
        "search": "/api/v2/hosts/?search=h2-&page_size=200",
    }
    out = {"hosts": total, "readable_by_user": readable, "runs": a.runs}
    for name, path in paths.items():
        t = {"superuser": [], "user": []}
        counts = {}
        for _ in range(a.runs):
            for who, api in (("superuser", admin), ("user", op)):
                status, raw, secs = api.raw("GET", path)
                if status != 200:
                    die(f"{who} GET {path}: {status} {raw[:300]!r}")
                t[who].append(secs * 1000)
                counts[who] = json.loads(raw)["count"]
        count_user = counts["user"]
        su, us = statistics.median(t["superuser"]), statistics.median(t["user"])
        out[name] = {"superuser_ms": round(su, 1), "user_ms": round(us, 1),
                     "ratio": round(us / su, 2), "user_count": count_user,
                     "superuser_count": counts["superuser"]}
        print(f"{name:11} superuser (floor) {su:7.1f} ms   user {us:7.1f} ms   "
              f"ratio {us / su:5.2f}   counts: superuser {counts['superuser']}, "
              f"user {count_user}")
    if out["first_page"]["user_count"] != readable:
        die(f"the user sees {out['first_page']['user_count']} hosts, expected {readable}")
    with open(a.out, "w") as f:
        json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
