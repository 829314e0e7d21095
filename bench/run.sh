#!/usr/bin/env bash
# Issue 3's figures for rawx, on SQLite and on PostgreSQL in one run:
#   idle RSS, exec -> /api/v2/ping/ 200 (cold and warm), loading 10,000 hosts through the API,
#   GET /api/v2/hosts/?page_size=200 under wrk (p50/p99, req/s), RSS after the load test.
# See bench/README.md. Every process and database this script starts is ended by its trap.
#
# Knobs (environment):
#   BENCH_BACKENDS   "sqlite postgres" (default both)
#   BENCH_HOSTS      hosts to load (10000)          BENCH_LOAD_CONCURRENCY  loader threads (8)
#   BENCH_DURATION   wrk duration (20s)             BENCH_THREADS / BENCH_CONNECTIONS  wrk -t/-c (2/10)
#   BENCH_WARM_RUNS  warm starts to take the median of (5)
#   BENCH_IDLE_SECS  seconds to wait before reading idle RSS (3)
#   BENCH_PG_URL     PostgreSQL server URL without database (postgres://postgres@127.0.0.1:5432)
#   RAWX_BENCH_OUT   JSON output (/var/tmp/rawx-bench/latest.json)
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

BACKENDS=${BENCH_BACKENDS:-"sqlite postgres"}
HOSTS=${BENCH_HOSTS:-10000}
LOAD_CONC=${BENCH_LOAD_CONCURRENCY:-8}
DURATION=${BENCH_DURATION:-20s}
THREADS=${BENCH_THREADS:-2}
CONNS=${BENCH_CONNECTIONS:-10}
WARM_RUNS=${BENCH_WARM_RUNS:-5}
IDLE_SECS=${BENCH_IDLE_SECS:-3}
OUT=${RAWX_BENCH_OUT:-/var/tmp/rawx-bench/latest.json}

bench_init run
build_rawx

if ! command -v wrk >/dev/null; then
    say "wrk is missing; installing Debian's wrk"
    SUDO=
    if ((EUID != 0)); then SUDO=sudo; fi
    echo "+ $SUDO apt-get install -y wrk"
    if ! $SUDO apt-get install -y wrk; then
        echo "+ $SUDO apt-get update && $SUDO apt-get install -y wrk"
        $SUDO apt-get update && $SUDO apt-get install -y wrk
    fi
fi
command -v wrk >/dev/null || { echo "wrk is required" >&2; exit 1; }
if [[ " $BACKENDS " == *" postgres "* ]]; then pg_check; fi

bench_env # the figures count only the hosts the bench loads

rss_mib() { # rss_mib PID -> MiB with one decimal
    "$PY" -c 'import sys; print(f"{int(sys.argv[1]) / 1024:.1f}")' "$("$PY" "$HELPER" rss "$1")"
}

