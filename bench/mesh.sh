#!/usr/bin/env bash
# Issue 4 figures for the execution node: `work submit` + `work results` of a 100 MiB payload
# vs a plain pipe, small units per second (one and four clients), and the node's idle RSS.
# The measurement lives in crates/rawx-mesh/examples/mesh_figures.rs (release build).
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO"
echo "load average: $(load_average)"
cargo build --quiet --release -p rawx-mesh --bins  # the idle-RSS figure runs the rawx-receptor binary
if [ "${1:-}" = hops ]; then
  # A 100 MiB work result across 1 and 3 hops (`work submit --node`) beside a pipe, with each
  # node's CPU time; idle hop RSS; the reroute time when a hop's links close (`reroute`); a node
  # with 100 idle peers (`peers`). `hops 1 reroute` runs only those; no argument runs all.
  shift
  exec cargo run --quiet --release -p rawx-mesh --example mesh_hops -- "$@"
fi
exec cargo run --quiet --release -p rawx-mesh --example mesh_figures -- "$@"
