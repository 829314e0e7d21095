#!/usr/bin/env bash
# Issue 5's figures for rawx: job overhead.
#   launch -> final through rawx vs a bare `ansible-runner run` of the same playbook and
#   inventory, interleaved, N runs each (median, p90, ratio of medians; goal <= 1.10x), and
#   rawx's own added latency: launch -> unit submitted, last event -> job final (goal < 50 ms).
# See bench/README.md. Every process and dir this script starts is ended/removed by its trap.
#
# Knobs (environment):
#   BENCH_JOB_RUNS     runs of each kind (10; at least 10 for the issue's figure)
#   BENCH_JOB_WARMUP   untimed runs of each kind first (1)
#   BENCH_JOB_POLL_MS  how often the job is polled for its status (10)
#   RAWX_VENV          the venv with ansible-runner (default: what scripts/setup-venv.sh prints)
#   RAWX_BENCH_OUT_JOBS  JSON output (/var/tmp/rawx-bench/jobs.json)
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$BENCH_DIR/.." && pwd)
PY=${PYTHON:-python3}
HELPER="$BENCH_DIR/rawxbench.py"
JOBS_HELPER="$BENCH_DIR/jobbench.py"

RUNS=${BENCH_JOB_RUNS:-10}
WARMUP=${BENCH_JOB_WARMUP:-1}
POLL_MS=${BENCH_JOB_POLL_MS:-10}
OUT=${RAWX_BENCH_OUT_JOBS:-/var/tmp/rawx-bench/jobs.json}
PW=bench-admin-pw

say() { printf '\n== %s\n' "$*"; }

# ---------------------------------------------------------------- cleanup
WORK=$(mktemp -d /var/tmp/rawx-bench-jobs.XXXXXX)
WRAPPER_LOG="$WORK/runner-wrapper.log"
SERVER_PID=

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

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    if [[ -n $SERVER_PID ]]; then stop_pid "$SERVER_PID"; fi
    # A stopped `rawx serve` leaves running units running (by design); end the ones this run
    # started and that did not finish (only after an abort).
    "$PY" "$JOBS_HELPER" cleanup --wrapper-log "$WRAPPER_LOG" || true
    if ((rc != 0)); then
        echo "bench failed (status $rc); server log and runner output kept in $WORK" >&2
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

VENV=${RAWX_VENV:-$("$REPO/scripts/setup-venv.sh")}
RUNNER="$VENV/bin/ansible-runner"
[[ -x $RUNNER ]] || { echo "no ansible-runner at $RUNNER" >&2; exit 1; }
export PATH="$VENV/bin:$PATH"
echo "ansible-runner: $RUNNER ($("$RUNNER" --version 2>&1 | head -1))"

# rawx runs the runner through this wrapper: it logs when the unit's process starts and when
# `ansible-runner worker` exits (bash's $EPOCHREALTIME, no fork), so the log splits rawx's
# overhead from the runner's own time. It costs rawx's side one bash start (~2-3 ms per job).
WRAPPER="$WORK/runner-wrapper"
cat >"$WRAPPER" <<EOF
#!/bin/bash
read -r _ _ _ _ pgid _ </proc/\$\$/stat
printf 'start %s %s %s %s\n' "\$\$" "\${EPOCHREALTIME/,/.}" "\$pgid" "\$*" >>'$WRAPPER_LOG'
'$RUNNER' "\$@"
rc=\$?
printf 'end %s %s %s %s\n' "\$\$" "\${EPOCHREALTIME/,/.}" "\$pgid" "\$*" >>'$WRAPPER_LOG'
exit \$rc
EOF
chmod 700 "$WRAPPER"

export RAWX_ADMIN_PASSWORD=$PW RAWX_PRELOAD_DATA=false RAWX_ANSIBLE_RUNNER=$WRAPPER
export RAWX_LOG_FORMAT=json
unset RAWX_DATABASE_URL RAWX_DATA_DIR RAWX_BIND RAWX_SECRET_KEY || true

# ---------------------------------------------------------------- serve
DATA="$WORK/data"
mkdir -p "$DATA"
LOG="$WORK/server.log"
port=$("$PY" "$HELPER" free-port)
"$BIN" serve --data-dir "$DATA" --bind "127.0.0.1:$port" >>"$LOG" 2>&1 &
SERVER_PID=$!
"$PY" "$HELPER" wait-ready --port "$port" --pid "$SERVER_PID" >/dev/null
echo "rawx pid $SERVER_PID on 127.0.0.1:$port (SQLite in $DATA)"

say "job overhead: $RUNS rawx jobs and $RUNS bare ansible-runner runs, interleaved (+$WARMUP untimed each)"
"$PY" "$JOBS_HELPER" run --port "$port" --password "$PW" --data-dir "$DATA" --work "$WORK" \
    --runner "$RUNNER" --wrapper-log "$WRAPPER_LOG" --server-log "$LOG" \
    --runs "$RUNS" --warmup "$WARMUP" --poll-ms "$POLL_MS" --out "$OUT" \
    --meta "{\"rawx_version\": \"$("$BIN" --version)\", \"commit\": \"$(cd "$REPO" && git rev-parse --short HEAD 2>/dev/null || echo unknown)\", \"ansible_runner\": \"$("$RUNNER" --version 2>&1 | head -1)\"}"

stop_pid "$SERVER_PID"
SERVER_PID=
