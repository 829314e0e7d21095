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
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

BACKENDS=${BENCH_BACKENDS:-"sqlite postgres"}
EVENTS=${BENCH_EVENTS:-100000}
LAUNCHES=${BENCH_LAUNCHES:-500}
CLIENTS=${BENCH_LAUNCH_CLIENTS:-8}
POLL_MS=${BENCH_POLL_MS:-10}
CACHE=${RAWX_BENCH_CACHE:-/var/tmp/rawx-bench}
OUT=${RAWX_BENCH_OUT_INGEST:-/var/tmp/rawx-bench/ingest.json}

bench_init ingest
PERF_PID=
bench_cleanup() {
    if [[ -n $PERF_PID ]]; then kill -INT "$PERF_PID" 2>/dev/null || true; fi
    # A stopped `rawx serve` leaves running units running (by design); end the stand-ins this
    # run started that did not finish (only after an abort).
    "$PY" "$INGEST" cleanup --log "$STANDIN_LOG"
}
build_rawx
if [[ " $BACKENDS " == *" postgres "* ]]; then pg_check; fi

sample_stream "$EVENTS"
say "the result stream: $EVENTS events expanded from $SAMPLE"
echo "$STREAM: $(jget "$STREAM_JSON" events) events, $STREAM_BYTES bytes ($(jget "$STREAM_JSON" cached | sed 's/True/cached/;s/False/made now/'))"

ingest_standin
bench_env
export RAWX_ANSIBLE_RUNNER=$STANDIN RAWX_LOG_FORMAT=json

# ---------------------------------------------------------------- one backend
bench_backend() {
    local backend=$1 data_dir="$WORK/$1" db_args=() db=
    mkdir -p "$data_dir"
    if [[ $backend == postgres ]]; then
        db=$(pg_create_db rawx_bench_ingest)
        db_args=(--database-url "$PG_URL/$db")
        echo "created database $db"
    fi

    say "$backend: ingest of one $EVENTS-event job (stand-in replays $(basename "$STREAM"))"
    RAWX_BENCH_STREAM=$STREAM serve "$data_dir/server-ingest.log" --data-dir "$data_dir" "${db_args[@]}"
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
    stop_server
    if [[ ${RAWX_LOG:-} == *sqlx=debug* || ${RAWX_LOG:-} == *sqlx=trace* ]]; then
        echo "statement times during the ingest server's life (sqlx's log), by statement:"
        "$PY" "$INGEST" sql-times "$data_dir/server-ingest.log"
    fi

    say "$backend: $LAUNCHES launches from $CLIENTS clients (stand-in replays $(basename "$SAMPLE"))"
    RAWX_BENCH_STREAM=$SAMPLE serve "$data_dir/server-launch.log" --data-dir "$data_dir" "${db_args[@]}"
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
    stop_server

    if [[ -n $db ]]; then
        pg_drop_db "$db"
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
    --meta "$(bench_meta "stream:=$STREAM_JSON" "launches:=$LAUNCHES" "launch_clients:=$CLIENTS")" \
    "${files[@]}"