# ---------------------------------------------------------------- one backend
bench_backend() {
    local backend=$1 data_dir="$WORK/$1" db_args=() url= db
    mkdir -p "$data_dir"
    if [[ $backend == postgres ]]; then
        db=$(pg_create_db rawx_bench)
        url="$PG_URL/$db"
        db_args=(--database-url "$url")
        echo "created database $db"
    fi
    local log="$data_dir/server.log"

    say "$backend: exec -> first /api/v2/ping/ 200 (polled every 5 ms)"
    local cold warm
    cold=$("$PY" "$HELPER" start-times --bin "$BIN" --data-dir "$data_dir" \
        ${url:+--database-url "$url"} --runs 1 --log "$log")
    echo "cold start (empty database, migrations + admin user): $(jget "$cold" median_ms) ms"
    warm=$("$PY" "$HELPER" start-times --bin "$BIN" --data-dir "$data_dir" \
        ${url:+--database-url "$url"} --runs "$WARM_RUNS" --log "$log")
    echo "warm starts (migrated database): $(jget "$warm" runs_ms) ms -> median $(jget "$warm" median_ms) ms"

    say "$backend: serving for the rest of the figures"
    serve "$log" --data-dir "$data_dir" "${db_args[@]}"
    local port=$PORT
    sleep "$IDLE_SECS"
    local idle_rss
    idle_rss=$(rss_mib "$SERVER_PID")
    echo "idle RSS ${IDLE_SECS} s after start: $idle_rss MiB"

    say "$backend: loading $HOSTS hosts through POST /api/v2/hosts/ ($LOAD_CONC keep-alive connections)"
    local token load
    token=$("$PY" "$HELPER" token --port "$port" --password "$PW")
    load=$("$PY" "$HELPER" load --port "$port" --token "$token" --hosts "$HOSTS" --concurrency "$LOAD_CONC")
    echo "loaded $HOSTS hosts in $(jget "$load" seconds) s = $(jget "$load" hosts_per_s) hosts/s"
    local rss_loaded
    rss_loaded=$(rss_mib "$SERVER_PID")
    echo "RSS after loading: $rss_loaded MiB"

    say "$backend: wrk -t$THREADS -c$CONNS -d$DURATION --latency GET /api/v2/hosts/?page_size=200"
    local wrk_out="$data_dir/wrk.txt" wrk_json
    wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" --latency --timeout 10s \
        -H "Authorization: Bearer $token" \
        "http://127.0.0.1:$port/api/v2/hosts/?page_size=200" | tee "$wrk_out"
    wrk_json=$("$PY" "$HELPER" parse-wrk "$wrk_out")
    if [[ $(jget "$wrk_json" non_2xx) != 0 ]]; then
        echo "wrk saw non-2xx responses: the latency figures are not valid" >&2
        exit 1
    fi
    local rss_after
    rss_after=$(rss_mib "$SERVER_PID")
    echo "RSS after the load test: $rss_after MiB"

    stop_server
    if [[ $backend == postgres ]]; then
        pg_drop_db "$db"
        echo "dropped database $db"
    fi

    "$PY" - "$backend" "$idle_rss" "$cold" "$warm" "$load" "$rss_loaded" "$wrk_json" "$rss_after" \
        "$THREADS" "$CONNS" "$DURATION" >"$WORK/result-$backend.json" <<'EOF'
import json, sys
(backend, idle, cold, warm, load, rss_loaded, wrk, after, threads, conns, duration) = sys.argv[1:]
cold, warm, load, wrk = (json.loads(x) for x in (cold, warm, load, wrk))
print(json.dumps({
    "backend": backend,
    "idle_rss_mib": float(idle),
    "start_cold_ms": cold["median_ms"],
    "start_warm_median_ms": warm["median_ms"],
    "start_warm_runs_ms": warm["runs_ms"],
    "load_hosts": load["hosts"],
    "load_seconds": load["seconds"],
    "load_hosts_per_s": load["hosts_per_s"],
    "load_concurrency": load["concurrency"],
    "rss_after_load_mib": float(rss_loaded),
    "p50_ms": wrk["p50_ms"], "p75_ms": wrk.get("p75_ms"), "p90_ms": wrk.get("p90_ms"),
    "p99_ms": wrk["p99_ms"],
    "req_per_s": wrk["req_per_s"], "requests": wrk.get("requests"),
    "socket_errors": wrk["socket_errors"],
    "wrk": {"threads": int(threads), "connections": int(conns), "duration": duration,
            "url": "/api/v2/hosts/?page_size=200"},
    "rss_after_mib": float(after),
}))
EOF
}

for b in $BACKENDS; do
    case $b in
        sqlite | postgres) bench_backend "$b" ;;
        *) echo "unknown backend $b (sqlite, postgres)" >&2; exit 2 ;;
    esac
done

say "summary (2-core machine shared with other work: latency figures are noisy)"
files=()
for b in $BACKENDS; do files+=("$WORK/result-$b.json"); done
"$PY" "$HELPER" report --out "$OUT" --meta "$(bench_meta)" "${files[@]}"
