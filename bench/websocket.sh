#!/usr/bin/env bash
# Issue 8's figures for rawx's websocket (SQLite, in-process bus; with BENCH_REDIS=1 also
# through a private redis-server):
#   stream: one job whose stand-in runner replays a 100,000-event result stream at full speed;
#           one websocket client subscribed to its events: events received (all, in order?),
#           events/s at the client, and the lag between an event being stored (first seen
#           through the API, polled every 25 ms) and the client having it (goal: the last
#           event < 1 s after it is written). The same job runs unwatched first: the ingest's
#           own time on this machine now, to compare.
#   idle:   10,000 websocket clients subscribed to `jobs` on one node: rawx's RSS with them
#           (goal: >= 10,000 in < 200 MiB), and one status change fanned out to all of them.
# Only ansible is replaced (as in ingest.sh). See bench/README.md.
#
# Knobs (environment):
#   BENCH_EVENTS    events in the replayed stream (100000)
#   BENCH_CLIENTS   idle websocket clients (10000)
#   BENCH_SAMPLE    the captured stream to expand (../shared/samples/runner/worker-awxlike.out)
#   BENCH_POLL_MS   how often the stream figure polls the stored events (25; 0: no lag figure,
#                   to see rawx's CPU for the websocket alone)
#   BENCH_REDIS     1: run both figures a second time with RAWX_REDIS_URL (private redis-server)
#   RAWX_BENCH_CACHE  where the expanded stream is cached (/var/tmp/rawx-bench)
#   BENCH_KEEP      1: keep the work dir (server logs) even on success
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
EVENTS=${BENCH_EVENTS:-100000}
CLIENTS=${BENCH_CLIENTS:-10000}

# The websocket clients need `websockets`: the test venv has it.
WSPY="$("$REPO/scripts/setup-venv.sh")/bin/python"
# One fd per client on each side.
ulimit -n "$(ulimit -Hn)"
if (($(ulimit -n) < CLIENTS + 500)); then
    echo "the fd limit ($(ulimit -n)) is below $CLIENTS clients; lower BENCH_CLIENTS" >&2
    exit 1
fi

bench_init ws
REDIS_PID=
bench_cleanup() {
    if [[ -n $REDIS_PID ]]; then stop_pid "$REDIS_PID" redis-server; fi
    "$PY" "$INGEST" cleanup --log "$STANDIN_LOG"
}
build_rawx

sample_stream "$EVENTS"
echo "stream: $STREAM ($(jget "$STREAM_JSON" events) events)"

ingest_standin
bench_env
export RAWX_ANSIBLE_RUNNER=$STANDIN RAWX_LOG_FORMAT=json

run_figures() { # run_figures NAME [serve args...]
    local name=$1 data_dir="$WORK/$1"
    shift
    mkdir -p "$data_dir"
    say "$name: one client follows a $EVENTS-event job"
    RAWX_BENCH_STREAM=$STREAM serve "$data_dir/server.log" --data-dir "$data_dir" "$@"
    local setup token jt
    setup=$("$PY" "$INGEST" setup --port "$PORT" --password "$PW" --data-dir "$data_dir")
    token=$(jget "$setup" token)
    jt=$(jget "$setup" jt)
    "$WSPY" "$BENCH_DIR/wsbench.py" stream --port "$PORT" --token "$token" --jt "$jt" \
        --events "$EVENTS" --pid "$SERVER_PID" --poll-ms "${BENCH_POLL_MS:-25}" | tee "$data_dir/stream.json"
    say "$name: a client that reads nothing while the job runs"
    "$WSPY" "$BENCH_DIR/wsbench.py" slow --port "$PORT" --token "$token" --jt "$jt" \
        --events "$EVENTS" | tee "$data_dir/slow.json"
    stop_server
    rm -rf "$data_dir/receptor"

    say "$name: $CLIENTS idle clients on one node"
    RAWX_BENCH_STREAM=$SAMPLE serve "$data_dir/server.log" --data-dir "$data_dir" "$@"
    "$WSPY" "$BENCH_DIR/wsbench.py" idle --port "$PORT" --token "$token" --jt "$jt" \
        --pid "$SERVER_PID" --clients "$CLIENTS" | tee "$data_dir/idle.json"
    stop_server
    "$PY" - "$name" "$data_dir/stream.json" "$data_dir/idle.json" "$data_dir/slow.json" <<'EOF'
import json, sys
name, s, i = sys.argv[1], json.load(open(sys.argv[2])), json.load(open(sys.argv[3]))
w = json.load(open(sys.argv[4]))
print(f"\n{name}: the job took {s['unwatched_job_elapsed_s']} s unwatched "
      f"(rawx CPU {s['unwatched_rawx_cpu_s']} s), {s['watched_job_elapsed_s']} s with the "
      f"websocket client (rawx CPU {s['watched_rawx_cpu_s']} s), {w['slow_job_elapsed_s']} s "
      f"with a client reading nothing")
print(f"{name}: slow client: closed with {w['close_code']} after {w['events_received_before_close']} "
      f"events (last counter {w['last_counter']}); counter__gt gives {w['resume_counter_gt_count']} "
      f"more (complete: {w['resume_complete']})")
print(f"{name}: stream: {s['events_received']}/{s['final_counter']} events received "
      f"(missing {s['missing']}, in order: {s['in_order']}, closed: {s['closed']}), "
      f"{s.get('client_events_per_s')} events/s at the client, launch -> last event "
      f"{s.get('launch_to_last_event_s')} s; lag after stored: last event {s.get('lag_ms_last_event')} ms, "
      f"p50 {s.get('lag_ms_p50')} ms, max {s.get('lag_ms_max')} ms")
print(f"{name}: idle: {i['connected']}/{i['clients']} clients connected in {i['connect_s']} s; "
      f"rawx RSS {i['rss_before_mib']} -> {i['rss_with_clients_mib']} MiB "
      f"({i['rss_per_client_kib']} KiB each); one status change reached {i['status_reached']} "
      f"clients, all within {i['status_fanout_ms_all']} ms (p50 {i['status_fanout_ms_p50']} ms)")
EOF
}

run_figures in-process

if [[ ${BENCH_REDIS:-0} == 1 ]]; then
    RPORT=$("$PY" "$HELPER" free-port)
    redis-server --port "$RPORT" --bind 127.0.0.1 --save '' --appendonly no >"$WORK/redis.log" 2>&1 &
    REDIS_PID=$!
    sleep 0.5
    run_figures redis --redis-url "redis://127.0.0.1:$RPORT/"
fi
