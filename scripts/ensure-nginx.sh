#!/usr/bin/env bash
# Installs Debian's nginx for the benchmark (npm run bench) when it is not there yet.
# Only the binary is needed: the bench writes its own nginx.conf and runs it as a child,
# so the package's service is stopped if the install started it.
set -euo pipefail

if command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ]; then
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "ensure-nginx: no apt-get on this machine; install nginx by hand" >&2
  exit 1
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
$SUDO apt-get update
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends nginx
# The package starts a system nginx on port 80 where it can; the bench does not use it.
if command -v service >/dev/null 2>&1; then $SUDO service nginx stop >/dev/null 2>&1 || true; fi
