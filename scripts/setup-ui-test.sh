#!/usr/bin/env bash
# What the browser suite (crates/rawx/tests/ui.rs) needs: Debian's Chromium and npm's
# playwright-core (pinned; installed once under /var/tmp, outside the clone — Playwright's
# own browser download is not used). Prints the node_modules dir on stdout; exits non-zero,
# saying why on stderr, when either cannot be had (the suite is then reported SKIPPED).
set -euo pipefail
PLAYWRIGHT_VERSION=1.65.2
dir="/var/tmp/rawx-ui-node-$PLAYWRIGHT_VERSION"

if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  echo "setup-ui-test: node and npm are needed (Node.js 18 or newer)" >&2
  exit 1
fi
if [ ! -x /usr/bin/chromium ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "setup-ui-test: installing Debian's chromium" >&2
    (apt-get install -y chromium || { apt-get update && apt-get install -y chromium; }) >&2
  fi
fi
if [ ! -x /usr/bin/chromium ]; then
  echo "setup-ui-test: /usr/bin/chromium is missing and could not be installed" >&2
  exit 1
fi
if [ ! -f "$dir/node_modules/playwright-core/package.json" ]; then
  mkdir -p "$dir"
  npm install --prefix "$dir" --no-audit --no-fund --loglevel=error "playwright-core@$PLAYWRIGHT_VERSION" >&2
fi
echo "$dir/node_modules"
