#!/usr/bin/env bash
# Issue 19's figure: hosts list latency for a user who may read half of 100 inventories
# (10,000 hosts) against a superuser's (the floor, same run, same server). See bench/README.md.
#
# Knobs: BENCH_RBAC_RUNS (20), BENCH_RBAC_INVENTORIES (100), BENCH_RBAC_HOSTS (100 per
# inventory), RAWX_BENCH_BIN (measure that binary instead of a release build),
# RAWX_BENCH_OUT_RBAC (/var/tmp/rawx-bench/rbac.json).
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
OUT=${RAWX_BENCH_OUT_RBAC:-/var/tmp/rawx-bench/rbac.json}
bench_init rbac
build_rawx
bench_env
DATA="$WORK/data"
mkdir -p "$DATA"
serve "$WORK/server.log" --data-dir "$DATA"
say "hosts lists: a user reading half the inventories vs a superuser"
mkdir -p "$(dirname "$OUT")"
"$PY" "$BENCH_DIR/rbacbench.py" --port "$PORT" --password "$PW" --out "$OUT" \
    --runs "${BENCH_RBAC_RUNS:-20}" --inventories "${BENCH_RBAC_INVENTORIES:-100}" \
    --hosts "${BENCH_RBAC_HOSTS:-100}"
