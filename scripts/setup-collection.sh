#!/usr/bin/env bash
# Installs (once) the awx.awx collection the collection suite drives rawx with (and
# ansible.posix, for its `json` stdout callback, which the suite reads each task's result
# from), and prints the collections path to give ansible (ANSIBLE_COLLECTIONS_PATH).
#
# Galaxy is not reachable from our machines or CI, but PyPI is, and the PyPI `ansible` 10.7.0
# wheel ships awx.awx 24.6.1 (the release awxkit 24.6.1 matches) and wants ansible-core 2.17,
# which the test venv has. Installing that wheel would unpack ~100 collections into the venv;
# we download it alone (no dependencies, ~50 MB, seconds) and unzip only those two from it, into
# a cache keyed by the pin, so the venv's key and every other suite stay as they are.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
ansible_pin="ansible==10.7.0"
want="24.6.1"
dest="${RAWX_COLLECTIONS:-/var/tmp/rawx-collections-ansible-10.7.0}"
if [ ! -f "$dest/.complete" ]; then
  echo "setup-collection: installing awx.awx $want and ansible.posix into $dest (first run only)" >&2
  venv="$("$here/setup-venv.sh")"
  tmp="$(mktemp -d)"
  trap 'rm -rf "$tmp"' EXIT
  "$venv/bin/pip" download --quiet --no-deps --disable-pip-version-check -d "$tmp" "$ansible_pin" >&2
  rm -rf "$dest"
  mkdir -p "$dest"
  "$venv/bin/python" - "$tmp"/ansible-*.whl "$dest" "$want" <<'PY'
import json, sys, zipfile
whl, dest, want = sys.argv[1:4]
prefix = "ansible_collections/awx/awx/"
keep = (prefix, "ansible_collections/ansible/posix/")
with zipfile.ZipFile(whl) as z:
    z.extractall(dest, [n for n in z.namelist() if n.startswith(keep)])
got = json.load(open(f"{dest}/{prefix}MANIFEST.json"))["collection_info"]["version"]
if got != want:
    sys.exit(f"setup-collection: the wheel has awx.awx {got}, not {want}")
PY
  touch "$dest/.complete"
fi
echo "$dest"
