#!/usr/bin/env bash
# Issue 20's figures: a project update of an unchanged Git repository (goal < 0.5 s) beside
# `git fetch` of the same repository, and a launch that needs a project update against one
# that does not, through the real ansible-runner. Medians of N runs. See bench/README.md.
#
# Knobs: BENCH_PROJ_RUNS (10), BENCH_PROJ_FILES (200), RAWX_VENV, RAWX_BENCH_BIN (measure that
# binary instead of a release build), RAWX_BENCH_OUT_PROJ (/var/tmp/rawx-bench/projects.json).
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
RUNS=${BENCH_PROJ_RUNS:-10}
OUT=${RAWX_BENCH_OUT_PROJ:-/var/tmp/rawx-bench/projects.json}

bench_init projects
build_rawx
VENV=${RAWX_VENV:-$("$REPO/scripts/setup-venv.sh")}
bench_env
export PATH="$VENV/bin:$PATH" RAWX_ANSIBLE_RUNNER="$VENV/bin/ansible-runner"
DATA="$WORK/data"
mkdir -p "$DATA/projects"
serve "$WORK/server.log" --data-dir "$DATA"
say "project updates and launches, $RUNS runs each"
"$PY" "$BENCH_DIR/projbench.py" --port "$PORT" --password "$PW" --work "$WORK" \
    --runs "$RUNS" --files "${BENCH_PROJ_FILES:-200}" --out "$OUT"
