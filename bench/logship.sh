#!/usr/bin/env bash
# Issue 9's figures: log shipping throughput (lines/s over TCP) and its cost to event ingest
# (ingest rate with shipping on vs off; goal >= 0.9x). See bench/README.md.
#
# Knobs (environment):
#   BENCH_LOG_LINES   records for the throughput figure (200000)
#   BENCH_LOG_EVENTS  events in the replayed ingest stream (50000)
#   BENCH_LOG_RUNS    ingest runs of each kind, interleaved (5)
#   BENCH_SAMPLE      the captured stream to expand (../shared/samples/runner/worker-awxlike.out)
#   RAWX_BENCH_CACHE  where the expanded stream is cached (/var/tmp/rawx-bench)
#   RAWX_BENCH_OUT_LOGSHIP  JSON output (/var/tmp/rawx-bench/logship.json)
#   BENCH_PERF        1: `perf record` rawx during the ingest runs; prints the top symbols
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

LINES=${BENCH_LOG_LINES:-200000}
EVENTS_N=${BENCH_LOG_EVENTS:-50000}
RUNS=${BENCH_LOG_RUNS:-5}
OUT=${RAWX_BENCH_OUT_LOGSHIP:-/var/tmp/rawx-bench/logship.json}

bench_init logship
PERF_PID=
bench_cleanup() {
    if [[ -n $PERF_PID ]]; then kill -INT "$PERF_PID" 2>/dev/null || true; fi
    # A stopped `rawx serve` leaves running units running (by design): end this run's stand-ins.
    "$PY" "$INGEST" cleanup --log "$STANDIN_LOG"
}
build_rawx -p rawx-logship --example throughput

say "throughput: $LINES records through the layer and the TCP shipper to a loopback receiver"
SERVICE=$("$TARGET_DIR/release/examples/throughput" "$LINES" service)
EVENTS=$("$TARGET_DIR/release/examples/throughput" "$LINES" job_events)
echo "service lines: $SERVICE"
echo "job events:    $EVENTS"

say "ingest: one $EVENTS_N-event job replayed at full speed (ingest.sh's stand-in), shipping off vs on, $RUNS runs each"
sample_stream "$EVENTS_N"
ingest_standin
bench_env
export RAWX_ANSIBLE_RUNNER=$STANDIN
RAWX_BENCH_STREAM=$STREAM serve "$WORK/server.log" --data-dir "$WORK/data"
setup=$("$PY" "$INGEST" setup --port "$PORT" --password "$PW" --data-dir "$WORK/data")
if [[ ${BENCH_PERF:-0} == 1 ]]; then
    perf record -q -F 999 -o "$WORK/perf.data" -p "$SERVER_PID" 2>"$WORK/perf.err" &
    PERF_PID=$!
fi
"$PY" "$BENCH_DIR/logship.py" "$PORT" "$PW" "$SERVER_PID" "$(jget "$setup" token)" \
    "$(jget "$setup" jt)" "$EVENTS_N" "$RUNS" "$STANDIN_LOG" "$WORK/ingest.json"
if [[ -n $PERF_PID ]]; then
    kill -INT "$PERF_PID" 2>/dev/null || true
    wait "$PERF_PID" 2>/dev/null || true
    PERF_PID=
    say "where rawx's time went over all runs, on and off (perf, flat)"
    perf report -i "$WORK/perf.data" --stdio --no-children --sort sym --percent-limit 0.7 \
        2>/dev/null | grep -v '^#' | grep -v '^$' | head -40
fi
stop_server

"$PY" - "$OUT" "$WORK/ingest.json" "$SERVICE" "$EVENTS" "$(bench_meta)" <<'PYEOF'
import json, os, sys
out, ingest, service, events, meta = sys.argv[1:6]
data = {"meta": json.loads(meta),
        "throughput": {"service": json.loads(service), "job_events": json.loads(events)},
        "ingest": json.load(open(ingest))}
os.makedirs(os.path.dirname(out), exist_ok=True)
json.dump(data, open(out, "w"), indent=2)
t, i = data["throughput"], data["ingest"]
print("\n| figure | value |\n|---|---|")
print(f"| shipping throughput, service lines (lines/s over TCP) | {t['service']['lines_per_s']:.0f} |")
print(f"| shipping throughput, job events (lines/s over TCP) | {t['job_events']['lines_per_s']:.0f} |")
print(f"| cost of one log call / one handed-over job event (ns) | {t['service']['log_call_ns_per_line']:.0f} / {t['job_events']['log_call_ns_per_line']:.0f} |")
print(f"| ingest events/s, shipping off (median) | {i['ingest_events_per_s_off']:.0f} |")
print(f"| ingest events/s, shipping on (median) | {i['ingest_events_per_s_on']:.0f} |")
print(f"| ratio on/off of the medians (goal >= 0.9) | {i['ratio_on_off']:.3f} |")
print(f"| ratio of each off/on pair | {', '.join(f'{p:.2f}' for p in i['pair_ratios'])} |")
if i.get("rawx_cpu_s_off") is not None:
    print(f"| rawx CPU s per ingest, off / on (median) | {i['rawx_cpu_s_off']} / {i['rawx_cpu_s_on']} |")
print(f"\nJSON: {out}")
PYEOF
