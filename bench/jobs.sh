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
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
JOBS_HELPER="$BENCH_DIR/jobbench.py"

RUNS=${BENCH_JOB_RUNS:-10}
WARMUP=${BENCH_JOB_WARMUP:-1}
POLL_MS=${BENCH_JOB_POLL_MS:-10}
OUT=${RAWX_BENCH_OUT_JOBS:-/var/tmp/rawx-bench/jobs.json}

bench_init jobs
WRAPPER_LOG="$WORK/runner-wrapper.log"
bench_cleanup() {
    # A stopped `rawx serve` leaves running units running (by design); end the ones this run
    # started and that did not finish (only after an abort).
    "$PY" "$JOBS_HELPER" cleanup --wrapper-log "$WRAPPER_LOG"
}
build_rawx

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

bench_env
export RAWX_ANSIBLE_RUNNER=$WRAPPER RAWX_LOG_FORMAT=json

# ---------------------------------------------------------------- serve
DATA="$WORK/data"
mkdir -p "$DATA"
LOG="$WORK/server.log"
serve "$LOG" --data-dir "$DATA"
port=$PORT

say "job overhead: $RUNS rawx jobs and $RUNS bare ansible-runner runs, interleaved (+$WARMUP untimed each)"
"$PY" "$JOBS_HELPER" run --port "$port" --password "$PW" --data-dir "$DATA" --work "$WORK" \
    --runner "$RUNNER" --wrapper-log "$WRAPPER_LOG" --server-log "$LOG" \
    --runs "$RUNS" --warmup "$WARMUP" --poll-ms "$POLL_MS" --out "$OUT" \
    --meta "$(bench_meta "ansible_runner=$("$RUNNER" --version 2>&1 | head -1)")"

stop_server
