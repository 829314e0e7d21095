#!/usr/bin/env bash
# Issue 9's figures: log shipping throughput (lines/s over TCP) and its cost to event ingest
# (ingest rate with shipping on vs off; goal >= 0.9x). See bench/README.md.
#
# Knobs (environment):
#   BENCH_LOG_LINES   records for the throughput figure (200000)
#   BENCH_LOG_EVENTS  events in the replayed ingest stream (50000)
#   BENCH_LOG_RUNS    ingest runs of each kind, interleaved (3)
#   BENCH_SAMPLE      the captured stream to expand (../shared/samples/runner/worker-awxlike.out)
#   RAWX_BENCH_CACHE  where the expanded stream is cached (/var/tmp/rawx-bench)
#   RAWX_BENCH_OUT_LOGSHIP  JSON output (/var/tmp/rawx-bench/logship.json)
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$BENCH_DIR/.." && pwd)
PY=${PYTHON:-python3}
LINES=${BENCH_LOG_LINES:-200000}
EVENTS_N=${BENCH_LOG_EVENTS:-50000}
SAMPLE=${BENCH_SAMPLE:-$REPO/../shared/samples/runner/worker-awxlike.out}
CACHE=${RAWX_BENCH_CACHE:-/var/tmp/rawx-bench}
RUNS=${BENCH_LOG_RUNS:-3}
OUT=${RAWX_BENCH_OUT_LOGSHIP:-/var/tmp/rawx-bench/logship.json}
PW=bench-admin-pw

say() { printf '\n== %s\n' "$*"; }

WORK=$(mktemp -d /var/tmp/rawx-bench-logship.XXXXXX)
SERVER_PID=
cleanup() {
    if [[ -n $SERVER_PID ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
        kill -TERM "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    # A stopped `rawx serve` leaves running units running (by design): end this run's stand-ins.
    [[ -f ${STANDIN_LOG:-} ]] && "$PY" "$BENCH_DIR/ingestbench.py" cleanup --log "$STANDIN_LOG" || true
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

say "ingest: one $EVENTS_N-event job replayed at full speed (ingest.sh's stand-in), shipping off vs on, $RUNS runs each"
stream_json=$("$PY" "$BENCH_DIR/ingestbench.py" make-stream --sample "$SAMPLE" --events "$EVENTS_N" --cache-dir "$CACHE")
STREAM=$("$PY" -c 'import json,sys; print(json.loads(sys.argv[1])["path"])' "$stream_json")
STANDIN="$WORK/runner-stand-in"
STANDIN_LOG="$WORK/stand-in.log"
cat >"$STANDIN" <<SH
#!/bin/bash
read -r _ _ _ _ pgid _ </proc/\$\$/stat
printf 'start %s %s %s %s\n' "\$\$" "\${EPOCHREALTIME/,/.}" "\$pgid" "\$*" >>'$STANDIN_LOG'
cat >/dev/null
printf 'drained %s %s %s %s\n' "\$\$" "\${EPOCHREALTIME/,/.}" "\$pgid" "\$*" >>'$STANDIN_LOG'
cat "$STREAM"
rc=\$?
printf 'end %s %s %s %s\n' "\$\$" "\${EPOCHREALTIME/,/.}" "\$pgid" "\$*" >>'$STANDIN_LOG'
exit \$rc
SH
chmod 700 "$STANDIN"
PORT=$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
RAWX_ADMIN_PASSWORD=$PW RAWX_PRELOAD_DATA=false RAWX_ANSIBLE_RUNNER="$STANDIN" \
    "$TARGET/release/rawx" serve --data-dir "$WORK/data" --bind "127.0.0.1:$PORT" \
    >"$WORK/server.log" 2>&1 &
SERVER_PID=$!
"$PY" "$BENCH_DIR/rawxbench.py" wait-ready --port "$PORT" --pid "$SERVER_PID" >/dev/null
setup=$("$PY" "$BENCH_DIR/ingestbench.py" setup --port "$PORT" --password "$PW" --data-dir "$WORK/data")
TOKEN=$("$PY" -c 'import json,sys; print(json.loads(sys.argv[1])["token"])' "$setup")
JT=$("$PY" -c 'import json,sys; print(json.loads(sys.argv[1])["jt"])' "$setup")
"$PY" "$BENCH_DIR/logship.py" "$PORT" "$PW" "$SERVER_PID" "$TOKEN" "$JT" "$EVENTS_N" "$RUNS" \
    "$STANDIN_LOG" "$WORK/ingest.json"

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
