#!/usr/bin/env bash
# Issue 18's figure: launch time of a template with five credentials (files, environment and
# extra vars injected) against one with none, through the real ansible-runner: the launch POST
# and launch -> final, medians of N interleaved runs; also a template whose Machine password is
# looked up in a (local, fake) HashiCorp Vault at launch. See bench/README.md.
#
# Knobs: BENCH_CRED_RUNS (10), RAWX_VENV, RAWX_BENCH_BIN (measure that binary instead of a
# release build), RAWX_BENCH_OUT_CRED (/var/tmp/rawx-bench/credentials.json).
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
RUNS=${BENCH_CRED_RUNS:-10}
OUT=${RAWX_BENCH_OUT_CRED:-/var/tmp/rawx-bench/credentials.json}

bench_init credentials
build_rawx
VENV=${RAWX_VENV:-$("$REPO/scripts/setup-venv.sh")}
bench_env
export PATH="$VENV/bin:$PATH" RAWX_ANSIBLE_RUNNER="$VENV/bin/ansible-runner"
DATA="$WORK/data"
mkdir -p "$DATA/projects"
serve "$WORK/server.log" --data-dir "$DATA"
say "launching: none vs five credentials vs a looked-up password, $RUNS runs each"
"$PY" "$BENCH_DIR/credbench.py" --port "$PORT" --password "$PW" --projects-dir "$DATA/projects" \
    --runs "$RUNS" --out "$OUT"
