#!/usr/bin/env bash
# Issue 21's figure: an inventory update importing 10,000 hosts in 1,000 groups (goal < 3 s for
# rawx's part), through a real `rawx serve` and the real `ansible-inventory` in the execution
# environment. rawx's part is the import (the server log's `import_ms`: read, compute, one
# transaction); beside it, measured in the same run on the same file, the floors:
# `ansible-inventory --list` itself (reported apart, as the issue asks) and a raw SQLite insert
# of the same rows in one transaction. A second sync of the unchanged file shows the re-sync.
# SQLite always; PostgreSQL too with BENCH_PG=1.
#
# Knobs: BENCH_INV_HOSTS (10000), BENCH_INV_GROUPS (1000), BENCH_PG, RAWX_VENV,
# RAWX_BENCH_BIN, RAWX_BENCH_OUT_INV (/var/tmp/rawx-bench/inventory_import.json).
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
HOSTS=${BENCH_INV_HOSTS:-10000}
GROUPS_N=${BENCH_INV_GROUPS:-1000}
OUT=${RAWX_BENCH_OUT_INV:-/var/tmp/rawx-bench/inventory_import.json}
INV="$BENCH_DIR/invbench.py"

bench_init inventory_import
build_rawx
bench_env
VENV=${RAWX_VENV:-$("$REPO/scripts/setup-venv.sh")}
export PATH="$VENV/bin:$PATH" RAWX_ANSIBLE_RUNNER="$VENV/bin/ansible-runner"
mkdir -p "$(dirname "$OUT")"
: >"$OUT"

run_one() { # run_one BACKEND [serve args]
    local backend=$1 data
    shift
    data="$WORK/data-$backend"
    mkdir -p "$data/projects/bigsrc"
    "$PY" "$INV" make --dir "$data/projects/bigsrc" --hosts "$HOSTS" --groups "$GROUPS_N"
    RAWX_LOG=info serve "$WORK/server-$backend.log" --data-dir "$data" "$@"
    say "$backend: $HOSTS hosts in $GROUPS_N groups"
    "$PY" "$INV" run --port "$PORT" --password "$PW" --project "$data/projects/bigsrc" \
        --log "$WORK/server-$backend.log" --venv "$VENV" --out "$OUT" --backend "$backend" \
        --hosts "$HOSTS" --groups "$GROUPS_N"
    stop_server
}

run_one sqlite
if [[ ${BENCH_PG:-0} == 1 ]]; then
    pg_check
    db=$(pg_create_db rawx_bench_inv)
    run_one postgresql --database-url "$PG_URL/$db"
fi
echo "figures: $OUT"
