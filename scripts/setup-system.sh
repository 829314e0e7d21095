#!/usr/bin/env bash
# Debian packages the test suites need beyond the toolchain: OpenSSH (the Machine credential
# test logs in to a real sshd with a passphrase-protected key), psql/pg_dump (PostgreSQL suites),
# Subversion (svn projects: the client rawx runs, svnadmin/svnserve for the test repositories),
# GnuPG (signed projects: the tests make a key, ansible-sign signs and verifies with gpg).
# Installs only what is missing; says what it does.
set -euo pipefail
need=()
[ -x /usr/sbin/sshd ] || need+=(openssh-server)
command -v ssh-agent >/dev/null || need+=(openssh-client)
command -v pg_dump >/dev/null || need+=(postgresql-client)
{ command -v svn && command -v svnadmin && command -v svnserve; } >/dev/null || need+=(subversion)
command -v gpg >/dev/null || need+=(gnupg)
if [ ${#need[@]} -gt 0 ]; then
  echo "setup-system: installing ${need[*]}" >&2
  if [ "$(id -u)" -ne 0 ]; then
    echo "setup-system: not root; install ${need[*]} yourself (apt-get install ${need[*]})" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -q "${need[@]}" >&2 || { apt-get update -q >&2 && apt-get install -y -q "${need[@]}" >&2; }
fi
