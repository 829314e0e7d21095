# The bench drivers' common part; each driver sources it first:
#
#   . "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
#   bench_init NAME          # work dir /var/tmp/rawx-bench-NAME.XXXXXX, traps, PIDFILE
#   build_rawx [cargo args]  # release build (or $RAWX_BENCH_BIN), private copy in $BIN
#   serve LOG [serve args]   # `rawx serve` on a free port: SERVER_PID, PORT
#
# The trap stops only what this run started (SERVER_PID, every pid in $RAWX_BENCH_PIDFILE,
# then the driver's own `bench_cleanup` if it defines one), drops only the databases it
# created (pg_create_db), and keeps the work dir on failure or with BENCH_KEEP=1.
# shellcheck shell=bash

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$BENCH_DIR/.." && pwd)
PY=${PYTHON:-python3}
HELPER="$BENCH_DIR/rawxbench.py"
INGEST="$BENCH_DIR/ingestbench.py"
PW=bench-admin-pw
PG_URL=${BENCH_PG_URL:-postgres://postgres@127.0.0.1:5432}
SERVER_PID=

say() { printf '\n== %s\n' "$*"; }

jget() { # jget JSON KEY
    "$PY" -c 'import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])' "$1" "$2"
}

# stop_pid PID [NAME]: SIGTERM, up to 10 s, then SIGKILL; only while PID's command line still
# names NAME (rawx by default), so a pid reused by someone else's process is never signalled.
stop_pid() {
    local pid=$1 name=${2:-rawx} i
    [[ -n $pid && -r /proc/$pid/cmdline ]] || return 0
    tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q -- "$name" || return 0
    kill -TERM "$pid" 2>/dev/null || return 0
    for ((i = 0; i < 100; i++)); do
        kill -0 "$pid" 2>/dev/null || return 0
        # our own child stays a zombie until reaped
        if [[ $(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null) == Z ]]; then
            wait "$pid" 2>/dev/null || true
            return 0
        fi
        sleep 0.1
    done
    echo "$name pid $pid ignored SIGTERM for 10 s; killing it" >&2
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

pg_create_db() { # pg_create_db PREFIX: prints the new database's name (dropped by the trap)
    local db="${1}_$$_$(date +%s%N)"
    psql "$PG_URL/postgres" -q -v ON_ERROR_STOP=1 -c "CREATE DATABASE \"$db\"" >/dev/null
    echo "$db" >>"$WORK/dbs"
    echo "$db"
}

pg_drop_db() { # pg_drop_db NAME
    psql "$PG_URL/postgres" -q -v ON_ERROR_STOP=1 -c "DROP DATABASE IF EXISTS \"$1\" WITH (FORCE)" >/dev/null
    grep -vxF -- "$1" "$WORK/dbs" >"$WORK/dbs.new" || true
    mv "$WORK/dbs.new" "$WORK/dbs"
}

pg_check() {
    command -v psql >/dev/null || { echo "psql is required for the PostgreSQL figures" >&2; exit 1; }
    psql "$PG_URL/postgres" -q -c 'SELECT 1' >/dev/null ||
        { echo "cannot reach PostgreSQL at $PG_URL" >&2; exit 1; }
}

_bench_cleanup() {
    local rc=$? pid db
    trap - EXIT INT TERM
    if [[ -n $SERVER_PID ]]; then stop_pid "$SERVER_PID"; fi
    if [[ -s ${RAWX_BENCH_PIDFILE:-} ]]; then
        while read -r pid; do stop_pid "$pid"; done <"$RAWX_BENCH_PIDFILE"
    fi
    if declare -F bench_cleanup >/dev/null; then bench_cleanup || true; fi
    if [[ -s $WORK/dbs ]]; then
        while read -r db; do
            [[ -n $db ]] || continue
            psql "$PG_URL/postgres" -q -v ON_ERROR_STOP=1 -c "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)" \
                >/dev/null 2>&1 || echo "warning: could not drop database $db" >&2
        done <"$WORK/dbs"
    fi
    if ((rc != 0)); then
        echo "bench failed (status $rc); server logs kept in $WORK" >&2
    elif [[ ${BENCH_KEEP:-0} == 1 ]]; then
        echo "work dir kept (BENCH_KEEP=1): $WORK"
    else
        rm -rf "$WORK"
    fi
    exit "$rc"
}

bench_init() { # bench_init NAME
    WORK=$(mktemp -d "/var/tmp/rawx-bench-$1.XXXXXX")
    export RAWX_BENCH_PIDFILE="$WORK/pids"
    : >"$RAWX_BENCH_PIDFILE"
    : >"$WORK/dbs"
    STANDIN_LOG="$WORK/stand-in.log" # ingest_standin's, named early for the drivers' cleanup
    trap _bench_cleanup EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
}

target_dir() {
    (cd "$REPO" && cargo metadata --format-version 1 --no-deps |
        "$PY" -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
}

# build_rawx [-p PKG …]: `cargo build --release -p rawx` (plus what the args name), or only the
# args' packages when $RAWX_BENCH_BIN names the binary to measure. BIN is a private copy (the
# target dir is shared: another build must not swap the binary mid-run); TARGET_DIR the build's.
build_rawx() {
    local src
    TARGET_DIR=$(target_dir)
    if [[ -n ${RAWX_BENCH_BIN:-} ]]; then
        src=$RAWX_BENCH_BIN
        if (($#)); then
            say "building: cargo build --release $*"
            (cd "$REPO" && cargo build --release "$@")
        fi
    else
        # Two builds: a target filter such as `--example` in "$@" would otherwise leave the
        # rawx binary itself unbuilt.
        say "building: cargo build --release -p rawx${*:+; cargo build --release $*}"
        (cd "$REPO" && cargo build --release -p rawx)
        if (($#)); then (cd "$REPO" && cargo build --release "$@"); fi
        src=$TARGET_DIR/release/rawx
    fi
    [[ -x $src ]] || { echo "no binary at $src" >&2; exit 1; }
    BIN="$WORK/rawx"
    cp "$src" "$BIN"
    echo "binary: $BIN ($("$BIN" --version))"
}

# bench_meta [KEY=TEXT | KEY:=JSON]...: the run's identity for the JSON reports (rawx's version
# and commit), with the driver's own members.
bench_meta() {
    "$PY" - "$("$BIN" --version)" "$(cd "$REPO" && git rev-parse --short HEAD 2>/dev/null || echo unknown)" "$@" <<'EOF'
import json, sys
meta = {"rawx_version": sys.argv[1], "commit": sys.argv[2]}
for arg in sys.argv[3:]:
    key, _, value = arg.partition("=")
    if key.endswith(":"):
        meta[key[:-1]] = json.loads(value)
    else:
        meta[key] = value
print(json.dumps(meta))
EOF
}

# serve LOG [serve args]: starts `$BIN serve` on a free loopback port, waits for /api/v2/ping/;
# sets SERVER_PID and PORT. Environment set before the call (VAR=x serve …) reaches rawx.
serve() {
    local log=$1
    shift
    PORT=$("$PY" "$HELPER" free-port)
    "$BIN" serve --bind "127.0.0.1:$PORT" "$@" >>"$log" 2>&1 &
    SERVER_PID=$!
    echo "$SERVER_PID" >>"$RAWX_BENCH_PIDFILE"
    "$PY" "$HELPER" wait-ready --port "$PORT" --pid "$SERVER_PID" >/dev/null
    echo "rawx pid $SERVER_PID on 127.0.0.1:$PORT $*"
}

stop_server() {
    stop_pid "$SERVER_PID"
    SERVER_PID=
}

# ingest_standin: the stand-in for ansible-runner that ingest.sh, websocket.sh and logship.sh
# run (RAWX_ANSIBLE_RUNNER): it reads the transmit stream to its end (as the worker does), then
# writes the result stream $RAWX_BENCH_STREAM names. Its log, $STANDIN_LOG (bash's
# $EPOCHREALTIME, no fork), tells when it started, finished reading, finished writing;
# `ingestbench.py cleanup` ends from it the stand-ins a stopped server left running.
ingest_standin() {
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
}

# sample_stream EVENTS: the captured stream expanded to EVENTS events, cached; sets STREAM,
# STREAM_BYTES and STREAM_JSON. The capture is $BENCH_SAMPLE
# (default ../shared/samples/runner/worker-awxlike.out beside the repository), kept in SAMPLE.
sample_stream() {
    SAMPLE=${BENCH_SAMPLE:-$REPO/../shared/samples/runner/worker-awxlike.out}
    [[ -r $SAMPLE ]] || { echo "no captured stream at $SAMPLE (set BENCH_SAMPLE)" >&2; exit 1; }
    SAMPLE=$(cd "$(dirname "$SAMPLE")" && pwd)/$(basename "$SAMPLE")
    STREAM_JSON=$("$PY" "$INGEST" make-stream --sample "$SAMPLE" --events "$1" \
        --cache-dir "${RAWX_BENCH_CACHE:-/var/tmp/rawx-bench}")
    STREAM=$(jget "$STREAM_JSON" path)
    STREAM_BYTES=$(jget "$STREAM_JSON" bytes)
}

# Only what the bench sets reaches rawx.
bench_env() {
    export RAWX_ADMIN_PASSWORD=$PW RAWX_PRELOAD_DATA=false
    unset RAWX_DATABASE_URL RAWX_DATA_DIR RAWX_BIND RAWX_SECRET_KEY RAWX_REDIS_URL || true
}

load_average() { cut -d' ' -f1-3 /proc/loadavg; }
