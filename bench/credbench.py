#!/usr/bin/env python3
"""Launch time of a job template with five credentials against one with none (issue 18), and
of one whose Machine password comes from an external lookup (HashiCorp Vault KV, answered by a
local server in this script that speaks Vault's KV v1 API: no Vault can run here).

Makes a local inventory, a manual project with a one-task playbook, five credentials of types
whose injectors write files, environment and extra vars (Amazon Web Services, Google Compute
Engine, OpenStack, OpenShift or Kubernetes API Bearer Token with a CA, a custom type with two
files and extra vars), and two templates (none, five); then launches them in turn, RUNS times
each, measuring the launch POST and launch -> final (the job's own `elapsed` too).
Prints the medians and writes them as JSON."""

import argparse, json, os, statistics, subprocess, sys, tempfile, threading, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import Api, die  # noqa: E402


def ids(results):
    return results["results"][0]["id"]


class FakeVault(BaseHTTPRequestHandler):
    """Vault's `GET /v1/<mount>/<path>` for one token and one secret."""

    def do_GET(self):
        ok = self.headers.get("X-Vault-Token") == "bench-token" and self.path == "/v1/kv/db"
        body = json.dumps({"data": {"password": "bench-secret"}} if ok else {"errors": ["permission denied"]}).encode()
        self.send_response(200 if ok else 403)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--password", required=True)
    ap.add_argument("--projects-dir", required=True)
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    api = Api.login(a.port, a.password)
    org = api.call("POST", "/api/v2/organizations/", {"name": "credbench"}, expect=(201,))["id"]
    inv = api.call("POST", "/api/v2/inventories/", {"name": "local", "organization": org}, expect=(201,))["id"]
    api.call("POST", "/api/v2/hosts/", {"name": "localhost", "inventory": inv, "variables": json.dumps(
        {"ansible_connection": "local", "ansible_python_interpreter": "{{ ansible_playbook_python }}"})}, expect=(201,))
    pdir = os.path.join(a.projects_dir, "credbench")
    os.makedirs(pdir, exist_ok=True)
    with open(os.path.join(pdir, "ping.yml"), "w") as f:
        f.write("- hosts: all\n  gather_facts: false\n  tasks:\n    - ping:\n")
    proj = api.call("POST", "/api/v2/projects/", {"name": "credbench", "organization": org, "scm_type": "",
                                                   "local_path": "credbench"}, expect=(201,))["id"]
    with tempfile.TemporaryDirectory() as d:
        subprocess.run(["ssh-keygen", "-q", "-t", "rsa", "-b", "2048", "-m", "PEM", "-N", "", "-f",
                        os.path.join(d, "k")], check=True)
        key = open(os.path.join(d, "k")).read()
    custom = api.call("POST", "/api/v2/credential_types/", {
        "name": "bench custom", "kind": "cloud",
        "inputs": {"fields": [{"id": "host", "label": "Host"}, {"id": "key", "label": "Key", "secret": True}]},
        "injectors": {"file": {"template.a": "host={{ host }}", "template.b": "key={{ key }}"},
                      "env": {"BENCH_A": "{{ tower.filename.a }}", "BENCH_B": "{{ tower.filename.b }}"},
                      "extra_vars": {"bench_host": "{{ host }}"}}}, expect=(201,))["id"]

    def type_id(name):
        return ids(api.call("GET", "/api/v2/credential_types/?name=" + name.replace(" ", "%20")))

    creds = []
    for name, tid, inputs in [
        ("aws", type_id("Amazon Web Services"), {"username": "AKIA", "password": "s", "security_token": "t"}),
        ("gce", type_id("Google Compute Engine"), {"username": "svc@x", "project": "p", "ssh_key_data": key}),
        ("os", type_id("OpenStack"), {"username": "u", "password": "p", "host": "https://k/v3", "project": "p"}),
        ("k8s", type_id("OpenShift or Kubernetes API Bearer Token"),
         {"host": "https://k8s", "bearer_token": "t", "verify_ssl": True, "ssl_ca_cert": "ca"}),
        ("custom", custom, {"host": "h", "key": "k"}),
    ]:
        creds.append(api.call("POST", "/api/v2/credentials/", {"name": name, "organization": org,
                                                                "credential_type": tid, "inputs": inputs},
                              expect=(201,))["id"])
    vault = ThreadingHTTPServer(("127.0.0.1", 0), FakeVault)
    threading.Thread(target=vault.serve_forever, daemon=True).start()
    lookup = api.call("POST", "/api/v2/credentials/", {
        "name": "vault", "organization": org, "credential_type": type_id("HashiCorp Vault Secret Lookup"),
        "inputs": {"url": f"http://127.0.0.1:{vault.server_address[1]}", "token": "bench-token",
                   "api_version": "v1"}}, expect=(201,))["id"]
    machine = api.call("POST", "/api/v2/credentials/", {"name": "machine", "organization": org,
                                                         "credential_type": type_id("Machine"),
                                                         "inputs": {"username": "bench"}}, expect=(201,))["id"]
    api.call("POST", f"/api/v2/credentials/{machine}/input_sources/", {
        "source_credential": lookup, "input_field_name": "password",
        "metadata": {"secret_backend": "kv", "secret_path": "db", "secret_key": "password"}}, expect=(201,))
    jts = {}
    for label, attach in [("none", []), ("five", creds), ("lookup", [machine])]:
        jt = api.call("POST", "/api/v2/job_templates/", {"name": label, "project": proj, "inventory": inv,
                                                          "playbook": "ping.yml"}, expect=(201,))["id"]
        for c in attach:
            api.call("POST", f"/api/v2/job_templates/{jt}/credentials/", {"id": c}, expect=(204,))
        jts[label] = jt

    def run(label):
        status, raw, post_s = api.raw("POST", f"/api/v2/job_templates/{jts[label]}/launch/", {})
        if status != 201:
            die(f"launch {label}: {status} {raw[:300]}")
        job = json.loads(raw)["job"]
        t0 = time.perf_counter() - post_s
        while True:
            j = api.call("GET", f"/api/v2/jobs/{job}/")
            if j["status"] in ("successful", "failed", "error", "canceled"):
                break
            time.sleep(0.01)
        if j["status"] != "successful":
            die(f"job {job} ({label}) ended {j['status']}: {j['job_explanation']}")
        return {"post_ms": post_s * 1000, "final_ms": (time.perf_counter() - t0) * 1000,
                "elapsed_ms": float(j["elapsed"]) * 1000}

    run("none"), run("five"), run("lookup")  # warm-up
    samples = {"none": [], "five": [], "lookup": []}
    for _ in range(a.runs):
        for label in ("none", "five", "lookup"):
            samples[label].append(run(label))
    out = {}
    for label, rows in samples.items():
        out[label] = {k: round(statistics.median(r[k] for r in rows), 1) for k in rows[0]}
    out["runs"] = a.runs
    out["added_final_ms"] = round(out["five"]["final_ms"] - out["none"]["final_ms"], 1)
    out["lookup_added_final_ms"] = round(out["lookup"]["final_ms"] - out["none"]["final_ms"], 1)
    os.makedirs(os.path.dirname(a.out), exist_ok=True)
    json.dump(out, open(a.out, "w"), indent=2)
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
