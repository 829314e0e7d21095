#!/usr/bin/env bash
# Issue 6's figures for rawx: event ingest and launch throughput, on SQLite and PostgreSQL.
#   Ingest: one job whose runner replays a 100,000-event result stream (expanded from a real
#   `ansible-runner worker` capture) at full speed through the production path (API launch ->
#   task manager -> node work unit -> ingester -> store): events/s (goal >= 150,000 on SQLite,
#   >= 100,000 on PostgreSQL), the event count through the API, GET .../stdout/?format=txt
#   (< 1 s), rawx's peak RSS. Launch: K POSTs to .../launch/ from C clients: 201s per second
#   (goal >= 100/s), and how long until every job is final.
# Only ansible is replaced: `RAWX_ANSIBLE_RUNNER` is a stand-in that drains the transmit
# stream and then writes the prepared result stream. See bench/README.md.
#
# Knobs (environment):
#   BENCH_BACKENDS       "sqlite postgres" (default both)
#   BENCH_EVENTS         events in the replayed stream (100000)
#   BENCH_SAMPLE         the captured stream to expand (../shared/samples/runner/worker-awxlike.out)
#   BENCH_LAUNCHES       jobs to launch (500)          BENCH_LAUNCH_CLIENTS  concurrent clients (8)
#   BENCH_POLL_MS        how often the ingest job is polled (10)
#   BENCH_PG_URL         PostgreSQL server URL without database (postgres://postgres@127.0.0.1:5432)
#   RAWX_BENCH_CACHE     where the expanded stream is cached (/var/tmp/rawx-bench)
#   RAWX_BENCH_OUT_INGEST  JSON output (/var/tmp/rawx-bench/ingest.json)
#   RAWX_LOG             passed to rawx (e.g. `info,sqlx=debug` to see statement times in the log)
#   RAWX_BENCH_BIN       a rawx binary to measure instead of building one
#   BENCH_KEEP           1: keep the work dir (server logs) even on success
#   BENCH_PERF           1: `perf record` rawx during the ingest; prints the top symbols
#                        (and keeps them in $RAWX_BENCH_CACHE/perf-<backend>.txt);
#                        callgraph: with DWARF call graphs, prints inclusive time per function
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$BENCH_DIR/.." && pwd)
PY=${PYTHON:-python3}
HELPER="$BENCH_DIR/rawxbench.py"
INGEST="$BENCH_DIR/ingestbench.py"

