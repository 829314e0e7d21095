#!/usr/bin/env bash
# Builds (once) the Python virtualenv the tests drive rawx with: the real awx CLI (awxkit),
# ansible-core, ansible-runner and receptorctl. Cached outside the clone, keyed by the pinned
# requirements, so a second run is instant. Prints the venv's path on stdout.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
req="$here/requirements-test.txt"
key="$(sha256sum "$req" | cut -c1-12)"
venv="${RAWX_VENV:-/var/tmp/rawx-venv-$key}"
if [ ! -x "$venv/bin/awx" ] || [ ! -f "$venv/.complete" ]; then
  echo "setup-venv: building $venv (first run only)" >&2
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$req" >&2
  touch "$venv/.complete"
fi
echo "$venv"
