#!/usr/bin/env python3
"""Issue 20's figures: a project update of an unchanged Git repository, and a launch that needs
a project update against one that does not, beside their floors measured in the same run
(`git fetch` of the same unchanged repository into a clone; the same launch of a manual-free,
update-free project).

Makes a Git repository (one playbook and `--files` small files), a git project on it, and two
templates: one on a project with `scm_update_on_launch` and a cache timeout of 0 (every launch
waits for a new update), one on a project without. Then the same repository signed with
`ansible-sign` (a throwaway GPG key) and a project verifying it (`signature_validation_credential`):
its unchanged updates beside `ansible-sign project gpg-verify` of a clone, the same work by hand.
Prints medians; writes them as JSON."""

import argparse, json, os, shutil, statistics, subprocess, sys, tempfile, time

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


def signed_figures(api, org, a, repo):
    """The repository signed (MANIFEST.in: everything but `.git`), a project verifying it: the
    `elapsed` of its unchanged updates, and `ansible-sign project gpg-verify` of a clone."""
    home = tempfile.mkdtemp(prefix="projbench-gpg-")
    os.chmod(home, 0o700)
    env = dict(os.environ, GNUPGHOME=home, GPG_TTY="/dev/null")
    try:
        subprocess.run(["gpg", "--batch", "--passphrase", "", "--quick-gen-key", "bench <b@example.com>",
                        "default", "default", "never"], env=env, check=True, capture_output=True)
        pub = subprocess.run(["gpg", "--armor", "--export"], env=env, check=True,
                             capture_output=True, text=True).stdout
        with open(os.path.join(repo, "MANIFEST.in"), "w") as f:
            f.write("global-include *\nprune .git\n")
        subprocess.run(["ansible-sign", "--nocolor", "project", "gpg-sign", "."], cwd=repo, env=env,
                       check=True, capture_output=True)
        git("add", "-A", cwd=repo)
        git("commit", "--quiet", "-m", "signed", cwd=repo)
        clone = os.path.join(a.work, "signed-clone")
        subprocess.run(["git", "clone", "--quiet", f"file://{repo}", clone], check=True)
        verify = []
        for _ in range(a.runs):
            t0 = time.perf_counter()
            subprocess.run(["ansible-sign", "--nocolor", "project", "gpg-verify", "."], cwd=clone,
                           env=env, check=True, capture_output=True)
            verify.append(time.perf_counter() - t0)
        types = api.call("GET", "/api/v2/credential_types/?namespace=gpg_public_key")["results"]
        cred = api.call("POST", "/api/v2/credentials/", {
            "name": "bench key", "organization": org, "credential_type": types[0]["id"],
            "inputs": {"gpg_public_key": pub}}, expect=(201,))["id"]
        pid = project(api, org, "signed", f"file://{repo}", signature_validation_credential=cred)
        elapsed = []
        for _ in range(a.runs):
            up = api.call("POST", f"/api/v2/projects/{pid}/update/", expect=(202,))
            u = wait(api, f"/api/v2/project_updates/{up['id']}/")
            if u["status"] != "successful":
                die(f"signed update {up['id']}: {u['status']}")
            elapsed.append(u["elapsed"])
        return {"verify": verify, "elapsed": elapsed}
    finally:
        subprocess.run(["gpgconf", "--homedir", home, "--kill", "all"], capture_output=True)
        shutil.rmtree(home, ignore_errors=True)


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

    signed = signed_figures(api, org, a, repo)

    med = lambda xs: round(statistics.median(xs) * 1000, 1)  # noqa: E731
    res = {
        "runs": a.runs, "repo_files": a.files + 1,
        "floor_git_fetch_ms": med(fetch),
        "update_unchanged_wall_ms": med(update_wall),
        "update_unchanged_elapsed_ms": med(update_elapsed),
        "launch_no_update_ms": med(launch["no-update"]),
        "launch_needs_update_ms": med(launch["needs-update"]),
        "floor_ansible_sign_verify_ms": med(signed["verify"]),
        "update_unchanged_signed_elapsed_ms": med(signed["elapsed"]),
        "all": {"fetch": fetch, "update_wall": update_wall, "launch": launch, "signed": signed},
    }
    os.makedirs(os.path.dirname(a.out), exist_ok=True)
    with open(a.out, "w") as f:
        json.dump(res, f, indent=1)
    print(f"\n{'figure':40} {'median ms':>10}")
    for k in ("floor_git_fetch_ms", "update_unchanged_wall_ms", "update_unchanged_elapsed_ms",
              "launch_no_update_ms", "launch_needs_update_ms",
              "floor_ansible_sign_verify_ms", "update_unchanged_signed_elapsed_ms"):
        print(f"{k:40} {res[k]:>10}")
    print(f"(goal: update of an unchanged repository < 500 ms; JSON in {a.out})")


if __name__ == "__main__":
    main()