BACKENDS=${BENCH_BACKENDS:-"sqlite postgres"}
EVENTS=${BENCH_EVENTS:-100000}
SAMPLE=${BENCH_SAMPLE:-$REPO/../shared/samples/runner/worker-awxlike.out}
LAUNCHES=${BENCH_LAUNCHES:-500}
CLIENTS=${BENCH_LAUNCH_CLIENTS:-8}
POLL_MS=${BENCH_POLL_MS:-10}
PG_URL=${BENCH_PG_URL:-postgres://postgres@127.0.0.1:5432}
CACHE=${RAWX_BENCH_CACHE:-/var/tmp/rawx-bench}
OUT=${RAWX_BENCH_OUT_INGEST:-/var/tmp/rawx-bench/ingest.json}
PW=bench-admin-pw

say() { printf '\n== %s\n' "$*"; }

[[ -r $SAMPLE ]] || { echo "no captured stream at $SAMPLE (set BENCH_SAMPLE)" >&2; exit 1; }
SAMPLE=$(cd "$(dirname "$SAMPLE")" && pwd)/$(basename "$SAMPLE")

# ---------------------------------------------------------------- cleanup
WORK=$(mktemp -d /var/tmp/rawx-bench-ingest.XXXXXX)
STANDIN_LOG="$WORK/stand-in.log"
DBS=()   # PostgreSQL databases created by this run
SERVER_PID=
PERF_PID=

stop_pid() { # stop_pid PID: SIGTERM, wait up to 10 s, then SIGKILL; only if it is still rawx
    local pid=$1 i
    [[ -n $pid && -r /proc/$pid/cmdline ]] || return 0
    tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q 'rawx' || return 0
    kill -TERM "$pid" 2>/dev/null || return 0
    for ((i = 0; i < 100; i++)); do
        [[ -e /proc/$pid ]] || return 0
        if ! kill -0 "$pid" 2>/dev/null; then return 0; fi
        if [[ $(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null) == Z ]]; then
            wait "$pid" 2>/dev/null || true
            return 0
        fi
        sleep 0.1
    done
    echo "rawx pid $pid ignored SIGTERM for 10 s; killing it" >&2
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

drop_db() {
    psql "$PG_URL/postgres" -q -v ON_ERROR_STOP=1 -c "DROP DATABASE IF EXISTS \"$1\" WITH (FORCE)" >/dev/null
}

cleanup() {
    local rc=$? db
    trap - EXIT INT TERM
    if [[ -n $PERF_PID ]]; then kill -INT "$PERF_PID" 2>/dev/null || true; fi
    if [[ -n $SERVER_PID ]]; then stop_pid "$SERVER_PID"; fi
    # A stopped `rawx serve` leaves running units running (by design); end the stand-ins this
    # run started that did not finish (only after an abort).
    "$PY" "$INGEST" cleanup --log "$STANDIN_LOG" || true
    for db in "${DBS[@]}"; do
        [[ -n $db ]] || continue
        drop_db "$db" 2>/dev/null || echo "warning: could not drop database $db" >&2
    done
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

# ---------------------------------------------------------------- prerequisites
if [[ -n ${RAWX_BENCH_BIN:-} ]]; then
    SRC_BIN=$RAWX_BENCH_BIN
else
    say "building: cargo build --release -p rawx"
    (cd "$REPO" && cargo build --release -p rawx)
    TARGET_DIR=$(cd "$REPO" && cargo metadata --format-version 1 --no-deps |
        "$PY" -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
    SRC_BIN=$TARGET_DIR/release/rawx
fi
[[ -x $SRC_BIN ]] || { echo "no binary at $SRC_BIN" >&2; exit 1; }
# A private copy: the target dir is shared, and another build must not swap the binary mid-run.
BIN="$WORK/rawx"
cp "$SRC_BIN" "$BIN"
echo "binary: $BIN ($("$BIN" --version))"

if [[ " $BACKENDS " == *" postgres "* ]]; then
    command -v psql >/dev/null || { echo "psql is required for the PostgreSQL figures" >&2; exit 1; }
    psql "$PG_URL/postgres" -q -c 'SELECT 1' >/dev/null ||
        { echo "cannot reach PostgreSQL at $PG_URL" >&2; exit 1; }
fi

say "the result stream: $EVENTS events expanded from $SAMPLE"
stream_json=$("$PY" "$INGEST" make-stream --sample "$SAMPLE" --events "$EVENTS" --cache-dir "$CACHE")
jget() { # jget JSON KEY
    "$PY" -c 'import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])' "$1" "$2"
}
STREAM=$(jget "$stream_json" path)
STREAM_BYTES=$(jget "$stream_json" bytes)
echo "$STREAM: $(jget "$stream_json" events) events, $STREAM_BYTES bytes ($(jget "$stream_json" cached | sed 's/True/cached/;s/False/made now/'))"

# rawx runs this instead of ansible-runner: it reads the transmit stream to its end (as the
# worker does), then writes the prepared result stream. Its log (bash's $EPOCHREALTIME, no
# fork) tells when the unit's process started, finished reading, finished writing.
STANDIN="$WORK/runner-stand-in"
cat >"$STANDIN" <<EOF
#!/bin/bash
read -r _ _ _ _ pgid _ </proc/\$\$/stat
printf 'start %s %s %s %s\n' "\$\$" "\${EPOCHREALTIME/,/.}" "\$pgid" "\$*" >>'$STANDIN_LOG'
cat >/dev/null
printf 'drained %s %s %s %s\n' "\$\$" "\${EPOCHREALTIME/,/.}" "\$pgid" "\$*" >>'$STANDIN_LOG'
cat "\$RAWX_BENCH_STREAM"
rc=\$?
printf 'end %s %s %s %s\n' "\$\$" "\${EPOCHREALTIME/,/.}" "\$pgid" "\$*" >>'$STANDIN_LOG'
exit \$rc
EOF
chmod 700 "$STANDIN"

export RAWX_ADMIN_PASSWORD=$PW RAWX_PRELOAD_DATA=false RAWX_ANSIBLE_RUNNER=$STANDIN
export RAWX_LOG_FORMAT=json
unset RAWX_DATABASE_URL RAWX_DATA_DIR RAWX_BIND RAWX_SECRET_KEY RAWX_REDIS_URL || true

serve() { # serve DATA_DIR LOG STREAM [db args...]: starts rawx, sets SERVER_PID and PORT
    local data_dir=$1 log=$2 stream=$3
    shift 3
    PORT=$("$PY" "$HELPER" free-port)
    RAWX_BENCH_STREAM=$stream "$BIN" serve --data-dir "$data_dir" --bind "127.0.0.1:$PORT" "$@" >>"$log" 2>&1 &
    SERVER_PID=$!
    "$PY" "$HELPER" wait-ready --port "$PORT" --pid "$SERVER_PID" >/dev/null
    echo "rawx pid $SERVER_PID on 127.0.0.1:$PORT"
}

# ---------------------------------------------------------------- one backend
bench_backend() {
    local backend=$1 data_dir="$WORK/$1" db_args=() db=
    mkdir -p "$data_dir"
    if [[ $backend == postgres ]]; then
        db="rawx_bench_ingest_$$_$(date +%s)"
        psql "$PG_URL/postgres" -q -v ON_ERROR_STOP=1 -c "CREATE DATABASE \"$db\"" >/dev/null
        DBS+=("$db")
        db_args=(--database-url "$PG_URL/$db")
        echo "created database $db"
    fi

    say "$backend: ingest of one $EVENTS-event job (stand-in replays $(basename "$STREAM"))"
    serve "$data_dir" "$data_dir/server-ingest.log" "$STREAM" "${db_args[@]}"
    local setup token jt
    setup=$("$PY" "$INGEST" setup --port "$PORT" --password "$PW" --data-dir "$data_dir")
    token=$(jget "$setup" token)
    jt=$(jget "$setup" jt)
    local perf_pid=
    local perf_args=()
    case ${BENCH_PERF:-0} in
        # a flat profile of rawx while it ingests (symbols; the release build has no frame
        # pointers, so call graphs need DWARF unwinding: BENCH_PERF=callgraph, heavier)
        1) perf_args=(-F 499) ;;
        callgraph) perf_args=(-F 199 --call-graph dwarf,32768) ;;
    esac
    if ((${#perf_args[@]})); then
        perf record -q "${perf_args[@]}" -o "$data_dir/perf.data" -p "$SERVER_PID" 2>"$data_dir/perf.err" &
        perf_pid=$!
        PERF_PID=$perf_pid
    fi
    "$PY" "$INGEST" ingest --port "$PORT" --token "$token" --jt "$jt" --pid "$SERVER_PID" \
        --events "$EVENTS" --stream-bytes "$STREAM_BYTES" --standin-log "$STANDIN_LOG" \
        --poll-ms "$POLL_MS" ${db:+--pg-url "$PG_URL" --pg-db "$db"} \
        ${perf_pid:+--perf-pid "$perf_pid"} >"$data_dir/ingest.json"
    "$PY" - "$data_dir/ingest.json" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
print(f"job {r['job']} {r['status']}: {r['events_counted']} events counted (expected {r['events_expected']}), "
      f"ingest {r['ingest_s']} s = {r['events_per_s']:.0f} events/s "
      f"(unit submitted -> final {r['started_to_finished_s']} s = {r['events_per_s_from_started']:.0f}/s)")
print(f"stand-in after `started` (s): {r['standin']}; rawx CPU during ingest "
      f"{r['rawx_cpu_s_first_event_to_final']} s ({r.get('rawx_cores_busy_during_ingest')} cores), "
      f"machine busy {r['machine_busy_fraction'] * 100:.0f}%")
print(f"rawx CPU s by thread during ingest: {r['rawx_thread_cpu_s_during_ingest']}"
      + (f"; PostgreSQL backends: {r['postgres_backend_cpu_s_during_ingest']} s"
         if 'postgres_backend_cpu_s_during_ingest' in r else ""))
print(f"stdout ?format=txt: {r['stdout_txt_s']} s, {r['stdout_txt_bytes']} bytes"
      f"{' (AWX too-large message)' if r['stdout_txt_too_large'] else ' (full text)'}; "
      f"txt_download: {r['stdout_download_s']} s, {r['stdout_download_bytes']} bytes")
print(f"peak RSS (VmHWM): {r['peak_rss_ingest_mib']} MiB after the ingest, {r['peak_rss_mib']} MiB "
      f"after the stdout requests")
EOF
    if [[ -n $perf_pid ]]; then
        kill -INT "$perf_pid" 2>/dev/null || true
        wait "$perf_pid" 2>/dev/null || true
        PERF_PID=
        if [[ $BENCH_PERF == callgraph ]]; then
            # inclusive time of rawx's own functions: where the ingest's CPU goes
            perf report -i "$data_dir/perf.data" --stdio --children --sort sym -g none \
                --percent-limit 2 2>/dev/null | grep -v '^#' | grep -v '^$' |
                grep -E 'rawx|sqlx|serde|sqlite3|tokio::runtime::task|malloc|free' | head -60 |
                tee "$data_dir/perf.txt"
        else
            perf report -i "$data_dir/perf.data" --stdio --no-children --sort dso,sym --percent-limit 0.7 \
                2>/dev/null | grep -v '^#' | grep -v '^$' | head -45 | tee "$data_dir/perf.txt"
        fi
        cp "$data_dir/perf.txt" "$CACHE/perf-$backend.txt"
    fi
    stop_pid "$SERVER_PID"
    SERVER_PID=
    if [[ ${RAWX_LOG:-} == *sqlx=debug* || ${RAWX_LOG:-} == *sqlx=trace* ]]; then
        echo "statement times during the ingest server's life (sqlx's log), by statement:"
        "$PY" "$INGEST" sql-times "$data_dir/server-ingest.log"
    fi

    say "$backend: $LAUNCHES launches from $CLIENTS clients (stand-in replays $(basename "$SAMPLE"))"
    serve "$data_dir" "$data_dir/server-launch.log" "$SAMPLE" "${db_args[@]}"
    "$PY" "$INGEST" launch --port "$PORT" --token "$token" --jt "$jt" --count "$LAUNCHES" \
        --concurrency "$CLIENTS" >"$data_dir/launch.json"
    # the same again with the instances disabled while the requests come in: the launch alone,
    # without the task role running the jobs beside it; then how long the held jobs take
    "$PY" "$INGEST" launch --port "$PORT" --token "$token" --jt "$jt" --count "$LAUNCHES" \
        --concurrency "$CLIENTS" --hold >"$data_dir/launch-held.json"
    "$PY" - "$data_dir/launch.json" "$data_dir/launch-held.json" <<'EOF'
import json, sys
for path in sys.argv[1:]:
    r = json.load(open(path))
    print(("launch alone (instances disabled): " if r.get("held") else "launch while jobs run: ")
          + f"{r['launched']} jobs created in {r['launch_s']} s = {r['launches_per_s']} launches/s "
          f"(latency p50 {r['launch_latency_ms']['p50']} ms, p90 {r['launch_latency_ms']['p90']} ms); "
          f"all final after {r['all_final_s']} s ({r['by_status']})"
          + (f"; {r['held_not_pending']} left pending while held, all final "
             f"{r['release_to_all_final_s']} s after the instances were enabled" if r.get("held") else ""))
EOF
    stop_pid "$SERVER_PID"
    SERVER_PID=

    if [[ -n $db ]]; then
        drop_db "$db"
        local kept=() d
        for d in "${DBS[@]}"; do [[ $d == "$db" ]] || kept+=("$d"); done
        DBS=("${kept[@]}")
        echo "dropped database $db"
    fi
    "$PY" "$INGEST" merge --backend "$backend" "ingest=$data_dir/ingest.json" \
        "launch=$data_dir/launch.json" "launch_held=$data_dir/launch-held.json" >"$WORK/result-$backend.json"
    # the unit's copy of the stream is as large as the stream; do not keep it per backend
    rm -rf "$data_dir/receptor"
}

for b in $BACKENDS; do
    case $b in
        sqlite | postgres) bench_backend "$b" ;;
        *) echo "unknown backend $b (sqlite, postgres)" >&2; exit 2 ;;
    esac
done

say "summary ($(nproc) CPUs; the machine is shared: figures move with its load)"
files=()
for b in $BACKENDS; do files+=("$WORK/result-$b.json"); done
"$PY" "$INGEST" report --out "$OUT" \
    --meta "{\"rawx_version\": \"$("$BIN" --version)\", \"commit\": \"$(cd "$REPO" && git rev-parse --short HEAD 2>/dev/null || echo unknown)\", \"stream\": $stream_json, \"launches\": $LAUNCHES, \"launch_clients\": $CLIENTS}" \
    "${files[@]}"
