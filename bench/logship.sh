#!/usr/bin/env bash
# Issue 9's figures: log shipping throughput (lines/s over TCP) and its cost to event ingest
# (ingest rate with shipping on vs off; goal >= 0.9x). See bench/README.md.
#
# Knobs (environment):
#   BENCH_LOG_LINES   records for the throughput figure (200000)
#   BENCH_LOG_ITEMS   loop items of the ingest job, one event each (1000)
#   BENCH_LOG_RUNS    ingest runs of each kind, interleaved (3)
#   RAWX_VENV         the venv with ansible-runner (default: what scripts/setup-venv.sh prints)
#   RAWX_BENCH_OUT_LOGSHIP  JSON output (/var/tmp/rawx-bench/logship.json)
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$BENCH_DIR/.." && pwd)
PY=${PYTHON:-python3}
LINES=${BENCH_LOG_LINES:-200000}
ITEMS=${BENCH_LOG_ITEMS:-1000}
RUNS=${BENCH_LOG_RUNS:-3}
OUT=${RAWX_BENCH_OUT_LOGSHIP:-/var/tmp/rawx-bench/logship.json}
PW=bench-admin-pw
VENV=${RAWX_VENV:-$(bash "$REPO/scripts/setup-venv.sh")}

say() { printf '\n== %s\n' "$*"; }

WORK=$(mktemp -d /var/tmp/rawx-bench-logship.XXXXXX)
SERVER_PID=
cleanup() {
    if [[ -n $SERVER_PID ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
        kill -TERM "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT

say "building: cargo build --release -p rawx --bin rawx -p rawx-logship --example throughput"
(cd "$REPO" && cargo build --release -p rawx --bin rawx -p rawx-logship --example throughput)
TARGET=$(cd "$REPO" && cargo metadata --format-version 1 --no-deps | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')

say "throughput: $LINES records through the layer and the TCP shipper to a loopback receiver"
SERVICE=$("$TARGET/release/examples/throughput" "$LINES" service)
EVENTS=$("$TARGET/release/examples/throughput" "$LINES" job_events)
echo "service lines: $SERVICE"
echo "job events:    $EVENTS"

say "ingest: a job of $ITEMS loop items, shipping off vs on, $RUNS runs each"
PORT=$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
RAWX_ADMIN_PASSWORD=$PW RAWX_PRELOAD_DATA=false RAWX_ANSIBLE_RUNNER="$VENV/bin/ansible-runner" \
    "$TARGET/release/rawx" serve --data-dir "$WORK/data" --bind "127.0.0.1:$PORT" \
    >"$WORK/server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 1 100); do
    curl -sf "http://127.0.0.1:$PORT/api/v2/ping/" >/dev/null && break
    sleep 0.1
done
"$PY" "$BENCH_DIR/logship.py" "http://127.0.0.1:$PORT" "$PW" "$WORK/data" "$ITEMS" "$RUNS" "$WORK/ingest.json"

"$PY" - "$OUT" "$WORK/ingest.json" "$SERVICE" "$EVENTS" <<'PYEOF'
import json, os, sys
out, ingest, service, events = sys.argv[1:5]
data = {"throughput": {"service": json.loads(service), "job_events": json.loads(events)},
        "ingest": json.load(open(ingest))}
os.makedirs(os.path.dirname(out), exist_ok=True)
json.dump(data, open(out, "w"), indent=2)
t, i = data["throughput"], data["ingest"]
print("\n| figure | value |\n|---|---|")
print(f"| shipping throughput, service lines (lines/s over TCP) | {t['service']['lines_per_s']:.0f} |")
print(f"| shipping throughput, job events (lines/s over TCP) | {t['job_events']['lines_per_s']:.0f} |")
print(f"| cost of one log call, service / job event (ns) | {t['service']['log_call_ns_per_line']:.0f} / {t['job_events']['log_call_ns_per_line']:.0f} |")
print(f"| ingest events/s, shipping off (median) | {i['ingest_events_per_s_off']:.0f} |")
print(f"| ingest events/s, shipping on (median) | {i['ingest_events_per_s_on']:.0f} |")
print(f"| ratio on/off (goal >= 0.9) | {i['ratio_on_off']:.3f} |")
print(f"\nJSON: {out}")
PYEOF
