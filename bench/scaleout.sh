#!/usr/bin/env bash
# Issue 8's scale-out figure: job throughput of two `rawx task` processes vs one, trivial
# playbooks through the real ansible-runner, on PostgreSQL (127.0.0.1:5432) and Redis
# (127.0.0.1:6379). See bench/README.md.
#
# Knobs: BENCH_SCALE_JOBS (40), RAWX_VENV (default: what scripts/setup-venv.sh prints).
set -euo pipefail
BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$BENCH_DIR/.." && pwd)
cd "$REPO"
VENV=${RAWX_VENV:-$(scripts/setup-venv.sh)}
echo "== building the release binary"
cargo build --release -p rawx --quiet
BIN=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')/release/rawx
exec python3 "$BENCH_DIR/scaleoutbench.py" --rawx "$BIN" --venv "$VENV" --jobs "${BENCH_SCALE_JOBS:-40}"
