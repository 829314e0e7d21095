#!/usr/bin/env bash
# Issue 8's scale-out figure: job throughput of two `rawx task` processes vs one, trivial
# playbooks through the real ansible-runner, on PostgreSQL (127.0.0.1:5432) and Redis
# (127.0.0.1:6379). See bench/README.md.
#
# Knobs: BENCH_SCALE_JOBS (40), RAWX_VENV (default: what scripts/setup-venv.sh prints).
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
VENV=${RAWX_VENV:-$("$REPO/scripts/setup-venv.sh")}
bench_init scaleout
build_rawx
"$PY" "$BENCH_DIR/scaleoutbench.py" --rawx "$BIN" --venv "$VENV" --jobs "${BENCH_SCALE_JOBS:-40}"
