#!/usr/bin/env bash
# Builds (once) the virtualenv of the independent mesh peer (`mesh_peer.py`): aioquic and the
# HighwayHash C binding, neither of which rawx uses. Cached outside the clone, keyed by the
# pinned requirements. Prints the venv's path on stdout.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
req="$here/requirements-peer.txt"
key="$(sha256sum "$req" | cut -c1-12)"
venv="${RAWX_PEER_VENV:-/var/tmp/rawx-mesh-peer-$key}"
# Tests that need the peer run in parallel: the first builds, the others wait for it.
exec 9>"$venv.lock"
flock 9
if [ ! -f "$venv/.complete" ]; then
  echo "setup-peer-venv: building $venv (first run only)" >&2
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$req" >&2
  touch "$venv/.complete"
fi
echo "$venv"
