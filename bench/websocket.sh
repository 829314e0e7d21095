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

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$BENCH_DIR/.." && pwd)
PY=${PYTHON:-python3}
HELPER="$BENCH_DIR/rawxbench.py"
INGEST="$BENCH_DIR/ingestbench.py"
EVENTS=${BENCH_EVENTS:-100000}
CLIENTS=${BENCH_CLIENTS:-10000}
SAMPLE=${BENCH_SAMPLE:-$REPO/../shared/samples/runner/worker-awxlike.out}
CACHE=${RAWX_BENCH_CACHE:-/var/tmp/rawx-bench}
PW=bench-admin-pw

say() { printf '\n== %s\n' "$*"; }

[[ -r $SAMPLE ]] || { echo "no captured stream at $SAMPLE (set BENCH_SAMPLE)" >&2; exit 1; }
SAMPLE=$(cd "$(dirname "$SAMPLE")" && pwd)/$(basename "$SAMPLE")
# The websocket clients need `websockets`: the test venv has it.
WSPY="$("$REPO/scripts/setup-venv.sh")/bin/python"
# One fd per client on each side.
ulimit -n "$(ulimit -Hn)"
if (($(ulimit -n) < CLIENTS + 500)); then
    echo "the fd limit ($(ulimit -n)) is below $CLIENTS clients; lower BENCH_CLIENTS" >&2
    exit 1
fi

WORK=$(mktemp -d /var/tmp/rawx-bench-ws.XXXXXX)
STANDIN_LOG="$WORK/stand-in.log"
SERVER_PID=
REDIS_PID=

stop_pid() { # stop_pid PID: SIGTERM, wait up to 10 s, then SIGKILL
    local pid=$1 i
    [[ -n $pid && -e /proc/$pid ]] || return 0
    kill -TERM "$pid" 2>/dev/null || return 0
    for ((i = 0; i < 100; i++)); do
        kill -0 "$pid" 2>/dev/null || return 0
        if [[ $(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null) == Z ]]; then
            wait "$pid" 2>/dev/null || true
            return 0
        fi
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    if [[ -n $SERVER_PID ]]; then stop_pid "$SERVER_PID"; fi
    if [[ -n $REDIS_PID ]]; then stop_pid "$REDIS_PID"; fi
    "$PY" "$INGEST" cleanup --log "$STANDIN_LOG" || true
    if ((rc != 0)); then
        echo "bench failed (status $rc); server logs kept in $WORK" >&2
    elif [[ ${BENCH_KEEP:-0} == 1 ]]; then
        echo "work dir kept (BENCH_KEEP=1): $WORK"
    else
        rm -rf "$WORK"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

say "building: cargo build --release -p rawx"
(cd "$REPO" && cargo build --release -p rawx)
TARGET_DIR=$(cd "$REPO" && cargo metadata --format-version 1 --no-deps |
    "$PY" -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
BIN="$WORK/rawx"
cp "$TARGET_DIR/release/rawx" "$BIN"
echo "binary: $BIN ($("$BIN" --version))"

jget() { "$PY" -c 'import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])' "$1" "$2"; }
stream_json=$("$PY" "$INGEST" make-stream --sample "$SAMPLE" --events "$EVENTS" --cache-dir "$CACHE")
STREAM=$(jget "$stream_json" path)
echo "stream: $STREAM ($(jget "$stream_json" events) events)"

STANDIN="$WORK/runner-stand-in"
cat >"$STANDIN" <<EOF
#!/bin/bash
read -r _ _ _ _ pgid _ </proc/\$\$/stat
printf 'start %s %s %s %s\n' "\$\$" "\${EPOCHREALTIME/,/.}" "\$pgid" "\$*" >>'$STANDIN_LOG'
cat >/dev/null
cat "\$RAWX_BENCH_STREAM"
rc=\$?
printf 'end %s %s %s %s\n' "\$\$" "\${EPOCHREALTIME/,/.}" "\$pgid" "\$*" >>'$STANDIN_LOG'
exit \$rc
EOF
chmod 700 "$STANDIN"

export RAWX_ADMIN_PASSWORD=$PW RAWX_PRELOAD_DATA=false RAWX_ANSIBLE_RUNNER=$STANDIN
export RAWX_LOG_FORMAT=json
unset RAWX_DATABASE_URL RAWX_DATA_DIR RAWX_BIND RAWX_SECRET_KEY RAWX_REDIS_URL || true

serve() { # serve DATA_DIR STREAM [args...]: starts rawx, sets SERVER_PID and PORT
    local data_dir=$1 stream=$2
    shift 2
    PORT=$("$PY" "$HELPER" free-port)
    RAWX_BENCH_STREAM=$stream "$BIN" serve --data-dir "$data_dir" --bind "127.0.0.1:$PORT" "$@" \
        >>"$data_dir/server.log" 2>&1 &
    SERVER_PID=$!
    "$PY" "$HELPER" wait-ready --port "$PORT" --pid "$SERVER_PID" >/dev/null
    echo "rawx pid $SERVER_PID on 127.0.0.1:$PORT $*"
}

run_figures() { # run_figures NAME [serve args...]
    local name=$1 data_dir="$WORK/$1"
    shift
    mkdir -p "$data_dir"
    say "$name: one client follows a $EVENTS-event job"
    serve "$data_dir" "$STREAM" "$@"
    local setup token jt
    setup=$("$PY" "$INGEST" setup --port "$PORT" --password "$PW" --data-dir "$data_dir")
    token=$(jget "$setup" token)
    jt=$(jget "$setup" jt)
    "$WSPY" "$BENCH_DIR/wsbench.py" stream --port "$PORT" --token "$token" --jt "$jt" \
        --events "$EVENTS" --pid "$SERVER_PID" --poll-ms "${BENCH_POLL_MS:-25}" | tee "$data_dir/stream.json"
    say "$name: a client that reads nothing while the job runs"
    "$WSPY" "$BENCH_DIR/wsbench.py" slow --port "$PORT" --token "$token" --jt "$jt" \
        --events "$EVENTS" | tee "$data_dir/slow.json"
    stop_pid "$SERVER_PID"
    SERVER_PID=
    rm -rf "$data_dir/receptor"

    say "$name: $CLIENTS idle clients on one node"
    serve "$data_dir" "$SAMPLE" "$@"
    "$WSPY" "$BENCH_DIR/wsbench.py" idle --port "$PORT" --token "$token" --jt "$jt" \
        --pid "$SERVER_PID" --clients "$CLIENTS" | tee "$data_dir/idle.json"
    stop_pid "$SERVER_PID"
    SERVER_PID=
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
