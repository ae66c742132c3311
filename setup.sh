#!/usr/bin/env bash
# Installs what gently needs on a Debian machine with Node.js 20:
# nats-server and a C compiler from Debian, the npm packages, and the native
# simulated microscope (built by `npm ci`'s postinstall step).
# With --test it also installs what the test suite drives: Chromium for the
# viewer tests and docker-compose to validate the compose file.
set -euo pipefail
cd "$(dirname "$0")"

want_tests=0
[ "${1:-}" = "--test" ] && want_tests=1

SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"

packages=()
command -v nats-server >/dev/null 2>&1 || packages+=(nats-server)
command -v cc >/dev/null 2>&1 || packages+=(gcc)
command -v make >/dev/null 2>&1 || packages+=(make)
command -v g++ >/dev/null 2>&1 || packages+=(g++)
if [ "$want_tests" = 1 ]; then
  command -v chromium >/dev/null 2>&1 || packages+=(chromium)
  command -v docker-compose >/dev/null 2>&1 || packages+=(docker-compose)
fi
if [ ${#packages[@]} -gt 0 ]; then
  echo "setup: installing ${packages[*]} from Debian"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${packages[@]}"
fi

node_major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$node_major" -lt 20 ]; then
  echo "setup: gently needs Node.js 20 or newer (found $(node -v))" >&2
  exit 1
fi

npm ci --no-audit --no-fund
# npm ci runs our postinstall (native build) in recent npm; run it again to be sure on any npm.
make -s -C native
echo "setup: done"
