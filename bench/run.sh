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

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$BENCH_DIR/.." && pwd)
PY=${PYTHON:-python3}
HELPER="$BENCH_DIR/rawxbench.py"

BACKENDS=${BENCH_BACKENDS:-"sqlite postgres"}
HOSTS=${BENCH_HOSTS:-10000}
LOAD_CONC=${BENCH_LOAD_CONCURRENCY:-8}
DURATION=${BENCH_DURATION:-20s}
THREADS=${BENCH_THREADS:-2}
CONNS=${BENCH_CONNECTIONS:-10}
WARM_RUNS=${BENCH_WARM_RUNS:-5}
IDLE_SECS=${BENCH_IDLE_SECS:-3}
PG_URL=${BENCH_PG_URL:-postgres://postgres@127.0.0.1:5432}
OUT=${RAWX_BENCH_OUT:-/var/tmp/rawx-bench/latest.json}
PW=bench-admin-pw

say() { printf '\n== %s\n' "$*"; }

# ---------------------------------------------------------------- cleanup
WORK=$(mktemp -d /var/tmp/rawx-bench-run.XXXXXX)
export RAWX_BENCH_PIDFILE="$WORK/pids"
: >"$RAWX_BENCH_PIDFILE"
DBS=()   # PostgreSQL databases created by this run
SERVER_PID=

stop_pid() { # stop_pid PID: SIGTERM, wait up to 10 s, then SIGKILL; only if it is still rawx
    local pid=$1 i
    [[ -n $pid && -r /proc/$pid/cmdline ]] || return 0
    tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q 'rawx' || return 0
    kill -TERM "$pid" 2>/dev/null || return 0
    for ((i = 0; i < 100; i++)); do
        [[ -e /proc/$pid ]] || return 0
        # reap it if it is our child, so /proc/$pid goes away
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

cleanup() {
    local rc=$? pid db
    trap - EXIT INT TERM
    if [[ -n $SERVER_PID ]]; then stop_pid "$SERVER_PID"; fi
    if [[ -s $RAWX_BENCH_PIDFILE ]]; then
        while read -r pid; do stop_pid "$pid"; done <"$RAWX_BENCH_PIDFILE"
    fi
    for db in "${DBS[@]}"; do
        [[ -n $db ]] || continue
        psql "$PG_URL/postgres" -q -v ON_ERROR_STOP=1 -c "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)" >/dev/null 2>&1 ||
            echo "warning: could not drop database $db" >&2
    done
    if ((rc != 0)); then
        echo "bench failed (status $rc); server logs kept in $WORK" >&2
    else
        rm -rf "$WORK"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------- prerequisites
say "building: cargo build --release -p rawx"
(cd "$REPO" && cargo build --release -p rawx)
TARGET_DIR=$(cd "$REPO" && cargo metadata --format-version 1 --no-deps |
    "$PY" -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
[[ -x $TARGET_DIR/release/rawx ]] || { echo "no binary at $TARGET_DIR/release/rawx" >&2; exit 1; }
# A private copy: the target dir is shared, and another build must not swap the binary mid-run.
BIN="$WORK/rawx"
cp "$TARGET_DIR/release/rawx" "$BIN"
echo "binary: $BIN ($("$BIN" --version))"

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
if [[ " $BACKENDS " == *" postgres "* ]]; then
    command -v psql >/dev/null || { echo "psql is required for the PostgreSQL figures" >&2; exit 1; }
    psql "$PG_URL/postgres" -q -c 'SELECT 1' >/dev/null ||
        { echo "cannot reach PostgreSQL at $PG_URL" >&2; exit 1; }
fi

export RAWX_ADMIN_PASSWORD=$PW RAWX_PRELOAD_DATA=false  # the figures count only the hosts the bench loads
unset RAWX_DATABASE_URL RAWX_DATA_DIR RAWX_BIND RAWX_SECRET_KEY || true

rss_mib() { # rss_mib PID -> MiB with one decimal
    "$PY" -c 'import sys; print(f"{int(sys.argv[1]) / 1024:.1f}")' "$("$PY" "$HELPER" rss "$1")"
}

jget() { # jget JSON KEY
    "$PY" -c 'import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])' "$1" "$2"
}

# ---------------------------------------------------------------- one backend
bench_backend() {
    local backend=$1 data_dir="$WORK/$1" db_args=() url= db
    mkdir -p "$data_dir"
    if [[ $backend == postgres ]]; then
        db="rawx_bench_$$_$(date +%s)"
        psql "$PG_URL/postgres" -q -v ON_ERROR_STOP=1 -c "CREATE DATABASE \"$db\"" >/dev/null
        DBS+=("$db")
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
    local port
    port=$("$PY" "$HELPER" free-port)
    "$BIN" serve --data-dir "$data_dir" --bind "127.0.0.1:$port" "${db_args[@]}" >>"$log" 2>&1 &
    SERVER_PID=$!
    echo "$SERVER_PID" >>"$RAWX_BENCH_PIDFILE"
    "$PY" "$HELPER" wait-ready --port "$port" --pid "$SERVER_PID" >/dev/null
    echo "rawx pid $SERVER_PID on 127.0.0.1:$port"
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

    stop_pid "$SERVER_PID"
    SERVER_PID=
    if [[ $backend == postgres ]]; then
        psql "$PG_URL/postgres" -q -v ON_ERROR_STOP=1 -c "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)" >/dev/null
        local kept=() d
        for d in "${DBS[@]}"; do [[ $d == "$db" ]] || kept+=("$d"); done
        DBS=("${kept[@]}")
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
"$PY" "$HELPER" report --out "$OUT" \
    --meta "{\"rawx_version\": \"$("$BIN" --version)\", \"commit\": \"$(cd "$REPO" && git rev-parse --short HEAD 2>/dev/null || echo unknown)\"}" \
    "${files[@]}"
