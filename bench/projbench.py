#!/usr/bin/env python3
"""Issue 20's figures: a project update of an unchanged Git repository, and a launch that needs
a project update against one that does not, beside their floors measured in the same run
(`git fetch` of the same unchanged repository into a clone; the same launch of a manual-free,
update-free project).

Makes a Git repository (one playbook and `--files` small files), a git project on it, and two
templates: one on a project with `scm_update_on_launch` and a cache timeout of 0 (every launch
waits for a new update), one on a project without. Prints medians; writes them as JSON."""

import argparse, json, os, statistics, subprocess, sys, tempfile, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import Api, die  # noqa: E402

FINAL = ("successful", "failed", "error", "canceled")
PLAY = "- hosts: all\n  gather_facts: false\n  tasks:\n    - ping:\n"


def git(*args, cwd):
    subprocess.run(["git", "-c", "user.name=b", "-c", "user.email=b@example.com", *args], cwd=cwd,
                   check=True, stdout=subprocess.DEVNULL)


def wait(api, path, poll=0.01, limit=300):
    t = time.time() + limit
    while time.time() < t:
        j = api.call("GET", path)
        if j["status"] in FINAL:
            return j
        time.sleep(poll)
    die(f"{path} did not end")


def project(api, org, name, url, **extra):
    body = {"name": name, "organization": org, "scm_type": "git", "scm_url": url, **extra}
    p = api.call("POST", "/api/v2/projects/", body, expect=(201,))
    u = wait(api, f"/api/v2/project_updates/{p['summary_fields']['current_update']['id']}/")
    if u["status"] != "successful":
        die(f"first update of {name}: {u['status']}")
    return p["id"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--password", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--files", type=int, default=200)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    api = Api.login(a.port, a.password)
    repo = os.path.join(a.work, "repo")
    os.makedirs(os.path.join(repo, "files"), exist_ok=True)
    git("init", "--quiet", "--initial-branch=main", cwd=repo)
    with open(os.path.join(repo, "site.yml"), "w") as f:
        f.write(PLAY)
    for i in range(a.files):
        with open(os.path.join(repo, "files", f"f{i}.txt"), "w") as f:
            f.write(f"file {i}\n" * 20)
    git("add", "-A", cwd=repo)
    git("commit", "--quiet", "-m", "bench", cwd=repo)
    url = f"file://{repo}"

    org = api.call("POST", "/api/v2/organizations/", {"name": "projbench"}, expect=(201,))["id"]
    inv = api.call("POST", "/api/v2/inventories/", {"name": "local", "organization": org}, expect=(201,))["id"]
    api.call("POST", "/api/v2/hosts/", {"name": "localhost", "inventory": inv, "variables": json.dumps(
        {"ansible_connection": "local", "ansible_python_interpreter": "{{ ansible_playbook_python }}"})}, expect=(201,))
    plain = project(api, org, "plain", url)
    on_launch = project(api, org, "on-launch", url, scm_update_on_launch=True, scm_update_cache_timeout=0)
    jt = lambda name, p: api.call("POST", "/api/v2/job_templates/", {  # noqa: E731
        "name": name, "project": p, "inventory": inv, "playbook": "site.yml"}, expect=(201,))["id"]
    jt_plain, jt_update = jt("no-update", plain), jt("needs-update", on_launch)

    # The floor of an update: `git fetch` of the unchanged repository into a clone of it.
    clone = os.path.join(a.work, "clone")
    subprocess.run(["git", "clone", "--quiet", url, clone], check=True)
    fetch = []
    for _ in range(a.runs):
        t0 = time.perf_counter()
        subprocess.run(["git", "-C", clone, "fetch", "--quiet", "--tags", "origin"], check=True)
        fetch.append(time.perf_counter() - t0)

    update_wall, update_elapsed = [], []
    for _ in range(a.runs):
        t0 = time.perf_counter()
        up = api.call("POST", f"/api/v2/projects/{plain}/update/", expect=(202,))
        u = wait(api, f"/api/v2/project_updates/{up['id']}/")
        update_wall.append(time.perf_counter() - t0)
        if u["status"] != "successful":
            die(f"update {up['id']}: {u['status']}")
        update_elapsed.append(u["elapsed"])

    launch = {"no-update": [], "needs-update": []}
    for _ in range(a.runs):
        for name, t in (("no-update", jt_plain), ("needs-update", jt_update)):
            t0 = time.perf_counter()
            job = api.call("POST", f"/api/v2/job_templates/{t}/launch/", {}, expect=(201,))["job"]
            j = wait(api, f"/api/v2/jobs/{job}/", poll=0.02)
            launch[name].append(time.perf_counter() - t0)
            if j["status"] != "successful":
                die(f"job {job}: {j['status']} {j['job_explanation']}")
    deps = api.call("GET", f"/api/v2/project_updates/?project={on_launch}&launch_type=dependency")["count"]
    if deps < a.runs:
        die(f"expected {a.runs} dependency updates, found {deps}")

    med = lambda xs: round(statistics.median(xs) * 1000, 1)  # noqa: E731
    res = {
        "runs": a.runs, "repo_files": a.files + 1,
        "floor_git_fetch_ms": med(fetch),
        "update_unchanged_wall_ms": med(update_wall),
        "update_unchanged_elapsed_ms": med(update_elapsed),
        "launch_no_update_ms": med(launch["no-update"]),
        "launch_needs_update_ms": med(launch["needs-update"]),
        "all": {"fetch": fetch, "update_wall": update_wall, "launch": launch},
    }
    os.makedirs(os.path.dirname(a.out), exist_ok=True)
    with open(a.out, "w") as f:
        json.dump(res, f, indent=1)
    print(f"\n{'figure':40} {'median ms':>10}")
    for k in ("floor_git_fetch_ms", "update_unchanged_wall_ms", "update_unchanged_elapsed_ms",
              "launch_no_update_ms", "launch_needs_update_ms"):
        print(f"{k:40} {res[k]:>10}")
    print(f"(goal: update of an unchanged repository < 500 ms; JSON in {a.out})")


if __name__ == "__main__":
    main()
