#!/usr/bin/env bash
# The layout ARCHITECTURE.md promises, checked (scripts/test.sh runs this before the tests):
#
# 1. rawx-api's generic files never choose behaviour by a resource's key: what differs by
#    resource lives in crates/rawx-api/src/resources/ behind `ResourceApi`.
# 2. Every resource write of rawx-api goes through its one write path (write.rs).
# 3. The crate graph is one-way: each crate's normal (non-dev) dependencies on rawx crates are
#    among the ones its layer allows, read from `cargo metadata`; a new crate must be placed.
# 4. Inside rawx-api, resources/ stand above the generic files they use: none of those imports
#    resources/ back.
#
# Prints every violation and exits 1 if there is any.
set -euo pipefail
cd "$(dirname "$0")/.."
fail=0

# --- 1. no branch on a resource key outside resources/ ---------------------------------------
# `res.key == "…"`, `match res.key`, `matches!(x.key, …)`, `if let ("jobs", …) = (res.key, …)`,
# `ptr::eq(res, &JOBS)`, `resource: "tokens"` patterns.
pattern='\.key *(==|!=) *"|match +[A-Za-z_.]*\.key\b|matches!\( *[A-Za-z_.]*\.key\b|\("[a-z_]+", [^)]*\) = \([A-Za-z_.]*\.key|ptr::eq\( *(res|resource|target|child), *&[A-Z_]+\)|resource: "[a-z_]+"'
if hits=$(grep -rnE "$pattern" crates/rawx-api/src --include='*.rs' | grep -v '^crates/rawx-api/src/resources/'); then
  echo "check-layout: rawx-api's generic files branch on a resource key; move the rule into the"
  echo "resource's module (crates/rawx-api/src/resources/, ResourceApi):"
  echo "$hits"
  fail=1
fi

# --- 2. one write path: rawx-api writes resources only through write.rs ------------------------
# (sessions and login bookkeeping in auth.rs and root.rs, and the seed, are not resource writes.)
python3 - <<'PY' || fail=1
import pathlib, re, sys
allowed = {"write.rs", "seed.rs", "auth.rs", "root.rs"}
write = re.compile(r"\.store\s*\.\s*(insert|insert_many|update|update_if|delete|link|unlink)\s*\(")
bad = []
for f in sorted(pathlib.Path("crates/rawx-api/src").rglob("*.rs")):
    if f.name in allowed and f.parent.name == "src":
        continue
    text = f.read_text()
    for m in write.finditer(text):
        line = text.count("\n", 0, m.start()) + 1
        bad.append(f"{f}:{line}: store.{m.group(1)} outside write.rs")
for b in bad:
    print("check-layout:", b, "(use crate::write, the one write path)")
sys.exit(1 if bad else 0)
PY

# --- 4. resources/ sit above the generic files: none of those they import imports them back ----
# (one `use crate::resources` in handlers.rs once tied 26 files into one import loop.)
python3 - <<'PY' || fail=1
import pathlib, re, sys
src = pathlib.Path("crates/rawx-api/src")
code = lambda p: "\n".join(l for l in p.read_text().splitlines() if not l.lstrip().startswith("//"))
used = set()
for f in (src / "resources").rglob("*.rs"):
    used.update(re.findall(r"crate::([a-z_]+)", code(f)))
bad = []
for mod in sorted(used - {"resources"}):
    p = src / f"{mod}.rs"
    if not p.exists():
        p = src / mod / "mod.rs"
    if p.exists() and re.search(r"(?<!rawx_model::)\bresources::", code(p)):
        bad.append(f"check-layout: {p} imports crate::resources, which imports it (an import loop); "
                   "move the shared piece below both (rawx-model, or a generic file)")
for b in bad:
    print(b)
sys.exit(1 if bad else 0)
PY

# --- 3. the crate graph, one way --------------------------------------------------------------
cargo metadata --format-version 1 --no-deps | python3 -c '
import json, sys

# What each crate may depend on (normal dependencies among rawx crates), lowest layer first.
ALLOWED = {
    "rawx-model": set(),
    "rawx-runner": set(),
    "rawx-mesh": set(),
    "rawx-supervisor": set(),
    "rawx-bus": set(),
    # An HTTP client for the external secret lookups, used by the API (`…/test/`) and the task
    # role (at launch); it knows no other rawx crate.
    "rawx-lookup": set(),
    "rawx-store": {"rawx-model"},
    "rawx-logship": {"rawx-supervisor"},
    "rawx-ee": {"rawx-supervisor"},
    "rawx-domain": {"rawx-model", "rawx-store", "rawx-bus", "rawx-runner", "rawx-logship"},
    "rawx-api": {"rawx-model", "rawx-store", "rawx-bus", "rawx-domain", "rawx-lookup"},
    "rawx-ui": set(),
    "rawx-control": {"rawx-model", "rawx-store", "rawx-bus", "rawx-domain", "rawx-runner",
                     "rawx-mesh", "rawx-ee", "rawx-supervisor", "rawx-logship", "rawx-lookup"},
    # Dev-only (every crate takes it as a dev-dependency); `api` adds the in-process API.
    "rawx-testkit": {"rawx-mesh", "rawx-api", "rawx-store", "rawx-bus", "rawx-model"},
    "rawx": None,  # the binary wires everything
}
# Crates that must not know HTTP (the web role is rawx-api and rawx-ui).
NO_HTTP = {"rawx-model", "rawx-runner", "rawx-store", "rawx-bus", "rawx-domain", "rawx-control",
           "rawx-supervisor", "rawx-ee"}

bad = []
for p in json.load(sys.stdin)["packages"]:
    name = p["name"]
    normal = [d["name"] for d in p["dependencies"] if d["kind"] is None]
    if name not in ALLOWED:
        bad.append(f"{name}: a new crate; place it in scripts/check-layout.sh and ARCHITECTURE.md")
        continue
    allowed = ALLOWED[name]
    if allowed is not None:
        for d in normal:
            if d.startswith("rawx") and d not in allowed:
                bad.append(f"{name} depends on {d}, which its layer does not allow")
    if name in NO_HTTP:
        for d in normal:
            if d in ("axum", "tower", "hyper"):
                bad.append(f"{name} depends on {d}: only rawx-api and rawx-ui know HTTP")
for b in bad:
    print("check-layout:", b)
sys.exit(1 if bad else 0)
' || fail=1

if [ "$fail" -eq 0 ]; then
  echo "check-layout: ok (no resource-key branch in rawx-api's generic files; one write path; crate graph one-way)"
fi
exit "$fail"
