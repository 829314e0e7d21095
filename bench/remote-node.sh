#!/usr/bin/env bash
# Issue 7's figure: time a separate execution node (`rawx receptor`, over its Unix socket and
# over TLS) adds per job, against the in-process node. The measurement lives in
# crates/rawx-mesh/examples/remote_overhead.rs (release build); knobs BENCH_RUNS (100),
# BENCH_PAYLOAD_KIB (64, about a small project's transmit stream).
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO"
echo "load average: $(load_average)"
cargo build --quiet --release -p rawx-mesh --bins
exec cargo run --quiet --release -p rawx-mesh --example remote_overhead -- "$@"
